"""SeriesCodec: scaling by public channel bounds, masked encoding, the row loss, decoding."""

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from dpsynth.series.codec import SeriesCodec
from dpsynth.errors import SchemaError
from dpsynth.series.schema import SeriesSchema
from tests.conftest import make_toy_series, make_toy_series_schema

WINDOW = 16


def codec_and_windows(sigma=0.1, n_subjects=12):
    schema = make_toy_series_schema(window=WINDOW)
    data, _ = schema.conform(make_toy_series(n=n_subjects))
    codec = SeriesCodec(schema, n_bins=8, sigma=sigma)
    windows = np.concatenate([schema.windows(s) for s in data.signals.values()])
    return schema, data, codec, windows


def perfect_rows(codec, static_rows, windows):
    """Model input rows (targets) and decoder outputs that reconstruct them exactly."""
    encoded = codec.encode_signal(windows)
    target = np.concatenate([static_rows, encoded], axis=1)
    logits = torch.tensor(np.where(static_rows > 0.5, 50.0, -50.0), dtype=torch.float32)
    values, mask = torch.tensor(encoded).split(codec.signal_width, dim=1)
    output = torch.cat([logits, codec.join_signal(values, 2 * mask - 1)], dim=1)
    return output, torch.tensor(target, dtype=torch.float32)


def with_values(codec, output, values):
    """``output`` with its value part replaced by ``values`` [n, L·C] (scores kept)."""
    static, _, scores = codec.split_output(output)
    return torch.cat([static, codec.join_signal(values, scores)], dim=-1)


def test_widths_come_from_the_schema():
    schema, data, codec, windows = codec_and_windows()
    assert codec.window == WINDOW and codec.n_channels == 2
    assert codec.signal_width == WINDOW * 2
    assert codec.static_width == codec.static_codec.width
    assert codec.output_channels == 4  # per time step: 2 values, 2 observation scores
    assert codec.width == codec.static_width + WINDOW * 2 * 2
    assert codec.input_width == codec.static_width + 2 * WINDOW * 2
    static = codec.encode_static(data.static)
    assert static.shape == (len(data.static), codec.static_width) and static.dtype == np.float32
    signal = codec.encode_signal(windows)
    assert signal.shape == (len(windows), 2 * WINDOW * 2) and signal.dtype == np.float32
    assert static.shape[1] + signal.shape[1] == codec.input_width
    groups = schema.static.group_labels(data.static)
    conditions = codec.encode_conditions(groups)
    assert conditions.shape == (len(groups), codec.condition_width) and codec.condition_width == 2 + 2 + 2
    assert (conditions.sum(1) == 3).all()  # one-hot per condition: label, sex, age_band


def test_scale_maps_bounds_to_unit_interval_and_unscale_inverts_it():
    _, _, codec, _ = codec_and_windows()
    bounds = np.array([[0.0, -2.0], [40.0, 2.0], [20.0, 0.0], [10.0, 1.0]])  # pressure [0, 40], flow [-2, 2]
    np.testing.assert_allclose(codec.scale(bounds), [[-1, -1], [1, 1], [0, 0], [-0.5, 0.5]])
    x = np.random.default_rng(0).uniform([0, -2], [40, 2], size=(5, WINDOW, 2))
    np.testing.assert_allclose(codec.unscale(codec.scale(x)), x)
    z = np.random.default_rng(1).uniform(-1, 1, size=(5, WINDOW, 2))
    np.testing.assert_allclose(codec.scale(codec.unscale(z)), z)
    np.testing.assert_allclose(codec.unscale(np.array([-1.0, 1.0])), [0.0, 2.0])  # last axis = channels


def test_encode_signal_zeroes_and_masks_missing_samples():
    _, _, codec, windows = codec_and_windows()
    missing = np.isnan(windows)
    assert missing.any() and (~missing).any()
    x = codec.encode_signal(windows)
    n, w = len(windows), codec.signal_width
    values = x[:, :w].reshape(n, WINDOW, 2)
    mask = x[:, w:].reshape(n, WINDOW, 2)
    assert set(np.unique(mask)) <= {0.0, 1.0}
    np.testing.assert_array_equal(mask, (~missing).astype(np.float32))
    assert (values[missing] == 0).all()
    np.testing.assert_allclose(values[~missing], codec.scale(windows)[~missing], rtol=1e-6)
    assert np.abs(values).max() <= 1.0 + 1e-6 and np.isfinite(x).all()


def test_row_loss_is_zero_for_a_perfect_reconstruction():
    _, data, codec, windows = codec_and_windows()
    static = np.repeat(codec.encode_static(data.static)[:1], len(windows), axis=0)
    output, target = perfect_rows(codec, static, windows)
    loss = codec.row_loss(output, target)
    assert loss.shape == (len(windows),)
    np.testing.assert_allclose(loss.numpy(), 0.0, atol=1e-5)


def test_row_loss_ignores_the_value_output_at_missing_samples():
    _, data, codec, windows = codec_and_windows()
    static = np.repeat(codec.encode_static(data.static)[:1], len(windows), axis=0)
    output, target = perfect_rows(codec, static, windows)
    _, values, _ = codec.split_output(output)
    values = values + 0.3 * torch.randn(values.shape)
    before = codec.row_loss(with_values(codec, output, values), target)
    s, w = codec.static_width, codec.signal_width
    missing = target[:, s + w:] == 0
    assert missing.any()
    changed = values.clone()
    changed[missing] = torch.randn(int(missing.sum())) * 100.0
    after = codec.row_loss(with_values(codec, output, changed), target)
    torch.testing.assert_close(after, before, rtol=0, atol=0)
    # ... while changing an observed sample does change it
    observed = (~missing).nonzero()[0]
    changed[observed[0], observed[1]] += 1.0
    assert codec.row_loss(with_values(codec, output, changed), target)[observed[0]] > before[observed[0]]


def test_row_loss_is_a_gaussian_nll_scaled_by_one_over_sigma_squared():
    _, data, wide, windows = codec_and_windows(sigma=0.1)
    narrow = SeriesCodec(wide.schema, n_bins=8, sigma=0.05)
    static = np.repeat(wide.encode_static(data.static)[:1], len(windows), axis=0)
    output, target = perfect_rows(wide, static, windows)
    s, w = wide.static_width, wide.signal_width
    observed = target[:, s + w:].bool()
    _, values, _ = wide.split_output(output)
    shifted = with_values(wide, output, values + 0.2 * observed)  # every observed value off by 0.2
    loss_wide = wide.row_loss(shifted, target)
    loss_narrow = narrow.row_loss(shifted, target)
    expected = observed.sum(1).double() * 0.2 ** 2 / (2 * 0.1 ** 2)
    np.testing.assert_allclose(loss_wide.double().numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(loss_narrow.numpy(), 4 * loss_wide.numpy(), rtol=1e-4, atol=1e-4)


def test_row_loss_scores_observation_by_squared_error_against_plus_minus_one():
    _, data, codec, windows = codec_and_windows()
    static = np.repeat(codec.encode_static(data.static)[:1], len(windows), axis=0)
    output, target = perfect_rows(codec, static, windows)
    static_logits, values, scores = codec.split_output(output)
    coin = torch.cat([static_logits, codec.join_signal(values, torch.zeros_like(scores))], dim=-1)
    extra = codec.row_loss(coin, target) - codec.row_loss(output, target)
    # a score of 0 where the truth is ±1 costs 1 / (2 · 0.5²) = 2 per sample, every sample
    np.testing.assert_allclose(extra.numpy(), 2.0 * codec.signal_width, rtol=1e-5)


def test_row_loss_keeps_leading_dimensions_and_adds_the_static_cross_entropy():
    _, data, codec, windows = codec_and_windows()
    static = np.repeat(codec.encode_static(data.static)[:1], len(windows), axis=0)
    output, target = perfect_rows(codec, static, windows)
    output[:, :codec.static_width] = 0.0  # uniform logits: the static part costs its entropy
    flat = codec.row_loss(output, target)
    expected = sum(np.log(b.size) for b in codec.static_codec.blocks
                   if static[0, b.start:b.stop].sum() > 0)
    np.testing.assert_allclose(flat.numpy(), expected, rtol=1e-5)
    units = len(windows) // 3
    stacked = codec.row_loss(output[:3 * units].reshape(units, 3, -1), target[:3 * units].reshape(units, 3, -1))
    assert stacked.shape == (units, 3)
    torch.testing.assert_close(stacked.reshape(-1), flat[:3 * units])


def test_decode_keeps_condition_cells_and_channel_bounds():
    _, _, codec, _ = codec_and_windows()
    n = 200
    rng = np.random.default_rng(0)
    output = rng.normal(0, 3, size=(n, codec.width)).astype(np.float32)  # signal means well beyond ±1
    cells = pd.DataFrame({"label": ["abnormal"] * (n // 2) + ["normal"] * (n // 2),
                          "sex": ["female", "male"] * (n // 2),
                          "age_band": ["60+"] * (n // 2) + ["18-59"] * (n // 2)})
    static, signals = codec.decode(output, cells, rng=np.random.default_rng(1))
    assert list(static.columns) == ["sex", "age", "label"] and len(static) == n
    assert (static["label"] == cells["label"]).all()
    assert (static["sex"] == cells["sex"]).all()
    old = static["age"][: n // 2]
    young = static["age"][n // 2:]
    assert old.between(60, 110).all() and young.between(18, 60).all() and (young < 60).all()
    assert signals.shape == (n, WINDOW, 2)
    assert (signals[..., 0] >= 0).all() and (signals[..., 0] <= 40).all()
    assert (signals[..., 1] >= -2).all() and (signals[..., 1] <= 2).all()
    assert (signals[..., 0] == 0).any() and (signals[..., 0] == 40).any()  # clipped, not squashed
    means = codec.split_output(torch.from_numpy(output))[1].numpy().reshape(n, WINDOW, 2)
    inside = np.abs(means) < 1
    np.testing.assert_allclose(signals[inside], codec.unscale(means)[inside], rtol=1e-6)
    assert not np.isnan(signals).any()  # no channel says missing: every sample is observed


def test_decode_of_an_encoding_recovers_the_observed_signal():
    schema, data, codec, _ = codec_and_windows()
    subject = data.static["subject"].iloc[0]
    windows = schema.windows(data.signals[subject])
    static = np.repeat(codec.encode_static(data.static)[:1], len(windows), axis=0)
    output, _ = perfect_rows(codec, static, windows)
    cells = schema.static.group_labels(data.static.iloc[[0] * len(windows)])
    back_static, back = codec.decode(output.numpy(), cells, rng=np.random.default_rng(0))
    observed = ~np.isnan(windows)
    np.testing.assert_allclose(back[observed], windows[observed], rtol=1e-5, atol=1e-4)
    assert (back_static["sex"] == data.static["sex"].iloc[0]).all()
    assert (back_static["label"] == data.static["label"].iloc[0]).all()


def test_a_schema_with_non_public_static_values_is_refused():
    spec = copy.deepcopy(make_toy_series_schema().to_dict())
    spec["static"][1]["public"] = False  # age bounds derived from data
    schema = SeriesSchema.from_dict(spec)
    with pytest.raises(SchemaError, match="not confirmed public: age.bounds"):
        SeriesCodec(schema)


@pytest.mark.parametrize("sigma", [0.0, -0.1, float("nan")])
def test_sigma_must_be_positive(sigma):
    with pytest.raises(ValueError, match="sigma must be positive"):
        SeriesCodec(make_toy_series_schema(), sigma=sigma)


def test_rule_2_encoding_is_row_by_row():
    """Rule 2: a window's or a subject's encoding depends on it and the public schema only."""
    _, data, codec, windows = codec_and_windows()
    np.testing.assert_array_equal(codec.encode_signal(windows[:5]), codec.encode_signal(windows)[:5])
    static = codec.encode_static(data.static)
    np.testing.assert_array_equal(codec.encode_static(data.static.iloc[:3]), static[:3])


def missing_codec():
    spec = make_toy_series_schema(window=WINDOW).to_dict()
    spec["channels"][0]["missing"] = True  # pressure may be missing; flow may not
    return SeriesCodec(SeriesSchema.from_dict(spec), n_bins=8)


def test_decode_draws_which_samples_are_observed_from_the_scores_on_missing_channels():
    codec = missing_codec()
    n = 400
    static, values, scores = codec.split_output(torch.zeros(n, codec.width))
    output = torch.cat([static, codec.join_signal(values, torch.full_like(scores, 0.2))], dim=-1).numpy()
    cells = pd.DataFrame({"label": ["normal"] * n, "sex": ["male"] * n, "age_band": ["60+"] * n})
    _, signals = codec.decode(output, cells, rng=np.random.default_rng(0))
    assert abs(np.isnan(signals[..., 0]).mean() - 0.4) < 0.02  # P(observed) = (0.2 + 1) / 2
    assert not np.isnan(signals[..., 1]).any()  # a channel without missing: true stays whole
    _, again = codec.decode(output, cells, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(np.isnan(again), np.isnan(signals))  # the public sampling seed drives it


def test_a_window_whose_scores_say_never_observed_keeps_its_likeliest_sample():
    spec = make_toy_series_schema(window=WINDOW).to_dict()
    for channel in spec["channels"]:
        channel["missing"] = True
    codec = SeriesCodec(SeriesSchema.from_dict(spec), n_bins=8)
    scores = np.full((3, WINDOW, 2), -1.0)
    scores[:, 5, 1] = -0.999
    observed = codec.observed(scores, np.random.default_rng(0))
    assert observed.sum(axis=(1, 2)).tolist() == [1, 1, 1] and observed[:, 5, 1].all()


def test_the_missing_flag_round_trips_and_must_be_a_boolean():
    codec = missing_codec()
    spec = codec.schema.to_dict()
    assert spec["channels"][0]["missing"] is True and "missing" not in spec["channels"][1]
    assert SeriesSchema.from_dict(spec).channels[0].missing is True
    spec["channels"][0]["missing"] = "yes"
    with pytest.raises(SchemaError, match="missing"):
        SeriesSchema.from_dict(spec)


def test_sample_columns_read_each_value_and_flag_and_write_it_where_split_output_finds_it():
    spec = make_toy_series_schema(window=4).to_dict()
    spec["channels"][1]["missing"] = True
    codec = SeriesCodec(SeriesSchema.from_dict(spec))
    window = np.array([[10.0, 0.5], [20.0, np.nan], [30.0, -0.5], [5.0, np.nan]])
    row = np.zeros(codec.input_width, np.float32)
    row[codec.static_width:] = codec.encode_signal(window[None])[0]
    inputs, floor, outputs = codec.sample_columns()
    assert len(inputs) == 4 * 2 + 4 * 1 and (floor[:8] == -1).all() and (floor[8:] == 0).all()
    unit = (row[inputs] - floor) / (1 - floor)  # every sample in [0, 1]
    assert np.allclose(unit[8:], [1, 0, 1, 0])  # the flags of the missing channel, time-major
    output = torch.zeros(1, codec.width)
    output[0, outputs] = torch.as_tensor(2 * unit - 1, dtype=torch.float32)
    _, values, scores = codec.split_output(output)
    observed = ~np.isnan(window.ravel())
    assert np.allclose(values[0].numpy()[observed], row[codec.static_width:codec.static_width + 8][observed])
    assert np.allclose(scores[0].numpy().reshape(4, 2)[:, 1], [1, -1, 1, -1])

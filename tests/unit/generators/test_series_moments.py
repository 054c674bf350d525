"""dp-series-moments: registered with its family, its layout reads and writes the codec's
columns, and a label carried by a rhythm at a random phase survives (per-class covariance)."""

import numpy as np
import pandas as pd
import pytest

from dpsynth import registry
from dpsynth.errors import ParameterError
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.series.schema import SeriesData
from tests.conftest import make_toy_series, make_toy_series_schema


def test_is_registered_with_its_family_one_training_entry_and_per_class_variances():
    info = registry.get("dp-series-moments")
    assert (info.family, info.modality, info.private) == ("moments", "series", True)
    model = registry.create("dp-series-moments", make_toy_series_schema())
    assert (model.covariance, model.components) == ("diagonal", 128)
    model.fit(make_toy_series(), budget=PrivacyBudget(1.0, 1e-5), progress=False)
    (entry,) = [e for e in model.ledger_.entries if e.mechanism == "marginal-measurements"]
    assert "noisy moments" in entry.purpose
    assert "DP-SGD training" not in model.privacy_card().describe()


def test_the_layout_reads_values_and_observation_flags_and_writes_them_where_the_codec_decodes():
    """Every basis function kept (no loss): the row's values and flags, read through the layout and
    written back through it, decode to the same window, gaps included."""
    spec = make_toy_series_schema(window=8).to_dict()
    spec["channels"][1]["missing"] = True
    schema = type(make_toy_series_schema()).from_dict(spec)
    model = registry.create("dp-series-moments", schema, components=10_000)
    model.fit(make_toy_series(), budget=PrivacyBudget(1.0, 1e-5), progress=False)
    codec, layout = model.codec_, model._moments_layout(model.codec_)
    window = np.random.default_rng(0).uniform([2, -1.5], [38, 1.5], (8, 2))
    window[[1, 4, 5], 1] = np.nan
    row = np.zeros(codec.input_width, np.float32)
    row[codec.static_width:] = codec.encode_signal(window[None])[0]
    unit = (row[layout.values] - layout.floor) / (1 - layout.floor)
    assert layout.basis.shape == (8 * 3, 8 * 3)
    output = np.zeros((1, codec.width))
    output[0, layout.output] = 2 * (layout.basis.T @ (layout.basis @ unit)) - 1
    cells = pd.DataFrame({"label": ["normal"], "sex": ["female"], "age_band": ["18-59"]})
    _, signal = codec.decode(output, cells[list(codec.condition_domains)], rng=np.random.default_rng(0))
    assert np.allclose(signal[0], window, equal_nan=True)


def rhythms(n: int, rng: np.random.Generator) -> SeriesData:
    """Subjects whose pressure wave runs at 1 Hz (normal) or 3 Hz (abnormal), at a random phase:
    the classes share their mean signal and differ in their spectrum."""
    label = rng.choice(["normal", "abnormal"], n)
    t = np.arange(128) / 50
    ids = [f"s{i:03d}" for i in range(n)]
    signals = {}
    for i, s in enumerate(ids):
        freq = 3.0 if label[i] == "abnormal" else 1.0
        pressure = 20 + 12 * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
        signals[s] = np.stack([pressure, np.zeros_like(t)], axis=1)
    static = pd.DataFrame({"subject": ids, "sex": rng.choice(["female", "male"], n), "age": rng.uniform(20, 90, n),
                           "label": label})
    return SeriesData(static, signals)


@pytest.mark.parametrize("covariance", ["diagonal", "per-class", "shared"])
def test_a_rhythm_at_a_random_phase_keeps_its_label_only_with_a_covariance_per_class(covariance):
    model = registry.create("dp-series-moments", make_toy_series_schema(window=64), covariance=covariance,
                            components=32)
    model.fit(rhythms(1000, np.random.default_rng(0)), budget=PrivacyBudget(200.0, 1e-5), random_state=0,
              progress=False)
    synthetic = model.sample(400, random_state=0)
    crossings = {}
    for label in ("normal", "abnormal"):
        ids = synthetic.static.loc[synthetic.static["label"] == label, "subject"]
        pressure = np.stack([synthetic.signals[s][:, 0] for s in ids]) - 20
        crossings[label] = (np.diff(np.sign(pressure), axis=1) != 0).sum(1).mean()
    gap = crossings["abnormal"] - crossings["normal"]  # real: 3 Hz · 1.28 s · 2 ≈ 7.7 against ≈ 2.6
    assert gap > 3.0 if covariance != "shared" else abs(gap) < 1.5


def test_an_unknown_covariance_is_refused_naming_the_setting_and_its_choices():
    with pytest.raises(ParameterError, match=r"'covariance' .* one of 'auto', 'shared', 'per-class', 'diagonal' \(got 'full'\)"):
        registry.create("dp-series-moments", make_toy_series_schema(), covariance="full")

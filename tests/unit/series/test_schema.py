"""SeriesSchema: validation of the public schema, (de)serialisation, conform, windows."""

import copy
import json

import jsonschema
import numpy as np
import pandas as pd
import pytest
import yaml

from dpsynth.errors import SchemaError
from dpsynth.schema_spec import json_schema
from dpsynth.series.schema import Channel, SeriesData, SeriesReport, SeriesSchema
from tests.conftest import make_toy_series, make_toy_series_schema


def spec(**changes):
    """The toy schema's dict, with top-level keys replaced (value None deletes the key)."""
    out = copy.deepcopy(make_toy_series_schema().to_dict())
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def channel(**changes):
    return {"name": "pressure", "unit": "mmHg", "lower": 0, "upper": 40, **changes}


def small(signals, ids=None, **static):
    """A two-channel SeriesData with the toy static columns for the given signals."""
    ids = list(signals) if ids is None else ids
    n = len(ids)
    frame = pd.DataFrame({"subject": ids, "sex": static.get("sex", ["female"] * n),
                          "age": static.get("age", [40.0] * n), "label": static.get("label", ["normal"] * n)})
    return SeriesData(frame, signals)


def ok_signal(n=10):
    return np.column_stack([np.linspace(5, 35, n), np.linspace(-1, 1, n)])


# ------------------------------------------------------------------ serialisation
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_save_load_round_trip(tmp_path, suffix):
    schema = make_toy_series_schema()
    path = schema.save(tmp_path / "nested" / f"schema{suffix}")
    text = path.read_text()
    raw = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    assert raw["modality"] == "series" and raw["channels"][1]["out_of_bounds"] == "clip"
    loaded = SeriesSchema.load(path)
    assert loaded.to_dict() == schema.to_dict()
    assert loaded.fingerprint() == schema.fingerprint()
    assert loaded.channel_names == ["pressure", "flow"]
    assert loaded.subject_id == "subject" and loaded.target == "label" and loaded.positive == "abnormal"
    assert loaded.condition_domains() == {"label": ["normal", "abnormal"], "sex": ["female", "male"],
                                          "age_band": ["18-59", "60+"]}


def test_from_dict_to_dict_round_trip_and_stride_default():
    schema = make_toy_series_schema(window=24)
    assert schema.stride == 24  # defaults to the window
    assert schema.to_dict()["stride"] == 24
    again = SeriesSchema.from_dict(schema.to_dict())
    assert again.to_dict() == schema.to_dict()
    overlapping = SeriesSchema.from_dict(spec(stride=8))
    assert overlapping.stride == 8 and SeriesSchema.from_dict(overlapping.to_dict()).stride == 8


def test_fingerprint_is_stable_and_tracks_public_values():
    a, b = make_toy_series_schema(), make_toy_series_schema()
    assert a.fingerprint() == b.fingerprint()
    assert len(a.fingerprint()) == 64
    assert make_toy_series_schema(window=16).fingerprint() != a.fingerprint()
    wider = spec()
    wider["channels"][0]["upper"] = 50
    assert SeriesSchema.from_dict(wider).fingerprint() != a.fingerprint()


# ------------------------------------------------------------------ schema errors
@pytest.mark.parametrize("channels, message", [
    ([], "channels must be a non-empty list of channels, not an empty list"),
    ([channel(), channel(lower=-1)], "declares a channel twice"),
    ([channel(name="age")], r"channel name\(s\) \['age'\] are also static columns"),
    ([channel(name="subject")], r"channel name\(s\) \['subject'\] are also static columns or the subject id"),
    ([channel(lower=5, upper=5)], "channel 'pressure': lower and upper are both 5.*need lower < upper: widen them"),
    ([channel(lower=10, upper=5)], r"channel 'pressure': lower \(10\) is above upper \(5\); swap them"),
    ([channel(upper=float("nan"))], "channel 'pressure': upper must be a finite number"),
    ([channel(lower=float("-inf"))], "channel 'pressure': lower must be a finite number"),
    ([channel(upper="40")], "channel 'pressure': upper must be a number, not the text '40'; write it without quotes: upper: 40"),
    ([channel(upper=True)], "channel 'pressure': upper must be a number, not true"),
    ([channel(out_of_bounds="drop")], "channel 'pressure': out_of_bounds must be 'error' or 'clip', not 'drop'"),
    ([channel(out_of_bounds="Clip")], "out_of_bounds must be 'error' or 'clip', not 'Clip'; did you mean 'clip'?"),
    ([channel(units="mV")], "channel 'pressure': key 'units' is not known; did you mean 'unit'[?] valid keys: name, unit,"),
    ([{"unit": "mV", "lower": 0, "upper": 1}], "channel #1 is missing the key 'name'; add it"),
])
def test_bad_channels_raise_clear_errors(channels, message):
    with pytest.raises(SchemaError, match=message):
        SeriesSchema.from_dict(spec(channels=channels))


@pytest.mark.parametrize("changes, message", [
    (dict(sampling_rate=0), "sampling_rate must be a positive number"),
    (dict(sampling_rate=-50), "sampling_rate must be a positive number"),
    (dict(sampling_rate=float("nan")), "sampling_rate must be a positive number"),
    (dict(sampling_rate=float("inf")), "sampling_rate must be a positive number"),
    (dict(sampling_rate="50"), "sampling_rate must be a positive number"),
    (dict(sampling_rate=True), "sampling_rate must be a positive number"),
    (dict(window=0), "window must be a positive whole number, not 0"),
    (dict(window=-4), "window must be a positive whole number"),
    (dict(window=32.0), "window must be a positive whole number, not 32.0"),
    (dict(window=True), "window must be a positive whole number"),
    (dict(stride=0), "stride must be a positive whole number"),
    (dict(max_windows_per_subject=0), "max_windows_per_subject must be a positive whole number"),
    (dict(modality="tabular"), "modality 'tabular' is not 'series'"),
    (dict(modality=None), "modality None is not 'series'"),
    (dict(version=2), "schema version 2 is not supported"),
])
def test_bad_top_level_values_raise_clear_errors(changes, message):
    with pytest.raises(SchemaError, match=message):
        SeriesSchema.from_dict(spec(**changes))


@pytest.mark.parametrize("key", ["subject_id", "sampling_rate", "window", "channels", "target", "positive", "static"])
def test_missing_keys_are_named(key):
    with pytest.raises(SchemaError, match=f"series schema is missing the key '{key}'"):
        SeriesSchema.from_dict(spec(**{key: None}))


def test_unknown_top_level_key_is_named():
    with pytest.raises(SchemaError, match="series schema key 'windows' is not known; did you mean 'window'[?] "
                                          "valid keys: version, modality, subject_id, sampling_rate, window, stride"):
        SeriesSchema.from_dict(spec(windows=32))


def _edited(edit):
    out = spec()
    edit(out)
    return out


@pytest.mark.parametrize("edit, message", [
    (lambda s: s["channels"][0].update(unti="mV"),
     "channel 'pressure': key 'unti' is not known; did you mean 'unit'? valid keys: name, unit, lower, upper, out_of_bounds"),
    (lambda s: s["static"][1].update(lower_bound=0), "static column 'age': key 'lower_bound' is not known; did you mean "
     "'lower'? valid keys: name, kind, lower, upper, integer, decimals, nullable, public, out_of_bounds"),
    (lambda s: s.update(max_window_per_subject=4), "series schema key 'max_window_per_subject' is not known; did you "
     "mean 'max_windows_per_subject'? valid keys: version,"),
    (lambda s: s["channels"][1].update(out_of_bounds="clipp"),
     "channel 'flow': out_of_bounds must be 'error' or 'clip', not 'clipp'; did you mean 'clip'?"),
    (lambda s: s["static"][0].update(unseen="drop"), "static column 'sex': unseen must be 'error' or 'missing', not 'drop'"),
    (lambda s: s["static"][0].update(nullable="false"), "static column 'sex': nullable must be true or false, not the "
     "text 'false'; write it without quotes: nullable: false"),
    (lambda s: s["sensitive"][0].update(public="no"), "sensitive attribute 'sex': public must be true or false, not the "
     "text 'no'; write it without quotes: public: false"),
    (lambda s: s.update(window="32"), "window must be a positive whole number, not the text '32'; write it without "
     "quotes: window: 32"),
])
def test_the_strict_loader_names_the_key_and_the_fix(edit, message):
    bad = _edited(edit)
    with pytest.raises(SchemaError) as caught:
        SeriesSchema.from_dict(bad)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert not jsonschema.Draft7Validator(json_schema()).is_valid(bad)  # an editor flags it too


def test_sampling_rate_is_stored_as_a_float():
    assert SeriesSchema.from_dict(spec(sampling_rate=50)).fingerprint() == \
        SeriesSchema.from_dict(spec(sampling_rate=50.0)).fingerprint()


def test_not_a_mapping_and_null_subject_id_raise():
    with pytest.raises(SchemaError, match="must be a mapping"):
        SeriesSchema.from_dict(["not", "a", "mapping"])
    schema = make_toy_series_schema()
    static = copy.deepcopy(schema.static)
    static.subject_id = None
    with pytest.raises(SchemaError, match="needs 'subject_id'"):
        SeriesSchema(channels=schema.channels, sampling_rate=50, window=32, static=static)


def test_channel_validates_on_its_own():
    with pytest.raises(SchemaError, match="lower"):
        Channel("x", lower=float("inf"), upper=1.0)
    c = Channel("x", lower=-1, upper=1.5, unit="mV", out_of_bounds="clip")
    assert c.to_dict() == {"name": "x", "unit": "mV", "lower": -1, "upper": 1.5, "out_of_bounds": "clip"}


# ------------------------------------------------------------------------ conform
def test_conform_returns_canonical_data_without_touching_the_input():
    data = make_toy_series(n=20)
    first = next(iter(data.signals))
    data.signals[first][3, 1] = 7.5  # a 'clip' channel sample out of bounds: clipped in the output only
    static_before = data.static.copy()
    signals_before = {k: v.copy() for k, v in data.signals.items()}
    objects_before = dict(data.signals)

    out, report = make_toy_series_schema().conform(data)

    pd.testing.assert_frame_equal(data.static, static_before)
    assert list(data.signals) == list(signals_before)
    for key, array in data.signals.items():
        assert array is objects_before[key]
        np.testing.assert_array_equal(array, signals_before[key])  # NaN == NaN here
    assert data.signals[first][3, 1] == 7.5

    assert isinstance(report, SeriesReport)
    assert list(out.signals) == out.static["subject"].tolist() == data.static["subject"].tolist()
    assert list(out.static.columns) == ["sex", "age", "label", "subject"]
    assert out.static.index.tolist() == list(range(20))
    for key, array in out.signals.items():
        assert array.dtype == np.float64 and array.shape == signals_before[key].shape
        assert not np.shares_memory(array, data.signals[key])
    assert out.signals[first][3, 1] == 2.0
    assert report.n_subjects == len(out) == 20
    assert report.n_samples == sum(len(v) for v in signals_before.values())
    assert report.clipped["flow"] >= 1 and "pressure" not in report.clipped
    expected_missing = {name: int(sum(np.isnan(v[:, j]).sum() for v in signals_before.values()))
                        for j, name in enumerate(["pressure", "flow"])}
    assert report.missing == expected_missing and sum(expected_missing.values()) > 0


def test_missing_samples_are_counted_per_channel_and_kept_missing():
    a, b = ok_signal(), ok_signal(6)
    a[[1, 4], 0] = np.nan
    b[2, 1] = np.nan
    out, report = make_toy_series_schema().conform(small({"a": a, "b": b}))
    assert report.missing == {"pressure": 2, "flow": 1}
    assert report.clipped == {}
    assert np.isnan(out.signals["a"][[1, 4], 0]).all() and np.isnan(out.signals["b"][2, 1])
    assert np.isnan(out.signals["a"]).sum() == 2 and np.isnan(out.signals["b"]).sum() == 1
    assert report.to_dict()["missing"] == {"pressure": 2, "flow": 1}


def test_clip_channel_is_clipped_and_counted():
    a, b = ok_signal(), ok_signal()
    a[0, 1], a[5, 1], b[9, 1] = 3.0, -5.0, 2.0  # 2.0 is on the bound: kept, not counted
    out, report = make_toy_series_schema().conform(small({"a": a, "b": b}))
    assert report.clipped == {"flow": 2}
    assert out.signals["a"][0, 1] == 2.0 and out.signals["a"][5, 1] == -2.0 and out.signals["b"][9, 1] == 2.0
    np.testing.assert_array_equal(out.signals["a"][:, 0], a[:, 0])


def test_error_channel_out_of_bounds_names_channel_and_subject():
    a, b = ok_signal(), ok_signal()
    b[4, 0] = 55.0
    b[6, 0] = -1.0
    with pytest.raises(SchemaError, match=r"channel 'pressure' has 2 sample\(s\) outside its public bounds "
                                          r"\[0, 40\] \(e\.g\. subject 'b': 55\.0\).*out_of_bounds: clip"):
        make_toy_series_schema().conform(small({"a": a, "b": b}))


@pytest.mark.parametrize("value", [np.inf, -np.inf])
@pytest.mark.parametrize("column, name", [(0, "pressure"), (1, "flow")])
def test_infinite_samples_raise(value, column, name):
    a = ok_signal()
    a[2, column] = value
    with pytest.raises(SchemaError, match=f"signal of subject 'a', channel '{name}' holds ±inf"):
        make_toy_series_schema().conform(small({"a": a}))


@pytest.mark.parametrize("signal, shape", [
    (np.zeros((10, 3)), r"\(10, 3\)"),
    (np.zeros((2, 10, 2)), r"\(2, 10, 2\)"),
    (np.zeros(10), r"\(10,\)"),  # 1-D is only accepted for a single channel
    (np.zeros((2, 10)), r"\(2, 10\)"),  # transposed
])
def test_wrong_shaped_signal_raises(signal, shape):
    with pytest.raises(SchemaError, match=f"signal of subject 'a' has shape {shape}; expected "
                                          r"\(time, 2\) for channels \['pressure', 'flow'\]"):
        make_toy_series_schema().conform(small({"a": signal}))


def test_subject_without_signal_raises():
    with pytest.raises(SchemaError, match=r"1 subject\(s\) of the static table have no signal, e\.g\. \['b'\]"):
        make_toy_series_schema().conform(small({"a": ok_signal()}, ids=["a", "b"]))


def test_signal_without_static_row_raises():
    with pytest.raises(SchemaError, match=r"1 signal\(s\) belong to subjects missing from the static table, "
                                          r"e\.g\. \['z'\]"):
        make_toy_series_schema().conform(small({"a": ok_signal(), "z": ok_signal()}, ids=["a"]))


def test_duplicate_subject_rows_raise():
    with pytest.raises(SchemaError, match=r"subject id\(s\) \['a'\] appear on more than one row"):
        make_toy_series_schema().conform(small({"a": ok_signal(), "b": ok_signal()}, ids=["a", "b", "a"]))


@pytest.mark.parametrize("signal", [np.full((10, 2), np.nan), np.zeros((0, 2))])
def test_signal_without_observed_sample_raises(signal):
    with pytest.raises(SchemaError, match="subject 'b' has no observed sample in any channel"):
        make_toy_series_schema().conform(small({"a": ok_signal(), "b": signal}))


def test_non_numeric_signal_raises():
    text = np.array([["1", "2"]] * 5)
    with pytest.raises(SchemaError, match="signal of subject 'a' is not numeric"):
        make_toy_series_schema().conform(small({"a": text}))
    mixed = np.array([[1.0, "x"]] * 5, dtype=object)
    with pytest.raises(SchemaError, match="signal of subject 'a' is not numeric"):
        make_toy_series_schema().conform(small({"a": mixed}))


def test_object_array_of_numbers_is_accepted_as_float():
    """DataFrame.to_numpy() of a mixed frame gives object arrays; numbers in them are fine."""
    numbers = np.array([[20.0, 1], [21.5, None]] * 3, dtype=object)
    conformed, report = make_toy_series_schema().conform(small({"a": numbers}))
    assert conformed.signals["a"].dtype == np.float64 and report.missing["flow"] == 3


def test_missing_subject_id_column_in_the_static_table_raises():
    data = small({"a": ok_signal()})
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['subject'\]"):
        make_toy_series_schema().conform(SeriesData(data.static.drop(columns="subject"), data.signals))


def test_static_table_is_conformed_like_a_tabular_one():
    with pytest.raises(SchemaError, match="age"):
        make_toy_series_schema().conform(small({"a": ok_signal()}, age=[200.0]))
    with pytest.raises(SchemaError, match="label"):
        make_toy_series_schema().conform(small({"a": ok_signal()}, label=["maybe"]))


def test_one_channel_schema_accepts_a_1d_signal():
    one = spec(channels=[channel()])
    schema = SeriesSchema.from_dict(one)
    out, report = schema.conform(small({"a": np.linspace(0, 40, 12), "b": np.linspace(1, 2, 5)[:, None]}))
    assert out.signals["a"].shape == (12, 1) and out.signals["b"].shape == (5, 1)
    np.testing.assert_array_equal(out.signals["a"][:, 0], np.linspace(0, 40, 12))
    assert report.n_samples == 17


def test_subject_ids_are_matched_in_canonical_form():
    data = SeriesData(pd.DataFrame({"subject": [1, 2], "sex": ["male", "female"], "age": [30.0, 70.0],
                                    "label": ["normal", "abnormal"]}),
                      {2: ok_signal(4), "1": ok_signal(6)})
    out, _ = make_toy_series_schema().conform(data)
    assert out.static["subject"].tolist() == ["1", "2"]
    assert list(out.signals) == ["1", "2"]
    assert out.signals["1"].shape == (6, 2) and out.signals["2"].shape == (4, 2)
    assert make_toy_series_schema().count_units(out) == 2


def test_two_signal_keys_for_one_subject_raise():
    data = small({"1": ok_signal(4)}, ids=["1"])
    data.signals = {1: ok_signal(4), "1": ok_signal(6)}  # both are subject '1' once written as text
    with pytest.raises(SchemaError, match=r"signal keys \[1, '1'\] name the same subject.*\('1'\)"):
        make_toy_series_schema().conform(data)


# ------------------------------------------------------------------------ windows
def windowed(window, stride=None, max_windows=16):
    return SeriesSchema.from_dict(spec(window=window, stride=stride, max_windows_per_subject=max_windows))


def test_short_signal_gives_one_nan_padded_window():
    schema = make_toy_series_schema(window=32)
    signal = ok_signal(10)
    assert schema.window_starts(10) == [0]
    w = schema.windows(signal)
    assert w.shape == (1, 32, 2)
    np.testing.assert_array_equal(w[0, :10], signal)
    assert np.isnan(w[0, 10:]).all()


def test_signal_of_exactly_one_window_is_not_padded():
    schema = make_toy_series_schema(window=10)
    w = schema.windows(ok_signal(10))
    assert schema.window_starts(10) == [0] and w.shape == (1, 10, 2) and not np.isnan(w).any()


@pytest.mark.parametrize("window, stride, length, starts", [
    (8, None, 20, [0, 8]),  # stride = window: no overlap, the tail that fills no window is left out
    (8, 8, 24, [0, 8, 16]),
    (8, 4, 20, [0, 4, 8, 12]),  # overlapping windows
    (4, 10, 25, [0, 10, 20]),  # gaps between windows
    (8, 1, 10, [0, 1, 2]),
])
def test_window_starts_follow_the_stride(window, stride, length, starts):
    assert windowed(window, stride, max_windows=100).window_starts(length) == starts


def test_overlapping_windows_hold_the_right_samples():
    schema = windowed(8, 4, max_windows=100)
    signal = np.column_stack([np.arange(20.0), -np.arange(20.0) / 20])
    w = schema.windows(signal)
    assert w.shape == (4, 8, 2) and w.dtype == np.float64
    for i, start in enumerate([0, 4, 8, 12]):
        np.testing.assert_array_equal(w[i], signal[start:start + 8])


def test_too_many_windows_are_thinned_evenly_keeping_first_and_last():
    schema = windowed(8, 8, max_windows=4)
    starts = schema.window_starts(80)  # 10 candidate windows
    assert starts == [0, 24, 48, 72]
    assert starts[0] == 0 and starts[-1] == 80 - 8
    long = schema.window_starts(8 * 100 + 3)  # 100 candidates
    assert len(long) == 4 and long[0] == 0 and long[-1] == 8 * 99
    gaps = np.diff(long)
    assert gaps.max() - gaps.min() <= 8  # evenly spaced (up to one stride of rounding)
    assert all(s % 8 == 0 for s in long)  # still on the stride grid
    w = schema.windows(np.column_stack([np.arange(80.0), np.zeros(80)]))
    assert w.shape == (4, 8, 2)
    np.testing.assert_array_equal(w[:, 0, 0], [0, 24, 48, 72])


def test_window_count_is_capped_by_the_schema():
    schema = make_toy_series_schema(window=8)  # max_windows_per_subject = 4
    for length in (1, 8, 9, 16, 40, 1000):
        w = schema.windows(np.ones((length, 2)))
        assert w.ndim == 3 and w.shape[1:] == (8, 2)
        assert 1 <= len(w) <= 4
        assert len(w) == min(4, max(1, (length - 8) // 8 + 1))


def test_windows_of_conformed_toy_data():
    schema = make_toy_series_schema(window=32)
    out, _ = schema.conform(make_toy_series(n=10))
    for signal in out.signals.values():
        w = schema.windows(signal)
        assert w.shape == (len(schema.window_starts(len(signal))), 32, 2)
        np.testing.assert_array_equal(w[0, :min(32, len(signal))], signal[:32])


def test_conform_keeps_the_static_tables_markers():
    """A "simulated" marker on the static table must survive conform (reports say so)."""
    data = make_toy_series(n=5)
    data.static.attrs["simulated"] = True
    conformed, _ = make_toy_series_schema().conform(data)
    assert conformed.static.attrs["simulated"] is True


def test_count_units_counts_distinct_subjects_and_names_a_missing_id_column():
    schema = make_toy_series_schema()
    data = make_toy_series(n=5)
    assert schema.count_units(data) == 5
    doubled = SeriesData(pd.concat([data.static, data.static], ignore_index=True), data.signals)
    assert schema.count_units(doubled) == 5
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['subject'\]"):
        schema.count_units(SeriesData(data.static.drop(columns="subject"), data.signals))

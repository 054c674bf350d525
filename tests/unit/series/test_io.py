"""dpsynth.series.io: long tables, npz, WFDB and DICOM waveforms in; long tables and npz out.

Readers only assemble (NaN = missing sample, never filled); every failure names the file,
the column / channel / subject at fault and the fix.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from dpsynth.errors import DataReadError, SchemaError
from dpsynth.table_io import DataWriteError, read_table, write_table
from dpsynth.series.io import (
    read_dicom_waveforms,
    read_long,
    read_npz,
    read_series,
    read_wfdb,
    write_long,
    write_npz,
)
from dpsynth.series.schema import SeriesData, SeriesSchema

STATIC = [{"name": "sex", "kind": "categorical", "categories": ["female", "male"], "nullable": True},
          {"name": "age", "kind": "numeric", "lower": 0, "upper": 120},
          {"name": "label", "kind": "categorical", "categories": ["normal", "abnormal"]}]


def make_schema(channels=(("pressure", "mmHg"), ("flow", "L/s")), rate=100, bound=1e4) -> SeriesSchema:
    return SeriesSchema.from_dict({
        "version": 1, "modality": "series", "subject_id": "subject", "sampling_rate": rate, "window": 4,
        "channels": [{"name": n, "unit": u, "lower": -bound, "upper": bound} for n, u in channels],
        "target": "label", "positive": "abnormal", "static": STATIC,
    })


def static_frame(ids) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame({"subject": list(ids), "sex": (["female", np.nan, "male"] * n)[:n],
                         "age": [30.5 + i for i in range(n)], "label": (["normal", "abnormal"] * n)[:n]})


@pytest.fixture
def schema() -> SeriesSchema:
    return make_schema()


@pytest.fixture
def data() -> SeriesData:
    """Three subjects of unequal length: a NaN cell, an all-NaN row inside, leading/trailing NaN."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(7, 2))
    a[1, 1] = np.nan
    a[3] = np.nan           # a gap: no observed channel at sample 3
    a[-1, 0] = np.nan       # trailing sample with one channel observed
    b = rng.normal(size=(3, 2))
    c = rng.normal(size=(5, 2)) * 1e3
    c[0, 0] = np.nan
    return SeriesData(static_frame(["a", "b", "7"]), {"a": a, "b": b, "7": c})


def assert_same_signals(back: dict, expected: dict) -> None:
    assert list(back) == list(expected)
    for subject, signal in expected.items():
        assert back[subject].dtype == np.float64
        np.testing.assert_array_equal(back[subject], signal)  # NaN positions included


def write_csv(path, text: str):
    path.write_text(text)
    return path


# ====================================================================== long tables
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_long_round_trip_keeps_values_gaps_and_lengths(tmp_path, schema, data, suffix):
    signals_path, static_path = write_long(data, tmp_path / f"signals{suffix}", tmp_path / f"static{suffix}",
                                           schema)
    back = read_long(signals_path, static_path, schema)
    assert_same_signals(back.signals, data.signals)
    assert back.static["subject"].tolist() == ["a", "b", "7"]
    assert back.static["sex"].isna().tolist() == [False, True, False]
    conformed, report = schema.conform(back)
    assert report.missing == {"pressure": 3, "flow": 2}
    assert [len(conformed.signals[s]) for s in ("a", "b", "7")] == [7, 3, 5]


def test_long_table_layout(tmp_path, schema, data):
    signals_path, _ = write_long(data, tmp_path / "s.csv", tmp_path / "st.csv", schema, time_column="t_s")
    frame = read_table(signals_path)
    assert list(frame.columns) == ["subject", "t_s", "pressure", "flow"]
    rows_a = frame[frame["subject"] == "a"]
    np.testing.assert_allclose(rows_a["t_s"], np.arange(7) / 100)
    assert rows_a["pressure"].isna().tolist() == [False, False, False, True, False, False, True]
    back = read_long(signals_path, tmp_path / "st.csv", schema, time_column="t_s")
    assert_same_signals(back.signals, data.signals)


def test_long_places_rows_on_the_grid_and_fills_gaps_with_nan(tmp_path, schema):
    signals = write_csv(tmp_path / "s.csv", "subject,time,pressure,flow\n"
                        "1,10.04,5,0.5\n1,10.00,1,0.1\n1,10.01,2,\n2,0,7,0.7\n")
    static = write_table(static_frame([1, 2]), tmp_path / "st.csv")
    back = read_long(signals, static, schema)
    assert list(back.signals) == ["1", "2"]
    np.testing.assert_array_equal(back.signals["1"], [[1, 0.1], [2, np.nan], [np.nan, np.nan],
                                                      [np.nan, np.nan], [5, 0.5]])
    np.testing.assert_array_equal(back.signals["2"], [[7, 0.7]])
    assert back.static["subject"].tolist() == ["1", "2"]


def test_long_off_grid_time_names_subject_time_and_fix(tmp_path, schema):
    signals = write_csv(tmp_path / "s.csv", "subject,time,pressure,flow\nx,0,1,1\nx,0.015,2,2\n")
    static = write_table(static_frame(["x"]), tmp_path / "st.csv")
    with pytest.raises(DataReadError, match=r"subject 'x': time 0.015 s is not on the 100 Hz") as info:
        read_long(signals, static, schema)
    assert "s.csv" in str(info.value) and "resample" in str(info.value)


def test_long_tolerates_float_noise_on_the_grid(tmp_path, schema):
    signals = write_csv(tmp_path / "s.csv", "subject,time,pressure,flow\nx,0,1,1\nx,0.02000001,2,2\n")
    back = read_long(signals, write_table(static_frame(["x"]), tmp_path / "st.csv"), schema)
    np.testing.assert_array_equal(back.signals["x"][:, 0], [1, np.nan, 2])


def test_long_duplicate_time_names_subject_and_time(tmp_path, schema):
    signals = write_csv(tmp_path / "s.csv", "subject,time,pressure,flow\nx,0,1,1\nx,0.01,2,2\ny,0,1,1\n"
                        "x,0.01,3,3\n")
    static = write_table(static_frame(["x", "y"]), tmp_path / "st.csv")
    with pytest.raises(DataReadError, match=r"subject 'x': two rows fall on the same sample at time 0.01 s"):
        read_long(signals, static, schema)


def test_long_missing_channel_columns_are_listed(tmp_path, schema):
    signals = write_csv(tmp_path / "s.csv", "subject,time,pressure\nx,0,1\n")
    static = write_table(static_frame(["x"]), tmp_path / "st.csv")
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['flow'\]") as info:
        read_long(signals, static, schema)
    assert "s.csv" in str(info.value) and "time_column" in str(info.value)


def test_long_extra_columns_are_listed_with_the_fix(tmp_path, schema):
    signals = write_csv(tmp_path / "s.csv", "subject,time,pressure,flow,sex,note\nx,0,1,1,male,ok\n")
    static = write_table(static_frame(["x"]), tmp_path / "st.csv")
    with pytest.raises(SchemaError, match=r"\['sex', 'note'\].*drop them"):
        read_long(signals, static, schema)


def test_long_non_numeric_cells_and_missing_times(tmp_path, schema):
    static = write_table(static_frame(["x"]), tmp_path / "st.csv")
    signals = write_csv(tmp_path / "s.csv", "subject,time,pressure,flow\nx,0,1,high\n")
    with pytest.raises(DataReadError, match=r"column 'flow' must hold numbers.*'high'"):
        read_long(signals, static, schema)
    signals = write_csv(tmp_path / "t.csv", "subject,time,pressure,flow\nx,0,1,1\nx,,2,2\n")
    with pytest.raises(DataReadError, match=r"time column 'time' is empty on 1 row\(s\) \(e.g. row 1\)"):
        read_long(signals, static, schema)


def test_static_table_needs_the_subject_id(tmp_path, schema):
    signals = write_csv(tmp_path / "s.csv", "subject,time,pressure,flow\nx,0,1,1\n")
    static = write_table(static_frame(["x"]).rename(columns={"subject": "patient"}), tmp_path / "st.csv")
    with pytest.raises(SchemaError, match=r"st.csv' has no subject id column 'subject'"):
        read_long(signals, static, schema)


# ============================================================================ npz
def test_npz_round_trip_with_static_arrays_inside(tmp_path, schema, data):
    path = write_npz(data, tmp_path / "d.npz", schema)
    with np.load(path, allow_pickle=False) as archive:   # nothing pickled
        assert sorted(archive.files) == ["age", "label", "sex", "signals", "subject"]
        assert archive["signals"].shape == (3, 7, 2)
        assert all(archive[k].dtype.kind != "O" for k in archive.files)
        assert archive["sex"].dtype.kind == "U"
    back = read_npz(path, schema)
    assert_same_signals(back.signals, data.signals)   # trailing padding trimmed, inner NaN kept
    pd.testing.assert_frame_equal(back.static, data.static.astype({"subject": object}), check_dtype=False)
    assert np.isnan(back.static["sex"].iloc[1])
    schema.conform(back)


def test_npz_with_static_file_needs_no_static_arrays(tmp_path, schema, data):
    path = tmp_path / "d.npz"
    np.savez(path, signals=np.stack([np.vstack([data.signals["b"], np.full((2, 2), np.nan)]),
                                     data.signals["7"]]), subject=np.array([7, 8]))
    static = write_table(static_frame([7, 8]), tmp_path / "st.parquet")
    back = read_npz(path, schema, static_path=static)
    assert list(back.signals) == ["7", "8"]
    np.testing.assert_array_equal(back.signals["7"], data.signals["b"])
    np.testing.assert_array_equal(back.signals["8"], data.signals["7"])
    assert back.static["subject"].tolist() == ["7", "8"]
    with pytest.raises(SchemaError, match=r"no array for static column\(s\) \['sex', 'age', 'label'\].*static_path"):
        read_npz(path, schema)


def test_npz_one_channel_may_be_two_dimensional(tmp_path):
    schema = make_schema(channels=(("pressure", ""),))
    path = tmp_path / "d.npz"
    np.savez(path, signals=np.array([[1.0, 2.0, np.nan], [3.0, np.nan, 4.0]]), subject=np.array(["p", "q"]),
             sex=np.array(["male", ""]), age=np.array([40, 50]), label=np.array(["normal", "abnormal"]))
    back = read_npz(path, schema)
    np.testing.assert_array_equal(back.signals["p"], [[1.0], [2.0]])
    np.testing.assert_array_equal(back.signals["q"], [[3.0], [np.nan], [4.0]])
    assert back.static["sex"].isna().tolist() == [False, True]


def test_npz_wrong_channel_count_names_counts_and_channels(tmp_path, schema):
    path = tmp_path / "d.npz"
    np.savez(path, signals=np.zeros((2, 5, 3)), subject=np.array(["p", "q"]))
    with pytest.raises(SchemaError, match=r"'signals' has 3 channel\(s\).*declares 2: \['pressure', 'flow'\]"):
        read_npz(path, schema)


@pytest.mark.parametrize("arrays, message", [
    ({"subject": np.array(["p"])}, r"no key 'signals'.*keys found: \['subject'\]"),
    ({"signals": np.zeros((1, 4, 2))}, r"no key 'subject' \(the subject ids"),
    ({"signals": np.zeros((4, 2)), "subject": np.array(["p"])}, r"'signals' has shape \(4, 2\)"),
    ({"signals": np.zeros((2, 4, 2)), "subject": np.array(["p"])}, r"key 'subject' has shape \(1,\).*2 subjects"),
    ({"signals": np.zeros((2, 4, 2)), "subject": np.array(["p", "p"])}, r"subject id\(s\) \['p'\] name more"),
    ({"signals": np.zeros((1, 4, 2)), "subject": np.array(["p"]), "sex": np.array(["male"]),
      "age": np.array([1, 2]), "label": np.array(["normal"])}, r"key 'age' has shape \(2,\)"),
])
def test_npz_structure_errors(tmp_path, schema, arrays, message):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataReadError, match=message) as info:
        read_npz(path, schema)
    assert "d.npz" in str(info.value)


def test_npz_refuses_pickled_objects_and_non_archives(tmp_path, schema):
    path = tmp_path / "d.npz"
    np.savez(path, signals=np.zeros((1, 2, 2)), subject=np.array([{"id": 1}], dtype=object))
    with pytest.raises(DataReadError, match=r"key 'subject' holds Python objects.*dtype=str"):
        read_npz(path, schema)
    (tmp_path / "bad.npz").write_text("not numpy")
    with pytest.raises(DataReadError, match=r"bad.npz': not a NumPy .npz archive"):
        read_npz(tmp_path / "bad.npz", schema)
    with pytest.raises(DataReadError, match="no such file"):
        read_npz(tmp_path / "nope.npz", schema)


def test_write_npz_needs_one_static_row_per_signal(tmp_path, schema, data):
    data.static = data.static.iloc[:2]
    with pytest.raises(DataWriteError, match=r"subject\(s\) \['7'\] have a static row or a signal but not both"):
        write_npz(data, tmp_path / "d.npz", schema)
    with pytest.raises(DataWriteError, match=r"must end in .npz"):
        write_npz(data, tmp_path / "d.npy", schema)


# =========================================================================== WFDB
def write_wfdb(directory, name, signal, *, fs=100, units=("mV", "mV"), sig_name=("ecg", "abp")):
    import wfdb

    directory.mkdir(exist_ok=True)
    wfdb.wrsamp(name, fs=fs, units=list(units), sig_name=list(sig_name), p_signal=signal,
                fmt=["16"] * len(sig_name), write_dir=str(directory))


WFDB_A = np.array([[0.1, 1.0], [0.2, np.nan], [0.3, 3.0], [-0.4, 4.0]])
WFDB_B = np.array([[1.5, -2.0], [2.5, 2.0]])


@pytest.fixture
def wfdb_dir(tmp_path):
    directory = tmp_path / "records"
    write_wfdb(directory, "100", WFDB_A)
    write_wfdb(directory, "rec_b", WFDB_B)
    return directory


def test_wfdb_records_are_subjects_in_schema_channel_order(tmp_path, wfdb_dir):
    schema = make_schema(channels=(("abp", "mV"), ("ecg", "")))
    static = write_table(static_frame([100, "rec_b"]), tmp_path / "st.csv")
    back = read_wfdb(wfdb_dir, static, schema)
    assert list(back.signals) == ["100", "rec_b"]
    np.testing.assert_allclose(back.signals["100"], WFDB_A[:, ::-1], atol=1e-3)
    assert np.isnan(back.signals["100"]).tolist() == [[False, False], [True, False], [False, False], [False, False]]
    np.testing.assert_allclose(back.signals["rec_b"], WFDB_B[:, ::-1], atol=1e-3)
    conformed, _ = schema.conform(back)
    assert conformed.static["subject"].tolist() == ["100", "rec_b"]


def test_wfdb_channel_map_and_ignored_extra_channels(tmp_path, wfdb_dir):
    schema = make_schema(channels=(("lead_ii", "mV"),))
    static = write_table(static_frame([100, "rec_b"]), tmp_path / "st.csv")
    back = read_wfdb(wfdb_dir, static, schema, channel_map={"ecg": "lead_ii"})
    np.testing.assert_allclose(back.signals["rec_b"], WFDB_B[:, :1], atol=1e-3)


def test_wfdb_multi_segment_record_is_one_subject(tmp_path):
    directory = tmp_path / "multi"
    write_wfdb(directory, "seg1", WFDB_A)
    write_wfdb(directory, "seg2", WFDB_B)
    (directory / "whole.hea").write_text("whole/2 2 100 6\nseg1 4\nseg2 2\n")
    static = write_table(static_frame(["whole"]), tmp_path / "st.csv")
    back = read_wfdb(directory, static, make_schema(channels=(("ecg", "mV"), ("abp", "mV"))))
    assert list(back.signals) == ["whole"]
    np.testing.assert_allclose(back.signals["whole"], np.vstack([WFDB_A, WFDB_B]), atol=1e-3)


def test_wfdb_sampling_rate_mismatch_says_resample(tmp_path, wfdb_dir):
    static = write_table(static_frame([100, "rec_b"]), tmp_path / "st.csv")
    schema = make_schema(channels=(("ecg", "mV"),), rate=250)
    with pytest.raises(SchemaError, match=r"record '.*100' is sampled at 100 Hz.*250 Hz; resample"):
        read_wfdb(wfdb_dir, static, schema)


def test_wfdb_missing_channel_lists_missing_and_found(tmp_path, wfdb_dir):
    static = write_table(static_frame([100, "rec_b"]), tmp_path / "st.csv")
    schema = make_schema(channels=(("ecg", "mV"), ("resp", "")))
    with pytest.raises(SchemaError, match=r"no channel\(s\) \['resp'\].*found: \['ecg', 'abp'\].*channel_map"):
        read_wfdb(wfdb_dir, static, schema)


def test_wfdb_unit_mismatch_names_both_units(tmp_path, wfdb_dir):
    static = write_table(static_frame([100, "rec_b"]), tmp_path / "st.csv")
    schema = make_schema(channels=(("abp", "mmHg"),))
    with pytest.raises(SchemaError, match=r"channel 'abp' is in 'mV' but the schema says 'mmHg'"):
        read_wfdb(wfdb_dir, static, schema)


def test_wfdb_unreadable_record_and_empty_directory(tmp_path, wfdb_dir):
    static = write_table(static_frame([100]), tmp_path / "st.csv")
    (wfdb_dir / "rec_b.dat").unlink()
    with pytest.raises(DataReadError, match=r"cannot read WFDB record '.*rec_b'"):
        read_wfdb(wfdb_dir, static, make_schema(channels=(("ecg", "mV"),)))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataReadError, match=r"holds no \*.hea file"):
        read_wfdb(tmp_path / "empty", static, make_schema())


# ========================================================================== DICOM
LEADS = ["Lead I (Einthoven)", "Lead II", "Lead III", "Lead aVR", "Lead aVL", "Lead aVF",
         "Lead V1", "Lead V2", "Lead V3", "Lead V4", "Lead V5", "Lead V6"]


@pytest.fixture(scope="module")
def ecg():
    """pydicom's offline 12-lead ECG test file (10 s at 1000 Hz, uV) and its physical samples."""
    import pydicom
    from pydicom.data import get_testdata_file

    path = get_testdata_file("waveform_ecg.dcm", download=False)  # download=False: never hit the network
    dataset = pydicom.dcmread(path)
    return dataset, dataset.waveform_array(0)


def save_ecg(ecg, path, patient_id, *, rate=None, padding: bytes | None = None):
    dataset = copy.deepcopy(ecg[0])
    dataset.PatientID = patient_id
    group = dataset.WaveformSequence[0]
    if rate is not None:
        group.SamplingFrequency = rate
    if padding is not None:
        group.add_new(0x5400100A, "OW", padding)  # Waveform Padding Value
    path.parent.mkdir(exist_ok=True)
    dataset.save_as(path)
    return path


def ecg_schema(channels=(("Lead II", "uV"), ("Lead V1", "uV")), rate=1000):
    return make_schema(channels=channels, rate=rate)


def test_dicom_files_are_subjects_by_patient_id(tmp_path, ecg):
    directory = tmp_path / "ecg"
    save_ecg(ecg, directory / "one.dcm", "p1")
    save_ecg(ecg, directory / "two.DCM", "12")
    static = write_table(static_frame(["p1", 12]), tmp_path / "st.csv")
    back = read_dicom_waveforms(directory, static, ecg_schema())
    assert list(back.signals) == ["p1", "12"]
    assert back.signals["p1"].shape == (10000, 2)
    np.testing.assert_array_equal(back.signals["12"], ecg[1][:, [1, 6]])
    schema = ecg_schema()
    conformed, _ = schema.conform(back)
    assert conformed.static["subject"].tolist() == ["p1", "12"]


def test_dicom_channel_map(tmp_path, ecg):
    save_ecg(ecg, tmp_path / "ecg" / "one.dcm", "p1")
    static = write_table(static_frame(["p1"]), tmp_path / "st.csv")
    schema = ecg_schema(channels=(("lead_v6", "uV"), ("lead_ii", "")))
    back = read_dicom_waveforms(tmp_path / "ecg", static, schema,
                                channel_map={"Lead II": "lead_ii", "Lead V6": "lead_v6"})
    np.testing.assert_array_equal(back.signals["p1"], ecg[1][:, [11, 1]])
    with pytest.raises(SchemaError, match=r"channel_map maps 'Lead II' to 'II', which is not a schema channel"):
        read_dicom_waveforms(tmp_path / "ecg", static, schema, channel_map={"Lead II": "II"})
    with pytest.raises(SchemaError, match=r"no channel\(s\) \['lead_v6', 'lead_ii'\].*'Lead aVR'"):
        read_dicom_waveforms(tmp_path / "ecg", static, schema)


def test_dicom_padding_value_is_a_missing_sample(tmp_path, ecg):
    from pydicom.waveforms import multiplex_array

    raw = multiplex_array(ecg[0], 0, as_raw=True)
    padding = raw[0, 1]
    save_ecg(ecg, tmp_path / "ecg" / "one.dcm", "p1", padding=padding.tobytes())
    back = read_dicom_waveforms(tmp_path / "ecg", write_table(static_frame(["p1"]), tmp_path / "st.csv"),
                                ecg_schema())
    np.testing.assert_array_equal(np.isnan(back.signals["p1"][:, 0]), raw[:, 1] == padding)
    assert np.isnan(back.signals["p1"][0, 0])


def test_dicom_duplicate_and_empty_patient_ids(tmp_path, ecg):
    static = write_table(static_frame(["p1"]), tmp_path / "st.csv")
    save_ecg(ecg, tmp_path / "dup" / "a.dcm", "p1")
    save_ecg(ecg, tmp_path / "dup" / "b.dcm", "p1")
    with pytest.raises(DataReadError, match=r"a.dcm' and '.*b.dcm' have the same PatientID 'p1'"):
        read_dicom_waveforms(tmp_path / "dup", static, ecg_schema())
    save_ecg(ecg, tmp_path / "anon" / "a.dcm", "")
    with pytest.raises(DataReadError, match=r"a.dcm' has no PatientID"):
        read_dicom_waveforms(tmp_path / "anon", static, ecg_schema())


def test_dicom_sampling_rate_and_unit_mismatch(tmp_path, ecg):
    static = write_table(static_frame(["p1"]), tmp_path / "st.csv")
    save_ecg(ecg, tmp_path / "ecg" / "a.dcm", "p1")
    with pytest.raises(SchemaError, match=r"a.dcm' is sampled at 1000 Hz but .* 500 Hz; resample"):
        read_dicom_waveforms(tmp_path / "ecg", static, ecg_schema(rate=500))
    with pytest.raises(SchemaError, match=r"channel 'Lead II' is in 'uV' but the schema says 'mV'"):
        read_dicom_waveforms(tmp_path / "ecg", static, ecg_schema(channels=(("Lead II", "mV"),)))


def test_dicom_unreadable_file(tmp_path):
    (tmp_path / "ecg").mkdir()
    (tmp_path / "ecg" / "a.dcm").write_bytes(b"not dicom")
    with pytest.raises(DataReadError, match=r"cannot read DICOM file '.*a.dcm'"):
        read_dicom_waveforms(tmp_path / "ecg", tmp_path / "st.csv", ecg_schema())


# ================================================================= read_series
def test_read_series_dispatches_on_the_input(tmp_path, schema, data, wfdb_dir, ecg):
    npz = write_npz(data, tmp_path / "d.npz", schema)
    assert_same_signals(read_series(npz, schema).signals, data.signals)
    signals_path, static_path = write_long(data, tmp_path / "s.parquet", tmp_path / "st.parquet", schema)
    assert_same_signals(read_series(signals_path, schema, static_path=static_path).signals, data.signals)
    with pytest.raises(DataReadError, match=r"long table '.*s.parquet' without its static table; pass static_path"):
        read_series(signals_path, schema)
    wfdb_static = write_table(static_frame([100, "rec_b"]), tmp_path / "wst.csv")
    assert list(read_series(wfdb_dir, make_schema(channels=(("ecg", "mV"),)), static_path=wfdb_static).signals) \
        == ["100", "rec_b"]
    save_ecg(ecg, tmp_path / "ecg" / "a.dcm", "p1")
    dicom = read_series(tmp_path / "ecg", ecg_schema(channels=(("ii", "uV"),)), static_path=static_path,
                        channel_map={"Lead II": "ii"})
    np.testing.assert_array_equal(dicom.signals["p1"], ecg[1][:, [1]])


@pytest.mark.parametrize("make, reason", [
    (lambda p: p / "nope", "no such file or directory"),
    (lambda p: (p / "x.txt").write_text("1") and p / "x.txt", "unsupported file extension '.txt'"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "holds no \\*.hea or \\*.dcm file"),    (lambda p: [(p / n).touch() for n in ("r.hea", "r.dcm")] and p, "both WFDB .*and DICOM"),
])
def test_read_series_unsupported_input_lists_the_supported_ones(tmp_path, schema, make, reason):
    with pytest.raises(DataReadError, match=reason) as info:
        read_series(make(tmp_path), schema)
    for supported in (".npz", ".csv", ".parquet", "*.hea", "*.dcm"):
        assert supported in str(info.value)

"""dpsynth.table_io: CSV/Parquet by extension, and clear errors instead of raw tracebacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpsynth.errors import DataReadError, DpsynthError
from dpsynth.table_io import DataWriteError, read_table, write_table, write_table_parts


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "age": [34.5, np.nan, 71.25, 18.0],
        "count": [1, 2, 3, 4],
        "race": ["white", "black", np.nan, "other"],
        "income": ["under $11k", ">$50k", "$11-$25k", "missing"],
        "label": ["yes", "no", "no", "yes"],
    })


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".pq", ".CSV"])
def test_round_trip_keeps_values_nan_and_strings(tmp_path, frame, suffix):
    path = write_table(frame, tmp_path / "sub" / f"table{suffix}")
    assert path.exists()
    back = read_table(path)
    assert list(back.columns) == list(frame.columns)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    assert back["age"].isna().tolist() == [False, True, False, False]
    assert back["race"].isna().tolist() == [False, False, True, False]
    for name in ("race", "income", "label"):
        assert all(isinstance(v, str) for v in back[name].dropna())
    assert isinstance(back["race"].iloc[2], float)  # NaN, not None, in both formats


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip_of_pandas_categoricals(tmp_path, frame, suffix):
    frame["race"] = frame["race"].astype("category")
    back = read_table(write_table(frame, tmp_path / f"t{suffix}"))
    assert back["race"].astype(object).where(back["race"].notna(), None).tolist() == \
        ["white", "black", None, "other"]


def test_csv_has_no_index_column_and_empty_cells_for_nan(tmp_path, frame):
    frame.index = [10, 11, 12, 13]
    path = write_table(frame, tmp_path / "t.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "age,count,race,income,label"
    assert lines[2].startswith(",2,black,")


@pytest.mark.parametrize("name", ["t.xlsx", "t.txt", "t", "t.csv.gz"])
def test_unsupported_extension_names_path_and_choices(tmp_path, frame, name):
    path = tmp_path / name
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataReadError, match=r"unsupported file extension") as info:
        read_table(path)
    assert str(path) in str(info.value)
    assert ".csv" in str(info.value) and ".parquet" in str(info.value)
    with pytest.raises(DataReadError, match=r"cannot write .*unsupported"):
        write_table(frame, path)


@pytest.mark.parametrize("name", ["nope.csv", "nope.parquet"])
def test_missing_file(tmp_path, name):
    with pytest.raises(DataReadError, match=r"no such file") as info:
        read_table(tmp_path / name)
    assert name in str(info.value)


def test_directory_is_refused(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataReadError, match="directory"):
        read_table(tmp_path / "dir.csv")


def test_corrupt_parquet(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"this is not parquet at all" * 10)
    with pytest.raises(DataReadError, match=r"not a valid Parquet file") as info:
        read_table(path)
    assert str(path) in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_truncated_parquet(tmp_path, frame):
    path = write_table(frame, tmp_path / "t.parquet")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataReadError, match=r"not a valid Parquet file"):
        read_table(path)


@pytest.mark.parametrize("content", [b"", b"\n\n", b"   \n"])
def test_empty_csv(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(DataReadError, match=r"empty") as info:
        read_table(path)
    assert str(path) in str(info.value)


def test_header_only_csv_refused_unless_allowed(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("a,b\n")
    with pytest.raises(DataReadError, match="no rows"):
        read_table(path)
    assert list(read_table(path, allow_empty=True).columns) == ["a", "b"]


def test_malformed_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('a,b\n1,2\n3,4,5,6\n"unterminated\n')
    with pytest.raises(DataReadError, match="not a valid CSV file"):
        read_table(path)


def test_non_utf8_csv(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("name\nJos\u00e9\n".encode("utf-16"))
    with pytest.raises(DataReadError, match="cannot read table"):
        read_table(path)


def test_write_errors_are_dpsynth_errors(tmp_path, frame):
    with pytest.raises(DataWriteError, match="DataFrame"):
        write_table([1, 2, 3], tmp_path / "t.csv")  # type: ignore[arg-type]
    bad = frame.copy()
    bad["mixed"] = [1, "a", 2.5, None]  # pyarrow cannot type a mixed column
    with pytest.raises(DpsynthError, match=r"cannot write table"):
        write_table(bad, tmp_path / "t.parquet")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DataWriteError, match=r"cannot write table"):
        write_table(frame, blocker / "t.csv")


def test_large_files_are_read_and_written_in_blocks_with_the_same_result(tmp_path, monkeypatch):
    """The progress path (counted reads, chunked CSV appends) gives the bytes and values of the plain one."""
    import dpsynth.table_io as table_io

    frame = pd.DataFrame({"id": ["007", "008"] * 5, "x": [0.1 + i / 3 for i in range(10)],
                          "c": ["a", None] * 5})
    frame.to_csv(tmp_path / "plain.csv", index=False)
    monkeypatch.setattr(table_io, "WRITE_CHUNK", 3)
    monkeypatch.setattr(table_io, "PROGRESS_BYTES", 0)
    write_table(frame, tmp_path / "chunked.csv")
    assert (tmp_path / "chunked.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()
    back = read_table(tmp_path / "chunked.csv", text_columns=("id",))
    assert back["id"].tolist() == frame["id"].tolist() and back["x"].tolist() == frame["x"].tolist()
    assert back["c"].isna().sum() == 5


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_parts_written_one_after_another_equal_the_joined_table(tmp_path, frame, suffix):
    """Sampling appends its chunks: one file with every row, in order, typed by the first part
    (a later part with an all-missing text column stays text)."""
    parts = [frame.iloc[:2], frame.iloc[2:3].assign(race=[np.nan]), frame.iloc[3:]]
    path, rows = write_table_parts(iter(parts), tmp_path / f"parts{suffix}")
    assert rows == len(frame)
    write_table(pd.concat(parts, ignore_index=True), tmp_path / f"whole{suffix}")
    pd.testing.assert_frame_equal(read_table(path), read_table(tmp_path / f"whole{suffix}"))

"""Read and write tables as CSV or Parquet, chosen by the file extension (every modality:
tabular data, series static and long tables, image manifests).

Every failure (unsupported extension, missing, empty, unreadable or corrupt file) is a
`DataReadError` / `DataWriteError` that names the path and the reason, never a raw
pandas or pyarrow traceback. CSV cells that are empty (or one of pandas' default
missing markers such as ``NA``) read as ``NaN``; text stays text; no index column is
written. Parquet goes through pyarrow (the ``parquet`` extra; a clear error names it when
missing) and keeps dtypes (including ``category``); missing
text cells read as ``NaN`` there too (not ``None``). Large CSV files show a progress bar
while they are read and written (in a terminal only: `tqdm` switches itself off otherwise).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from dpsynth.errors import DataReadError, DpsynthError
from dpsynth.optional import require

PROGRESS_BYTES = 32 << 20  # CSV files from this size show a progress bar while read
WRITE_CHUNK = 100_000  # rows per CSV append when writing; a bar above one chunk
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")
SUPPORTED_SUFFIXES = CSV_SUFFIXES + PARQUET_SUFFIXES

UNSUPPORTED_FORMAT = (
    "cannot {action} '{path}': unsupported file extension {suffix!r}; "
    "use one of " + ", ".join(SUPPORTED_SUFFIXES) + " (CSV or Parquet)"
)
READ_FAILED = "cannot read table '{path}': {reason}"
WRITE_FAILED = "cannot write table '{path}': {reason}"
EMPTY_TABLE = (
    "cannot read table '{path}': it has a header but no rows; a table to train on or "
    "audit needs at least one row"
)


class DataWriteError(DpsynthError, OSError):
    """A table could not be written."""


def table_format(path: str | os.PathLike[str], *, action: str = "read") -> Literal["csv", "parquet"]:
    """The format implied by `path`'s extension, or a `DataReadError` naming the supported ones."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    raise DataReadError(UNSUPPORTED_FORMAT.format(action=action, path=path, suffix=suffix or "(none)"))


def _require_arrow(action: str) -> None:
    """Parquet goes through pyarrow (the ``parquet`` extra): a clear error when it is missing."""
    require("pyarrow", extra="parquet", purpose=f"{action} Parquet")


def _arrow_errors() -> tuple[type[BaseException], ...]:
    """pyarrow's exception type, if pyarrow has been imported (nothing else can raise it)."""
    error = getattr(sys.modules.get("pyarrow"), "ArrowException", None)
    return (error,) if error is not None else ()


def _read_errors() -> tuple[type[BaseException], ...]:
    return (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError, *_arrow_errors())


def _check_readable(path: Path, fmt: str) -> int:
    """The file's size; a `DataReadError` for a missing, empty or unreadable path."""
    if fmt == "parquet":
        _require_arrow("reading")
    if not path.exists():
        raise DataReadError(READ_FAILED.format(path=path, reason="no such file"))
    if path.is_dir():
        raise DataReadError(READ_FAILED.format(path=path, reason="it is a directory, not a file"))
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DataReadError(READ_FAILED.format(path=path, reason=exc.strerror or str(exc))) from None
    if size == 0:
        raise DataReadError(READ_FAILED.format(path=path, reason="the file is empty (0 bytes)"))
    return size


def _read_failed(path: Path, fmt: str, exc: BaseException) -> DataReadError:
    """The one-line error for an exception pandas or pyarrow raised while reading ``path``."""
    if isinstance(exc, pd.errors.EmptyDataError):
        return DataReadError(READ_FAILED.format(path=path, reason="the file has no columns (empty CSV)"))
    if isinstance(exc, UnicodeDecodeError):
        return DataReadError(READ_FAILED.format(path=path, reason="it is not UTF-8 encoded text"))
    kind = "CSV" if fmt == "csv" else "Parquet"
    reason = f"not a valid {kind} file ({type(exc).__name__}: {_one_line(exc)})"
    if isinstance(exc, OSError) and not _is_arrow_error(exc):
        reason = exc.strerror or _one_line(exc)
    return DataReadError(READ_FAILED.format(path=path, reason=reason))


def iter_table(path: str | os.PathLike[str], *, chunk_rows: int, columns: Sequence[str] | None = None,
               text_columns: tuple[str, ...] = ()) -> Iterator[pd.DataFrame]:
    """The rows of a CSV or Parquet file, ``chunk_rows`` at a time (only ``columns``, if given),
    parsed as `read_table` parses them: the whole table is never in memory at once. A table
    with no rows is refused, as by `read_table`."""
    path = Path(path)
    fmt = table_format(path, action="read")
    _check_readable(path, fmt)
    rows = 0
    try:
        if fmt == "csv":
            chunks = pd.read_csv(path, chunksize=chunk_rows, usecols=columns, keep_default_na=True,
                                 low_memory=False, encoding="utf-8", float_precision="round_trip",
                                 dtype={c: str for c in text_columns} or None)
        else:
            import pyarrow.parquet as pq

            batches = pq.ParquetFile(path).iter_batches(batch_size=chunk_rows, columns=columns)
            chunks = (batch.to_pandas() for batch in batches)
        for chunk in chunks:
            rows += len(chunk)
            yield _missing_as_nan(chunk.reset_index(drop=True).set_axis(range(rows - len(chunk), rows)))
    except (pd.errors.EmptyDataError, UnicodeDecodeError, *_read_errors()) as exc:
        raise _read_failed(path, fmt, exc) from None
    if rows == 0:
        raise DataReadError(EMPTY_TABLE.format(path=path))


def read_table(path: str | os.PathLike[str], *, allow_empty: bool = False,
               text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV (``.csv``) or Parquet (``.parquet``, ``.pq``) file into a DataFrame.

    A table with a header but no rows is refused unless ``allow_empty=True``. CSV floats
    are parsed exactly (a written table reads back bit for bit); ``text_columns`` are read
    as text from CSV (identifiers such as ``007`` keep their leading zeros).
    """
    path = Path(path)
    fmt = table_format(path, action="read")
    size = _check_readable(path, fmt)
    try:
        if fmt == "csv":
            with open(path, "rb") as handle, tqdm(total=size, unit="B", unit_scale=True, desc=f"read {path.name}",
                                                  disable=None if size >= PROGRESS_BYTES else True,
                                                  leave=False) as bar:
                frame = pd.read_csv(_Counted(handle, bar), keep_default_na=True, low_memory=False,
                                    encoding="utf-8", float_precision="round_trip",
                                    dtype={c: str for c in text_columns} or None)
        else:
            frame = pd.read_parquet(path, engine="pyarrow")
    except (pd.errors.EmptyDataError, UnicodeDecodeError, *_read_errors()) as exc:
        raise _read_failed(path, fmt, exc) from None
    if len(frame) == 0 and not allow_empty:
        raise DataReadError(EMPTY_TABLE.format(path=path))
    return _missing_as_nan(frame)


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write `frame` as CSV or Parquet (by extension), without its index; returns the path.

    Parent folders are created. CSV writes missing values as empty cells.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataWriteError(WRITE_FAILED.format(
            path=path, reason=f"expected a pandas DataFrame, got {type(frame).__name__}"))
    starts = range(0, max(len(frame), 1), WRITE_CHUNK)  # the same text as one to_csv call
    parts = (frame.iloc[start:start + WRITE_CHUNK] for start in starts)
    return write_table_parts(parts, path, bar=len(starts) > 1)[0]


def write_table_parts(parts: Iterable[pd.DataFrame], path: str | os.PathLike[str], *,
                      bar: bool = True) -> tuple[Path, int]:
    """Write the tables of ``parts`` (same columns) one after another as one CSV or Parquet file
    (a Parquet row group each), holding one part in memory at a time; returns the path and the
    number of rows written. ``bar``: a progress bar over the parts."""
    path = Path(path)
    fmt = table_format(path, action="write")
    if fmt == "parquet":
        _require_arrow("writing")
    rows = 0
    writer = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for i, part in enumerate(tqdm(parts, desc=f"write {path.name}", unit="chunk", leave=False,
                                      disable=None if bar else True)):
            if fmt == "csv":
                part.to_csv(path, index=False, mode="w" if i == 0 else "a", header=i == 0)
            else:
                import pyarrow as pa
                import pyarrow.parquet as pq

                if writer is None:
                    table = pa.Table.from_pandas(part, preserve_index=False)
                    writer = pq.ParquetWriter(path, table.schema)
                else:  # later parts take the first one's column types
                    table = pa.Table.from_pandas(part, schema=writer.schema, preserve_index=False)
                writer.write_table(table)
            rows += len(part)
    except _read_errors() as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _one_line(exc)
        raise DataWriteError(WRITE_FAILED.format(path=path, reason=reason)) from None
    finally:
        if writer is not None:
            writer.close()
    return path, rows


class _Counted:
    """A binary file whose reads advance a progress bar (pandas reads it block by block)."""

    def __init__(self, handle: Any, bar: Any):
        self._handle, self._bar = handle, bar

    def read(self, size: int = -1) -> bytes:
        block = self._handle.read(size)
        self._bar.update(len(block))
        return block

    def __iter__(self):
        return iter(self._handle)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def _missing_as_nan(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing text cells as ``NaN`` (pyarrow gives ``None``), as in a CSV read."""
    for name in frame.columns:
        series = frame[name]
        if series.dtype == object and series.isna().any():
            frame[name] = series.astype(object).where(series.notna(), np.nan)
    return frame


def _is_arrow_error(exc: BaseException) -> bool:
    return isinstance(exc, _arrow_errors())


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")

"""Long tables (CSV or Parquet, one row per subject and time point): read and write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dpsynth.errors import DataReadError, SchemaError
from dpsynth.table_io import DataWriteError, read_table, write_table
from dpsynth.schema import canonical_category
from dpsynth.series.formats.common import WRITE_FAILED, PathLike, read_static, signal_to_write
from dpsynth.series.schema import SeriesData, SeriesSchema

#: A time may be off the sampling grid by this fraction of a sample period (float noise).
GRID_TOLERANCE = 0.01

# ------------------------------------------------------------------ messages
LONG_MISSING_COLUMNS = (
    "long table '{path}' is missing column(s) {columns!r}; it needs the subject id '{subject_id}', the time "
    "column '{time}' (seconds) and one column per schema channel {channels!r}. Add them, rename the "
    "columns, or pass time_column= if the time column has another name"
)
LONG_EXTRA_COLUMNS = (
    "long table '{path}' has column(s) {columns!r} that are neither the subject id, the time nor a schema "
    "channel; drop them (static columns belong in the static table) or add the channels to the schema"
)
LONG_MISSING_IDS = (
    "long table '{path}': column '{column}' has {count} missing subject id(s) (e.g. row {row}); every row "
    "needs the subject it belongs to"
)
NOT_NUMBERS = (
    "{source}: column '{column}' must hold numbers{what} but holds {examples!r}; fix those cells{fix}"
)
TIME_MISSING = (
    "long table '{path}': the time column '{column}' is empty on {count} row(s) (e.g. row {row}); every "
    "row needs its time in seconds"
)
OFF_GRID = (
    "long table '{path}', subject {subject!r}: time {time!r} s is not on the {rate:g} Hz sampling grid that "
    "starts at {start!r} s (off by {off:.3g} of a sample period); resample the signal to the schema's "
    "sampling_rate, or fix sampling_rate in the schema if it is wrong"
)
DUPLICATE_TIME = (
    "long table '{path}', subject {subject!r}: two rows fall on the same sample at time {time!r} s "
    "({rate:g} Hz); keep one row per subject and time point"
)


def read_long(signals_path: PathLike, static_path: PathLike, schema: SeriesSchema, *,
              time_column: str = "time") -> SeriesData:
    """Read a long table (one row per subject and time point) and its static table.

    Each subject's rows are sorted by time and placed on the schema's sampling grid,
    sample ``round((t - t_first) * sampling_rate)``; samples with no row (gaps) and
    empty cells are NaN. Times off the grid or two rows on one sample raise, since
    guessing which value to keep would silently change the data.
    """
    path = Path(signals_path)
    frame = _read_long_table(path, schema)
    _check_long_columns(frame, path, schema, time_column)
    ids = _long_subject_ids(frame[schema.subject_id], path)
    times = _long_times(frame[time_column], path)
    values = np.column_stack([_numbers(frame[c], f"long table '{path}'", c, " (NaN or empty = missing sample)")
                              for c in schema.channel_names])
    signals = {}
    for subject, rows in pd.Series(np.arange(len(frame))).groupby(ids, sort=False):
        rows = rows.to_numpy()
        signals[subject] = _on_grid(times[rows], values[rows], path, subject, schema.sampling_rate)
    return SeriesData(read_static(static_path, schema), signals)


def write_long(data: SeriesData, signals_path: PathLike, static_path: PathLike, schema: SeriesSchema, *,
               time_column: str = "time") -> tuple[Path, Path]:
    """Write ``data`` as a long table (time = sample index / sampling_rate) and a static table.

    Missing samples are written as empty (CSV) or null (Parquet) cells on their own rows,
    so `read_long` gives back the same signals, gaps and trailing NaN included.
    """
    path = Path(signals_path)
    reserved = set(schema.channel_names) | {schema.subject_id}
    if time_column in reserved:
        raise DataWriteError(WRITE_FAILED.format(
            path=path, reason=f"time_column '{time_column}' is also a channel or the subject id; pick another"))
    ids, times, blocks = [], [], []
    for subject, raw in data.signals.items():
        signal = signal_to_write(raw, path, subject, schema)
        if len(signal) == 0:
            raise DataWriteError(WRITE_FAILED.format(
                path=path, reason=f"signal of subject {subject!r} is empty; a long table cannot hold it"))
        ids.extend([canonical_category(subject)] * len(signal))
        times.append(np.arange(len(signal)) / schema.sampling_rate)
        blocks.append(signal)
    n_channels = len(schema.channels)
    matrix = np.vstack(blocks) if blocks else np.empty((0, n_channels))
    frame = pd.DataFrame({schema.subject_id: pd.Series(ids, dtype=object),
                          time_column: np.concatenate(times) if times else np.empty(0)})
    for j, name in enumerate(schema.channel_names):
        frame[name] = matrix[:, j]
    return write_table(frame, path), write_table(data.static, static_path)


def _read_long_table(path: Path, schema: SeriesSchema) -> pd.DataFrame:
    """The long table (exact CSV floats, subject ids as text)."""
    return read_table(path, text_columns=(schema.subject_id,))


def _check_long_columns(frame: pd.DataFrame, path: Path, schema: SeriesSchema, time_column: str) -> None:
    expected = [schema.subject_id, time_column, *schema.channel_names]
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise SchemaError(LONG_MISSING_COLUMNS.format(path=path, columns=missing, subject_id=schema.subject_id,
                                                      time=time_column, channels=schema.channel_names))
    extra = [str(c) for c in frame.columns if c not in expected]
    if extra:
        raise SchemaError(LONG_EXTRA_COLUMNS.format(path=path, columns=extra))


def _long_subject_ids(column: pd.Series, path: Path) -> np.ndarray:
    missing = np.flatnonzero(column.isna().to_numpy())
    if missing.size:
        raise DataReadError(LONG_MISSING_IDS.format(path=path, column=column.name, count=missing.size,
                                                    row=int(missing[0])))
    return np.asarray([canonical_category(v) for v in column], dtype=object)


def _long_times(column: pd.Series, path: Path) -> np.ndarray:
    fix = "; give times as seconds from any origin (convert timestamps to seconds first)"
    if pd.api.types.is_datetime64_any_dtype(column) or pd.api.types.is_timedelta64_dtype(column):
        raise DataReadError(NOT_NUMBERS.format(source=f"long table '{path}'", column=column.name,
                                               what=" (seconds)", examples=column.head(1).astype(str).tolist(),
                                               fix=fix))
    times = _numbers(column, f"long table '{path}'", column.name, " (seconds)", fix)
    missing = np.flatnonzero(~np.isfinite(times))
    if missing.size:
        raise DataReadError(TIME_MISSING.format(path=path, column=column.name, count=missing.size,
                                                row=int(missing[0])))
    return times


def _numbers(column: pd.Series, source: str, name: Any, what: str = "", fix: str = "") -> np.ndarray:
    """``column`` as float64; cells that are present but not numbers raise, naming examples."""
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    numbers = pd.to_numeric(column, errors="coerce")
    bad = column[numbers.isna() & column.notna()]
    if len(bad):
        raise DataReadError(NOT_NUMBERS.format(source=source, column=name, what=what,
                                               examples=bad.unique()[:3].tolist(), fix=fix))
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def _on_grid(times: np.ndarray, values: np.ndarray, path: Path, subject: str, rate: float) -> np.ndarray:
    """One subject's rows placed on the sampling grid: [time, channels], NaN where no row."""
    order = np.argsort(times, kind="stable")
    times, values = times[order], values[order]
    steps = (times - times[0]) * rate
    index = np.rint(steps).astype(np.int64)
    off = np.abs(steps - index)
    if (off > GRID_TOLERANCE).any():
        k = int(np.argmax(off > GRID_TOLERANCE))
        raise DataReadError(OFF_GRID.format(path=path, subject=subject, time=float(times[k]), rate=rate,
                                            start=float(times[0]), off=float(off[k])))
    same = np.flatnonzero(index[1:] == index[:-1])
    if same.size:
        raise DataReadError(DUPLICATE_TIME.format(path=path, subject=subject, time=float(times[same[0] + 1]),
                                                  rate=rate))
    signal = np.full((int(index[-1]) + 1, values.shape[1]), np.nan)
    signal[index] = values
    return signal

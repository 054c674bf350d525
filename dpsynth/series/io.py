"""Read and write time-series data in the formats hospitals have: long tables, NumPy
archives, PhysioNet WFDB records and DICOM waveforms.

Every reader returns a `SeriesData`: the static table (subject id column plus static
columns) and one float signal ``[time, channels]`` per subject, in the schema's channel
order, keyed by the subject id as a string (`canonical_category`, so ``7`` and ``7.0``
and ``"7"`` are one subject). Readers only *assemble*: bounds, units of the static
columns and the match between static rows and signals are checked later by
`SeriesSchema.conform`. A missing sample is always NaN, never filled.

Failures are a `DataReadError` (the file cannot be read or is malformed) or a
`SchemaError` (the file is fine but does not carry what the schema declares: channels,
sampling rate, units, static columns); each message names the file, the column, channel
or subject at fault and the fix, never a raw pandas, NumPy, wfdb or pydicom traceback.

Formats:

* **long table** (CSV or Parquet): one row per subject and time point, columns
  ``<subject_id>``, ``time`` (seconds) and one column per channel; static table apart.
* **npz**: ``signals`` ``[subjects, time, channels]`` NaN-padded, ``<subject_id>``, and
  the static columns as 1-D arrays (or a static table apart). Text is stored as unicode
  arrays, never pickled; an empty string is a missing value (as an empty CSV cell).
* **WFDB**: a directory of records (``*.hea`` + signal files), one subject per record,
  the record name being the subject id. Multi-segment records are read whole; their
  segments are not subjects of their own.
* **DICOM waveforms**: a directory of ``*.dcm`` files, one subject per file, the
  PatientID being the subject id; the first multiplex group is read.
"""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from dpsynth.errors import DataReadError, SchemaError
from dpsynth.io import SUPPORTED_SUFFIXES, DataWriteError, read_table, write_table
from dpsynth.schema import canonical_category
from dpsynth.series.schema import SeriesData, SeriesSchema

PathLike = str | os.PathLike[str]

#: A time may be off the sampling grid by this fraction of a sample period (float noise).
GRID_TOLERANCE = 0.01
#: The npz key holding the signals; no static column may use it.
SIGNALS_KEY = "signals"

# ------------------------------------------------------------------ messages
STATIC_NO_ID = (
    "static table '{path}' has no subject id column '{column}' (columns: {found!r}); add it or set "
    "'subject_id' in the schema to the column that names each subject"
)
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
NPZ_UNREADABLE = "cannot read npz file '{path}': {reason}"
NPZ_PICKLED = (
    "npz file '{path}': key '{key}' holds Python objects, which only pickle can load (refused: unsafe); "
    "save text as unicode arrays, e.g. np.asarray(values, dtype=str)"
)
NPZ_MISSING_KEY = "npz file '{path}' has no key '{key}' ({what}); keys found: {found!r}"
NPZ_SIGNALS_NDIM = (
    "npz file '{path}': 'signals' has shape {shape}; expected [subjects, time, channels]{one}"
)
NPZ_SIGNALS_NOT_NUMERIC = "npz file '{path}': 'signals' has dtype {dtype}; it must hold numbers (NaN = missing)"
NPZ_CHANNEL_COUNT = (
    "npz file '{path}': 'signals' has {found} channel(s) (last axis) but the schema declares {expected}: "
    "{names!r}; store the channels in the schema's order, or fix the schema"
)
NPZ_LENGTH = (
    "npz file '{path}': key '{key}' has shape {shape}; expected a 1-D array with one entry per subject "
    "({n} subjects in 'signals')"
)
NPZ_MISSING_STATIC = (
    "npz file '{path}' has no array for static column(s) {columns!r}; add them as 1-D arrays (one entry "
    "per subject) or pass static_path= to read the static table from a CSV/Parquet file"
)
MISSING_IDS = "{source}: the subject id '{column}' is missing for {count} subject(s); every subject needs an id"
DUPLICATE_IDS = (
    "{source}: subject id(s) {examples!r} name more than one signal; a subject has one signal (give each "
    "subject a distinct id, or join its pieces into one signal first)"
)
NOT_A_DIRECTORY = "cannot read {what} from '{path}': {reason}"
NO_FILES = "cannot read {what} from '{path}': it holds no {pattern} file"
RECORD_UNREADABLE = "cannot read {what} '{path}': {reason}"
RATE_MISMATCH = (
    "{source} is sampled at {found:g} Hz but the schema's sampling_rate is {expected:g} Hz; resample the "
    "signal to {expected:g} Hz before loading (or fix sampling_rate in the schema)"
)
MISSING_CHANNELS = (
    "{source} has no channel(s) {missing!r} that the schema declares; channels found: {found!r}. "
    "Rename the channels in the schema{hint}"
)
AMBIGUOUS_CHANNEL = "{source}: channel '{channel}' matches {count} channels of the file ({found!r}); keep one"
UNIT_UNKNOWN = (
    "{source}: channel '{channel}' states no unit, so it cannot be checked against the schema's "
    "'{expected}'; once you have confirmed its values are in '{expected}', clear the channel's unit in the "
    "schema (unit: '') to skip this check"
)
UNIT_MISMATCH = (
    "{source}: channel '{channel}' is in '{found}' but the schema says '{expected}'; convert the signal or "
    "set the channel's unit (and its bounds) in the schema to '{found}'"
)
BAD_CHANNEL_MAP = (
    "channel_map maps {label!r} to {name!r}, which is not a schema channel; use one of {channels!r}"
)
NO_PATIENT_ID = (
    "DICOM file '{path}' has no PatientID; it names the subject. Set PatientID (the id of the subject in "
    "the static table) in each file"
)
DUPLICATE_PATIENT = (
    "DICOM files '{first}' and '{second}' have the same PatientID {subject!r}; a subject has one "
    "waveform file (join its recordings into one file, or fix the PatientID)"
)
NOT_A_WAVEFORM = "DICOM file '{path}' holds no waveform (no Waveform Sequence); keep only waveform files there"
LABEL_COUNT = (
    "DICOM file '{path}': {labels} channel definition(s) for {columns} channel(s) of data; the file is "
    "inconsistent"
)
NEEDS_STATIC = (
    "cannot read {what} '{path}' without its static table; pass static_path= (a CSV or Parquet file with "
    "the subject id '{subject_id}' and the static columns)"
)
UNSUPPORTED_SERIES = (
    "cannot read series from '{path}': {reason}. Supported: a .npz file; a long table ("
    + ", ".join(SUPPORTED_SUFFIXES)
    + ") with a static table; a directory of WFDB records (*.hea); a directory of DICOM waveforms (*.dcm)"
)
WRITE_BAD_SIGNAL = (
    "cannot write '{path}': signal of subject {subject!r} has shape {shape}; expected (time, {channels}) "
    "for channels {names!r}"
)
WRITE_FAILED = "cannot write '{path}': {reason}"


# ======================================================================= long
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
    return SeriesData(_read_static(static_path, schema), signals)


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
        signal = _signal_to_write(raw, path, subject, schema)
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


# ======================================================================== npz
def read_npz(path: PathLike, schema: SeriesSchema, *, static_path: PathLike | None = None) -> SeriesData:
    """Read an ``.npz`` archive: ``signals`` [N, T, C] (or [N, T] for one channel), the subject ids
    under the schema's subject id, and the static columns (or a static table at ``static_path``).

    Each subject's trailing all-NaN rows are padding and are dropped; NaN inside a signal
    is a missing sample and stays. Loaded with ``allow_pickle=False``: an archive that
    needs pickle could run code, so it is refused.
    """
    path = Path(path)
    arrays = _load_npz(path)
    signals = _npz_signals(arrays, path, schema)
    ids = _npz_ids(arrays, path, schema, len(signals))
    if static_path is not None:
        static = _read_static(static_path, schema)
    else:
        static = _npz_static(arrays, path, schema, ids)
    return SeriesData(static, {s: _trim_padding(x) for s, x in zip(ids, signals)})


def write_npz(data: SeriesData, path: PathLike, schema: SeriesSchema) -> Path:
    """Write ``data`` as an ``.npz`` archive that `read_npz` reads back (no pickle needed).

    Subjects follow the static table's order; signals are NaN-padded to the longest.
    Numeric static columns keep their dtype (float when they have missing values); other
    columns are saved as unicode text, a missing value as an empty string.
    """
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise DataWriteError(WRITE_FAILED.format(path=path, reason="the file name must end in .npz"))
    ids = _ids_to_write(data, path, schema)
    signals = {canonical_category(k): v for k, v in data.signals.items()}
    stacked = [_signal_to_write(signals[s], path, s, schema) for s in ids]
    padded = np.full((len(ids), max((len(x) for x in stacked), default=0), len(schema.channels)), np.nan)
    for i, signal in enumerate(stacked):
        padded[i, :len(signal)] = signal
    arrays = {SIGNALS_KEY: padded, schema.subject_id: np.asarray(ids, dtype=str).reshape(-1)}
    for name in data.static.columns:
        if name == schema.subject_id:
            continue
        if str(name) in arrays:
            raise DataWriteError(WRITE_FAILED.format(
                path=path, reason=f"static column '{name}' clashes with the npz key '{name}'; rename it"))
        arrays[str(name)] = _column_array(data.static[name])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    except OSError as exc:
        raise DataWriteError(WRITE_FAILED.format(path=path, reason=exc.strerror or exc)) from None
    return path


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of the archive, loaded without pickle; clear errors otherwise."""
    if not path.is_file():
        reason = "it is a directory, not a file" if path.is_dir() else "no such file"
        raise DataReadError(NPZ_UNREADABLE.format(path=path, reason=reason))
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        reason = f"not a NumPy .npz archive ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
        raise DataReadError(NPZ_UNREADABLE.format(path=path, reason=reason)) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataReadError(NPZ_UNREADABLE.format(
            path=path, reason="it is a single .npy array, not an .npz archive (save with np.savez)"))
    with archive:
        arrays = {}
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except ValueError:
                raise DataReadError(NPZ_PICKLED.format(path=path, key=key)) from None
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                reason = f"key '{key}' is corrupt ({type(exc).__name__})"
                raise DataReadError(NPZ_UNREADABLE.format(path=path, reason=reason)) from None
    return arrays


def _npz_signals(arrays: dict[str, np.ndarray], path: Path, schema: SeriesSchema) -> np.ndarray:
    if SIGNALS_KEY not in arrays:
        raise DataReadError(NPZ_MISSING_KEY.format(path=path, key=SIGNALS_KEY, what="[subjects, time, channels]",
                                                   found=sorted(arrays)))
    signals = arrays[SIGNALS_KEY]
    n_channels = len(schema.channels)
    if signals.ndim == 2 and n_channels == 1:
        signals = signals[:, :, None]
    if signals.ndim != 3:
        one = ", or [subjects, time] for a one-channel schema"
        raise DataReadError(NPZ_SIGNALS_NDIM.format(path=path, shape=signals.shape, one=one))
    if not (np.issubdtype(signals.dtype, np.number) or signals.dtype == bool):
        raise DataReadError(NPZ_SIGNALS_NOT_NUMERIC.format(path=path, dtype=signals.dtype))
    if signals.shape[2] != n_channels:
        raise SchemaError(NPZ_CHANNEL_COUNT.format(path=path, found=signals.shape[2], expected=n_channels,
                                                   names=schema.channel_names))
    return signals.astype(np.float64)


def _npz_ids(arrays: dict[str, np.ndarray], path: Path, schema: SeriesSchema, n: int) -> list[str]:
    key = schema.subject_id
    if key not in arrays:
        raise DataReadError(NPZ_MISSING_KEY.format(path=path, key=key, what="the subject ids, the schema's "
                                                   "subject_id", found=sorted(arrays)))
    ids = [canonical_category(v) for v in _npz_column(arrays, key, path, n)]
    source = f"npz file '{path}'"
    missing = sum(1 for v in ids if not isinstance(v, str))
    if missing:
        raise DataReadError(MISSING_IDS.format(source=source, column=key, count=missing))
    _check_unique(ids, source)
    return ids


def _npz_static(arrays: dict[str, np.ndarray], path: Path, schema: SeriesSchema, ids: list[str]) -> pd.DataFrame:
    names = schema.static.names
    missing = [c for c in names if c not in arrays]
    if missing:
        raise SchemaError(NPZ_MISSING_STATIC.format(path=path, columns=missing))
    static = pd.DataFrame({schema.subject_id: pd.Series(ids, dtype=object)})
    for name in names:
        static[name] = _npz_column(arrays, name, path, len(ids))
    return static


def _npz_column(arrays: dict[str, np.ndarray], key: str, path: Path, n: int) -> np.ndarray:
    """A 1-D per-subject array; unicode text becomes object, an empty string NaN."""
    column = arrays[key]
    if column.ndim != 1 or len(column) != n:
        raise DataReadError(NPZ_LENGTH.format(path=path, key=key, shape=column.shape, n=n))
    if column.dtype.kind in "US":
        text = column.astype(str).astype(object)
        text[text == ""] = np.nan
        return text
    return column


def _column_array(column: pd.Series) -> np.ndarray:
    """A static column as an array that np.savez stores without pickle."""
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        if column.isna().any():
            return column.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.asarray(column.tolist())
    return np.asarray(["" if pd.isna(v) else str(v) for v in column], dtype=str).reshape(-1)


def _trim_padding(signal: np.ndarray) -> np.ndarray:
    observed = np.flatnonzero(~np.isnan(signal).all(axis=1))
    return signal[:observed[-1] + 1] if observed.size else signal[:0]


def _ids_to_write(data: SeriesData, path: Path, schema: SeriesSchema) -> list[str]:
    """The static table's subject ids, which must match the signals one to one."""
    column = schema.subject_id
    if column not in data.static.columns:
        raise DataWriteError(WRITE_FAILED.format(path=path, reason=f"the static table has no subject id "
                                                 f"column '{column}'"))
    ids = [canonical_category(v) for v in data.static[column]]
    if any(not isinstance(v, str) for v in ids):
        raise DataWriteError(WRITE_FAILED.format(path=path, reason=f"subject id column '{column}' has "
                                                 "missing values"))
    duplicated = sorted({s for s in ids if ids.count(s) > 1})
    signal_ids = {canonical_category(k) for k in data.signals}
    unmatched = sorted(set(ids) ^ signal_ids)
    if duplicated or unmatched:
        problem = (f"subject id(s) {duplicated[:3]!r} repeat in the static table" if duplicated
                   else f"subject(s) {unmatched[:3]!r} have a static row or a signal but not both")
        raise DataWriteError(WRITE_FAILED.format(
            path=path, reason=f"{problem}; an npz holds one static row per signal (run schema.conform first)"))
    return ids


# ======================================================================= WFDB
def read_wfdb(directory: PathLike, static_path: PathLike, schema: SeriesSchema, *,
              channel_map: dict[str, str] | None = None) -> SeriesData:
    """Read every WFDB record in ``directory`` (one subject per record, id = record name).

    Signals are read in physical units (``p_signal``; invalid samples are NaN). Channels
    are found by ``sig_name`` (or through ``channel_map`` {sig_name: schema channel});
    channels the schema does not declare are ignored. The record's ``fs`` must be the
    schema's sampling rate and, where the schema gives a unit, the record's unit must be
    the same: a silent mismatch would make the public bounds wrong.
    """
    import wfdb

    directory = _existing_directory(directory, "WFDB records")
    _check_channel_map(channel_map, schema)
    signals = {}
    for name in _wfdb_record_names(directory):
        record = _wfdb_call(wfdb.rdrecord, directory / name)
        source = f"WFDB record '{directory / name}'"
        _check_rate(record.fs, schema, source)
        columns = _match_channels(list(record.sig_name or []), schema, source, channel_map)
        _check_units(list(record.units or []), columns, schema, source)
        if record.p_signal is None:
            raise DataReadError(RECORD_UNREADABLE.format(what="WFDB record", path=directory / name,
                                                         reason="it has no physical signal"))
        signals[name] = np.asarray(record.p_signal[:, columns], dtype=np.float64)
    return SeriesData(_read_static(static_path, schema), signals)


def _wfdb_record_names(directory: Path) -> list[str]:
    """Record names of the ``*.hea`` files, less the segments of multi-segment records."""
    import wfdb

    headers = sorted(p for p in directory.glob("*.hea") if p.is_file())
    if not headers:
        raise DataReadError(NO_FILES.format(what="WFDB records", path=directory, pattern="*.hea"))
    segments = set()
    for header in headers:
        record = _wfdb_call(wfdb.rdheader, header.with_suffix(""))
        if isinstance(record, wfdb.MultiRecord):
            segments.update(s for s in record.seg_name if s != "~")
    return [h.stem for h in headers if h.stem not in segments]


def _wfdb_call(function: Any, record: Path) -> Any:
    """Call a wfdb reader on ``record``; any wfdb failure becomes a DataReadError naming it.

    wfdb raises many unrelated exception types for malformed files, hence the broad catch.
    """
    try:
        return function(str(record))
    except Exception as exc:  # noqa: BLE001 - third-party parser, see docstring
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        raise DataReadError(RECORD_UNREADABLE.format(what="WFDB record", path=record, reason=reason)) from None


# ====================================================================== DICOM
def read_dicom_waveforms(directory: PathLike, static_path: PathLike, schema: SeriesSchema, *,
                         channel_map: dict[str, str] | None = None) -> SeriesData:
    """Read every ``*.dcm`` waveform file in ``directory`` (one subject per file, id = PatientID).

    The first multiplex group is read in physical units; samples equal to the group's
    Waveform Padding Value are NaN. Channels are matched by the Channel Source code
    meaning (e.g. ``"Lead II"``), directly or through ``channel_map`` {label: schema
    channel}; other channels are ignored. The group's sampling frequency and, where the
    schema gives one, each channel's unit must match the schema.
    """
    directory = _existing_directory(directory, "DICOM waveforms")
    _check_channel_map(channel_map, schema)
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() == ".dcm")
    if not files:
        raise DataReadError(NO_FILES.format(what="DICOM waveforms", path=directory, pattern="*.dcm"))
    signals: dict[str, np.ndarray] = {}
    sources: dict[str, Path] = {}
    for file in files:
        dataset = _read_dicom(file)
        subject = str(dataset.get("PatientID", "") or "").strip()
        if not subject:
            raise DataReadError(NO_PATIENT_ID.format(path=file))
        if subject in sources:
            raise DataReadError(DUPLICATE_PATIENT.format(first=sources[subject], second=file, subject=subject))
        sources[subject] = file
        signals[subject] = _dicom_signal(dataset, file, schema, channel_map)
    return SeriesData(_read_static(static_path, schema), signals)


def _read_dicom(file: Path) -> Any:
    import pydicom

    try:
        return pydicom.dcmread(file)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for bad files
        reason = f"not a readable DICOM file ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
        raise DataReadError(RECORD_UNREADABLE.format(what="DICOM file", path=file, reason=reason)) from None


def _dicom_signal(dataset: Any, file: Path, schema: SeriesSchema, channel_map: dict[str, str] | None) -> np.ndarray:
    if not dataset.get("WaveformSequence"):
        raise DataReadError(NOT_A_WAVEFORM.format(path=file))
    group = dataset.WaveformSequence[0]
    source = f"DICOM file '{file}'"
    _check_rate(group.get("SamplingFrequency"), schema, source)
    definitions = list(group.get("ChannelDefinitionSequence", []))
    columns = _match_channels([_dicom_label(d) for d in definitions], schema, source, channel_map)
    _check_units([_dicom_unit(d) for d in definitions], columns, schema, source)
    try:
        array = np.asarray(dataset.waveform_array(0), dtype=np.float64)
        array = _mask_dicom_padding(dataset, group, array)
    except Exception as exc:  # noqa: BLE001 - pydicom decoding errors vary
        reason = f"cannot decode the waveform ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
        raise DataReadError(RECORD_UNREADABLE.format(what="DICOM file", path=file, reason=reason)) from None
    if array.ndim != 2 or array.shape[1] != len(definitions):
        raise DataReadError(LABEL_COUNT.format(path=file, labels=len(definitions), columns=array.shape[-1]))
    return array[:, columns]


def _dicom_label(definition: Any) -> str:
    """A channel's label: its Channel Source code meaning, else its Channel Label."""
    sources = definition.get("ChannelSourceSequence")
    if sources and sources[0].get("CodeMeaning"):
        return str(sources[0].CodeMeaning)
    return str(definition.get("ChannelLabel", ""))


def _dicom_unit(definition: Any) -> str:
    units = definition.get("ChannelSensitivityUnitsSequence")
    return str(units[0].get("CodeValue", "")) if units else ""


def _mask_dicom_padding(dataset: Any, group: Any, array: np.ndarray) -> np.ndarray:
    """NaN where the raw sample equals the group's Waveform Padding Value (a missing sample)."""
    padding = group.get("WaveformPaddingValue")
    if not padding:
        return array
    from pydicom.waveforms import multiplex_array

    raw = multiplex_array(dataset, 0, as_raw=True)
    value = np.frombuffer(bytes(padding)[:raw.dtype.itemsize], dtype=raw.dtype)
    if value.size:
        array[raw == value[0]] = np.nan
    return array


# ===================================================================== shared
def read_series(path: PathLike, schema: SeriesSchema, *, static_path: PathLike | None = None,
                channel_map: dict[str, str] | None = None, time_column: str = "time") -> SeriesData:
    """Read series data from whatever ``path`` is: an ``.npz`` file, a long CSV/Parquet table,
    a directory of WFDB records or a directory of DICOM waveforms.

    Every input but ``.npz`` (which may hold its static columns) needs ``static_path``.
    ``channel_map`` applies to WFDB and DICOM, ``time_column`` to long tables.
    """
    path = Path(path)
    if not path.exists():
        raise DataReadError(UNSUPPORTED_SERIES.format(path=path, reason="no such file or directory"))
    if path.is_dir():
        return _read_series_directory(path, schema, static_path, channel_map)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return read_npz(path, schema, static_path=static_path)
    if suffix in SUPPORTED_SUFFIXES:
        static_path = _need_static(static_path, path, "long table", schema)
        return read_long(path, static_path, schema, time_column=time_column)
    reason = f"unsupported file extension {suffix or '(none)'!r}"
    raise DataReadError(UNSUPPORTED_SERIES.format(path=path, reason=reason))


def _read_series_directory(path: Path, schema: SeriesSchema, static_path: PathLike | None,
                           channel_map: dict[str, str] | None) -> SeriesData:
    """A directory holds WFDB records or DICOM waveforms, never both (which would be ambiguous)."""
    has_wfdb = any(path.glob("*.hea"))
    has_dicom = any(p.suffix.lower() == ".dcm" for p in path.iterdir())
    if has_wfdb and has_dicom:
        reason = "the directory holds both WFDB (*.hea) and DICOM (*.dcm) files; keep one kind"
        raise DataReadError(UNSUPPORTED_SERIES.format(path=path, reason=reason))
    if has_wfdb:
        static_path = _need_static(static_path, path, "WFDB records", schema)
        return read_wfdb(path, static_path, schema, channel_map=channel_map)
    if has_dicom:
        static_path = _need_static(static_path, path, "DICOM waveforms", schema)
        return read_dicom_waveforms(path, static_path, schema, channel_map=channel_map)
    raise DataReadError(UNSUPPORTED_SERIES.format(path=path, reason="the directory holds no *.hea or *.dcm file"))


def _need_static(static_path: PathLike | None, path: Path, what: str, schema: SeriesSchema) -> PathLike:
    if static_path is None:
        raise DataReadError(NEEDS_STATIC.format(what=what, path=path, subject_id=schema.subject_id))
    return static_path


def _read_static(static_path: PathLike, schema: SeriesSchema) -> pd.DataFrame:
    """The static table (CSV/Parquet), its subject ids as canonical strings."""
    static = read_table(static_path, text_columns=(schema.subject_id,))
    column = schema.subject_id
    if column not in static.columns:
        raise SchemaError(STATIC_NO_ID.format(path=static_path, column=column, found=list(static.columns)))
    static[column] = static[column].map(canonical_category).astype(object)
    return static


def _existing_directory(directory: PathLike, what: str) -> Path:
    directory = Path(directory)
    if not directory.exists():
        raise DataReadError(NOT_A_DIRECTORY.format(what=what, path=directory, reason="no such directory"))
    if not directory.is_dir():
        raise DataReadError(NOT_A_DIRECTORY.format(what=what, path=directory, reason="it is a file, not a directory"))
    return directory


def _check_unique(ids: Iterable[str], source: str) -> None:
    duplicated = pd.Series(list(ids), dtype=object)
    duplicated = duplicated[duplicated.duplicated()].unique().tolist()
    if duplicated:
        raise DataReadError(DUPLICATE_IDS.format(source=source, examples=duplicated[:3]))


def _check_rate(found: Any, schema: SeriesSchema, source: str) -> None:
    try:
        rate = float(found)
    except (TypeError, ValueError):
        rate = float("nan")
    if not math.isclose(rate, float(schema.sampling_rate), rel_tol=1e-9):
        raise SchemaError(RATE_MISMATCH.format(source=source, found=rate, expected=float(schema.sampling_rate)))


def _check_channel_map(channel_map: dict[str, str] | None, schema: SeriesSchema) -> None:
    for label, name in (channel_map or {}).items():
        if name not in schema.channel_names:
            raise SchemaError(BAD_CHANNEL_MAP.format(label=label, name=name, channels=schema.channel_names))


def _match_channels(found: list[str], schema: SeriesSchema, source: str,
                    channel_map: dict[str, str] | None) -> list[int]:
    """Positions in ``found`` of the schema's channels (after ``channel_map``), in schema order."""
    mapped = [(channel_map or {}).get(label, label) for label in found]
    positions = {c: [i for i, m in enumerate(mapped) if m == c] for c in schema.channel_names}
    missing = [c for c, hits in positions.items() if not hits]
    if missing:
        hint = ", or pass channel_map={file label: schema channel}"
        raise SchemaError(MISSING_CHANNELS.format(source=source, missing=missing, found=found, hint=hint))
    for channel, hits in positions.items():
        if len(hits) > 1:
            raise DataReadError(AMBIGUOUS_CHANNEL.format(source=source, channel=channel, count=len(hits),
                                                         found=[found[i] for i in hits]))
    return [hits[0] for hits in positions.values()]


def _check_units(units: list[str], columns: list[int], schema: SeriesSchema, source: str) -> None:
    for channel, column in zip(schema.channels, columns):
        found = str(units[column] or "").strip() if column < len(units) else ""
        if channel.unit and not found:
            raise SchemaError(UNIT_UNKNOWN.format(source=source, channel=channel.name, expected=channel.unit))
        if channel.unit and found != channel.unit:
            raise SchemaError(UNIT_MISMATCH.format(source=source, channel=channel.name, found=found,
                                                   expected=channel.unit))


def _signal_to_write(raw: Any, path: Path, subject: Any, schema: SeriesSchema) -> np.ndarray:
    array = np.asarray(raw)
    n_channels = len(schema.channels)
    if array.ndim == 1 and n_channels == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] != n_channels or not (
            np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise DataWriteError(WRITE_BAD_SIGNAL.format(path=path, subject=subject, shape=array.shape,
                                                     channels=n_channels, names=schema.channel_names))
    return array.astype(np.float64)


__all__ = ["read_long", "write_long", "read_npz", "write_npz", "read_wfdb", "read_dicom_waveforms",
           "read_series"]

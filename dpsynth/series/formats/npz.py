"""NumPy ``.npz`` archives (NaN-padded signals plus per-subject arrays, no pickle): read and write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dpsynth.errors import DataReadError, SchemaError
from dpsynth.npz_archive import NPZ_MISSING_KEY, column_array, load_npz, npz_column
from dpsynth.table_io import DataWriteError
from dpsynth.schema import canonical_category
from dpsynth.series.formats.common import (
    WRITE_FAILED,
    PathLike,
    check_unique,
    read_static,
    signal_to_write,
)
from dpsynth.series.schema import SeriesData, SeriesSchema

#: The npz key holding the signals; no static column may use it.
SIGNALS_KEY = "signals"

# ------------------------------------------------------------------ messages

NPZ_SIGNALS_NDIM = (
    "npz file '{path}': 'signals' has shape {shape}; expected [subjects, time, channels]{one}"
)
NPZ_SIGNALS_NOT_NUMERIC = "npz file '{path}': 'signals' has dtype {dtype}; it must hold numbers (NaN = missing)"
NPZ_CHANNEL_COUNT = (
    "npz file '{path}': 'signals' has {found} channel(s) (last axis) but the schema declares {expected}: "
    "{names!r}; store the channels in the schema's order, or fix the schema"
)
NPZ_MISSING_STATIC = (
    "npz file '{path}' has no array for static column(s) {columns!r}; add them as 1-D arrays (one entry "
    "per subject) or pass static_path= to read the static table from a CSV/Parquet file"
)
MISSING_IDS = "{source}: the subject id '{column}' is missing for {count} subject(s); every subject needs an id"


def read_npz(path: PathLike, schema: SeriesSchema, *, static_path: PathLike | None = None) -> SeriesData:
    """Read an ``.npz`` archive: ``signals`` [N, T, C] (or [N, T] for one channel), the subject ids
    under the schema's subject id, and the static columns (or a static table at ``static_path``).

    Each subject's trailing all-NaN rows are padding and are dropped; NaN inside a signal
    is a missing sample and stays. Loaded with ``allow_pickle=False``: an archive that
    needs pickle could run code, so it is refused.
    """
    path = Path(path)
    arrays = load_npz(path)
    signals = _npz_signals(arrays, path, schema)
    ids = _npz_ids(arrays, path, schema, len(signals))
    if static_path is not None:
        static = read_static(static_path, schema)
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
    stacked = [signal_to_write(signals[s], path, s, schema) for s in ids]
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
        arrays[str(name)] = column_array(data.static[name])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    except OSError as exc:
        raise DataWriteError(WRITE_FAILED.format(path=path, reason=exc.strerror or exc)) from None
    return path


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
    ids = [canonical_category(v) for v in npz_column(arrays, key, path, n)]
    source = f"npz file '{path}'"
    missing = sum(1 for v in ids if not isinstance(v, str))
    if missing:
        raise DataReadError(MISSING_IDS.format(source=source, column=key, count=missing))
    check_unique(ids, source)
    return ids


def _npz_static(arrays: dict[str, np.ndarray], path: Path, schema: SeriesSchema, ids: list[str]) -> pd.DataFrame:
    names = schema.static.names
    missing = [c for c in names if c not in arrays]
    if missing:
        raise SchemaError(NPZ_MISSING_STATIC.format(path=path, columns=missing))
    static = pd.DataFrame({schema.subject_id: pd.Series(ids, dtype=object)})
    for name in names:
        static[name] = npz_column(arrays, name, path, len(ids))
    return static


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

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

from pathlib import Path

from dpsynth.errors import DataReadError
from dpsynth.table_io import SUPPORTED_SUFFIXES
from dpsynth.series.formats.common import PathLike
from dpsynth.series.formats.dicom import read_dicom_waveforms
from dpsynth.series.formats.long import read_long, write_long
from dpsynth.series.formats.npz import read_npz, write_npz
from dpsynth.series.formats.wfdb import read_wfdb
from dpsynth.series.schema import SeriesData, SeriesSchema

# ------------------------------------------------------------------ messages
NEEDS_STATIC = (
    "cannot read {what} '{path}' without its static table; pass static_path= (a CSV or Parquet file with "
    "the subject id '{subject_id}' and the static columns)"
)
UNSUPPORTED_SERIES = (
    "cannot read series from '{path}': {reason}. Supported: a .npz file; a long table ("
    + ", ".join(SUPPORTED_SUFFIXES)
    + ") with a static table; a directory of WFDB records (*.hea); a directory of DICOM waveforms (*.dcm)"
)


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


__all__ = ["read_long", "write_long", "read_npz", "write_npz", "read_wfdb", "read_dicom_waveforms",
           "read_series"]

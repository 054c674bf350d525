"""PhysioNet WFDB records (a directory, one subject per record): read.

``wfdb`` comes with the ``series`` extra; it is imported only here, when records are read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dpsynth.errors import DataReadError
from dpsynth.optional import require
from dpsynth.series.formats.common import (
    NO_FILES,
    RECORD_UNREADABLE,
    PathLike,
    check_channel_map,
    check_rate,
    check_units,
    existing_directory,
    match_channels,
    read_static,
)
from dpsynth.series.schema import SeriesData, SeriesSchema

WFDB_PURPOSE = "reading WFDB records"


def read_wfdb(directory: PathLike, static_path: PathLike, schema: SeriesSchema, *,
              channel_map: dict[str, str] | None = None) -> SeriesData:
    """Read every WFDB record in ``directory`` (one subject per record, id = record name).

    Signals are read in physical units (``p_signal``; invalid samples are NaN). Channels
    are found by ``sig_name`` (or through ``channel_map`` {sig_name: schema channel});
    channels the schema does not declare are ignored. The record's ``fs`` must be the
    schema's sampling rate and, where the schema gives a unit, the record's unit must be
    the same: a silent mismatch would make the public bounds wrong.
    """
    wfdb = require("wfdb", extra="series", purpose=WFDB_PURPOSE)

    directory = existing_directory(directory, "WFDB records")
    check_channel_map(channel_map, schema)
    signals = {}
    for name in _wfdb_record_names(directory):
        record = _wfdb_call(wfdb.rdrecord, directory / name)
        source = f"WFDB record '{directory / name}'"
        check_rate(record.fs, schema, source)
        columns = match_channels(list(record.sig_name or []), schema, source, channel_map)
        check_units(list(record.units or []), columns, schema, source)
        if record.p_signal is None:
            raise DataReadError(RECORD_UNREADABLE.format(what="WFDB record", path=directory / name,
                                                         reason="it has no physical signal"))
        signals[name] = np.asarray(record.p_signal[:, columns], dtype=np.float64)
    return SeriesData(read_static(static_path, schema), signals)


def _wfdb_record_names(directory: Path) -> list[str]:
    """Record names of the ``*.hea`` files, less the segments of multi-segment records."""
    wfdb = require("wfdb", extra="series", purpose=WFDB_PURPOSE)

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

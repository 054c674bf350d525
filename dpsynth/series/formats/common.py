"""What several series formats share: the static table reader, id, rate, channel and unit
checks, the signal check before writing, and the messages these raise."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from dpsynth.errors import DataReadError, SchemaError
from dpsynth.table_io import DataWriteError, read_table
from dpsynth.schema import canonical_category
from dpsynth.series.schema import SeriesSchema

PathLike = str | os.PathLike[str]

# ------------------------------------------------------------------ messages
STATIC_NO_ID = (
    "static table '{path}' has no subject id column '{column}' (columns: {found!r}); add it or set "
    "'subject_id' in the schema to the column that names each subject"
)
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
WRITE_BAD_SIGNAL = (
    "cannot write '{path}': signal of subject {subject!r} has shape {shape}; expected (time, {channels}) "
    "for channels {names!r}"
)
WRITE_FAILED = "cannot write '{path}': {reason}"


def read_static(static_path: PathLike, schema: SeriesSchema) -> pd.DataFrame:
    """The static table (CSV/Parquet), its subject ids as canonical strings."""
    static = read_table(static_path, text_columns=(schema.subject_id,))
    column = schema.subject_id
    if column not in static.columns:
        raise SchemaError(STATIC_NO_ID.format(path=static_path, column=column, found=list(static.columns)))
    static[column] = static[column].map(canonical_category).astype(object)
    return static


def existing_directory(directory: PathLike, what: str) -> Path:
    directory = Path(directory)
    if not directory.exists():
        raise DataReadError(NOT_A_DIRECTORY.format(what=what, path=directory, reason="no such directory"))
    if not directory.is_dir():
        raise DataReadError(NOT_A_DIRECTORY.format(what=what, path=directory, reason="it is a file, not a directory"))
    return directory


def check_unique(ids: Iterable[str], source: str) -> None:
    duplicated = pd.Series(list(ids), dtype=object)
    duplicated = duplicated[duplicated.duplicated()].unique().tolist()
    if duplicated:
        raise DataReadError(DUPLICATE_IDS.format(source=source, examples=duplicated[:3]))


def check_rate(found: Any, schema: SeriesSchema, source: str) -> None:
    try:
        rate = float(found)
    except (TypeError, ValueError):
        rate = float("nan")
    if not math.isclose(rate, float(schema.sampling_rate), rel_tol=1e-9):
        raise SchemaError(RATE_MISMATCH.format(source=source, found=rate, expected=float(schema.sampling_rate)))


def check_channel_map(channel_map: dict[str, str] | None, schema: SeriesSchema) -> None:
    for label, name in (channel_map or {}).items():
        if name not in schema.channel_names:
            raise SchemaError(BAD_CHANNEL_MAP.format(label=label, name=name, channels=schema.channel_names))


def match_channels(found: list[str], schema: SeriesSchema, source: str,
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


def check_units(units: list[str], columns: list[int], schema: SeriesSchema, source: str) -> None:
    for channel, column in zip(schema.channels, columns):
        found = str(units[column] or "").strip() if column < len(units) else ""
        if channel.unit and not found:
            raise SchemaError(UNIT_UNKNOWN.format(source=source, channel=channel.name, expected=channel.unit))
        if channel.unit and found != channel.unit:
            raise SchemaError(UNIT_MISMATCH.format(source=source, channel=channel.name, found=found,
                                                   expected=channel.unit))


def signal_to_write(raw: Any, path: Path, subject: Any, schema: SeriesSchema) -> np.ndarray:
    array = np.asarray(raw)
    n_channels = len(schema.channels)
    if array.ndim == 1 and n_channels == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] != n_channels or not (
            np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise DataWriteError(WRITE_BAD_SIGNAL.format(path=path, subject=subject, shape=array.shape,
                                                     channels=n_channels, names=schema.channel_names))
    return array.astype(np.float64)

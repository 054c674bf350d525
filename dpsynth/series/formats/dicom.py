"""DICOM waveforms (a directory of ``*.dcm`` files, one subject per file): read.

``pydicom`` comes with the ``series`` extra; it is imported only here, when files are read.
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

# ------------------------------------------------------------------ messages
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


def read_dicom_waveforms(directory: PathLike, static_path: PathLike, schema: SeriesSchema, *,
                         channel_map: dict[str, str] | None = None) -> SeriesData:
    """Read every ``*.dcm`` waveform file in ``directory`` (one subject per file, id = PatientID).

    The first multiplex group is read in physical units; samples equal to the group's
    Waveform Padding Value are NaN. Channels are matched by the Channel Source code
    meaning (e.g. ``"Lead II"``), directly or through ``channel_map`` {label: schema
    channel}; other channels are ignored. The group's sampling frequency and, where the
    schema gives one, each channel's unit must match the schema.
    """
    directory = existing_directory(directory, "DICOM waveforms")
    check_channel_map(channel_map, schema)
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
    return SeriesData(read_static(static_path, schema), signals)


def _read_dicom(file: Path) -> Any:
    pydicom = require("pydicom", extra="series", purpose="reading DICOM waveforms")
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
    check_rate(group.get("SamplingFrequency"), schema, source)
    definitions = list(group.get("ChannelDefinitionSequence", []))
    columns = match_channels([_dicom_label(d) for d in definitions], schema, source, channel_map)
    check_units([_dicom_unit(d) for d in definitions], columns, schema, source)
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

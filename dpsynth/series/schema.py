"""The public schema of a time-series dataset, and the in-memory form of such data.

A series dataset is a set of *subjects*. Each subject has a static record (demographics,
the label; one row, described by ordinary tabular columns with public domains) and a
multichannel signal sampled at a fixed, public rate. Models see fixed-length *windows*
cut from each signal; a subject's windows all belong to one privacy unit, so DP-SGD
samples and clips per subject, never per window (privacy contract: the unit is the
patient).

Everything a codec needs — channel bounds, units, the sampling rate, the window length —
is in the schema and is public; nothing is derived from the private signals. Missing
samples (NaN) are kept as NaN and masked by the codec, never filled silently; values
outside a channel's public bounds raise, or are clipped and counted when the channel
says ``out_of_bounds: clip``.

```yaml
version: 1
modality: series
subject_id: subject
sampling_rate: 250          # Hz
window: 256                 # samples per window
stride: 256                 # samples between window starts (default: window)
max_windows_per_subject: 16
channels:
  - {name: lead_ii, unit: mV, lower: -5, upper: 5, out_of_bounds: clip}
target: label
positive: "abnormal"
sensitive: [{column: sex}]
static:                     # per-subject columns, as in a tabular schema
  - {name: sex, kind: categorical, categories: [female, male]}
  - {name: label, kind: categorical, categories: [normal, abnormal]}
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from dpsynth import errors
from dpsynth.errors import SchemaError
from dpsynth.schema_spec import check_spec
from dpsynth.schema import (
    SCHEMA_VERSION,
    CategoricalColumn,
    Column,
    NumericColumn,
    SensitiveAttribute,
    canonical_category,
    check_bounds,
    read_schema_spec,
)
from dpsynth.tabular.schema import StaticAttributes, TabularSchema, static_schema_from_spec

NO_SUBJECT_ID = "a series schema needs 'subject_id': the column of the static table naming each subject"
MISSING_SIGNALS = (
    "{count} subject(s) of the static table have no signal, e.g. {examples!r}; give every subject a "
    "signal or drop those rows from the static table"
)
MISSING_STATIC = (
    "{count} signal(s) belong to subjects missing from the static table, e.g. {examples!r}; add a "
    "static row for each subject or drop those signals"
)
DUPLICATE_SUBJECTS = (
    "subject id(s) {examples!r} appear on more than one row of the static table; a subject has one "
    "static record (its signal may be long: it is cut into windows)"
)
BAD_SIGNAL_SHAPE = (
    "signal of subject {subject!r} has shape {shape}; expected (time, {channels}) for channels {names!r}"
)
SIGNAL_NOT_NUMERIC = "signal of subject {subject!r} is not numeric ({dtype}); channels must hold numbers"
SIGNAL_INFINITE = "signal of subject {subject!r}, channel '{channel}' holds ±inf; use NaN for a missing sample"
SIGNAL_OUT_OF_BOUNDS = (
    "channel '{channel}' has {count} sample(s) outside its public bounds [{lower}, {upper}] "
    "(e.g. subject {subject!r}: {example}); widen the bounds in the schema if they are wrong, or set "
    "'out_of_bounds: clip' on the channel to clip them (clips are counted)"
)
COLLIDING_IDS = (
    "signal keys {keys!r} name the same subject once written as text ({canonical!r}); give each subject one key"
)
NO_OBSERVED_SAMPLE = (
    "subject {subject!r} has no observed sample in any channel (all NaN or empty); drop it or fix the file"
)


@dataclass
class Channel:
    """One signal channel with public value bounds ``[lower, upper]`` and a unit. ``missing``:
    its samples may be missing (irregular visits), so the generators model which are observed."""

    name: str
    lower: float
    upper: float
    unit: str = ""
    out_of_bounds: Literal["error", "clip"] = "error"
    missing: bool = False

    def __post_init__(self) -> None:
        self.unit = "" if self.unit is None else str(self.unit)
        check_bounds(f"channel '{self.name}'", self.lower, self.upper)
        if self.out_of_bounds not in ("error", "clip"):
            raise SchemaError(f"channel '{self.name}': out_of_bounds must be 'error' or 'clip', "
                              f"not {self.out_of_bounds!r}")
        if not isinstance(self.missing, bool):
            raise SchemaError(f"channel '{self.name}': missing must be true or false, not {self.missing!r}")

    def to_dict(self) -> dict[str, Any]:
        spec = {"name": self.name, "unit": self.unit, "lower": self.lower, "upper": self.upper,
                "out_of_bounds": self.out_of_bounds}
        return spec | ({"missing": True} if self.missing else {})


@dataclass
class SeriesData:
    """Series data in memory: one static row per subject and one signal per subject.

    ``static`` holds the subject id column and the static columns; ``signals`` maps each
    subject id (as a string) to a float array ``[time, channels]`` in the schema's channel
    order, NaN for a missing sample. Signals may differ in length.
    """

    static: pd.DataFrame
    signals: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.static)


@dataclass
class SeriesReport:
    """What `SeriesSchema.conform` counted: clipped and missing samples per channel, short signals."""

    n_subjects: int = 0
    n_samples: int = 0
    clipped: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    static_clipped: dict[str, int] = field(default_factory=dict)
    static_unseen_to_missing: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"n_subjects": self.n_subjects, "n_samples": self.n_samples, "clipped": dict(self.clipped),
                "missing": dict(self.missing), "static_clipped": dict(self.static_clipped),
                "static_unseen_to_missing": dict(self.static_unseen_to_missing)}


@dataclass
class SeriesSchema(StaticAttributes):
    """Public description of a series dataset (see the module docstring)."""

    channels: list[Channel]
    sampling_rate: float
    window: int
    static: TabularSchema
    stride: int | None = None
    max_windows_per_subject: int = 16
    version: int = SCHEMA_VERSION
    modality: ClassVar[str] = "series"

    def __post_init__(self) -> None:
        names = [c.name for c in self.channels]
        if not names:
            raise SchemaError("a series schema needs at least one channel")
        if len(set(names)) != len(names):
            raise SchemaError(f"schema declares a channel twice: {names!r}")
        clash = sorted(set(names) & (set(self.static.names) | {self.static.subject_id}))
        if clash:
            raise SchemaError(f"channel name(s) {clash!r} are also static columns or the subject id; rename one")
        if self.static.subject_id is None:
            raise SchemaError(NO_SUBJECT_ID)
        if isinstance(self.sampling_rate, bool) or not isinstance(self.sampling_rate, (int, float)) \
                or not (self.sampling_rate > 0 and math.isfinite(self.sampling_rate)):
            raise SchemaError(f"sampling_rate must be a positive number of samples per second, "
                              f"not {self.sampling_rate!r}")
        self.sampling_rate = float(self.sampling_rate)  # 250 and 250.0 are one schema (fingerprint)
        self.stride = self.window if self.stride is None else self.stride
        for key in ("window", "stride", "max_windows_per_subject"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SchemaError(f"{key} must be a positive whole number, not {value!r}")
        if self.version != SCHEMA_VERSION:
            raise SchemaError(f"schema version {self.version} is not supported (expected {SCHEMA_VERSION})")

    # ----------------------------------------------------------------- lookup
    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]

    @property
    def subject_id(self) -> str:
        return self.static.subject_id  # type: ignore[return-value]

    def count_units(self, data: SeriesData) -> int:
        """Number of privacy units: distinct subjects."""
        if self.subject_id not in data.static.columns:
            raise SchemaError(errors.MISSING_COLUMNS.format(columns=[self.subject_id]))
        return int(data.static[self.subject_id].nunique())

    # -------------------------------------------------------------- data checks
    def conform(self, data: SeriesData) -> tuple[SeriesData, SeriesReport]:
        """Check ``data`` against the schema and return it in canonical form.

        The static table is conformed like a tabular one (errors name the column); each
        subject must have exactly one static row and one signal of shape [time, channels];
        samples outside a channel's bounds raise or are clipped and counted; NaN samples
        stay NaN and are counted as missing. Nothing in ``data`` is modified.
        """
        static, static_report = self.static.conform(data.static)
        ids = static[self.subject_id]
        duplicated = ids[ids.duplicated()].unique().tolist()
        if duplicated:
            raise SchemaError(DUPLICATE_SUBJECTS.format(examples=duplicated[:3]))
        signals: dict[str, Any] = {}
        for key, value in data.signals.items():
            canonical = canonical_category(key)
            if canonical in signals:
                clash = [k for k in data.signals if canonical_category(k) == canonical]
                raise SchemaError(COLLIDING_IDS.format(keys=clash, canonical=canonical))
            signals[canonical] = value
        without_signal = [s for s in ids if s not in signals]
        if without_signal:
            raise SchemaError(MISSING_SIGNALS.format(count=len(without_signal), examples=without_signal[:3]))
        id_set = set(ids)
        without_static = [s for s in signals if s not in id_set]
        if without_static:
            raise SchemaError(MISSING_STATIC.format(count=len(without_static), examples=without_static[:3]))
        report = SeriesReport(n_subjects=len(static), static_clipped=dict(static_report.clipped),
                              static_unseen_to_missing=dict(static_report.unseen_to_missing))
        out = {s: self._conform_signal(s, signals[s], report) for s in ids}
        self._check_bounds(out, report)
        static = static.reset_index(drop=True)
        static.attrs = dict(data.static.attrs)  # markers such as "simulated" travel with the data
        return SeriesData(static, out), report

    def _conform_signal(self, subject: str, raw: Any, report: SeriesReport) -> np.ndarray:
        array = np.asarray(raw)
        n_channels = len(self.channels)
        if array.ndim == 1 and n_channels == 1:
            array = array[:, None]
        if array.ndim != 2 or array.shape[1] != n_channels:
            raise SchemaError(BAD_SIGNAL_SHAPE.format(subject=subject, shape=array.shape, channels=n_channels,
                                                      names=self.channel_names))
        if array.dtype == object:  # e.g. DataFrame.to_numpy() of mixed frames: numbers are fine
            try:
                array = array.astype(np.float64)
            except (TypeError, ValueError):
                raise SchemaError(SIGNAL_NOT_NUMERIC.format(subject=subject, dtype="text or mixed")) from None
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            raise SchemaError(SIGNAL_NOT_NUMERIC.format(subject=subject, dtype=array.dtype))
        array = array.astype(np.float64, copy=True)
        for j, channel in enumerate(self.channels):
            if np.isinf(array[:, j]).any():
                raise SchemaError(SIGNAL_INFINITE.format(subject=subject, channel=channel.name))
            report.missing[channel.name] = report.missing.get(channel.name, 0) + int(np.isnan(array[:, j]).sum())
        if array.size == 0 or np.isnan(array).all():
            raise SchemaError(NO_OBSERVED_SAMPLE.format(subject=subject))
        report.n_samples += array.shape[0]
        return array

    def _check_bounds(self, signals: dict[str, np.ndarray], report: SeriesReport) -> None:
        """Raise or clip (counted) samples outside each channel's public bounds, in place."""
        for j, channel in enumerate(self.channels):
            count, example = 0, None
            for subject, array in signals.items():
                values = array[:, j]
                outside = (values < channel.lower) | (values > channel.upper)
                n = int(outside.sum())
                if n and example is None:
                    example = (subject, float(values[outside][0]))
                count += n
                if n and channel.out_of_bounds == "clip":
                    array[:, j] = np.clip(values, channel.lower, channel.upper)
            if count and channel.out_of_bounds == "error":
                raise SchemaError(SIGNAL_OUT_OF_BOUNDS.format(
                    channel=channel.name, count=count, lower=channel.lower, upper=channel.upper,
                    subject=example[0], example=example[1]))
            if count:
                report.clipped[channel.name] = count

    # ---------------------------------------------------------------- windows
    def window_starts(self, length: int) -> list[int]:
        """Start positions of the windows cut from a signal of ``length`` samples.

        Windows start every ``stride`` samples; a signal shorter than one window gives one
        window (padded with missing samples by `windows`). When a signal gives more than
        ``max_windows_per_subject`` windows, that many are kept, evenly spaced over the
        record (a rule that depends on the length only, so it is the same for every
        subject and needs no privacy budget).
        """
        if length <= self.window:
            return [0]
        starts = list(range(0, length - self.window + 1, self.stride))
        if len(starts) > self.max_windows_per_subject:
            keep = np.linspace(0, len(starts) - 1, self.max_windows_per_subject).round().astype(int)
            starts = [starts[i] for i in keep]
        return starts

    def windows(self, signal: np.ndarray) -> np.ndarray:
        """The windows of one conformed signal: [n_windows, window, channels], NaN = missing."""
        out = []
        for start in self.window_starts(len(signal)):
            piece = signal[start:start + self.window]
            if len(piece) < self.window:
                piece = np.vstack([piece, np.full((self.window - len(piece), piece.shape[1]), np.nan)])
            out.append(piece)
        return np.stack(out)

    # ------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        static = self.static.to_dict()
        return {
            "version": self.version,
            "modality": self.modality,
            "subject_id": self.subject_id,
            "sampling_rate": self.sampling_rate,
            "window": self.window,
            "stride": self.stride,
            "max_windows_per_subject": self.max_windows_per_subject,
            "channels": [c.to_dict() for c in self.channels],
            "target": static["target"],
            "positive": static["positive"],
            "sensitive": static["sensitive"],
            "static": static["columns"],
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> SeriesSchema:
        if not isinstance(spec, dict):
            raise SchemaError("a series schema must be a mapping with keys version, modality, channels, ...")
        if spec.get("modality") != "series":
            raise SchemaError(f"modality {spec.get('modality')!r} is not 'series'")
        check_spec(spec, "seriesSchema", "series schema")
        return cls(channels=[Channel(**raw) for raw in spec["channels"]], sampling_rate=spec["sampling_rate"],
                   window=spec["window"], static=static_schema_from_spec(spec), stride=spec.get("stride"),
                   max_windows_per_subject=spec.get("max_windows_per_subject", 16),
                   version=int(spec.get("version", SCHEMA_VERSION)))



__all__ = ["Channel", "SeriesData", "SeriesReport", "SeriesSchema", "read_schema_spec",
           "CategoricalColumn", "NumericColumn", "Column", "SensitiveAttribute"]

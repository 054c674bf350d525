"""The series modality of the shared DP pipeline: subjects with static records and signal windows.

`SeriesGenerator` fills `DPGenerator`'s modality hooks: a subject is the privacy unit; its
windows (at most ``max_windows_per_subject``, cut by the schema) are the unit's rows, each
carrying the subject's static record and condition cell; the family trains on them with
one clipped gradient per subject. Sampling gives one window per synthetic subject.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from dpsynth.series.codec import SeriesCodec
from dpsynth.errors import SchemaError
from dpsynth.generator import DPGenerator
from dpsynth.params import ModelParams, number, param
from dpsynth.series.schema import SeriesData, SeriesReport, SeriesSchema

NOT_SERIES_DATA = (
    "series generators train on dpsynth.series.SeriesData (a static table + one signal per subject); "
    "got {kind}. Read files with dpsynth.series.io.read_series(path, schema, static_path=...)"
)
SYNTHETIC_ID = "synthetic-{:06d}"


@dataclass
class SeriesParams(ModelParams):
    """`ModelParams` and the series codec's noise scale."""

    sigma: float = param(0.1, "noise scale of the signal likelihood, in the codec's scaled [-1, 1] units (public)",
                         number(above=0))


class SeriesGenerator(DPGenerator):
    """DP generators for multichannel series with per-subject static attributes.

    ``sigma`` is the codec's public noise scale of the signal likelihood (scaled units).
    Two shared training defaults differ from the tabular ones: ``batch_size`` 256 expected
    subjects per private step and ``rows_per_step`` 2, i.e. each step trains on two
    windows drawn afresh from each sampled subject (`dpsynth.families.training.keep_rows`)
    rather than all of them (up to ``max_windows_per_subject``). Drawing 2 windows per step
    keeps steps fast and memory bounded; the subject still gives one clipped gradient, so
    the accounting is unchanged. ``rows_per_step=None`` uses every window.
    """

    schema_type = SeriesSchema
    model_params = SeriesParams
    param_defaults = {"batch_size": 256, "rows_per_step": 2}

    # -------------------------------------------------------------- modality hooks
    def _count_units(self, data: SeriesData, schema: SeriesSchema) -> int:
        if not isinstance(data, SeriesData):
            raise SchemaError(NOT_SERIES_DATA.format(kind=type(data).__name__))
        schema.static.check_columns(data.static)
        return len(data.static)

    def _unit_label(self, schema: SeriesSchema) -> str:
        return f"subject ('{schema.subject_id}'): all windows of a subject are one unit"

    def _conform(self, data: SeriesData, schema: SeriesSchema) -> tuple[SeriesData, SeriesReport]:
        return schema.conform(data)

    def _make_codec(self, schema: SeriesSchema) -> SeriesCodec:
        return SeriesCodec(schema, n_bins=self.n_bins, sigma=self.sigma)

    def _condition_groups(self, data: SeriesData, schema: SeriesSchema) -> tuple[pd.DataFrame, None]:
        return schema.static.group_labels(data.static), None  # one static record per subject

    def _unit_tensors(self, data: SeriesData, codec: SeriesCodec, groups: pd.DataFrame, schema: SeriesSchema,
                      rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """x [U, R, input width], c [U, R, C], window mask [U, R]: a subject's windows are its rows."""
        static = codec.encode_static(data.static)
        conditions = codec.encode_conditions(groups)
        windows = [schema.windows(data.signals[s]) for s in data.static[schema.subject_id]]
        rows = max(len(w) for w in windows)
        x = np.zeros((len(windows), rows, codec.input_width), np.float32)
        c = np.zeros((len(windows), rows, codec.condition_width), np.float32)
        mask = np.zeros((len(windows), rows), np.float32)
        for u, w in enumerate(windows):
            k = len(w)
            x[u, :k, :codec.static_width] = static[u]
            x[u, :k, codec.static_width:] = codec.encode_signal(w)
            c[u, :k], mask[u, :k] = conditions[u], 1.0
        return torch.from_numpy(x), torch.from_numpy(c), torch.from_numpy(mask)

    def _decode(self, output: np.ndarray, cells: pd.DataFrame, rng: np.random.Generator, *,
                first: int = 0) -> SeriesData:
        static, signals = self.codec_.decode(output, cells, rng=rng)
        ids = [SYNTHETIC_ID.format(first + i + 1) for i in range(len(static))]
        static.insert(0, self.schema_.subject_id, ids)
        return SeriesData(static, {s: signals[i] for i, s in enumerate(ids)})

    def _as_units(self, records: SeriesData, ids: list[str]) -> SeriesData:
        column = self.schema_.subject_id
        signals = [records.signals[s] for s in records.static[column]]
        return SeriesData(records.static.assign(**{column: ids}), dict(zip(ids, signals)))

    def _select(self, data: SeriesData, index: np.ndarray) -> SeriesData:
        static = data.static.iloc[index]
        return SeriesData(static, {s: data.signals[s] for s in static[self.schema.subject_id]})

    def _concat(self, data: SeriesData, other: SeriesData) -> SeriesData:
        return SeriesData(pd.concat([data.static, other.static], ignore_index=True), data.signals | other.signals)

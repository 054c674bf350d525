"""The tabular modality's generator hooks: rows of a conformed table, grouped per patient.

`DPGenerator` (dpsynth.generator) owns the fit/sample/save path; this class says how a
table is checked, learned (DP bounds and domains), encoded per privacy unit, decoded, and
how canaries join it. The tabular families in dpsynth.generators subclass it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from dpsynth.tabular.codec import TabularCodec
from dpsynth.generator import DPGenerator
from dpsynth.tabular.domain import learn_public_values
from dpsynth.privacy.ledger import PrivacyLedger
from dpsynth.tabular.schema import TabularSchema


class TabularGenerator(DPGenerator):
    """DP generators for tabular EHR: rows of a conformed table, grouped per patient."""

    schema_type = TabularSchema

    def _count_units(self, data: pd.DataFrame, schema: TabularSchema) -> int:
        schema.check_columns(data)
        return schema.count_units(data)

    def _unit_label(self, schema: TabularSchema) -> str:
        return (f"subject ('{schema.subject_id}'): all rows of a subject are one unit"
                if schema.subject_id else "row (one row = one patient)")

    def _learn_public_values(self, data: pd.DataFrame, schema: TabularSchema, *, epsilon: float, delta: float,
                             ledger: PrivacyLedger) -> TabularSchema:
        return learn_public_values(data, schema, epsilon=epsilon, delta=delta, ledger=ledger)

    def _conform(self, data: pd.DataFrame, schema: TabularSchema) -> tuple[pd.DataFrame, Any]:
        return schema.conform(data)

    def _make_codec(self, schema: TabularSchema) -> TabularCodec:
        return TabularCodec(schema, n_bins=self.n_bins)

    def _condition_groups(self, frame: pd.DataFrame, schema: TabularSchema) -> tuple[pd.DataFrame, pd.Series | None]:
        return schema.group_labels(frame), (frame[schema.subject_id] if schema.subject_id else None)

    def _decode(self, output: np.ndarray, cells: pd.DataFrame, rng: np.random.Generator, *,
                first: int = 0) -> pd.DataFrame:
        return self.codec_.decode(output, cells, rng=rng)

    def _as_units(self, records: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
        if self.schema_.subject_id is None:  # one row is one patient already
            return records
        return records.assign(**{self.schema_.subject_id: ids})

    def _select(self, frame: pd.DataFrame, index: np.ndarray) -> pd.DataFrame:
        return frame.iloc[index]

    def _concat(self, frame: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([frame, other], ignore_index=True)

    def _unit_tensors(self, frame: pd.DataFrame, codec: TabularCodec, groups: pd.DataFrame,
                      schema: TabularSchema, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """x [U, R, width], c [U, R, C], row mask [U, R]: rows grouped by privacy unit."""
        x = codec.encode(frame)
        c = codec.encode_conditions(groups)
        if schema.subject_id is None:
            return (torch.from_numpy(x[:, None, :]), torch.from_numpy(c[:, None, :]),
                    torch.ones(len(x), 1))
        members = self._unit_members(frame[schema.subject_id], rng)
        width = max(len(m) for m in members)
        xs = np.zeros((len(members), width, codec.width), np.float32)
        cs = np.zeros((len(members), width, codec.condition_width), np.float32)
        mask = np.zeros((len(members), width), np.float32)
        for u, m in enumerate(members):
            xs[u, : len(m)], cs[u, : len(m)], mask[u, : len(m)] = x[m], c[m], 1.0
        return torch.from_numpy(xs), torch.from_numpy(cs), torch.from_numpy(mask)

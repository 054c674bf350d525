"""The tabular modality's generator hooks: rows of a conformed table, grouped per patient.

`DPGenerator` (dpsynth.generator) owns the fit/sample/save path; this class says how a
table is checked, learned (DP bounds and domains), encoded per privacy unit, decoded, and
how canaries join it. The tabular families in dpsynth.generators subclass it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from dpsynth.errors import SchemaError
from dpsynth.generator import DPGenerator, Prepared
from dpsynth.privacy.ledger import PrivacyLedger
from dpsynth.tabular.chunks import TableChunks
from dpsynth.tabular.codec import TabularCodec
from dpsynth.tabular.domain import learn_public_values
from dpsynth.tabular.schema import TabularSchema, ValidationReport
from dpsynth.unit_file import UnitFile

CHUNKS_NEED_ROW_UNITS = ("a table read in chunks (TableChunks) needs one row per patient and a public schema; "
                         "read it whole (dpsynth.table_io.read_table) for subject ids or learned bounds")


class TabularGenerator(DPGenerator):
    """DP generators for tabular EHR: rows of a conformed table, grouped per patient."""

    schema_type = TabularSchema

    def _count_units(self, data: pd.DataFrame | TableChunks, schema: TabularSchema) -> int:
        if isinstance(data, TableChunks):  # streamed: the header now, every value while conforming
            if schema.subject_id is not None:
                raise SchemaError(CHUNKS_NEED_ROW_UNITS)
            schema.check_columns(pd.DataFrame(columns=data.columns))
            return len(data)
        schema.check_columns(data)
        return schema.count_units(data)

    def _unit_label(self, schema: TabularSchema) -> str:
        return (f"subject ('{schema.subject_id}'): all rows of a subject are one unit"
                if schema.subject_id else "row (one row = one patient)")

    def _learn_public_values(self, data: pd.DataFrame, schema: TabularSchema, *, epsilon: float, delta: float,
                             ledger: PrivacyLedger) -> TabularSchema:
        if isinstance(data, TableChunks):
            raise SchemaError(CHUNKS_NEED_ROW_UNITS)
        return learn_public_values(data, schema, epsilon=epsilon, delta=delta, ledger=ledger)

    def _prepare(self, data: pd.DataFrame | TableChunks, schema: TabularSchema, codec: TabularCodec,
                 rng: np.random.Generator) -> Prepared:
        """A table in memory as every modality does; `TableChunks` a chunk at a time, the encoded
        rows appended to a `UnitFile` and the exact counts and clip reports added up."""
        if not isinstance(data, TableChunks):
            return super()._prepare(data, schema, codec, rng)
        store = UnitFile(1, codec.width, codec.condition_width)
        exact, report = np.zeros(0), ValidationReport()
        for chunk in tqdm(data, desc=f"encode {data.path.name}", unit="chunk", leave=False, disable=None,
                          total=math.ceil(len(data) / data.chunk_rows)):
            part = super()._prepare(chunk, schema, codec, rng)
            store.append(*part.units)
            exact = part.exact_counts + (exact if len(exact) else 0.0)
            report = report.merged(part.report)
        return Prepared(store, exact, report)

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

"""Tabular codec: a conformed table <-> a fixed-width float matrix, driven only by the schema.

Nothing here is fitted on data: every width, bin edge and category list comes from the
public schema, so changing a private record cannot change the transform (docs/privacy.md, rule 2).

Per column, the encoding is a list of *blocks*:

- categorical: one softmax block over the public categories (plus "missing" if nullable);
- numeric: an optional 2-way softmax block [present, missing] (nullable columns), a
  softmax block over ``n_bins`` equal-width *coarse* bins of the public range, and a
  softmax block over ``n_bins`` *fine* bins that split each coarse bin — ``n_bins²``
  levels in all (256 by default); decoding draws uniformly inside the fine bin. Integer
  columns with at most ``n_bins`` values get one bin per value and no fine block (exact).

Every block is a softmax: cross-entropy terms learn well under DP-SGD noise, a regressed
offset does not. A missing numeric encodes as [0, 1] with all-zero bins, so its bin terms
vanish from the loss. Generators condition on the target and the sensitive groups
(`encode_conditions`); `decode` samples rows and keeps each row consistent with its
condition cell (e.g. an "80+" age band yields an age in [80, upper]).

The schema's declared rules (`dpsynth.tabular.rules`) hold by construction: a derived column
(a mapping or sum target) has no block — it is computed from its inputs at decode — and a
range rule restricts the bins drawn and clips the value to the range of the row's category,
through the same path as the sensitive-attribute bands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from dpsynth.schema import MISSING_GROUP, CategoricalColumn, NumericColumn, SensitiveAttribute
from dpsynth.tabular.rules import MappingRule, RangeRule, SumRule, clip_to_range, derive, derived_columns
from dpsynth.tabular.schema import TabularSchema

BlockRole = Literal["category", "missing", "bin", "fine"]


@dataclass(frozen=True)
class Block:
    """A slice ``[start, start + size)`` of the encoded row for one column."""

    column: str
    role: BlockRole
    start: int
    size: int

    @property
    def stop(self) -> int:
        return self.start + self.size


class TabularCodec:
    """Schema-driven encoder/decoder for tabular data (see module docstring)."""

    def __init__(self, schema: TabularSchema, *, n_bins: int = 16):
        schema.require_public()
        self.schema = schema
        self.n_bins = n_bins
        self.blocks: list[Block] = []
        self._bin_edges: dict[str, np.ndarray] = {}
        derived = set(derived_columns(schema.rules))
        self.modelled = [c for c in schema.columns if c.name not in derived]
        self._ranges = {r.column: r for r in schema.rules if isinstance(r, RangeRule)}
        for col in self.modelled:
            if isinstance(col, CategoricalColumn):
                self._add(col.name, "category", len(col.categories or []) + int(col.nullable))
                continue
            if col.nullable:
                self._add(col.name, "missing", 2)
            span = col.upper - col.lower
            exact = col.integer and span + 1 <= n_bins
            k = int(span + 1) if exact else n_bins
            self._bin_edges[col.name] = (
                np.arange(col.lower - 0.5, col.upper + 1.0) if exact else np.linspace(col.lower, col.upper, k + 1))
            self._add(col.name, "bin", k)
            if not exact:
                self._add(col.name, "fine", n_bins)
        self.width = sum(b.size for b in self.blocks)
        self.condition_domains = schema.condition_domains()
        self.condition_width = sum(len(d) for d in self.condition_domains.values())

    def _add(self, column: str, role: BlockRole, size: int) -> None:
        start = self.blocks[-1].stop if self.blocks else 0
        self.blocks.append(Block(column, role, start, size))

    def blocks_of(self, column: str) -> dict[BlockRole, Block]:
        return {b.role: b for b in self.blocks if b.column == column}

    def counted_blocks(self) -> list[Block]:
        """The blocks a marginal measurement counts, in order: every block but the numeric
        columns' fine bins (they stay uniform within their coarse bin)."""
        return [b for b in self.blocks if b.role != "fine"]

    def measured_slices(self) -> tuple[list[slice], int]:
        """(the counted blocks' slices of the encoding, the index of the target's block among them)."""
        blocks = self.counted_blocks()
        target = next(i for i, b in enumerate(blocks) if b.column == self.schema.target)
        return [slice(b.start, b.stop) for b in blocks], target

    def complete_blocks(self) -> set[int]:
        """The indices, among `counted_blocks`, of the blocks every row fills (one cell each): a
        categorical column's, a missing flag, a non-nullable numeric column's bins (a nullable
        column's bins skip its missing rows)."""
        return {i for i, b in enumerate(self.counted_blocks())
                if b.role != "bin" or not self.schema.column(b.column).nullable}

    def condition_choices(self, cells: pd.DataFrame) -> dict[int, np.ndarray]:
        """For each counted block that a condition cell restricts (the target's, the sensitive
        groups' columns), keyed by its index among `counted_blocks`: which of its choices each of
        ``cells`` allows, float [cells, block size]."""
        masks = self.condition_masks(cells)
        return {i: masks[(b.column, b.role)].astype(float) for i, b in enumerate(self.counted_blocks())
                if (b.column, b.role) in masks}

    def pair_merges(self) -> list[str]:
        """How each counted block's cells merge in a target pair (`dpsynth.families.marginal.cell_groups`):
        a numeric column's bins as ordered runs, any other block's cells as categories."""
        return ["ordered" if b.role == "bin" else "categories" for b in self.counted_blocks()]

    # ------------------------------------------------------------------ encode
    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode a *conformed* frame (see `TabularSchema.conform`) to float32 [n, width];
        derived columns are not encoded (they follow from their inputs)."""
        out = np.zeros((len(frame), self.width), dtype=np.float32)
        rows = np.arange(len(frame))
        for col in self.modelled:
            blocks = self.blocks_of(col.name)
            values = frame[col.name]
            missing = values.isna().to_numpy()
            if isinstance(col, CategoricalColumn):
                lookup = {c: i for i, c in enumerate(col.categories or [])}
                idx = values.map(lookup).to_numpy(dtype=float)
                idx[missing] = len(lookup)  # the trailing "missing" slot (nullable columns only)
                out[rows, blocks["category"].start + idx.astype(int)] = 1.0
                continue
            if "missing" in blocks:
                out[rows, blocks["missing"].start + missing.astype(int)] = 1.0
            present = rows[~missing]
            x = values.to_numpy(float)[~missing]
            edges = self._bin_edges[col.name]
            k = blocks["bin"].size
            idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, k - 1)
            out[present, blocks["bin"].start + idx] = 1.0
            if "fine" in blocks:
                within = (x - edges[idx]) / (edges[idx + 1] - edges[idx])
                fine = np.clip(np.floor(within * self.n_bins).astype(int), 0, self.n_bins - 1)
                out[present, blocks["fine"].start + fine] = 1.0
        return out

    def encode_conditions(self, groups: pd.DataFrame) -> np.ndarray:
        """One-hot of the condition cells (columns: target, then sensitive attribute names)."""
        out = np.zeros((len(groups), self.condition_width), dtype=np.float32)
        offset = 0
        for name, domain in self.condition_domains.items():
            lookup = {g: i for i, g in enumerate(domain)}
            idx = groups[name].astype(str).map(lookup)
            if idx.isna().any():
                bad = sorted(groups[name][idx.isna()].astype(str).unique())[:3]
                raise ValueError(f"condition '{name}' has value(s) {bad!r} outside its domain {domain!r}")
            out[np.arange(len(groups)), offset + idx.to_numpy(int)] = 1.0
            offset += len(domain)
        return out

    # -------------------------------------------------------------------- loss
    def row_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Reconstruction loss per row (all leading dims kept): the sum over blocks of the
        softmax cross-entropy (all-zero targets — bins of a missing value — add nothing)."""
        loss = output.new_zeros(output.shape[:-1])
        for b in self.blocks:
            logp = F.log_softmax(output[..., b.start:b.stop], dim=-1)
            loss = loss - (target[..., b.start:b.stop] * logp).sum(-1)
        return loss

    # ------------------------------------------------------------------ decode
    def decode(self, output: np.ndarray, cells: pd.DataFrame, *, rng: np.random.Generator) -> pd.DataFrame:
        """Sample a table from decoder outputs [n, width], consistent with each row's cell.

        Softmax blocks are sampled (Gumbel-max) after masking the choices the condition
        cell rules out; a numeric value is drawn uniformly inside its fine bin, clipped to
        the public bounds and rounded to the column's declared precision (whole numbers for
        integer columns, ``decimals`` places if set) — all post-processing. Categorical
        columns come first, then the mapping targets, then the numeric columns (a range rule
        reads its row's category), then the sum targets.
        """
        n = output.shape[0]
        cells = cells.reset_index(drop=True)
        result: dict[str, np.ndarray] = {}
        masks = self.condition_masks(cells)
        for col in self.modelled:
            if isinstance(col, CategoricalColumn):
                b = self.blocks_of(col.name)["category"]
                idx = _gumbel_argmax(output[:, b.start:b.stop], masks.get((col.name, "category")), rng)
                domain = np.array(list(col.categories or []) + [np.nan], dtype=object)
                result[col.name] = domain[idx]
        rules = self.schema.rules
        frame = derive([r for r in rules if isinstance(r, MappingRule)], pd.DataFrame(result, index=range(n)),
                       self.schema.columns)
        for col in self.modelled:
            if isinstance(col, NumericColumn):
                frame[col.name] = self._decode_numeric(col, output, cells, frame, masks, rng)
        frame = derive([r for r in rules if isinstance(r, SumRule)], frame, self.schema.columns)
        return frame[self.schema.names]

    def _decode_numeric(self, col: NumericColumn, output: np.ndarray, cells: pd.DataFrame, frame: pd.DataFrame,
                        masks: dict[tuple[str, BlockRole], np.ndarray], rng: np.random.Generator) -> np.ndarray:
        """One numeric column: missing or not, a bin allowed by the cell and the column's range
        rule, a uniform draw inside its fine bin, clipped to the bands, the bounds and the range."""
        n = output.shape[0]
        blocks = self.blocks_of(col.name)
        missing = np.zeros(n, dtype=bool)
        if "missing" in blocks:
            b = blocks["missing"]
            missing = _gumbel_argmax(output[:, b.start:b.stop], masks.get((col.name, "missing")), rng) == 1
        b = blocks["bin"]
        edges = self._bin_edges[col.name]
        allowed = masks.get((col.name, "bin"))
        rule = self._ranges.get(col.name)
        lo = hi = None
        if rule is not None:
            lo, hi = rule.limits(frame[rule.by].to_numpy(object), col.lower, col.upper)
            in_range = _overlaps(edges[None, :], lo, hi)
            allowed = in_range if allowed is None else allowed & in_range
        idx = _gumbel_argmax(output[:, b.start:b.stop], allowed, rng)
        if "fine" in blocks:
            b = blocks["fine"]
            fine_allowed = None
            if rule is not None:  # the fine bins of the drawn bin that meet the range
                steps = np.arange(self.n_bins + 1) / self.n_bins
                fine_edges = edges[idx, None] + steps[None, :] * (edges[idx + 1] - edges[idx])[:, None]
                fine_allowed = _overlaps(fine_edges, lo, hi)
            fine = _gumbel_argmax(output[:, b.start:b.stop], fine_allowed, rng)
            pos = (fine + rng.uniform(size=n)) / self.n_bins
        else:
            pos = np.full(n, 0.5)
        values = edges[idx] + pos * (edges[idx + 1] - edges[idx])
        values = self._clip_to_bands(col, values, cells)
        values = col.rounded(np.clip(values, col.lower, col.upper))
        if rule is not None:  # the declared range wins over a band it contradicts
            values = clip_to_range(col, values, lo, hi)
        values[missing] = np.nan
        return values

    def _attribute_on(self, column: str) -> list[SensitiveAttribute]:
        return [a for a in self.schema.sensitive if a.column == column]

    def condition_masks(self, cells: pd.DataFrame) -> dict[tuple[str, BlockRole], np.ndarray]:
        """Boolean [n, size] masks of the choices allowed by each row's condition cell."""
        masks: dict[tuple[str, BlockRole], np.ndarray] = {}

        def restrict(key: tuple[str, BlockRole], allowed: np.ndarray) -> None:
            masks[key] = masks[key] & allowed if key in masks else allowed

        target = self.schema.column(self.schema.target)
        cats = np.array(target.categories, dtype=object)
        restrict((target.name, "category"), cells[self.schema.target].to_numpy(object)[:, None] == cats[None, :])
        for attr in self.schema.sensitive:
            col = self.schema.column(attr.column)
            labels = cells[attr.name].to_numpy(object)
            is_missing = labels == MISSING_GROUP
            if isinstance(col, CategoricalColumn):
                lookup = {c: g for g, cs in (attr.groups or {}).items() for c in cs}
                group_of = np.array([lookup.get(c, c) for c in col.categories or []] +
                                    ([MISSING_GROUP] if col.nullable else []), dtype=object)
                restrict((col.name, "category"), labels[:, None] == group_of[None, :])
                continue
            if col.nullable:
                restrict((col.name, "missing"), np.stack([~is_missing, is_missing], axis=1))
            edges = self._bin_edges[col.name]
            lo_band, hi_band = self._band_limits(attr, labels)
            overlaps = (edges[None, 1:] > lo_band[:, None]) & (edges[None, :-1] < hi_band[:, None])
            overlaps[is_missing] = True
            restrict((col.name, "bin"), overlaps)
        return masks

    @staticmethod
    def _band_limits(attr: SensitiveAttribute, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lookup = {lab: (lo, hi) for lab, lo, hi in zip(attr.labels or [], attr.bins[:-1], attr.bins[1:])}
        lo = np.array([lookup.get(lab, (-np.inf, np.inf))[0] for lab in labels], dtype=float)
        hi = np.array([lookup.get(lab, (-np.inf, np.inf))[1] for lab in labels], dtype=float)
        return lo, hi

    def _clip_to_bands(self, col: NumericColumn, values: np.ndarray, cells: pd.DataFrame) -> np.ndarray:
        for attr in self._attribute_on(col.name):
            lo, hi = self._band_limits(attr, cells[attr.name].to_numpy(object))
            # Bands are right-open (stay below the upper edge; one unit for integers), except
            # the last, which is closed.
            below = hi - (1.0 if col.integer else 1e-6 * np.maximum(1.0, np.abs(hi)))
            top = np.where(hi >= attr.bins[-1], hi, below)
            values = np.minimum(np.maximum(values, lo), top)
        return values


def _overlaps(edges: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """[n, k] whether each of the k bins (``edges``: [n or 1, k + 1], right-open) meets the
    row's closed range [lo, hi]."""
    return (edges[:, 1:] > lo[:, None]) & (edges[:, :-1] <= hi[:, None])


def _gumbel_argmax(logits: np.ndarray, allowed: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """Sample an index per row from softmax(logits), restricted to ``allowed`` choices."""
    scores = logits - np.log(-np.log(rng.uniform(1e-12, 1.0, size=logits.shape)))
    if allowed is not None:
        none_allowed = ~allowed.any(axis=1)
        allowed = allowed | none_allowed[:, None]
        scores = np.where(allowed, scores, -np.inf)
    return np.argmax(scores, axis=1)

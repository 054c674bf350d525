"""A fixed numeric encoding of conformed tabular frames, shared by the fidelity detector
and the memorisation distances.

Numeric columns are scaled by their *public* range from the schema, ``(x - lower) /
(upper - lower)``; categorical columns are one-hot over the schema's categories, with
missing as a category of its own (nullable columns only: a conformed frame has no missing
cell in a non-nullable column). Because the encoding comes from the schema, real and
synthetic rows land in the same space and no statistic is fitted on either of them.

Where a schema leaves bounds or categories unset (a draft that was never made public),
the audit falls back to the range / categories observed across the frames it is given.
That is acceptable here only because the audit is not DP anyway (privacy contract,
rule 7); it is never acceptable in a generator.

Two ways to treat a missing numeric value:

- ``missing="native"``: keep ``NaN`` (tree models such as HistGradientBoosting route it);
- ``missing="indicator"``: fill with 0.5 (mid-range) and, for nullable columns, add a 0/1
  "is missing" column, for distance computations, which cannot take ``NaN``.

``categorical_weight`` scales the one-hot columns. With ``0.5`` and the L1 (Manhattan)
metric, two rows that differ in one category are at distance 1, and a numeric column
contributes at most 1: the distance is a Gower-style sum over columns.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from dpsynth.schema import CategoricalColumn, NumericColumn
from dpsynth.tabular.schema import TabularSchema

MISSING_CATEGORY = "__missing__"


def numeric_range(schema: TabularSchema, name: str, *frames: pd.DataFrame) -> tuple[float, float]:
    """Public ``(lower, upper)`` of a numeric column; observed range only when the schema has none.

    A degenerate range (upper == lower) is widened to width 1 so that scaling never divides
    by zero.
    """
    col = schema.column(name)
    lower, upper = getattr(col, "lower", None), getattr(col, "upper", None)
    if lower is None or upper is None:
        values = pd.concat([f[name] for f in frames]).astype(float).dropna()
        if lower is None:
            lower = float(values.min()) if len(values) else 0.0
        if upper is None:
            upper = float(values.max()) if len(values) else float(lower) + 1.0
    lower, upper = float(lower), float(upper)
    if not upper > lower:
        upper = lower + 1.0
    return lower, upper


def category_levels(schema: TabularSchema, name: str, *frames: pd.DataFrame) -> list[str]:
    """Categories of a column from the schema (observed ones only when the schema has none)."""
    col = schema.column(name)
    if col.categories:
        return list(col.categories)
    seen = pd.concat([f[name] for f in frames]).dropna().astype(str).unique()
    return sorted(seen)


def encode(
    frames: list[pd.DataFrame],
    *,
    schema: TabularSchema,
    columns: list[str] | None = None,
    missing: Literal["native", "indicator"] = "native",
    categorical_weight: float = 1.0,
) -> list[np.ndarray]:
    """Encode each of ``frames`` (conformed) into float matrices with identical columns.

    The encoding is decided once from the schema (and, for unset schema values, from all
    ``frames`` together) so that every returned matrix has the same columns in the same order.
    """
    names = columns if columns is not None else schema.names
    blocks: list[list[np.ndarray]] = [[] for _ in frames]
    for name in names:
        col = schema.column(name)
        if isinstance(col, NumericColumn):
            lower, upper = numeric_range(schema, name, *frames)
            for out, frame in zip(blocks, frames):
                x = (frame[name].to_numpy(float) - lower) / (upper - lower)
                if missing == "indicator":
                    isna = np.isnan(x)
                    out.append(np.where(isna, 0.5, x)[:, None])
                    if col.nullable:
                        out.append(isna.astype(float)[:, None])
                else:
                    out.append(x[:, None])
        elif isinstance(col, CategoricalColumn):
            levels = category_levels(schema, name, *frames) + ([MISSING_CATEGORY] if col.nullable else [])
            for out, frame in zip(blocks, frames):
                values = frame[name].astype(object).where(frame[name].notna(), MISSING_CATEGORY)
                codes = pd.Categorical(values.astype(str), categories=levels).codes
                onehot = np.zeros((len(frame), len(levels)))
                known = codes >= 0  # a level outside the schema cannot occur in a conformed frame
                onehot[np.flatnonzero(known), codes[known]] = categorical_weight
                out.append(onehot)
    return [np.hstack(b) if b else np.zeros((len(f), 0)) for b, f in zip(blocks, frames)]


def sample_positions(n: int, *, max_rows: int | None, rng: np.random.Generator) -> np.ndarray:
    """Positions of at most ``max_rows`` of ``n`` rows (seeded, without replacement, sorted)."""
    if max_rows is None or n <= max_rows:
        return np.arange(n)
    return np.sort(rng.choice(n, size=max_rows, replace=False))

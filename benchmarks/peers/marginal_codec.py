"""A table as category codes for the marginal-method peers (AIM, MST), from the PUBLIC schema only.

AIM and MST model discrete columns. Each column becomes codes 0..k-1:

- a numeric column: 16 equal-width bins on the schema's public ``[lower, upper]`` (values are
  first conformed to the schema, so they lie inside the bounds); a nullable column gets one
  more code, ``k - 1``, for a missing value;
- a categorical column: the index of its value in the schema's public category list; a
  nullable column gets one more code for a missing value.

Back (`decode`): a bin becomes a uniform draw inside the bin, rounded to the column's
precision (`NumericColumn.rounded`: integers whole, ``decimals`` honoured); a category code
becomes its category. The bin edges and the domain sizes come from the schema alone, nothing
is learnt from the private rows, so the codec spends no privacy budget and the mechanism's ε
is the whole story for these steps. Decoding only touches the mechanism's output, so its
draws use a seeded generator (post-processing).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dpsynth.schema import CategoricalColumn, NumericColumn

N_BINS = 16
NOT_PUBLIC = ("column '{column}' has no public {what} in the schema; the marginal peers bin on public "
              "values only: declare them (public: true) or drop the column before running the peers")


def domain_sizes(schema, bins: int = N_BINS) -> dict[str, int]:
    """Number of codes per column, from the schema alone."""
    sizes = {}
    for column in schema.columns:
        if isinstance(column, NumericColumn):
            if not column.public or column.lower is None or column.upper is None:
                raise ValueError(NOT_PUBLIC.format(column=column.name, what="bounds"))
            sizes[column.name] = bins + int(column.nullable)
        elif isinstance(column, CategoricalColumn):
            if not column.public or not column.categories:
                raise ValueError(NOT_PUBLIC.format(column=column.name, what="categories"))
            sizes[column.name] = len(column.categories) + int(column.nullable)
        else:  # pragma: no cover - the tabular schema has only these two kinds
            raise ValueError(f"column '{column.name}': kind {column.kind!r} has no marginal code")
    return sizes


def edges(column: NumericColumn, bins: int = N_BINS) -> np.ndarray:
    """The ``bins + 1`` equal-width bin edges on the column's public bounds."""
    return np.linspace(float(column.lower), float(column.upper), bins + 1)


def encode(frame: pd.DataFrame, schema, bins: int = N_BINS) -> pd.DataFrame:
    """The schema's columns of ``frame`` as integer codes (see the module docstring)."""
    sizes = domain_sizes(schema, bins)
    conformed = schema.conform(frame)[0]
    out = pd.DataFrame(index=range(len(conformed)))
    for column in schema.columns:
        values = conformed[column.name].reset_index(drop=True)
        missing = values.isna().to_numpy()
        if isinstance(column, NumericColumn):
            x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            width = (float(column.upper) - float(column.lower)) / bins
            codes = np.clip(np.floor((np.nan_to_num(x, nan=float(column.lower)) - column.lower) / width), 0, bins - 1)
        else:
            index = {category: i for i, category in enumerate(column.categories)}
            codes = values.map(lambda v: index.get(v, -1)).to_numpy(dtype=float)
        codes = np.where(missing, sizes[column.name] - 1, codes).astype(int)
        out[column.name] = codes
    return out


def decode(codes: pd.DataFrame, schema, *, seed: int, bins: int = N_BINS) -> pd.DataFrame:
    """Codes back to a table of the schema's columns (a bin → a uniform draw inside it)."""
    sizes = domain_sizes(schema, bins)
    rng = np.random.default_rng(seed)
    out = pd.DataFrame(index=range(len(codes)))
    for column in schema.columns:
        if column.name not in codes:
            raise ValueError(f"the peer's output has no column '{column.name}'; it must return every schema column")
        code = pd.to_numeric(codes[column.name], errors="coerce").to_numpy()
        bad = np.isnan(code) | (code < 0) | (code >= sizes[column.name])
        if bad.any():
            raise ValueError(f"column '{column.name}': the peer returned codes outside 0..{sizes[column.name] - 1}")
        code = code.astype(int)
        missing = column.nullable & (code == sizes[column.name] - 1)
        if isinstance(column, NumericColumn):
            bin_edges = edges(column, bins)
            k = np.minimum(code, bins - 1)
            values = rng.uniform(bin_edges[k], bin_edges[k + 1])
            values = column.rounded(np.clip(values, column.lower, column.upper))
            out[column.name] = np.where(missing, np.nan, values)
        else:
            categories = np.asarray(column.categories + [None], dtype=object)
            out[column.name] = pd.Series(np.where(missing, None, categories[np.minimum(code, len(column.categories))]),
                                         dtype=object)
    return out

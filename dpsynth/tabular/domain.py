"""Learn missing public values (bounds, category domains) with DP mechanisms, on the ledger.

The tabular schema's DP learning step (series and image schemas learn through their static
`TabularSchema`). Used only when the user opts in with a budget share; otherwise a schema with non-public
values is refused (docs/privacy.md, rule 2). Each column learned is one ledger entry.
One row per privacy unit is used (the first), so each unit contributes one value.

- numeric bounds: `dp_bounds` (ε-DP; coarse power-of-two bins, then exponential-mechanism
  0.5 % / 99.5 % quantiles). Values outside the learned bounds are clipped and counted.
- category domains: Laplace partition selection ((ε, δ)-DP). Categories too rare to pass
  the threshold are not released; rows holding them become missing (counted).

A column marked ``public: false`` (what `dpsynth.tabular.schema.draft_schema` writes) has its
``nullable`` and ``integer`` flags drafted from the data too; learning replaces them with
values that read no data (nullable, not integer), so the released schema depends on the
private data only through the DP outputs. A user's ``public: true`` confirms them.
"""

from __future__ import annotations

import copy

import pandas as pd

from dpsynth.errors import SchemaError
from dpsynth.privacy.ledger import LedgerEntry, PrivacyLedger
from dpsynth.privacy.mechanisms import dp_bounds, partition_threshold, select_partitions
from dpsynth.schema import CategoricalColumn, NumericColumn, canonical_category
from dpsynth.tabular.schema import TabularSchema


BOUNDS_NOT_LEARNED = (
    "column '{column}': its DP bounds could not be learned with epsilon={epsilon:.3g} (no value range "
    "stands out from the noise); give public bounds for it in the schema (public: true) or pass a "
    "larger --learn-domain-share")


def _one_row_per_unit(data: pd.DataFrame, subject_id: str | None) -> pd.DataFrame:
    return data if subject_id is None else data.drop_duplicates(subset=subject_id, keep="first")


def learn_public_values(
    data: pd.DataFrame, schema: TabularSchema, *, epsilon: float, delta: float, ledger: PrivacyLedger
) -> TabularSchema:
    """Return a copy of ``schema`` whose non-public bounds/domains are replaced by DP estimates.

    ε (and δ, used by partition selection only) is split evenly over the columns to learn,
    and each column is charged before its mechanism runs.
    """
    for attr in schema.sensitive:
        if not attr.public:
            raise SchemaError(
                f"sensitive attribute '{attr.name}': its band edges / groups must be public "
                "(they define the audited subgroups); edit them and set public: true")
    todo = [c for c in schema.columns if c.missing_public_values()]
    if not todo:
        return schema
    rows = _one_row_per_unit(data, schema.subject_id)
    n_categorical = sum(isinstance(c, CategoricalColumn) for c in todo)
    eps_each = epsilon / len(todo)
    delta_each = delta / n_categorical if n_categorical else 0.0
    learned = copy.deepcopy(schema)
    for col in todo:
        new = learned.column(col.name)
        if isinstance(new, NumericColumn):
            _learn_bounds(rows[col.name], new, eps_each, ledger)
        else:
            _learn_categories(rows[col.name], new, eps_each, delta_each, ledger,
                              is_target=col.name == schema.target)
    return learned


def _learn_bounds(values: pd.Series, col: NumericColumn, epsilon: float, ledger: PrivacyLedger) -> None:
    ledger.charge(LedgerEntry(
        mechanism="dp-bounds", purpose=f"bounds of column '{col.name}'", epsilon=epsilon, delta=0.0,
        params={"method": "power-of-two noisy histogram (eps/2) + exponential-mechanism quantiles "
                          "0.005/0.995 (eps/4 each)", "sensitivity": 1.0}))
    present = pd.to_numeric(values, errors="coerce").dropna().to_numpy(float)
    bounds = dp_bounds(present, epsilon=epsilon)
    if bounds is None:
        raise SchemaError(BOUNDS_NOT_LEARNED.format(column=col.name, epsilon=epsilon))
    if not col.public:  # drafted flags are data-derived: replace them without reading the data
        col.nullable, col.integer = True, False
    col.lower, col.upper = bounds
    col.public, col.out_of_bounds = True, "clip"


def _learn_categories(values: pd.Series, col: CategoricalColumn, epsilon: float, delta: float,
                      ledger: PrivacyLedger, *, is_target: bool) -> None:
    ledger.charge(LedgerEntry(
        mechanism="laplace-partition-selection", purpose=f"categories of column '{col.name}'",
        epsilon=epsilon, delta=delta,
        params={"threshold": partition_threshold(epsilon, delta), "noise_scale": 1.0 / epsilon,
                "sensitivity": 1.0}))
    counts = values.dropna().map(canonical_category).value_counts()
    kept = select_partitions({str(k): int(v) for k, v in counts.items()}, epsilon=epsilon, delta=delta)
    if is_target and len(kept) != 2:
        raise SchemaError(
            f"learning the categories of target '{col.name}' kept {len(kept)} value(s) {kept!r}; "
            "give the target's two categories in the schema (they are public)")
    if not kept:
        raise SchemaError(f"column '{col.name}': no category is frequent enough to release under DP; "
                          "give its categories in the schema or drop the column")
    col.categories, col.public = kept, True
    if not is_target:
        col.nullable, col.unseen = True, "missing"

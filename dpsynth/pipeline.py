"""Library functions behind the CLI: generate a release bundle, audit a synthetic table.

A *release bundle* (what may leave the hospital) is one folder::

    synthetic.csv | synthetic.parquet   the synthetic rows
    privacy_card.json                   ε, δ, accountant, ledger, DP-SGD parameters, ...
    model/config.json, model/weights.pt the generator (DP post-processing; JSON + state_dict)

The audit reads real data, is not DP, and is written to a separate folder (rule 7).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dpsynth import registry
from dpsynth.errors import BudgetError, SchemaError
from dpsynth.io import read_table, table_format, write_table
from dpsynth.privacy.budget import PrivacyBudget, default_delta
from dpsynth.privacy.card import write_card
from dpsynth.privacy.conditions import NOISY
from dpsynth.schema import TabularSchema

NO_ROWS = ("--rows is required when the condition mix is uniform (condition_share=0): the number "
           "of synthetic rows would otherwise come from the private row count")


@dataclass
class GenerateResult:
    synthetic_path: Path
    card_path: Path
    model_dir: Path
    card: dict[str, Any]
    synthetic: pd.DataFrame
    data_report: Any  # clips and unseen-to-missing counts: for the operator, not for release


def _as_frame(data: pd.DataFrame | str | Path) -> pd.DataFrame:
    return data if isinstance(data, pd.DataFrame) else read_table(data)


def _as_schema(schema: TabularSchema | str | Path) -> TabularSchema:
    return schema if isinstance(schema, TabularSchema) else TabularSchema.load(schema)


def generate(
    *,
    data: pd.DataFrame | str | Path,
    schema: TabularSchema | str | Path,
    generator: str,
    epsilon: float,
    delta: float | None = None,
    rows: int | None = None,
    seed: int = 0,
    out_dir: str | Path,
    synthetic_name: str = "synthetic.csv",
    learn_domain_share: float | None = None,
    params: dict[str, Any] | None = None,
    progress: bool = True,
) -> GenerateResult:
    """Fit ``generator`` on private ``data`` within (ε, δ), sample, and write the release bundle.

    ``delta=None`` picks ``min(1e-5, 1/n^1.1)`` — the dataset size n is then treated as
    public, and the card says so. ``rows=None`` samples as many rows as the (unclipped)
    DP condition counts add up to (post-processing), never the exact private count.
    """
    table_format(synthetic_name)  # fail on a bad extension before any training
    frame = _as_frame(data)
    schema = _as_schema(schema)
    if len(frame) == 0:
        raise SchemaError("the data has no rows")
    if rows is not None and rows <= 0:
        raise SchemaError(f"--rows must be a positive integer (got {rows})")
    delta_source = "user"
    if delta is None:
        delta = default_delta(schema.count_units(frame))
        delta_source = "default min(1e-5, 1/n^1.1), n treated as public"
    budget = PrivacyBudget(epsilon, delta)
    model = registry.create(generator, schema, **(params or {}))
    model.fit(frame, budget=budget, learn_domain_share=learn_domain_share, random_state=seed, progress=progress)
    if rows is None:
        if model.training.condition_share == 0:
            raise BudgetError(NO_ROWS)
        rows = max(1, int(round(float(model.condition_table_[NOISY].sum()))))
    synthetic = model.sample(rows, random_state=seed + 1)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    synthetic_path = write_table(synthetic, out / synthetic_name)
    model_dir = model.save(out / "model")
    card = model.privacy_card() | {"delta_source": delta_source, "rows_released": int(rows),
                                   "synthetic_file": synthetic_path.name}
    card_path = write_card(card, out / "privacy_card.json")
    return GenerateResult(synthetic_path, card_path, model_dir, card, synthetic, model.data_report_)


def run_audit(
    *,
    train: pd.DataFrame | str | Path,
    holdout: pd.DataFrame | str | Path,
    synthetic: pd.DataFrame | str | Path,
    schema: TabularSchema | str | Path,
    out_dir: str | Path,
    card: dict[str, Any] | str | Path | None = None,
    config: Any = None,
    progress: bool = True,
):
    """Audit any synthetic table with the schema's columns against real train and holdout."""
    from dpsynth.validators import audit

    metadata: dict[str, Any] = {}
    if card is not None:
        metadata["privacy_card"] = card
    for name, value in (("train", train), ("holdout", holdout), ("synthetic", synthetic)):
        if not isinstance(value, pd.DataFrame):
            metadata[f"{name}_name"] = Path(value).name
    report = audit(train=_as_frame(train), holdout=_as_frame(holdout), synthetic=_as_frame(synthetic),
                   schema=_as_schema(schema), config=config, metadata=metadata, progress=progress)
    report.write(out_dir)
    return report

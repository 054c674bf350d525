"""What every validator receives, and the tidy row format every validator returns.

The audit compares real train, real holdout and synthetic data. All three are conformed
to the schema once (`TabularSchema.conform`) and get their subgroup labels once, here,
so validators never re-check inputs. The audit reads real data and is NOT differentially
private; its outputs must never go into a release bundle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dpsynth.tabular.schema import TabularSchema

# Columns of the tidy result frame: one row per (validator, model, metric, attribute, group).
RESULT_COLUMNS = [
    "validator",   # "utility" | "fairness" | "fidelity" | "representation" | "memorisation" | "membership"
    "model",       # downstream model ("logreg", "gboost"), detector, attack ("domias", ...), or "" ...
    "source",      # "TSTR" (trained on synthetic), "TRTR" (trained on real), "change", or "" ...
    "metric",      # e.g. "auroc", "tpr", "equalized_odds_difference", "tvd", "dcr_ratio"
    "attribute",   # sensitive attribute name, "a×b" for an intersection, or "overall"
    "group",       # group label, or "" for whole-population / between-group metrics
    "feature",     # column name for per-column fidelity metrics; "members=m,nonmembers=k" for membership; else ""
    "value",
    "ci_low",      # bootstrap percentile interval (NaN when not computed)
    "ci_high",
    "n",           # rows the metric was computed on (holdout rows for utility/fairness)
    "flag",        # "" or a short reason, e.g. "small_group" (n < min_group_size)
]


@dataclass
class AuditConfig:
    """Fixed, a-priori audit settings (no tuning on real data)."""

    min_group_size: int = 30
    n_bootstrap: int = 200
    confidence: float = 0.95
    intersections: bool = True
    max_rows: int | None = 20000  # subsample each table above this many rows (seeded)
    random_state: int = 0


@dataclass
class AuditContext:
    """Conformed real train / holdout / synthetic frames plus their subgroup labels."""

    schema: TabularSchema
    train: pd.DataFrame
    holdout: pd.DataFrame
    synthetic: pd.DataFrame
    config: AuditConfig = field(default_factory=AuditConfig)

    def __post_init__(self) -> None:
        self.train_groups = self.schema.group_labels(self.train)
        self.holdout_groups = self.schema.group_labels(self.holdout)
        self.synthetic_groups = self.schema.group_labels(self.synthetic)

    @property
    def attributes(self) -> list[str]:
        """Sensitive attribute names, plus their intersections ("a×b") when configured."""
        names = [a.name for a in self.schema.sensitive]
        if self.config.intersections and len(names) >= 2:
            names += [f"{a}×{b}" for i, a in enumerate(names) for b in names[i + 1:]]
        return names

    def groups_of(self, frame: str, attribute: str) -> pd.Series:
        """Group label per row of ``frame`` ("train" | "holdout" | "synthetic") for an attribute
        or an intersection "a×b" (labels joined with " & ")."""
        labels = {"train": self.train_groups, "holdout": self.holdout_groups,
                  "synthetic": self.synthetic_groups}[frame]
        parts = attribute.split("×")
        out = labels[parts[0]].astype(str)
        for part in parts[1:]:
            out = out + " & " + labels[part].astype(str)
        return out

    def feature_names(self) -> list[str]:
        """Model inputs for downstream models: every schema column except the target."""
        return [c for c in self.schema.names if c != self.schema.target]

    def labels(self, frame: pd.DataFrame) -> np.ndarray:
        """Binary outcome (1 = the schema's positive label)."""
        return (frame[self.schema.target].astype(str) == self.schema.positive).to_numpy(int)

    def rng(self, salt: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.config.random_state, salt])


def result_frame(rows: list[dict]) -> pd.DataFrame:
    """Build a tidy result frame with every column of RESULT_COLUMNS (missing ones filled)."""
    frame = pd.DataFrame(rows)
    for col in RESULT_COLUMNS:
        if col not in frame:
            frame[col] = np.nan if col in ("value", "ci_low", "ci_high", "n") else ""
    return frame[RESULT_COLUMNS]

"""What every validator receives, and the tidy row format every validator returns.

The audit compares real train, real holdout and synthetic data. All three are conformed
to the schema once (`TabularSchema.conform`) and get their subgroup labels once, here,
so validators never re-check inputs. The audit reads real data and is NOT differentially
private; its outputs must never go into a release bundle.

Minimum holdout sizes, all from ``config.min_group_size`` (m, default 30): a group needs m
holdout rows (else ``small_group``), each outcome class (the positive one and the rest) m
rows (else ``few_holdout_positives`` / ``few_holdout_negatives``), and the whole holdout
``HOLDOUT_MIN_FACTOR`` x m rows (else ``small_holdout``). Rows computed below these sizes
are reported with their flags, to be read as "too few rows to judge".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dpsynth.tabular.schema import TabularSchema

HOLDOUT_MIN_FACTOR = 2  # the holdout's minimum size, in units of min_group_size
SMALL_HOLDOUT = "small_holdout"
FEW_POSITIVES = "few_holdout_positives"
FEW_NEGATIVES = "few_holdout_negatives"
ABSENT_IN_HOLDOUT = "absent_in_holdout"
INTERSECTION_JOIN = " & "  # how `AuditContext.groups_of` joins the labels of an intersection

# Columns of the tidy result frame: one row per (validator, model, metric, attribute, group).
RESULT_COLUMNS = [
    "validator",   # "utility" | "fairness" | "fidelity" | "representation" | "memorisation" | "rules" | "membership"
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
            out = out + INTERSECTION_JOIN + labels[part].astype(str)
        return out

    def ordered_groups(self, attribute: str, *labels: np.ndarray | pd.Series) -> list[str]:
        """Groups of ``attribute`` that occur in any of ``labels``, in the schema's domain order.

        Intersections follow the product of the domains; labels outside the public domain
        (which a conformed frame cannot produce) come last, sorted.
        """
        domains = self.schema.condition_domains()
        order = [""]
        for part in attribute.split("×"):
            domain = [str(d) for d in domains.get(part, [])]
            order = [f"{o}{INTERSECTION_JOIN}{d}" if o else d for o in order for d in domain]
        present: set[str] = set()
        for values in labels:
            present.update(str(v) for v in pd.unique(np.asarray(values, dtype=object)))
        known = [g for g in order if g in present]
        return known + sorted(present - set(order))

    def absent_from_holdout(self) -> dict[str, list[str]]:
        """attribute -> the groups with no holdout row although the schema's domain (a single
        attribute) or the real train rows (any attribute or intersection) hold them, in domain
        order; attributes with none are left out. Their holdout metrics cannot be computed."""
        domains = self.schema.condition_domains()
        out = {}
        for attribute in self.attributes:
            expected = self.ordered_groups(attribute, self.groups_of("train", attribute),
                                           [str(d) for d in domains.get(attribute, [])])
            present = set(self.groups_of("holdout", attribute))
            absent = [g for g in expected if g not in present]
            if absent:
                out[attribute] = absent
        return out

    def holdout_flags(self, *, classes: bool = True) -> str:
        """The flags of every row scored on the whole holdout: ``small_holdout`` below
        `min_holdout_size` rows and, with ``classes``, ``few_holdout_positives`` /
        ``few_holdout_negatives`` below ``min_group_size`` rows of a class; ``""`` if none."""
        y = self.labels(self.holdout)
        flags = [SMALL_HOLDOUT if len(y) < min_holdout_size(self.config) else ""]
        if classes:
            flags += [FEW_POSITIVES if y.sum() < self.config.min_group_size else "",
                      FEW_NEGATIVES if len(y) - y.sum() < self.config.min_group_size else ""]
        return ";".join(f for f in flags if f)

    def feature_names(self) -> list[str]:
        """Model inputs for downstream models: every schema column except the target."""
        return [c for c in self.schema.names if c != self.schema.target]

    def labels(self, frame: pd.DataFrame) -> np.ndarray:
        """Binary outcome (1 = the schema's positive label)."""
        return (frame[self.schema.target].astype(str) == self.schema.positive).to_numpy(int)

    def rng(self, salt: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.config.random_state, salt])


def min_holdout_size(config: AuditConfig) -> int:
    """Fewest holdout rows the audit judges on: ``HOLDOUT_MIN_FACTOR`` x ``min_group_size``
    (room for a minimum-size group of each outcome class)."""
    return HOLDOUT_MIN_FACTOR * config.min_group_size


def result_frame(rows: list[dict]) -> pd.DataFrame:
    """Build a tidy result frame with every column of RESULT_COLUMNS (missing ones filled)."""
    frame = pd.DataFrame(rows)
    for col in RESULT_COLUMNS:
        if col not in frame:
            frame[col] = np.nan if col in ("value", "ci_low", "ci_high", "n") else ""
    return frame[RESULT_COLUMNS]

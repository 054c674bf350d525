"""Declared rules in the audit: the share of rows that keep each rule of the schema.

A tabular schema may declare public rules between columns (`dpsynth.tabular.rules`: a mapping,
a range per category, a sum). dpsynth's generators keep them by construction; synthetic data
from any other tool may not. For each rule this step reports ``rule_share`` — the share of rows
that keep it — in the real train data, the real holdout and the synthetic data (``source``),
with the rule's label as ``feature``. The synthetic row carries the flag ``rule_broken`` when
its share is below the real train share: the synthetic data break a relation the real data keep.
A schema without rules adds no rows.
"""

from __future__ import annotations

import pandas as pd

from dpsynth.validators.context import AuditContext, result_frame

VALIDATOR = "rules"
METRIC = "rule_share"
RULE_BROKEN = "rule_broken"
SOURCES = ("train", "holdout", "synthetic")


def evaluate(ctx: AuditContext) -> pd.DataFrame:
    """One row per rule and table (see module docstring)."""
    rows = []
    for rule in ctx.schema.rules:
        shares = {}
        for source in SOURCES:
            frame = getattr(ctx, source)
            keeps = rule.holds(frame)
            shares[source] = float(keeps.mean()) if len(keeps) else float("nan")
            flag = RULE_BROKEN if source == "synthetic" and shares["synthetic"] < shares["train"] else ""
            rows.append({"validator": VALIDATOR, "model": "", "source": source, "metric": METRIC,
                         "attribute": "overall", "group": "", "feature": rule.label, "value": shares[source],
                         "n": len(frame), "flag": flag})
    return result_frame(rows)

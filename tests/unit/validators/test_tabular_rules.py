"""The audit's declared-rules step: share of rows keeping each rule, real vs synthetic."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dpsynth.validators import tabular_rules
from dpsynth.validators.context import AuditConfig
from dpsynth.validators.report import AuditReport
from dpsynth.validators.tabular_suite import PLAN, build_context
from tests.conftest import make_ruled_toy_frame, make_ruled_toy_schema, make_toy_frame, make_toy_schema


def context(synthetic: pd.DataFrame):
    return build_context(train=make_ruled_toy_frame(300, 1), holdout=make_ruled_toy_frame(300, 2),
                         synthetic=synthetic, schema=make_ruled_toy_schema(), config=AuditConfig(n_bootstrap=10))


def another_tools_output() -> pd.DataFrame:
    """Synthetic rows from a tool that does not know the rules: every other white patient put in
    race group "black" (the mapping broken; the range, on group "other", and the sum kept)."""
    frame = make_ruled_toy_frame(300, 3)
    white = frame.index[frame["race"] == "white"]
    frame.loc[white[::2], "race_group"] = "black"
    return frame


def test_the_audit_accepts_synthetic_data_that_break_a_rule_and_measures_it():
    synthetic = another_tools_output()
    keeps = (synthetic["race_group"] == synthetic["race"].map({"asian": "other"}).fillna(synthetic["race"])).mean()
    assert keeps < 1
    out = tabular_rules.evaluate(context(synthetic))
    assert set(out.validator) == {"rules"} and set(out.metric) == {"rule_share"}
    assert len(out) == 3 * 3  # three rules x (train, holdout, synthetic)
    mapping = out[out.feature == "race -> race_group"].set_index("source")
    assert mapping.loc["train", "value"] == 1.0 and mapping.loc["holdout", "value"] == 1.0
    assert np.isclose(mapping.loc["synthetic", "value"], keeps)
    assert mapping.loc["synthetic", "flag"] == "rule_broken" and mapping.loc["train", "flag"] == ""
    kept = out[(out.feature != "race -> race_group") & (out.source == "synthetic")]
    assert (kept.value == 1.0).all() and (kept.flag == "").all()
    assert (out.n == 300).all()


def test_a_schema_without_rules_adds_no_rows():
    ctx = build_context(train=make_toy_frame(200, 1), holdout=make_toy_frame(200, 2), synthetic=make_toy_frame(200, 3),
                        schema=make_toy_schema(), config=AuditConfig(n_bootstrap=10))
    assert tabular_rules.evaluate(ctx).empty


def test_the_tabular_plan_runs_the_step():
    assert "tabular_rules" in [step.module for step in PLAN.steps]


def test_report_shows_each_rule_with_its_shares_and_flag():
    table = tabular_rules.evaluate(context(another_tools_output()))
    text = AuditReport(table=table, metadata={"epsilon": 1.0, "delta": 1e-5}).to_markdown()
    section = text[text.index("## Declared rules"):]
    assert "| Rule | Real train | Real holdout | Synthetic | Flag |" in section
    line = next(row for row in section.splitlines() if row.startswith("| race -> race_group"))
    assert "1.000" in line and "**rule_broken**" in line
    assert "| age + heart_rate" not in section and "score = age + heart_rate" in section

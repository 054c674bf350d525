"""`audit`: conform the inputs, run every validator in order, collect one report."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

import dpsynth.validators as validators_pkg
from dpsynth.errors import SchemaError
from dpsynth.schema import CategoricalColumn, NumericColumn, SensitiveAttribute
from dpsynth.tabular.schema import TabularSchema
from dpsynth.validators import AuditReport, audit
from dpsynth.validators.suite import SINGLE_CLASS_HOLDOUT, AuditInputError
from dpsynth.validators.context import RESULT_COLUMNS, AuditConfig, result_frame

AUDIT_MODULE = sys.modules["dpsynth.validators.suite"]
SCHEMA = TabularSchema(
    columns=[
        NumericColumn("age", lower=18, upper=90),
        NumericColumn("lab", lower=0, upper=10, nullable=True),
        CategoricalColumn("sex", categories=["F", "M"]),
        CategoricalColumn("outcome", categories=["0", "1"]),
    ],
    target="outcome", positive="1", sensitive=[SensitiveAttribute("sex")],
)
FAST = AuditConfig(n_bootstrap=20, intersections=False, max_rows=300)


def patients(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.uniform(18, 90, n)
    lab = rng.gamma(2.0, 1.0, n).clip(0, 10)
    outcome = (rng.random(n) < 1 / (1 + np.exp(-(age - 55) / 10 - (lab - 2)))).astype(int)
    lab[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({"age": age, "lab": lab, "sex": rng.choice(["F", "M"], n), "outcome": outcome})


@pytest.fixture
def fake_models(monkeypatch):
    """Stand-ins for the downstream models, utility and fairness (tested in their own files),
    recording the order in which audit calls the steps."""
    calls: list[str] = []

    def predictions(ctx):
        calls.append("tabular_models")
        return {(s, m): np.full(len(ctx.holdout), 0.5) for s in ("TSTR", "TRTR") for m in ("logreg", "gboost")}

    def step(name):
        def evaluate(ctx, preds):
            calls.append(name)
            assert set(preds) == {(s, m) for s in ("TSTR", "TRTR") for m in ("logreg", "gboost")}
            return result_frame([dict(validator=name, model="logreg", source="TSTR", metric="auroc",
                                      attribute="overall", group="", feature="", value=0.5, n=len(ctx.holdout))])
        return evaluate

    def load(module, function):
        fakes = {("tabular_models", "downstream_predictions"): predictions, ("utility", "evaluate"): step("utility"),
                 ("fairness", "evaluate"): step("fairness")}
        if (module, function) in fakes:
            return fakes[(module, function)]
        real = original(module, function)

        def wrapped(ctx, *args, **kwargs):
            calls.append(module)
            return real(ctx, *args, **kwargs)
        return wrapped

    original = AUDIT_MODULE._validator
    monkeypatch.setattr(AUDIT_MODULE, "_validator", load)
    return calls


def test_runs_every_step_in_order(fake_models):
    report = audit(train=patients(300, 1), holdout=patients(200, 2), synthetic=patients(300, 3),
                   schema=SCHEMA, config=FAST, progress=False)
    assert fake_models == ["tabular_models", "utility", "fairness", "tabular_fidelity", "representation",
                           "tabular_memorisation", "tabular_rules", "membership"]
    assert isinstance(report, AuditReport) and list(report.table.columns) == RESULT_COLUMNS
    assert list(pd.unique(report.table.validator)) == ["utility", "fairness", "fidelity", "representation",
                                                       "memorisation", "membership"]  # no rules declared: no rows
    meta = report.metadata
    assert (meta["n_train"], meta["n_holdout"], meta["n_synthetic"]) == (300, 200, 300)
    assert meta["schema_fingerprint"] == SCHEMA.fingerprint() and meta["config"]["max_rows"] == 300


def test_synthetic_table_from_another_tool(fake_models):
    other = patients(300, 3)[["outcome", "sex", "lab", "age"]]  # other column order
    other["outcome"] = other["outcome"].astype(float)  # 0.0 / 1.0 instead of 0 / 1
    other["age"] = other["age"].astype(str)  # numbers written as text
    report = audit(train=patients(300, 1), holdout=patients(200, 2), synthetic=other, schema=SCHEMA,
                   config=FAST, progress=False)
    assert report.value(validator="memorisation", metric="exact_match_share", source="synthetic") == 0.0


def test_extra_or_missing_columns_name_the_table_and_column(fake_models):
    synthetic = patients(300, 3).assign(patient_id=1)
    with pytest.raises(SchemaError, match=r"synthetic table does not fit the schema.*'patient_id'"):
        audit(train=patients(300, 1), holdout=patients(200, 2), synthetic=synthetic, schema=SCHEMA,
              progress=False)
    with pytest.raises(SchemaError, match=r"holdout table does not fit the schema.*'lab'"):
        audit(train=patients(300, 1), holdout=patients(200, 2).drop(columns="lab"),
              synthetic=patients(300, 3), schema=SCHEMA, progress=False)


def test_single_class_holdout_is_refused(fake_models):
    holdout = patients(200, 2).assign(outcome=0)
    expected = SINGLE_CLASS_HOLDOUT.format(target="outcome", value="0", n=200)
    with pytest.raises(AuditInputError) as info:
        audit(train=patients(300, 1), holdout=holdout, synthetic=patients(300, 3), schema=SCHEMA, progress=False)
    assert str(info.value) == expected
    assert fake_models == []  # refused before any model is trained


def test_empty_table_and_wrong_types_are_refused():
    with pytest.raises(AuditInputError, match="synthetic table has no rows"):
        audit(train=patients(50, 1), holdout=patients(50, 2), synthetic=patients(0, 3), schema=SCHEMA)
    with pytest.raises(AuditInputError, match="train must be a pandas DataFrame"):
        audit(train=patients(50, 1).to_numpy(), holdout=patients(50, 2), synthetic=patients(50, 3),
              schema=SCHEMA)
    with pytest.raises(AuditInputError, match="schema must be a TabularSchema"):
        audit(train=patients(50, 1), holdout=patients(50, 2), synthetic=patients(50, 3), schema={})


def test_privacy_card_file_and_progress_bar(fake_models, tmp_path, capsys):
    card = tmp_path / "privacy_card.json"
    card.write_text(json.dumps({"private": True, "epsilon": 1.0, "delta": 1e-5, "accountant": ["rdp"]}))
    report = audit(train=patients(300, 1), holdout=patients(200, 2), synthetic=patients(300, 3), schema=SCHEMA,
                   config=FAST, metadata={"privacy_card": str(card), "generator": "dp-gan"}, progress=True)
    assert report.epsilon == 1.0 and report.metadata["delta"] == 1e-5
    assert report.metadata["generator"] == "dp-gan" and "privacy_card" not in report.metadata
    assert "audit" in capsys.readouterr().err
    audit(train=patients(300, 1), holdout=patients(200, 2), synthetic=patients(300, 3), schema=SCHEMA,
          config=FAST, progress=False)
    assert "audit" not in capsys.readouterr().err


def test_package_exports():
    assert validators_pkg.audit is AUDIT_MODULE.audit
    assert validators_pkg.AuditReport is AuditReport


def test_end_to_end_with_the_real_models(tmp_path):
    """The real downstream models, utility and fairness validators, then the written report."""
    pytest.importorskip("dpsynth.validators.fairness")
    kwargs = dict(train=patients(400, 1), holdout=patients(300, 2), synthetic=patients(400, 3), schema=SCHEMA,
                  config=FAST, progress=False)
    report = audit(**kwargs)
    t = report.table
    assert set(t.validator) == {"utility", "fairness", "fidelity", "representation", "memorisation", "membership"}
    for validator in ("fairness", "fidelity", "representation", "membership"):
        assert set(t[(t.validator == validator) & (t.attribute == "sex")].group) >= {"F", "M"}, validator
    tstr = report.value(validator="utility", model="logreg", source="TSTR", metric="auroc")
    assert 0.6 < tstr <= 1.0
    paths = report.write(tmp_path)
    assert "not differentially private" in paths["markdown"].read_text().splitlines()[0]
    pd.testing.assert_frame_equal(AuditReport.read(paths["json"]).table, t)
    pd.testing.assert_frame_equal(audit(**kwargs).table, t)  # same seed, same table

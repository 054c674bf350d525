"""`audit_series`: conform, the tabular utility / fairness / representation tables on the static
attributes, series fidelity, the written report and its plots."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

import dpsynth.validators as validators_pkg
from dpsynth.errors import SchemaError
from dpsynth.validators import AuditReport, audit_series, fairness, series_suite
from dpsynth.validators.context import RESULT_COLUMNS, AuditConfig
from dpsynth.validators.suite import AuditInputError
from tests.conftest import make_toy_series, make_toy_series_schema

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCHEMA = make_toy_series_schema()
FAST = AuditConfig(n_bootstrap=20, intersections=False)


def inputs(**changes):
    return {"train": make_toy_series(120, 1), "holdout": make_toy_series(100, 2),
            "synthetic": make_toy_series(120, 3), "schema": SCHEMA, **changes}


@pytest.fixture(scope="module")
def report() -> AuditReport:
    card = {"private": True, "epsilon": 1.0, "delta": 1e-5, "accountant": ["prv"]}
    return audit_series(**inputs(), config=FAST, progress=False,
                        metadata={"generator": "dp-vae-series", "privacy_card": card})


@pytest.fixture(scope="module")
def written(report, tmp_path_factory):
    out = tmp_path_factory.mktemp("series_audit")
    return out, report.write(out)


def test_every_validator_runs_with_the_series_models(report):
    t = report.table
    assert list(t.columns) == RESULT_COLUMNS
    assert list(pd.unique(t.validator)) == ["utility", "fairness", "fidelity", "representation", "membership"]
    assert report.value(validator="membership", metric="dp_bound_auc") > 0.5  # the card's ε = 1 bounds the attacks
    assert set(t[t.validator.isin(["utility", "fairness"])].model) == {"cnn", "features"}
    for model in ("cnn", "features"):
        assert report.value(validator="utility", model=model, source="TRTR", metric="auroc") > 0.9
        assert report.value(validator="utility", model=model, source="TSTR", metric="auroc") > 0.9
    for validator in ("fairness", "fidelity", "representation", "membership"):
        rows = t[(t.validator == validator) & (t.attribute == "sex") & (t.group != "")]
        assert set(rows.group) == {"female", "male"}, validator


def test_fairness_tables_are_the_tabular_ones(report, make_context):
    """Same columns, metrics, sources and flags vocabulary as the tabular audit's fairness table."""
    tabular_ctx = make_context(n_bootstrap=20, intersections=False)
    rng = np.random.default_rng(0)
    fake = {(s, m): rng.random(len(tabular_ctx.holdout)) for s in ("TSTR", "TRTR") for m in ("logreg", "gboost")}
    tabular = fairness.evaluate(tabular_ctx, fake)
    series = report.select(validator="fairness")
    assert list(series.columns) == list(tabular.columns)

    def shape(table, group):
        rows = table[(table.group != "") if group else (table.group == "")]
        return set(zip(rows.source, rows.metric))

    for group in (True, False):
        assert shape(series, group) == shape(tabular, group)
    per_model = series.groupby("model").size()
    assert per_model["cnn"] == per_model["features"]


def test_metadata_says_series_subjects_and_not_dp(report):
    meta = report.metadata
    assert meta["modality"] == "series" and meta["unit"] == "subject"
    assert (meta["n_train"], meta["n_holdout"], meta["n_synthetic"]) == (120, 100, 120)
    assert meta["n_train_windows"] >= 120 and meta["audit_differentially_private"] is False
    assert meta["epsilon"] == 1.0 and meta["generator"] == "dp-vae-series" and "privacy_card" not in meta
    assert meta["schema_fingerprint"] == SCHEMA.fingerprint() and meta["channels"] == ["pressure", "flow"]


def test_written_report_plots_and_round_trip(report, written):
    out, paths = written
    text = paths["markdown"].read_text()
    assert "not differentially private" in text.splitlines()[0]
    for needle in ("| AUROC | cnn |", "| AUROC | features |", "## Subgroups by sex", "## Fidelity per channel",
                   "| pressure |", "Mean power-spectrum distance", "(120 subjects)", "real patients' signals"):
        assert needle in text, needle
    plots = {k: p for k, p in paths.items() if k.startswith("plot:")}
    expected = {f"plot:series_{kind}_{scope}" for kind in ("examples", "spectra")
                for scope in ("overall", "sex", "age_band")}
    assert expected | {"plot:fairness_sex", "plot:representation_sex"} <= set(plots)
    for path in plots.values():
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 2000
        assert f"](plots/{path.name})" in text, path.name
    data = json.loads(paths["json"].read_text())
    assert "not differentially private" in data["notice"]
    pd.testing.assert_frame_equal(AuditReport.read(paths["json"]).table, report.table)


def test_tables_that_do_not_fit_the_schema_are_named():
    bad = make_toy_series(120, 3)
    bad.signals["s000"] = bad.signals["s000"] + np.array([100.0, 0.0])   # pressure far above its bound 40
    with pytest.raises(SchemaError, match=r"synthetic table does not fit the schema.*'pressure'"):
        audit_series(**inputs(synthetic=bad), progress=False)
    holdout = make_toy_series(100, 2)
    holdout.static = holdout.static.drop(columns="age")
    with pytest.raises(SchemaError, match=r"holdout table does not fit the schema.*age"):
        audit_series(**inputs(holdout=holdout), progress=False)
    train = make_toy_series(120, 1)
    del train.signals["s001"]
    with pytest.raises(SchemaError, match=r"train table does not fit the schema.*no signal"):
        audit_series(**inputs(train=train), progress=False)


def test_wrong_inputs_are_refused_before_any_model_is_trained():
    data = inputs()
    with pytest.raises(AuditInputError, match="synthetic must be dpsynth.series.schema.SeriesData"):
        audit_series(**{**data, "synthetic": data["synthetic"].static}, progress=False)
    with pytest.raises(AuditInputError, match="schema must be a SeriesSchema"):
        audit_series(**{**data, "schema": SCHEMA.static}, progress=False)
    empty = copy.deepcopy(data["synthetic"])
    empty.static, empty.signals = empty.static.iloc[:0], {}
    with pytest.raises(AuditInputError, match="synthetic table has no rows"):
        audit_series(**{**data, "synthetic": empty}, progress=False)
    one_class = copy.deepcopy(data["holdout"])
    one_class.static["label"] = "normal"
    with pytest.raises(AuditInputError, match="the holdout has only one target class"):
        audit_series(**{**data, "holdout": one_class}, progress=False)


def test_package_exports():
    assert validators_pkg.audit_series is series_suite.audit_series
    assert "audit_series" in validators_pkg.__all__

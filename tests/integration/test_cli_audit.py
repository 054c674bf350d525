"""`dpsynth audit --confidence/--no-intersections`: the options reach the audit and its report."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from dpsynth.cli import app
from dpsynth.validators.report import AuditReport
from tests.conftest import make_toy_frame, make_toy_schema

runner = CliRunner()
TEXT = ["validator", "model", "source", "metric", "attribute", "group", "feature"]  # a row's identity


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit")
    frame = make_toy_frame(n=400)
    frame.iloc[:300].to_csv(root / "train.csv", index=False)
    frame.iloc[300:].to_csv(root / "holdout.csv", index=False)
    frame.iloc[300:].sample(150, replace=True, random_state=0).to_csv(root / "synthetic.csv", index=False)
    make_toy_schema().save(root / "schema.yaml")
    return root


def audit(files, out, *extra):
    return runner.invoke(app, ["audit", "--train", str(files / "train.csv"), "--holdout", str(files / "holdout.csv"),
                               "--synthetic", str(files / "synthetic.csv"), "--schema", str(files / "schema.yaml"),
                               "--out", str(files / out), "--bootstrap", "20", "--min-group-size", "10",
                               "--seed", "3", *extra])


@pytest.fixture(scope="module")
def audits(files):
    """The same audit (same seed) at the defaults and at --confidence 0.8 --no-intersections."""
    for out, extra in (("default", ()), ("narrow", ("--confidence", "0.8", "--no-intersections"))):
        result = audit(files, out, *extra)
        assert result.exit_code == 0, result.output
    return {name: (AuditReport.read_csv(files / name / "audit.csv"),
                   json.loads((files / name / "audit.json").read_text())["metadata"]["config"])
            for name in ("default", "narrow")}


def test_no_intersections_leaves_no_intersection_rows(audits):
    default, narrow = audits["default"][0], audits["narrow"][0]
    assert default["attribute"].str.contains("×", na=False).any()  # the default audits sex×race, ...
    assert not narrow["attribute"].str.contains("×", na=False).any()
    assert {"sex", "race", "age_band"} <= set(narrow["attribute"])


def test_lower_confidence_gives_narrower_intervals(audits):
    default, narrow = (audits[name][0].fillna(dict.fromkeys(TEXT, ""))
                       .assign(width=lambda t: t["ci_high"] - t["ci_low"]).dropna(subset=["width"])
                       for name in ("default", "narrow"))
    both = default.merge(narrow, on=TEXT, suffixes=("_95", "_80"), validate="one_to_one")
    both = both[both["width_95"] > 0]
    assert len(both) > 20
    assert (both["width_80"] <= both["width_95"] + 1e-12).mean() > 0.9
    assert both["width_80"].median() < both["width_95"].median()


def test_the_options_are_recorded_in_the_report(audits):
    assert (audits["default"][1]["confidence"], audits["default"][1]["intersections"]) == (0.95, True)
    assert (audits["narrow"][1]["confidence"], audits["narrow"][1]["intersections"]) == (0.8, False)


@pytest.mark.parametrize("value", ["0", "1", "95", "-0.5"])
def test_confidence_outside_zero_one_is_a_clear_error(files, value):
    result = audit(files, "bad", "--confidence", value)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--confidence must be strictly between 0 and 1" in result.output
    assert not (files / "bad").exists()

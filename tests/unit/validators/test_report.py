"""AuditReport: JSON/CSV round trips, the one-page Markdown, its HTML page and the plots."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dpsynth.errors import DpsynthError
from dpsynth.privacy.card import CardError, PrivacyCard
from dpsynth.schema import CategoricalColumn, NumericColumn, SensitiveAttribute
from dpsynth.tabular.schema import TabularSchema
from dpsynth.validators import representation
from dpsynth.validators import tabular_fidelity as fidelity
from dpsynth.validators import tabular_memorisation as memorisation
from dpsynth.validators.context import RESULT_COLUMNS, AuditConfig, AuditContext, result_frame
from dpsynth.validators.notice import BANNER, WATERMARK
from dpsynth.validators.report import NOTICE, AuditReport, privacy_summary
from dpsynth.validators.verdict import CHECK_NAMES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCHEMA = TabularSchema(
    columns=[
        NumericColumn("age", lower=18, upper=90),
        CategoricalColumn("sex", categories=["F", "M"]),
        CategoricalColumn("race", categories=["white", "black", "asian"]),
        CategoricalColumn("outcome", categories=["no", "yes"]),
    ],
    target="outcome", positive="yes", sensitive=[SensitiveAttribute("sex"), SensitiveAttribute("race")],
)
GROUPS = {"sex": ["F", "M"], "race": ["white", "black", "asian"]}


def patients(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.uniform(18, 90, n), "sex": rng.choice(["F", "M"], n),
                         "race": rng.choice(["white", "black", "asian"], n, p=[0.7, 0.27, 0.03]),
                         "outcome": rng.choice(["no", "yes"], n)})


def model_rows() -> list[dict]:
    """Utility and fairness rows shaped like those of validators/utility.py and fairness.py."""
    rows, rng = [], np.random.default_rng(0)

    def add(validator, model, source, metric, attribute="overall", group="", value=None, n=400, flag=""):
        v = float(rng.uniform(0.6, 0.9)) if value is None else value
        rows.append(dict(validator=validator, model=model, source=source, metric=metric, attribute=attribute,
                         group=group, value=v, ci_low=v - 0.05, ci_high=v + 0.05, n=n, flag=flag))

    for model in ("logreg", "gboost"):
        for source in ("TSTR", "TRTR"):
            for metric in ("auroc", "auprc", "brier"):
                add("utility", model, source, metric)
        add("utility", model, "ratio", "auroc", value=0.95)
        for attribute, groups in GROUPS.items():
            for source in ("TSTR", "TRTR"):
                for group in groups:
                    small = group == "asian"
                    for metric in ("auroc", "tpr", "fpr", "ppv"):
                        add("fairness", model, source, metric, attribute, group, n=12 if small else 200,
                            flag="small_group" if small else "")
                for metric in ("equalized_odds_difference", "worst_group_auroc", "demographic_parity_difference"):
                    add("fairness", model, source, metric, attribute, value=float(rng.uniform(0, 0.3)))
            for metric in ("equalized_odds_difference", "worst_group_auroc"):
                add("fairness", model, "change", metric, attribute, value=0.04)
    return rows


@pytest.fixture(scope="module")
def report() -> AuditReport:
    frames = [SCHEMA.conform(patients(n, s))[0] for n, s in ((500, 1), (300, 2), (500, 3))]
    ctx = AuditContext(SCHEMA, *frames, config=AuditConfig(intersections=False))
    table = pd.concat([result_frame(model_rows()), fidelity.evaluate(ctx), representation.evaluate(ctx),
                       memorisation.evaluate(ctx)], ignore_index=True)
    card = {"private": True, "epsilon": 2.0, "delta": 1e-6, "accountant": ["prv"],
            "ledger": [{"mechanism": "dp-sgd", "purpose": "train", "epsilon": 1.5, "delta": 1e-6}]}
    return AuditReport(table=table, metadata={"generator": "dp-vae", "synthetic_name": "demo",
                                              "n_train": 500, **privacy_summary(card)})


@pytest.fixture(scope="module")
def written(report, tmp_path_factory):
    out = tmp_path_factory.mktemp("audit")
    return out, report.write(out)


def test_markdown_first_line_says_not_dp(written):
    out, paths = written
    text = paths["markdown"].read_text()
    first = text.splitlines()[0]
    assert "not differentially private" in first and "must not be released" in first
    assert paths["markdown"] == out / "report.md"


def test_markdown_is_one_readable_page(written):
    _, paths = written
    text = paths["markdown"].read_text()
    for needle in ("## Verdict", "## Headline", "| AUROC | logreg |", "ratio 0.950", "worst-group AUROC TSTR",
                   "Equalized-odds difference", "Detection AUC", "DCR median", "not privacy evidence",
                   "ε = 2", "## Subgroups by sex", "## Subgroups by race", "## Small or missing groups"):
        assert needle in text, needle
    small = text.split("## Small or missing groups")[1].split("##")[0]
    assert "| race | asian | small_group |" in small
    assert text.count("\n") < 250


def test_plots_are_written_and_linked(written):
    out, paths = written
    plots = {k: p for k, p in paths.items() if k.startswith("plot:")}
    assert {"plot:fairness_sex", "plot:fairness_race", "plot:equalized_odds", "plot:representation_sex",
            "plot:representation_outcome", "plot:fidelity_columns"} <= set(plots)
    text = paths["markdown"].read_text()
    for path in plots.values():
        assert path.parent == out / "plots"
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 2000
        assert f"](plots/{path.name})" in text


def test_json_and_csv_round_trip(report, written):
    _, paths = written
    data = json.loads(paths["json"].read_text())
    assert "not differentially private" in data["notice"]
    assert data["metadata"]["epsilon"] == 2.0 and data["metadata"]["accountant"] == "prv"
    again = AuditReport.read(paths["json"])
    pd.testing.assert_frame_equal(again.table, report.table)
    assert again.metadata == report.metadata
    pd.testing.assert_frame_equal(AuditReport.read_csv(paths["csv"]), report.table)


def test_csv_first_line_is_the_notice_and_the_documented_read_gives_the_table(report, written):
    _, paths = written
    assert paths["csv"].read_text().splitlines()[0] == f"# {NOTICE}"
    csv = pd.read_csv(paths["csv"], comment=None, skiprows=1)  # the way report.py's docstring documents
    assert list(csv.columns) == RESULT_COLUMNS and len(csv) == len(report.table)


def test_read_csv_refuses_a_table_without_the_notice(report, tmp_path):
    report.table.to_csv(tmp_path / "plain.csv", index=False)
    with pytest.raises(DpsynthError, match="not an audit.csv"):
        AuditReport.read_csv(tmp_path / "plain.csv")


def test_every_written_png_carries_the_not_for_release_mark(written):
    _, paths = written
    plots = [p for k, p in paths.items() if k.startswith("plot:")]
    assert plots
    for path in plots:
        with Image.open(path) as image:
            assert image.text["Title"] == WATERMARK and image.text["Description"] == NOTICE, path.name


def test_report_html_is_written_self_contained_with_the_banner(written):
    out, paths = written
    assert paths["html"] == out / "report.html"
    page = paths["html"].read_text(encoding="utf-8")
    assert BANNER in page and NOTICE in page and "<title>dpsynth audit: demo</title>" in page
    assert 'src="plots/' not in page
    assert page.count('src="data:image/png;base64,') == sum(k.startswith("plot:") for k in paths)


def test_report_with_only_some_validators(tmp_path):
    table = result_frame([dict(validator="memorisation", model="", source="", metric="dcr_ratio",
                               attribute="overall", group="", feature="", value=np.nan, n=10,
                               flag="not_privacy_evidence")])
    paths = AuditReport(table=table).write(tmp_path)
    text = paths["markdown"].read_text()
    assert text.startswith("> **") and "not differentially private" in text.splitlines()[0]
    assert not any(k.startswith("plot:") for k in paths)
    assert json.loads(paths["json"].read_text())["records"][0]["value"] is None


def test_bad_table_and_file_are_refused(tmp_path):
    with pytest.raises(ValueError, match="missing: \\['flag'\\]"):
        AuditReport(table=pd.DataFrame(columns=RESULT_COLUMNS[:-1]))
    (tmp_path / "x.json").write_text("[]")
    with pytest.raises(ValueError, match="not an audit.json"):
        AuditReport.read(tmp_path / "x.json")


def test_privacy_summary_reads_the_typed_card_and_refuses_what_is_not_one(tmp_path):
    card = {"private": True, "epsilon": 1.0, "delta": 1e-5, "accountant": ["prv"], "generator": "dp-vae",
            "ledger": [{"mechanism": "dp-sgd", "purpose": "train", "epsilon": 0.1, "delta": 1e-5}]}
    expected = {"epsilon": 1.0, "delta": 1e-5, "private": True, "accountant": "prv", "card_generator": "dp-vae"}
    assert privacy_summary(card) == expected == privacy_summary(PrivacyCard.from_dict(card))
    (tmp_path / "card.json").write_text(json.dumps(card))
    assert privacy_summary(tmp_path / "card.json") == expected
    assert privacy_summary(None) == {}
    with pytest.raises(CardError, match="has no 'epsilon'"):  # a nested ε is not searched for
        privacy_summary({"private": True, "budget": {"epsilon": 1.0, "delta": 1e-5}})


def test_the_generator_row_comes_from_the_card_when_metadata_names_none(report, tmp_path):
    meta = {k: v for k, v in report.metadata.items() if k != "generator"}
    meta.update(privacy_summary({"private": True, "epsilon": 2.0, "delta": 1e-6, "generator": "dp-gan"}))
    text = AuditReport(table=report.table, metadata=meta).write(tmp_path)["markdown"].read_text()
    (row,) = [line for line in text.splitlines() if line.startswith("| generator ")]
    assert "dp-gan" in row


def test_select_and_value(report):
    assert report.value(validator="utility", model="logreg", source="ratio", metric="auroc") == 0.95
    assert np.isnan(report.value(validator="utility", metric="nothing"))
    assert set(report.select(validator="fidelity").validator) == {"fidelity"}
    assert "epsilon=2.0" in repr(report)


def test_reference_card_reads_as_not_private(report, tmp_path):
    """A NOT PRIVATE reference's card (ε = "inf") is stated plainly, not formatted as a number."""
    card = {"private": False, "epsilon": "inf", "delta": 1.0, "generator": "sdv-tvae"}
    meta = {**report.metadata, **privacy_summary(card)}
    for key in ("accountant",):
        meta.pop(key, None)
    text = AuditReport(table=report.table, metadata=meta).write(tmp_path)["markdown"].read_text()
    assert "ε = ∞ (NOT PRIVATE reference)" in text and "δ = 1" not in text


def headline_rows(text: str) -> list[str]:
    """The data rows of the headline table."""
    lines = text.split("## Headline\n\n")[1].splitlines()
    table = lines[:next(i for i, line in enumerate(lines) if not line.startswith("|"))]
    return table[2:]  # minus the header and its rule


def test_the_verdict_comes_first_and_the_headline_fits_one_screen(written):
    _, paths = written
    text = paths["markdown"].read_text()
    lines = text.splitlines()
    assert lines[2].startswith("# Audit of") and lines[4] == "## Verdict"
    assert text.index("## Verdict") < text.index("## Headline") < text.index("## Subgroups by sex")
    verdict = text.split("## Verdict")[1].split("## Headline")[0]
    for name in CHECK_NAMES:
        assert f"| {name} |" in verdict or f"| [{name}](#" in verdict, name
    assert "[fairness](#subgroups-by-" in verdict and "[small_groups](#small-or-missing-groups)" in verdict
    assert "Thresholds: the shipped defaults (`dpsynth/data/verdict.yaml`)." in verdict
    assert 0 < len(headline_rows(text)) <= 15


def test_the_headline_keeps_the_worst_fairness_change_per_attribute_within_15_rows():
    rows = model_rows()
    for i in range(16):
        value, ci = (0.189, (0.105, 0.263)) if i == 15 else (0.01 * i, (0.0, 0.02 * i))
        rows.append(dict(validator="fairness", model="gboost", source="change", metric="equalized_odds_difference",
                         attribute=f"a{i}", group="", value=value, ci_low=ci[0], ci_high=ci[1], n=400, flag=""))
    text = AuditReport(table=result_frame(rows)).to_markdown()
    headline = headline_rows(text)
    assert len(headline) <= 15 and "left out to fit one screen" in text
    assert any("| gboost, a15 |" in line and "+0.189 [0.105, 0.263]" in line for line in headline)
    assert "| fairness | **FAIL** | gboost equalized-odds change, a15: +0.189 [0.105, 0.263] lies above 0.10 |" in text


def test_the_verdict_uses_the_reports_thresholds_after_a_json_round_trip(report, tmp_path):
    strict = {"fairness_eod_change_warn": 0.02, "fairness_eod_change_fail": 0.03}
    assert "| [fairness](#subgroups-by-sex) | pass |" in report.to_markdown()
    paths = AuditReport(table=report.table, metadata={**report.metadata, "verdict_thresholds": strict}).write(tmp_path)
    text = AuditReport.read(paths["json"]).to_markdown()
    assert "| [fairness](#subgroups-by-sex) | **WARN** |" in text
    assert "with overrides: fairness_eod_change_warn=0.02, fairness_eod_change_fail=0.03" in text

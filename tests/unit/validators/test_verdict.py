"""The release verdict: each check's pass / warn / fail boundaries, n/a, flags, thresholds."""

from __future__ import annotations

import json
import math
from importlib import resources

import numpy as np
import pandas as pd
import pytest
import yaml

from dpsynth.errors import DpsynthError
from dpsynth.validators import fairness, representation, utility
from dpsynth.validators.context import result_frame
from dpsynth.validators.tabular_models import downstream_predictions
from dpsynth.validators.verdict import (
    CHECK_NAMES, Check, Thresholds, Verdict, evaluate, load_thresholds, threshold_overrides)


def row(validator: str, metric: str, value: float, *, ci: tuple[float, float] | None = None, model: str = "",
        source: str = "", attribute: str = "overall", group: str = "", feature: str = "", n: float = 500,
        flag: str = "") -> dict:
    low, high = ci if ci is not None else (np.nan, np.nan)
    return dict(validator=validator, model=model, source=source, metric=metric, attribute=attribute, group=group,
                feature=feature, value=value, ci_low=low, ci_high=high, n=n, flag=flag)


def ratio(value: float, ci: tuple[float, float] | None = None, model: str = "gboost", flag: str = "") -> dict:
    return row("utility", "auroc", value, ci=ci, model=model, source="ratio", flag=flag)


def eod_change(value: float, ci: tuple[float, float], attribute: str = "age_band", model: str = "gboost",
               flag: str = "") -> dict:
    return row("fairness", "equalized_odds_difference", value, ci=ci, model=model, source="change",
               attribute=attribute, flag=flag)


def gap_change(value: float, ci: tuple[float, float], attribute: str = "sex") -> dict:
    return row("fairness", "auroc_gap", value, ci=ci, model="logreg", source="change", attribute=attribute)


def share_ratio(value: float, group: str = "asian", n: float = 200, flag: str = "") -> dict:
    return row("representation", "share_ratio", value, attribute="race", group=group, n=n, flag=flag)


def membership_auc(value: float, ci: tuple[float, float], flag: str = "") -> dict:
    return row("membership", "auc", value, ci=ci, model="domias", source="synthetic",
               feature="members=500,nonmembers=500", flag=flag)


def check(*rows: dict, metadata: dict | None = None, **overrides) -> Check:
    """The one check those rows feed (the first check that is not n/a)."""
    verdict = evaluate(result_frame(list(rows)), metadata, Thresholds.from_dict(overrides))
    judged = [c for c in verdict.checks if c.status != "n/a" and c.name != "small_groups"]
    return judged[0] if judged else verdict.check("small_groups")


def small_groups(*rows: dict, metadata: dict | None = None) -> Check:
    return evaluate(result_frame(list(rows)), metadata).check("small_groups")


# ------------------------------------------------------------------------------ utility
@pytest.mark.parametrize("value, ci, status", [
    (0.96, (0.94, 0.98), "pass"),
    (0.95, (0.93, 0.97), "pass"),      # at the warn level: not below it
    (0.90, (0.86, 0.94), "warn"),      # below the warn level
    (0.80, (0.75, 0.90), "warn"),      # below the fail level, but not its whole interval
    (0.80, (0.75, 0.84), "fail"),      # whole interval below 0.85
    (0.80, None, "fail"),              # no interval: the number itself
])
def test_utility_ratio_boundaries(value, ci, status):
    c = check(ratio(value, ci))
    assert (c.name, c.status, c.value) == ("utility", status, value)


def test_the_worst_model_decides_utility():
    c = check(ratio(0.97, (0.95, 0.99), model="logreg"), ratio(0.80, (0.75, 0.84), model="gboost"))
    assert c.status == "fail" and c.decided_by.startswith("gboost TSTR/TRTR AUROC ratio: 0.800 [0.750, 0.840]")


def tstr_auroc(value: float, ci: tuple[float, float] | None = None, model: str = "gboost", flag: str = "") -> dict:
    return row("utility", "auroc", value, ci=ci, model=model, source="tstr", flag=flag)


@pytest.mark.parametrize("value, ci, status", [
    (0.60, (0.55, 0.65), "pass"),
    (0.48, (0.44, 0.53), "warn"),      # below chance, but not its whole interval
    (0.27, (0.22, 0.32), "fail"),      # whole interval below 0.5: the association is inverted
])
def test_tstr_below_chance_boundaries(value, ci, status):
    assert check(ratio(0.97, (0.95, 0.99)), tstr_auroc(value, ci)).status == status


def test_below_chance_is_named_even_where_the_ratio_fails_further():
    """A ratio of 0.33 is further beyond its level than AUROC 0.27 is beyond 0.5, yet the line must
    say the label relationship is inverted: that is what a steward has to read."""
    c = check(ratio(0.33, (0.27, 0.40)), tstr_auroc(0.27, (0.22, 0.32)))
    assert c.status == "fail" and c.decided_by.startswith("gboost TSTR AUROC: 0.270 [0.220, 0.320] lies below 0.50")
    assert "inverted outcome association" in c.decided_by


def test_a_tstr_auroc_above_chance_adds_no_warning_words():
    c = check(ratio(0.97, (0.95, 0.99)), tstr_auroc(0.78, (0.74, 0.82)))
    assert c.status == "pass" and "inverted" not in c.decided_by


def test_below_chance_on_a_small_holdout_warns_only():
    assert check(tstr_auroc(0.30, (0.20, 0.40), flag="small_holdout")).status == "warn"


# ------------------------------------------------------------------------------ fairness
@pytest.mark.parametrize("value, ci, status", [
    (0.04, (-0.02, 0.09), "pass"),
    (0.07, (0.01, 0.12), "warn"),       # beyond the warn level 0.05
    (0.145, (0.078, 0.211), "warn"),    # beyond 0.10, interval not wholly
    (0.189, (0.105, 0.263), "fail"),    # whole interval above 0.10
    (-0.20, (-0.30, -0.10), "pass"),    # synthesis narrowed the gap
])
def test_equalized_odds_change_boundaries(value, ci, status):
    assert check(eod_change(value, ci)).status == status


def test_a_fairness_fail_names_model_attribute_value_and_interval():
    c = check(eod_change(0.02, (-0.03, 0.07), attribute="sex"), eod_change(0.189, (0.105, 0.263)))
    assert c.decided_by == "gboost equalized-odds change, age_band: +0.189 [0.105, 0.263] lies above 0.10"
    assert c.value == pytest.approx(0.189)


@pytest.mark.parametrize("value, ci, status", [
    (-0.02, (-0.05, 0.01), "pass"), (0.06, (0.02, 0.09), "warn"), (0.12, (0.05, 0.20), "warn"),
    (0.15, (0.11, 0.20), "fail")])
def test_auroc_gap_change_boundaries(value, ci, status):
    assert check(gap_change(value, ci)).status == status


def test_a_loss_every_group_shares_is_not_a_fairness_finding():
    """The worst group losing as much AUROC as everyone (utility) leaves the gap unchanged."""
    shared_loss = row("fairness", "worst_group_auroc", -0.15, ci=(-0.20, -0.11), model="logreg", source="change",
                      attribute="sex")
    assert check(shared_loss, gap_change(0.0, (-0.02, 0.02))).status == "pass"


@pytest.mark.parametrize("flag", ["small_group", "constant_predictor", "few_holdout_positives;small_holdout"])
def test_a_flagged_row_cannot_decide_a_fail_on_its_own(flag):
    flagged = check(eod_change(0.30, (0.20, 0.40), flag=flag))
    assert flagged.status == "warn" and "not a fail on its own" in flagged.decided_by
    assert flag.split(";")[0] in flagged.decided_by
    assert check(eod_change(0.30, (0.20, 0.40))).status == "fail"


def test_a_flag_naming_an_excluded_group_does_not_block_a_fail():
    """``absent_in_holdout:black`` on a between-group row names a group left out, not a small row."""
    c = check(eod_change(0.30, (0.20, 0.40), flag="absent_in_holdout:black;excluded_small:asian"))
    assert c.status == "fail"


# ------------------------------------------------------------------------------ representation
@pytest.mark.parametrize("value, status", [(0.9, "pass"), (0.8, "pass"), (0.7, "warn"), (0.4, "fail")])
def test_representation_boundaries(value, status):
    c = check(share_ratio(value))
    assert c.name == "representation" and c.status == status


def test_representation_names_the_group_and_its_shares():
    rows = [share_ratio(1.1, group="white"), share_ratio(0.4, group="asian"),
            row("representation", "share_real", 0.05, attribute="race", group="asian"),
            row("representation", "share_synthetic", 0.02, attribute="race", group="asian")]
    c = check(*rows)
    assert c.status == "fail" and c.decided_by.startswith("race = asian, synthetic / real share (0.020 / 0.050)")


def test_a_group_missing_from_the_synthetic_data_fails_unless_it_was_small():
    assert check(share_ratio(0.0, n=200, flag="absent_in_synthetic")).status == "fail"
    small = check(share_ratio(0.0, n=5, flag="absent_in_synthetic"), metadata={"config": {"min_group_size": 30}})
    assert small.status == "warn" and "small_group" in small.decided_by
    assert check(share_ratio(0.1, n=12, flag="small_group")).status == "warn"


# ------------------------------------------------------------------------------ fidelity
@pytest.mark.parametrize("metric", ["mean_tvd", "mean_wasserstein", "mean_ks", "mean_pixel_tvd"])
@pytest.mark.parametrize("value, status", [(0.05, "pass"), (0.12, "warn"), (0.30, "fail")])
def test_marginal_fidelity_of_every_modality(metric, value, status):
    c = check(row("fidelity", metric, value))
    assert (c.name, c.status) == ("fidelity", status)


def test_detection_warns_and_fails_only_when_its_fail_level_is_set():
    detection = row("fidelity", "detection_auc", 0.99, model="detector")
    assert check(detection).status == "warn"
    assert check(row("fidelity", "detection_auc", 0.7, model="detector")).status == "pass"
    assert check(detection, fidelity_detection_auc_fail=0.95).status == "fail"


# ------------------------------------------------------------------------------ rules
def rule_shares(train: float, synthetic: float, rule: str = "dzgroup -> dzclass") -> list[dict]:
    return [row("rules", "rule_share", train, source="train", feature=rule),
            row("rules", "rule_share", 1.0, source="holdout", feature=rule),
            row("rules", "rule_share", synthetic, source="synthetic", feature=rule,
                flag="rule_broken" if synthetic < train else "")]


@pytest.mark.parametrize("train, synthetic, status", [
    (1.0, 1.0, "pass"), (0.98, 1.0, "pass"),  # as often as the real rows, or more
    (1.0, 0.99, "warn"), (1.0, 0.96, "warn"),  # any shortfall warns
    (1.0, 0.90, "fail"), (1.0, 0.338, "fail")])
def test_rule_shortfall_boundaries(train, synthetic, status):
    c = check(*rule_shares(train, synthetic))
    assert (c.name, c.status) == ("rules", status)
    assert c.value == pytest.approx(train - synthetic)


def test_the_worst_rule_decides_and_is_named():
    c = check(*rule_shares(1.0, 1.0, "arms -> treat"), *rule_shares(1.0, 0.6, "strat -> str2"))
    assert c.status == "fail" and c.decided_by.startswith("rule strat -> str2") and "1.000 − 0.600" in c.decided_by


def test_a_schema_without_rules_is_na():
    assert evaluate(result_frame([ratio(0.96)])).check("rules").status == "n/a"


# ------------------------------------------------------------------------------ memorisation
@pytest.mark.parametrize("value, ci, status", [
    (0.50, (0.47, 0.53), "pass"), (0.57, (0.54, 0.60), "warn"), (0.63, (0.58, 0.68), "warn"),
    (0.70, (0.65, 0.75), "fail")])
def test_membership_auc_boundaries(value, ci, status):
    assert check(membership_auc(value, ci)).status == status


def test_a_result_above_the_cards_bound_fails():
    c = check(membership_auc(0.52, (0.50, 0.54)),
              row("membership", "tpr_at_fpr_0.01", 0.4, ci=(0.3, 0.5), model="distance", source="synthetic",
                  flag="contradicts_card"))
    assert c.status == "fail" and "contradicts_card" in c.decided_by and "distance tpr_at_fpr_0.01" in c.decided_by


def test_memorisation_signals_warn_but_never_fail():
    exact = [row("memorisation", "exact_match_share", 0.30, source="synthetic", flag="not_privacy_evidence"),
             row("memorisation", "exact_match_share", 0.0, source="holdout", flag="not_privacy_evidence")]
    c = check(*exact)
    assert c.status == "warn" and "not privacy evidence" in c.decided_by and c.value == pytest.approx(0.30)
    assert check(row("memorisation", "dcr_ratio", 0.05, flag="not_privacy_evidence")).status == "warn"
    assert check(row("memorisation", "dcr_ratio", 1.0, flag="not_privacy_evidence")).status == "pass"


# ------------------------------------------------------------------------------ small groups
def test_small_groups_warn_naming_them_and_a_small_holdout_fails():
    base = [share_ratio(1.0, group="white")]
    assert small_groups(*base).status == "pass"
    groups = small_groups(*base, row("fairness", "auroc", 0.7, model="logreg", source="TSTR", attribute="race",
                              group="asian", n=12, flag="small_group"))
    assert groups.status == "warn" and "race = asian" in groups.decided_by and groups.value == 1
    holdout = small_groups(*base, ratio(0.96, flag="small_holdout;few_holdout_positives"))
    assert holdout.status == "fail" and "small_holdout" in holdout.decided_by
    by_size = small_groups(*base, metadata={"n_holdout": 40, "min_holdout_size": 60})
    assert by_size.status == "fail" and "40 rows" in by_size.decided_by
    few = small_groups(*base, ratio(0.96, flag="few_holdout_negatives"))
    assert few.status == "warn" and "few_holdout_negatives" in few.decided_by
    assert small_groups(ratio(0.96)).status == "n/a"  # no per-group rows


# ------------------------------------------------------------------------------ the verdict
def test_missing_rows_are_na_and_say_what_was_missing():
    verdict = evaluate(result_frame([]))
    assert [c.name for c in verdict.checks] == list(CHECK_NAMES)
    assert verdict.status == "n/a" and all(c.status == "n/a" for c in verdict.checks)
    assert "utility did not run" in verdict.check("utility").decided_by
    assert "fairness did not run" in verdict.check("fairness").decided_by
    nan = evaluate(result_frame([ratio(math.nan, flag="single_class_synthetic")])).check("utility")
    assert nan.status == "n/a" and "single_class_synthetic" in nan.decided_by


def test_the_verdict_is_the_worst_check_and_ignores_na():
    def verdict(*statuses: str) -> Verdict:
        return Verdict(tuple(Check(f"c{i}", s, "x") for i, s in enumerate(statuses)), load_thresholds())
    assert verdict("pass", "n/a").status == "pass"
    assert verdict("pass", "warn", "n/a").status == "warn"
    assert verdict("warn", "fail", "pass").status == "fail"
    with pytest.raises(ValueError, match="status"):
        Check("utility", "ok", "x")


def test_to_dict_and_to_markdown():
    verdict = evaluate(result_frame([ratio(0.80, (0.75, 0.84)), eod_change(0.07, (0.01, 0.12))]))
    data = json.loads(json.dumps(verdict.to_dict()))  # JSON-able, NaN as null
    assert data["status"] == "fail" and data["thresholds"]["utility_ratio_fail"] == 0.85
    assert {c["name"]: c["status"] for c in data["checks"]}["fairness"] == "warn"
    assert {c["name"]: c["value"] for c in data["checks"]}["fidelity"] is None
    text = verdict.to_markdown(links={"utility": "#headline"})
    assert "Overall: **FAIL**" in text and "| Check | Status | Decided by |" in text
    assert "| [utility](#headline) | **FAIL** | gboost TSTR/TRTR AUROC ratio" in text


def test_a_sweep_slice_with_extra_columns_and_csv_style_blanks():
    frame = result_frame([ratio(0.80, (0.75, 0.84))])
    frame["epsilon"] = 1.0
    frame.loc[0, "flag"] = np.nan  # a CSV read back without keep_default_na
    assert evaluate(frame).check("utility").status == "fail"
    with pytest.raises(DpsynthError, match="missing"):
        evaluate(frame.drop(columns="flag"))


# ------------------------------------------------------------------------------ thresholds
def test_every_threshold_is_shipped_with_a_comment():
    text = resources.files("dpsynth").joinpath("data/verdict.yaml").read_text()
    shipped = yaml.safe_load(text)
    assert set(shipped) == set(Thresholds.from_dict({}).to_dict())
    lines = text.splitlines()
    for key in shipped:
        (i,) = [i for i, line in enumerate(lines) if line.startswith(f"{key}:")]
        assert lines[i - 1].startswith("#"), key
    assert load_thresholds() == Thresholds.from_dict({})


def test_overrides_change_the_outcome():
    assert check(ratio(0.90, (0.88, 0.92))).status == "warn"
    assert check(ratio(0.90, (0.88, 0.92)), utility_ratio_warn=0.9, utility_ratio_fail=0.8).status == "pass"
    assert check(eod_change(0.145, (0.078, 0.211)), fairness_eod_change_fail=0.07).status == "fail"
    assert check(eod_change(0.07, (0.01, 0.12)), fairness_eod_change_warn=None).status == "pass"


@pytest.mark.parametrize("overrides, message", [
    ({"utility_ratio_wran": 0.9}, "did you mean 'utility_ratio_warn'"),
    ({"utility_ratio_warn": "high"}, "must be a number or null"),
    ({"utility_ratio_warn": True}, "must be a number or null"),
    ({"utility_ratio_warn": 0.8, "utility_ratio_fail": 0.9}, "out of order"),
    ({"fairness_eod_change_warn": 0.2}, "out of order"),
])
def test_bad_overrides_are_one_line_errors(overrides, message):
    with pytest.raises(DpsynthError, match=message):
        Thresholds.from_dict(overrides)


def test_a_user_file_overrides_a_subset(tmp_path):
    path = tmp_path / "strict.yaml"
    path.write_text("# stricter fairness\nfairness_eod_change_fail: 0.07\n")
    th = load_thresholds(path)
    assert threshold_overrides(path) == {"fairness_eod_change_fail": 0.07}
    assert th.fairness_eod_change_fail == 0.07 and th.utility_ratio_warn == load_thresholds().utility_ratio_warn
    (tmp_path / "empty.yaml").write_text("")
    assert load_thresholds(tmp_path / "empty.yaml") == load_thresholds()
    (tmp_path / "list.yaml").write_text("- 0.1\n")
    (tmp_path / "broken.yaml").write_text("utility_ratio_warn: [0.9\n")
    for bad, message in ((tmp_path / "list.yaml", "mapping"), (tmp_path / "none.yaml", "not found"),
                         (tmp_path / "broken.yaml", "not valid YAML")):
        with pytest.raises(DpsynthError, match=message):
            load_thresholds(bad)


# ------------------------------------------------------------------------------ a real audit table
def test_a_real_audit_reports_its_worst_fairness_change(make_context, patients):
    """Synthetic data whose women's outcomes are noise: the fairness check names sex, and the
    number that decides it is the worst of the table's change rows."""
    ctx = make_context(synthetic=patients(600, 3, noise_for_women=True), intersections=False)
    predictions = downstream_predictions(ctx)
    table = pd.concat([utility.evaluate(ctx, predictions), fairness.evaluate(ctx, predictions),
                       representation.evaluate(ctx)], ignore_index=True)
    c = evaluate(table).check("fairness")
    assert c.status in ("warn", "fail") and ", sex:" in c.decided_by
    changes = table[(table.validator == "fairness") & (table.source == "change") & (table.group == "")
                    & (table.attribute == "sex")]
    eod = changes[changes.metric == "equalized_odds_difference"].value
    gap = changes[changes.metric == "auroc_gap"].value
    assert c.value in (eod.max(), gap.max())
    assert f"{c.value:+.3f}" in c.decided_by

"""Fairness audit: per-group metrics, between-group gaps (fairlearn), and their change TSTR - TRTR."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_positive_rate,
    true_positive_rate,
)
from sklearn.metrics import roc_auc_score

from dpsynth.validators import fairness
from dpsynth.validators.context import RESULT_COLUMNS
from dpsynth.validators.tabular_models import downstream_predictions

KEYS = [(s, m) for s in ("TSTR", "TRTR") for m in ("logreg", "gboost")]
GROUP_METRICS = {"auroc", "tpr", "fpr", "ppv", "selection_rate", "ece"}
BETWEEN = {"equalized_odds_difference", "equalized_odds_ratio", "demographic_parity_difference",
           "worst_group_auroc", "auroc_gap"}


@pytest.fixture(scope="module")
def frame(ctx, predictions) -> pd.DataFrame:
    return fairness.evaluate(ctx, predictions)


def select(frame, **where) -> pd.DataFrame:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in where.items():
        mask &= (frame[column] == value).to_numpy()
    return frame[mask]


def one(frame, **where) -> pd.Series:
    rows = select(frame, **where)
    assert len(rows) == 1, where
    return rows.iloc[0]


def same_predictions(scores: np.ndarray) -> dict:
    return {key: scores for key in KEYS}


def test_tidy_layout_attributes_and_intersections(frame, ctx):
    assert list(frame.columns) == RESULT_COLUMNS
    assert set(frame.validator) == {"fairness"} and set(frame.feature) == {""}
    assert list(frame.attribute.unique()) == ["sex", "race", "sex×race"]
    assert set(select(frame, attribute="sex").group) == {"F", "M", ""}
    assert "F & white" in set(select(frame, attribute="sex×race").group)
    assert set(frame.source) == {"TSTR", "TRTR", "change"}
    per_group = frame[(frame.group != "") & frame.source.isin(["TSTR", "TRTR"])]
    assert set(per_group.metric) == GROUP_METRICS
    assert set(frame[frame.group == ""].metric) == BETWEEN
    assert set(frame[(frame.group != "") & (frame.source == "change")].metric) == {"auroc", "tpr", "fpr"}
    assert not frame.duplicated(["model", "source", "metric", "attribute", "group"]).any()
    sizes = ctx.groups_of("holdout", "race").value_counts()
    for group, n in sizes.items():
        assert (select(frame, attribute="race", group=group).n == n).all()


def test_per_group_values_equal_fairlearn_metric_frame(frame, ctx, predictions):
    y = ctx.labels(ctx.holdout)
    groups = ctx.groups_of("holdout", "sex")
    scores = predictions[("TRTR", "logreg")]
    pred = scores >= 0.5
    reference = MetricFrame(
        metrics={"tpr": lambda a, b: true_positive_rate(a, b, pos_label=1),
                 "fpr": lambda a, b: false_positive_rate(a, b, pos_label=1)},
        y_true=y, y_pred=pred, sensitive_features=groups).by_group
    for g in ("F", "M"):
        mask = (groups == g).to_numpy()
        rows = select(frame, source="TRTR", model="logreg", attribute="sex", group=g).set_index("metric")
        assert set(rows.index) == GROUP_METRICS
        assert rows.value["tpr"] == pytest.approx(reference.loc[g, "tpr"])
        assert rows.value["fpr"] == pytest.approx(reference.loc[g, "fpr"])
        assert rows.value["auroc"] == pytest.approx(roc_auc_score(y[mask], scores[mask]))
        assert rows.value["selection_rate"] == pytest.approx(pred[mask].mean())
        assert rows.value["ppv"] == pytest.approx(y[mask][pred[mask]].mean())
        assert (rows.ci_low <= rows.ci_high).all() and (rows.n == mask.sum()).all()


def test_between_group_values_equal_fairlearn_called_directly(frame, ctx, predictions):
    y = ctx.labels(ctx.holdout)
    for attribute in ("sex", "race"):
        groups = ctx.groups_of("holdout", attribute).to_numpy()
        keep = groups != "asian"   # the small group is excluded (see the next test)
        for key, scores in predictions.items():
            pred = scores >= 0.5
            where = dict(source=key[0], model=key[1], attribute=attribute, group="")
            for metric, fn in [("equalized_odds_difference", equalized_odds_difference),
                               ("equalized_odds_ratio", equalized_odds_ratio),
                               ("demographic_parity_difference", demographic_parity_difference)]:
                expected = fn(y[keep], pred[keep], sensitive_features=groups[keep])
                assert one(frame, metric=metric, **where).value == pytest.approx(expected)


def test_between_group_definitions_equal_fairlearn_on_plain_and_resampled_rows():
    """One aggregation gives point values and bootstrap replicates; both equal fairlearn."""
    rng = np.random.default_rng(0)
    n = 300
    groups = rng.choice(["a", "b", "c"], n)
    y = (rng.random(n) < 0.4).astype(int)
    for scores in (np.clip(0.3 * y + rng.normal(0.35, 0.25, n), 0, 1),   # general case
                   np.where(y == 1, rng.uniform(0.3, 1, n), 0.1)):         # FPR 0 everywhere: 0/0 ratio
        idx = rng.integers(0, n, n)
        weights = np.vstack([np.ones(n), np.bincount(idx, minlength=n)])

        def stack(metric: str) -> np.ndarray:
            kernel = fairness.GROUP_METRICS[metric]
            return np.column_stack([kernel(y[groups == g], scores[groups == g], weights[:, groups == g])
                                    for g in ("a", "b", "c")])

        for metric, fn in [("equalized_odds_difference", equalized_odds_difference),
                           ("equalized_odds_ratio", equalized_odds_ratio),
                           ("demographic_parity_difference", demographic_parity_difference)]:
            values = fairness._aggregate(metric, stack)
            for row, rows in ((0, np.arange(n)), (1, idx)):
                expected = fn(y[rows], scores[rows] >= 0.5, sensitive_features=groups[rows])
                assert values[row] == pytest.approx(expected), (metric, row)


def test_small_groups_are_flagged_and_excluded_from_between_group_metrics(frame, ctx):
    n_asian = int((ctx.groups_of("holdout", "race") == "asian").sum())
    assert n_asian < ctx.config.min_group_size
    asian = select(frame, attribute="race", group="asian")
    assert len(asian) and asian.flag.str.contains("small_group").all()
    assert not select(frame, attribute="race", group="white").flag.str.contains("small_group").any()
    between = select(frame, attribute="race", group="")
    assert between.flag.str.contains("excluded_small:asian").all()
    assert (between.n == len(ctx.holdout) - n_asian).all()
    inter = select(frame, attribute="sex×race", group="")
    assert inter.flag.str.contains("excluded_small:F & asian,M & asian").all()
    assert select(frame, attribute="sex", group="").flag.eq("").all()


def test_without_small_groups_nothing_is_excluded(make_context, predictions):
    out = fairness.evaluate(make_context(min_group_size=1, intersections=False), predictions)
    assert list(out.attribute.unique()) == ["sex", "race"]
    assert not out.flag.str.contains("small").any()
    assert (select(out, attribute="race", group="").n == 600).all()


def test_a_biased_model_has_a_large_equalized_odds_difference_and_a_fair_one_a_small(make_context):
    ctx = make_context(intersections=False)
    y = ctx.labels(ctx.holdout)
    women = (ctx.holdout["sex"] == "F").to_numpy()
    rng = np.random.default_rng(0)
    fair = np.clip(0.8 * y + rng.normal(0.1, 0.1, len(y)), 0, 1)
    biased = np.where(women, rng.uniform(0, 0.45, len(y)), fair)   # ignores sick women
    # TSTR plays the biased model, TRTR the fair one: the change is the bias added.
    out = fairness.evaluate(ctx, {("TSTR", m): biased for m in ("logreg", "gboost")}
                            | {("TRTR", m): fair for m in ("logreg", "gboost")})
    between = dict(model="logreg", attribute="sex", group="")
    fair_eod = one(out, source="TRTR", metric="equalized_odds_difference", **between)
    biased_eod = one(out, source="TSTR", metric="equalized_odds_difference", **between)
    assert fair_eod.ci_high < 0.1
    assert biased_eod.value > 0.8 and biased_eod.ci_low > 0.7
    assert one(out, source="TSTR", metric="equalized_odds_ratio", **between).value == 0
    assert one(out, source="TSTR", metric="demographic_parity_difference", **between).value > 0.3
    assert one(out, source="TSTR", metric="auroc_gap", **between).value > 0.3
    assert one(out, source="TSTR", metric="worst_group_auroc", **between).value == pytest.approx(
        roc_auc_score(y[women], biased[women]))
    assert one(out, source="change", metric="equalized_odds_difference", **between).ci_low > 0.6
    per_group = dict(model="logreg", attribute="sex", metric="tpr")
    assert one(out, source="TSTR", group="F", **per_group).value == 0
    assert one(out, source="change", group="F", **per_group).ci_high < -0.8
    assert one(out, source="change", group="M", **per_group).value == 0


def test_change_rows_show_that_synthesis_widened_the_gap(make_context, patients):
    """Synthetic data whose women's outcomes are noise: TSTR models fail women only."""
    ctx = make_context(synthetic=patients(600, 3, noise_for_women=True), intersections=False)
    out = fairness.evaluate(ctx, downstream_predictions(ctx))
    change = dict(source="change", attribute="sex")
    assert one(out, model="logreg", metric="equalized_odds_difference", group="", **change).ci_low > 0
    assert one(out, model="gboost", metric="auroc_gap", group="", **change).ci_low > 0
    assert one(out, model="gboost", metric="worst_group_auroc", group="", **change).ci_high < 0
    assert one(out, model="gboost", metric="auroc", group="F", **change).ci_high < 0
    for metric in ("equalized_odds_difference", "auroc_gap"):
        tstr = one(out, source="TSTR", model="gboost", metric=metric, attribute="sex", group="")
        trtr = one(out, source="TRTR", model="gboost", metric=metric, attribute="sex", group="")
        assert one(out, model="gboost", metric=metric, group="", **change).value == pytest.approx(
            tstr.value - trtr.value)


def test_single_class_group_has_nan_auroc_and_leaves_the_odds_metrics(make_context, patients):
    holdout_rows = patients(600, 2)
    holdout_rows.loc[holdout_rows.race == "black", "outcome"] = "no"
    ctx = make_context(intersections=False, min_group_size=10)   # 'asian' (23 rows) is included
    ctx = type(ctx)(ctx.schema, ctx.train, ctx.schema.conform(holdout_rows)[0], ctx.synthetic, ctx.config)
    y = ctx.labels(ctx.holdout)
    scores = np.clip(0.5 * y + np.random.default_rng(0).uniform(0, 0.5, len(y)), 0, 1)
    out = fairness.evaluate(ctx, same_predictions(scores))
    where = dict(source="TRTR", model="gboost", attribute="race")
    auroc = one(out, group="black", metric="auroc", **where)
    assert np.isnan(auroc.value) and auroc.flag == "single_class"
    assert one(out, group="black", metric="tpr", **where).flag == "single_class"
    fpr = one(out, group="black", metric="fpr", **where)
    assert np.isfinite(fpr.value) and fpr.flag == ""   # only negatives: FPR is defined
    ppv = one(out, group="black", metric="ppv", **where)
    assert np.isnan(ppv.value) and ppv.flag == "no_predicted_positive"
    groups = ctx.groups_of("holdout", "race").to_numpy()
    keep = groups != "black"
    for metric, fn in [("equalized_odds_difference", equalized_odds_difference),
                       ("equalized_odds_ratio", equalized_odds_ratio)]:
        row = one(out, group="", metric=metric, **where)
        assert row.flag == "excluded_single_class:black" and row.n == keep.sum()
        assert row.value == pytest.approx(fn(y[keep], scores[keep] >= 0.5, sensitive_features=groups[keep]))
    dpd = one(out, group="", metric="demographic_parity_difference", **where)
    assert dpd.flag == "" and dpd.n == len(y)   # needs no outcome: every group stays in
    gap = one(out, group="", metric="auroc_gap", **where)
    aurocs = [one(out, group=g, metric="auroc", **where).value for g in ("asian", "white")]
    assert gap.value == pytest.approx(max(aurocs) - min(aurocs))


def test_fewer_than_two_groups_left_gives_nan_between_group_metrics(make_context, predictions):
    out = fairness.evaluate(make_context(min_group_size=305, intersections=False), predictions)
    sex = select(out, attribute="sex", group="", source="TSTR")   # F 299 rows, M 301 rows
    assert sex.value.isna().all()
    assert sex.flag.str.contains("excluded_small:F,M").all() and sex.flag.str.contains("fewer_than_two").all()


def test_single_class_synthetic_gives_flagged_nan_rows(make_context, patients):
    ctx = make_context(synthetic=patients(200, 3).assign(outcome="no"), intersections=False)
    with pytest.warns(UserWarning, match="single_class_synthetic"):
        predictions = downstream_predictions(ctx)
    out = fairness.evaluate(ctx, predictions)
    unusable = out[out.source.isin(["TSTR", "change"])]
    assert unusable.value.isna().all()
    assert unusable.flag.str.contains("single_class_synthetic").all()
    trtr = out[out.source == "TRTR"]
    assert not trtr.flag.str.contains("single_class_synthetic").any()
    assert trtr[trtr.metric == "equalized_odds_difference"].value.notna().all()


def test_same_seed_gives_an_identical_frame(frame, predictions, make_context):
    pd.testing.assert_frame_equal(frame, fairness.evaluate(make_context(), predictions))


def test_a_constant_predictor_is_flagged_in_its_rows_and_in_every_change(ctx, predictions):
    """A TSTR model predicting one class everywhere: EOD 0 by construction, change = -TRTR EOD."""
    scores = dict(predictions)
    scores[("TSTR", "logreg")] = np.full(len(ctx.holdout), 0.2)  # below 0.5 for every row
    out = fairness.evaluate(ctx, scores)
    tstr = select(out, source="TSTR", model="logreg", attribute="sex")
    assert len(tstr) and tstr.flag.str.contains("constant_predictor").all()
    assert one(out, source="TSTR", model="logreg", metric="equalized_odds_difference", attribute="sex",
               group="").value == 0.0
    change = select(out, source="change", model="logreg", attribute="sex")
    assert change.flag.str.contains("constant_predictor").all()
    trtr_eod = one(out, source="TRTR", model="logreg", metric="equalized_odds_difference", attribute="sex", group="")
    assert "constant_predictor" not in trtr_eod.flag
    assert one(out, source="change", model="logreg", metric="equalized_odds_difference", attribute="sex",
               group="").value == pytest.approx(-trtr_eod.value)
    assert not select(out, model="gboost").flag.str.contains("constant_predictor").any()
    assert fairness.constant_flag(np.array([0.1, 0.9])) == ""


def test_a_chance_level_predictor_is_flagged_in_its_rows_and_in_every_change(ctx, predictions):
    """A TSTR model whose scores carry no signal can show a smaller EOD than TRTR's without being fairer."""
    scores = dict(predictions)
    scores[("TSTR", "logreg")] = np.random.default_rng(5).uniform(0.3, 0.7, len(ctx.holdout))  # both sides of 0.5
    out = fairness.evaluate(ctx, scores)
    tstr = select(out, source="TSTR", model="logreg", attribute="sex")
    assert len(tstr) and tstr.flag.str.contains("chance_level_predictor").all()
    assert not tstr.flag.str.contains("constant_predictor").any()
    assert select(out, source="change", model="logreg").flag.str.contains("chance_level_predictor").all()
    assert not select(out, source="TRTR").flag.str.contains("chance_level_predictor").any()
    assert not select(out, model="gboost").flag.str.contains("chance_level_predictor").any()


def test_chance_flag_reads_the_auroc_interval():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 200)
    weights = fairness.bs.resample_weights(len(y), n_bootstrap=200, rng=rng)
    informative = np.where(y == 1, 0.7, 0.3) + rng.normal(0, 0.1, len(y))
    assert fairness.chance_flag(y, informative, weights, 0.95) == ""
    assert fairness.chance_flag(y, rng.uniform(size=len(y)), weights, 0.95) == fairness.CHANCE_PREDICTOR
    assert fairness.chance_flag(np.zeros(10, int), rng.uniform(size=10), weights[:, :10], 0.95) == ""  # one class

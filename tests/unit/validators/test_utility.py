"""Utility audit: TSTR vs TRTR on the real holdout, with paired bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, average_precision_score, brier_score_loss, roc_auc_score

from dpsynth.validators import utility
from dpsynth.validators.context import RESULT_COLUMNS
from dpsynth.validators.tabular_models import downstream_predictions

METRICS = {"auroc", "auprc", "brier", "accuracy", "ece"}


@pytest.fixture(scope="module")
def frame(ctx, predictions) -> pd.DataFrame:
    return utility.evaluate(ctx, predictions)


def pick(frame, source, model, metric) -> pd.Series:
    rows = frame[(frame.source == source) & (frame.model == model) & (frame.metric == metric)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_tidy_layout(frame, ctx):
    assert list(frame.columns) == RESULT_COLUMNS
    assert set(frame.validator) == {"utility"} and set(frame.attribute) == {"overall"}
    assert set(frame.group) == {""} and set(frame.feature) == {""}
    assert (frame.n == len(ctx.holdout)).all()
    for source in ("TSTR", "TRTR", "change"):
        assert set(frame[frame.source == source].metric) == METRICS
    assert set(frame[frame.source == "ratio"].metric) == {"auroc", "auprc"}
    assert len(frame) == 2 * (3 * 5 + 2)
    assert not frame.duplicated(["model", "source", "metric"]).any()


def test_values_equal_scikit_learn(frame, ctx, predictions):
    y = ctx.labels(ctx.holdout)
    for (source, model), scores in predictions.items():
        expected = {"auroc": roc_auc_score(y, scores), "auprc": average_precision_score(y, scores),
                    "brier": brier_score_loss(y, scores), "accuracy": accuracy_score(y, scores >= 0.5)}
        for metric, value in expected.items():
            row = pick(frame, source, model, metric)
            assert row.value == pytest.approx(value)
            assert row.ci_low <= row.value <= row.ci_high
            assert row.flag == ""


def test_ratio_and_change_are_paired_comparisons(frame):
    for model in ("logreg", "gboost"):
        for metric in ("auroc", "auprc"):
            tstr, trtr = pick(frame, "TSTR", model, metric).value, pick(frame, "TRTR", model, metric).value
            assert pick(frame, "ratio", model, metric).value == pytest.approx(tstr / trtr)
        for metric in METRICS:
            tstr, trtr = pick(frame, "TSTR", model, metric).value, pick(frame, "TRTR", model, metric).value
            change = pick(frame, "change", model, metric)
            assert change.value == pytest.approx(tstr - trtr)
            assert change.ci_low < change.ci_high


def test_perfect_predictor_has_auroc_one_with_a_tight_interval(ctx):
    y = ctx.labels(ctx.holdout).astype(float)
    out = utility.evaluate(ctx, {(s, m): y for s in ("TSTR", "TRTR") for m in ("logreg", "gboost")})
    auroc = pick(out, "TSTR", "logreg", "auroc")
    assert (auroc.value, auroc.ci_low, auroc.ci_high) == (1.0, 1.0, 1.0)
    assert pick(out, "TSTR", "logreg", "brier").value == 0
    assert pick(out, "TSTR", "logreg", "accuracy").value == 1
    change = pick(out, "change", "gboost", "auroc")
    assert (change.value, change.ci_low, change.ci_high) == (0.0, 0.0, 0.0)


def test_synthetic_data_that_lost_the_signal_shows_a_significant_drop(make_context, patients):
    synthetic = patients(600, 3)
    synthetic["outcome"] = np.random.default_rng(0).permutation(synthetic["outcome"].to_numpy())
    ctx = make_context(synthetic=synthetic)
    out = utility.evaluate(ctx, downstream_predictions(ctx))
    for model in ("logreg", "gboost"):
        assert pick(out, "TSTR", model, "auroc").value < 0.65 < pick(out, "TRTR", model, "auroc").value
        assert pick(out, "change", model, "auroc").ci_high < 0
        assert pick(out, "ratio", model, "auroc").ci_high < 1


def test_single_class_synthetic_gives_nan_rows_flagged_not_an_error(make_context, patients):
    ctx = make_context(synthetic=patients(300, 3).assign(outcome="yes"))
    with pytest.warns(UserWarning, match="single_class_synthetic"):
        predictions = downstream_predictions(ctx)
    out = utility.evaluate(ctx, predictions)
    unusable = out[out.source.isin(["TSTR", "ratio", "change"])]
    assert unusable.value.isna().all() and unusable.ci_low.isna().all()
    assert (unusable.flag == "single_class_synthetic").all()
    trtr = out[out.source == "TRTR"]
    assert trtr.value.notna().all() and not trtr.flag.str.contains("single_class").any()


def test_same_seed_gives_an_identical_frame_and_the_seed_matters(frame, ctx, predictions, make_context):
    pd.testing.assert_frame_equal(frame, utility.evaluate(make_context(), predictions))
    other = utility.evaluate(make_context(random_state=1), predictions)
    np.testing.assert_array_equal(other.value, frame.value)
    assert not np.array_equal(other.ci_low, frame.ci_low)


def test_no_bootstrap_gives_values_without_intervals(make_context, predictions):
    out = utility.evaluate(make_context(n_bootstrap=0), predictions)
    assert out.value.notna().all() and out.ci_low.isna().all() and out.ci_high.isna().all()

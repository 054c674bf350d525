"""Downstream models: fixed pipelines trained on synthetic (TSTR) and real (TRTR) data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score

from dpsynth.validators import predictions
from dpsynth.validators.tabular_models import downstream_predictions, make_pipeline
from dpsynth.validators.predictions import prediction_flags, training_flag


def test_predictions_cover_every_source_and_model(ctx, predictions):
    assert set(predictions) == {(s, m) for s in ("TSTR", "TRTR") for m in ("logreg", "gboost")}
    y = ctx.labels(ctx.holdout)
    for key, scores in predictions.items():
        assert scores.shape == (len(ctx.holdout),)
        assert ((scores >= 0) & (scores <= 1)).all()
        assert roc_auc_score(y, scores) > 0.7, key   # the outcome is learnable from the features


def test_features_are_every_column_but_the_target_including_sensitive_ones(ctx):
    pipe = make_pipeline(ctx.schema, "logreg").fit(ctx.train[ctx.feature_names()], ctx.labels(ctx.train))
    names = list(pipe[:-1].get_feature_names_out())
    assert not any("outcome" in n for n in names)
    assert any("sex_F" in n for n in names) and any("race_asian" in n for n in names)
    assert any("missingindicator_lactate" in n for n in names)   # missing values are a feature
    assert any("smoker_missing" in n for n in names)


def test_logreg_converges_and_gboost_is_fixed(ctx):
    features, y = ctx.feature_names(), ctx.labels(ctx.train)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        make_pipeline(ctx.schema, "logreg").fit(ctx.train[features], y)
    gboost = make_pipeline(ctx.schema, "gboost", random_state=7)[-1]
    assert gboost.early_stopping is False and gboost.random_state == 7
    logreg = make_pipeline(ctx.schema, "logreg")[-1]
    assert logreg.C == 1.0
    with pytest.raises(ValueError, match="unknown downstream model 'svm'"):
        make_pipeline(ctx.schema, "svm")


def test_one_hot_columns_come_from_the_schema_not_the_training_data(ctx):
    """A synthetic table that never produced a category gives the same model inputs."""
    features = ctx.feature_names()
    no_asian = ctx.train[ctx.train["race"] != "asian"]
    full = make_pipeline(ctx.schema, "logreg").fit(ctx.train[features], ctx.labels(ctx.train))
    partial = make_pipeline(ctx.schema, "logreg").fit(no_asian[features], ctx.labels(no_asian))
    assert list(full[:-1].get_feature_names_out()) == list(partial[:-1].get_feature_names_out())
    assert np.isfinite(partial.predict_proba(ctx.holdout[features])).all()


def test_same_seed_gives_identical_predictions(predictions, make_context):
    again = downstream_predictions(make_context())
    for key in predictions:
        np.testing.assert_array_equal(predictions[key], again[key])


def test_single_class_synthetic_gives_flagged_nan_predictions_not_an_error(make_context, patients):
    synthetic = patients(300, 3).assign(outcome="no")
    ctx = make_context(synthetic=synthetic)
    with pytest.warns(UserWarning, match="single_class_synthetic") as record:
        preds = downstream_predictions(ctx)
    assert "hold only the value(s) ['no'] of target 'outcome'" in str(record[0].message)
    assert training_flag(ctx, "TSTR") == "single_class_synthetic"
    assert training_flag(ctx, "TRTR") == ""
    assert np.isnan(preds[("TSTR", "logreg")]).all() and np.isnan(preds[("TSTR", "gboost")]).all()
    assert np.isfinite(preds[("TRTR", "logreg")]).all()
    assert prediction_flags(ctx, preds)[("TSTR", "gboost")] == "single_class_synthetic"


def test_prediction_flags_check_the_predictions(ctx, predictions):
    assert set(prediction_flags(ctx, predictions).values()) == {""}
    with pytest.raises(ValueError, match=r"lack the key\(s\) \[\('TRTR', 'gboost'\)\]"):
        prediction_flags(ctx, {k: v for k, v in predictions.items() if k != ("TRTR", "gboost")})
    with pytest.raises(ValueError, match="one per holdout row"):
        prediction_flags(ctx, {**predictions, ("TSTR", "logreg"): predictions[("TSTR", "logreg")][:-1]})
    with pytest.raises(ValueError, match="NaN or values outside"):
        prediction_flags(ctx, {**predictions, ("TSTR", "logreg"): predictions[("TSTR", "logreg")] * 3})
    with pytest.raises(ValueError, match="unknown source"):
        training_flag(ctx, "TRTS")


def test_join_flags():
    assert predictions.join_flags("", "small_group", "a;small_group", "") == "small_group;a"
    assert predictions.join_flags("", "") == ""

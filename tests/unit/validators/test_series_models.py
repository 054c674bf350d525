"""Series downstream models (cnn, features): TSTR / TRTR on windows, and the window statistics."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from dpsynth.series.schema import SeriesData
from dpsynth.validators import series_models, utility
from dpsynth.validators.context import AuditConfig
from dpsynth.validators.predictions import prediction_flags
from dpsynth.validators.series_models import (
    SERIES_MODELS, cnn_depth, downstream_predictions, feature_names, fit_predict, window_statistics,
)
from dpsynth.validators.series_suite import build_context
from tests.conftest import make_toy_series, make_toy_series_schema

SCHEMA = make_toy_series_schema()
TRAIN, HOLDOUT = make_toy_series(120, 1), make_toy_series(100, 2)


def context(synthetic: SeriesData, **config):
    return build_context(train=TRAIN, holdout=HOLDOUT, synthetic=synthetic, schema=SCHEMA,
                         config=AuditConfig(**{"n_bootstrap": 20, **config}))


def label_unrelated(data: SeriesData, seed: int) -> SeriesData:
    """A copy whose labels are re-drawn so that half of each true class is positive: the label
    no longer says anything about the signal."""
    out = copy.deepcopy(data)
    rng = np.random.default_rng(seed)
    label = out.static["label"].to_numpy(dtype=object)
    new = label.copy()
    for value in ("normal", "abnormal"):
        idx = rng.permutation(np.flatnonzero(label == value))
        new[idx[: len(idx) // 2]], new[idx[len(idx) // 2:]] = "abnormal", "normal"
    out.static["label"] = new
    return out


@pytest.fixture(scope="module")
def ctx():
    return context(copy.deepcopy(TRAIN))   # synthetic = a copy of the real train data


@pytest.fixture(scope="module")
def predictions(ctx):
    return downstream_predictions(ctx)


def test_trtr_learns_a_label_carried_by_the_frequency(ctx, predictions):
    y = ctx.labels(ctx.holdout)
    assert set(predictions) == {(s, m) for s in ("TSTR", "TRTR") for m in SERIES_MODELS}
    for model in SERIES_MODELS:
        scores = predictions[("TRTR", model)]
        assert scores.shape == (len(ctx.holdout),) and ((scores >= 0) & (scores <= 1)).all()
        assert roc_auc_score(y, scores) > 0.9, model


def test_tstr_on_a_copy_of_train_matches_trtr(ctx, predictions):
    y = ctx.labels(ctx.holdout)
    for model in SERIES_MODELS:
        tstr, trtr = predictions[("TSTR", model)], predictions[("TRTR", model)]
        assert abs(roc_auc_score(y, tstr) - roc_auc_score(y, trtr)) < 0.02, model
        np.testing.assert_allclose(tstr, trtr, atol=1e-5)   # same data, same seed


def test_tstr_on_label_unrelated_synthetic_is_near_chance():
    """Averaged over re-labellings: one relabelling alone can correlate by chance with the
    (perfectly separable) frequency, which moves a single AUROC far from 0.5."""
    aucs = {m: [] for m in SERIES_MODELS}
    for seed in range(4):
        ctx = context(label_unrelated(TRAIN, seed))
        y = ctx.labels(ctx.holdout)
        for model in SERIES_MODELS:
            aucs[model].append(roc_auc_score(y, fit_predict(ctx, "TSTR", model)))
    for model, values in aucs.items():
        assert abs(np.mean(values) - 0.5) < 0.12, (model, values)


def test_same_seed_same_predictions_and_unknown_model(ctx, predictions):
    np.testing.assert_array_equal(fit_predict(ctx, "TRTR", "cnn"), predictions[("TRTR", "cnn")])
    with pytest.raises(ValueError, match="unknown downstream model 'gru'"):
        fit_predict(ctx, "TRTR", "gru")


def test_single_class_synthetic_gives_flagged_nan_predictions(monkeypatch):
    monkeypatch.setattr(series_models, "fit_predict", lambda ctx, source, model: np.full(len(ctx.holdout), 0.5))
    synthetic = copy.deepcopy(TRAIN)
    synthetic.static["label"] = "normal"
    ctx = context(synthetic)
    with pytest.warns(UserWarning, match="single_class_synthetic"):
        preds = downstream_predictions(ctx)
    assert np.isnan(preds[("TSTR", "cnn")]).all() and np.isnan(preds[("TSTR", "features")]).all()
    assert prediction_flags(ctx, preds)[("TSTR", "cnn")] == "single_class_synthetic"
    rows = utility.evaluate(ctx, preds)
    tstr = rows[(rows.source == "TSTR") & (rows.metric == "auroc")]
    assert set(tstr.model) == set(SERIES_MODELS) and tstr.value.isna().all()
    assert (tstr.flag == "single_class_synthetic").all()


def test_prediction_flags_take_the_models_from_the_keys(ctx, predictions):
    assert set(prediction_flags(ctx, predictions).values()) == {""}
    with pytest.raises(ValueError, match=r"lack the key\(s\) \[\('TRTR', 'features'\)\]"):
        prediction_flags(ctx, {k: v for k, v in predictions.items() if k != ("TRTR", "features")})


def test_window_statistics_match_a_direct_computation():
    schema = make_toy_series_schema(window=64)
    rng = np.random.default_rng(0)
    t = np.arange(64) / schema.sampling_rate
    pressure = 20 + 10 * np.sin(2 * np.pi * 6.25 * t)        # 6.25 Hz = rFFT bin 8 of 64 at 50 Hz
    flow = rng.uniform(-2, 2, 64)
    flow[[3, 10, 11, 40]] = np.nan
    stats = window_statistics(schema, np.stack([pressure, flow], 1)[None].astype(np.float32))
    names = feature_names(schema)
    assert len(names) == stats.features.shape[1]
    get = dict(zip(names, stats.features[0]))
    assert get["pressure:dominant_frequency"] == pytest.approx(6.25)
    # its power sits in the octave 8-15, but for the Hann taper's leak into bin 7 (1/6 of it)
    assert get["pressure:band8-15"] == pytest.approx(5 / 6, abs=0.01)
    assert get["pressure:band4-7"] + get["pressure:band8-15"] > 0.999
    # period 8 samples: in phase at lag 8, opposite at lag 4, in quadrature at lag 2
    assert get["pressure:acf8"] > 0.9 and get["pressure:acf4"] < -0.9
    assert get["pressure:acf2"] == pytest.approx(0.0, abs=0.05)
    scaled = (flow + 2) / 4
    observed = scaled[~np.isnan(scaled)]
    assert get["flow:observed"] == pytest.approx(60 / 64)
    assert get["flow:mean"] == pytest.approx(observed.mean(), rel=1e-5)
    assert get["flow:std"] == pytest.approx(observed.std(), rel=1e-4)
    for q in (5, 25, 50, 75, 95):
        assert get[f"flow:q{q:02d}"] == pytest.approx(np.quantile(observed, q / 100), rel=1e-4)
    assert get["flow:mean_abs_diff"] == pytest.approx(np.nanmean(np.abs(np.diff(scaled))), rel=1e-4)
    assert stats.spectrum.shape == (1, 2, 32) and np.nansum(stats.spectrum[0, 0]) == pytest.approx(1.0)
    assert stats.acf.shape == (1, 2, 16)


def test_cnn_depth_follows_the_window():
    assert cnn_depth(32) == 2 and cnn_depth(256) == 5 and cnn_depth(100_000) == 6

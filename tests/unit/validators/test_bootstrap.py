"""The weighted metrics equal scikit-learn / fairlearn, and the bootstrap behaves as a bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import false_positive_rate, selection_rate, true_positive_rate
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    precision_score,
    roc_auc_score,
)

from dpsynth.validators import bootstrap as bs
from dpsynth.validators.bootstrap import Replicated


def scored_rows(n: int = 400, seed: int = 0, *, ties: bool = True):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    score = np.clip(0.35 * y + rng.normal(0.35, 0.2, n), 0, 1)
    if ties:
        score = np.round(score, 1)   # many tied scores
    return y, score


SKLEARN = {
    bs.auroc: roc_auc_score,
    bs.average_precision: average_precision_score,
    bs.brier: brier_score_loss,
    bs.accuracy: lambda y, s, **kw: accuracy_score(y, s >= 0.5, **kw),
    bs.true_positive_rate: lambda y, s, **kw: true_positive_rate(y, s >= 0.5, pos_label=1, **kw),
    bs.false_positive_rate: lambda y, s, **kw: false_positive_rate(y, s >= 0.5, pos_label=1, **kw),
    bs.positive_predictive_value: lambda y, s, **kw: precision_score(y, s >= 0.5, **kw),
    bs.selection_rate: lambda y, s, **kw: selection_rate(y, s >= 0.5, pos_label=1, **kw),
}


def reference_ece(y, score, n_bins=10):
    bins = np.minimum((score * n_bins).astype(int), n_bins - 1)
    return sum(abs(score[bins == b].mean() - y[bins == b].mean()) * (bins == b).mean()
               for b in range(n_bins) if (bins == b).any())


@pytest.mark.parametrize("ties", [True, False])
@pytest.mark.parametrize("kernel", list(SKLEARN), ids=lambda k: k.__name__)
def test_kernels_equal_reference_unweighted_and_on_resampled_rows(kernel, ties):
    y, score = scored_rows(ties=ties)
    reference = SKLEARN[kernel]
    assert kernel(y, score, np.ones((1, len(y))))[0] == pytest.approx(reference(y, score), abs=1e-12)
    # Count weights give exactly the metric of the resampled (duplicated) rows.
    idx = np.random.default_rng(1).integers(0, len(y), len(y))
    counts = np.bincount(idx, minlength=len(y))[None, :].astype(float)
    assert kernel(y, score, counts)[0] == pytest.approx(reference(y[idx], score[idx]), abs=1e-12)


def test_calibration_error_matches_binned_definition():
    y, score = scored_rows(ties=False)
    assert bs.calibration_error(y, score, np.ones((1, len(y))))[0] == pytest.approx(reference_ece(y, score))
    perfect = np.array([0, 1, 0, 1]), np.array([0.0, 1.0, 0.0, 1.0])
    assert bs.calibration_error(*perfect, np.ones((1, 4)))[0] == 0


def test_undefined_metrics_are_nan():
    y = np.zeros(5, dtype=int)
    score = np.linspace(0, 1, 5)
    ones = np.ones((1, 5))
    assert np.isnan(bs.auroc(y, score, ones)[0])
    assert np.isnan(bs.average_precision(y, score, ones)[0])
    assert np.isnan(bs.true_positive_rate(y, score, ones)[0])
    assert np.isnan(bs.positive_predictive_value(y, np.zeros(5), ones)[0])
    assert np.isnan(bs.auroc(y[:0], score[:0], np.ones((3, 0)))).all()


def test_resample_weights_are_counts_of_a_resample():
    w = bs.resample_weights(50, n_bootstrap=30, rng=np.random.default_rng(0))
    assert w.shape == (30, 50)
    assert (w.sum(axis=1) == 50).all() and (w >= 0).all()
    assert (w == bs.resample_weights(50, n_bootstrap=30, rng=np.random.default_rng(0))).all()
    assert bs.resample_weights(50, n_bootstrap=0, rng=np.random.default_rng(0)).shape == (0, 50)
    with pytest.raises(ValueError, match="n_bootstrap must be"):
        bs.resample_weights(50, n_bootstrap=-1, rng=np.random.default_rng(0))


def test_perfect_predictor_has_auroc_one_with_a_degenerate_interval():
    y, _ = scored_rows()
    est = bs.bootstrap(bs.auroc, y, y.astype(float), n_bootstrap=50, rng=np.random.default_rng(0))
    assert est == (1.0, 1.0, 1.0)


def test_interval_brackets_the_value_and_shrinks_with_more_rows():
    widths = []
    for n in (200, 3200):
        y, score = scored_rows(n, ties=False)
        value, low, high = bs.bootstrap(bs.auroc, y, score, n_bootstrap=200, rng=np.random.default_rng(0))
        assert low < value < high
        widths.append(high - low)
    assert widths[1] < widths[0] / 2.5   # ~ 1/sqrt(n): a 16x larger sample, a 4x narrower interval


def test_undefined_resamples_are_skipped():
    y = np.array([1] + [0] * 9)
    score = np.linspace(0.9, 0.0, 10)
    rep = bs.replicate(bs.auroc, y, score, weights=bs.resample_weights(
        10, n_bootstrap=200, rng=np.random.default_rng(0)))
    assert 0 < rep.n_valid < 200   # ~35% of resamples miss the single positive row
    est = rep.estimate(confidence=0.95)
    assert est.value == 1.0 and est.ci_low == est.ci_high == 1.0


def test_paired_difference_of_identical_predictions_is_exactly_zero():
    y, score = scored_rows()
    est = bs.paired_bootstrap(bs.auroc, y, score, score.copy(), n_bootstrap=50, rng=np.random.default_rng(0))
    assert est == (0.0, 0.0, 0.0)


def test_pairing_removes_the_shared_sampling_noise():
    y, a = scored_rows(ties=False)
    b = np.clip(a + np.random.default_rng(5).normal(0, 0.03, len(a)), 0, 1)
    weights = bs.resample_weights(len(y), n_bootstrap=200, rng=np.random.default_rng(0))
    ra, rb = bs.replicate(bs.auroc, y, a, weights=weights), bs.replicate(bs.auroc, y, b, weights=weights)
    paired = (ra - rb).estimate(confidence=0.95)
    shuffled = np.random.default_rng(9).permutation(rb.replicates)   # breaks the pairing
    unpaired = Replicated(ra.value - rb.value, ra.replicates - shuffled)
    unpaired_est = unpaired.estimate(confidence=0.95)
    assert paired.value == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b))
    assert (paired.ci_high - paired.ci_low) < (unpaired_est.ci_high - unpaired_est.ci_low) / 3


def test_paired_ratio():
    y, a = scored_rows(ties=False)
    b = np.clip(a + np.random.default_rng(5).normal(0, 0.3, len(a)), 0, 1)
    est = bs.paired_bootstrap(bs.auroc, y, b, a, n_bootstrap=100, rng=np.random.default_rng(0), op="ratio")
    assert est.value == pytest.approx(roc_auc_score(y, b) / roc_auc_score(y, a))
    assert est.ci_low < est.value < est.ci_high < 1


def test_per_resample_adapter_matches_the_vectorised_kernel():
    y, score = scored_rows(150)
    weights = bs.resample_weights(150, n_bootstrap=20, rng=np.random.default_rng(0))
    looped = bs.replicate(bs.per_resample(roc_auc_score), y, score, weights=weights)
    fast = bs.replicate(bs.auroc, y, score, weights=weights)
    np.testing.assert_allclose(looped.replicates, fast.replicates)
    assert looped.value == pytest.approx(fast.value)


def test_chunked_evaluation_equals_one_pass():
    y, score = scored_rows(120)
    weights = bs.resample_weights(120, n_bootstrap=150, rng=np.random.default_rng(0))   # > one chunk
    np.testing.assert_allclose(bs.replicate(bs.average_precision, y, score, weights=weights).replicates,
                               bs.average_precision(y, score, weights.astype(float)))


def test_intervals_need_a_defined_value_and_two_resamples():
    assert np.isnan(Replicated(0.5, np.array([0.4])).estimate(confidence=0.9).ci_low)
    assert np.isnan(Replicated(np.nan, np.array([0.4, 0.5])).estimate(confidence=0.9).ci_high)
    assert np.isnan(Replicated.undefined(10).estimate(confidence=0.9).value)
    with pytest.raises(ValueError, match="confidence must be in"):
        Replicated(0.5, np.array([0.4, 0.6])).estimate(confidence=95)
    with pytest.raises(ValueError, match="same resamples"):
        Replicated(0.5, np.zeros(3)) - Replicated(0.5, np.zeros(4))


def roc_height(y, score, fpr_at):
    """Reference: the height of scikit-learn's ROC curve at ``fpr_at``, linear between vertices."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False)
    heights = [tpr[i] + (tpr[i + 1] - tpr[i]) * (fpr_at - fpr[i]) / (fpr[i + 1] - fpr[i]) if fpr[i + 1] > fpr[i]
               else max(tpr[i], tpr[i + 1])
               for i in range(len(fpr) - 1) if fpr[i] <= fpr_at <= fpr[i + 1]]
    return max(heights)


@pytest.mark.parametrize("ties", [True, False])
@pytest.mark.parametrize("max_fpr", [0.0, 0.001, 0.01, 0.1, 0.5, 1.0])
def test_tpr_at_fpr_is_the_roc_curves_height(ties, max_fpr):
    y, score = scored_rows(ties=ties)
    kernel = bs.tpr_at_fpr(max_fpr)
    assert kernel(y, score, np.ones((1, len(y))))[0] == pytest.approx(roc_height(y, score, max_fpr), abs=1e-12)
    idx = np.random.default_rng(1).integers(0, len(y), len(y))
    counts = np.bincount(idx, minlength=len(y))[None, :].astype(float)
    assert kernel(y, score, counts)[0] == pytest.approx(roc_height(y[idx], score[idx], max_fpr), abs=1e-12)


def test_tpr_at_fpr_randomises_over_a_tied_block():
    """300 members and 5 non-members tied at the top: at FPR 1 % (3 of 300 non-members) the best
    test accepts the tied block with probability 3/5, catching 60 % of members."""
    y = np.r_[np.ones(300, int), np.zeros(300, int)]
    score = np.r_[np.ones(305), np.linspace(0, 0.5, 295)]
    assert bs.tpr_at_fpr(0.01)(y, score, np.ones((1, 600)))[0] == pytest.approx(0.6)
    assert np.isnan(bs.tpr_at_fpr(0.01)(np.ones(4, int), np.arange(4.0), np.ones((1, 4))))[0]
    with pytest.raises(ValueError, match="max_fpr must be in"):
        bs.tpr_at_fpr(1.5)

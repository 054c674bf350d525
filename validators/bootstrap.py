"""Percentile bootstrap over holdout rows, with metrics that score every resample at once.

A bootstrap resample of ``n`` rows is a vector of counts (how often each row was drawn).
Metrics here take those counts as *weights*: ``metric(*arrays, weights)`` with ``weights``
of shape ``(n_resamples, n)`` returns one value per resample, and with a single row of
ones it returns the plain (unweighted) value. Weighting by counts gives exactly the
metric of the resampled rows, so all resamples are scored in a few array operations
instead of a Python loop, and two predictions scored with the *same* weights form a
paired bootstrap (``tstr - trtr`` on identical resampled rows).

Resamples may be drawn within *strata* (`resample_weights`'s ``strata``: the outcome class,
or group x class), each stratum keeping its size, as the stratified bootstrap of AUROC
intervals does: a resample then never loses a class (or a group's class), so a metric defined
on the rows is defined on every resample, and the interval is one of the reported statistic
itself, not of the resamples where it happened to be defined. A resample where a metric is
still undefined (no predicted positive for a PPV, say) yields NaN and is skipped.

Intervals are percentile intervals. For a gap or worst case near its boundary (a spread of
noisy group rates is biased upward) the resamples can sit on one side of the estimate and the
percentile interval exclude it; the basic and bias-corrected percentile intervals exclude it
in exactly the same cases, so neither helps. The interval is then extended to the estimate
(never narrowed: its coverage can only grow) and the row is flagged `INTERVAL_WIDENED`.
Any metric written as ``fn(y, score, sample_weight=)`` can join via `per_resample` (a loop,
for metrics with no cheap vectorised form).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np

#: ``metric(*arrays, weights) -> values``, ``weights`` of shape (n_resamples, n_rows).
WeightedMetric = Callable[..., np.ndarray]

THRESHOLD = 0.5   # a score >= THRESHOLD predicts the positive class
N_BINS = 10       # equal-width probability bins of the expected calibration error
_CHUNK = 64       # resamples scored per array operation (bounds memory at 64 x n floats)

INVALID_CONFIDENCE = "confidence must be in (0, 1); got {confidence!r}"
INVALID_N_BOOTSTRAP = "n_bootstrap must be an integer >= 0; got {n_bootstrap!r}"
INVALID_FPR = "max_fpr must be in [0, 1]; got {max_fpr!r}"
LENGTH_MISMATCH = "paired replicates need the same resamples: got {a} and {b} replicates"
STRATA_LENGTH = "strata must give one label per row: got {got} labels for {n} rows"

#: Flag of a row whose percentile interval excluded its estimate and was extended to it.
INTERVAL_WIDENED = "interval_widened"
_CONTAINMENT_TOL = 1e-12  # relative: an estimate this close to an interval end counts as inside


class Estimate(NamedTuple):
    """A point value with its percentile bootstrap interval (NaN when not computable); the
    interval always contains the value (see the module docstring)."""

    value: float
    ci_low: float
    ci_high: float


# ---------------------------------------------------------------------------- resampling
def resample_weights(n: int, *, n_bootstrap: int, rng: np.random.Generator,
                     strata: np.ndarray | None = None) -> np.ndarray:
    """Counts of each of ``n`` rows in ``n_bootstrap`` resamples drawn with replacement.

    Returns an int32 array of shape ``(n_bootstrap, n)`` whose rows each sum to ``n``. With
    ``strata`` (one label per row) every stratum is resampled on its own and keeps its size
    in every resample (a stratified bootstrap).
    """
    if not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 0:
        raise ValueError(INVALID_N_BOOTSTRAP.format(n_bootstrap=n_bootstrap))
    if strata is not None:
        strata = np.asarray(strata)
        if len(strata) != n:
            raise ValueError(STRATA_LENGTH.format(got=len(strata), n=n))
    if n == 0 or n_bootstrap == 0:
        return np.zeros((n_bootstrap, n), dtype=np.int32)
    if strata is None:
        return _counts(n, n_bootstrap, rng)
    codes = np.unique(strata.astype(str), return_inverse=True)[1].ravel()
    out = np.zeros((n_bootstrap, n), dtype=np.int32)
    for code in range(codes.max() + 1):
        rows = np.flatnonzero(codes == code)
        out[:, rows] = _counts(len(rows), n_bootstrap, rng)
    return out


def _counts(n: int, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """Counts of ``n`` rows in ``n_bootstrap`` plain resamples, shape ``(n_bootstrap, n)``."""
    draws = rng.integers(0, n, size=(n_bootstrap, n))
    flat = (draws + np.arange(n_bootstrap)[:, None] * n).ravel()
    return np.bincount(flat, minlength=n_bootstrap * n).reshape(n_bootstrap, n).astype(np.int32)


@dataclass(frozen=True)
class Replicated:
    """A point value and its bootstrap replicates (NaN marks an undefined resample).

    Replicates of two metrics computed with the same resample weights are paired:
    ``a - b`` and ``a / b`` combine them resample by resample.
    """

    value: float
    replicates: np.ndarray

    def __sub__(self, other: Replicated) -> Replicated:
        self._check_paired(other)
        return Replicated(self.value - other.value, self.replicates - other.replicates)

    def __truediv__(self, other: Replicated) -> Replicated:
        self._check_paired(other)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = self.value / other.value if other.value != 0 else np.nan
            reps = np.where(other.replicates != 0, self.replicates / other.replicates, np.nan)
        return Replicated(float(value), reps)

    @classmethod
    def undefined(cls, n_bootstrap: int) -> Replicated:
        """A metric that cannot be computed at all (e.g. no model could be trained)."""
        return cls(np.nan, np.full(n_bootstrap, np.nan))

    def _check_paired(self, other: Replicated) -> None:
        if len(self.replicates) != len(other.replicates):
            raise ValueError(LENGTH_MISMATCH.format(a=len(self.replicates), b=len(other.replicates)))

    @property
    def n_valid(self) -> int:
        """Resamples on which the metric was defined."""
        return int(np.isfinite(self.replicates).sum())

    def _percentile(self, confidence: float) -> tuple[float, float]:
        """The plain percentile interval over the defined resamples (NaN, NaN when the point
        value is undefined or fewer than two resamples are defined)."""
        if not 0 < confidence < 1:
            raise ValueError(INVALID_CONFIDENCE.format(confidence=confidence))
        valid = self.replicates[np.isfinite(self.replicates)]
        if not np.isfinite(self.value) or len(valid) < 2:
            return np.nan, np.nan
        alpha = (1 - confidence) / 2
        low, high = np.quantile(valid, [alpha, 1 - alpha])
        return float(low), float(high)

    def widened(self, *, confidence: float) -> bool:
        """Whether the percentile interval excluded the point value (beyond rounding) and
        `estimate` extends it to the value."""
        low, high = self._percentile(confidence)
        if not np.isfinite(low):
            return False
        tol = _CONTAINMENT_TOL * max(1.0, abs(self.value))
        return bool(self.value < low - tol or self.value > high + tol)

    def estimate(self, *, confidence: float) -> Estimate:
        """Point value and percentile interval over the defined resamples, extended to the
        point value when it falls outside (`widened`; see the module docstring).

        The interval is NaN when the point value is undefined or fewer than two
        resamples are defined.
        """
        low, high = self._percentile(confidence)
        if np.isfinite(low):
            low, high = min(low, self.value), max(high, self.value)
        return Estimate(float(self.value), low, high)

    def fields(self, *, confidence: float, flag: str = "") -> dict[str, Any]:
        """``value``, ``ci_low``, ``ci_high`` and ``flag`` as the columns of a tidy result row:
        ``flag`` (the row's own flags) plus `INTERVAL_WIDENED` when the interval was extended."""
        extra = INTERVAL_WIDENED if self.widened(confidence=confidence) else ""
        flags = [f for part in (flag, extra) for f in part.split(";") if f]
        return {**self.estimate(confidence=confidence)._asdict(), "flag": ";".join(dict.fromkeys(flags))}


def replicate(metric: WeightedMetric, *arrays: np.ndarray, weights: np.ndarray) -> Replicated:
    """The metric on the rows as given (point value) and on every resample in ``weights``."""
    value = float(metric(*arrays, np.ones((1, weights.shape[1])))[0])
    chunks = [metric(*arrays, weights[i:i + _CHUNK].astype(float))
              for i in range(0, len(weights), _CHUNK)]
    reps = np.concatenate(chunks).astype(float) if chunks else np.empty(0)
    return Replicated(value, reps)


def bootstrap(
    metric: WeightedMetric,
    *arrays: np.ndarray,
    n_bootstrap: int,
    rng: np.random.Generator,
    confidence: float = 0.95,
) -> Estimate:
    """Point value and percentile interval of ``metric(*arrays)`` over resampled rows."""
    weights = resample_weights(len(arrays[0]), n_bootstrap=n_bootstrap, rng=rng)
    return replicate(metric, *arrays, weights=weights).estimate(confidence=confidence)


def paired_bootstrap(
    metric: WeightedMetric,
    y: np.ndarray,
    score_a: np.ndarray,
    score_b: np.ndarray,
    *,
    n_bootstrap: int,
    rng: np.random.Generator,
    confidence: float = 0.95,
    op: Literal["difference", "ratio"] = "difference",
) -> Estimate:
    """Interval of ``metric(y, a) - metric(y, b)`` (or ``/``), both scored on the same resamples."""
    weights = resample_weights(len(y), n_bootstrap=n_bootstrap, rng=rng)
    a = replicate(metric, y, score_a, weights=weights)
    b = replicate(metric, y, score_b, weights=weights)
    combined = a - b if op == "difference" else a / b
    return combined.estimate(confidence=confidence)


def per_resample(fn: Callable[..., float]) -> WeightedMetric:
    """Turn ``fn(*arrays, sample_weight=w) -> float`` into a weighted metric (one call per resample).

    Exceptions and non-finite results count as an undefined resample (NaN).
    """
    def metric(*args: np.ndarray) -> np.ndarray:
        *arrays, weights = args
        out = np.full(len(weights), np.nan)
        for i, w in enumerate(weights):
            keep = w > 0
            try:
                out[i] = fn(*(a[keep] for a in arrays), sample_weight=w[keep])
            except ValueError:
                continue
        return out
    return metric


# ------------------------------------------------------------- weighted binary metrics
# Each takes y (0/1 ints), score (P(y = 1)) and weights (n_resamples, n) and returns one
# value per resample; NaN where the metric is undefined on that resample.

def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _tie_blocks(score: np.ndarray, *, descending: bool) -> tuple[np.ndarray, np.ndarray]:
    """Sort order of the scores and the start of each run of tied scores in that order."""
    order = np.argsort(-score if descending else score, kind="stable")
    ordered = score[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return order, starts


def _block_sums(y: np.ndarray, score: np.ndarray, weights: np.ndarray, *, descending: bool):
    """Weighted positives and negatives per distinct score, shape (n_resamples, n_distinct)."""
    order, starts = _tie_blocks(score, descending=descending)
    w = weights[:, order]
    pos = np.add.reduceat(w * y[order], starts, axis=1)
    neg = np.add.reduceat(w * (1 - y[order]), starts, axis=1)
    return pos, neg


def auroc(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Area under the ROC curve (ties count one half); NaN without both classes."""
    if len(y) == 0:
        return np.full(len(weights), np.nan)
    pos, neg = _block_sums(y, score, weights, descending=False)
    neg_below = np.cumsum(neg, axis=1) - neg
    concordant = (pos * (neg_below + 0.5 * neg)).sum(axis=1)
    return _ratio(concordant, pos.sum(axis=1) * neg.sum(axis=1))


def tpr_at_fpr(max_fpr: float) -> WeightedMetric:
    """The weighted metric "TPR at FPR ``max_fpr``": the height of the ROC curve at that false-
    positive rate, linear between the curve's vertices (one per distinct score). Between two
    vertices the curve is what the best *randomised* threshold test reaches (accept the tied
    block of scores at the threshold with some probability), which tied scores need: without
    it, a block of tied members and non-members straddling the FPR would count as TPR 0.
    NaN without both classes. Used for membership inference, where the low-FPR end of the
    ROC curve is what matters (Carlini et al. 2022)."""
    if not 0 <= max_fpr <= 1:
        raise ValueError(INVALID_FPR.format(max_fpr=max_fpr))

    def metric(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
        if len(y) == 0:
            return np.full(len(weights), np.nan)
        pos, neg = _block_sums(y, score, weights, descending=True)
        start = np.zeros((len(weights), 1))
        tp, fp = np.hstack([start, np.cumsum(pos, axis=1)]), np.hstack([start, np.cumsum(neg, axis=1)])
        tpr, fpr = _ratio(tp, tp[:, -1:]), _ratio(fp, fp[:, -1:])
        rows = np.arange(len(weights))
        j = np.maximum((fpr <= max_fpr * (1 + 1e-12)).sum(axis=1) - 1, 0)  # last vertex within the FPR
        k = np.minimum(j + 1, fpr.shape[1] - 1)                               # the next one, beyond it
        f0, f1, t0, t1 = fpr[rows, j], fpr[rows, k], tpr[rows, j], tpr[rows, k]
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(f1 > f0, np.clip((max_fpr - f0) / np.where(f1 > f0, f1 - f0, 1), 0, 1), 0.0)
        return np.where((tp[:, -1] > 0) & (fp[:, -1] > 0), t0 + (t1 - t0) * share, np.nan)

    metric.__name__ = f"tpr_at_fpr_{max_fpr:g}"
    return metric


def average_precision(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average precision (area under the precision-recall step curve, as scikit-learn)."""
    if len(y) == 0:
        return np.full(len(weights), np.nan)
    pos, neg = _block_sums(y, score, weights, descending=True)
    tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    precision = np.where(tp + fp > 0, tp / np.where(tp + fp > 0, tp + fp, 1), 0.0)
    return _ratio((pos * precision).sum(axis=1), pos.sum(axis=1))


def brier(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mean squared difference between score and outcome."""
    return _ratio(weights @ (score - y) ** 2, weights.sum(axis=1))


def accuracy(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Share of rows whose thresholded prediction equals the outcome."""
    return _ratio(weights @ ((score >= THRESHOLD) == y).astype(float), weights.sum(axis=1))


def calibration_error(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Expected calibration error over N_BINS equal-width bins: sum_b |sum_{i in b} (s_i - y_i)| / n."""
    bins = np.minimum((score * N_BINS).astype(int), N_BINS - 1)
    onehot = np.zeros((len(score), N_BINS))
    onehot[np.arange(len(score)), bins] = score - y
    return _ratio(np.abs(weights @ onehot).sum(axis=1), weights.sum(axis=1))


def true_positive_rate(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """P(pred = 1 | y = 1); NaN without positive rows."""
    hit = (score >= THRESHOLD).astype(float)
    return _ratio(weights @ (hit * y), weights @ y.astype(float))


def false_positive_rate(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """P(pred = 1 | y = 0); NaN without negative rows."""
    hit = (score >= THRESHOLD).astype(float)
    return _ratio(weights @ (hit * (1 - y)), weights @ (1 - y).astype(float))


def positive_predictive_value(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """P(y = 1 | pred = 1); NaN without predicted positives."""
    hit = (score >= THRESHOLD).astype(float)
    return _ratio(weights @ (hit * y), weights @ hit)


def selection_rate(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """P(pred = 1)."""
    return _ratio(weights @ (score >= THRESHOLD).astype(float), weights.sum(axis=1))

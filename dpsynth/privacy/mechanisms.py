"""Small DP mechanisms on private data, run on OpenDP's samplers: noisy counts, partition
selection, DP quantiles and bounds.

Each function here *runs* a mechanism; charging the ledger is the caller's job and must
happen first (see `dpsynth.tabular.domain` and `dpsynth.privacy.conditions`). All use
add/remove adjacency in which one privacy unit contributes total weight at most 1
(L1 sensitivity 1): callers pass one value per unit, or, for histograms, spread a
unit's weight 1/k over its k rows.

The noise is OpenDP's (docs/privacy.md, rule 9): drawn from the OS CSPRNG, never from a
seed, so no one can replay it; and exact — its Laplace noise is sampled as a discrete
Laplace on a fine grid and its privacy maps account for floating-point rounding, so the
floating-point attack on textbook samplers (Mironov 2012) does not apply. Each
measurement's own privacy map is checked against the ε it is run for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import opendp.prelude as dp

from dpsynth.errors import DpsynthError

dp.enable_features("contrib")

QUANTILE_CANDIDATES = 1024  # public, evenly spaced candidates between the coarse bounds
_FLOAT_VECTOR = dp.vector_domain(dp.atom_domain(T=float, nan=False))
_KEY_COUNTS = dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T=int))
_ONE_KEY_BY_ONE = (1, 1, 1)  # a unit changes one key's count by 1 (l0, l1, l∞)


def _check_map(measurement: dp.Measurement, d_in: object, epsilon: float, delta: float = 0.0) -> None:
    """OpenDP's privacy map must not exceed what the caller charged (a bug otherwise)."""
    spent = measurement.map(d_in)
    eps, dlt = spent if isinstance(spent, tuple) else (spent, 0.0)
    if eps > epsilon * (1 + 1e-9) or dlt > delta * (1 + 1e-9):
        raise DpsynthError(f"mechanism spends ({eps}, {dlt}) but ({epsilon}, {delta}) was charged")


def laplace_histogram(weights_by_cell: np.ndarray, *, epsilon: float) -> np.ndarray:
    """Counts over a PUBLIC list of cells plus Laplace(1/ε) noise (ε-DP, L1 sensitivity 1)."""
    counts = np.asarray(weights_by_cell, dtype=float)
    measurement = dp.m.make_laplace(_FLOAT_VECTOR, dp.l1_distance(T=float), scale=1.0 / epsilon)
    _check_map(measurement, 1.0, epsilon)
    return np.asarray(measurement(counts.ravel().tolist()), dtype=float).reshape(counts.shape)


def _threshold_measurement(epsilon: float, threshold: int) -> dp.Measurement:
    return dp.m.make_laplace_threshold(_KEY_COUNTS, dp.l01inf_distance(dp.absolute_distance(T=int)),
                                       scale=1.0 / epsilon, threshold=threshold)


def partition_threshold(epsilon: float, delta: float) -> int:
    """The smallest count threshold at which Laplace(1/ε) partition selection is (ε, δ)-DP by
    OpenDP's privacy map (≈ 1 + ln(1/(2δ))/ε): a key held by a single unit passes with
    probability ≤ δ."""
    return int(dp.binary_search(lambda t: _threshold_measurement(epsilon, t).map(_ONE_KEY_BY_ONE)[1] <= delta,
                                bounds=(1, 2**30)))


def select_partitions(counts: dict[str, int], *, epsilon: float, delta: float) -> list[str]:
    """Keep the keys whose Laplace-noised count reaches `partition_threshold` (sorted).

    ``counts`` are private unit counts (a unit adds 1 to exactly one key). The kept key
    list — a category domain — is (ε, δ)-DP; the noisy counts are not released.
    """
    measurement = _threshold_measurement(epsilon, partition_threshold(epsilon, delta))
    _check_map(measurement, _ONE_KEY_BY_ONE, epsilon, delta)
    return sorted(measurement({str(k): int(v) for k, v in counts.items()}))


# Data-independent bins over the real line: (-2^k, -2^(k-1)], ..., (2^(k-1), 2^k].
_LOG_EDGES = np.array([0.0] + [2.0**k for k in range(-10, 41)])
APPROX_BOUNDS_EDGES = np.concatenate([-_LOG_EDGES[:0:-1], _LOG_EDGES])


SPURIOUS_BIN_RATE = 0.001  # chance that any empty bin passes the threshold on noise alone


@dataclass(frozen=True)
class CoarseBounds:
    """ε-DP coarse bounds and the noisy count of values behind them (a DP estimate of n)."""

    lower: float
    upper: float
    noisy_total: float


def approximate_bounds(values: np.ndarray, *, epsilon: float) -> CoarseBounds | None:
    """Coarse ε-DP bounds: the outermost power-of-two bins whose noisy count clears a
    threshold, one bin wider on each side; None when no bin clears it (too few units).

    Bins are fixed in advance (±2^k, k in [-10, 40]); only the noisy histogram touches the
    data, so the result is ε-DP. The threshold is post-processing, chosen so that across all
    B bins an empty one passes with probability at most `SPURIOUS_BIN_RATE` (each bin:
    ½·exp(−ε·t) ≤ rate / B): a single spurious far bin would widen the bounds by orders of
    magnitude. The extra bin on each side holds the sparse tails, whose counts stay under
    the threshold.
    """
    values = np.clip(values, APPROX_BOUNDS_EDGES[0], APPROX_BOUNDS_EDGES[-1])
    idx = np.clip(np.searchsorted(APPROX_BOUNDS_EDGES, values, side="left"), 1, len(APPROX_BOUNDS_EDGES) - 1) - 1
    counts = np.bincount(idx, minlength=len(APPROX_BOUNDS_EDGES) - 1)
    noisy = laplace_histogram(counts, epsilon=epsilon)
    threshold = math.log(len(counts) / (2.0 * SPURIOUS_BIN_RATE)) / epsilon
    passing = np.flatnonzero(noisy > threshold)
    if passing.size == 0:
        return None
    first, last = max(passing[0] - 1, 0), min(passing[-1] + 1, len(counts) - 1)
    return CoarseBounds(float(APPROX_BOUNDS_EDGES[first]), float(APPROX_BOUNDS_EDGES[last + 1]), float(noisy.sum()))


def exponential_quantile(values: np.ndarray, *, quantile: float, lower: float, upper: float,
                         epsilon: float) -> float:
    """ε-DP quantile: OpenDP's exponential mechanism (Smith 2011, scored by rank distance,
    sensitivity 1) over `QUANTILE_CANDIDATES` public, evenly spaced candidates in
    ``[lower, upper]``; values are clipped to that range first."""
    candidates = np.linspace(lower, upper, QUANTILE_CANDIDATES).tolist()

    def make(scale: float) -> dp.Measurement:
        return dp.m.make_private_quantile(_FLOAT_VECTOR, dp.symmetric_distance(), dp.max_divergence(),
                                          candidates=candidates, alpha=quantile, scale=scale)

    measurement = make(dp.binary_search_param(make, d_in=1, d_out=epsilon))
    _check_map(measurement, 1, epsilon)
    clipped = np.clip(np.asarray(values, dtype=float), lower, upper)
    return float(measurement(clipped.tolist()))


QUANTILE_RANK_ERROR_SHARE = 0.05  # refine the coarse bounds only if the quantiles are this precise
_QUANTILE_FAILURE = 0.05  # the rank error bound below holds with probability 1 - this


def quantile_rank_error(epsilon: float) -> float:
    """Ranks by which `exponential_quantile` misses its quantile with probability at most
    5 %: scale · ln(candidates / 0.05), with OpenDP's scale ≈ 2/ε."""
    return 2.0 / epsilon * math.log(QUANTILE_CANDIDATES / _QUANTILE_FAILURE)


def dp_bounds(values: np.ndarray, *, epsilon: float,
              quantiles: Sequence[float] = (0.005, 0.995)) -> tuple[float, float] | None:
    """ε-DP (lower, upper) bounds: ε/2 for `approximate_bounds`, ε/4 per quantile; None when
    the coarse histogram finds no bin above its threshold (the budget is too small).

    The quantiles refine the coarse bounds only when they can be precise: when their rank
    error (`quantile_rank_error`) exceeds `QUANTILE_RANK_ERROR_SHARE` of the noisy count,
    they would clip a large share of the data, and the coarse bounds are returned instead
    (a decision on DP outputs only; the quantiles' ε stays charged)."""
    coarse = approximate_bounds(values, epsilon=epsilon / 2)
    if coarse is None:
        return None
    if quantile_rank_error(epsilon / 4) > QUANTILE_RANK_ERROR_SHARE * coarse.noisy_total:
        return coarse.lower, coarse.upper
    low, high = (exponential_quantile(values, quantile=q, lower=coarse.lower, upper=coarse.upper,
                                      epsilon=epsilon / 4) for q in quantiles)
    if high <= low:
        low, high = min(low, high), max(low, high) + 1e-6 * max(1.0, abs(high))
    return low, high

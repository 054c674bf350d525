"""Small DP mechanisms on private data: noisy counts, partition selection, DP bounds.

Each function here *runs* a mechanism; charging the ledger is the caller's job and must
happen first (see `dpsynth.privacy.domain` and `dpsynth.privacy.conditions`). All use
add/remove adjacency in which one privacy unit contributes total weight at most 1
(L1 sensitivity 1): callers pass one value per unit, or, for histograms, spread a
unit's weight 1/k over its k rows.

``rng`` is a numpy Generator (seeded, reproducible) or `SecureRandom` (secure mode:
uniforms from the OS CSPRNG; noise is then not reproducible, and — as for any
floating-point Laplace sampler — not hardened against the Mironov attack).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np


class SecureRandom:
    """The subset of numpy's Generator the mechanisms use, drawn from ``os.urandom``."""

    def __init__(self) -> None:
        self._source = random.SystemRandom()

    def random(self, size: int | None = None):
        if size is None:
            return self._source.random()
        return np.array([self._source.random() for _ in range(int(np.prod(size)))]).reshape(size)

    def laplace(self, loc: float = 0.0, scale: float = 1.0, size: int | None = None):
        u = np.asarray(self.random(size if size is not None else 1)) - 0.5
        draw = loc - scale * np.sign(u) * np.log1p(-2 * np.abs(u))
        return draw if size is not None else float(draw[0])


Rng = np.random.Generator | SecureRandom


def laplace_histogram(weights_by_cell: np.ndarray, *, epsilon: float, rng: Rng) -> np.ndarray:
    """Counts over a PUBLIC list of cells plus Laplace(1/ε) noise (ε-DP, sensitivity 1)."""
    counts = np.asarray(weights_by_cell, dtype=float)
    return counts + np.asarray(rng.laplace(0.0, 1.0 / epsilon, size=counts.shape))


def partition_threshold(epsilon: float, delta: float) -> float:
    """Threshold τ = 1 + ln(1/(2δ))/ε for Laplace partition selection ((ε, δ)-DP).

    A key held by a single unit (count ≤ 1) passes only with probability ≤ δ.
    """
    return 1.0 + math.log(1.0 / (2.0 * delta)) / epsilon


def select_partitions(counts: dict[str, float], *, epsilon: float, delta: float, rng: Rng) -> list[str]:
    """Keep the keys whose Laplace-noised count exceeds `partition_threshold` (sorted).

    ``counts`` are private (a unit contributes weight ≤ 1 to exactly one key). The kept
    key list — a category domain — is (ε, δ)-DP.
    """
    tau = partition_threshold(epsilon, delta)
    keys = sorted(counts)
    noisy = laplace_histogram(np.array([counts[k] for k in keys]), epsilon=epsilon, rng=rng)
    return [k for k, value in zip(keys, noisy) if value > tau]


# Data-independent bins over the real line: (-2^k, -2^(k-1)], ..., (2^(k-1), 2^k].
_LOG_EDGES = np.array([0.0] + [2.0**k for k in range(-10, 41)])
APPROX_BOUNDS_EDGES = np.concatenate([-_LOG_EDGES[:0:-1], _LOG_EDGES])


def approximate_bounds(values: np.ndarray, *, epsilon: float, rng: Rng) -> tuple[float, float]:
    """Coarse ε-DP bounds: outermost power-of-two bins whose noisy count clears a threshold.

    Bins are fixed in advance (±2^k, k in [-10, 40]); only the noisy histogram touches the
    data, so the result is ε-DP. The threshold (a utility choice: a bin of noise alone
    passes with probability 1 %) is post-processing.
    """
    values = np.clip(values, APPROX_BOUNDS_EDGES[0], APPROX_BOUNDS_EDGES[-1])
    idx = np.clip(np.searchsorted(APPROX_BOUNDS_EDGES, values, side="left"), 1, len(APPROX_BOUNDS_EDGES) - 1) - 1
    counts = np.bincount(idx, minlength=len(APPROX_BOUNDS_EDGES) - 1)
    noisy = laplace_histogram(counts, epsilon=epsilon, rng=rng)
    threshold = math.log(1.0 / 0.02) / epsilon
    passing = np.flatnonzero(noisy > threshold)
    if passing.size == 0:
        return float(APPROX_BOUNDS_EDGES[0]), float(APPROX_BOUNDS_EDGES[-1])
    return float(APPROX_BOUNDS_EDGES[passing[0]]), float(APPROX_BOUNDS_EDGES[passing[-1] + 1])


def exponential_quantile(
    values: np.ndarray, *, quantile: float, lower: float, upper: float, epsilon: float, rng: Rng
) -> float:
    """ε-DP quantile by the exponential mechanism over the gaps between sorted values.

    Values are clipped to the public ``[lower, upper]``; the gap between the i-th and
    (i+1)-th value has utility −|i − q·n| (sensitivity 1) and is chosen with probability
    ∝ length · exp(−ε·|i − q·n| / 2); the output is uniform inside it (Smith 2011).
    """
    x = np.sort(np.clip(np.asarray(values, dtype=float), lower, upper))
    edges = np.concatenate([[lower], x, [upper]])
    lengths = np.diff(edges)
    ranks = np.arange(len(lengths))
    with np.errstate(divide="ignore"):
        log_weights = np.log(lengths) - epsilon * np.abs(ranks - quantile * len(x)) / 2.0
    gumbel = -np.log(-np.log(np.clip(np.asarray(rng.random(len(lengths))), 1e-300, 1.0 - 1e-16)))
    chosen = int(np.argmax(np.where(np.isfinite(log_weights), log_weights + gumbel, -np.inf)))
    return float(edges[chosen] + rng.random() * lengths[chosen])


def dp_bounds(
    values: np.ndarray, *, epsilon: float, rng: Rng, quantiles: Sequence[float] = (0.005, 0.995)
) -> tuple[float, float]:
    """ε-DP (lower, upper) bounds: ε/2 for `approximate_bounds`, ε/4 per quantile."""
    coarse_low, coarse_high = approximate_bounds(values, epsilon=epsilon / 2, rng=rng)
    low = exponential_quantile(values, quantile=quantiles[0], lower=coarse_low, upper=coarse_high,
                               epsilon=epsilon / 4, rng=rng)
    high = exponential_quantile(values, quantile=quantiles[1], lower=coarse_low, upper=coarse_high,
                                epsilon=epsilon / 4, rng=rng)
    if high <= low:
        low, high = min(low, high), max(low, high) + 1e-6 * max(1.0, abs(high))
    return low, high

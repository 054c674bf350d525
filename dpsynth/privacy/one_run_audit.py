"""The ε lower bound of a one-run privacy audit (Steinke, Nasr & Jagielski, NeurIPS 2023).

The audit inserts m canaries, each included with probability ½ (secretly), trains once,
and guesses IN or OUT for r of them (abstaining on the rest); v guesses are right. If
the training is (ε, δ)-DP, the paper's Theorem 5.2 bounds how likely that many right
guesses are: with q = e^ε / (1 + e^ε) (the accuracy of ε-randomised response) and
f(u) = P[Binomial(r, q) ≥ u],

    P[W ≥ v] ≤ f(v) + 2·m·δ · max_{1 ≤ i ≤ v} (f(v − i) − f(v)) / i.

The observation rejects (ε, δ)-DP at confidence 1 − β when that p-value is ≤ β; the
largest such ε is the empirical lower bound. Since (ε₀, δ)-DP implies (ε, δ)-DP for
every ε ≥ ε₀, one rejection at ε rejects every smaller ε too, so the search below only
keeps the invariant "the p-value at the reported ε is ≤ β" and needs no monotonicity.

Which canaries to guess on is fixed in advance (`GUESS_RULES`): guess IN for the highest
membership scores, OUT for the lowest, or both, on a fixed share of the m canaries. Every
rule is tested at β / len(GUESS_RULES) (a union bound), so reporting the largest of their
bounds keeps the overall confidence at 1 − β.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

Side = Literal["both", "in", "out"]


@dataclass(frozen=True)
class GuessRule:
    """Guess on ``fraction`` of the m canaries: IN for the highest scores ("in"), OUT for the
    lowest ("out"), or half each ("both")."""

    side: Side
    fraction: float

    def split(self, m: int) -> tuple[int, int]:
        """(IN guesses, OUT guesses) for m canaries."""
        r = min(m, max(1, int(round(self.fraction * m))))
        return {"in": (r, 0), "out": (0, r), "both": (r // 2, r - r // 2)}[self.side]


GUESS_FRACTIONS = (0.05, 0.1, 0.2, 0.4)
GUESS_RULES = tuple(GuessRule(side, f) for side in ("both", "out", "in") for f in GUESS_FRACTIONS)
"""The pre-registered rules, each tested at β / 12. Why these: few guesses suit a signal
that shows only in the extreme scores, more guesses a strong one; and a loss-based score is
often sure on one side only — the lowest scores can be almost all OUT while the highest mix
IN canaries with OUT ones that are easy for the model anyway; a GAN's realness may be sure
on the other side. At most 40 %: with perfect scores every guess is right unless the
secret coins put fewer than 40 % of the canaries in (or out)."""

BISECTION_STEPS = 60
MAX_EPSILON = 50.0  # beyond any DP-SGD claim; the search stops here


@dataclass(frozen=True)
class Guesses:
    """One pre-registered guessing rule applied to the scores: r guesses, v of them right."""

    side: Side
    fraction: float  # share of the m canaries guessed on
    guesses: int  # r
    correct: int  # v
    epsilon_lower_bound: float  # at confidence 1 − β / len(GUESS_RULES)


def check_counts(m: int, r: int, v: int) -> None:
    """A clear error unless 0 ≤ v ≤ r ≤ m (whole numbers)."""
    if not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in (m, r, v)):
        raise ValueError(f"m, r and v must be whole numbers (got m={m!r}, r={r!r}, v={v!r})")
    if not 0 <= v <= r <= m:
        raise ValueError(f"need 0 <= correct guesses v <= guesses r <= canaries m (got m={m}, r={r}, v={v})")


def p_value(m: int, r: int, v: int, *, epsilon: float, delta: float) -> float:
    """Upper bound on P[at least v of r guesses right] for m canaries under (ε, δ)-DP
    (Theorem 5.2 of the paper, see the module docstring)."""
    check_counts(m, r, v)
    if not epsilon >= 0 or not 0 <= delta <= 1:
        raise ValueError(f"need epsilon >= 0 and 0 <= delta <= 1 (got epsilon={epsilon}, delta={delta})")
    q = 1.0 / (1.0 + math.exp(-epsilon))
    tail = float(stats.binom.sf(v - 1, r, q))  # f(v) = P[Binomial(r, q) >= v]
    if delta == 0 or v == 0:
        return min(tail, 1.0)
    # f(v - i) - f(v) = P[v - i <= Binomial(r, q) < v] = the sum of the pmf at v - 1, ..., v - i
    below = np.cumsum(stats.binom.pmf(np.arange(v - 1, -1, -1), r, q))
    slope = float(np.max(below / np.arange(1, v + 1)))
    return min(tail + 2.0 * m * delta * slope, 1.0)


def epsilon_lower_bound(m: int, r: int, v: int, *, delta: float, confidence: float = 0.95) -> float:
    """The largest ε such that v right guesses out of r (m canaries) reject (ε, δ)-DP at
    ``confidence``; 0.0 when even ε = 0 is not rejected (e.g. chance-level guesses)."""
    check_counts(m, r, v)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1) (got {confidence})")
    beta = 1.0 - confidence
    if p_value(m, r, v, epsilon=0.0, delta=delta) > beta:
        return 0.0
    low, high = 0.0, 1.0  # invariant: p_value(low) <= beta
    while high < MAX_EPSILON and p_value(m, r, v, epsilon=high, delta=delta) <= beta:
        low, high = high, 2 * high
    if high >= MAX_EPSILON and p_value(m, r, v, epsilon=MAX_EPSILON, delta=delta) <= beta:
        return MAX_EPSILON
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2
        if p_value(m, r, v, epsilon=middle, delta=delta) <= beta:
            low = middle
        else:
            high = middle
    return low


def count_guesses(scores: np.ndarray, included: np.ndarray, *, guess_in: int, guess_out: int) -> int:
    """Right guesses when guessing IN for the ``guess_in`` highest scores and OUT for the
    ``guess_out`` lowest (ties broken by position, which is itself random)."""
    scores, included = np.asarray(scores, float), np.asarray(included, bool)
    if scores.shape != included.shape or scores.ndim != 1:
        raise ValueError("scores and included must be 1-D arrays of the same length")
    if np.isnan(scores).any():
        raise ValueError("membership scores must not be NaN")
    if guess_in + guess_out > len(scores):
        raise ValueError(f"cannot guess on {guess_in} + {guess_out} of {len(scores)} canaries")
    order = np.argsort(-scores, kind="stable")
    guessed_out = order[len(order) - guess_out:] if guess_out else order[:0]
    return int(included[order[:guess_in]].sum() + (~included[guessed_out]).sum())


def audit_scores(scores: np.ndarray, included: np.ndarray, *, delta: float,
                 confidence: float = 0.95) -> tuple[float, list[Guesses]]:
    """(ε lower bound at ``confidence``, every guessing rule's result) from one membership
    score per canary (higher = more likely IN) and the secret inclusion bits."""
    m = len(scores)
    per_rule = 1.0 - (1.0 - confidence) / len(GUESS_RULES)
    results = []
    for rule in GUESS_RULES:
        guess_in, guess_out = rule.split(m)
        v = count_guesses(scores, included, guess_in=guess_in, guess_out=guess_out)
        r = guess_in + guess_out
        results.append(Guesses(rule.side, rule.fraction, r, v,
                               epsilon_lower_bound(m, r, v, delta=delta, confidence=per_rule)))
    return max(g.epsilon_lower_bound for g in results), results


def best_possible_bound(m: int, *, delta: float, confidence: float = 0.95) -> float:
    """The largest bound the audit can report with m canaries: every guess right under the
    rule that guesses on the most of them. A claim above it cannot be contradicted by this audit."""
    r = max(sum(rule.split(m)) for rule in GUESS_RULES)
    return epsilon_lower_bound(m, r, r, delta=delta, confidence=1.0 - (1.0 - confidence) / len(GUESS_RULES))

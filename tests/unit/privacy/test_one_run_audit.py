"""The one-run audit's ε lower bound (Steinke, Nasr & Jagielski 2023, Theorem 5.2)."""

import math

import numpy as np
import pytest
from scipy import stats

from dpsynth.privacy.one_run_audit import (
    GUESS_RULES,
    GuessRule,
    audit_scores,
    best_possible_bound,
    count_guesses,
    epsilon_lower_bound,
    p_value,
)


def logit(p: float) -> float:
    return math.log(p / (1 - p))


@pytest.mark.parametrize("r", [10, 50, 200, 1000])
def test_without_delta_all_right_guesses_give_the_closed_form(r):
    """δ = 0, v = r: P[Binomial(r, q) = r] = q^r = β, so ε = logit(β^(1/r))."""
    assert epsilon_lower_bound(1000, r, r, delta=0.0) == pytest.approx(logit(0.05 ** (1 / r)), abs=1e-6)


def test_without_delta_the_p_value_is_the_binomial_tail():
    q = 1 / (1 + math.exp(-1.5))
    assert p_value(500, 100, 70, epsilon=1.5, delta=0.0) == pytest.approx(stats.binom.sf(69, 100, q))


def test_the_delta_term_is_the_theorems_slope():
    """2mδ · max_i (f(v-i) - f(v)) / i, from the tail function f directly."""
    m, r, v, eps, delta = 300, 60, 45, 0.8, 1e-4
    q = 1 / (1 + math.exp(-eps))
    f = lambda u: stats.binom.sf(u - 1, r, q)  # noqa: E731  P[Binomial(r, q) >= u]
    slope = max((f(v - i) - f(v)) / i for i in range(1, m + 1))
    assert p_value(m, r, v, epsilon=eps, delta=delta) == pytest.approx(f(v) + 2 * m * delta * slope)


def test_all_right_guesses_give_a_bound_that_grows_with_the_number_of_guesses():
    bounds = [epsilon_lower_bound(1000, r, r, delta=1e-5) for r in (10, 20, 50, 100, 200, 500, 1000)]
    assert all(a < b for a, b in zip(bounds, bounds[1:]))
    assert bounds[0] > 0.5 and bounds[-1] > 5.0


@pytest.mark.parametrize("r", [20, 100, 1000])
def test_chance_level_guesses_give_no_bound(r):
    assert epsilon_lower_bound(1000, r, r // 2, delta=1e-5) == 0.0
    assert epsilon_lower_bound(1000, r, r // 2 + int(math.sqrt(r)) // 2, delta=1e-5) < 0.15


def test_the_bound_is_monotonic_in_the_right_guesses():
    bounds = [epsilon_lower_bound(1000, 200, v, delta=1e-5) for v in range(100, 201, 5)]
    assert all(a <= b for a, b in zip(bounds, bounds[1:]))
    assert bounds[0] == 0.0 and bounds[-1] > 4.0


def test_delta_only_weakens_the_bound():
    for v in (140, 170, 200):
        assert epsilon_lower_bound(1000, 200, v, delta=1e-3) <= epsilon_lower_bound(1000, 200, v, delta=0.0)


@pytest.mark.parametrize("epsilon, r", [(0.5, 200), (1.0, 500), (2.0, 1000)])
def test_an_exactly_epsilon_dp_mechanism_is_falsely_rejected_at_most_5_percent_of_the_time(epsilon, r):
    """Randomised response with ε is ε-DP and each guess is right with probability q = e^ε/(1+e^ε):
    the bound exceeds the true ε exactly when v reaches the smallest v* with p-value <= 0.05, and
    P[Binomial(r, q) >= v*] must be at most 0.05 (the confidence of the bound)."""
    q = 1 / (1 + math.exp(-epsilon))
    v_star = next(v for v in range(r + 1) if p_value(r, r, v, epsilon=epsilon, delta=1e-5) <= 0.05)
    assert epsilon_lower_bound(r, r, v_star, delta=1e-5) >= epsilon - 1e-9
    assert epsilon_lower_bound(r, r, v_star - 1, delta=1e-5) < epsilon
    assert stats.binom.sf(v_star - 1, r, q) <= 0.05


def test_guessing_in_for_the_top_scores_and_out_for_the_bottom_scores():
    scores = np.array([0.9, 0.1, 0.8, 0.2, 0.5, 0.4])
    included = np.array([True, False, False, False, True, True])
    assert count_guesses(scores, included, guess_in=1, guess_out=1) == 2  # IN 0.9 (right), OUT 0.1 (right)
    assert count_guesses(scores, included, guess_in=2, guess_out=2) == 3  # + IN 0.8 (wrong), OUT 0.2 (right)
    assert count_guesses(scores, included, guess_in=3, guess_out=3) == 4
    assert count_guesses(scores, included, guess_in=0, guess_out=3) == 2  # OUT 0.1, 0.2 right, 0.4 wrong
    assert count_guesses(scores, included, guess_in=2, guess_out=0) == 1


def test_the_rules_are_pre_registered_and_split_their_guesses():
    assert len(GUESS_RULES) == 12 and {rule.side for rule in GUESS_RULES} == {"both", "in", "out"}
    assert GuessRule("both", 0.2).split(1000) == (100, 100)
    assert GuessRule("out", 0.05).split(1000) == (0, 50) and GuessRule("in", 0.4).split(50) == (20, 0)


def test_perfect_scores_reach_the_best_possible_bound_and_random_scores_none():
    rng = np.random.default_rng(0)
    included = rng.random(500) < 0.5
    bound, rules = audit_scores(included.astype(float) + rng.random(500) * 0.1, included, delta=1e-5)
    assert [(g.side, g.fraction) for g in rules] == [(rule.side, rule.fraction) for rule in GUESS_RULES]
    assert all(g.correct == g.guesses for g in rules)
    assert bound == pytest.approx(best_possible_bound(500, delta=1e-5)) and bound > 3.5
    bound, rules = audit_scores(rng.random(500), included, delta=1e-5)
    assert bound < 0.5


def test_a_one_sided_signal_is_found_by_a_one_sided_rule():
    """The lowest scores all OUT, the rest a coin toss: the "out" rules carry the bound."""
    rng = np.random.default_rng(1)
    included = rng.random(1000) < 0.5
    scores = rng.random(1000)
    scores[np.flatnonzero(~included)[:100]] = -1.0  # 100 surely-OUT canaries at the bottom
    bound, rules = audit_scores(scores, included, delta=1e-5)
    best = max(rules, key=lambda g: g.epsilon_lower_bound)
    assert best.side == "out" and best.correct == best.guesses == 100 and bound > 2.0


def test_the_union_bound_over_the_rules_costs_confidence():
    most = max(sum(rule.split(1000)) for rule in GUESS_RULES)
    assert best_possible_bound(1000, delta=1e-5) < epsilon_lower_bound(1000, most, most, delta=1e-5)
    assert best_possible_bound(1000, delta=1e-5) == pytest.approx(
        epsilon_lower_bound(1000, most, most, delta=1e-5, confidence=1 - 0.05 / len(GUESS_RULES)))


@pytest.mark.parametrize("m, r, v", [(10, 20, 5), (100, 10, 11), (100, -1, 0), (100, 10.5, 3)])
def test_impossible_counts_are_clear_errors(m, r, v):
    with pytest.raises(ValueError, match="v <= guesses r <= canaries m|whole numbers"):
        epsilon_lower_bound(m, r, v, delta=1e-5)


def test_bad_scores_are_clear_errors():
    with pytest.raises(ValueError, match="same length"):
        count_guesses(np.zeros(3), np.zeros(4, bool), guess_in=1, guess_out=1)
    with pytest.raises(ValueError, match="NaN"):
        count_guesses(np.array([0.0, np.nan]), np.zeros(2, bool), guess_in=1, guess_out=1)
    with pytest.raises(ValueError, match="cannot guess on 2 \\+ 2 of 3"):
        count_guesses(np.zeros(3), np.zeros(3, bool), guess_in=2, guess_out=2)

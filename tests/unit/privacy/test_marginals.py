"""The marginal family's measurements: OpenDP's Gaussian and noisy top-k under zCDP, their
accounting (ρ → (ε, δ)) and its recheck."""

import inspect
import math

import numpy as np
import pytest

from dpsynth.errors import BudgetError, DpsynthError
from dpsynth.privacy import marginals
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.ledger import PrivacyLedger
from dpsynth.privacy.marginals import (
    epsilon_of_rho, gaussian_counts, gaussian_scale, noisy_top_k, plan_marginals, private_quantile, rho_for)
from dpsynth.privacy.recheck import recheck_ledger

SHARES = {"one-way": 0.3, "selection": 0.1, "target pairs": 0.6}


def test_rho_is_the_largest_whose_epsilon_fits_the_budget():
    for epsilon in (0.1, 1.0, 8.0):
        rho = rho_for(epsilon, 1e-5)
        assert epsilon * 0.999 < epsilon_of_rho(rho, 1e-5) <= epsilon
        assert epsilon_of_rho(rho * 1.01, 1e-5) > epsilon
    # the textbook bound ε ≤ ρ + 2√(ρ ln(1/δ)) is looser than OpenDP's conversion
    rho = rho_for(1.0, 1e-5)
    assert rho + 2 * math.sqrt(rho * math.log(1e5)) >= 1.0
    with pytest.raises(BudgetError, match="ε > 0"):
        rho_for(0.0, 1e-5)


def test_a_budget_beyond_opendps_conversion_plans_within_it_instead_of_failing_inside_opendp():
    """OpenDP's zCDP → (ε, δ) conversion overflows for ρ of about 10⁵: such a ρ counts as an
    infinite ε, so a large budget gets the largest ρ the conversion can vouch for."""
    assert epsilon_of_rho(1e6, 1e-5) == math.inf
    for epsilon in (1e4, 1e6):
        rho = rho_for(epsilon, 1e-5)
        assert rho > 1e3 and epsilon_of_rho(rho, 1e-5) <= epsilon


def test_gaussian_noise_has_the_planned_scale():
    noisy = gaussian_counts(np.zeros(40_000), sensitivity=2.0, rho=0.5)
    assert np.std(noisy) == pytest.approx(gaussian_scale(2.0, 0.5), rel=0.03)
    assert gaussian_scale(2.0, 0.5) == pytest.approx(2.0)  # Δ / √(2ρ)
    assert gaussian_counts(np.zeros((2, 3)), sensitivity=1.0, rho=1.0).shape == (2, 3)


def test_rule_9_measurements_take_no_seed_and_never_repeat_their_noise():
    for fn in (gaussian_counts, noisy_top_k):
        assert not {"rng", "seed", "random_state"} & set(inspect.signature(fn).parameters), fn.__name__
    np.random.seed(0)
    first = gaussian_counts(np.zeros(20), sensitivity=1.0, rho=1.0)
    np.random.seed(0)
    assert not np.allclose(first, gaussian_counts(np.zeros(20), sensitivity=1.0, rho=1.0))


def test_noisy_top_k_picks_clear_winners_and_k_distinct_indices():
    scores = np.array([0.0, 500.0, 1.0, 400.0, 2.0])
    assert sorted(noisy_top_k(scores, k=2, rho=1.0)) == [1, 3]
    picked = noisy_top_k(np.zeros(10), k=4, rho=0.01)
    assert len(set(picked)) == 4 and all(0 <= i < 10 for i in picked)


def test_private_quantile_finds_a_clear_median_on_the_public_grid_and_never_repeats_a_seed():
    values = np.random.default_rng(0).normal(2.0, 0.2, 2000)
    grid = np.geomspace(0.01, 10.0, 100)
    picks = [private_quantile(values, candidates=grid, alpha=0.5, rho=1.0) for _ in range(5)]
    assert all(p in grid for p in picks) and all(abs(p - 2.0) < 0.2 for p in picks)
    np.random.seed(0)
    noisy = [private_quantile(values[:20], candidates=grid, alpha=0.5, rho=1e-4) for _ in range(8)]
    assert len(set(noisy)) > 1  # OpenDP's own draws: no global seed repeats them


def test_a_measurement_whose_map_exceeds_its_rho_is_refused(monkeypatch):
    """Break the noise on purpose (half the planned scale): OpenDP's map exceeds ρ, we refuse."""
    monkeypatch.setattr(marginals, "gaussian_scale", lambda sensitivity, rho: sensitivity / math.sqrt(2 * rho) / 2)
    with pytest.raises(DpsynthError, match="planned"):
        gaussian_counts(np.zeros(3), sensitivity=1.0, rho=0.5)


def test_the_plan_splits_rho_and_its_ledger_entry_rechecks():
    plan = plan_marginals(epsilon=1.0, delta=1e-5, shares=SHARES)
    assert sum(plan.stages.values()) == pytest.approx(plan.rho)
    assert plan.epsilon <= 1.0
    ledger = PrivacyLedger(PrivacyBudget(1.0, 1e-5))
    entry = ledger.charge(plan.ledger_entry("train dp-marginal (noisy marginals)"))
    assert "n_units" not in entry.params and recheck_ledger(ledger) == []
    tampered = ledger.to_dict()
    tampered["entries"][0]["params"]["rho"] *= 4  # the entry claims less ε than its ρ gives
    assert any("parameters give" in p or "add up" in p for p in recheck_ledger(tampered))
    with pytest.raises(BudgetError, match="sum to 1"):
        plan_marginals(epsilon=1.0, delta=1e-5, shares={"one-way": 0.5, "target pairs": 0.6})


def test_check_spent_refuses_a_stage_that_ran_over_its_rho():
    plan = plan_marginals(epsilon=1.0, delta=1e-5, shares=SHARES)
    plan.record("one-way", plan.stages["one-way"])
    plan.check_spent()
    plan.record("one-way", plan.stages["one-way"])  # measured twice: twice the planned ρ
    with pytest.raises(RuntimeError, match="one-way"):
        plan.check_spent()

import dataclasses
from types import SimpleNamespace

import pytest
from opacus.accountants import RDPAccountant
from opacus.accountants.utils import get_noise_multiplier

from dpsynth.errors import BudgetError
from dpsynth.privacy.dpsgd import cohort_batch_size, epsilon_for_history, plan_dpsgd
from dpsynth.privacy.marginals import plan_marginals


@pytest.mark.parametrize("accountant", ["prv", "rdp"])
def test_plan_spends_at_most_the_target(accountant):
    plan = plan_dpsgd(n_units=5000, epsilon=1.0, delta=1e-5, batch_size=250, epochs=5,
                      max_grad_norm=1.0, accountant=accountant)
    assert plan.epsilon <= 1.0
    assert plan.epsilon > 0.9  # the calibration is tight, not wasteful
    assert plan.sample_rate == pytest.approx(1 / 20)
    assert plan.steps == 100
    sigma = get_noise_multiplier(target_epsilon=1.0, target_delta=1e-5, sample_rate=1 / 20, steps=100,
                                 accountant=accountant)
    assert plan.noise_multiplier == pytest.approx(sigma)


def test_planned_epsilon_is_what_opacus_computes_for_the_history():
    plan = plan_dpsgd(n_units=3000, epsilon=2.0, delta=1e-6, batch_size=100, epochs=3,
                      max_grad_norm=1.0, accountant="rdp")
    accountant = RDPAccountant()
    accountant.history = plan.history
    assert plan.epsilon == pytest.approx(accountant.get_epsilon(delta=1e-6))
    assert epsilon_for_history(plan.history, delta=1e-6, accountant="rdp") == pytest.approx(plan.epsilon)


def test_budget_too_small_to_train_raises_before_anything_runs():
    with pytest.raises(BudgetError, match="too small to train"):
        plan_dpsgd(n_units=100, epsilon=1e-4, delta=1e-7, batch_size=100, epochs=50, max_grad_norm=1.0)


def test_needs_more_than_one_unit():
    with pytest.raises(BudgetError, match="at least 2"):
        plan_dpsgd(n_units=1, epsilon=1.0, delta=1e-5, batch_size=1, epochs=1, max_grad_norm=1.0)


def test_huge_epsilon_under_prv_is_a_clear_error_not_a_hang():
    """opacus' PRV calibration at ε = 1000 ran for minutes in 7 GB; refuse it and name the ways out."""
    with pytest.raises(BudgetError, match="accountant='rdp'"):
        plan_dpsgd(n_units=1000, epsilon=1000.0, delta=1e-5, batch_size=250, epochs=30, max_grad_norm=1.0)
    plan = plan_dpsgd(n_units=1000, epsilon=1000.0, delta=1e-5, batch_size=250, epochs=30, max_grad_norm=1.0,
                      accountant="rdp")
    assert 0 < plan.epsilon <= 1000.0


@pytest.mark.parametrize(("n_units", "batch"), [(2, 128), (500, 128), (896, 128), (897, 128), (1047, 128),
                                                 (1793, 256), (2809, 256), (3585, 512), (6373, 512),
                                                 (100_000, 512)])
def test_cohort_batch_is_the_largest_of_the_ladder_with_eight_batches_an_epoch(n_units, batch):
    assert cohort_batch_size(n_units) == batch


@pytest.mark.parametrize(("n_units", "sample_rate", "steps"), [
    (500, 1 / 4, 400),      # a small cohort: 100 passes of batch 128
    (2809, 1 / 11, 400),    # batch 256, 30 passes would be 330 steps
    (6373, 1 / 13, 400),    # batch 512, 390 steps raised to 400
    (20_000, 1 / 40, 1200), # large: 30 passes of batch 512
])
def test_the_cohort_schedule_runs_30_passes_or_400_steps_whichever_is_more(n_units, sample_rate, steps):
    plan = plan_dpsgd(n_units=n_units, epsilon=1.0, delta=1e-5, batch_size=None, epochs=None, max_grad_norm=1.0)
    assert plan.sample_rate == pytest.approx(sample_rate) and plan.steps == steps
    assert plan.batch_size == cohort_batch_size(n_units)  # the ledger records the batch used, not None
    assert plan.epsilon <= 1.0


def test_explicit_epochs_are_kept_even_under_400_steps():
    plan = plan_dpsgd(n_units=500, epsilon=1.0, delta=1e-5, batch_size=None, epochs=2, max_grad_norm=1.0)
    assert (plan.sample_rate, plan.steps) == (1 / 4, 8)


def test_a_first_stage_is_its_own_part_checked_with_the_plan_and_kept_off_the_dp_sgd_entry():
    first = plan_marginals(epsilon=0.5, delta=5e-6, shares={"one-way": 0.3, "selection": 0.1, "target pairs": 0.6})
    plan = dataclasses.replace(plan_dpsgd(n_units=1000, epsilon=0.5, delta=5e-6, batch_size=100, epochs=2,
                                          max_grad_norm=1.0, accountant="rdp"), first_stage=first)
    assert plan.parts == (first, plan)
    assert "first_stage" not in plan.ledger_entry("train").params
    log = SimpleNamespace(history=plan.history, epsilon=plan.epsilon)
    plan.check_spent(log)
    first.record("one-way", 2 * first.stages["one-way"])  # the first stage ran over its ρ
    with pytest.raises(RuntimeError, match="one-way"):
        plan.check_spent(log)

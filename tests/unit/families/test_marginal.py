"""The marginal family: what it counts, how much one unit moves each measurement (the
sensitivity the noise is calibrated to), the projection of noisy counts, the module's tables."""

import math

import numpy as np
import pytest
import torch

from dpsynth import registry
from dpsynth.errors import ParameterError
from dpsynth.families import marginal
from dpsynth.families.marginal import TargetMarginals, measure, pairs_to_measure, simplex
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.conditions import NOISY, WEIGHT
from dpsynth.privacy.marginals import plan_marginals
from tests.conftest import make_toy_frame, make_toy_schema

SHARES = {marginal.ONE_WAY: 0.3, marginal.SELECTION: 0.1, marginal.PAIRS: 0.6}


def units(n: int, rng: np.random.Generator, rows: int = 1):
    """x [n, rows, 6]: block A (2 cells) follows the target, block B (2 cells) is noise,
    block C (the target's own, 2 cells); c [n, rows, 2] one-hot target; all rows valid."""
    y = rng.integers(0, 2, n)
    a = np.where(rng.random(n) < 0.9, y, 1 - y)
    b = rng.integers(0, 2, n)
    x = np.zeros((n, rows, 6), np.float32)
    for i, (col, offset) in enumerate(((a, 0), (b, 2), (y, 4))):
        x[np.arange(n), :, offset + col] = 1.0
    c = np.zeros((n, rows, 2), np.float32)
    c[np.arange(n), :, y] = 1.0
    return torch.from_numpy(x), torch.from_numpy(c), torch.ones(n, rows)


BLOCKS = [slice(0, 2), slice(2, 4), slice(4, 6)]


def test_simplex_keeps_clean_counts_and_drops_noise_below_the_level():
    assert simplex(np.array([30.0, 10.0])) == pytest.approx([0.75, 0.25])
    projected = simplex(np.array([50.0, -5.0, 2.0, 3.0]))
    assert projected.sum() == pytest.approx(1.0) and (projected >= 0).all() and projected[1] == 0
    assert simplex(np.array([-3.0, -1.0])) == pytest.approx([0.5, 0.5])  # nothing positive: uniform


def test_pairs_to_measure_grows_with_n_and_rho_within_its_bounds():
    assert pairs_to_measure(10.0, 32, 0.01, 40, 2.0) == 1
    assert pairs_to_measure(1e6, 32, 1.0, 40, 2.0) == 40
    small, large = pairs_to_measure(800, 32, 0.01, 40, 2.0), pairs_to_measure(5000, 32, 0.01, 40, 2.0)
    assert 1 <= small < large <= 40


def test_the_associated_block_is_chosen_and_its_table_follows_the_target():
    x, c, mask = units(4000, np.random.default_rng(0))
    module = TargetMarginals(6, 2)
    plan = plan_marginals(epsilon=4.0, delta=1e-5, shares=SHARES)
    log = measure(module, (x, c, mask), plan, measured=BLOCKS, target_block=2, cell_signal=1e6, progress=False)
    assert log.chosen == (0,)  # one pair affordable at this cell_signal: the informative block
    probs = module.log_probs.exp()
    assert probs[0, 0] > 0.8 and probs[1, 1] > 0.8  # p(A = y | y) ≈ 0.9
    assert torch.allclose(probs[0, 2:4], probs[1, 2:4])  # block B: no pair, the same row for every target
    plan.check_spent()
    assert [stage for stage, _ in plan.spent] == [marginal.ONE_WAY, marginal.SELECTION, marginal.PAIRS]
    out = module.generate(c[:5, 0])
    assert torch.equal(out, module.log_probs[c[:5, 0].argmax(-1)])


@pytest.mark.parametrize("rows", [1, 3])
def test_one_unit_moves_each_measurement_by_at_most_its_sensitivity(rows, monkeypatch):
    """Adjacent data (one unit removed): the counted vectors differ by at most the sensitivity
    the noise is calibrated to (√blocks, √k in L2) and every selection score by at most 1."""
    x, c, mask = units(300, np.random.default_rng(1), rows=rows)
    seen = []

    def capture(counts, *, sensitivity, rho):
        """No noise; the one-way release of both runs is the first run's (the selection is
        adaptive: its scores are compared given the same earlier DP output)."""
        seen.append((np.asarray(counts, float).copy(), sensitivity))
        return seen[0][0] if len(seen) in (1, 3) else np.asarray(counts, float)

    scores = []

    def top_k(values, *, k, rho):
        scores.append(np.asarray(values, float).copy())
        return list(range(k))

    monkeypatch.setattr(marginal, "gaussian_counts", capture)
    monkeypatch.setattr(marginal, "noisy_top_k", top_k)
    for data in ((x, c, mask), (x[1:], c[1:], mask[1:])):
        plan = plan_marginals(epsilon=4.0, delta=1e-5, shares=SHARES)
        measure(TargetMarginals(6, 2), data, plan, measured=BLOCKS, target_block=2, cell_signal=1e-6,
                progress=False)
    (full_one, s1), (full_pairs, s2), (less_one, _), (less_pairs, _) = seen
    assert s1 == pytest.approx(math.sqrt(3)) and s2 == pytest.approx(math.sqrt(2))
    assert np.linalg.norm(full_one - less_one) <= s1 + 1e-9
    assert np.linalg.norm(full_pairs - less_pairs) <= s2 + 1e-9
    assert np.abs(scores[0] - scores[1]).max() <= 1.0 + 1e-9


def test_a_fit_measures_within_its_plan_and_records_one_training_entry():
    model = registry.create("dp-marginal", make_toy_schema(), n_bins=8)
    model.fit(make_toy_frame(), budget=PrivacyBudget(1.0, 1e-5), random_state=0, progress=False)
    mechanisms = [e.mechanism for e in model.ledger_.entries]
    assert mechanisms == ["marginal-measurements"]  # the condition mix comes from the measurements
    assert model.privacy_spent()[0] <= 1.0 and model.log_.steps == 0
    assert 1 <= len(model.log_.chosen) and model.module_.measured_pairs.any()


def test_the_condition_mix_follows_the_measured_group_rates():
    """The mix of (outcome, sex) cells is built from the sex × outcome pair: at a large budget the
    pair is measured and the mix matches the data's outcome rate per sex (the toy's risk is
    higher for men), and so do the sampled rows."""
    frame = make_toy_frame(n=3000, seed=3)
    model = registry.create("dp-marginal", make_toy_schema(), n_bins=8)
    model.fit(frame, budget=PrivacyBudget(50.0, 1e-5), random_state=0, progress=False)
    table = model.condition_table_
    measured = [b.column for b in model.codec_.blocks if b.role != "fine"]  # `_measured_blocks`' order
    assert measured.index("sex") in model.log_.chosen
    assert table[NOISY].sum() == pytest.approx(len(frame), rel=0.05)
    by_sex = table.groupby(["sex", "outcome"])[WEIGHT].sum().unstack()
    rate = by_sex["yes"] / by_sex.sum(axis=1)
    real = frame.groupby("sex")["outcome"].apply(lambda o: (o == "yes").mean())
    assert rate["male"] == pytest.approx(real["male"], abs=0.03)
    assert rate["female"] == pytest.approx(real["female"], abs=0.03)
    synthetic = model.sample(4000, random_state=1)
    synthetic_rate = synthetic.groupby("sex")["outcome"].apply(lambda o: (o == "yes").mean())
    assert synthetic_rate["male"] - synthetic_rate["female"] == pytest.approx(real["male"] - real["female"], abs=0.06)


def test_a_condition_share_is_refused_before_any_data_is_read():
    model = registry.create("dp-marginal", make_toy_schema(), condition_share=0.05)
    with pytest.raises(ParameterError, match="condition_share=0"):
        model.fit(make_toy_frame(), budget=PrivacyBudget(1.0, 1e-5), random_state=0, progress=False)


def test_the_condition_mix_reads_only_the_measurements():
    """Post-processing only: with the module's tables set to uniform, the mix follows the public
    layout alone whatever the data — outcome × sex uniform, race group "other" (two of the
    four categories) twice "white" — and its total is the noisy n̂ of the log."""
    model = registry.create("dp-marginal", make_toy_schema(), n_bins=8)
    model.fit(make_toy_frame(n=600, seed=4), budget=PrivacyBudget(50.0, 1e-5), random_state=0, progress=False)
    model.module_.log_probs.zero_()
    mix = model._fitted_condition_table(model.module_, model.log_, model.condition_table_)
    total = mix[WEIGHT].sum()
    assert np.allclose(mix.groupby(["outcome", "sex"])[WEIGHT].sum().to_numpy() / total, 0.25)
    race = mix.groupby("race")[WEIGHT].sum() / total
    assert race.to_dict() == pytest.approx({"white": 0.25, "black": 0.25, "other": 0.5})
    assert mix[NOISY].sum() == pytest.approx(model.log_.n_hat)

"""The marginal family: what it counts, how much one unit moves each measurement (the
sensitivity the noise is calibrated to), the projection of noisy counts, the module's tables."""

import math

import numpy as np
import pytest
import torch

from dpsynth import registry
from dpsynth.errors import ParameterError
from dpsynth.families import marginal
from dpsynth.families.marginal import TargetMarginals, measure, pairs_to_measure, pooled_target_counts, simplex
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.conditions import NOISY, WEIGHT
from dpsynth.privacy.marginals import plan_marginals
from tests.conftest import make_toy_frame, make_toy_schema

SHARES = {marginal.ONE_WAY: 0.3, marginal.PAIRS: 0.7}
SELECTION = 0.3  # the selection's largest share of ρ


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
    log = measure(module, (x, c, mask), plan, measured=BLOCKS, target_block=2, cell_signal=1e6, pair_groups=3,
                  selection_share=SELECTION, merges=['categories'] * 3, progress=False)
    assert log.chosen == (0,)  # one pair affordable at this cell_signal: the informative block
    probs = module.log_probs.exp()
    assert probs[0, 0] > 0.8 and probs[1, 1] > 0.8  # p(A = y | y) ≈ 0.9
    assert torch.allclose(probs[0, 2:4], probs[1, 2:4])  # block B: no pair, the same row for every target
    plan.check_spent()
    assert [stage for stage, _ in plan.spent] == [marginal.ONE_WAY, marginal.PAIRS, marginal.PAIRS]  # chosen, measured
    assert log.selection_rho == pytest.approx(SELECTION * plan.rho / 2)  # one of two candidates affordable
    out = module.generate(c[:5, 0])
    assert torch.equal(out, module.log_probs[c[:5, 0].argmax(-1)])


def test_an_unpaired_block_is_never_a_candidate_and_keeps_its_one_way_row():
    x, c, mask = units(4000, np.random.default_rng(0))
    module = TargetMarginals(6, 2)
    plan = plan_marginals(epsilon=4.0, delta=1e-5, shares=SHARES)
    log = measure(module, (x, c, mask), plan, measured=BLOCKS, target_block=2, cell_signal=1e-6, pair_groups=3,
                  selection_share=SELECTION, merges=["categories"] * 3, progress=False, unpaired={0})
    assert log.chosen == (1,)  # every candidate affordable: only the noise block is left
    probs = module.log_probs.exp()
    assert torch.allclose(probs[0, 0:2], probs[1, 0:2])  # the associated block, unpaired: one row for every target
    assert not module.measured_pairs[0:2].any() and module.measured_pairs[2:4].all()


def test_pooling_weights_each_count_of_the_target_by_its_precision_and_skips_incomplete_blocks():
    pairs = {0: np.array([[60.0, 40.0], [30.0, 20.0]]), 1: np.array([[0.0, 1.0], [5.0, 0.0]])}
    pooled = pooled_target_counts(np.array([400.0, -300.0]), 100.0, pairs, 1.0, complete={0})
    precise = 1 / (2 * 1.0)  # the pair's row sums: 2 cells of s.d. 1
    expected = (np.array([400.0, -300.0]) / 100.0 ** 2 + np.array([100.0, 50.0]) * precise) / (1 / 100.0 ** 2 + precise)
    assert pooled == pytest.approx(expected) and pooled == pytest.approx([100.0, 50.0], abs=0.1)
    assert pooled_target_counts(np.array([4.0, 3.0]), 1.0, pairs, 1.0, complete=()) == pytest.approx([4.0, 3.0])


@pytest.mark.parametrize("complete", [{0, 1, 2}, set()])
def test_the_target_share_and_total_pool_the_complete_blocks_pairs(complete, monkeypatch):
    """The target's own histogram drawn far off (one class emptied): the fitted p(y) and n̂ are
    the pooled estimate from that draw and the complete blocks' pair rows, as released."""
    x, c, mask = units(1000, np.random.default_rng(3))
    draws = []

    def off_target(counts, *, sensitivity, rho):
        counts = np.asarray(counts, float).copy()
        if not draws:  # the one-way stage: the target's histogram (the last block) pushed to [n, -n/2]
            counts[4:6] = [1000.0, -500.0]
        draws.append(counts)
        return counts

    monkeypatch.setattr(marginal, "gaussian_counts", off_target)
    module = TargetMarginals(6, 2)
    log = measure(module, (x, c, mask), plan_marginals(epsilon=0.05, delta=1e-5, shares=SHARES), measured=BLOCKS,
                  target_block=2, cell_signal=1e-6, pair_groups=3, selection_share=SELECTION, merges=["categories"] * 3,
                  progress=False, complete=complete)
    rows = np.split(draws[1], len(log.chosen))
    pairs = {i: part.reshape(2, -1) for i, part in zip(log.chosen, rows)}
    pooled = pooled_target_counts(draws[0][4:6], log.one_way_sd, pairs, log.pairs_sd, complete)
    p_target = module.log_probs[0, 4:6].exp().double().numpy()
    assert p_target == pytest.approx(simplex(pooled), abs=1e-5)
    assert log.n_hat == pytest.approx(np.clip(pooled, 0, None).sum())
    assert (p_target[1] > 0.1) == bool(complete)  # pooled, the emptied class is back


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
        measure(TargetMarginals(6, 2), data, plan, measured=BLOCKS, target_block=2, cell_signal=1e6,
                pair_groups=3, selection_share=SELECTION, merges=["categories"] * 3, progress=False)
    (full_one, s1), (full_pairs, s2), (less_one, _), (less_pairs, _) = seen
    assert s1 == pytest.approx(math.sqrt(3)) and s2 == pytest.approx(1.0)  # one pair chosen of two
    assert np.linalg.norm(full_one - less_one) <= s1 + 1e-9
    assert np.linalg.norm(full_pairs - less_pairs) <= s2 + 1e-9
    assert len(scores) == 2 and np.abs(scores[0] - scores[1]).max() <= 1.0 + 1e-9


@pytest.mark.parametrize("targets", [2, 3])
def test_one_unit_moves_the_association_score_by_at_most_one(targets):
    """The selection score of any table, at any p̂(y) (a skewed one included), moves by at most 1
    when one unit of weight 1 (spread over its rows' cells) is added."""
    rng = np.random.default_rng(7)
    for trial in range(400):
        joint = rng.integers(0, 30, (targets, 3)).astype(float)
        target_probs = np.array([0.03] + [0.97 / (targets - 1)] * (targets - 1)) if trial % 2 else \
            rng.dirichlet(np.ones(targets))
        unit = np.zeros_like(joint)
        rows = rng.dirichlet(np.ones(3))  # the unit's weight over its rows' cells, all of one target
        unit[rng.integers(targets)] = rows
        before = marginal.association_score(joint, target_probs, pair_sd=5.0)
        after = marginal.association_score(joint + unit, target_probs, pair_sd=5.0)
        assert abs(after - before) <= 1.0 + 1e-9


def test_the_selection_and_the_pairs_share_the_stage_and_all_are_measured_when_all_fit():
    """Where one of two candidates fits, the selection takes half its largest share and the
    pairs the rest of the stage; where both fit, nothing is chosen and both are measured on the
    whole stage. Either way the stage is spent exactly, never more."""
    x, c, mask = units(2000, np.random.default_rng(2))
    for cell_signal, chosen, selection in ((1e6, 1, SELECTION / 2), (1e-6, 2, 0.0)):
        plan = plan_marginals(epsilon=1.0, delta=1e-5, shares=SHARES)
        log = measure(TargetMarginals(6, 2), (x, c, mask), plan, measured=BLOCKS, target_block=2,
                      cell_signal=cell_signal, pair_groups=3, selection_share=SELECTION,
                      merges=["categories"] * 3, progress=False)
        spent = [rho for stage, rho in plan.spent if stage == marginal.PAIRS]
        assert len(log.chosen) == chosen and len(spent) == (2 if selection else 1)
        assert log.selection_rho == pytest.approx(selection * plan.rho)
        assert sum(spent) == pytest.approx(plan.stages[marginal.PAIRS], rel=1e-12)
        plan.check_spent()


def test_selection_rho_shrinks_as_more_candidates_fit():
    assert marginal.selection_rho(1, 4, 0.3) == pytest.approx(0.225)
    assert marginal.selection_rho(4, 4, 0.3) == 0.0 and marginal.selection_rho(9, 4, 0.3) == 0.0


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


def test_cell_groups_merge_ordered_bins_by_mass_and_keep_the_frequent_categories():
    uniform = marginal.cell_groups(np.full(16, 1 / 16), 4, merge="ordered")
    assert uniform.tolist() == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
    peaked = marginal.cell_groups(np.array([0.05, 0.05, 0.4, 0.4, 0.05, 0.05]), 3, merge="ordered")
    assert (np.diff(peaked) >= 0).all() and peaked.max() < 3  # adjacent runs, at most 3
    categories = marginal.cell_groups(np.array([0.1, 0.5, 0.05, 0.3, 0.05]), 3, merge="categories")
    assert categories.tolist() == [2, 0, 2, 1, 2]  # the two most probable alone, the rest together
    assert marginal.cell_groups(np.array([0.3, 0.7]), 3, merge="ordered").tolist() == [0, 1]
    assert marginal.cell_groups(np.array([0.2, 0.5, 0.3]), 3, merge="categories").tolist() == [0, 1, 2]


def test_spread_shares_a_group_among_its_cells_as_the_one_way_histogram_does():
    conditional = marginal.spread(np.array([[0.5, 0.5], [0.9, 0.1]]), np.array([0, 0, 1]), np.array([0.2, 0.6, 0.2]))
    assert conditional[0] == pytest.approx([0.125, 0.375, 0.5])
    assert conditional[1] == pytest.approx([0.225, 0.675, 0.1])
    empty = marginal.spread(np.array([[0.4, 0.6]]), np.array([0, 0, 1]), np.array([0.0, 0.0, 1.0]))
    assert empty[0] == pytest.approx([0.2, 0.2, 0.6])  # a group the one-way counts emptied: even


def wide_units(n: int, rng: np.random.Generator):
    """x [n, 1, 10]: block A (6 ordered bins, shifted up by the target), block B (2 cells, noise),
    the target's own block (2 cells)."""
    y = rng.integers(0, 2, n)
    a = np.clip(rng.integers(0, 4, n) + 2 * y, 0, 5)
    b = rng.integers(0, 2, n)
    x = np.zeros((n, 1, 10), np.float32)
    for col, offset in ((a, 0), (b, 6), (y, 8)):
        x[np.arange(n), 0, offset + col] = 1.0
    c = np.zeros((n, 1, 2), np.float32)
    c[np.arange(n), 0, y] = 1.0
    return torch.from_numpy(x), torch.from_numpy(c), torch.ones(n, 1)


WIDE_BLOCKS = [slice(0, 6), slice(6, 8), slice(8, 10)]


def test_merged_pairs_move_by_at_most_their_sensitivity(monkeypatch):
    """A block merged into groups for its target pair: one unit removed still moves the pair
    vector by at most √k in L2 (each unit adds weight 1 to one group of each block)."""
    x, c, mask = wide_units(400, np.random.default_rng(5))
    seen = []

    def capture(counts, *, sensitivity, rho):
        seen.append((np.asarray(counts, float).copy(), sensitivity))
        return seen[0][0] if len(seen) in (1, 3) else np.asarray(counts, float)

    monkeypatch.setattr(marginal, "gaussian_counts", capture)
    monkeypatch.setattr(marginal, "noisy_top_k", lambda values, *, k, rho: list(range(k)))
    for data in ((x, c, mask), (x[1:], c[1:], mask[1:])):
        plan = plan_marginals(epsilon=4.0, delta=1e-5, shares=SHARES)
        measure(TargetMarginals(10, 2), data, plan, measured=WIDE_BLOCKS, target_block=2, cell_signal=1e-6,
                pair_groups=2, selection_share=SELECTION, merges=["ordered", "categories", "categories"],
                progress=False)
    (_, _), (full_pairs, sensitivity), (_, _), (less_pairs, _) = seen
    assert full_pairs.size == 2 * 2 + 2 * 2  # block A in 2 groups, block B's 2 cells, per target
    assert np.linalg.norm(full_pairs - less_pairs) <= sensitivity + 1e-9


def test_the_groups_follow_the_noisy_one_way_counts_not_the_exact_ones(monkeypatch):
    """Which cells a target pair merges is post-processing of stage 1's noisy histogram: a
    grouping read from the exact counts would let the pair's shape leak them."""
    x, c, mask = wide_units(600, np.random.default_rng(6))
    real_counts, released, grouped = marginal.gaussian_counts, [], []

    def skewed(counts, *, sensitivity, rho):
        noisy = real_counts(counts, sensitivity=sensitivity, rho=rho)
        if not released:  # stage 1: block A's noisy mass all in its last bin
            noisy[:6] = [0, 0, 0, 0, 0, 600]
            released.append(noisy.copy())
        return noisy

    def spy(probs, groups, *, merge):
        grouped.append(np.asarray(probs, float).copy())
        return real_groups(probs, groups, merge=merge)

    real_groups = marginal.cell_groups
    monkeypatch.setattr(marginal, "gaussian_counts", skewed)
    monkeypatch.setattr(marginal, "cell_groups", spy)
    measure(TargetMarginals(10, 2), (x, c, mask), plan_marginals(epsilon=4.0, delta=1e-5, shares=SHARES),
            measured=WIDE_BLOCKS, target_block=2, cell_signal=1e-6, pair_groups=3, selection_share=SELECTION,
            merges=["ordered", "categories", "categories"], progress=False)
    assert grouped[0] == pytest.approx([0, 0, 0, 0, 0, 1])

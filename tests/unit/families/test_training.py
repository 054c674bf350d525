"""The shared DP-SGD loop: the per-step row draw (`keep_rows`, ``rows_per_step``)."""

import pytest
import torch
from torch import nn

from dpsynth import registry
from dpsynth.errors import DpsynthError
from dpsynth.families.training import keep_rows, train_dpsgd, unit_mean
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.dpsgd import DPSGDPlan
from tests.conftest import make_toy_series, make_toy_series_schema


def unit_batch(present: list[int], rows: int = 6, width: int = 3):
    """x rows numbered (unit·100 + row) in every column, c = the same number, mask = present rows."""
    units = len(present)
    number = (torch.arange(units)[:, None] * 100 + torch.arange(rows)[None]).float()
    x = number[..., None].expand(units, rows, width).clone()
    c = number[..., None].clone()
    mask = (torch.arange(rows)[None] < torch.tensor(present)[:, None]).float()
    return [x, c, mask]


def test_keep_rows_draws_present_rows_and_keeps_rows_aligned():
    torch.manual_seed(0)
    x, c, mask = keep_rows(unit_batch([6, 4, 1, 0]), 2)
    assert x.shape == (4, 2, 3) and c.shape == (4, 2, 1) and mask.shape == (4, 2)
    assert mask.sum(1).tolist() == [2, 2, 1, 0]  # min(k, present) present rows per unit
    assert torch.equal(x[..., :1], c)  # x, c and the mask move together
    kept = c[..., 0][mask.bool()]
    unit, row = kept // 100, kept % 100
    present = torch.tensor([6, 4, 1, 0])
    assert bool((row < present[unit.long()]).all())  # never a padding row while present ones are left
    assert len(set(kept.tolist())) == len(kept)  # without replacement


def test_keep_rows_is_uniform_over_present_rows():
    torch.manual_seed(0)
    counts = torch.zeros(5)
    for _ in range(2000):
        _, c, mask = keep_rows(unit_batch([5], rows=8), 2)
        counts[c[0, :, 0].long()] += mask[0]
    assert counts.sum() == 4000
    assert torch.allclose(counts / 4000, torch.full((5,), 0.2), atol=0.03)


def test_keep_rows_none_or_enough_rows_is_the_batch_itself():
    batch = unit_batch([3, 2], rows=3)
    assert keep_rows(batch, None) is batch and keep_rows(batch, 3) is batch
    assert keep_rows([batch[0]], None)[0] is batch[0]  # any tensors when no draw is asked for


class RowsSeen(nn.Module):
    """A per-unit loss that records how many rows each step showed it."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 1)
        self.rows: list[int] = []

    def forward(self, x, c, mask):
        self.rows.append(x.shape[1])
        return (self.lin(x).squeeze(-1) * mask).sum(-1)


def test_rows_per_step_bounds_the_rows_a_step_sees_and_not_the_accounting():
    torch.manual_seed(0)
    plan = DPSGDPlan(noise_multiplier=1.0, sample_rate=0.5, steps=5, max_grad_norm=1.0, accountant="rdp",
                     delta=1e-5, epsilon=0.0, batch_size=4, n_units=8)
    model = RowsSeen()
    log = train_dpsgd(model, tuple(unit_batch([6, 5, 4, 3, 2, 1, 6, 6])), plan, lr=1e-2, rows_per_step=2,
                      progress=False)
    assert log.steps == 5 and log.history == [(1.0, 0.5, 5)]
    assert set(model.rows) == {2}


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_rows_per_step_must_be_a_positive_whole_number(bad):
    plan = DPSGDPlan(noise_multiplier=1.0, sample_rate=0.5, steps=1, max_grad_norm=1.0, accountant="rdp",
                     delta=1e-5, epsilon=0.0, batch_size=4, n_units=8)
    with pytest.raises(DpsynthError, match="rows_per_step"):
        train_dpsgd(RowsSeen(), tuple(unit_batch([2] * 8)), plan, lr=1e-2, rows_per_step=bad, progress=False)


def test_a_bad_rows_per_step_fails_before_any_private_data_is_read(monkeypatch):
    model = registry.create("dp-series-vae", make_toy_series_schema())
    monkeypatch.setattr(type(model), "_count_units", lambda *a: pytest.fail("read the data"))
    with pytest.raises(DpsynthError, match="rows_per_step"):  # at construction (dpsynth.params) ...
        registry.create("dp-series-vae", make_toy_series_schema(), rows_per_step=0)
    model.training.rows_per_step = 0  # ... and again in fit, for a setting changed behind set_params' back
    with pytest.raises(DpsynthError, match="rows_per_step"):
        model.fit(make_toy_series(), budget=PrivacyBudget(1.0, 1e-5), progress=False)


def test_weight_average_warms_up_and_ends_in_the_module():
    from dpsynth.families.training import WeightAverage

    layer = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(0.0)
    average = WeightAverage(layer, 0.999)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    average.update()  # step 1: decay min(0.999, 2/11), so the average moves 9/11 of the way
    torch.testing.assert_close(average.average[0], torch.full((1, 1), 9 / 11))
    average.copy_to_module()
    torch.testing.assert_close(layer.weight.detach(), torch.full((1, 1), 9 / 11))


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5, True, "0.9"])
def test_bad_ema_decay_is_a_clear_error(decay):
    from dpsynth.families.training import check_ema_decay

    with pytest.raises(DpsynthError, match="ema_decay must be a number in"):
        check_ema_decay(decay)


def test_unit_mean_averages_each_rows_draws_then_the_units_present_rows():
    # 2 units × 2 rows × 3 draws, laid out row by row as repeat_interleave makes them
    per_draw = torch.tensor([[1.0, 2.0, 3.0, 10.0, 20.0, 30.0],
                             [4.0, 4.0, 4.0, 99.0, 99.0, 99.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])  # unit 1's second row is absent
    torch.testing.assert_close(unit_mean(per_draw, mask, draws=3), torch.tensor([11.0, 4.0]))
    torch.testing.assert_close(unit_mean(per_draw[:, :2], mask), torch.tensor([1.5, 4.0]))
    assert unit_mean(per_draw, torch.zeros(2, 2), draws=3).tolist() == [0.0, 0.0]  # no rows: 0, not NaN


class UnitsSeen(nn.Module):
    """A per-unit loss over one-row units numbered 0..n-1 that records which units each step saw."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(1, 1)
        self.seen: list[set[int]] = []

    def forward(self, x):
        self.seen.append({int(v) for v in x[:, 0]})
        return self.lin(x).sum(-1)


def test_rule_3_batches_are_poisson_samples_of_the_units():
    """Rule 3: each step includes every unit independently with probability q, so the batch
    size is Binomial(n, q) and one step's units say nothing about the next step's. Fixed
    shuffled batches behind the Poisson flag (sizes all n·q, no unit twice per epoch) fail."""
    n, q, steps = 200, 0.1, 400
    plan = DPSGDPlan(noise_multiplier=1.0, sample_rate=q, steps=steps, max_grad_norm=1.0, accountant="rdp",
                     delta=1e-5, epsilon=0.0, batch_size=int(n * q), n_units=n)
    module = UnitsSeen()
    train_dpsgd(module, (torch.arange(n, dtype=torch.float32)[:, None],), plan, lr=1e-3, progress=False)
    sizes = torch.tensor([len(s) for s in module.seen], dtype=torch.float64)
    assert len(sizes) == steps
    assert abs(sizes.mean() - n * q) < 1.0  # E = 20, s.e. 0.21
    assert 12 < sizes.var() < 26  # Var = n·q·(1-q) = 18, s.e. 1.3
    again = [len(a & b) / max(len(a), 1) for a, b in zip(module.seen, module.seen[1:])]
    assert abs(sum(again) / len(again) - q) < 0.03  # a unit in this step is in the next with probability q

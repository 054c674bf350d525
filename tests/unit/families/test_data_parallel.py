"""Data-parallel DP-SGD (`dpsynth.families.data_parallel`): on CPU with gloo and 2 processes,
each step is one DP-SGD step over the whole data set — one Poisson draw shared out among
the ranks, the clipped gradients summed over them, the noise added once — and a fit's
history and ε are those of one process."""

import pickle

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import Sampler

from dpsynth import registry
from dpsynth.errors import DpsynthError
from dpsynth.families import data_parallel
from dpsynth.families.data_parallel import RankShareSampler, check_devices, train_on_devices
from dpsynth.families.training import make_private, opacus_warnings_filtered
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.dpsgd import DPSGDPlan
from dpsynth.unit_file import UnitFile
from tests.conftest import make_toy_frame, make_toy_schema

WORLD = 2
UNITS, WIDTH, CLIP = 40, 6, 1.0
SIGMA = 2.0
NOISE_WIDTH = 20_000  # parameters of the zero-gradient layer whose update is the noise alone


def run_ranks(worker, *args):
    """``worker(rank, *args)`` in WORLD gloo processes; the list of what each rank returned."""
    results = mp.get_context("spawn").SimpleQueue()
    port = data_parallel.free_port()
    mp.spawn(_joined, args=(worker, port, results, args), nprocs=WORLD, join=True)
    found = dict(results.get() for _ in range(WORLD))
    return [found[r] for r in range(WORLD)]


def _joined(rank, worker, port, results, args):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        results.put((rank, worker(rank, *args)))
        dist.barrier()
    finally:
        dist.destroy_process_group()


class Scripted(Sampler):
    """Batches given in advance (rank 0's 'Poisson draws'); ``forbidden``: iterating is a bug."""

    def __init__(self, batches, forbidden=False):
        self.batches, self.forbidden = batches, forbidden

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        if self.forbidden:
            raise AssertionError("only rank 0 may draw the Poisson sample")
        return iter(self.batches)


def _share(rank, batches):
    sampler = RankShareSampler(Scripted(batches, forbidden=rank != 0), 8, dist.new_group(backend="gloo"))
    return list(sampler)


def test_each_rank_gets_its_share_of_rank_zeros_draw_every_step_even_when_empty():
    draws = [[0, 1, 2, 3], [], [5], [4, 6, 7]]
    rank0, rank1 = run_ranks(_share, draws)
    assert rank0 == [[0, 2], [], [], [4, 6]]
    assert rank1 == [[1, 3], [], [5], [7]]  # a step with nothing for this rank is still a step


class LinearLoss(nn.Module):
    """Per-unit loss x·w (gradient x: clipped to CLIP) plus a zero-gradient layer whose DP
    update is pure noise; records the unit indices each step saw."""

    def __init__(self):
        super().__init__()
        self.w = nn.Linear(WIDTH, 1, bias=False)
        self.silent = nn.Linear(NOISE_WIDTH, 1, bias=False)
        self.seen = []

    def forward(self, x, index):
        self.seen.append(index.long().tolist())
        silent = self.silent(torch.zeros(len(x), NOISE_WIDTH)).squeeze(-1) * 0.0
        return self.w(x).squeeze(-1) + silent


def units():
    torch.manual_seed(0)
    x = torch.randn(UNITS, WIDTH) * torch.linspace(0.2, 3.0, UNITS)[:, None]  # some norms above CLIP
    return x, torch.arange(UNITS, dtype=torch.float32)


def one_step_plan(sigma):
    batches = 4
    return DPSGDPlan(noise_multiplier=sigma, sample_rate=1 / batches, steps=1, max_grad_norm=CLIP,
                     accountant="prv", delta=1e-5, epsilon=1.0, batch_size=UNITS // batches, n_units=UNITS)


def _one_step(rank, sigma):
    torch.manual_seed(1)  # the same initial weights on both ranks
    module = LinearLoss()
    optimizer = torch.optim.SGD(module.parameters(), lr=0.0)
    with opacus_warnings_filtered():
        private = make_private(module, optimizer, units(), one_step_plan(sigma))
        batch = next(iter(private.loader))
        private.optimizer.zero_grad(set_to_none=True)
        private.criterion(private.module(*batch)).backward()
        private.optimizer.step()
    noise = module.silent.weight.grad.flatten()
    # small results (a pipe holds 64 KiB): the noise's std and its first values to compare ranks
    return module.seen[-1], module.w.weight.grad.tolist(), (float(noise.std()), noise[:64].tolist())


def _steps(rank):
    """One step without noise (the gradient) and one with σ = 2 (the noise), per rank."""
    return _one_step(rank, 0.0), _one_step(rank, SIGMA)


@pytest.fixture(scope="module")
def steps():
    return run_ranks(_steps)


def test_one_data_parallel_step_is_one_dpsgd_step_over_the_whole_data(steps):
    (seen0, w0, _), (seen1, w1, _) = (rank[0] for rank in steps)
    w0, w1 = torch.tensor(w0), torch.tensor(w1)
    assert not set(seen0) & set(seen1)  # one draw, shared out: no unit on two ranks
    assert all(i % WORLD == 0 for i in seen0) and all(i % WORLD == 1 for i in seen1)
    x, _ = units()
    clipped = [x[i] * min(1.0, CLIP / float(x[i].norm())) for i in seen0 + seen1]
    expected_batch = int(UNITS * one_step_plan(0.0).sample_rate)
    expected = torch.stack(clipped).sum(0) / expected_batch if clipped else torch.zeros(WIDTH)
    # both ranks hold the single-process update: the clipped sum over the whole sample / the expected batch
    assert torch.allclose(w0.flatten(), expected, atol=1e-6) and torch.equal(w0, w1)


def test_the_noise_is_added_once_per_step_with_the_single_process_scale(steps):
    (_, _, noise0), (_, _, noise1) = (rank[1] for rank in steps)
    assert noise0 == noise1  # one noise draw, the same update on every rank
    expected_batch = int(UNITS * one_step_plan(SIGMA).sample_rate)
    std = noise0[0] * expected_batch / (SIGMA * CLIP)
    assert abs(std - 1.0) < 0.03  # noise on both ranks would give sqrt(2)


def test_a_data_parallel_fit_spends_what_one_process_spends():
    frame, schema = make_toy_frame(200), make_toy_schema()
    fits = {}
    for devices in (1, WORLD):
        model = registry.create("dp-gan", schema=schema, devices=devices, epochs=2, batch_size=50)
        model.fit(frame, budget=PrivacyBudget(1.0, 1e-5), progress=False)
        fits[devices] = model
    one, two = fits[1], fits[WORLD]
    assert two.log_.history == one.log_.history == one.plan_.history
    assert two.log_.epsilon == pytest.approx(one.log_.epsilon)
    assert [e.epsilon for e in two.ledger_.entries] == [e.epsilon for e in one.ledger_.entries]
    assert len(two.sample(20, random_state=0)) == 20


def _reads_units(rank, store):
    return store.tensors()[0].sum().item()


def test_a_unit_file_reaches_started_processes_but_is_never_pickled_to_bytes():
    store = UnitFile(2, 3, 1)
    store.append(torch.ones(5, 2, 3), torch.ones(5, 2, 1), torch.ones(5, 2))
    assert run_ranks(_reads_units, store) == [30.0, 30.0]
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(store)
    store.close()


def test_impossible_device_settings_are_clear_errors_before_training(monkeypatch):
    with pytest.raises(DpsynthError, match="secure_mode trains in one process only"):
        check_devices(2, torch.device("cpu"), secure_mode=True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(DpsynthError, match="asks for 2 GPUs, but this machine has 1"):
        check_devices(2, torch.device("cuda"), secure_mode=False)
    check_devices(2, torch.device("cpu"), secure_mode=False)


def _fails(module, tensors, plan, *, progress):
    raise ValueError("boom in the worker")


def test_a_failing_worker_is_one_clear_error_and_the_module_is_untouched():
    module = nn.Linear(2, 1)
    before = [p.detach().clone() for p in module.parameters()]
    with pytest.raises(DpsynthError, match="failed in a worker process: ValueError: boom in the worker"):
        train_on_devices(_fails, module, (torch.zeros(4, 2),), None, devices=WORLD, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, module.parameters()))

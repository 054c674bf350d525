"""Data-parallel DP-SGD: one fit trained by several processes (CPUs, or one GPU each) with
opacus' `DifferentiallyPrivateDistributedDataParallel` (DPDDP).

The privacy accounting is that of one process, because each step is one DP-SGD step over
the whole data set:

- **Sampling.** Rank 0 draws one Poisson sample over *all* units with opacus'
  ``UniformWithReplacementSampler`` (its generator from OS entropy) and sends the mask to
  every rank; rank r keeps the sampled units at positions ≡ r (mod world size). Every
  rank runs every step, an empty share included. (opacus' own distributed sampler skips
  a rank's empty share, which would make that rank's units likelier than q.)
- **Noise.** opacus' distributed optimizer adds the Gaussian noise on rank 0 only, once
  per step, and sums the clipped gradients over the ranks; divided by the expected batch
  of the whole data set, the update is the single-process update.

Only the training runs in the workers: every other mechanism of a fit (condition counts,
learned bounds) runs once, in the calling process, and the workers return rank 0's
weights and accountant history. The processes are started here (`spawn`); nothing is
written to disk on the way (a `dpsynth.unit_file.UnitFile` travels as a duplicated file
descriptor).
"""

from __future__ import annotations

import io
import socket
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from opacus.distributed import DifferentiallyPrivateDistributedDataParallel as DPDDP
from torch import nn
from torch.utils.data import DataLoader, Sampler

from dpsynth.devices import module_device
from dpsynth.errors import DpsynthError
from dpsynth.privacy.randomness import secret_torch_rng

TOO_FEW_GPUS = ("devices={devices} asks for {devices} GPUs, but this machine has {count}; "
                "use --devices {count} or fewer, or --device cpu for CPU processes")
WORKER_FAILED = "data-parallel training failed in a worker process: {reason}"
SECURE_MODE_DATA_PARALLEL = "secure_mode trains in one process only; set devices=1 with secure_mode"


def world_size() -> int:
    """Processes training together (1 outside a data-parallel run)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 outside a data-parallel run)."""
    return dist.get_rank() if world_size() > 1 else 0


def wrap_module(module: nn.Module) -> nn.Module:
    """``module`` wrapped in DPDDP in a data-parallel run (opacus then uses its distributed
    optimizer: noise on rank 0 only, clipped gradients summed over the ranks); as is otherwise."""
    return DPDDP(module) if world_size() > 1 else module


class RankShareSampler(Sampler[list[int]]):
    """This rank's share of one Poisson sample over the whole data set per step.

    ``poisson`` is opacus' single-process sampler over all units; only rank 0 draws from it.
    The sampled mask goes to every rank over ``group`` (gloo: a CPU tensor on any backend),
    and rank r yields the sampled positions ≡ r (mod world size), possibly none."""

    def __init__(self, poisson: Sampler[list[int]], n_units: int, group: Any):
        self.poisson, self.n_units, self.group = poisson, n_units, group
        self.rank, self.world = dist.get_rank(), dist.get_world_size()

    def __len__(self) -> int:
        return len(self.poisson)

    def __iter__(self) -> Iterator[list[int]]:
        draws = iter(self.poisson) if self.rank == 0 else None
        for _ in range(len(self.poisson)):
            mask = torch.zeros(self.n_units, dtype=torch.uint8)
            if draws is not None:
                mask[next(draws)] = 1
            dist.broadcast(mask, src=0, group=self.group)
            sampled = mask.nonzero().flatten()
            yield sampled[sampled % self.world == self.rank].tolist()


def rank_share_loader(loader: DataLoader) -> DataLoader:
    """A Poisson loader of opacus (`DPDataLoader`, all units) turned into this rank's share of
    the same draw (`RankShareSampler`), with opacus' collate (it makes empty batches)."""
    group = dist.new_group(backend="gloo")
    sampler = RankShareSampler(loader.batch_sampler, len(loader.dataset), group)
    return DataLoader(loader.dataset, batch_sampler=sampler, collate_fn=loader.collate_fn)


def average_gradients(parameters: list[nn.Parameter]) -> None:
    """Average ``.grad`` over the ranks (a no-op in one process): for the non-private networks
    trained beside DP-SGD (a GAN's generator), so every rank keeps the same weights."""
    if world_size() == 1:
        return
    for p in parameters:
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= world_size()


def check_devices(devices: int, device: torch.device, *, secure_mode: bool) -> None:
    """A clear error, before any private data is read, for a data-parallel setting that cannot
    run here: more GPUs than the machine has, or secure_mode (a CSPRNG per process, not done)."""
    if devices > 1 and secure_mode:
        raise DpsynthError(SECURE_MODE_DATA_PARALLEL)
    worker_devices(devices, device)


def worker_devices(devices: int, device: torch.device) -> list[torch.device]:
    """One device per process: ``devices`` CPU processes, or GPUs cuda:0 .. cuda:devices-1."""
    if device.type != "cuda":
        return [torch.device("cpu")] * devices
    count = torch.cuda.device_count()
    if devices > count:
        raise DpsynthError(TOO_FEW_GPUS.format(devices=devices, count=count))
    return [torch.device("cuda", i) for i in range(devices)]


def train_on_devices(train: Callable[..., Any], module: nn.Module, tensors: Any, plan: Any, *,
                     devices: int, progress: bool, **kwargs: Any) -> Any:
    """``train(module, tensors, plan, progress=..., **kwargs)`` in one process, or data-parallel
    in ``devices`` processes (``train`` and ``kwargs`` must pickle: module-level functions and
    plain objects). ``module`` ends with rank 0's trained weights; the log is rank 0's."""
    if devices == 1:
        return train(module, tensors, plan, progress=progress, **kwargs)
    home = module_device(module)
    targets = worker_devices(devices, home)
    results = mp.get_context("spawn").SimpleQueue()
    job = (train, module.cpu(), tensors, plan, progress, kwargs)
    outcome = None
    try:
        workers = mp.spawn(_worker, args=(devices, free_port(), targets, job, results), nprocs=devices, join=False)
        while True:  # read while waiting: a large result would fill the pipe and block rank 0
            if outcome is None and not results.empty():
                outcome = results.get()
            if workers.join(timeout=0.2):
                break
    except mp.ProcessRaisedException as error:
        raise DpsynthError(WORKER_FAILED.format(reason=_last_line(str(error)))) from None
    except mp.ProcessExitedException as error:
        raise DpsynthError(WORKER_FAILED.format(reason=str(error))) from None
    finally:
        module.to(home)
    if outcome is None and not results.empty():
        outcome = results.get()
    if outcome is None:
        raise DpsynthError(WORKER_FAILED.format(reason="rank 0 ended without returning the trained weights"))
    state, log = outcome
    module.load_state_dict(torch.load(io.BytesIO(state), map_location=home, weights_only=True))
    return log


def _worker(rank_: int, world: int, port: int, targets: list[torch.device], job: tuple, results: Any) -> None:
    """One process of a data-parallel run: join the group, train, rank 0 sends back the result."""
    train, module, tensors, plan, progress, kwargs = job
    device = targets[rank_]
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank_, world_size=world)
    try:
        module.to(device)
        with secret_torch_rng(device):  # a loss's own draws (latents, time steps) from OS entropy
            log = train(module, tensors, plan, progress=progress and rank_ == 0, **kwargs)
        if rank_ == 0:  # plain bytes: shared-memory tensors would die with this process
            weights = io.BytesIO()
            torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, weights)
            results.put((weights.getvalue(), log))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    """A TCP port on the loopback that is free now (the ranks meet there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else text

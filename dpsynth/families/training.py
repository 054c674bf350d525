"""The one DP-SGD training loop every family shares.

A family's module returns a *per-unit loss* [B] from its forward pass; this loop wraps it
with opacus (Poisson sampling, per-unit clipping, calibrated Gaussian noise, the
accountant named in the plan) and runs exactly ``plan.steps`` optimizer steps, so the ε
spent is the ε planned. Ghost clipping (fast gradient clipping) is the default: far
cheaper than per-sample-gradient hooks (docs/benchmarks.md).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import torch
from opacus import PrivacyEngine
from opacus.data_loader import DPDataLoader
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from tqdm.auto import tqdm

from dpsynth.devices import module_device
from dpsynth.errors import DpsynthError
from dpsynth.families.data_parallel import SECURE_MODE_DATA_PARALLEL, rank_share_loader, world_size, wrap_module
from dpsynth.privacy.dpsgd import LOOSE_RDP_ORDER, PRV_LOG_ZERO, DPSGDPlan
from dpsynth.privacy.randomness import secret_torch_generator

GradSampleMode = Literal["ghost", "hooks"]
EXPECTED_OPACUS_WARNINGS = (".*Secure RNG turned off.*", ".*Full backward hook is firing.*")
SECURE_MODE_UNAVAILABLE = (
    "secure_mode needs the 'torchcsprng' package, which has no build for this torch version; "
    "train without secure_mode (the default) or install a torch/torchcsprng pair that matches"
)


class PerUnitLoss(nn.Module):
    """Identity 'criterion' for opacus: the module already returns per-unit losses."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, per_unit_loss: torch.Tensor) -> torch.Tensor:
        if self.reduction == "none":
            return per_unit_loss
        return per_unit_loss.mean() if self.reduction == "mean" else per_unit_loss.sum()


def unit_mean(per_draw: torch.Tensor, row_mask: torch.Tensor, *, draws: int = 1) -> torch.Tensor:
    """One loss per unit [B] from losses [B, R·draws]: the mean over each row's ``draws``
    (laid out as ``repeat_interleave(draws, dim=1)`` makes them, a row's draws side by side),
    then over the unit's present rows (``row_mask`` [B, R]). The reduction every family's
    ``forward`` ends with, so each unit gives one loss, and so one clipped gradient."""
    per_row = per_draw.reshape(*row_mask.shape, draws).mean(-1)
    return (per_row * row_mask).sum(-1) / row_mask.sum(-1).clamp(min=1.0)


@dataclass
class TrainingLog:
    """What happened during training: steps run, mean loss per logging window, ε spent."""

    steps: int = 0
    seconds: float = 0.0
    epsilon: float = float("nan")
    losses: list[float] = field(default_factory=list)
    history: list[tuple[float, float, int]] = field(default_factory=list)


@contextmanager
def opacus_warnings_filtered() -> Iterator[None]:
    """Silence the warnings opacus is expected to give here (opacus 1.6 on this code path): the
    secure-RNG reminder (secure_mode is documented and opt-in) and ghost clipping's backward
    hooks on input-less modules."""
    with warnings.catch_warnings():
        for message in EXPECTED_OPACUS_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        yield


@dataclass
class PrivateTraining:
    """What `make_private` returns: the engine (its accountant) and the wrapped objects."""

    engine: PrivacyEngine
    module: nn.Module  # the GradSampleModule around the private module
    optimizer: torch.optim.Optimizer  # the DPOptimizer
    criterion: nn.Module  # the loss every per-unit loss must go through (ghost clipping)
    loader: DataLoader  # Poisson-sampled DPDataLoader with q = plan.sample_rate
    rows_per_step: int | None = None  # rows of a sampled unit one step uses (None: all; see `keep_rows`)

    def spent(self, plan: DPSGDPlan) -> tuple[list[tuple[float, float, int]], float]:
        """The accountant's history and its ε at ``plan.delta``."""
        history = [tuple(h) for h in self.engine.accountant.history]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=LOOSE_RDP_ORDER)
            warnings.filterwarnings("ignore", message=PRV_LOG_ZERO, category=RuntimeWarning)
            return history, float(self.engine.get_epsilon(plan.delta))


def make_private(
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    tensors: tuple[torch.Tensor, ...],
    plan: DPSGDPlan,
    *,
    grad_sample_mode: GradSampleMode = "ghost",
    secure_mode: bool = False,
    rows_per_step: int | None = None,
) -> PrivateTraining:
    """Wrap ``module``/``optimizer`` with opacus under ``plan``: Poisson sampling of the units
    (first dimension of ``tensors``, or the items of a `Dataset` of unit tuples such as
    `dpsynth.unit_file.UnitFile`), per-unit clipping, the plan's σ and accountant.
    ``rows_per_step`` (None = all rows) is handed to `run_private_steps` (see `keep_rows`).
    In a data-parallel run (`dpsynth.families.data_parallel`) the module is wrapped in DPDDP
    and the loader gives this rank's share of one Poisson draw over all units.

    Call it inside `opacus_warnings_filtered`. Raises if opacus' sample rate is not the
    plan's (the ledger charged the plan)."""
    check_rows_per_step(rows_per_step)
    try:
        engine = PrivacyEngine(accountant=plan.accountant, secure_mode=secure_mode)
    except ImportError:
        raise DpsynthError(SECURE_MODE_UNAVAILABLE) from None
    # Rule 9: the Poisson sampling (the loader's generator, which opacus' DPDataLoader keeps)
    # and the Gaussian noise come from OS entropy; in secure_mode opacus uses its CSPRNG for both.
    sampling = None if secure_mode else secret_torch_generator("cpu")
    noise = None if secure_mode else secret_torch_generator(module_device(module))
    dataset = tensors if isinstance(tensors, Dataset) else TensorDataset(*tensors)  # a `UnitFile` is a Dataset
    loader = DataLoader(dataset, batch_size=plan.batch_size, generator=sampling)
    data_parallel = world_size() > 1
    if data_parallel:  # one Poisson draw over all units per step, this rank's share of it
        if secure_mode:
            raise DpsynthError(SECURE_MODE_DATA_PARALLEL)
        module = wrap_module(module)
        loader = rank_share_loader(DPDataLoader.from_data_loader(loader, generator=sampling))
    wrapped = engine.make_private(
        module=module, optimizer=optimizer, data_loader=loader, criterion=PerUnitLoss(),
        noise_multiplier=plan.noise_multiplier, max_grad_norm=plan.max_grad_norm,
        poisson_sampling=not data_parallel, grad_sample_mode=grad_sample_mode, noise_generator=noise)
    if grad_sample_mode == "ghost":
        model, dp_optimizer, criterion, dp_loader = wrapped
    else:
        model, dp_optimizer, dp_loader = wrapped
        criterion = PerUnitLoss()
    if data_parallel:
        model.forbid_grad_accumulation()  # what opacus does for its own Poisson loader
    sample_rate = 1.0 / len(dp_loader)  # what opacus' accountant is told
    if abs(sample_rate - plan.sample_rate) > 1e-12:
        raise RuntimeError(f"opacus samples with q={sample_rate}, the plan charged q={plan.sample_rate}")
    return PrivateTraining(engine, model, dp_optimizer, criterion, dp_loader, rows_per_step)


def train_dpsgd(
    module: nn.Module,
    tensors: tuple[torch.Tensor, ...],
    plan: DPSGDPlan,
    *,
    lr: float,
    grad_sample_mode: GradSampleMode = "ghost",
    secure_mode: bool = False,
    rows_per_step: int | None = None,
    ema_decay: float | None = None,
    progress: bool = True,
    desc: str = "DP-SGD",
) -> TrainingLog:
    """Train ``module`` (forward(*batch) -> per-unit loss) with DP-SGD under ``plan``.

    The first dimension of every tensor indexes privacy units; each unit is sampled,
    clipped and counted as one. With ``ema_decay`` the module ends with the exponential
    moving average of its weights over the steps (`WeightAverage`; post-processing of the
    DP iterates, so free in privacy).
    """
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    average = WeightAverage(module, ema_decay) if ema_decay else None
    with opacus_warnings_filtered():
        private = make_private(module, optimizer, tensors, plan, grad_sample_mode=grad_sample_mode,
                               secure_mode=secure_mode, rows_per_step=rows_per_step)

        def step(batch: list[torch.Tensor]) -> float:
            private.optimizer.zero_grad(set_to_none=True)
            loss = private.criterion(private.module(*batch))
            loss.backward()
            private.optimizer.step()
            if average is not None:
                average.update()
            return float(loss.item()) if len(batch[0]) else float("nan")

        log = run_private_steps(private, plan, step, progress=progress, desc=desc)
    log.history, log.epsilon = private.spent(plan)
    if average is not None:
        average.copy_to_module()
    module.eval()
    return log


class WeightAverage:
    """Exponential moving average of a module's parameters over the optimizer steps, as in
    DPDM (Dockhorn et al. 2023) and most diffusion training: it smooths the DP noise that
    each step adds to the weights. Post-processing of the DP iterates: no privacy cost.

    The decay warms up, ``min(decay, (1 + t) / (10 + t))`` at step t, so a run of a few
    hundred steps (DP training is short) is not dominated by the random initial weights.
    """

    def __init__(self, module: nn.Module, decay: float):
        check_ema_decay(decay)
        self.module, self.decay, self.updates = module, float(decay), 0
        self.average = [p.detach().clone() for p in module.parameters()]

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for avg, p in zip(self.average, self.module.parameters()):
            avg.lerp_(p.detach(), 1.0 - decay)

    @torch.no_grad()
    def copy_to_module(self) -> None:
        for avg, p in zip(self.average, self.module.parameters()):
            p.copy_(avg)


def run_private_steps(private: PrivateTraining, plan: DPSGDPlan, step: Callable[[list[torch.Tensor]], float],
                      *, progress: bool, desc: str) -> TrainingLog:
    """Call ``step(batch)`` on exactly ``plan.steps`` Poisson-sampled batches of ``private.loader``.

    ``step`` does one optimizer step of ``private.optimizer`` (plus whatever else a family
    needs, e.g. a GAN's generator step) and returns the batch loss (NaN for an empty
    batch). This loop owns the step count, the progress bar, the loss log and the removal
    of opacus' hooks afterwards; every family shares it.
    """
    log = TrainingLog()
    start = time.perf_counter()
    window: list[float] = []
    bar = tqdm(total=plan.steps, desc=desc, disable=not progress, leave=False, unit="step")
    device = module_device(private.module)  # opacus samples on the CPU; each batch moves there
    private.module.train()
    while log.steps < plan.steps:
        for batch in private.loader:
            if log.steps >= plan.steps:
                break
            batch = [t.to(device, non_blocking=True) for t in batch]
            window.append(step(keep_rows(batch, private.rows_per_step)))
            log.steps += 1
            if len(window) == 50 or log.steps == plan.steps:
                log.losses.append(float(torch.tensor(window).nanmean()))
                bar.set_postfix(loss=f"{log.losses[-1]:.3f}")
                window = []
            bar.update(1)
    bar.close()
    log.seconds = time.perf_counter() - start
    private.module._close()  # remove opacus hooks and per-sample state from the trained module
    return log


def check_rows_per_step(rows_per_step: object) -> None:
    """A clear error unless ``rows_per_step`` is None (all rows) or a whole number >= 1."""
    if rows_per_step is None:
        return
    if isinstance(rows_per_step, bool) or not isinstance(rows_per_step, int) or rows_per_step < 1:
        raise DpsynthError(f"rows_per_step must be a whole number of rows >= 1, or None for all rows "
                           f"(got {rows_per_step!r})")


def check_ema_decay(decay: object) -> None:
    """A clear error unless ``decay`` is None (no weight average) or a number in (0, 1)."""
    if decay is None:
        return
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 < decay < 1.0:
        raise DpsynthError(f"ema_decay must be a number in (0, 1), e.g. 0.999, or None for no weight average "
                           f"(got {decay!r})")


def keep_rows(batch: list[torch.Tensor], rows_per_step: int | None) -> list[torch.Tensor]:
    """At most ``rows_per_step`` rows per unit of a batch (x [B, R, D], c [B, R, C], row_mask [B, R]):
    a fresh uniform draw among each unit's present rows (all of them if it has fewer).

    Why: a series subject brings up to a dozen windows, and a step over all of them costs
    that many network passes; a few random windows per step give an unbiased estimate of
    the subject's mean loss at a fraction of the cost, and over the epochs every window
    is seen. Privacy is unchanged: the draw happens after the unit was Poisson-sampled,
    touches only that unit's own rows, and the unit still gives one clipped gradient.
    """
    if rows_per_step is None:
        return batch
    x, c, row_mask = batch
    if row_mask.shape[1] <= rows_per_step:
        return batch
    # present rows score in [1, 2), padding rows in [0, 1): the top k are a uniform draw of
    # min(k, present) present rows, topped up with padding (mask 0) where a unit has fewer.
    scores = torch.rand(row_mask.shape, device=row_mask.device) + row_mask
    index = scores.topk(rows_per_step, dim=1).indices
    return [x.gather(1, index[..., None].expand(-1, -1, x.shape[-1])),
            c.gather(1, index[..., None].expand(-1, -1, c.shape[-1])),
            row_mask.gather(1, index)]

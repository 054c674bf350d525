"""The DP-GAN family: a conditional GAN whose discriminator — and only it — is trained with DP-SGD.

Written once for every modality: the modality supplies the generator and discriminator
backbones, ``soften`` (generator logits -> a differentiable sample in the data's
encoding, e.g. Gumbel-softmax per one-hot block) and optionally ``real_view`` (a real row
and its paired fake -> the real row as the discriminator sees it; default: the row as is).
Series rows use it so that a real window's missing samples take the paired fake's values
and every mask entry reads "observed": D cannot tell real windows by their zero-filled gaps.

Privacy. Only the discriminator reads private records. Each of its steps is a
Poisson-sampled, per-unit-clipped, noised opacus step (`DiscriminatorLoss` returns one loss
per privacy unit: real rows of the unit *and* fake rows attached to it, in one
discriminator call, so one clipped gradient per unit). The generator is trained
without opacus: every input it sees is public or DP — latent noise, conditions drawn from
the DP condition table (``sample_conditions``), and the DP discriminator's weights. The
fakes shown to the discriminator are conditioned on the same DP table, never on the real
rows' conditions, so no private value reaches the generator outside the DP mechanism.
No gradient penalty: its double backward does not work under opacus 1.6.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from dpsynth.devices import module_device
from dpsynth.families.data_parallel import average_gradients, train_on_devices
from dpsynth.families.training import (
    GradSampleMode,
    TrainingLog,
    make_private,
    opacus_warnings_filtered,
    run_private_steps,
    unit_mean,
)
from dpsynth.privacy.conditions import NOISY, WEIGHT
from dpsynth.params import number, param, whole, widths
from dpsynth.privacy.dpsgd import DPSGDPlan


def condition_cross_entropy(logits: torch.Tensor, c: torch.Tensor, blocks: list[tuple[int, int]]) -> torch.Tensor:
    """Sum over the condition attributes (one-hot blocks of ``c``) of the softmax cross-entropy."""
    loss = logits.new_zeros(logits.shape[:-1])
    for a, b in blocks:
        loss = loss - (c[..., a:b] * F.log_softmax(logits[..., a:b], dim=-1)).sum(-1)
    return loss


class DiscriminatorLoss(nn.Module):
    """The private module: forward returns the per-unit discriminator loss.

    With a ``classifier`` (AC-GAN style), the loss adds ``aux_weight`` × the cross-entropy
    of predicting each real row's condition attributes (target, sensitive groups) from its
    features with the condition columns hidden (``feature_mask``). The classifier is trained
    on real rows only, inside the same clipped per-unit gradient; the generator is then
    asked to make fakes that this DP classifier assigns to their conditions — a direct
    signal for the feature–outcome relation that the adversarial loss alone conveys weakly
    under DP noise.
    """

    def __init__(self, net: nn.Module, *, classifier: nn.Module | None = None,
                 feature_mask: torch.Tensor | None = None, condition_blocks: list[tuple[int, int]] = (),
                 aux_weight: float = 1.0,
                 real_view: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None):
        super().__init__()
        self.net = net
        self.real_view = real_view
        self.classifier = classifier
        self.register_buffer("feature_mask", feature_mask, persistent=False)
        self.condition_blocks = list(condition_blocks)
        self.aux_weight = aux_weight

    def logits(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """D's logit per row ("real"), shapes [..., D] and [..., C] -> [...]."""
        return self.net(torch.cat([x, c], dim=-1)).squeeze(-1)

    def aux_loss(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Per-row cross-entropy of the classifier's condition prediction (0 without a classifier)."""
        if self.classifier is None:
            return x.new_zeros(x.shape[:-1])
        return condition_cross_entropy(self.classifier(x * self.feature_mask), c, self.condition_blocks)

    def forward(self, real_x: torch.Tensor, real_c: torch.Tensor, fake_x: torch.Tensor, fake_c: torch.Tensor,
                row_mask: torch.Tensor) -> torch.Tensor:
        """softplus(-D(real)) + softplus(D(fake)) [+ aux CE on real], averaged over the unit's
        present rows. [B, R, *].

        Real and fake rows go through D in *one* call (concatenated along the row axis), so
        each layer sees one activation per unit and ghost clipping computes one norm per unit.
        With a ``real_view``, real rows are first mapped to D's view given their paired fakes
        (row r of unit u with fake row r of unit u; the classifier sees the same view).
        """
        if self.real_view is not None:
            real_x = self.real_view(real_x, fake_x)
        rows = real_x.shape[1]
        logit = self.logits(torch.cat([real_x, fake_x], dim=1), torch.cat([real_c, fake_c], dim=1))
        per_row = F.softplus(-logit[:, :rows]) + F.softplus(logit[:, rows:])
        if self.classifier is not None:
            per_row = per_row + self.aux_weight * self.aux_loss(real_x, real_c)
        return unit_mean(per_row, row_mask)


@dataclass
class GANParams:
    """The family's parameters (a generator's ``family_params``)."""

    latent_dim: int = param(64, "width of the generator's latent noise", whole(1))
    generator_lr: float = param(2e-4, "learning rate of the generator's Adam (not private: it never sees data)",
                                number(above=0))
    generator_steps: int = param(1, "generator steps per private discriminator step (no ε)", whole(1))
    tau: float = param(0.2, "Gumbel-softmax temperature of the generator's one-hot blocks", number(above=0))
    aux_weight: float = param(0.0, "weight of the auxiliary condition classifier (AC-GAN; 0: a plain "
                              "conditional GAN)", number(at_least=0))


@dataclass
class ConvGANParams(GANParams):
    """`GANParams` and the widths of a convolutional discriminator (series, images)."""

    conv_channels: tuple[int, ...] = param((16, 32), "channels of the discriminator's stride-2 convolutions; "
                                           "the generator mirrors them", widths(empty=False))
    disc_hidden: tuple[int, ...] = param((64,), "widths of the discriminator's MLP head", widths())


class ConditionalGAN(nn.Module):
    """G: [z, c] -> the decoder output (logits, values) the codec decodes; ``restrict`` (optional)
    keeps its logits inside c's condition cell, as decoding does; ``soften`` maps it to a
    differentiable row in the data encoding; D: `DiscriminatorLoss` around a backbone (and an
    optional auxiliary condition classifier and ``real_view``, see `DiscriminatorLoss`)."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module, *, latent_dim: int,
                 soften: Callable[[torch.Tensor], torch.Tensor], classifier: nn.Module | None = None,
                 feature_mask: torch.Tensor | None = None, condition_blocks: list[tuple[int, int]] = (),
                 aux_weight: float = 1.0,
                 real_view: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                 restrict: nn.Module | None = None):
        super().__init__()
        self.generator = generator
        self.restrict = restrict  # (logits, c) -> logits inside c's cell (`gan_parts.CellRestriction`)
        self.discriminator = DiscriminatorLoss(discriminator, classifier=classifier, feature_mask=feature_mask,
                                               condition_blocks=condition_blocks, aux_weight=aux_weight,
                                               real_view=real_view)
        self.latent_dim = latent_dim
        self.soften = soften

    def fake(self, c: torch.Tensor) -> torch.Tensor:
        """Differentiable fake rows for conditions ``c`` [..., C] (z from the global RNG)."""
        z = torch.randn(*c.shape[:-1], self.latent_dim, device=c.device)
        logits = self.generator(torch.cat([z, c], dim=-1))
        return self.soften(logits if self.restrict is None else self.restrict(logits, c))

    @torch.no_grad()
    def realness(self, x: torch.Tensor, c: torch.Tensor, row_mask: torch.Tensor) -> torch.Tensor:
        """D's logit ("real") averaged over each unit's present rows [B], rows seen as D sees real
        rows in training (through ``real_view``, paired with fresh fakes). Only the discriminator
        read the training data, so this is the GAN's membership score in the one-run audit."""
        disc = self.discriminator
        if disc.real_view is not None:
            x = disc.real_view(x, self.fake(c))
        return unit_mean(disc.logits(x, c), row_mask)

    @torch.no_grad()
    def generate(self, c: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
        """Generator logits for conditions ``c`` [n, C]; the codec samples from them."""
        z = torch.randn(c.shape[0], self.latent_dim, generator=generator, device=c.device)
        return self.generator(torch.cat([z, c], dim=-1))


def train_dpgan(
    module: ConditionalGAN,
    tensors: tuple[torch.Tensor, ...],
    plan: DPSGDPlan,
    *,
    sample_conditions: Callable[[int], torch.Tensor],
    lr: float,
    generator_lr: float,
    generator_steps: int = 1,
    betas: tuple[float, float] = (0.5, 0.9),
    grad_sample_mode: GradSampleMode = "ghost",
    secure_mode: bool = False,
    rows_per_step: int | None = None,
    progress: bool = True,
    desc: str = "DP-GAN",
) -> TrainingLog:
    """Alternate exactly ``plan.steps`` private discriminator steps with ``generator_steps``
    non-private generator steps each (post-processing of the DP discriminator: free).

    ``tensors`` are (x [U, R, D], c [U, R, C], row_mask [U, R]); ``sample_conditions(n)``
    returns n condition one-hots drawn from public/DP information only. Only
    ``module.discriminator`` is handed to opacus. ``log.losses`` holds the discriminator loss.
    """
    disc, gen = module.discriminator, module.generator
    d_optimizer = torch.optim.Adam(disc.parameters(), lr=lr, betas=betas)
    g_optimizer = torch.optim.Adam(gen.parameters(), lr=generator_lr, betas=betas)
    g_params = [p for p in gen.parameters() if p.requires_grad]
    device = module_device(gen)
    with opacus_warnings_filtered():
        private = make_private(disc, d_optimizer, tensors, plan, grad_sample_mode=grad_sample_mode,
                               secure_mode=secure_mode, rows_per_step=rows_per_step)
        d_model, dp_optimizer, criterion = private.module, private.optimizer, private.criterion

        def step(batch: list[torch.Tensor]) -> float:
            x, c, row_mask = batch
            # Discriminator: one private step (real rows + fakes attached per unit, one backward).
            units, rows = row_mask.shape
            with torch.no_grad():
                fake_c = sample_conditions(units * rows).to(c.device).reshape(units, rows, c.shape[-1])
                fake_x = module.fake(fake_c)
            dp_optimizer.zero_grad(set_to_none=True)
            loss = criterion(d_model(x, c, fake_x, fake_c, row_mask))
            loss.backward()
            dp_optimizer.step()
            dp_optimizer.zero_grad(set_to_none=True)
            # Generator: non-private, public/DP inputs only; D's opacus hooks off, and the
            # gradient is taken w.r.t. G's parameters only (D's .grad is never touched).
            d_model.disable_hooks()
            for _ in range(generator_steps):
                g_c = sample_conditions(plan.batch_size).to(device)
                g_x = module.fake(g_c)
                g_loss = (F.softplus(-disc.logits(g_x, g_c)) + disc.aux_weight * disc.aux_loss(g_x, g_c)).mean()
                for p, g in zip(g_params, torch.autograd.grad(g_loss, g_params)):
                    p.grad = g
                average_gradients(g_params)  # data-parallel: every rank keeps the same generator
                g_optimizer.step()
                g_optimizer.zero_grad(set_to_none=True)
            d_model.enable_hooks()
            return float(loss.item()) if units else float("nan")

        module.train()
        log = run_private_steps(private, plan, step, progress=progress, desc=desc)
    log.history, log.epsilon = private.spent(plan)
    module.eval()
    return log


class GANTraining:
    """What a GAN generator of any modality adds to `dpsynth.generator.DPGenerator`: its own
    `_train` (`train_dpgan`: only the discriminator is private) and the sampler of the fakes'
    conditions, drawn from the DP condition table.

    Mix it in before the modality class (``class DPSeriesGAN(GANTraining, SeriesGenerator)``).
    It reads only ``self.training``, the family parameters ``generator_lr`` and
    ``generator_steps``, and what `fit` sets before training: ``self.codec_`` and the DP
    ``self.condition_table_``.
    """

    pretrainable = False  # two networks: the single-loss public pretraining loop does not apply

    def _train(self, module: nn.Module, tensors: tuple[torch.Tensor, ...], plan: DPSGDPlan, *,
               progress: bool) -> TrainingLog:
        settings = self.training
        return train_on_devices(train_dpgan, module, tensors, plan, devices=settings.devices, progress=progress,
                                sample_conditions=self._condition_sampler(), lr=settings.lr,
                                generator_lr=self.generator_lr, generator_steps=self.generator_steps,
                                grad_sample_mode=settings.grad_sample_mode, secure_mode=settings.secure_mode,
                                rows_per_step=settings.rows_per_step, desc=f"fit {self.registered_name}")

    def _unit_scores(self, module: nn.Module, x: torch.Tensor, c: torch.Tensor, row_mask: torch.Tensor, *,
                     draws: int) -> torch.Tensor:
        """Membership score per unit: the discriminator's realness (`ConditionalGAN.realness`),
        averaged over ``draws`` draws of the fakes a ``real_view`` pairs real rows with."""
        draws = draws if module.discriminator.real_view is not None else 1  # otherwise deterministic
        return torch.stack([module.realness(x, c, row_mask) for _ in range(draws)]).mean(0)

    def _condition_sampler(self) -> ConditionSampler:
        """n condition one-hots drawn from the DP condition table (set by `fit` before `_train`)."""
        table = self.condition_table_
        cells = torch.from_numpy(self.codec_.encode_conditions(table.drop(columns=[WEIGHT, NOISY],
                                                                          errors="ignore")))
        weights = table[WEIGHT].to_numpy(float).clip(min=0.0)
        probs = torch.from_numpy(weights / weights.sum() if weights.sum() > 0
                                 else np.full(len(weights), 1.0 / len(weights)))
        return ConditionSampler(cells, probs)


@dataclass
class ConditionSampler:
    """``sampler(n)``: n condition one-hots, rows of ``cells`` drawn with ``probs`` (the DP
    condition table), by torch's global generator. A class, not a closure, so that it
    travels to data-parallel workers."""

    cells: torch.Tensor
    probs: torch.Tensor

    def __call__(self, n: int) -> torch.Tensor:
        if n == 0:
            return self.cells[:0]
        return self.cells[torch.multinomial(self.probs, n, replacement=True)]

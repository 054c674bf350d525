"""The DP-diffusion family: Gaussian diffusion with x0 prediction on one-hot blocks and,
optionally, a continuous tail.

A row in x0 space is ``[one-hot blocks | continuous tail]``. Every block (categories,
missing indicators, numeric bins; for series the static record) is diffused as
``2·onehot − 1`` with a cosine schedule, and the denoiser predicts x0 as *logits* per
block, trained with the modality's ``reconstruction_loss`` (per-block cross-entropy, as in
CDCD). The optional continuous tail (for series: the signal values, scaled to [-1, 1]) is
diffused divided by a public ``continuous_scale`` (its typical magnitude, so that it does
not drown in the noise at nearly every timestep) and the denoiser predicts its x0
directly; the same ``reconstruction_loss`` scores it in the data's units (for series the
codec's masked Gaussian NLL, so missing samples add nothing).
The modality maps an input row to x0 (``to_x0``; default ``2·x − 1``: every column a
block) and reads the model output ``[block logits | predicted tail]`` with its own codec,
so `generate` returns rows in the codec's output space. One continuous process for every
part keeps the sampler short and deterministic given its noise, and the network plain
Linear/SiLU layers, which opacus ghost clipping supports. The x0 logits are the exact
Gaussian likelihood of each block's own noisy values plus the network's output
(`model_logits`), so the network learns only the log-prior term — how a block depends on
the other columns and on c — and not the identity map at low noise.

Privacy unit: ``forward`` draws ``multiplicity`` timesteps and noises per row and averages
the loss over them *before* returning one loss per unit (mean over the unit's present
rows), so each unit still contributes exactly one clipped gradient to DP-SGD
("augmentation multiplicity", De et al. 2022): the extra draws reduce gradient variance at
no privacy cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn

from dpsynth.families.training import unit_mean
from dpsynth.params import number, param, whole


def cosine_alpha_bar(t: torch.Tensor, s: float = 0.008) -> torch.Tensor:
    """ᾱ(t) of the cosine schedule (Nichol & Dhariwal 2021) for t in [0, 1], unnormalised."""
    return torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2


def cosine_schedule(timesteps: int, s: float = 0.008) -> torch.Tensor:
    """ᾱ_t for t = 0..T-1: strictly decreasing, in (0, 1); betas clipped at 0.999."""
    t = torch.linspace(0, 1, timesteps + 1, dtype=torch.float64)
    alpha_bar = cosine_alpha_bar(t, s) / cosine_alpha_bar(t[:1], s)
    betas = (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, dim=0).float()


class SinusoidalEmbedding(nn.Module):
    """Timestep → [sin, cos] features (no parameters)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / max(half - 1, 1))
        angles = t.float()[..., None] * freqs
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class Denoiser(nn.Module):
    """x0 logits from [x_t, c, time embedding]; ``body`` maps that concatenation to logits."""

    def __init__(self, body: nn.Module, *, time_dim: int = 64):
        super().__init__()
        self.time_mlp = nn.Sequential(SinusoidalEmbedding(time_dim), nn.Linear(time_dim, time_dim), nn.SiLU(),
                                      nn.Linear(time_dim, time_dim))
        self.body = body

    def forward(self, x_t: torch.Tensor, c: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([x_t, c, self.time_mlp(t)], dim=-1))


def onehot_x0(x: torch.Tensor) -> torch.Tensor:
    """The default input row -> x0 map: every column is one-hot, x0 = 2·x − 1."""
    return 2 * x - 1


class BlocksThenTailX0:
    """Input row [one-hot blocks (width ``onehot_width``) | tail (``tail_width``) | anything else]
    -> x0 [2·blocks − 1 | tail]: e.g. a series row's static record and values (its observed
    mask dropped: the loss reads it from the input row), or an image row's attributes and pixels."""

    def __init__(self, onehot_width: int, tail_width: int):
        self.onehot_width, self.tail_width = onehot_width, tail_width

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        s, w = self.onehot_width, self.tail_width
        return torch.cat([2 * x[..., :s] - 1, x[..., s:s + w]], dim=-1)


@dataclass
class DiffusionParams:
    """The family's parameters (a generator's ``family_params``); `process_params` passes them
    on to `OneHotDiffusion` (``time_dim`` goes to the `Denoiser`)."""

    timesteps: int = param(1000, "diffusion timesteps in training (cosine schedule)", whole(1))
    sampling_steps: int = param(50, "deterministic DDIM steps when sampling (at most timesteps)", whole(1))
    multiplicity: int = param(4, "draws of (t, noise) per row, averaged inside the unit's loss (no ε)", whole(1))
    time_dim: int = param(64, "width of the timestep embedding", whole(2, even=True))
    condition_dropout: float = param(0.1, "share of draws trained with the null condition (for guidance)",
                                     number(at_least=0, below=1))
    guidance: float = param(2.0, "classifier-free guidance weight when sampling (post-processing; 0: none)",
                            number(at_least=0))

    @staticmethod
    def combined(values: dict[str, Any]) -> str | None:
        """What the parameters must satisfy together (checked at construction), or None."""
        if values["sampling_steps"] > values["timesteps"]:
            return (f"sampling_steps must be at most timesteps (got sampling_steps={values['sampling_steps']}, "
                    f"timesteps={values['timesteps']})")
        if values["guidance"] > 0 and values["condition_dropout"] == 0:
            return ("guidance > 0 needs an unconditional model: set condition_dropout > 0, or guidance=0 "
                    f"(got guidance={values['guidance']}, condition_dropout=0)")
        return None


@dataclass
class UNetDiffusionParams(DiffusionParams):
    """`DiffusionParams` and a convolutional U-Net denoiser's with a continuous tail (series, images)."""

    base_channels: int = param(32, "the U-Net's channels at full resolution (twice that below)", whole(1))
    signal_scale: float = param(1.0, "the continuous values (in [-1, 1] units) are diffused divided by this "
                                "public typical magnitude", number(above=0))


def process_params(model: Any) -> dict[str, Any]:
    """A diffusion generator's `OneHotDiffusion` keyword arguments from its family parameters."""
    return {f.name: getattr(model, f.name) for f in fields(DiffusionParams) if f.name != "time_dim"}


class OneHotDiffusion(nn.Module):
    """Conditional Gaussian diffusion on one-hot blocks ``[(start, stop), ...]`` (contiguous
    from 0) followed by ``continuous_width`` continuous values in [-1, 1].

    ``to_x0`` maps a row in the input layout (what the loss compares with, e.g. values and
    an observed mask) to x0 [..., blocks width + continuous_width]; ``reconstruction_loss(output,
    input row)`` scores the model output [block logits | predicted continuous x0]. The
    process runs on `diffused` x0 (the tail divided by ``continuous_scale``); model outputs
    and `generate` are in the data's units.
    """

    def __init__(
        self,
        denoiser: nn.Module,
        *,
        blocks: Sequence[tuple[int, int]],
        reconstruction_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        timesteps: int = 1000,
        sampling_steps: int = 50,
        multiplicity: int = 4,
        condition_dropout: float = 0.0,
        guidance: float = 0.0,
        continuous_width: int = 0,
        to_x0: Callable[[torch.Tensor], torch.Tensor] | None = None,
        continuous_scale: float = 1.0,
        tail_anchor: nn.Module | None = None,
    ):
        super().__init__()
        if multiplicity < 1 or not 1 <= sampling_steps <= timesteps:
            raise ValueError("need multiplicity >= 1 and 1 <= sampling_steps <= timesteps")
        if not 0.0 <= condition_dropout < 1.0 or guidance < 0.0:
            raise ValueError("need 0 <= condition_dropout < 1 and guidance >= 0")
        if guidance > 0.0 and condition_dropout == 0.0:
            raise ValueError("guidance needs an unconditional model: train with condition_dropout > 0")
        if continuous_width < 0 or not (blocks or continuous_width):
            raise ValueError("need one-hot blocks or a continuous tail (continuous_width >= 0)")
        if not continuous_scale > 0:
            raise ValueError(f"continuous_scale must be positive (got {continuous_scale})")
        self.denoiser = denoiser
        self.blocks = [(int(a), int(b)) for a, b in blocks]
        self.onehot_width = self.blocks[-1][1] if self.blocks else 0
        self.continuous_width = int(continuous_width)
        self.width = self.onehot_width + self.continuous_width  # of x0 and of the model output
        self.to_x0 = onehot_x0 if to_x0 is None else to_x0
        self.continuous_scale = float(continuous_scale)
        self.reconstruction_loss = reconstruction_loss
        if tail_anchor is not None and not self.continuous_width:
            raise ValueError("a tail anchor needs a continuous tail (continuous_width > 0)")
        self.tail_anchor = tail_anchor
        self.timesteps = timesteps
        self.sampling_steps = sampling_steps
        self.multiplicity = multiplicity
        self.condition_dropout = condition_dropout
        self.guidance = guidance
        self.register_buffer("alpha_bar", cosine_schedule(timesteps), persistent=False)

    def diffused(self, x0: torch.Tensor) -> torch.Tensor:
        """x0 in the space the process runs in: the continuous tail divided by ``continuous_scale``."""
        if not self.continuous_width or self.continuous_scale == 1.0:
            return x0
        k = self.onehot_width
        return torch.cat([x0[..., :k], x0[..., k:] / self.continuous_scale], dim=-1)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · noise (t: integer timesteps, shape x0.shape[:-1])."""
        a = self.alpha_bar[t][..., None]
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def likelihood_logits(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """log N(x_t | √ᾱ_t·(2e_k − 1), (1 − ᾱ_t)·I) per choice k of each block, up to a constant
        per block: 2√ᾱ_t / (1 − ᾱ_t) · x_t (for the block part of ``x_t`` only)."""
        a = self.alpha_bar[t][..., None]
        return 2 * a.sqrt() / (1 - a) * x_t[..., :self.onehot_width]

    def model_logits(self, x_t: torch.Tensor, c: torch.Tensor, t: torch.Tensor,
                     guidance: float = 0.0, network_c: torch.Tensor | None = None) -> torch.Tensor:
        """The model output [block x0 logits | continuous x0 prediction].

        Block x0 logits = the block's own Gaussian likelihood (exact) + the denoiser's log-prior term.

        By Bayes, log p(x0_b = k | x_t, c) = log p(x_t,b | x0_b = k) + log p(x0_b = k | x_t,−b, c)
        + const; the first term is closed-form, so the network only learns the second (the
        dependence on the other columns and on c) and never has to learn the identity map.
        With ``guidance`` w > 0 the log-prior term is classifier-free guided (Ho & Salimans
        2022): (1 + w)·f(x_t, c) − w·f(x_t, ∅), ∅ the all-zero condition seen in training.
        The continuous tail is the denoiser's x0 prediction (guided the same way) times
        ``continuous_scale``, i.e. in the data's units; with a ``tail_anchor`` the network's
        part is added to the anchor's posterior mean (always given the condition ``c``).
        ``network_c`` (default ``c``) is the condition the network sees: training drops it on
        some draws while the anchor keeps the row's own.
        """
        network_c = c if network_c is None else network_c
        prior = self.denoiser(x_t, network_c, t)
        if guidance > 0.0:
            prior = (1 + guidance) * prior - guidance * self.denoiser(x_t, torch.zeros_like(network_c), t)
        if not self.continuous_width:
            return self.likelihood_logits(x_t, t) + prior
        k = self.onehot_width
        tail = prior[..., k:] * self.continuous_scale
        if self.tail_anchor is not None:
            tail = tail + self.tail_anchor.posterior_mean(x_t[..., k:], c, self.alpha_bar[t][..., None],
                                                          scale=self.continuous_scale)
        return torch.cat([self.likelihood_logits(x_t, t) + prior[..., :k], tail], dim=-1)

    def p_losses(self, x: torch.Tensor, c: torch.Tensor, t: torch.Tensor,
                 noise: torch.Tensor, network_c: torch.Tensor | None = None) -> torch.Tensor:
        """Per-row loss at noise level t of the input rows ``x`` (x0 = ``to_x0(x)``, ``noise``
        shaped like x0): ``reconstruction_loss`` of the model output against ``x`` (block
        cross-entropy; for a continuous tail, the modality's loss of the predicted x0)."""
        x_t = self.q_sample(self.diffused(self.to_x0(x)), t, noise)
        return self.reconstruction_loss(self.model_logits(x_t, c, t, network_c=network_c), x)

    def forward(self, x: torch.Tensor, c: torch.Tensor, row_mask: torch.Tensor) -> torch.Tensor:
        """Per-unit loss [B]: averaged over K draws of (t, noise) per row, then over present rows.

        Shapes [B, R, *]; the K draws are laid out along the row axis ([B, R·K, *]) so the
        layers see 3-D inputs, which opacus ghost clipping handles per unit.
        """
        k = self.multiplicity
        x, c = x.repeat_interleave(k, dim=1), c.repeat_interleave(k, dim=1)
        network_c = c
        if self.condition_dropout > 0.0:  # teach f(x_t, ∅) for guidance: drop c on some draws
            keep = torch.rand(c.shape[:-1], device=c.device) >= self.condition_dropout
            network_c = c * keep[..., None]
        t = torch.randint(0, self.timesteps, x.shape[:-1], device=x.device)
        noise = torch.randn(*x.shape[:-1], self.width, dtype=x.dtype, device=x.device)
        return unit_mean(self.p_losses(x, c, t, noise, network_c), row_mask, draws=k)

    def blockwise_softmax(self, logits: torch.Tensor) -> torch.Tensor:
        if not self.blocks:
            return logits[..., :0]
        return torch.cat([logits[..., a:b].softmax(-1) for a, b in self.blocks], dim=-1)

    def x0_estimate(self, output: torch.Tensor, *, last: bool = True) -> torch.Tensor:
        """x0 from a model output: [2·softmax(block logits) − 1 | continuous prediction clamped to [-1, 1]]
        (in the data's units; `diffused` gives the process's). With a tail anchor the continuous
        part is clamped only at the ``last`` step: the anchor's Gaussian reaches beyond [-1, 1],
        and clamping every step's estimate shrinks the spread of what it samples."""
        k = self.onehot_width
        blocks = 2 * self.blockwise_softmax(output[..., :k]) - 1
        if not self.continuous_width:
            return blocks
        tail = output[..., k:]
        if last or self.tail_anchor is None:
            tail = tail.clamp(-1.0, 1.0)
        return torch.cat([blocks, tail], dim=-1)

    @torch.no_grad()
    def p_sample(self, x_t: torch.Tensor, c: torch.Tensor, t: int,
                 t_next: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One deterministic DDIM step t → t_next (t_next < 0: the end); returns (x_next, output),
        output = [block logits | continuous x0, clamped to [-1, 1] as `x0_estimate` says]."""
        output = self.model_logits(x_t, c, torch.full(x_t.shape[:-1], t, device=x_t.device), self.guidance)
        x0 = self.x0_estimate(output, last=t_next < 0)
        if self.continuous_width:
            output = torch.cat([output[..., :self.onehot_width], x0[..., self.onehot_width:]], dim=-1)
        x0 = self.diffused(x0)
        if t_next < 0:
            return x0, output
        a, a_next = self.alpha_bar[t], self.alpha_bar[t_next]
        eps = (x_t - a.sqrt() * x0) / (1 - a).sqrt()
        return a_next.sqrt() * x0 + (1 - a_next).sqrt() * eps, output

    @torch.no_grad()
    def generate(self, c: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
        """The output-space rows [n, width] — [x0 logits per block | continuous x0 in [-1, 1]] —
        for conditions ``c`` [n, C] after ``sampling_steps`` DDIM steps (the codec decodes them)."""
        x = torch.randn(c.shape[0], self.width, generator=generator, device=c.device)
        times = torch.linspace(self.timesteps - 1, 0, self.sampling_steps).round().long().tolist()
        output = x
        for t, t_next in zip(times, times[1:] + [-1]):
            x, output = self.p_sample(x, c, t, t_next)
        return output

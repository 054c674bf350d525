"""The DP-VAE family: a conditional VAE whose forward pass returns the per-unit ELBO loss.

Written once for every modality: the modality supplies the encoder/decoder backbones and
the reconstruction loss (its codec's ``row_loss``). Inputs are shaped [units, rows, ...]
with a row mask so that a privacy unit with several rows (a patient with several visits)
contributes one loss — and so one clipped gradient — to DP-SGD.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn

from dpsynth.families.training import unit_mean
from dpsynth.params import number, param, whole, widths


@dataclass
class VAEParams:
    """The family's parameters (a generator's ``family_params``); `vae_params` passes them to
    `ConditionalVAE`."""

    latent_dim: int = param(32, "width of the latent code z", whole(1))
    beta: float = param(1.0, "weight of the KL term in the ELBO", number(at_least=0))
    temperature: float = param(1.0, "scale of the prior's draws when sampling (below 1: more typical samples)",
                               number(above=0))
    multiplicity: int = param(1, "latent draws per row in training, averaged inside the unit's loss (no ε)",
                              whole(1))


@dataclass
class ConvVAEParams(VAEParams):
    """`VAEParams` and the widths of a convolutional encoder (series, images)."""

    conv_channels: tuple[int, ...] = param((32, 64), "channels of the encoder's stride-2 convolutions; "
                                           "the decoder mirrors them", widths(empty=False))

BAD_TEMPERATURE = ("temperature must be a number > 0 (the prior's scale when sampling; 1 = the prior itself), "
                   "got {value!r}")
BAD_MULTIPLICITY = "multiplicity must be an integer >= 1 (latent draws per row in training), got {value!r}"


def vae_params(model: Any) -> dict[str, Any]:
    """A VAE generator's `ConditionalVAE` keyword arguments from its family parameters."""
    return {f.name: getattr(model, f.name) for f in fields(VAEParams)}


class ConditionalVAE(nn.Module):
    """q(z | x, c) and p(x | z, c) with a standard-normal prior; ``beta`` weights the KL.

    ``temperature`` scales the prior's draws when sampling (z ~ N(0, temperature²)), not
    training: below 1 the decoder sees more typical latents, so samples are more typical of
    their condition and less varied (the usual trade-off, e.g. NVAE's reduced temperature).
    Post-processing of the DP-trained decoder: no privacy cost.

    ``multiplicity`` K draws K latents per row from q(z | x, c) and averages their
    reconstruction losses inside the unit's loss (a K-sample estimate of the expected
    reconstruction term), like the diffusion family's noise multiplicity: the unit still
    returns one loss, so one clipped gradient, and the extra draws only lower the variance
    of that gradient — no privacy cost, K times the decoder's compute.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        *,
        latent_dim: int,
        reconstruction_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        beta: float = 1.0,
        temperature: float = 1.0,
        multiplicity: int = 1,
    ):
        super().__init__()
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
                0.0 < temperature < float("inf")):
            raise ValueError(BAD_TEMPERATURE.format(value=temperature))
        if isinstance(multiplicity, bool) or not isinstance(multiplicity, int) or multiplicity < 1:
            raise ValueError(BAD_MULTIPLICITY.format(value=multiplicity))
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = latent_dim
        self.reconstruction_loss = reconstruction_loss
        self.beta = beta
        self.temperature = float(temperature)
        self.multiplicity = multiplicity

    def forward(self, x: torch.Tensor, c: torch.Tensor, row_mask: torch.Tensor) -> torch.Tensor:
        """Per-unit negative ELBO: mean over the unit's present rows. Shapes [B, R, *].

        The K = ``multiplicity`` latent draws of a row are laid out along the row axis
        ([B, R·K, *], as the diffusion family does) so the decoder's layers see one unit per
        leading index, which opacus needs to clip per unit.
        """
        stats = self.encoder(torch.cat([x, c], dim=-1))
        mu, logvar = stats[..., : self.latent_dim], stats[..., self.latent_dim:].clamp(-10.0, 10.0)
        kl = -0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
        k = self.multiplicity
        mu, logvar = mu.repeat_interleave(k, dim=1), logvar.repeat_interleave(k, dim=1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        out = self.decoder(torch.cat([z, c.repeat_interleave(k, dim=1)], dim=-1))
        per_draw = self.reconstruction_loss(out, x.repeat_interleave(k, dim=1)) + self.beta * kl.repeat_interleave(
            k, dim=1)
        return unit_mean(per_draw, row_mask, draws=k)

    @torch.no_grad()
    def generate(self, c: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
        """Decoder outputs for conditions ``c`` [n, C], with z drawn from the prior (scaled by ``temperature``)."""
        z = self.temperature * torch.randn(c.shape[0], self.latent_dim, generator=generator, device=c.device)
        return self.decoder(torch.cat([z, c], dim=-1))

"""The DP-VAE family: a conditional VAE whose forward pass returns the per-unit ELBO loss.

Written once for every modality: the modality supplies the encoder/decoder backbones and
the reconstruction loss (its codec's ``row_loss``). Inputs are shaped [units, rows, ...]
with a row mask so that a privacy unit with several rows (a patient with several visits)
contributes one loss — and so one clipped gradient — to DP-SGD.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn


VAE_DEFAULTS = {"latent_dim": 32, "beta": 1.0, "temperature": 1.0}
"""The family's parameters and defaults (`DPGenerator.family_defaults`): the latent width,
the KL weight and the sampling temperature; `vae_params` passes them to `ConditionalVAE`."""

BAD_TEMPERATURE = ("temperature must be a number > 0 (the prior's scale when sampling; 1 = the prior itself), "
                   "got {value!r}")


def vae_params(model: Any) -> dict[str, Any]:
    """A VAE generator's `ConditionalVAE` keyword arguments from its family parameters."""
    return {name: getattr(model, name) for name in VAE_DEFAULTS}


class ConditionalVAE(nn.Module):
    """q(z | x, c) and p(x | z, c) with a standard-normal prior; ``beta`` weights the KL.

    ``temperature`` scales the prior's draws when sampling (z ~ N(0, temperature²)), not
    training: below 1 the decoder sees more typical latents, so samples are more typical of
    their condition and less varied (the usual trade-off, e.g. NVAE's reduced temperature).
    Post-processing of the DP-trained decoder: no privacy cost.
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
    ):
        super().__init__()
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
                0.0 < temperature < float("inf")):
            raise ValueError(BAD_TEMPERATURE.format(value=temperature))
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = latent_dim
        self.reconstruction_loss = reconstruction_loss
        self.beta = beta
        self.temperature = float(temperature)

    def forward(self, x: torch.Tensor, c: torch.Tensor, row_mask: torch.Tensor) -> torch.Tensor:
        """Per-unit negative ELBO: mean over the unit's present rows. Shapes [B, R, *]."""
        stats = self.encoder(torch.cat([x, c], dim=-1))
        mu, logvar = stats[..., : self.latent_dim], stats[..., self.latent_dim:].clamp(-10.0, 10.0)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        out = self.decoder(torch.cat([z, c], dim=-1))
        kl = -0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
        per_row = self.reconstruction_loss(out, x) + self.beta * kl
        return (per_row * row_mask).sum(-1) / row_mask.sum(-1).clamp(min=1.0)

    @torch.no_grad()
    def generate(self, c: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
        """Decoder outputs for conditions ``c`` [n, C], with z drawn from the prior (scaled by ``temperature``)."""
        z = self.temperature * torch.randn(c.shape[0], self.latent_dim, generator=generator, device=c.device)
        return self.decoder(torch.cat([z, c], dim=-1))

"""The DP-VAE family: a conditional VAE whose forward pass returns the per-unit ELBO loss.

Written once for every modality: the modality supplies the encoder/decoder backbones and
the reconstruction loss (its codec's ``row_loss``). Inputs are shaped [units, rows, ...]
with a row mask so that a privacy unit with several rows (a patient with several visits)
contributes one loss — and so one clipped gradient — to DP-SGD.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


VAE_DEFAULTS = {"latent_dim": 32, "beta": 1.0}
"""The family's parameters and defaults (`DPGenerator.family_defaults`): the latent width
and the KL weight."""


class ConditionalVAE(nn.Module):
    """q(z | x, c) and p(x | z, c) with a standard-normal prior; ``beta`` weights the KL."""

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        *,
        latent_dim: int,
        reconstruction_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        beta: float = 1.0,
    ):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = latent_dim
        self.reconstruction_loss = reconstruction_loss
        self.beta = beta

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
        """Decoder outputs for conditions ``c`` [n, C], with z drawn from the prior."""
        z = torch.randn(c.shape[0], self.latent_dim, generator=generator, device=c.device)
        return self.decoder(torch.cat([z, c], dim=-1))

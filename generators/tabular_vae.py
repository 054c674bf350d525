"""DP-VAE for tabular EHR (TVAE-like, conditional on the target and the sensitive groups).

The codec gives the row encoding and reconstruction loss; the MLP backbone gives encoder
and decoder; the VAE family gives the ELBO; the shared pipeline gives DP-SGD. What is
left here is the wiring and the defaults.
"""

from __future__ import annotations

from torch import nn

from dpsynth.backbones import MLP
from dpsynth.tabular.codec import TabularCodec
from dpsynth.families.vae import ConditionalVAE, VAEParams, vae_params
from dpsynth.tabular.generator import TabularGenerator
from dpsynth.registry import register


@register("dp-vae", family="vae", modality="tabular",
          description="Conditional tabular VAE trained with DP-SGD (opacus, ghost clipping)")
class DPTabularVAE(TabularGenerator):
    """Conditional VAE for tabular data, trained with DP-SGD.

    ``latent_dim`` and ``beta`` are the family's parameters; the rest (``n_bins``,
    ``hidden``, ``epochs``, ``batch_size``, ``lr``, ``max_grad_norm``, ``accountant``,
    ``condition_share``, ...) are shared by every tabular generator (`TrainingSettings`).

    Its schedule follows the cohort size (``batch_size`` and ``epochs`` None): the batch is
    the largest of 512, 256, 128 that gives at least 8 batches an epoch, and training runs 30
    passes or as many more as make 400 steps, all within the same budget. A fixed batch of
    512 gives a cohort of a few hundred patients 30 full-batch steps, too few to learn from
    at any ε; the settings study in docs/benchmarks.md chose this schedule on inner splits.
    """

    family_params = VAEParams
    param_defaults = {"batch_size": None, "epochs": None}

    def _build_module(self, codec: TabularCodec) -> nn.Module:
        encoder = MLP(codec.width + codec.condition_width, 2 * self.latent_dim, self.hidden)
        decoder = MLP(self.latent_dim + codec.condition_width, codec.width, self.hidden)
        return ConditionalVAE(encoder, decoder, reconstruction_loss=codec.row_loss, **vae_params(self))

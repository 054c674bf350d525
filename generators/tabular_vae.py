"""DP-VAE for tabular EHR (TVAE-like, conditional on the target and the sensitive groups).

The codec gives the row encoding and reconstruction loss; the MLP backbone gives encoder
and decoder; the VAE family gives the ELBO; the shared pipeline gives DP-SGD. With
``anchor_share`` the decoder is anchored on measured marginals (`dpsynth.families.anchor`).
What is left here is the wiring and the defaults.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd
from torch import nn

from dpsynth.backbones import MLP
from dpsynth.families.anchor import AnchoredDecoder, AnchoredVAEParams, measure_anchor, plan_anchor
from dpsynth.families.marginal import TargetMarginals, measured_condition_mix
from dpsynth.families.training import TrainingLog
from dpsynth.families.vae import ConditionalVAE, vae_params
from dpsynth.privacy.dpsgd import DPSGDPlan
from dpsynth.registry import register
from dpsynth.tabular.codec import TabularCodec
from dpsynth.tabular.generator import TabularGenerator


@register("dp-vae", family="vae", modality="tabular",
          description="Conditional tabular VAE trained with DP-SGD (opacus, ghost clipping)")
class DPTabularVAE(TabularGenerator):
    """Conditional VAE for tabular data, trained with DP-SGD.

    ``latent_dim``, ``beta`` and ``anchor_share`` are the family's parameters; the rest
    (``n_bins``, ``hidden``, ``epochs``, ``batch_size``, ``lr``, ``max_grad_norm``, ``accountant``,
    ``condition_share``, ...) are shared by every tabular generator (`TrainingSettings`).

    Its schedule follows the cohort size (``batch_size`` and ``epochs`` None): the batch is
    the largest of 512, 256, 128 that gives at least 8 batches an epoch, and training runs 30
    passes or as many more as make 400 steps, all within the same budget. A fixed batch of
    512 gives a cohort of a few hundred patients 30 full-batch steps, too few to learn from
    at any ε; the settings study in docs/benchmarks.md chose this schedule on inner splits.

    With ``anchor_share`` s > 0 (default 0.7), s of the training budget measures the marginal
    family's one-way and outcome-pair tables and the decoder's logits start from them; DP-SGD
    trains the rest at ``lr`` 1e-3 (`dpsynth.families.anchor`). The condition mix then comes
    from the same tables, as dp-marginal's does (``condition_share`` 0): a separate Laplace
    table over the target × sensitive-group cells has more noise than count in most cells of a
    small cohort. A ``condition_share`` > 0 spends that share on the Laplace table instead.
    Without the anchor (0) a decoder learns from DP-SGD alone, and in cohorts of a few hundred
    patients its samples can carry less about the outcome than chance; ``lr`` 5e-3 and
    ``condition_share`` 0.05 suit it better. The settings study in docs/benchmarks.md chose
    these on inner splits.
    """

    family_params = AnchoredVAEParams
    param_defaults = {"batch_size": None, "epochs": None, "anchor_share": 0.7, "lr": 1e-3, "condition_share": 0.0}
    params_before_added = {"anchor_share": 0.0}  # a bundle saved before the anchor trained DP-SGD alone

    def _plan_training(self, *, n_units: int, epsilon: float, delta: float) -> DPSGDPlan:
        if not self.anchor_share:
            return super()._plan_training(n_units=n_units, epsilon=epsilon, delta=delta)
        anchor = plan_anchor(epsilon=self.anchor_share * epsilon, delta=delta / 2)
        dpsgd = super()._plan_training(n_units=n_units, epsilon=(1.0 - self.anchor_share) * epsilon, delta=delta / 2)
        return dataclasses.replace(dpsgd, first_stage=anchor)

    def _build_module(self, codec: TabularCodec) -> nn.Module:
        encoder = MLP(codec.width + codec.condition_width, 2 * self.latent_dim, self.hidden)
        decoder = MLP(self.latent_dim + codec.condition_width, codec.width, self.hidden)
        if self.anchor_share:
            n_targets = len(codec.condition_domains[codec.schema.target])
            decoder = AnchoredDecoder(decoder, TargetMarginals(codec.width, n_targets), self.latent_dim)
        return ConditionalVAE(encoder, decoder, reconstruction_loss=codec.row_loss, **vae_params(self))

    @property
    def own_condition_mix(self) -> bool:
        """Anchored and without a Laplace condition table: the mix comes from the anchor's tables."""
        return bool(self.anchor_share) and self.training.condition_share == 0

    def _train(self, module: nn.Module, tensors: Any, plan: DPSGDPlan, *, progress: bool) -> TrainingLog:
        if plan.first_stage is not None:  # the anchor's measurements, then DP-SGD
            measured, target_block = self.codec_.measured_slices()
            self._anchor_log = measure_anchor(module.decoder, tensors, plan.first_stage, measured=measured,
                                              target_block=target_block, merges=self.codec_.pair_merges(),
                                              complete=self.codec_.complete_blocks(), progress=progress)
        return super()._train(module, tensors, plan, progress=progress)

    def _fitted_condition_table(self, module: nn.Module, log: TrainingLog, table: pd.DataFrame) -> pd.DataFrame:
        if not self.own_condition_mix:
            return table
        measured, target_block = self.codec_.measured_slices()
        return measured_condition_mix(module.decoder.anchor, self._anchor_log, table, self.codec_.condition_choices,
                                      measured=measured, target_block=target_block)

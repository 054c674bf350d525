"""Anchored decoders: a decoder's logits start from measured marginals, DP-SGD learns the rest.

At small n·ε the noise of DP-SGD drowns what a decoder must learn from scratch, and its
samples can carry less signal about the outcome than a coin (docs/benchmarks.md). The
marginal family (`dpsynth.families.marginal`) spends its budget on the few counts that
matter most for the outcome instead. An anchored decoder takes both: a share of the
training budget measures the marginal family's tables (every block's histogram and the
chosen target × block histograms, ρ-zCDP, OpenDP's noise), and the decoder outputs

    logits = network(z, c) + log p̂(block | y)

where y is the row's target in its condition. The network's last layer starts at zero, so
before DP-SGD the decoder samples what the measurements say; DP-SGD, with the rest of the
budget, learns what they cannot (how the predictors go together, given z). The two parts
compose by basic composition, each its own ledger entry (δ split evenly).

Written once: the modality says which blocks of its encoding to count, how a target pair
merges their cells and which blocks every unit fills (`measure_anchor`'s ``measured``,
``target_block``, ``merges`` and ``complete``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from dpsynth.families.marginal import MarginalLog, MarginalParams, TargetMarginals, marginal_plan, measure
from dpsynth.families.vae import VAEParams
from dpsynth.params import number, param
from dpsynth.privacy.marginals import MarginalPlan

ANCHOR_LABEL = "decoder anchor: noisy marginals"  # the measurements' line on the ledger


@dataclass
class AnchoredVAEParams(VAEParams):
    """`VAEParams` and the share of the training budget that measures the decoder's anchor."""

    anchor_share: float = param(0.0, "share of the training budget that measures the marginal family's tables, "
                                     "which the decoder's logits start from (0: no anchor, DP-SGD alone)",
                                number(at_least=0, below=1))


def zero_output(layer: nn.Module) -> None:
    """Set ``layer``'s parameters to zero: before any DP-SGD step an anchored model outputs what
    its anchor measured (the network's part starts at zero)."""
    for parameter in layer.parameters():
        nn.init.zeros_(parameter)


class AnchoredDecoder(nn.Module):
    """``network(zc) + anchor.generate(c)``: logits [..., width] for inputs z ‖ c, where c is the
    condition one-hot after the first ``latent_dim`` features and ``anchor`` holds the measured
    log-probabilities per target (buffers: DP-SGD leaves them as measured)."""

    def __init__(self, network: nn.Sequential, anchor: TargetMarginals, latent_dim: int):
        super().__init__()
        zero_output(network[-1])  # before any step the logits are the measured ones
        self.network, self.anchor, self.latent_dim = network, anchor, latent_dim

    def forward(self, zc: torch.Tensor) -> torch.Tensor:
        return self.network(zc) + self.anchor.generate(zc[..., self.latent_dim:])


def plan_anchor(*, epsilon: float, delta: float) -> MarginalPlan:
    """The measurements' plan for (``epsilon``, ``delta``), its stages split as the marginal
    family's defaults split them (`MarginalParams`)."""
    return marginal_plan(MarginalParams(), epsilon=epsilon, delta=delta, label=ANCHOR_LABEL)


def measure_anchor(decoder: AnchoredDecoder, tensors: Any, plan: MarginalPlan, *, measured: Sequence[slice],
                   target_block: int, merges: Sequence[str], complete: Collection[int],
                   progress: bool) -> MarginalLog:
    """Fill ``decoder``'s anchor with the marginal family's measurements under ``plan`` (every
    draw OpenDP's), with the family's default ``cell_signal``, ``pair_groups`` and ``selection_share``."""
    defaults = MarginalParams()
    with torch.no_grad():
        return measure(decoder.anchor, tensors, plan, measured=measured, target_block=target_block,
                       cell_signal=defaults.cell_signal, pair_groups=defaults.pair_groups, merges=merges,
                       selection_share=defaults.selection_share,
                       complete=complete, progress=progress)

"""A diffusion model anchored on measured moments: its x0 starts from a Gaussian's denoiser,
DP-SGD learns the rest.

With a thousand images and 60–90 noisy steps a diffusion network learns what images look
like in general but not what each class looks like (docs/benchmarks.md), while the moments
family (`dpsynth.families.moments`) keeps each class's mean and covariance from one noisy
measurement. An anchored diffusion model takes both: a share of the training budget
measures the moments family's Gaussian per class, and the denoiser's x0 prediction of the
values is

    x̂0 = E_Gaussian[x0 | x_t, y] + network(x_t, c, t)

where the first term is the exact posterior mean under the measured Gaussian
(`GaussianMoments.posterior_mean`). With the network's output layer at zero, DDIM sampling
from the untrained model draws from the measured Gaussian; DP-SGD, with the rest of the
budget, learns what a Gaussian cannot (strokes, edges). The two parts compose by basic
composition, each its own ledger entry (δ split evenly), as for dp-vae's anchor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from dpsynth.families.diffusion import UNetDiffusionParams
from dpsynth.families.moments import SHARES, GaussianMoments, MomentsLayout, MomentsLog, measure_moments
from dpsynth.params import number, param, whole
from dpsynth.privacy.marginals import MarginalPlan, plan_marginals

MOMENT_ANCHOR_LABEL = "diffusion anchor: noisy moments"  # the measurements' line on the ledger
ANCHOR_CLIP_QUANTILE = 0.5  # the moments family's default (`MomentsParams`)
ANCHOR_COVARIANCE = "auto"


@dataclass
class AnchoredDiffusionParams(UNetDiffusionParams):
    """`UNetDiffusionParams` and the moment anchor's: its share of the training budget and basis size."""

    anchor_share: float = param(0.0, "share of the training budget that measures each class's Gaussian (the moments "
                                     "family's), whose denoiser the network's x0 starts from (0: no anchor, DP-SGD "
                                     "alone)", number(at_least=0, below=1))
    anchor_components: int = param(64, "public basis functions of the anchor's Gaussian (the lowest frequencies "
                                       "first)", whole(1))


class MomentAnchor(nn.Module):
    """The measured Gaussians (buffers: DP-SGD leaves them as measured) and the public variance
    given to values outside their basis; `posterior_mean` is what the diffusion model adds."""

    def __init__(self, moments: GaussianMoments, *, complement_variance: float):
        super().__init__()
        if not complement_variance > 0:
            raise ValueError(f"complement_variance must be positive (got {complement_variance})")
        self.moments, self.complement_variance = moments, float(complement_variance)

    def posterior_mean(self, x_t: torch.Tensor, c: torch.Tensor, alpha_bar: torch.Tensor, *,
                       scale: float = 1.0) -> torch.Tensor:
        return self.moments.posterior_mean(x_t, c, alpha_bar, complement_variance=self.complement_variance,
                                           scale=scale)


def plan_moment_anchor(*, epsilon: float, delta: float) -> MarginalPlan:
    """The measurements' plan for (``epsilon``, ``delta``), its stages split as the moments family's."""
    return plan_marginals(epsilon=epsilon, delta=delta, shares=SHARES, label=MOMENT_ANCHOR_LABEL)


def measure_moment_anchor(anchor: MomentAnchor, tensors: Any, plan: MarginalPlan, layout: MomentsLayout, *,
                          progress: bool) -> MomentsLog:
    """Fill ``anchor``'s Gaussians with the moments family's measurements under ``plan`` (every
    draw OpenDP's), at that family's default clip quantile and ``auto`` covariance."""
    with torch.no_grad():
        return measure_moments(anchor.moments, tensors, plan, blocks=layout.blocks, target=layout.target,
                               clip_quantile=ANCHOR_CLIP_QUANTILE, covariance=ANCHOR_COVARIANCE,
                               progress=progress)

"""DP diffusion for tabular EHR (TabDDPM-like, conditional on the target and the sensitive groups).

The codec gives the one-hot row encoding and the per-block cross-entropy; the MLP backbone
gives the denoiser body; the diffusion family gives the noise schedule, the loss and the
DDIM sampler; the shared pipeline gives DP-SGD. What is left here is the wiring and the
defaults, fixed a priori (docs/privacy.md, rule 4): the shared ones (hidden (256, 256), 30 epochs,
batch 512, lr 5e-3, clip 1.0, PRV) plus T = 1000 training timesteps, 50 sampling steps,
K = 4 draws of (t, noise) per row and classifier-free guidance (weight 2, null condition on
10 % of the draws).
"""

from __future__ import annotations

from torch import nn

from dpsynth.backbones import MLP
from dpsynth.tabular.codec import TabularCodec
from dpsynth.families.diffusion import Denoiser, DiffusionParams, OneHotDiffusion, process_params
from dpsynth.tabular.generator import TabularGenerator
from dpsynth.registry import register


@register("dp-diffusion", family="diffusion", modality="tabular",
          description="Conditional one-hot Gaussian diffusion (x0 prediction) trained with DP-SGD "
                      "(opacus, ghost clipping)")
class DPTabularDiffusion(TabularGenerator):
    """Conditional diffusion model for tabular data, trained with DP-SGD.

    ``timesteps``, ``sampling_steps``, ``multiplicity`` (K draws per row, averaged inside
    the unit's loss so the unit still gives one clipped gradient), ``time_dim``,
    ``condition_dropout`` (share of draws trained with the null condition, 0.1) and
    ``guidance`` (classifier-free guidance weight at sampling, 2.0: post-processing) are
    the family's parameters; the rest are shared by every tabular generator
    (`TrainingSettings`).
    """

    family_params = DiffusionParams

    def _build_module(self, codec: TabularCodec) -> nn.Module:
        body = MLP(codec.width + codec.condition_width + self.time_dim, codec.width, self.hidden)
        return OneHotDiffusion(Denoiser(body, time_dim=self.time_dim),
                               blocks=[(b.start, b.stop) for b in codec.blocks],
                               reconstruction_loss=codec.row_loss, **process_params(self))

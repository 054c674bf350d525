"""DP diffusion for tabular EHR (TabDDPM-like, conditional on the target and the sensitive groups).

The codec gives the one-hot row encoding and the per-block cross-entropy; the MLP backbone
gives the denoiser body; the diffusion family gives the noise schedule, the loss and the
DDIM sampler; the shared pipeline gives DP-SGD. What is left here is the wiring and the
defaults, fixed a priori (DESIGN.md rule 4): the shared ones (hidden (256, 256), 30 epochs,
batch 512, lr 5e-3, clip 1.0, PRV) plus T = 1000 training timesteps, 50 sampling steps and
K = 4 draws of (t, noise) per row.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dpsynth.backbones import MLP
from dpsynth.codecs.tabular import TabularCodec
from dpsynth.families.diffusion import Denoiser, OneHotDiffusion
from dpsynth.generator import TabularGenerator
from dpsynth.registry import register
from dpsynth.schema import TabularSchema


@register("dp-diffusion", family="diffusion", modality="tabular",
          description="Conditional one-hot Gaussian diffusion (x0 prediction) trained with DP-SGD "
                      "(opacus, ghost clipping)")
class DPTabularDiffusion(TabularGenerator):
    """Conditional diffusion model for tabular data, trained with DP-SGD.

    ``timesteps``, ``sampling_steps``, ``multiplicity`` (K draws per row, averaged inside
    the unit's loss so the unit still gives one clipped gradient) and ``time_dim`` are the
    family's parameters; the rest are shared by every tabular generator (`TrainingSettings`).
    """

    def __init__(self, schema: TabularSchema, *, timesteps: int = 1000, sampling_steps: int = 50,
                 multiplicity: int = 4, time_dim: int = 64, **params: Any):
        super().__init__(schema, **params)
        self.timesteps = timesteps
        self.sampling_steps = sampling_steps
        self.multiplicity = multiplicity
        self.time_dim = time_dim

    def _family_params(self) -> dict[str, Any]:
        return {"timesteps": self.timesteps, "sampling_steps": self.sampling_steps,
                "multiplicity": self.multiplicity, "time_dim": self.time_dim}

    def _build_module(self, codec: TabularCodec) -> nn.Module:
        body = MLP(codec.width + codec.condition_width + self.time_dim, codec.width, self.hidden)
        return OneHotDiffusion(Denoiser(body, time_dim=self.time_dim),
                               blocks=[(b.start, b.stop) for b in codec.blocks],
                               reconstruction_loss=codec.row_loss, timesteps=self.timesteps,
                               sampling_steps=self.sampling_steps, multiplicity=self.multiplicity)

    def _generate(self, module: nn.Module, c: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return module.generate(c, generator=generator)

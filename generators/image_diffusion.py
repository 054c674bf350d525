"""DP diffusion for medical images in the style of DPDM (Dockhorn et al., TMLR 2023).

DPDM's recipe, on the shared core: a small U-Net denoiser (`ImageDenoiser`: GroupNorm
without affine parameters, no BatchNorm) trained with DP-SGD; *noise multiplicity* (K
draws of the noise level and noise per image, averaged inside the unit's loss before
clipping, so the extra draws cut gradient variance at no privacy cost); an exponential
moving average of the weights (post-processing); a deterministic sampler with few steps
(DDIM). The diffusion family is the same `OneHotDiffusion` as for tabular rows and
series: the attribute blocks are diffused as 2·one-hot − 1 with their exact likelihood
term, the pixels (in [-1, 1]) are the continuous tail whose x0 the network predicts,
scored by the codec's Gaussian pixel loss. With ``anchor_share`` the pixels' x0 starts from
the exact denoiser of each class's measured Gaussian (`dpsynth.families.moment_anchor`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from dpsynth.families.anchor import zero_output
from dpsynth.families.diffusion import BlocksThenTailX0, Denoiser, OneHotDiffusion, process_params
from dpsynth.families.moment_anchor import (
    AnchoredDiffusionParams,
    MomentAnchor,
    measure_moment_anchor,
    plan_moment_anchor,
)
from dpsynth.families.moments import GaussianMoments
from dpsynth.families.training import TrainingLog
from dpsynth.images.codec import ImageCodec
from dpsynth.errors import ParameterError
from dpsynth.privacy.dpsgd import DPSGDPlan
from dpsynth.image_backbones import ImageDenoiser
from dpsynth.images.generator import ImageGenerator
from dpsynth.registry import register

ANCHOR_AND_PRETRAINING = ("anchor_share={share} and public pretraining (pretrain_images={count}) do not go together: "
                          "the network would pretrain against an anchor not yet measured; set anchor_share=0 or "
                          "leave pretrain_images and pretrain_source unset")


@register("dp-image-diffusion", family="diffusion", modality="image",
          description="Conditional diffusion for images in the style of DPDM (small U-Net, noise multiplicity, "
                      "EMA, DDIM sampler) trained with DP-SGD; the subject (or the image) is the privacy unit")
class DPImageDiffusion(ImageGenerator):
    """Conditional diffusion model for images, trained with DP-SGD.

    Family parameters (defaults fixed a priori): ``timesteps`` (1000, cosine schedule),
    ``sampling_steps`` (50 DDIM steps), ``multiplicity`` (4 draws of (t, noise) per image:
    DPDM uses more on GPUs; each costs a U-Net pass), ``time_dim`` (64), ``base_channels``
    (32: the U-Net's channels at full resolution, twice that below), ``condition_dropout``
    (0.1) and ``guidance`` (1.0: classifier-free guidance at sampling, post-processing),
    ``signal_scale`` (1.0: pixels span their public range, unlike series values).
    Shared parameters: ``ema_decay`` 0.999 here (`TrainingSettings`; warmed up, see
    `dpsynth.families.training.WeightAverage`), ``hidden`` (128,) for the embedding and
    attribute-head MLPs, the rest as for every generator.

    With ``anchor_share`` s > 0, s of the training budget measures each class's Gaussian over
    the first ``anchor_components`` DCT coefficients (the moments family's measurements,
    ``covariance`` auto), the network's pixel output starts at zero and its x0 is added to
    that Gaussian's exact posterior mean; DP-SGD trains with the rest of the budget. Values
    outside the basis get the codec's public ``sigma``² as their prior variance.
    """

    family_params = AnchoredDiffusionParams
    param_defaults = {"guidance": 1.0, "ema_decay": 0.999, "hidden": (128,), "anchor_share": 0.8}
    params_before_added = {"anchor_share": 0.0}  # a bundle saved before the anchor trained DP-SGD alone

    def _plan_training(self, *, n_units: int, epsilon: float, delta: float) -> Any:
        if self.anchor_share and (self.pretrain_images or self.pretrain_source is not None):
            raise ParameterError(ANCHOR_AND_PRETRAINING.format(share=self.anchor_share, count=self.pretrain_images))
        if not self.anchor_share:
            return super()._plan_training(n_units=n_units, epsilon=epsilon, delta=delta)
        anchor = plan_moment_anchor(epsilon=self.anchor_share * epsilon, delta=delta / 2)
        dpsgd = super()._plan_training(n_units=n_units, epsilon=(1.0 - self.anchor_share) * epsilon, delta=delta / 2)
        return dataclasses.replace(dpsgd, first_stage=anchor)

    def _build_module(self, codec: ImageCodec) -> nn.Module:
        body = ImageDenoiser(**codec.backbone_shape(), extra_width=codec.condition_width + self.time_dim,
                             base=self.base_channels, hidden=self.hidden)
        anchor = None
        if self.anchor_share:
            moments = GaussianMoments.for_codec(codec.moments_layout(self.anchor_components), codec)
            anchor = MomentAnchor(moments, complement_variance=codec.sigma ** 2)
            zero_output(body.conv_out)
        return OneHotDiffusion(Denoiser(body, time_dim=self.time_dim),
                               blocks=[(b.start, b.stop) for b in codec.static_codec.blocks],
                               continuous_width=codec.pixel_width,
                               to_x0=BlocksThenTailX0(codec.static_width, codec.pixel_width),
                               continuous_scale=self.signal_scale, reconstruction_loss=codec.row_loss,
                               tail_anchor=anchor, **process_params(self))

    def _train(self, module: nn.Module, tensors: Any, plan: DPSGDPlan, *, progress: bool) -> TrainingLog:
        if plan.first_stage is not None:  # the anchor's measurements, then DP-SGD
            measure_moment_anchor(module.tail_anchor, tensors, plan.first_stage,
                                  self.codec_.moments_layout(self.anchor_components), progress=progress)
        return super()._train(module, tensors, plan, progress=progress)

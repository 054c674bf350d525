"""DP diffusion for medical images in the style of DPDM (Dockhorn et al., TMLR 2023).

DPDM's recipe, on the shared core: a small U-Net denoiser (`ImageDenoiser`: GroupNorm
without affine parameters, no BatchNorm) trained with DP-SGD; *noise multiplicity* (K
draws of the noise level and noise per image, averaged inside the unit's loss before
clipping, so the extra draws cut gradient variance at no privacy cost); an exponential
moving average of the weights (post-processing); a deterministic sampler with few steps
(DDIM). The diffusion family is the same `OneHotDiffusion` as for tabular rows and
series: the attribute blocks are diffused as 2·one-hot − 1 with their exact likelihood
term, the pixels (in [-1, 1]) are the continuous tail whose x0 the network predicts,
scored by the codec's Gaussian pixel loss.
"""

from __future__ import annotations

from torch import nn

from dpsynth.images.codec import ImageCodec
from dpsynth.families.diffusion import (
    BlocksThenTailX0,
    Denoiser,
    OneHotDiffusion,
    UNetDiffusionParams,
    process_params,
)
from dpsynth.image_backbones import ImageDenoiser
from dpsynth.images.generator import ImageGenerator
from dpsynth.registry import register


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
    """

    family_params = UNetDiffusionParams
    param_defaults = {"guidance": 1.0, "ema_decay": 0.999, "hidden": (128,)}

    def _build_module(self, codec: ImageCodec) -> nn.Module:
        body = ImageDenoiser(**codec.backbone_shape(), extra_width=codec.condition_width + self.time_dim,
                             base=self.base_channels, hidden=self.hidden)
        return OneHotDiffusion(Denoiser(body, time_dim=self.time_dim),
                               blocks=[(b.start, b.stop) for b in codec.static_codec.blocks],
                               continuous_width=codec.pixel_width,
                               to_x0=BlocksThenTailX0(codec.static_width, codec.pixel_width),
                               continuous_scale=self.signal_scale, reconstruction_loss=codec.row_loss,
                               **process_params(self))

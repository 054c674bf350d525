"""DP-GAN for medical images (DCGAN-like; conditional on the label and the sensitive groups).

Real rows and the generator's output share one layout, [attributes one-hot | pixels
H·W·C in [-1, 1]] (images have no missing pixels, so no mask and no real-row view). This
file gives the networks — an `ImageDecoder` generator (tanh on the pixels: series'
`TanhValues`), an `ImageEncoder` discriminator and optional auxiliary condition classifier
— and the generator's soft output: Gumbel-softmax on the attribute blocks (dp-gan's
`BlockSoftener`), the pixels as they are. The GAN family gives the training loop (only the
discriminator and its classifier are private) and the DP condition sampler.
"""

from __future__ import annotations

import torch
from torch import nn

from dpsynth.images.codec import ImageCodec
from dpsynth.families.gan import ConditionalGAN, ConvGANParams, GANTraining
from dpsynth.families.gan_parts import BlockSoftener, TanhValues, condition_blocks, condition_free_mask
from dpsynth.image_backbones import ImageDecoder, ImageEncoder
from dpsynth.images.generator import ImageGenerator
from dpsynth.registry import register


class ImageSoftener:
    """Generator output [attribute logits | pixels] -> a soft row: [Gumbel-softmax attributes | pixels]."""

    def __init__(self, codec: ImageCodec, *, tau: float):
        self.static = BlockSoftener(codec.static_codec, tau=tau)
        self.static_width = codec.static_width

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        s = self.static_width
        return torch.cat([self.static(output[..., :s]), output[..., s:]], dim=-1)


@register("dp-image-gan", family="gan", modality="image",
          description="Conditional DCGAN-like GAN for images (GroupNorm); only the discriminator (and its "
                      "auxiliary classifier) is trained with DP-SGD; the subject (or the image) is the unit")
class DPImageGAN(GANTraining, ImageGenerator):
    """Conditional DCGAN-like GAN for images; only the (small) discriminator sees private data.

    Adam(betas=(0.5, 0.9)) for both networks. Parameters: ``dpsynth generators --params
    dp-image-gan``.
    """

    family_params = ConvGANParams

    def _build_module(self, codec: ImageCodec) -> nn.Module:
        shape = codec.backbone_shape()
        generator = TanhValues(ImageDecoder(**shape, in_dim=self.latent_dim + codec.condition_width,
                                            conv_channels=self.conv_channels[::-1], hidden=self.hidden))
        discriminator = ImageEncoder(**shape, extra_width=codec.condition_width, out_dim=1,
                                     conv_channels=self.conv_channels, hidden=self.disc_hidden)
        classifier = None
        if self.aux_weight:
            classifier = ImageEncoder(**shape, extra_width=0, out_dim=codec.condition_width,
                                      conv_channels=self.conv_channels, hidden=self.disc_hidden)
        feature_mask = torch.cat([condition_free_mask(codec.static_codec), torch.ones(codec.pixel_width)])
        return ConditionalGAN(generator, discriminator, latent_dim=self.latent_dim,
                              soften=ImageSoftener(codec, tau=self.tau), classifier=classifier,
                              feature_mask=feature_mask, condition_blocks=condition_blocks(codec),
                              aux_weight=self.aux_weight)

"""DP-VAE for medical images (conditional on the label and the sensitive groups).

The image codec gives the row encoding ([attributes one-hot | pixels H·W·C in [-1, 1]])
and the loss; the image backbones give a convolutional encoder and decoder (GroupNorm
without affine parameters, no BatchNorm); the VAE family (the same `ConditionalVAE` as
for tabular rows and series windows) gives the ELBO; the shared pipeline gives DP-SGD with
the subject (or the image) as the privacy unit. What is left here is wiring and defaults.
"""

from __future__ import annotations

from torch import nn

from dpsynth.images.codec import ImageCodec
from dpsynth.families.vae import ConditionalVAE, ConvVAEParams, vae_params
from dpsynth.image_backbones import ImageDecoder, ImageEncoder
from dpsynth.images.generator import ImageGenerator
from dpsynth.registry import register


@register("dp-image-vae", family="vae", modality="image",
          description="Conditional convolutional VAE for images (GroupNorm, no BatchNorm) trained with DP-SGD; "
                      "the subject (or the image) is the privacy unit")
class DPImageVAE(ImageGenerator):
    """Conditional convolutional VAE for images (GroupNorm), trained with DP-SGD.

    The latent is small (4) so that the class is carried by the condition, not by z, under
    DP noise. Parameters: ``dpsynth generators --params dp-image-vae``; measurements:
    docs/benchmarks.md.
    """

    family_params = ConvVAEParams
    param_defaults = {"latent_dim": 4}

    def _build_module(self, codec: ImageCodec) -> nn.Module:
        shape = codec.backbone_shape()
        encoder = ImageEncoder(**shape, extra_width=codec.condition_width, out_dim=2 * self.latent_dim,
                               conv_channels=self.conv_channels, hidden=self.hidden)
        decoder = ImageDecoder(**shape, in_dim=self.latent_dim + codec.condition_width,
                               conv_channels=self.conv_channels[::-1], hidden=self.hidden)
        return ConditionalVAE(encoder, decoder, reconstruction_loss=codec.row_loss, **vae_params(self))

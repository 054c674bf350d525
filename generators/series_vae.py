"""DP-VAE for physiological series (conditional on the label and the sensitive groups).

The series codec gives the row encoding (static record + one window) and the loss; the
series backbones give a temporal-convolution encoder and decoder; the VAE family (the same
`ConditionalVAE` as for tabular rows) gives the ELBO; the shared pipeline gives DP-SGD
with the subject as the privacy unit. What is left here is the wiring and the defaults.
"""

from __future__ import annotations

from torch import nn

from dpsynth.backbones import SeriesDecoder, SeriesEncoder
from dpsynth.series.codec import SeriesCodec
from dpsynth.families.vae import ConditionalVAE, ConvVAEParams, vae_params
from dpsynth.registry import register
from dpsynth.series.generator import SeriesGenerator


@register("dp-series-vae", family="vae", modality="series",
          description="Conditional VAE for multichannel series (temporal convolutions) trained with DP-SGD; "
                      "the subject is the privacy unit")
class DPSeriesVAE(SeriesGenerator):
    """Conditional convolutional VAE for series windows, trained with DP-SGD.

    Family parameters: ``latent_dim`` (32), ``beta`` (1.0), ``conv_channels`` (32, 64)
    (the encoder's; the decoder mirrors them). Shared parameters as for every generator
    (`TrainingSettings`, ``hidden``, ``n_bins`` for the static columns, ``sigma``).
    """

    family_params = ConvVAEParams

    def _build_module(self, codec: SeriesCodec) -> nn.Module:
        shape = dict(static_width=codec.static_width, window=codec.window, channels=codec.n_channels)
        encoder = SeriesEncoder(**shape, extra_width=codec.condition_width, out_dim=2 * self.latent_dim,
                                conv_channels=self.conv_channels, hidden=self.hidden)
        decoder = SeriesDecoder(**(shape | {"channels": codec.output_channels}),  # values and observation scores
                                in_dim=self.latent_dim + codec.condition_width,
                                conv_channels=self.conv_channels[::-1], hidden=self.hidden)
        return ConditionalVAE(encoder, decoder, reconstruction_loss=codec.row_loss, **vae_params(self))

"""DP-GAN for physiological series (conditional on the label and the sensitive groups).

The series codec gives the row layouts: real rows come in the input layout [static
one-hot | values L×C (0 where missing) | observed mask L×C], the generator writes the
output layout [static logits | L × 2C: values and observation scores]. This file gives the
networks — a `SeriesDecoder` generator (tanh on values and scores), `SeriesEncoder`
discriminator and auxiliary condition classifier — and the three maps between the layouts:

- the generator's soft output (`SeriesSoftener`): Gumbel-softmax on the static blocks
  (`BlockSoftener` of dp-gan on the static codec), the values as they are, and a mask:
  a relaxed Bernoulli draw from the scores on the channels the schema marks ``missing``,
  all ones on the others;
- D's view of a real row (`SeriesRealView`): its missing samples take the paired fake's
  values (D cannot spot real windows by zero-filled gaps); its mask is the real one on
  ``missing`` channels (D compares observation patterns) and all ones elsewhere;
- what the classifier may see (`series_feature_mask`): everything but the static columns
  the conditions are made of (target, sensitive attributes); the signal stays visible.

The GAN family gives the training loop (only the discriminator and its classifier are
private; the subject is the privacy unit); the DP condition sampler and the loop's wiring
are dp-gan's own methods, shared, not copied.
"""

from __future__ import annotations

import torch
from torch import nn

from dpsynth.backbones import SeriesDecoder, SeriesEncoder
from dpsynth.series.codec import SeriesCodec
from dpsynth.families.gan import ConditionalGAN, ConvGANParams, GANTraining
from dpsynth.families.gan_parts import BlockSoftener, TanhValues, condition_blocks, condition_free_mask
from dpsynth.registry import register
from dpsynth.series.generator import SeriesGenerator


class SeriesSoftener:
    """Generator output [static logits | L × 2C (values, observation scores in [-1, 1])] -> a
    soft row in the input layout: [Gumbel-softmax static (dp-gan's `BlockSoftener`) | values |
    mask]. A ``missing`` channel's mask is a relaxed Bernoulli draw (temperature ``tau``) with
    P(observed) = (score + 1) / 2; the other channels' mask is all ones."""

    def __init__(self, codec: SeriesCodec, *, tau: float):
        self.static = BlockSoftener(codec.static_codec, tau=tau)
        self.codec, self.tau = codec, tau
        self.missing = codec.missing_samples

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        static, values, scores = self.codec.split_output(output)
        probability = ((scores + 1) / 2).clamp(1e-4, 1 - 1e-4)
        uniform = torch.rand_like(probability).clamp(1e-6, 1 - 1e-6)
        logistic = uniform.log() - (-uniform).log1p()
        relaxed = torch.sigmoid((probability.log() - (-probability).log1p() + logistic) / self.tau)
        mask = torch.where(self.missing.to(output.device), relaxed, torch.ones_like(relaxed))
        return torch.cat([self.static(static), values, mask], dim=-1)


class SeriesRealView:
    """A real row and its paired fake (both in the input layout) -> the real row as D sees it:
    observed samples kept, missing ones replaced by the fake's values; the mask is the real
    one on ``missing`` channels (the fake has its own, `SeriesSoftener`), all ones elsewhere
    (a channel without ``missing`` has only padding gaps, which fakes do not make)."""

    def __init__(self, codec: SeriesCodec):
        self.static_width, self.signal_width = codec.static_width, codec.signal_width
        self.missing = codec.missing_samples

    def __call__(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        s, w = self.static_width, self.signal_width
        observed = real[..., s + w:s + 2 * w]
        values = observed * real[..., s:s + w] + (1 - observed) * fake[..., s:s + w]
        mask = torch.where(self.missing.to(real.device), observed, torch.ones_like(observed))
        return torch.cat([real[..., :s], values, mask], dim=-1)


def series_feature_mask(codec: SeriesCodec) -> torch.Tensor:
    """1 for the input-layout slots the auxiliary classifier may see: the static blocks of
    non-condition columns (dp-gan's `condition_free_mask`) and the whole signal and mask."""
    return torch.cat([condition_free_mask(codec.static_codec), torch.ones(2 * codec.signal_width)])


@register("dp-series-gan", family="gan", modality="series",
          description="Conditional convolutional GAN for multichannel series; only the discriminator (and its "
                      "auxiliary classifier) is trained with DP-SGD; the subject is the privacy unit")
class DPSeriesGAN(GANTraining, SeriesGenerator):
    """Conditional convolutional GAN for series windows; only the discriminator sees private data.

    The discriminator is small (~20k parameters) because DP noise reaches every private
    parameter; generator lr 2e-4 against discriminator lr 5e-3 avoids saturation; no
    auxiliary classifier by default. Adam(betas=(0.5, 0.9)) for both networks. Parameters:
    ``dpsynth generators --params dp-series-gan``; measurements: docs/benchmarks.md.

    Privacy: each private step is one Poisson-sampled batch of subjects; a subject's real
    windows and the fakes attached to them go through D in one call, so each subject gives
    one clipped gradient. Every input the generator sees is public or DP: latent noise,
    conditions drawn from the DP condition table (also for the fakes shown to D) and the
    DP-trained discriminator's weights.
    """

    family_params = ConvGANParams
    param_defaults = {"conv_channels": (8, 16, 16, 16)}

    def _build_module(self, codec: SeriesCodec) -> nn.Module:
        shape = dict(static_width=codec.static_width, window=codec.window, channels=codec.n_channels)
        generator = TanhValues(SeriesDecoder(**(shape | {"channels": codec.output_channels}),  # + scores
                                             in_dim=self.latent_dim + codec.condition_width,
                                             conv_channels=self.conv_channels[::-1], hidden=self.hidden))
        discriminator = SeriesEncoder(**shape, extra_width=codec.condition_width, out_dim=1,
                                      conv_channels=self.conv_channels, hidden=self.disc_hidden)
        classifier = None
        if self.aux_weight:
            classifier = SeriesEncoder(**shape, extra_width=0, out_dim=codec.condition_width,
                                       conv_channels=self.conv_channels, hidden=self.disc_hidden)
        return ConditionalGAN(generator, discriminator, latent_dim=self.latent_dim,
                              soften=SeriesSoftener(codec, tau=self.tau), classifier=classifier,
                              feature_mask=series_feature_mask(codec), condition_blocks=condition_blocks(codec),
                              aux_weight=self.aux_weight, real_view=SeriesRealView(codec))

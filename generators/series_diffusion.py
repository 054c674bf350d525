"""DP diffusion for physiological series (conditional on the label and the sensitive groups).

The series codec gives the row layouts and the loss: an input row is [static one-hot |
values L×C in [-1, 1] (0 where missing) | observed mask L×C], a model output [static
logits | L × 2C: values and observation scores per time step], and ``row_loss`` scores an
output against an input row (static cross-entropy + Gaussian NLL of the *observed* values
+ the scores' squared error against ±1). The diffusion family (the same `OneHotDiffusion`
as for tabular rows) diffuses x0 = [2·static − 1 | values and 2·observed − 1] (`SeriesX0`):
the static blocks with their exact likelihood term, the signal and its observation pattern
as a continuous tail whose x0 the network predicts (for a score, that prediction is
2·P(observed) − 1); its DDIM sampler returns the output layout, which the codec decodes. The `SeriesDenoiser` backbone (a small 1-D U-Net of temporal convolutions) is the
denoiser body; the shared pipeline gives DP-SGD with the subject as the privacy unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dpsynth.backbones import SeriesDenoiser
from dpsynth.series.codec import SeriesCodec
from dpsynth.families.diffusion import (
    Denoiser,
    OneHotDiffusion,
    UNetDiffusionParams,
    process_params,
)
from dpsynth.params import param, whole
from dpsynth.registry import register
from dpsynth.series.generator import SeriesGenerator


class SeriesX0:
    """An input row [static one-hot | values | observed mask] -> x0 [2·static − 1 | L × 2C]:
    at each time step the C values, then the C observation scores 2·observed − 1, the layout
    of the codec's output, so the model's x0 prediction is what the codec decodes."""

    def __init__(self, codec: SeriesCodec):
        self.codec = codec

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        s, w = self.codec.static_width, self.codec.signal_width
        signal = self.codec.join_signal(x[..., s:s + w], 2 * x[..., s + w:s + 2 * w] - 1)
        return torch.cat([2 * x[..., :s] - 1, signal], dim=-1)


@dataclass
class SeriesDiffusionParams(UNetDiffusionParams):
    """`UNetDiffusionParams` and the temporal kernels of the 1-D U-Net (`SeriesDenoiser`)."""

    kernel: int = param(3, "the U-Net's temporal kernel (odd: same-length convolutions)", whole(1, odd=True))
    mid_kernel: int = param(9, "the middle block's temporal kernel, at a quarter of the length", whole(1, odd=True))


@register("dp-series-diffusion", family="diffusion", modality="series",
          description="Conditional diffusion for multichannel series (1-D U-Net denoiser, x0 prediction; static "
                      "record as one-hot blocks) trained with DP-SGD; the subject is the privacy unit")
class DPSeriesDiffusion(SeriesGenerator):
    """Conditional diffusion for series windows (1-D U-Net, x0 prediction), trained with DP-SGD.

    The subject is the privacy unit. Small by default because DP noise grows with parameter
    count; the middle block's kernel (9, at a quarter of the length) gives a receptive field
    of about 80 samples, one heart beat at 100 Hz. ``signal_scale`` (0.1) is a public prior
    on the signals' typical magnitude in the codec's [-1, 1] units: signals diffused at
    their raw scale drown in the noise (1 = raw scale). Parameters: ``dpsynth generators
    --params dp-series-diffusion``; measurements: docs/benchmarks.md.
    """

    family_params = SeriesDiffusionParams
    param_defaults = {"multiplicity": 1, "base_channels": 16, "signal_scale": 0.1, "hidden": (64,)}

    def _build_module(self, codec: SeriesCodec) -> nn.Module:
        body = SeriesDenoiser(static_width=codec.static_width, window=codec.window, channels=codec.output_channels,
                              extra_width=codec.condition_width + self.time_dim, base=self.base_channels,
                              kernel=self.kernel, mid_kernel=self.mid_kernel, hidden=self.hidden)
        return OneHotDiffusion(Denoiser(body, time_dim=self.time_dim),
                               blocks=[(b.start, b.stop) for b in codec.static_codec.blocks],
                               continuous_width=2 * codec.signal_width,
                               to_x0=SeriesX0(codec),
                               continuous_scale=self.signal_scale,
                               reconstruction_loss=codec.row_loss, **process_params(self))

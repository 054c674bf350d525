"""DP diffusion for physiological series (conditional on the label and the sensitive groups).

The series codec gives the row layouts and the loss: an input row is [static one-hot |
values L×C in [-1, 1] (0 where missing) | observed mask L×C], a model output [static
logits | values L×C], and ``row_loss`` scores an output against an input row (static
cross-entropy + Gaussian NLL of the *observed* values only). The diffusion family (the
same `OneHotDiffusion` as for tabular rows) diffuses x0 = [2·static − 1 | values]: the
static blocks with their exact likelihood term, the values as a continuous tail whose x0
the network predicts; its DDIM sampler returns [static logits | values], which the codec
decodes. The `SeriesDenoiser` backbone (a small 1-D U-Net of temporal convolutions) is the
denoiser body; the shared pipeline gives DP-SGD with the subject as the privacy unit.
"""

from __future__ import annotations

from torch import nn

from dpsynth.backbones import SeriesDenoiser
from dpsynth.codecs.series import SeriesCodec
from dpsynth.families.diffusion import DIFFUSION_DEFAULTS, BlocksThenTailX0, Denoiser, OneHotDiffusion, process_params
from dpsynth.registry import register
from dpsynth.series.generator import SeriesGenerator


@register("dp-series-diffusion", family="diffusion", modality="series",
          description="Conditional diffusion for multichannel series (1-D U-Net denoiser, x0 prediction; static "
                      "record as one-hot blocks) trained with DP-SGD; the subject is the privacy unit")
class DPSeriesDiffusion(SeriesGenerator):
    """Conditional diffusion model for series windows, trained with DP-SGD.

    Family parameters (defaults fixed a priori): ``timesteps`` (1000, cosine schedule),
    ``sampling_steps`` (50 deterministic DDIM steps), ``multiplicity`` (1: K draws of
    (t, noise) per window, averaged inside the subject's loss so the subject still gives
    one clipped gradient; 1 because a subject already brings several windows, each with
    its own draw, and every draw costs a full U-Net pass), ``time_dim`` (64, the timestep
    embedding), ``base_channels`` (16: the U-Net's channels at full length, 32 below),
    ``kernel`` (3) and ``mid_kernel`` (9, the middle block's, at a quarter of the length:
    a receptive field of about 80 samples, 0.8 s at 100 Hz, about one heart beat),
    ``condition_dropout`` (0.1, share of draws trained with the null condition),
    ``guidance`` (2.0, classifier-free guidance weight at sampling: post-processing), as
    for dp-diffusion, and ``signal_scale`` (0.1: the values, in the codec's [-1, 1] units,
    are diffused divided by it).

    ``signal_scale`` is a public prior, not a statistic of the data: public channel bounds
    are wide (they must hold every value), so a signal spans a small part of them — the
    simulated ECG cohort's leads have a standard deviation of about 0.04 in [-1, 1] units
    (bounds ±5 mV) — and diffused as they are they drown in the noise at nearly every
    timestep. In development runs on that cohort's train split (1,000 subjects, ε = 10,
    one seed, never a holdout) the model then learned little more than the mean (loss 48,
    synthetic lead II standard deviation 0.007 mV against 0.19 mV real), and with 0.1 it
    learned (loss 30 after a third of the epochs, standard deviation 0.15 mV). Set it to
    the typical magnitude of your signals in [-1, 1] units; 1 diffuses them as they are.

    Size: a development run on an inner split of the cohort's train part (735 fit / 315
    validation subjects, ε = 10, 60 epochs, one seed) gave the same training loss (30.1
    against 30.5) with ``base_channels`` 16 and ``hidden`` (64,) (72k parameters) as
    with 32 and (256, 256) (450k) in 158 s instead of 380 s; DP noise grows with the
    number of parameters, so the smaller network is the default.

    Shared parameters as for every series generator (`TrainingSettings`: 30 epochs, lr
    5e-3, clip 1.0, PRV, ghost clipping; ``hidden`` — here (64,) — for the denoiser's
    embedding and static-head MLPs; ``n_bins`` 16 for the static columns; ``sigma`` 0.1,
    the codec's noise scale of the value loss; ``batch_size`` 256 subjects and
    ``rows_per_step`` 2 windows per subject and step, see `SeriesGenerator`: the U-Net's
    activations take about 1 MB per window, so all 12 windows of 512 subjects needed
    several GB).
    """

    family_defaults = DIFFUSION_DEFAULTS | {"multiplicity": 1, "base_channels": 16, "kernel": 3, "mid_kernel": 9,
                                          "signal_scale": 0.1}
    default_hidden = (64,)

    def _build_module(self, codec: SeriesCodec) -> nn.Module:
        body = SeriesDenoiser(static_width=codec.static_width, window=codec.window, channels=codec.n_channels,
                              extra_width=codec.condition_width + self.time_dim, base=self.base_channels,
                              kernel=self.kernel, mid_kernel=self.mid_kernel, hidden=self.hidden)
        return OneHotDiffusion(Denoiser(body, time_dim=self.time_dim),
                               blocks=[(b.start, b.stop) for b in codec.static_codec.blocks],
                               continuous_width=codec.signal_width,
                               to_x0=BlocksThenTailX0(codec.static_width, codec.signal_width),
                               continuous_scale=self.signal_scale,
                               reconstruction_loss=codec.row_loss, **process_params(self))

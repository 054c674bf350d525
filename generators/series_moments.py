"""DP moments for physiological series: per class, the mean and covariance of each window's
public DCT coefficients along time, measured with Gaussian noise (zCDP, OpenDP), no network.

The moments family (`dpsynth.families.moments`) does the measuring and sampling; the series
codec gives the row layout (static record, values in [-1, 1], observation flags); the
public basis is `dpsynth.series.basis.dct_series_basis`. Each class gets its own variances
by default (``covariance="diagonal"``): a label carried by a rhythm at a random phase (a
heart rate) lives in the spectrum, which a covariance shared by the classes would pool away,
and a window's DCT coefficients are close to uncorrelated, so the variances alone keep it
with far less noise than a full matrix per class.
"""

from __future__ import annotations

import numpy as np

from dpsynth.families.moments import MomentsFamily, MomentsLayout
from dpsynth.registry import register
from dpsynth.series.basis import dct_series_basis
from dpsynth.series.codec import SeriesCodec
from dpsynth.series.generator import SeriesGenerator


@register("dp-series-moments", family="moments", modality="series",
          description="Per class, the mean and variances of public DCT coefficients of the windows (a noisy "
                      "spectrum; Gaussian, zCDP, OpenDP), no network; the subject is the privacy unit")
class DPSeriesMoments(MomentsFamily, SeriesGenerator):
    """Windows drawn from a Gaussian per class in a public DCT basis along time (no DP-SGD).

    ``components`` (128 here), ``clip_quantile`` and ``covariance`` (``diagonal`` here) are the
    family's parameters; the DP-SGD settings do not apply. A subject's windows share its weight in
    every sum. A channel with missing samples has its observation flags modelled as one more
    signal, drawn at sampling as the other generators' observation scores are. The sensitive
    groups share their class's distribution. Measurements: docs/benchmarks.md.
    """

    param_defaults = {"covariance": "diagonal", "components": 128}  # chosen on inner splits: docs/benchmarks.md

    def _moments_layout(self, codec: SeriesCodec) -> MomentsLayout:
        blocks = [b for b in codec.static_codec.blocks if b.role != "fine"]
        target = next(i for i, b in enumerate(blocks) if b.column == codec.schema.static.target)
        window, channels, start = codec.window, codec.n_channels, codec.static_width
        flagged = np.flatnonzero(codec.missing)
        time = np.repeat(np.arange(window), [channels])
        channel = np.tile(np.arange(channels), window)
        flag_time = np.repeat(np.arange(window), len(flagged))
        flag_channel = np.tile(flagged, window)
        # position by position in the basis's layout: values [L·C], then flags [L·M], time-major
        inputs = np.concatenate([start + time * channels + channel,
                                 start + window * channels + flag_time * channels + flag_channel])
        outputs = np.concatenate([start + time * 2 * channels + channel,
                                  start + flag_time * 2 * channels + channels + flag_channel])
        floor = np.concatenate([np.full(len(time), -1.0), np.zeros(len(flag_time))])
        return MomentsLayout(blocks=[slice(b.start, b.stop) for b in blocks], target=target, attributes=start,
                             values=inputs, floor=floor, output=outputs,
                             basis=dct_series_basis(window, channels, flagged.tolist(), self.components))

"""DP moments for physiological series: per class, the mean and variances (or covariance) of
each window's public DCT coefficients along time, measured with Gaussian noise (zCDP,
OpenDP), no network.

The moments family (`dpsynth.families.moments`) does the measuring and sampling; the series
codec gives the row layout (`SeriesCodec.sample_columns`: values in [-1, 1], observation flags); the
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
        inputs, floor, outputs = codec.sample_columns()  # the basis's layout, position by position
        flagged = np.flatnonzero(codec.missing).tolist()
        return MomentsLayout(blocks=[slice(b.start, b.stop) for b in blocks], target=target,
                             attributes=codec.static_width, values=inputs, floor=floor, output=outputs,
                             basis=dct_series_basis(codec.window, codec.n_channels, flagged, self.components))

"""DP moments for medical images: class means and covariances (one per class when every class
is large enough for the budget, else one shared: ``covariance="auto"``) of public DCT
coefficients, measured with Gaussian noise (zCDP, OpenDP), no network.

The moments family (`dpsynth.families.moments`) does the measuring and sampling; the image
codec gives the row layout ([attribute one-hots | pixels in [-1, 1]]); the public basis is
`dpsynth.images.basis.dct_basis` (`ImageCodec.moments_layout`). What is left here is
refusing public pretraining, which has no network to act on.
"""

from __future__ import annotations

from dpsynth.errors import ParameterError
from dpsynth.families.moments import MomentsFamily, MomentsLayout
from dpsynth.images.codec import ImageCodec
from dpsynth.images.generator import ImageGenerator
from dpsynth.privacy.marginals import MarginalPlan
from dpsynth.registry import register

NO_PRETRAINING = ("dp-image-moments trains no network, so public pretraining does not apply "
                  "(pretrain_images={count}, pretrain_source={source!r}): leave both unset")


@register("dp-image-moments", family="moments", modality="image",
          description="Class means and covariances of public DCT coefficients (Gaussian, zCDP, OpenDP), "
                      "no network: varied images from small cohorts")
class DPImageMoments(MomentsFamily, ImageGenerator):
    """Images drawn from a Gaussian per class in a public DCT basis (no DP-SGD).

    ``components``, ``clip_quantile`` and ``covariance`` (``auto``: per class when the classes are
    large enough for the budget) are the family's parameters; the DP-SGD settings (``epochs``,
    ``batch_size``, ``lr``, ...) do not apply. The sensitive groups share their class's image
    distribution. Measurements: docs/benchmarks.md.
    """

    def _moments_layout(self, codec: ImageCodec) -> MomentsLayout:
        return codec.moments_layout(self.components)

    def _plan_training(self, *, n_units: int, epsilon: float, delta: float) -> MarginalPlan:
        if self.pretrain_images or self.pretrain_source is not None:
            raise ParameterError(NO_PRETRAINING.format(count=self.pretrain_images, source=self.pretrain_source))
        return super()._plan_training(n_units=n_units, epsilon=epsilon, delta=delta)

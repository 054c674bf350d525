"""The generative models, installed as ``dpsynth.generators``; importing registers them.

The DP generators first, then the NOT PRIVATE SDV references (ε = ∞, for comparison only;
registered last so that listings show the DP generators first; SDV itself is imported
only when a reference is fitted).
"""

from dpsynth.generators.tabular_diffusion import DPTabularDiffusion
from dpsynth.generators.tabular_gan import DPTabularGAN
from dpsynth.generators.tabular_vae import DPTabularVAE
from dpsynth.generators.tabular_marginal import DPTabularMarginal
from dpsynth.generators.series_vae import DPSeriesVAE
from dpsynth.generators.series_gan import DPSeriesGAN
from dpsynth.generators.series_diffusion import DPSeriesDiffusion
from dpsynth.generators.series_moments import DPSeriesMoments
from dpsynth.generators.image_vae import DPImageVAE
from dpsynth.generators.image_gan import DPImageGAN
from dpsynth.generators.image_diffusion import DPImageDiffusion
from dpsynth.generators.image_moments import DPImageMoments
from dpsynth.generators.sdv_reference import SDVCTGAN, SDVTVAE, SDVGaussianCopula  # last: see above

__all__ = ["DPImageDiffusion", "DPImageGAN", "DPImageMoments", "DPImageVAE", "DPSeriesDiffusion", "DPSeriesGAN",
           "DPSeriesMoments", "DPSeriesVAE", "DPTabularDiffusion", "DPTabularGAN", "DPTabularMarginal",
           "DPTabularVAE", "SDVCTGAN", "SDVGaussianCopula", "SDVTVAE"]

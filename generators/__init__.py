"""The DP generative models, installed as ``dpsynth.generators``; importing registers them."""

from dpsynth.generators.tabular_diffusion import DPTabularDiffusion
from dpsynth.generators.tabular_gan import DPTabularGAN
from dpsynth.generators.tabular_vae import DPTabularVAE

__all__ = ["DPTabularDiffusion", "DPTabularGAN", "DPTabularVAE"]

"""The DP generative models, installed as ``dpsynth.generators``; importing registers them."""

from dpsynth.generators.tabular_vae import DPTabularVAE

__all__ = ["DPTabularVAE"]

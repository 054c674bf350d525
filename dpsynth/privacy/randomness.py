"""Secret randomness for every draw that touches private data (docs/privacy.md, rule 9).

A DP guarantee holds only while the mechanism's noise is unknown to the attacker. So the
draws made while private data is read — DP-SGD's Gaussian noise and Poisson sampling,
the subsample of a unit's rows, the random parts of a family's training loss (latent
draws, diffusion time steps and noise, a GAN's fakes), and the noise of our own
mechanisms (OpenDP's samplers, `dpsynth.privacy.mechanisms`) — come from OS entropy at
fit time. They are never stored, printed or derived from the user's seed.

The user's seed drives only what is public: the initial weights (`public_torch_rng`)
and sampling from the trained model. Torch's generators are seeded with 64 bits from
``secrets`` (the OS CSPRNG); a 2^64 search, each guess a full training run, is out of
reach. opacus' ``secure_mode`` (a CSPRNG for every draw and noise hardened against
floating-point attacks) needs torchcsprng, which has no build for this torch.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

SEED_BITS = 64


def os_entropy_seed(bits: int = SEED_BITS) -> int:
    """A fresh seed of ``bits`` bits from the OS CSPRNG; never store or print it."""
    return secrets.randbits(bits)


def secret_torch_generator(device: torch.device | str = "cpu") -> torch.Generator:
    """A torch generator on ``device`` seeded from OS entropy (opacus' noise and sampling)."""
    return torch.Generator(device=device).manual_seed(os_entropy_seed())


def secret_numpy_generator() -> np.random.Generator:
    """A numpy generator seeded with 128 bits of OS entropy."""
    return np.random.default_rng(os_entropy_seed(128))


def _forked_devices(device: torch.device) -> list[torch.device]:
    return [device] if device.type == "cuda" else []


@contextmanager
def secret_torch_rng(device: torch.device) -> Iterator[None]:
    """Inside: torch's global generators (CPU and ``device``) seeded from OS entropy, so code
    that draws from them while training (a loss's noise, `keep_rows`) is not reproducible
    from any seed. Afterwards the caller's generator state is restored untouched."""
    with torch.random.fork_rng(devices=_forked_devices(device)):
        torch.manual_seed(os_entropy_seed())
        yield


@contextmanager
def public_torch_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Inside: torch's global generators seeded with the user's public ``seed`` (weight
    initialisation); afterwards the caller's generator state is restored untouched."""
    with torch.random.fork_rng(devices=_forked_devices(device)):
        torch.manual_seed(seed)
        yield

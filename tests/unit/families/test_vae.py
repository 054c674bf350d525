"""The VAE family: the sampling temperature scales the prior's draws and nothing else."""

import re

import pytest
import torch
from torch import nn

from dpsynth.families.vae import BAD_TEMPERATURE, ConditionalVAE


def vae(temperature=1.0):
    torch.manual_seed(0)
    return ConditionalVAE(nn.Linear(4, 4), nn.Linear(3, 3), latent_dim=2,
                          reconstruction_loss=lambda out, x: (out - x).pow(2).sum(-1), temperature=temperature)


def test_temperature_scales_the_prior_draws_at_sampling():
    c = torch.eye(1).repeat(6, 1)  # 6 rows, a 1-wide condition
    cold, plain = vae(0.5), vae(1.0)
    z = torch.randn(6, 2, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(plain.generate(c, generator=torch.Generator().manual_seed(3)),
                               plain.decoder(torch.cat([z, c], -1)))
    torch.testing.assert_close(cold.generate(c, generator=torch.Generator().manual_seed(3)),
                               cold.decoder(torch.cat([0.5 * z, c], -1)))


def test_temperature_leaves_the_training_loss_alone():
    x, c, mask = torch.randn(4, 2, 3), torch.ones(4, 2, 1), torch.ones(4, 2)
    torch.manual_seed(1)
    cold = vae(0.1)(x, c, mask)
    torch.manual_seed(1)
    torch.testing.assert_close(vae(1.0)(x, c, mask), cold)


@pytest.mark.parametrize("value", [0, -1.0, float("inf"), float("nan"), "0.7", True])
def test_a_bad_temperature_is_refused(value):
    with pytest.raises(ValueError, match=re.escape(BAD_TEMPERATURE.format(value=value))):
        vae(value)

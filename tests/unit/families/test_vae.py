"""The VAE family: the sampling temperature scales the prior's draws and nothing else; the
latent multiplicity averages K draws inside each unit's loss."""

import re

import pytest
import torch
from torch import nn

from dpsynth.families.vae import BAD_MULTIPLICITY, BAD_TEMPERATURE, ConditionalVAE


def squared_error(out, x):
    return (out - x).pow(2).sum(-1)


def vae(temperature=1.0, multiplicity=1):
    torch.manual_seed(0)
    return ConditionalVAE(nn.Linear(4, 4), nn.Linear(3, 3), latent_dim=2, reconstruction_loss=squared_error,
                          temperature=temperature, multiplicity=multiplicity)


def negative_elbo_by_hand(model, x, c, mask, k):
    """The per-unit loss written out: K reparameterised draws per row laid out as [B, R·K],
    reconstruction averaged over the K draws, plus the row's KL, then the mean over present rows."""
    stats = model.encoder(torch.cat([x, c], -1))
    mu, logvar = stats[..., :2], stats[..., 2:].clamp(-10.0, 10.0)
    eps = torch.randn(x.shape[0], x.shape[1] * k, 2)
    z = mu.repeat_interleave(k, 1) + eps * torch.exp(0.5 * logvar).repeat_interleave(k, 1)
    out = model.decoder(torch.cat([z, c.repeat_interleave(k, 1)], -1))
    reconstruction = squared_error(out, x.repeat_interleave(k, 1)).reshape(*mask.shape, k).mean(-1)
    kl = -0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
    return ((reconstruction + kl) * mask).sum(-1) / mask.sum(-1)


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


@pytest.mark.parametrize("k", [1, 3])
def test_the_loss_averages_k_latent_draws_inside_each_unit(k):
    x, c = torch.randn(5, 2, 3), torch.ones(5, 2, 1)
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 1.0]])
    model = vae(multiplicity=k)
    torch.manual_seed(7)
    loss = model(x, c, mask)
    torch.manual_seed(7)
    expected = negative_elbo_by_hand(model, x, c, mask, k)
    assert loss.shape == (5,)  # one loss, so one clipped gradient, per unit whatever K is
    torch.testing.assert_close(loss, expected)


def test_more_latent_draws_lower_the_variance_of_the_loss():
    x, c, mask = torch.randn(1, 1, 3), torch.ones(1, 1, 1), torch.ones(1, 1)

    def spread(k):
        model = vae(multiplicity=k)
        return torch.stack([model(x, c, mask) for _ in range(400)]).std()

    assert spread(16) < 0.5 * spread(1)


def test_a_units_loss_does_not_depend_on_the_other_units():
    x, c, mask = torch.randn(4, 2, 3), torch.ones(4, 2, 1), torch.ones(4, 2)
    model = vae(multiplicity=3)
    torch.manual_seed(2)
    full = model(x, c, mask)
    changed = x.clone()
    changed[0] += 5.0
    torch.manual_seed(2)
    torch.testing.assert_close(model(changed, c, mask)[1:], full[1:])


@pytest.mark.parametrize("value", [0, -2, 1.5, "4", True])
def test_a_bad_multiplicity_is_refused(value):
    with pytest.raises(ValueError, match=re.escape(BAD_MULTIPLICITY.format(value=value))):
        vae(multiplicity=value)

"""The DP-GAN family's training loop: what the non-private generator step may read."""

import torch

from dpsynth import registry
from dpsynth.families import gan
from dpsynth.privacy.budget import PrivacyBudget
from tests.conftest import make_toy_frame, make_toy_schema

TINY_GAN = dict(epochs=2, batch_size=64, hidden=(16,), latent_dim=4, n_bins=8)


def test_the_generator_only_ever_sees_conditions_drawn_from_the_dp_table(monkeypatch):
    """The generator trains without DP, so nothing it reads may come from a real batch: every
    condition it is fed (for the discriminator's fakes and for its own step) is a draw of the
    DP condition sampler, never the real rows' conditions."""
    sampled, fed = [], []
    original_sampler = gan.GANTraining._condition_sampler
    original_init = gan.ConditionalGAN.__init__

    def recording_sampler(self):
        sample = original_sampler(self)

        def record(n):
            out = sample(n)
            sampled.append(out.clone())
            return out
        return record

    def init_with_hook(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.generator.register_forward_pre_hook(lambda module, inputs: fed.append(inputs[0].detach().clone()))

    monkeypatch.setattr(gan.GANTraining, "_condition_sampler", recording_sampler)
    monkeypatch.setattr(gan.ConditionalGAN, "__init__", init_with_hook)
    model = registry.create("dp-gan", make_toy_schema(), **TINY_GAN)
    model.fit(make_toy_frame(), budget=PrivacyBudget(1.0, 1e-5), progress=False)
    width = model.codec_.condition_width
    assert fed and len(fed) == len(sampled)
    for given in fed:
        conditions = given[..., -width:].reshape(-1, width)
        assert any(conditions.shape == s.shape and torch.equal(conditions, s) for s in sampled)

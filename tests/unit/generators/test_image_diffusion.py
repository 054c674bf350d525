"""dp-image-diffusion anchored on measured moments (``anchor_share``), against the privacy contract;
the unanchored model's contract is the conformance suite's (tests/conformance/test_image_generators.py)."""

import numpy as np
import pytest
import torch

from dpsynth import registry
from dpsynth.errors import ParameterError
from dpsynth.generator import DPGenerator
from dpsynth.families.moment_anchor import MOMENT_ANCHOR_LABEL
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.recheck import recheck_ledger
from tests.conftest import make_toy_image_schema, make_toy_images

TINY = dict(epochs=1, batch_size=16, hidden=(16,), n_bins=8, base_channels=4, anchor_share=0.5)
BUDGET = PrivacyBudget(2.0, 1e-5)


def fit_tiny(seed: int = 0, **params):
    model = registry.create("dp-image-diffusion", make_toy_image_schema(), **(TINY | params))
    return model.fit(make_toy_images(), budget=BUDGET, random_state=seed, progress=False)


@pytest.fixture(scope="module")
def fitted():
    return fit_tiny()


def test_the_anchors_measurements_and_dp_sgd_are_on_the_ledger_within_the_budget(fitted):
    """Rule 1: the moments the anchor measured, then DP-SGD, each its own entry, δ split evenly."""
    entries = fitted.ledger_.entries
    assert [e.mechanism for e in entries] == ["laplace-histogram", "marginal-measurements", "dp-sgd"]
    assert MOMENT_ANCHOR_LABEL in entries[1].purpose
    assert entries[1].delta == pytest.approx(entries[2].delta)
    eps, delta = fitted.privacy_spent()
    assert eps <= BUDGET.epsilon + 1e-9 and delta <= BUDGET.delta
    assert entries[1].epsilon == pytest.approx(0.5 * 0.95 * BUDGET.epsilon, rel=1e-3)  # its share after the counts
    assert recheck_ledger(fitted.ledger_) == []


def test_the_anchor_is_measured_and_starts_the_pixels(fitted):
    """The measured class means differ by class (the toy lesions are bright blobs)."""
    moments = fitted.module_.tail_anchor.moments
    assert torch.isfinite(moments.means).all() and moments.factor.abs().sum() > 0
    assert not torch.equal(moments.means[0], moments.means[1])


def test_same_seed_is_not_the_same_anchor_and_save_load_round_trip(fitted, tmp_path):
    """Rule 9: the anchor's noise is OS entropy, whatever the seed; a saved model samples as it did."""
    again = fit_tiny()
    assert not torch.equal(fitted.module_.tail_anchor.moments.means, again.module_.tail_anchor.moments.means)
    fitted.save(tmp_path / "model")
    loaded = DPGenerator.load(tmp_path / "model")
    assert loaded.anchor_share == 0.5
    a, b = fitted.sample(6, random_state=3), loaded.sample(6, random_state=3)
    assert np.array_equal(a.images, b.images)
    assert loaded.privacy_spent() == fitted.privacy_spent()


def test_anchor_and_public_pretraining_together_are_refused_before_any_read(monkeypatch):
    model = registry.create("dp-image-diffusion", make_toy_image_schema(), **(TINY | {"pretrain_images": 64}))
    monkeypatch.setattr(type(model), "_prepare", lambda *a, **k: pytest.fail("read the private data"))
    with pytest.raises(ParameterError, match="anchor_share=0.5 and public pretraining"):
        model.fit(make_toy_images(), budget=BUDGET, progress=False)

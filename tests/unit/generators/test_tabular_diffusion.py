"""The DP-diffusion generator: registry, ledger, card, DP-SGD wiring, determinism, bundle."""

import pandas as pd
import pytest
import torch

from dpsynth import registry
from dpsynth.families.diffusion import OneHotDiffusion
from dpsynth.tabular.generator import TabularGenerator
from dpsynth.privacy.budget import PrivacyBudget
from tests.conftest import make_toy_frame, make_toy_schema

BUDGET = PrivacyBudget(1.0, 1e-5)
TINY = dict(epochs=1, batch_size=64, hidden=(32,), n_bins=8, sampling_steps=10, time_dim=16)


def fit_tiny(seed=0, **params):
    model = registry.create("dp-diffusion", make_toy_schema(), **(TINY | params))
    return model.fit(make_toy_frame(), budget=BUDGET, random_state=seed, progress=False)


@pytest.fixture(scope="module")
def fitted():
    return fit_tiny()


def test_is_registered_with_family_and_modality():
    info = registry.get("dp-diffusion")
    assert (info.family, info.modality, info.private) == ("diffusion", "tabular", True)


def test_defaults_are_fixed_and_saved_with_the_bundle():
    params = registry.create("dp-diffusion", make_toy_schema()).get_params()
    assert params["timesteps"] == 1000 and params["sampling_steps"] == 50 and params["multiplicity"] == 4
    assert params["hidden"] == [256, 256] and params["epochs"] == 30 and params["batch_size"] == 512


def test_module_is_the_one_hot_diffusion_over_the_codec_blocks(fitted):
    module = fitted.module_
    assert isinstance(module, OneHotDiffusion)
    assert module.blocks == [(b.start, b.stop) for b in fitted.codec_.blocks]
    assert module.blocks[-1][1] == fitted.codec_.width


def test_samples_within_the_schema_and_missing_values_modelled(fitted):
    out = fitted.sample(300, random_state=1)
    schema = make_toy_schema()
    assert list(out.columns) == schema.names and len(out) == 300
    _, report = schema.conform(out)
    assert report.clipped == {}
    assert out["lab"].isna().any() and out["lab"].notna().any()


def test_ledger_holds_every_read_and_stays_within_budget(fitted):
    assert [e.mechanism for e in fitted.ledger_.entries] == ["laplace-histogram", "dp-sgd"]
    eps, delta = fitted.privacy_spent()
    assert eps <= BUDGET.epsilon + 1e-9 and delta <= BUDGET.delta


def test_same_seed_is_not_the_same_model_and_save_load_round_trip(fitted, tmp_path):
    """Rule 9: the seed is public, the training noise is not; a saved model samples as it did."""
    again = fit_tiny()
    assert not fitted.sample(200, random_state=3).equals(again.sample(200, random_state=3))
    fitted.save(tmp_path / "model")
    loaded = TabularGenerator.load(tmp_path / "model")
    assert (loaded.timesteps, loaded.sampling_steps, loaded.multiplicity) == (1000, 10, 4)
    pd.testing.assert_frame_equal(fitted.sample(200, random_state=3), loaded.sample(200, random_state=3))
    state = torch.load(tmp_path / "model" / "weights.pt", weights_only=True)
    assert "alpha_bar" not in state  # the schedule is a pure function of the config, not a weight


def test_conditions_are_honoured(fitted):
    out = fitted.sample(200, conditions={"sex": "female", "age_band": "70+"}, random_state=0)
    assert (out["sex"] == "female").all() and (out["age"] >= 70).all()


def test_declared_rules_hold_in_every_sampled_row():
    """The diffusion model denoises the codec's blocks only: derived columns are computed at
    decode and ranges restrict the draw, so every rule of the schema holds."""
    from tests.conftest import make_ruled_toy_frame, make_ruled_toy_schema

    schema = make_ruled_toy_schema()
    model = registry.create("dp-diffusion", schema, **TINY)
    model.fit(make_ruled_toy_frame(), budget=PrivacyBudget(1.0, 1e-5), random_state=0, progress=False)
    out = model.sample(300, random_state=1)
    for rule in schema.rules:
        assert rule.holds(out).all(), rule.label
    schema.conform(out)

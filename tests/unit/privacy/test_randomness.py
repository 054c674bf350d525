"""Rule 9: private randomness is secret — nothing in a release, the seed included, replays it.

The attacks here hold only what a data steward publishes (the model bundle with its
config and the privacy card) plus a guess of the private data, as in a membership test.
"""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from dpsynth import registry
from dpsynth.families import training
from dpsynth.tabular.generator import TabularGenerator
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.conditions import unit_weights
from dpsynth.privacy.randomness import public_torch_rng, secret_torch_generator, secret_torch_rng
from tests.conftest import make_toy_frame, make_toy_image_schema, make_toy_images, make_toy_schema

BUDGET = PrivacyBudget(2.0, 1e-5)
TINY = dict(epochs=1, batch_size=64, hidden=(16,), n_bins=8, latent_dim=4)
SEED = 7


def fit(frame=None, *, name="dp-vae", seed=SEED, **params):
    model = registry.create(name, make_toy_schema(), **(TINY | params))
    return model.fit(make_toy_frame() if frame is None else frame, budget=BUDGET, random_state=seed,
                     progress=False)


def released(model, path):
    """What a steward publishes: the bundle (config.json, weights.pt) and the card."""
    model.save(path)
    config = json.loads((path / "config.json").read_text())
    weights = torch.load(path / "weights.pt", weights_only=True)
    return config, weights, model.privacy_card().to_dict()


def exact_condition_counts(frame, schema, table):
    """The attacker's hypothesis: the private counts of every condition cell."""
    groups = schema.group_labels(schema.conform(frame)[0])
    names = [c for c in table.columns if not c.startswith("_")]
    weights = pd.Series(unit_weights(None, len(groups)), index=groups.index)
    exact = weights.groupby([groups[n].astype(str) for n in names]).sum()
    key = pd.MultiIndex.from_frame(table[names].astype(str))
    return exact.reindex(key, fill_value=0.0).to_numpy(float)


def test_rule_9_replaying_the_seed_recovers_no_private_count(tmp_path):
    """Subtracting Laplace draws from any guessable seed (the card's included) from the
    released noisy counts must not give back the exact private counts."""
    frame = make_toy_frame()
    config, _, card = released(fit(frame, condition_share=0.05), tmp_path / "bundle")  # the Laplace table
    table = pd.DataFrame(config["condition_table"])
    (entry,) = [e for e in card["ledger"] if e["mechanism"] == "laplace-histogram"]
    exact = exact_condition_counts(frame, make_toy_schema(), table)
    residual = table["_noisy"].to_numpy(float) - exact
    assert np.abs(residual).max() > 1e-3  # the noise is there at all
    for seed in {card["seed"], *range(0, 50)}:
        replay = np.random.default_rng(seed).laplace(0.0, entry["params"]["noise_scale"], size=len(exact))
        assert np.abs(residual - replay).max() > 1e-6, f"seed {seed} replays the noise"


@pytest.mark.parametrize("name", ["dp-vae", "dp-gan"])
def test_rule_9_refitting_with_the_cards_seed_does_not_reproduce_the_weights(name, tmp_path):
    """The membership test of the replay attack: refit with the card's seed and settings on
    the guessed data; if that reproduced the released weights, the guess would be confirmed.
    Two fits with the same seed on the same data differ in weights and noisy counts."""
    _, weights, card = released(fit(name=name), tmp_path / "a")
    _, again, _ = released(fit(name=name, seed=card["seed"]), tmp_path / "b")
    assert any(not torch.equal(weights[k], again[k]) for k in weights)
    first, second = fit(name=name), fit(name=name)
    assert not np.allclose(first.condition_table_["_noisy"], second.condition_table_["_noisy"])


def test_rule_9_the_seed_still_sets_the_public_initial_weights():
    def build(seed):
        model = registry.create("dp-vae", make_toy_schema(), **TINY)
        codec = model._make_codec(make_toy_schema())
        with public_torch_rng(seed, torch.device("cpu")):
            return model._build_module(codec).state_dict()

    a, b, c = build(3), build(3), build(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_rule_9_sampling_a_saved_model_with_a_seed_is_reproducible(tmp_path):
    model = fit()
    model.save(tmp_path / "bundle")
    loaded = TabularGenerator.load(tmp_path / "bundle")
    pd.testing.assert_frame_equal(loaded.sample(80, random_state=11), model.sample(80, random_state=11))
    pd.testing.assert_frame_equal(loaded.sample(80, random_state=11), loaded.sample(80, random_state=11))


def test_rule_9_opacus_noise_and_sampling_generators_are_secret(monkeypatch):
    """opacus gets a noise generator and a loader generator, both seeded from OS entropy:
    different in every fit with the same seed, never the seed itself."""
    seen = []
    original = training.PrivacyEngine.make_private

    def spy(self, **kwargs):
        seen.append((kwargs["noise_generator"].initial_seed(), kwargs["data_loader"].generator.initial_seed()))
        return original(self, **kwargs)

    monkeypatch.setattr(training.PrivacyEngine, "make_private", spy)
    fit(), fit()
    (noise_a, sampling_a), (noise_b, sampling_b) = seen
    assert len({noise_a, sampling_a, noise_b, sampling_b}) == 4
    assert SEED not in {noise_a, sampling_a, noise_b, sampling_b}


def test_rule_9_draws_inside_training_come_from_os_entropy(monkeypatch):
    """A family's loss draws (latents, time steps, fakes) and `keep_rows` use torch's global
    generator: during training it is seeded from OS entropy, and the caller's state is
    restored afterwards."""
    seeds = []
    original = training.run_private_steps

    def spy(*args, **kwargs):
        seeds.append(torch.initial_seed())
        return original(*args, **kwargs)

    monkeypatch.setattr(training, "run_private_steps", spy)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    fit(), fit()
    assert torch.equal(torch.get_rng_state(), before)  # fit leaves the caller's generator alone
    assert len(set(seeds)) == 2 and not {SEED, 123} & set(seeds)


def test_secret_generators_differ_each_time():
    assert secret_torch_generator().initial_seed() != secret_torch_generator().initial_seed()
    with secret_torch_rng(torch.device("cpu")):
        first = torch.initial_seed()
    with secret_torch_rng(torch.device("cpu")):
        assert torch.initial_seed() != first


def test_rule_9_the_unit_row_subsample_is_drawn_in_secret(monkeypatch):
    """Which rows of a large unit are kept (max_rows_per_unit) is a private draw: its generator
    differs in every fit and is not the one the seed would give."""
    states = []
    original = TabularGenerator._unit_tensors

    def spy(self, frame, codec, groups, schema, rng):
        states.append(rng.bit_generator.state["state"])
        return original(self, frame, codec, groups, schema, rng)

    monkeypatch.setattr(TabularGenerator, "_unit_tensors", spy)
    fit(), fit()
    assert states[0] != states[1]
    assert np.random.default_rng(SEED).bit_generator.state["state"] not in states


def test_rule_9_the_card_says_what_the_seed_drives_and_holds_no_secret_seed():
    card = fit().privacy_card().to_dict()
    note = card["randomness"]
    assert note["public_seed"] == SEED == card["seed"]
    assert "OS entropy" in note["private_randomness"] and "not stored" in note["private_randomness"]
    text = json.dumps(card)
    assert "noise_seed" not in text and "generator_seed" not in text


def test_rule_9_a_marginal_fit_never_repeats_its_noise(tmp_path):
    """The marginal family's counts are noised by OpenDP: refitting with the card's seed on the
    same data gives other tables, so the release confirms no guess of the data."""
    def marginal_fit(seed):
        model = registry.create("dp-marginal", make_toy_schema(), n_bins=8)
        return model.fit(make_toy_frame(), budget=BUDGET, random_state=seed, progress=False)
    _, weights, card = released(marginal_fit(SEED), tmp_path / "a")
    _, again, _ = released(marginal_fit(card["seed"]), tmp_path / "b")
    assert not torch.equal(weights["log_probs"], again["log_probs"])


def test_rule_9_a_moments_fit_never_repeats_its_noise(tmp_path):
    """The moments family's sums are noised by OpenDP: refitting with the card's seed on the same
    images gives other means and covariance, so the release confirms no guess of the data."""
    def moments_fit(seed):
        model = registry.create("dp-image-moments", make_toy_image_schema())
        return model.fit(make_toy_images(), budget=BUDGET, random_state=seed, progress=False)
    _, weights, card = released(moments_fit(SEED), tmp_path / "a")
    _, again, _ = released(moments_fit(card["seed"]), tmp_path / "b")
    assert not torch.equal(weights["means"], again["means"])
    assert not torch.equal(weights["factor"], again["factor"])

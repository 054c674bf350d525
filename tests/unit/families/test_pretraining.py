"""Public pretraining before DP-SGD (`dpsynth.families.pretraining`, images): it changes the
starting weights, costs no ε, is named on the card and in the saved bundle, and a family it
does not apply to says so before the data is read."""

import hashlib
import json

import numpy as np
import pytest
import torch

from dpsynth import registry
from dpsynth.errors import DpsynthError, ParameterError
from dpsynth.families import training
from dpsynth.generator import DPGenerator
from dpsynth.privacy.budget import PrivacyBudget
from tests.conftest import make_toy_image_schema, make_toy_images

TINY = dict(epochs=1, batch_size=16, hidden=(16,), n_bins=8)
BUDGET = PrivacyBudget(2.0, 1e-5)


@pytest.fixture(scope="module")
def fits():
    data, schema = make_toy_images(), make_toy_image_schema()
    out = {}
    for count in (0, 200):
        model = registry.create("dp-image-vae", schema, pretrain_images=count, pretrain_steps=30, **TINY)
        out[count] = model.fit(data, budget=BUDGET, random_state=0, progress=False)
    return out


def test_pretraining_moves_the_weights_dp_sgd_starts_from(monkeypatch):
    data, schema = make_toy_images(), make_toy_image_schema()
    starts = {}

    def spy(module, *args, **kwargs):
        starts[len(starts)] = [p.detach().clone() for p in module.parameters()]
        raise RuntimeError("stop before DP-SGD")

    monkeypatch.setattr(training, "make_private", spy)
    for count in (0, 200):
        model = registry.create("dp-image-vae", schema, pretrain_images=count, pretrain_steps=30, **TINY)
        with pytest.raises(RuntimeError, match="stop before DP-SGD"):
            model.fit(data, budget=BUDGET, random_state=0, progress=False)
    assert any(not torch.equal(a, b) for a, b in zip(starts[0], starts[1]))


def test_pretraining_costs_no_epsilon_and_is_on_the_card(fits):
    plain, pretrained = fits[0], fits[200]
    assert [e.to_dict() for e in pretrained.ledger_.entries] == [e.to_dict() for e in plain.ledger_.entries]
    card = pretrained.privacy_card().to_dict()
    assert card["public_pretraining"]["records"] == 200 and card["public_pretraining"]["epsilon"] == 0.0
    assert "scikit-image" in card["public_pretraining"]["source"]
    assert "public_pretraining" not in plain.privacy_card().to_dict()
    assert "Public pretraining (no ε" in pretrained.privacy_card().describe()


def test_a_saved_model_keeps_its_pretraining_on_the_card(fits, tmp_path):
    fits[200].save(tmp_path / "model")
    loaded = DPGenerator.load(tmp_path / "model")
    assert loaded.privacy_card().to_dict()["public_pretraining"] == fits[200].privacy_card().to_dict()[
        "public_pretraining"]
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["public_pretraining"]["steps"] == 30


def test_a_gan_refuses_pretraining_before_reading_the_data():
    model = registry.create("dp-image-gan", make_toy_image_schema(), pretrain_images=10, **TINY)
    with pytest.raises(ParameterError, match="cannot pretrain on public images"):
        model.fit(make_toy_images(), budget=BUDGET, progress=False)


def test_pretraining_sees_only_the_public_tiles(monkeypatch):
    from dpsynth.images import generator as image_generator
    from dpsynth.images.public import public_tiles

    seen = {}

    def spy(module, x, *args, **kwargs):
        seen["x"] = x.clone()
        raise RuntimeError("stop after pretraining's input")

    monkeypatch.setattr(image_generator, "pretrain", spy)
    data, schema = make_toy_images(), make_toy_image_schema()
    model = registry.create("dp-image-vae", schema, pretrain_images=50, **TINY)
    with pytest.raises(RuntimeError, match="stop after"):
        model.fit(data, budget=BUDGET, random_state=5, progress=False)
    codec = model._make_codec(schema)
    tiles = public_tiles(50, height=8, width=8, channels=1, pixel_range=schema.pixel_range, seed=5)
    s = codec.static_width
    assert torch.equal(seen["x"][:, s:], torch.from_numpy(codec.encode_images(tiles)))
    assert not seen["x"][:, :s].any()  # no attribute of any private record


def test_a_public_file_of_the_users_is_named_by_its_hash_and_checked_before_the_data(tmp_path, monkeypatch):
    data, schema = make_toy_images(), make_toy_image_schema()
    low, high = schema.pixel_range
    public = np.random.default_rng(0).uniform(low, high, size=(40, 8, 8)).astype(np.float32)  # grey, no channel
    np.savez(tmp_path / "public.npz", images=public)
    model = registry.create("dp-image-vae", schema, pretrain_images=60, pretrain_steps=5,
                            pretrain_source=str(tmp_path / "public.npz"), **TINY)
    model.fit(data, budget=BUDGET, random_state=0, progress=False)
    digest = hashlib.sha256((tmp_path / "public.npz").read_bytes()).hexdigest()
    entry = model.privacy_card().to_dict()["public_pretraining"]
    assert entry["source"].startswith("public.npz") and digest in entry["source"] and entry["records"] == 60
    kept = [name for name, value in vars(model).items()
            if isinstance(value, tuple) and any(isinstance(part, np.ndarray) for part in value)]
    assert kept == []  # the fitted model keeps no copy of the user's public images
    np.savez(tmp_path / "wide.npz", images=public * 0 + high * 2)

    def no_data_pass(*args, **kwargs):
        raise AssertionError("the private records were read before the pretraining settings were checked")

    monkeypatch.setattr(DPGenerator, "_prepare", no_data_pass)
    for name, message in (("missing.npz", "No such file"), ("wide.npz", "outside the schema's pixel_range")):
        bad = registry.create("dp-image-vae", schema, pretrain_images=5, pretrain_source=str(tmp_path / name), **TINY)
        with pytest.raises(DpsynthError, match=message):
            bad.fit(data, budget=BUDGET, progress=False)
    unused = registry.create("dp-image-vae", schema, pretrain_source=str(tmp_path / "public.npz"), **TINY)
    with pytest.raises(ParameterError, match="pretrain_images is 0"):
        unused.fit(data, budget=BUDGET, progress=False)

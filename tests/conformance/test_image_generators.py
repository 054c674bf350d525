"""Every registered private image generator honours the same contract as the tabular and series
ones, with the patient — all of their images — as the privacy unit.

New image generators are picked up from the registry automatically; they pass these tests
with the shared tiny settings only (8×8 grey images, CPU).
"""

import numpy as np
import pandas as pd
import pytest
import torch
from opacus.validators import ModuleValidator

from dpsynth import registry
from dpsynth.errors import SchemaError
from dpsynth.families import training
from dpsynth.generator import DPGenerator
from dpsynth.images.schema import ImageData
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.dpsgd import DPSGDPlan, epsilon_for_history
from tests.conftest import make_toy_image_schema, make_toy_images

TINY_SHARED = dict(epochs=1, batch_size=16, hidden=(16,), n_bins=8)
NAMES = [info.name for info in registry.available("image") if info.private]
DPSGD_NAMES = [info.name for info in registry.available("image") if info.private and info.family != "moments"]
BUDGET = PrivacyBudget(0.5, 1e-5)


@pytest.fixture(scope="module", params=NAMES)
def fitted(request):
    model = registry.create(request.param, make_toy_image_schema(), **TINY_SHARED)
    return model.fit(make_toy_images(), budget=BUDGET, random_state=7, progress=False)


def test_four_image_generators_are_registered():
    assert {"dp-image-vae", "dp-image-gan", "dp-image-diffusion", "dp-image-moments"} <= set(NAMES)
    assert {registry.get(n).family for n in NAMES} == {"vae", "gan", "diffusion", "moments"}


def test_ledger_within_budget(fitted):
    eps, delta = fitted.privacy_spent()
    assert 0 < eps <= BUDGET.epsilon + 1e-9 and 0 < delta <= BUDGET.delta
    assert type(fitted).training_mechanism in [e.mechanism for e in fitted.ledger_.entries]


def test_the_patient_is_the_privacy_unit(fitted):
    """q = batch / patients, not / images (DP-SGD), and each patient's images sit in one unit."""
    data, schema = make_toy_images(), make_toy_image_schema()
    patients = data.static["patient"].nunique()
    assert fitted.n_units_ == patients < len(data)
    if isinstance(fitted.plan_, DPSGDPlan):
        assert fitted.plan_.n_units == patients
        assert fitted.plan_.sample_rate == pytest.approx(1 / -(-patients // TINY_SHARED["batch_size"]))
    conformed, _ = schema.conform(data)
    groups, _ = fitted._condition_groups(conformed, schema)
    x, c, mask = fitted._unit_tensors(conformed, fitted.codec_, groups, schema, np.random.default_rng(0))
    per_patient = conformed.static.groupby("patient", sort=False).size().tolist()
    assert x.shape[0] == patients and mask.sum(1).tolist() == per_patient and max(per_patient) > 1
    assert "patient" in fitted.privacy_card().privacy_unit


def test_without_a_subject_id_each_image_is_a_unit():
    spec = make_toy_image_schema().to_dict()
    spec.pop("subject_id")
    schema = type(make_toy_image_schema()).from_dict(spec)
    data = make_toy_images(n_patients=10)
    model = registry.create(NAMES[0], schema, **TINY_SHARED).fit(
        ImageData(data.static.drop(columns="patient"), data.images), budget=BUDGET, progress=False)
    assert model.n_units_ == len(data) and "image" in model.privacy_card().privacy_unit


def test_shapes_and_public_bounds(fitted):
    schema = make_toy_image_schema()
    out = fitted.sample(37, random_state=0)
    assert isinstance(out, ImageData) and len(out.static) == 37
    assert out.images.shape == (37, 8, 8, 1) and np.isfinite(out.images).all()
    assert out.static["image"].is_unique
    assert out.images.min() >= 0 and out.images.max() <= 255
    conformed, report = schema.conform(out)  # raises on any type, domain or bound violation
    assert report.clipped_pixels == 0 and report.static_clipped == {}
    empty = fitted.sample(0)
    assert len(empty.static) == 0 and empty.images.shape == (0, 8, 8, 1)


def test_seed_determinism(fitted):
    a, b, c = (fitted.sample(20, random_state=s) for s in (5, 5, 6))
    pd.testing.assert_frame_equal(a.static, b.static)
    assert np.array_equal(a.images, b.images) and not np.array_equal(a.images, c.images)


def test_save_load_round_trip(fitted, tmp_path):
    fitted.save(tmp_path / "bundle")
    loaded = DPGenerator.load(tmp_path / "bundle")
    assert type(loaded) is type(fitted)
    a, b = loaded.sample(8, random_state=1), fitted.sample(8, random_state=1)
    pd.testing.assert_frame_equal(a.static, b.static)
    assert np.array_equal(a.images, b.images)
    assert loaded.privacy_card().epsilon == pytest.approx(fitted.privacy_card().epsilon)


def test_conditions_honoured(fitted):
    out = fitted.sample(40, conditions={"label": "lesion", "age_band": "60+", "sex": "male"}, random_state=2)
    assert (out.static["label"] == "lesion").all() and (out.static["sex"] == "male").all()
    assert (out.static["age"] >= 60).all()


def test_card_epsilon_is_what_opacus_computes_for_the_recorded_history(fitted):
    """The moments family has no DP-SGD (its accounting: tests/unit/privacy/test_marginals.py)."""
    if not isinstance(fitted.plan_, DPSGDPlan):
        pytest.skip("no DP-SGD in this family")
    card = fitted.privacy_card().to_dict()  # as the release writes it
    (sgd,) = card["dp_sgd"]
    recomputed = epsilon_for_history(sgd["history"], delta=sgd["delta"], accountant=sgd["accountant"])
    assert sgd["epsilon"] == pytest.approx(recomputed, rel=1e-9)
    assert card["epsilon"] == pytest.approx(sum(e["epsilon"] for e in card["ledger"]))
    assert fitted.log_.steps == sgd["steps"]
    assert card["schema_sha256"] == make_toy_image_schema().fingerprint()


@pytest.mark.parametrize("name", DPSGD_NAMES)
def test_uses_poisson_sampling_and_ghost_clipping(name, monkeypatch):
    seen = {}
    original = training.PrivacyEngine.make_private

    def spy(self, **kwargs):
        seen.update(kwargs)
        return original(self, **kwargs)

    monkeypatch.setattr(training.PrivacyEngine, "make_private", spy)
    registry.create(name, make_toy_image_schema(), **TINY_SHARED).fit(make_toy_images(), budget=BUDGET,
                                                                      progress=False)
    assert seen["poisson_sampling"] is True and seen["grad_sample_mode"] == "ghost"


def test_modules_pass_opacus_validation_and_have_no_batchnorm(fitted):
    module = fitted._build_module(fitted.codec_).train()
    assert ModuleValidator.validate(module, strict=False) == []
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules())


def test_rgb_images_round_trip():
    schema = make_toy_image_schema(size=12, channels=3)
    model = registry.create(NAMES[0], schema, **TINY_SHARED)
    model.fit(make_toy_images(n_patients=12, size=12, channels=3), budget=BUDGET, progress=False)
    assert model.sample(3, random_state=0).images.shape == (3, 12, 12, 3)


@pytest.mark.parametrize("name", NAMES)
def test_a_table_instead_of_image_data_is_a_clear_error(name):
    model = registry.create(name, make_toy_image_schema(), **TINY_SHARED)
    with pytest.raises(SchemaError, match="ImageData"):
        model.fit(make_toy_images().static, budget=BUDGET, progress=False)

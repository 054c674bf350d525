"""Every registered NOT PRIVATE reference generator (ε = ∞) honours the same contract.

References are picked up from the registry (``private=False``); each needs an entry in
``TINY`` (fast settings for its family). They must say plainly that they are not
private, return rows inside the public schema, be reproducible, honour conditions,
refuse to be saved (SDV saves by pickle), and warn when handed a privacy budget.
"""

import json
import math

import numpy as np
import pandas as pd
import pytest

from dpsynth import registry
from dpsynth.errors import DpsynthError, NotFittedError
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.card import write_card
from tests.conftest import make_toy_frame, make_toy_schema
from tests.extras import needs_sdv

NAMES = [info.name for info in registry.available("tabular") if not info.private]
TINY = {
    "sdv-ctgan": dict(epochs=1, batch_size=200, hidden=(16,), embedding_dim=16),
    "sdv-tvae": dict(epochs=1, batch_size=200, hidden=(16,), embedding_dim=16),
    "sdv-gaussiancopula": {},
}


def create(name):
    return registry.create(name, make_toy_schema(), **TINY[name])


@pytest.fixture(scope="module", params=NAMES)
def fitted(request):
    pytest.importorskip("sdv", reason="needs the NOT PRIVATE references: pip install 'dpsynth[reference]'")
    return create(request.param).fit(make_toy_frame(), random_state=7, progress=False)


def test_the_three_sdv_references_are_registered_and_every_reference_has_tiny_settings():
    assert {"sdv-ctgan", "sdv-tvae", "sdv-gaussiancopula"} <= set(NAMES)
    assert set(NAMES) <= set(TINY), f"add tiny settings for {sorted(set(NAMES) - set(TINY))}"


@pytest.mark.parametrize("name", NAMES)
def test_marked_not_private_in_the_registry(name):
    info = registry.get(name)
    assert info.private is False and info.family == "reference" and info.modality == "tabular"
    assert info.description.startswith("NOT PRIVATE reference")


def test_card_says_not_private_with_infinite_epsilon(fitted, tmp_path):
    card = fitted.privacy_card().to_dict()  # as the release writes it
    assert card["private"] is False and card["epsilon"] == "inf" and card["delta"] == 1.0
    assert card["generator"] == fitted.registered_name and card["seed"] == 7
    assert card["schema_sha256"] == make_toy_schema().fingerprint()
    assert any(note.startswith("NOT PRIVATE") for note in card["notes"])
    assert card["versions"]["sdv"] not in ("", "not installed")
    path = write_card(card, tmp_path / "card.json")
    text = path.read_text()
    assert "Infinity" not in text and "NaN" not in text  # strict JSON
    assert json.loads(text)["epsilon"] == "inf"
    assert fitted.privacy_spent() == (math.inf, 1.0)


def test_shapes_dtypes_and_public_bounds(fitted):
    schema = make_toy_schema()
    out = fitted.sample(257, random_state=0)
    assert list(out.columns) == schema.names and len(out) == 257
    _, report = schema.conform(out)  # raises on any type, domain or bound violation
    assert report.clipped == {} and report.unseen_to_missing == {}
    for col in ("age", "heart_rate", "lab"):
        assert out[col].dtype == float
    assert out["heart_rate"].eq(out["heart_rate"].round()).all()
    assert fitted.sample(0).shape == (0, len(schema.names))


def test_seed_determinism(fitted):
    pd.testing.assert_frame_equal(fitted.sample(100, random_state=5), fitted.sample(100, random_state=5))
    assert not fitted.sample(100, random_state=5).equals(fitted.sample(100, random_state=6))


@needs_sdv
@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_fit(name):
    a = create(name).fit(make_toy_frame(), random_state=3, progress=False)
    b = create(name).fit(make_toy_frame(), random_state=3, progress=False)
    pd.testing.assert_frame_equal(a.sample(50, random_state=1), b.sample(50, random_state=1))


def test_sampling_leaves_the_global_random_state_alone(fitted):
    np.random.seed(123)
    expected = np.random.random(3)
    np.random.seed(123)
    fitted.sample(20, random_state=1)
    np.testing.assert_array_equal(np.random.random(3), expected)


def test_conditions_on_target_and_plain_sensitive_column(fitted):
    out = fitted.sample(80, conditions={"outcome": "yes", "sex": "female"}, random_state=2)
    assert len(out) == 80 and (out["outcome"] == "yes").all() and (out["sex"] == "female").all()


def test_conditions_on_bands_and_merged_groups(fitted):
    out = fitted.sample(60, conditions={"outcome": "no", "race": "other", "age_band": "18-49"}, random_state=2)
    assert len(out) == 60 and (out["outcome"] == "no").all()
    assert out["race"].isin(["asian", "other"]).all()
    groups = make_toy_schema().group_labels(make_toy_schema().conform(out)[0])
    assert np.all(groups["age_band"] == "18-49")


def test_save_refuses_with_the_reason(fitted, tmp_path):
    with pytest.raises(DpsynthError, match=r"not saved.*pickle.*same .*seed"):
        fitted.save(tmp_path / "model")
    assert not (tmp_path / "model").exists()


@needs_sdv
@pytest.mark.parametrize("name", NAMES)
def test_a_budget_is_ignored_with_a_warning(name):
    with pytest.warns(UserWarning, match="NOT PRIVATE reference.*ignored"):
        create(name).fit(make_toy_frame(n=200), budget=PrivacyBudget(1.0, 1e-5), progress=False)


@pytest.mark.parametrize("name", NAMES)
def test_not_fitted_is_a_clear_error(name):
    with pytest.raises(NotFittedError):
        create(name).sample(5)

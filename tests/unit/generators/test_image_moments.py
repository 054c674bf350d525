"""dp-image-moments: registered with its family, honest about what it does not use, and RGB."""

import pytest

from dpsynth import registry
from dpsynth.errors import ParameterError
from dpsynth.privacy.budget import PrivacyBudget
from tests.conftest import make_toy_image_schema, make_toy_images

BUDGET = PrivacyBudget(1.0, 1e-5)


def test_is_registered_with_its_family_and_one_training_entry():
    info = registry.get("dp-image-moments")
    assert (info.family, info.modality, info.private) == ("moments", "image", True)
    model = registry.create("dp-image-moments", make_toy_image_schema()).fit(make_toy_images(), budget=BUDGET,
                                                                             progress=False)
    entries = [e for e in model.ledger_.entries if e.mechanism == "marginal-measurements"]
    assert len(entries) == 1 and "noisy moments" in entries[0].purpose
    assert set(entries[0].params["stages"]) == {"counts", "reference clip", "centre", "clip", "class means", "covariance"}
    text = model.privacy_card().describe()  # what the steward reads
    assert "train dp-image-moments (noisy moments)" in text and "reference clip" in text
    assert "DP-SGD training" not in text  # no DP-SGD line among the covered mechanisms


@pytest.mark.parametrize("setting", [{"pretrain_images": 100}, {"pretrain_source": "public.npz"}])
def test_public_pretraining_is_refused_before_any_mechanism_runs(setting):
    model = registry.create("dp-image-moments", make_toy_image_schema(), **setting)
    with pytest.raises(ParameterError, match="trains no network"):
        model.fit(make_toy_images(), budget=BUDGET, progress=False)
    assert not hasattr(model, "ledger_")


def test_settings_it_does_not_use_are_named_in_a_warning():
    model = registry.create("dp-image-moments", make_toy_image_schema(), epochs=5, lr=0.1)
    with pytest.warns(UserWarning, match="dp-image-moments trains no network.*epochs, lr set but not used"):
        model.fit(make_toy_images(), budget=BUDGET, progress=False)


def test_rgb_images_round_trip_within_the_pixel_range():
    schema = make_toy_image_schema(size=12, channels=3)
    model = registry.create("dp-image-moments", schema, components=20)
    model.fit(make_toy_images(n_patients=12, size=12, channels=3), budget=BUDGET, progress=False)
    out = model.sample(5, random_state=0)
    assert out.images.shape == (5, 12, 12, 3) and out.images.min() >= 0 and out.images.max() <= 255
    assert model.module_.basis.shape == (20, 12 * 12 * 3)


@pytest.mark.parametrize("setting, words", [({"clip_quantile": 1.0}, r"'clip_quantile' .* in \(0, 1\)"),
                                            ({"components": 0}, r"'components' .* whole number >= 1")])
def test_a_bad_family_setting_is_refused_by_name(setting, words):
    with pytest.raises(ParameterError, match=words):
        registry.create("dp-image-moments", make_toy_image_schema(), **setting)

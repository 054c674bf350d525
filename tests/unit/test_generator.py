"""DPGenerator's parameters: each family declares its own once (`family_params`, a dataclass);
the constructor takes them as keywords, keeps them as attributes and the bundle saves them.
(More in test_generator_params.py.)"""

from dataclasses import fields

import pytest

from dpsynth import registry
from dpsynth.families.diffusion import DiffusionParams
from dpsynth.families.gan import GANParams
from dpsynth.families.marginal import MarginalParams
from dpsynth.families.moments import MomentsParams
from dpsynth.families.vae import VAEParams
from dpsynth.generator import DPGenerator, TrainingSettings
from tests.conftest import make_toy_image_schema, make_toy_schema, make_toy_series_schema

SCHEMAS = {"tabular": make_toy_schema, "series": make_toy_series_schema, "image": make_toy_image_schema}
FAMILY = {"vae": VAEParams, "gan": GANParams, "diffusion": DiffusionParams}  # DP-SGD, for every modality
TABLE_ONLY = {"marginal": MarginalParams}  # families that need a table's blocks
SIGNAL_ONLY = {"moments": MomentsParams}  # families with a public basis (images, series), none for a table
DP_GENERATORS = [info for info in registry.available() if issubclass(info.cls, DPGenerator)]


def create(info, **params):
    return registry.create(info.name, SCHEMAS[info.modality](), **params)


def family_defaults(info):
    """The family parameters of a generator (its ``family_params``) and their defaults for it."""
    return {name: spec.default for name, spec in info.cls.param_specs.items() if spec.group == "family"}


def test_every_family_by_modality_generator_is_covered():
    assert sorted((i.family, i.modality) for i in DP_GENERATORS) == sorted(
        [(f, m) for f in FAMILY for m in SCHEMAS] + [(f, "tabular") for f in TABLE_ONLY]
        + [(f, m) for f in SIGNAL_ONLY for m in ("image", "series")])


@pytest.mark.parametrize("info", DP_GENERATORS, ids=lambda i: i.name)
def test_family_parameters_come_from_the_family_and_reach_the_bundle(info):
    defaults = family_defaults(info)
    assert {f.name for f in fields((FAMILY | TABLE_ONLY | SIGNAL_ONLY)[info.family])} <= set(defaults)  # every family parameter
    model = create(info)
    params = model.get_params()
    for name, default in defaults.items():
        assert getattr(model, name) == default
        assert params[name] == (list(default) if isinstance(default, tuple) else default)
    modality = {"tabular": set(), "series": {"sigma"},
                "image": {"sigma", "pretrain_images", "pretrain_steps", "pretrain_source"}}[info.modality]
    assert set(params) == set(defaults) | set(TrainingSettings.__dataclass_fields__) | {"hidden", "n_bins"} | modality


@pytest.mark.parametrize("info", DP_GENERATORS, ids=lambda i: i.name)
def test_a_family_parameter_can_be_set_and_sequences_stay_tuples(info):
    defaults = family_defaults(info)
    sequences = [n for n, v in defaults.items() if isinstance(v, tuple)]
    overrides = next({name: value} for name, value in (("latent_dim", 3), ("sampling_steps", 7), ("cell_signal", 3.0),
                                                             ("components", 12))
                     if name in defaults)
    overrides |= {n: [5] * len(defaults[n]) for n in sequences}
    model = create(info, **overrides)
    for name, value in overrides.items():
        assert getattr(model, name) == (tuple(value) if name in sequences else value)
    # what the bundle saves builds the same generator again
    again = registry.create(info.name, SCHEMAS[info.modality](), **model.get_params())
    assert again.get_params() == model.get_params()


@pytest.mark.parametrize("info", DP_GENERATORS, ids=lambda i: i.name)
def test_an_unknown_parameter_is_refused_with_the_known_ones_named(info):
    with pytest.raises(TypeError, match=f"unknown parameter 'latnt_dim' for {info.name}") as raised:
        create(info, latnt_dim=4)
    valid = str(raised.value).split("valid: ")[1].split(", ")
    for name in [*family_defaults(info), "epochs", "hidden"]:
        assert name in valid


def test_a_generator_own_training_and_width_defaults_and_explicit_values_win():
    tabular_gan, image_diffusion = registry.get("dp-gan"), registry.get("dp-image-diffusion")
    assert create(tabular_gan).training.lr == 1e-3 and create(tabular_gan, lr=0.01).training.lr == 0.01
    assert create(registry.get("dp-vae")).training.lr == 1e-3 != TrainingSettings().lr  # with its anchor
    assert create(image_diffusion).training.ema_decay == 0.999
    assert create(image_diffusion, ema_decay=None).training.ema_decay is None
    assert create(image_diffusion).hidden == (128,) and create(registry.get("dp-image-vae")).hidden == (256,)
    assert create(registry.get("dp-vae")).hidden == (256, 256)
    assert create(registry.get("dp-image-vae"), hidden=[32, 16]).hidden == (32, 16)

"""Explicit generator parameters: declared once per family as dataclass fields with a default
and one line of help, refined per generator in ``param_defaults``; visible in the signature
and ``help()``; checked at construction with one-line errors; ``get_params`` /
``set_params``; the defaults pinned."""

import inspect
import json
import pydoc
from dataclasses import fields

import pytest

from dpsynth import registry
from dpsynth.errors import DpsynthError, ParameterError
from dpsynth.families.anchor import AnchoredVAEParams
from dpsynth.families.diffusion import DiffusionParams
from dpsynth.families.gan import GANParams
from dpsynth.families.marginal import MarginalParams
from dpsynth.families.moments import MomentsParams
from dpsynth.families.vae import VAEParams
from dpsynth.generator import DPGenerator, TrainingSettings
from dpsynth.params import ModelParams
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.tabular.generator import TabularGenerator
from tests.conftest import make_toy_frame, make_toy_image_schema, make_toy_schema, make_toy_series_schema

SCHEMAS = {"tabular": make_toy_schema, "series": make_toy_series_schema, "image": make_toy_image_schema}
DP_GENERATORS = [info for info in registry.available() if issubclass(info.cls, DPGenerator)]

# registry.create(name, toy schema).get_params() for every registered generator, pinned: the defaults
# must not move.
SHARED = {"epochs": 30.0, "batch_size": 512, "lr": 0.005, "max_grad_norm": 1.0, "accountant": "prv",
          "grad_sample_mode": "ghost", "condition_share": 0.05, "max_rows_per_unit": 16, "rows_per_step": None,
          "secure_mode": False, "device": "auto", "devices": 1, "ema_decay": None, "n_bins": 16,
          "hidden": [256, 256]}
SERIES = {"batch_size": 256, "rows_per_step": 2, "sigma": 0.1}
VAE = {"latent_dim": 32, "beta": 1.0, "temperature": 1.0, "multiplicity": 1}
GAN = {"latent_dim": 64, "generator_lr": 0.0002, "generator_steps": 1, "tau": 0.2, "aux_weight": 0.0}
DIFFUSION = {"timesteps": 1000, "sampling_steps": 50, "multiplicity": 4, "time_dim": 64, "condition_dropout": 0.1,
             "guidance": 2.0}
IMAGE = {"sigma": 0.1, "pretrain_images": 0, "pretrain_steps": 1000, "pretrain_source": None}
SDV_NEURAL = {"epochs": 300, "batch_size": None, "hidden": None, "enable_gpu": False, "enforce_min_max_values": True}
PINNED = {
    "dp-vae": SHARED | VAE | {"epochs": None, "batch_size": None,  # its schedule follows the cohort size
               "anchor_share": 0.7, "lr": 0.001, "condition_share": 0.0},
    "dp-gan": SHARED | GAN | {"lr": 0.001, "generator_lr": 0.001, "aux_weight": 3.0},
    "dp-diffusion": SHARED | DIFFUSION,
    "dp-marginal": SHARED | {"one_way_share": 0.3, "selection_share": 0.3, "cell_signal": 2.0, "pair_groups": 3,
                             "unpaired": (), "condition_share": 0.0},
    "dp-series-vae": SHARED | SERIES | VAE | {"conv_channels": [32, 64]},
    "dp-series-gan": SHARED | SERIES | GAN | {"conv_channels": [8, 16, 16, 16], "disc_hidden": [64]},
    "dp-series-diffusion": SHARED | SERIES | DIFFUSION | {
        "hidden": [64], "multiplicity": 1, "base_channels": 16, "kernel": 3, "mid_kernel": 9, "signal_scale": 0.1},
    "dp-image-vae": SHARED | VAE | IMAGE | {"hidden": [256], "latent_dim": 4, "conv_channels": [32, 64]},
    "dp-image-gan": SHARED | GAN | IMAGE | {"hidden": [256], "conv_channels": [16, 32], "disc_hidden": [64]},
    "dp-image-diffusion": SHARED | DIFFUSION | IMAGE | {"hidden": [128], "ema_decay": 0.999, "guidance": 1.0,
                                                        "base_channels": 32, "signal_scale": 1.0,
                                                        "anchor_share": 0.8, "anchor_components": 64},
    "dp-image-moments": SHARED | IMAGE | {"hidden": [256], "components": 64, "clip_quantile": 0.5,
                                          "covariance": "auto"},
    "dp-series-moments": SHARED | SERIES | {"components": 128, "clip_quantile": 0.5, "covariance": "diagonal"},
    "sdv-ctgan": SDV_NEURAL,
    "sdv-tvae": SDV_NEURAL,
    "sdv-gaussiancopula": {"enforce_min_max_values": True},
}


def create(name, **params):
    return registry.create(name, SCHEMAS[registry.get(name).modality](), **params)


def canonical(params):
    return json.dumps(params, sort_keys=True)  # tells 30 from 30.0


# ------------------------------------------------------------------------------ defaults
def test_every_registered_generator_is_pinned():
    assert sorted(PINNED) == sorted(info.name for info in registry.available())


@pytest.mark.parametrize("name", PINNED)
def test_defaults_are_the_ones_before_the_change(name):
    assert canonical(create(name).get_params()) == canonical(PINNED[name])


@pytest.mark.parametrize("name", [info.name for info in DP_GENERATORS])
def test_a_bundle_config_saved_before_the_change_builds_the_same_generator(name):
    """`load` builds the generator from the config's "params" (all of `get_params`, JSON): the
    format models saved before the change hold."""
    saved = json.loads(json.dumps(PINNED[name] | {"epochs": 2, "hidden": [16, 8]}))
    assert canonical(create(name, **saved).get_params()) == canonical(saved)


def test_each_family_declares_its_parameters_once_with_a_default_and_help():
    for declared in (VAEParams, AnchoredVAEParams, GANParams, DiffusionParams, MarginalParams, MomentsParams,
                     TrainingSettings, ModelParams):
        for f in fields(declared):
            help_line = f.metadata["help"]
            assert help_line and "\n" not in help_line, f.name
            assert f.metadata["rule"].test(f.default), f.name


@pytest.mark.parametrize("info", DP_GENERATORS, ids=lambda i: i.name)
def test_the_family_dataclass_gives_the_family_parameters(info):
    family = {"vae": VAEParams, "gan": GANParams, "diffusion": DiffusionParams,
              "marginal": MarginalParams, "moments": MomentsParams}[info.family]
    assert issubclass(info.cls.family_params, family)
    groups = {name: spec.group for name, spec in info.cls.param_specs.items()}
    assert {f.name for f in fields(family)} <= {n for n, g in groups.items() if g == "family"}
    assert {f.name for f in fields(TrainingSettings)} == {n for n, g in groups.items() if g == "training"}


def test_a_default_refined_by_a_class_is_checked_when_the_class_is_made():
    with pytest.raises(TypeError, match="'epoch' is not a parameter"):
        type("Typo", (TabularGenerator,), {"param_defaults": {"epoch": 3}})
    with pytest.raises(TypeError, match=r"batch_size=0 is not None \(by cohort size\) or a whole number >= 1"):
        type("Bad", (TabularGenerator,), {"param_defaults": {"batch_size": 0}})


# ------------------------------------------------------------------------ unknown names
def test_an_unknown_parameter_is_one_line_with_the_closest_name_and_the_valid_ones():
    with pytest.raises(ParameterError) as raised:
        create("dp-vae", epoch=2)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("unknown parameter 'epoch' for dp-vae; did you mean 'epochs'? valid: ")
    assert message.split("valid: ")[1].split(", ") == sorted(PINNED["dp-vae"])
    assert isinstance(raised.value, DpsynthError) and isinstance(raised.value, TypeError)


def test_an_unknown_parameter_without_a_close_name_lists_the_valid_ones():
    with pytest.raises(ParameterError, match=r"^unknown parameter 'colour' for dp-gan; valid: accountant, aux_weight, "):
        create("dp-gan", colour="red")


def test_set_params_refuses_unknown_names_too():
    with pytest.raises(ParameterError, match="unknown parameter 'latnt_dim' for dp-image-vae; did you mean "
                                             "'latent_dim'?"):
        create("dp-image-vae").set_params(latnt_dim=8)


# --------------------------------------------------------------------------- bad values
@pytest.mark.parametrize("name, params, message", [
    ("dp-vae", {"epochs": "abc"}, "parameter 'epochs' of dp-vae must be None (by cohort size) or a number > 0 "
                                  "(got 'abc')"),
    ("dp-vae", {"epochs": -1}, "parameter 'epochs' of dp-vae must be None (by cohort size) or a number > 0 (got -1)"),
    ("dp-vae", {"batch_size": 0}, "parameter 'batch_size' of dp-vae must be None (by cohort size) or a whole "
                                  "number >= 1 (got 0)"),
    ("dp-vae", {"batch_size": 64.5}, "parameter 'batch_size' of dp-vae must be None (by cohort size) or a whole "
                                     "number >= 1 (got 64.5)"),
    ("dp-vae", {"batch_size": True}, "parameter 'batch_size' of dp-vae must be None (by cohort size) or a whole "
                                     "number >= 1 (got True)"),
    ("dp-vae", {"hidden": 256}, "parameter 'hidden' of dp-vae must be a list of whole numbers >= 1"),
    ("dp-vae", {"accountant": "gdp"}, "parameter 'accountant' of dp-vae must be one of 'prv', 'rdp' (got 'gdp')"),
    ("dp-vae", {"condition_share": 1.0}, "parameter 'condition_share' of dp-vae must be a number in [0, 1)"),
    ("dp-vae", {"rows_per_step": 0}, "must be None (all rows) or a whole number >= 1 (got 0)"),
    ("dp-vae", {"ema_decay": 1.0}, "parameter 'ema_decay' of dp-vae must be None (no weight average) or a number"),
    ("dp-vae", {"secure_mode": "yes"}, "parameter 'secure_mode' of dp-vae must be true or false (got 'yes')"),
    ("dp-vae", {"temperature": 0}, "parameter 'temperature' of dp-vae must be a number > 0 (got 0)"),
    ("dp-gan", {"generator_steps": 0}, "parameter 'generator_steps' of dp-gan must be a whole number >= 1"),
    ("dp-series-gan", {"conv_channels": []}, "parameter 'conv_channels' of dp-series-gan must be a list of whole"),
    ("dp-series-diffusion", {"kernel": 4}, "parameter 'kernel' of dp-series-diffusion must be an odd whole number"),
    ("dp-image-vae", {"sigma": -0.1}, "parameter 'sigma' of dp-image-vae must be a number > 0 (got -0.1)"),
    ("dp-diffusion", {"time_dim": 7}, "parameter 'time_dim' of dp-diffusion must be an even whole number >= 2"),
    ("dp-diffusion", {"sampling_steps": 2000}, "parameters of dp-diffusion: sampling_steps must be at most timesteps"),
    ("dp-diffusion", {"condition_dropout": 0.0}, "guidance > 0 needs an unconditional model"),
    ("dp-marginal", {"unpaired": "sex"}, "parameter 'unpaired' of dp-marginal must be a list of names"),
    ("dp-marginal", {"unpaired": ["sex", ""]}, "parameter 'unpaired' of dp-marginal must be a list of names"),
])
def test_a_bad_value_is_one_line_naming_the_parameter_the_value_and_what_is_allowed(name, params, message):
    with pytest.raises(ParameterError) as raised:
        create(name, **params)
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_values_are_checked_at_construction_before_any_data():
    class Exploding:
        def __len__(self):
            raise AssertionError("data was read")

    with pytest.raises(ParameterError):
        create("dp-vae", batch_size=0).fit(Exploding(), budget=PrivacyBudget(1.0, 1e-5))


def test_a_guided_model_with_guidance_off_needs_no_dropout():
    assert create("dp-diffusion", guidance=0.0, condition_dropout=0.0).guidance == 0.0


# ---------------------------------------------------------------------- get / set params
@pytest.mark.parametrize("info", DP_GENERATORS, ids=lambda i: i.name)
def test_get_and_set_params_round_trip(info):
    model = create(info.name)
    params = model.get_params()
    assert model.set_params(**params) is model
    assert model.get_params() == params
    again = info.cls(SCHEMAS[info.modality](), **params)
    assert again.get_params() == params


def test_set_params_changes_attributes_and_training_settings_with_sequences_as_tuples():
    model = create("dp-series-gan").set_params(latent_dim=8, conv_channels=[4, 8], epochs=2, rows_per_step=None)
    assert (model.latent_dim, model.conv_channels) == (8, (4, 8))
    assert (model.training.epochs, model.training.rows_per_step) == (2, None)
    assert model.get_params()["conv_channels"] == [4, 8]
    assert model.training.batch_size == 256  # the rest as they were


def test_set_params_checks_values_and_keeps_the_old_ones_on_error():
    model = create("dp-vae")
    with pytest.raises(ParameterError, match="'batch_size'"):
        model.set_params(latent_dim=8, batch_size=0)
    assert model.latent_dim == 32 and model.training.batch_size is None  # dp-vae's default: by cohort size


def test_set_params_is_refused_after_fit():
    model = create("dp-vae", epochs=1, batch_size=64, hidden=[16], n_bins=8, latent_dim=4)
    model.fit(make_toy_frame(n=200), budget=PrivacyBudget(5.0, 1e-5), progress=False)
    with pytest.raises(ParameterError, match="dp-vae is fitted: set_params changes parameters before fit only"):
        model.set_params(epochs=3)


# ----------------------------------------------------------------- signature and help()
@pytest.mark.parametrize("info", DP_GENERATORS, ids=lambda i: i.name)
def test_the_signature_shows_every_parameter_keyword_only_with_its_default(info):
    signature = inspect.signature(info.cls)
    parameters = list(signature.parameters.values())
    assert parameters[0].name == "schema"
    assert [p.name for p in parameters[1:]] == list(info.cls.param_specs)
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters[1:])
    defaults = {p.name: p.default for p in parameters[1:]}
    assert canonical({n: list(v) if isinstance(v, tuple) else v for n, v in defaults.items()}) == canonical(
        PINNED[info.name])


def test_help_shows_the_parameters_with_defaults_and_descriptions():
    text = pydoc.render_doc(registry.get("dp-vae").cls, renderer=pydoc.plaintext)
    assert "DPTabularVAE(schema, *, latent_dim: int = 32, beta: float = 1.0" in text
    assert "epochs : float | None = None  (None (by cohort size) or a number > 0)" in text
    assert "passes over the data" in text and "width of the latent code z" in text
    gan = pydoc.render_doc(registry.get("dp-gan").cls, renderer=pydoc.plaintext)
    assert "aux_weight : float = 3.0" in gan and "lr : float = 0.001" in gan  # the generator's own defaults


def test_registry_lists_parameters_for_dp_and_reference_generators():
    rows = {row.name: row for row in registry.parameters("dp-image-diffusion")}
    assert set(rows) == set(PINNED["dp-image-diffusion"])
    assert rows["ema_decay"].default == 0.999 and rows["ema_decay"].help
    reference = {row.name: row for row in registry.parameters("sdv-ctgan")}
    assert reference["epochs"].default == 300 and "**sdv_params" in reference

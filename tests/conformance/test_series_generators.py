"""Every registered private series generator honours the same contract as the tabular ones,
with the subject — all of its windows — as the privacy unit.

New series generators are picked up from the registry automatically; they pass these
tests with the shared tiny settings only.
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
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.dpsgd import DPSGDPlan, epsilon_for_history
from dpsynth.series.schema import SeriesData
from tests.conftest import make_toy_series, make_toy_series_schema

TINY_SHARED = dict(epochs=1, batch_size=16, hidden=(16,), n_bins=8)
NAMES = [info.name for info in registry.available("series") if info.private]
DPSGD_NAMES = [info.name for info in registry.available("series") if info.private and info.family != "moments"]
BUDGET = PrivacyBudget(0.5, 1e-5)


@pytest.fixture(scope="module", params=NAMES)
def fitted(request):
    model = registry.create(request.param, make_toy_series_schema(), **TINY_SHARED)
    return model.fit(make_toy_series(), budget=BUDGET, random_state=7, progress=False)


def test_at_least_one_series_generator_is_registered():
    assert "dp-series-vae" in NAMES


def test_ledger_within_budget(fitted):
    eps, delta = fitted.privacy_spent()
    assert 0 < eps <= BUDGET.epsilon + 1e-9 and 0 < delta <= BUDGET.delta
    assert type(fitted).training_mechanism in [e.mechanism for e in fitted.ledger_.entries]


def test_the_subject_is_the_privacy_unit(fitted):
    """Sampling and accounting are per subject: q = batch / subjects, not / windows, and each
    subject's windows sit in one unit of the training tensors."""
    data, schema = make_toy_series(), make_toy_series_schema()
    assert fitted.n_units_ == len(data.static)
    if isinstance(fitted.plan_, DPSGDPlan):
        assert fitted.plan_.n_units == len(data.static)
        assert fitted.plan_.sample_rate == pytest.approx(1 / -(-len(data.static) // TINY_SHARED["batch_size"]))
    conformed, _ = schema.conform(data)
    groups, _ = fitted._condition_groups(conformed, schema)
    x, c, mask = fitted._unit_tensors(conformed, fitted.codec_, groups, schema, np.random.default_rng(0))
    windows = [len(schema.windows(conformed.signals[s])) for s in conformed.static["subject"]]
    assert x.shape[0] == len(data.static) and mask.sum(1).tolist() == windows
    assert max(windows) > 1  # the toy data does give subjects several windows
    assert "subject" in fitted.privacy_card().privacy_unit


def test_shapes_and_public_bounds(fitted):
    schema = make_toy_series_schema()
    out = fitted.sample(37, random_state=0)
    assert isinstance(out, SeriesData) and len(out.static) == 37
    assert list(out.static.columns) == ["subject"] + schema.static.names
    assert out.static["subject"].is_unique
    conformed, report = schema.conform(out)  # raises on any type, domain or bound violation
    assert report.clipped == {} and report.static_clipped == {}
    for signal in out.signals.values():
        assert signal.shape == (schema.window, len(schema.channels)) and signal.dtype == np.float64
        assert not np.isnan(signal).any()
    empty = fitted.sample(0)
    assert len(empty.static) == 0 and empty.signals == {}


def test_seed_determinism(fitted):
    a, b, c = (fitted.sample(20, random_state=s) for s in (5, 5, 6))
    pd.testing.assert_frame_equal(a.static, b.static)
    assert all(np.array_equal(a.signals[k], b.signals[k]) for k in a.signals)
    assert not all(np.array_equal(a.signals[k], c.signals[k]) for k in a.signals)


def test_save_load_round_trip(fitted, tmp_path):
    fitted.save(tmp_path / "bundle")
    loaded = DPGenerator.load(tmp_path / "bundle")
    assert type(loaded) is type(fitted)
    a, b = loaded.sample(8, random_state=1), fitted.sample(8, random_state=1)
    pd.testing.assert_frame_equal(a.static, b.static)
    assert all(np.array_equal(a.signals[k], b.signals[k]) for k in a.signals)
    assert loaded.privacy_card().epsilon == pytest.approx(fitted.privacy_card().epsilon)


def test_conditions_honoured(fitted):
    out = fitted.sample(40, conditions={"label": "abnormal", "age_band": "60+", "sex": "male"}, random_state=2)
    assert (out.static["label"] == "abnormal").all() and (out.static["sex"] == "male").all()
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
    assert card["schema_sha256"] == make_toy_series_schema().fingerprint()


@pytest.mark.parametrize("name", DPSGD_NAMES)
def test_uses_poisson_sampling_and_ghost_clipping(name, monkeypatch):
    seen = {}
    original = training.PrivacyEngine.make_private

    def spy(self, **kwargs):
        seen.update(kwargs)
        return original(self, **kwargs)

    monkeypatch.setattr(training.PrivacyEngine, "make_private", spy)
    registry.create(name, make_toy_series_schema(), **TINY_SHARED).fit(make_toy_series(), budget=BUDGET,
                                                                       progress=False)
    assert seen["poisson_sampling"] is True and seen["grad_sample_mode"] == "ghost"


def test_modules_pass_opacus_validation(fitted):
    module = fitted._build_module(fitted.codec_).train()
    assert ModuleValidator.validate(module, strict=False) == []
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules())


@pytest.mark.parametrize("name", NAMES)
def test_a_table_instead_of_series_data_is_a_clear_error(name):
    model = registry.create(name, make_toy_series_schema(), **TINY_SHARED)
    with pytest.raises(SchemaError, match="SeriesData"):
        model.fit(make_toy_series().static, budget=BUDGET, progress=False)


def test_sampling_in_chunks_keeps_every_subject_and_id(fitted, monkeypatch):
    """Large samples are decoded a chunk at a time: ids run on across chunks, none repeats."""
    import dpsynth.generator

    whole = fitted.sample(7, random_state=3)
    monkeypatch.setattr(dpsynth.generator, "SAMPLE_CHUNK", 3)
    chunked = fitted.sample(7, random_state=3)
    ids = chunked.static["subject"].tolist()
    assert ids == whole.static["subject"].tolist() and len(set(ids)) == 7 == len(chunked.signals)
    assert set(chunked.signals) == set(ids)


@pytest.mark.parametrize("name", NAMES)
def test_a_missing_channel_comes_out_with_gaps_that_read_back(name):
    """With ``missing: true`` a channel's unobserved samples are modelled and written as NaN
    (never all of a window); the synthetic data passes its own schema."""
    spec = make_toy_series_schema().to_dict()
    spec["channels"][0]["missing"] = True
    schema = type(make_toy_series_schema()).from_dict(spec)
    data = make_toy_series()
    rng = np.random.default_rng(0)
    for signal in data.signals.values():
        signal[rng.random(len(signal)) < 0.5, 0] = np.nan  # half the first channel's visits missing
    model = registry.create(name, schema, **TINY_SHARED).fit(data, budget=PrivacyBudget(4.0, 1e-5),
                                                              random_state=0, progress=False)
    synthetic = model.sample(30, random_state=0)
    signals = np.stack([synthetic.signals[s] for s in synthetic.static["subject"]])
    assert 0.0 < np.isnan(signals[..., 0]).mean() < 1.0 and not np.isnan(signals[..., 1]).any()
    schema.conform(synthetic)  # reads back: every subject has an observed sample

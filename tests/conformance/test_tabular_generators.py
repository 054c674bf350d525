"""Every registered private tabular generator honours the same contract.

New generators are picked up from the registry automatically; they pass these tests with
the shared tiny settings only (no family-specific parameters).
"""

import numpy as np
import pandas as pd
import pytest
import torch
from opacus.validators import ModuleValidator

from dpsynth import registry
from dpsynth.families import training
from dpsynth.tabular.generator import TabularGenerator
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.dpsgd import DPSGDPlan, epsilon_for_history
from dpsynth.privacy.recheck import TRAINING
from tests.conftest import make_toy_frame, make_toy_schema

TINY_SHARED = dict(epochs=1, batch_size=64, hidden=(16,), n_bins=8)
NAMES = [info.name for info in registry.available("tabular") if info.private]
DPSGD_NAMES = [info.name for info in registry.available("tabular") if info.private and info.family != "marginal"]
BUDGET = PrivacyBudget(0.5, 1e-5)  # a tiny budget: must still train and stay inside it


@pytest.fixture(scope="module", params=NAMES)
def fitted(request):
    model = registry.create(request.param, make_toy_schema(), **TINY_SHARED)
    return model.fit(make_toy_frame(), budget=BUDGET, random_state=7, progress=False)


def test_ledger_within_budget(fitted):
    eps, delta = fitted.privacy_spent()
    assert 0 < eps <= BUDGET.epsilon + 1e-9 and 0 < delta <= BUDGET.delta
    assert [e.mechanism for e in fitted.ledger_.entries if e.mechanism in TRAINING] in (
        ["dp-sgd"], ["marginal-measurements"], ["marginal-measurements", "dp-sgd"])  # the last: an anchored decoder


def test_shapes_dtypes_and_public_bounds(fitted):
    schema = make_toy_schema()
    out = fitted.sample(257, random_state=0)
    assert list(out.columns) == schema.names and len(out) == 257
    conformed, report = schema.conform(out)  # raises on any type, domain or bound violation
    assert report.clipped == {} and report.unseen_to_missing == {}
    for col in ("age", "heart_rate", "lab"):
        assert out[col].dtype == float
    assert fitted.sample(0).shape == (0, len(schema.names))


def test_seed_determinism(fitted):
    pd.testing.assert_frame_equal(fitted.sample(100, random_state=5), fitted.sample(100, random_state=5))
    assert not fitted.sample(100, random_state=5).equals(fitted.sample(100, random_state=6))


def test_save_load_round_trip(fitted, tmp_path):
    fitted.save(tmp_path / "bundle")
    loaded = TabularGenerator.load(tmp_path / "bundle")
    assert type(loaded) is type(fitted)
    pd.testing.assert_frame_equal(loaded.sample(64, random_state=1), fitted.sample(64, random_state=1))
    assert loaded.privacy_card().epsilon == pytest.approx(fitted.privacy_card().epsilon)


def test_conditions_honoured(fitted):
    out = fitted.sample(120, conditions={"outcome": "yes", "race": "other", "age_band": "18-49"}, random_state=2)
    assert (out["outcome"] == "yes").all()
    assert out["race"].isin(["asian", "other"]).all()
    assert ((out["age"] >= 18) & (out["age"] < 50)).all()
    groups = make_toy_schema().group_labels(make_toy_schema().conform(out)[0])
    assert np.all(groups["age_band"] == "18-49")


def test_rebalance_gives_the_requested_shares(fitted):
    """Subgroup shares are post-processing of the DP table: same ledger, requested mix."""
    spent = fitted.privacy_spent()

    def groups(rebalance):
        out = fitted.sample(3000, rebalance=rebalance, random_state=3)
        return make_toy_schema().group_labels(make_toy_schema().conform(out)[0])
    # One attribute at a time: two at once cannot always hold together on a table this noisy
    # (ε = 0.025 for 36 cells), and the sampler then refuses with a clear error.
    race = groups({"race": "equal"})["race"].value_counts(normalize=True)
    assert set(race.index) == {"white", "black", "other"}
    assert np.allclose(race.to_numpy(), 1 / 3, atol=0.04)
    sex = groups({"sex": {"female": 0.3, "male": 0.7}})["sex"].value_counts(normalize=True)
    assert sex["male"] == pytest.approx(0.7, abs=0.04)
    assert fitted.privacy_spent() == spent


def test_card_epsilon_is_what_opacus_computes_for_the_recorded_history(fitted):
    """Rule 3/6: the ε printed is opacus' accountant on the recorded history; training ran
    exactly the planned steps (it stops at the budget, not after). The marginal family has no
    DP-SGD (its accounting: tests/unit/privacy/test_marginals.py)."""
    if not isinstance(fitted.plan_, DPSGDPlan):
        pytest.skip("no DP-SGD in this family")
    card = fitted.privacy_card().to_dict()  # as the release writes it
    (sgd,) = card["dp_sgd"]
    recomputed = epsilon_for_history(sgd["history"], delta=sgd["delta"], accountant=sgd["accountant"])
    assert sgd["epsilon"] == pytest.approx(recomputed, rel=1e-9)
    assert card["epsilon"] == pytest.approx(sum(e["epsilon"] for e in card["ledger"]))
    assert fitted.log_.steps == sgd["steps"]
    for key in ("noise_multiplier", "max_grad_norm", "sample_rate", "steps"):
        assert sgd[key] > 0
    assert card["schema_sha256"] == make_toy_schema().fingerprint() and card["seed"] == 7
    assert card["generator"] == fitted.registered_name and "opacus" in card["versions"]


@pytest.mark.parametrize("name", DPSGD_NAMES)
def test_uses_poisson_sampling_and_ghost_clipping(name, monkeypatch):
    """Rule 3: every private step goes through opacus with poisson_sampling=True."""
    seen = {}
    original = training.PrivacyEngine.make_private

    def spy(self, **kwargs):
        seen.update(kwargs)
        return original(self, **kwargs)

    monkeypatch.setattr(training.PrivacyEngine, "make_private", spy)
    registry.create(name, make_toy_schema(), **TINY_SHARED).fit(make_toy_frame(), budget=BUDGET, progress=False)
    assert seen["poisson_sampling"] is True and seen["grad_sample_mode"] == "ghost"


def test_modules_pass_opacus_validation(fitted):
    """No BatchNorm or other layer opacus cannot make private."""
    module = fitted._build_module(fitted.codec_).train()
    assert ModuleValidator.validate(module, strict=False) == []
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules())


def test_sampling_in_chunks_gives_every_row_once(fitted, monkeypatch):
    """Large samples are decoded a chunk at a time (flat memory): same count, a fresh index."""
    import dpsynth.generator

    monkeypatch.setattr(dpsynth.generator, "SAMPLE_CHUNK", 7)
    rows = fitted.sample(30, random_state=5)
    assert len(rows) == 30 and rows.index.tolist() == list(range(30))
    assert rows.equals(fitted.sample(30, random_state=5))

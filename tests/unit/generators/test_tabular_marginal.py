"""dp-marginal: registration, the card, a saved bundle's ledger check, and what it keeps of
the outcome association on data where the association is known."""

import json

import numpy as np
import pandas as pd
import pytest

from dpsynth import registry
from dpsynth.bundle import BundleError, write_manifest
from dpsynth.errors import ParameterError
from dpsynth.generator import DPGenerator
from dpsynth.privacy.budget import PrivacyBudget
from tests.conftest import make_toy_frame, make_toy_schema

BUDGET = PrivacyBudget(1.0, 1e-5)


@pytest.fixture(scope="module")
def fitted():
    model = registry.create("dp-marginal", make_toy_schema(), n_bins=8)
    return model.fit(make_toy_frame(2000), budget=BUDGET, random_state=0, progress=False)


def test_is_registered_with_its_family_and_parameters():
    info = registry.get("dp-marginal")
    assert (info.family, info.modality, info.private) == ("marginal", "tabular", True)
    names = {p.name for p in registry.parameters("dp-marginal")}
    assert {"one_way_share", "selection_share", "cell_signal", "pair_groups", "unpaired", "n_bins",
            "condition_share"} <= names
    with pytest.raises(ParameterError, match="must be below 1"):
        registry.create("dp-marginal", make_toy_schema(), one_way_share=0.6, selection_share=0.5)


def test_the_card_lists_the_noisy_marginals_and_their_rho(fitted):
    card = fitted.privacy_card()
    text = card.describe()
    assert "noisy measurements (zCDP, OpenDP) (marginal-measurements)" in text and card.dp_sgd == ()
    assert "ρ = " in text and "target pairs" in text
    (entry,) = [e for e in card.ledger if e.mechanism == "marginal-measurements"]
    assert set(entry.params["stages"]) == {"one-way", "target pairs"}
    assert card.epsilon == pytest.approx(sum(e.epsilon for e in card.ledger)) and card.epsilon <= 1.0


def test_it_keeps_the_outcome_association_it_measured(fitted):
    """The toy outcome rises with age and heart rate: the synthetic rows must show it too."""
    out = fitted.sample(4000, random_state=1)
    yes = out["outcome"] == "yes"
    assert out.loc[yes, "age"].mean() > out.loc[~yes, "age"].mean() + 3
    assert set(out["outcome"]) == {"yes", "no"} and 0.1 < out["lab"].isna().mean() < 0.35


def test_target_pairs_merge_numeric_bins_in_order_and_categories_by_frequency(fitted):
    blocks = [(b.column, b.role) for b in fitted.codec_.blocks if b.role != "fine"]
    merges = dict(zip(blocks, fitted._pair_merges(fitted.codec_)))
    assert merges[("age", "bin")] == merges[("heart_rate", "bin")] == merges[("lab", "bin")] == "ordered"
    assert merges[("race", "category")] == merges[("lab", "missing")] == "categories"


@pytest.mark.parametrize("change, match", [
    (lambda e: e["params"].update(rho=e["params"]["rho"] * 10), "add up"),
    (lambda e: e["params"].update(rho=e["params"]["rho"] * 10,
                                  stages={k: v * 10 for k, v in e["params"]["stages"].items()}),
     "but its parameters give"),
    (lambda e: e.update(mechanism="laplace-histogram"), "no 'marginal-measurements' entry|δ is"),
])
def test_a_forged_marginal_ledger_is_refused_on_load(fitted, tmp_path, change, match):
    path = fitted.save(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    change(next(e for e in config["ledger"]["entries"] if e["mechanism"] == "marginal-measurements"))
    (path / "config.json").write_text(json.dumps(config))
    write_manifest(path, kind="model")
    with pytest.raises(BundleError, match=match):
        DPGenerator.load(path)
    pd.testing.assert_frame_equal(fitted.sample(10, random_state=3), fitted.sample(10, random_state=3))


def test_settings_it_does_not_use_are_named_in_a_warning():
    model = registry.create("dp-marginal", make_toy_schema(), n_bins=8, epochs=5, lr=0.1)
    with pytest.warns(UserWarning, match="epochs, lr set but not used"):
        model.fit(make_toy_frame(), budget=BUDGET, progress=False)


def test_unpaired_columns_are_drawn_without_their_outcome_rate():
    """Sex moves the toy outcome; kept out of the target pairs, every sex gets the overall rate."""
    model = registry.create("dp-marginal", make_toy_schema(), n_bins=8, unpaired=["sex", "race"], cell_signal=1e-3)
    model.fit(make_toy_frame(2000), budget=PrivacyBudget(8.0, 1e-5), random_state=0, progress=False)
    paired = {b.column for b in model.codec_.blocks if model.module_.measured_pairs[b.start:b.stop].all()}
    assert "sex" not in paired and "race" not in paired and "age" in paired
    out = model.sample(6000, random_state=1)
    rates = (out["outcome"] == "yes").groupby(out["sex"]).mean()
    assert abs(rates["male"] - rates["female"]) < 0.05  # the real rates differ by about 0.1
    assert out["sex"].value_counts(normalize=True).min() > 0.4  # each group keeps its share


def test_a_sensitive_attribute_is_unpaired_by_its_name():
    model = registry.create("dp-marginal", make_toy_schema(), n_bins=8, unpaired=["age_band"], cell_signal=1e-3)
    model.fit(make_toy_frame(2000), budget=PrivacyBudget(8.0, 1e-5), random_state=0, progress=False)
    paired = {b.column for b in model.codec_.blocks if model.module_.measured_pairs[b.start:b.stop].all()}
    assert "age" not in paired and "heart_rate" in paired


@pytest.mark.parametrize("unpaired, match", [
    (["sex", "ethnicity"], r"unpaired names \['ethnicity'\] that are neither.*its columns: age, sex.*"
                           r"its sensitive attributes: sex, race, age_band"),
    (["outcome"], "cannot hold the target 'outcome'"),
])
def test_unpaired_names_are_checked_before_the_data_is_read(unpaired, match, monkeypatch):
    model = registry.create("dp-marginal", make_toy_schema(), unpaired=unpaired)
    monkeypatch.setattr(type(model), "_train", lambda *a, **k: pytest.fail("measured before the check"))
    with pytest.raises(ParameterError, match=match):
        model.fit(make_toy_frame(), budget=BUDGET, progress=False)
    with pytest.raises(ParameterError, match="a list of names"):
        registry.create("dp-marginal", make_toy_schema(), unpaired="sex")

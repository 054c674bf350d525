"""The DP-VAE and the shared tabular pipeline, checked against the privacy contract."""

import json
import re

import numpy as np
import pandas as pd
import pytest
import torch

from dpsynth import registry
from dpsynth.bundle import write_manifest
from dpsynth.errors import BudgetError, DpsynthError, NotFittedError, ParameterError, SchemaError
from dpsynth.tabular.generator import TabularGenerator
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.recheck import recheck_ledger
from tests.conftest import TINY, make_toy_frame, make_toy_schema

BUDGET = PrivacyBudget(1.0, 1e-5)


def fit_tiny(frame=None, schema=None, budget=BUDGET, seed=0, learn_domain_share=None, **params):
    model = registry.create("dp-vae", schema or make_toy_schema(), **(TINY | params))
    return model.fit(make_toy_frame() if frame is None else frame, budget=budget, random_state=seed,
                     learn_domain_share=learn_domain_share, progress=False)


@pytest.fixture(scope="module")
def fitted():
    return fit_tiny()


def test_is_registered_with_family_and_modality():
    info = registry.get("dp-vae")
    assert (info.family, info.modality, info.private) == ("vae", "tabular", True)


def test_samples_have_schema_columns_within_public_bounds(fitted):
    out = fitted.sample(300, random_state=1)
    schema = make_toy_schema()
    assert list(out.columns) == schema.names and len(out) == 300
    conformed, report = schema.conform(out)  # raises if anything is outside the schema
    assert report.clipped == {}
    assert out["heart_rate"].dropna().eq(out["heart_rate"].dropna().round()).all()
    assert out["lab"].isna().any(), "missing values are modelled, not dropped"


def test_ledger_holds_every_read_and_stays_within_budget(fitted):
    """Rule 1: the decoder anchor's measurements and DP-SGD are on the ledger (with a
    ``condition_share``, the condition counts first); nothing else ran."""
    mechanisms = [e.mechanism for e in fitted.ledger_.entries]
    assert mechanisms == ["marginal-measurements", "dp-sgd"]
    assert [e.mechanism for e in fit_tiny(anchor_share=0.0, condition_share=0.05).ledger_.entries] == [
        "laplace-histogram", "dp-sgd"]
    eps, delta = fitted.privacy_spent()
    assert eps <= BUDGET.epsilon + 1e-9 and delta <= BUDGET.delta


@pytest.mark.parametrize("params", [{}, {"condition_share": 0.05}], ids=["anchor's tables", "laplace counts"])
def test_condition_mix_comes_from_noisy_counts_not_raw_frequencies(params):
    frame = make_toy_frame()
    schema = make_toy_schema()
    raw = schema.group_labels(schema.conform(frame)[0]).value_counts()
    table = fit_tiny(**params).condition_table_.set_index(list(schema.condition_domains()))["_weight"]
    aligned = table.reindex(raw.index)
    assert not np.allclose(aligned.to_numpy(), raw.to_numpy())
    assert len(table) == 2 * 2 * 3 * 3  # the full public product, empty cells included


def test_an_anchored_fit_takes_its_condition_mix_from_the_anchor_at_no_extra_cost(fitted):
    """Post-processing of the anchor's measurements: no Laplace table on the ledger, the mix
    totals the measurements' noisy count, and it follows the measured group shares."""
    assert fitted.own_condition_mix and "laplace-histogram" not in [e.mechanism for e in fitted.ledger_.entries]
    table = fitted.condition_table_
    assert table["_noisy"].sum() == pytest.approx(400, rel=0.2)  # the toy frame's 400 rows, noised
    by_sex = table.groupby("sex")["_noisy"].sum()
    assert by_sex.min() > 0.2 * by_sex.sum()  # both groups hold a real share, as in the data
    with_counts = fit_tiny(condition_share=0.05)
    assert not with_counts.own_condition_mix
    assert [e.mechanism for e in with_counts.ledger_.entries][0] == "laplace-histogram"


def test_uniform_condition_mix_costs_nothing():
    model = fit_tiny(anchor_share=0.0, condition_share=0.0)
    assert [e.mechanism for e in model.ledger_.entries] == ["dp-sgd"] and not model.own_condition_mix
    assert model.condition_table_["_weight"].nunique() == 1


def test_changing_one_private_record_leaves_every_fitted_transform_unchanged():
    """Rule 2: an extreme age and a rare category in one record change no transform."""
    frame = make_toy_frame()
    changed = frame.copy()
    changed.loc[0, ["age", "race"]] = [109.9, "asian"]
    a, b = fit_tiny(frame), fit_tiny(changed)
    assert a.codec_.blocks == b.codec_.blocks
    assert a.codec_.condition_domains == b.codec_.condition_domains
    for name in a.codec_._bin_edges:
        np.testing.assert_array_equal(a.codec_._bin_edges[name], b.codec_._bin_edges[name])
    assert a.schema_.to_dict() == b.schema_.to_dict()
    pd.testing.assert_frame_equal(a.condition_table_.drop(columns=["_weight", "_noisy"]),
                                  b.condition_table_.drop(columns=["_weight", "_noisy"]))


def test_overspend_raises_before_training_starts(monkeypatch):
    def must_not_train(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr("dpsynth.generator.train_dpsgd", must_not_train)
    with pytest.raises(BudgetError, match="too small to train"):
        fit_tiny(budget=PrivacyBudget(1e-4, 1e-9), epochs=50)


def test_refuses_non_public_schema_with_both_ways_out():
    schema = make_toy_schema()
    schema.columns[0].public = False
    with pytest.raises(SchemaError, match=r"confirm public values.*learn them with a DP"):
        fit_tiny(schema=schema)


def test_learns_missing_bounds_and_domains_on_the_ledger():
    schema = make_toy_schema()
    schema.columns[0].public = False  # age bounds
    schema.columns[2].public = False  # race categories
    model = fit_tiny(schema=schema, frame=make_toy_frame(n=2000), learn_domain_share=0.5,
                     budget=PrivacyBudget(4.0, 1e-5))
    purposes = [e.purpose for e in model.ledger_.entries]
    assert "bounds of column 'age'" in purposes and "categories of column 'race'" in purposes
    assert model.privacy_spent()[0] <= 4.0 + 1e-9
    assert set(model.schema_.column("race").categories) <= {"white", "black", "asian", "other"}


def test_same_seed_is_not_the_same_model_and_save_load_round_trip(fitted, tmp_path):
    """Rule 9: the seed is public, the training noise is not; a saved model samples as it did."""
    again = fit_tiny()
    assert not fitted.sample(200, random_state=3).equals(again.sample(200, random_state=3))
    fitted.save(tmp_path / "model")
    loaded = TabularGenerator.load(tmp_path / "model")
    pd.testing.assert_frame_equal(fitted.sample(200, random_state=3), loaded.sample(200, random_state=3))
    assert loaded.privacy_spent() == fitted.privacy_spent()


def test_schedule_follows_the_cohort_size_and_the_bundle_records_the_batch_used(tmp_path):
    """The defaults give 500 units batch 128 for 400 steps (not 30 full-batch steps); the
    ledger holds the batch that ran, and a bundle whose batch_size is None loads."""
    model = registry.create("dp-vae", make_toy_schema())
    assert (model.training.batch_size, model.training.epochs) == (None, None)
    plan = model._plan_training(n_units=500, epsilon=1.0, delta=1e-5)
    assert (plan.batch_size, plan.sample_rate, plan.steps) == (128, 0.25, 400)
    quick = fit_tiny(batch_size=None, epochs=1)  # 400 rows: batch 128, 4 steps
    entry = next(e for e in quick.ledger_.entries if e.mechanism == "dp-sgd")
    assert (entry.params["batch_size"], entry.params["steps"]) == (128, 4)
    loaded = TabularGenerator.load(quick.save(tmp_path / "model"))
    assert loaded.training.batch_size is None and loaded.privacy_spent() == quick.privacy_spent()


def test_bundle_holds_no_training_rows_and_no_pickle(fitted, tmp_path):
    """Rule 6: config is JSON of public + DP values; weights load with weights_only=True."""
    path = fitted.save(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    assert set(config) == {"bundle_format", "generator", "params", "schema", "condition_table", "ledger",
                           "seed", "public_pretraining"}
    assert config["public_pretraining"] is None  # only image generators pretrain on public data
    text = (path / "config.json").read_text()
    for value in make_toy_frame()["lab"].dropna().astype(str).head(20):
        assert f": {value}," not in text and f"[{value}," not in text
    state = torch.load(path / "weights.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_release_holds_no_exact_counts(tmp_path):
    """Rule 6: neither the exact number of rows nor the count of clipped values is released."""
    frame = make_toy_frame(n=437)
    frame.loc[:4, "lab"] = 99.0  # 5 values outside the public bounds, clipped by the schema
    schema = make_toy_schema()
    schema.column("lab").out_of_bounds = "clip"
    model = fit_tiny(frame=frame, schema=schema)
    assert model.data_report_.clipped == {"lab": 5}  # the operator sees it ...
    path = model.save(tmp_path / "model")
    released = model.privacy_card().to_json() + (path / "config.json").read_text()
    assert not re.search(r"(?<![\d.])437(?![\d.])", released)  # ... the release does not
    assert '"clipped"' not in released and '"lab": 5' not in released


def test_conditions_are_honoured(fitted):
    out = fitted.sample(200, conditions={"sex": "female", "age_band": "70+"}, random_state=0)
    assert (out["sex"] == "female").all() and (out["age"] >= 70).all()
    with pytest.raises(SchemaError, match="'sex' takes one of"):
        fitted.sample(5, conditions={"sex": "unknown"})
    with pytest.raises(SchemaError, match="neither the target nor a sensitive"):
        fitted.sample(5, conditions={"lab": "1"})


def test_subject_is_the_privacy_unit():
    """Rule 8: with a subject id, units are subjects; each gets one clipped gradient."""
    frame = make_toy_frame(n=600)
    frame.insert(0, "patient", np.repeat(np.arange(200), 3).astype(str))
    schema = make_toy_schema()
    schema.subject_id = "patient"
    model = fit_tiny(frame=frame, schema=schema)
    assert model.n_units_ == 200
    assert model.plan_.sample_rate == pytest.approx(1 / np.ceil(200 / TINY["batch_size"]))
    assert "subject" in model.privacy_card().privacy_unit
    tensors = model._unit_tensors(*_prepared(model, frame, schema))
    assert tensors[0].shape[:2] == (200, 3) and tensors[2].sum() == 600


def _prepared(model, frame, schema):
    conformed = schema.conform(frame)[0]
    return conformed, model.codec_, schema.group_labels(conformed), schema, np.random.default_rng(0)


def test_secure_mode_without_csprng_is_a_clear_error():
    with pytest.raises(DpsynthError, match="torchcsprng"):
        fit_tiny(secure_mode=True)


def test_unfitted_generator_says_so():
    with pytest.raises(NotFittedError, match="call fit"):
        registry.create("dp-vae", make_toy_schema()).sample(3)


def test_bad_data_is_a_clear_error_before_training():
    frame = make_toy_frame()
    with pytest.raises(SchemaError, match="missing column"):
        fit_tiny(frame=frame.drop(columns="lab"))
    frame.loc[3, "age"] = 140.0
    with pytest.raises(SchemaError, match="'age' has 1 value"):
        fit_tiny(frame=frame)


def test_empty_subgroup_is_reported_from_dp_counts(monkeypatch):
    """The warning reads the released noisy counts. An empty group's noisy total passes the
    2-s.d. threshold by chance in about 2 % of fits, so the noise is held at zero here (the
    test is of the rule, not of the noise)."""
    monkeypatch.setattr("dpsynth.privacy.conditions.laplace_histogram", lambda counts, *, epsilon: counts)
    frame = make_toy_frame(n=600)
    frame = frame[~frame["race"].isin(["asian", "other"])]  # the group "other" is empty
    with pytest.warns(UserWarning, match=r"'race': group\(s\) \['other'\] look empty under the DP counts"):
        fit_tiny(frame=frame, budget=PrivacyBudget(50.0, 1e-5), condition_share=0.05)


def test_empty_subgroup_is_reported_from_the_anchor_measurements(monkeypatch):
    """The anchor's mix warns as the Laplace table does (noise held at zero, as above)."""
    monkeypatch.setattr("dpsynth.families.marginal.gaussian_counts", lambda counts, **_: counts)
    frame = make_toy_frame(n=600)
    frame = frame[~frame["race"].isin(["asian", "other"])]
    with pytest.warns(UserWarning, match=r"'race': group\(s\) \['other'\] look empty under the DP counts"):
        fit_tiny(frame=frame, budget=PrivacyBudget(50.0, 1e-5))


def test_structural_errors_come_before_any_mechanism(monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("a DP mechanism ran on malformed data")

    monkeypatch.setattr("dpsynth.tabular.generator.learn_public_values", must_not_run)
    schema = make_toy_schema()
    schema.columns[0].public = False
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['lab'\]"):
        fit_tiny(frame=make_toy_frame().drop(columns="lab"), schema=schema, learn_domain_share=0.2)


def test_device_setting_is_checked_before_private_data_and_saved(fitted, tmp_path):
    assert fitted.get_params()["device"] == "auto"
    model = registry.create("dp-vae", make_toy_schema(), device="tpu", epochs=1)
    with pytest.raises(DpsynthError, match="device must be"):
        model.fit(pd.DataFrame({"no": [1]}), budget=PrivacyBudget(1.0, 1e-5))  # not even the columns are read
    loaded = type(fitted).load(fitted.save(tmp_path / "bundle"), device="cpu")
    assert loaded.training.device == "cpu"
    pd.testing.assert_frame_equal(loaded.sample(20, random_state=3), fitted.sample(20, random_state=3))


def test_declared_rules_hold_in_every_sampled_row():
    """By construction: the derived columns are not modelled and ranges restrict the draw, so even
    a barely trained model keeps every rule of the schema."""
    from tests.conftest import make_ruled_toy_frame, make_ruled_toy_schema

    schema = make_ruled_toy_schema()
    model = fit_tiny(frame=make_ruled_toy_frame(), schema=schema, epochs=1)
    out = model.sample(400, random_state=1)
    assert list(out.columns) == schema.names
    for rule in schema.rules:
        assert rule.holds(out).all(), rule.label
    schema.conform(out)


@pytest.fixture(scope="module")
def anchored():
    return fit_tiny(anchor_share=0.6, condition_share=0.05)


def test_an_anchor_share_puts_the_measurements_and_dp_sgd_on_the_ledger_within_budget(anchored):
    """Rule 1: the anchor's measurements are their own entry, charged before training; the two
    training entries split the training budget as ``anchor_share`` says and δ evenly."""
    entries = anchored.ledger_.entries
    assert [e.mechanism for e in entries] == ["laplace-histogram", "marginal-measurements", "dp-sgd"]
    measured, dpsgd = entries[1:]
    training = BUDGET.epsilon * (1 - anchored.training.condition_share)
    assert measured.epsilon <= 0.6 * training + 1e-9 and dpsgd.epsilon <= 0.4 * training + 1e-9
    assert measured.epsilon > 0.55 * training and measured.delta == dpsgd.delta == BUDGET.delta / 2
    eps, delta = anchored.privacy_spent()
    assert eps <= BUDGET.epsilon + 1e-9 and delta <= BUDGET.delta
    assert recheck_ledger(anchored.ledger_) == []
    assert anchored.module_.decoder.anchor.measured_pairs.any()


def test_an_anchored_fit_measures_with_secret_noise_and_its_bundle_samples_as_it_did(anchored, tmp_path):
    """Rule 9: the same data and seed give another anchor (OpenDP's noise is not the seed's);
    the bundle keeps the measured table, and its ledger passes the load-time recheck."""
    again = fit_tiny(anchor_share=0.6, condition_share=0.05)
    assert not torch.equal(anchored.module_.decoder.anchor.log_probs, again.module_.decoder.anchor.log_probs)
    loaded = TabularGenerator.load(anchored.save(tmp_path / "model"))
    assert torch.equal(loaded.module_.decoder.anchor.log_probs, anchored.module_.decoder.anchor.log_probs)
    pd.testing.assert_frame_equal(anchored.sample(200, random_state=3), loaded.sample(200, random_state=3))
    assert loaded.privacy_spent() == anchored.privacy_spent()


def test_an_anchor_share_outside_zero_to_one_is_a_parameter_error():
    for share in (1.0, -0.1, "half"):
        with pytest.raises(ParameterError, match="anchor_share"):
            registry.create("dp-vae", make_toy_schema(), anchor_share=share)


def test_a_bundle_saved_before_anchor_share_existed_loads_without_an_anchor(tmp_path):
    """Its config lacks ``anchor_share``: it was trained by DP-SGD alone, so it loads as 0, not
    as today's default (which would build a decoder its weights do not fit)."""
    old = fit_tiny(anchor_share=0.0)
    folder = old.save(tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    del config["params"]["anchor_share"]
    (folder / "config.json").write_text(json.dumps(config))
    write_manifest(folder, kind="model")
    loaded = TabularGenerator.load(folder)
    assert loaded.anchor_share == 0.0
    pd.testing.assert_frame_equal(old.sample(100, random_state=2), loaded.sample(100, random_state=2))

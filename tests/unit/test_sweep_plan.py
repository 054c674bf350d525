"""The sweep's plan: cell ids, the checks before any fit, the resume rules, the notices."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from dpsynth.sweep_plan import (
    BAD_DELTA, BAD_EPSILON, BAD_PLAN, BAD_ROWS, BAD_SEED, COMPOSITION, EMPTY_LIST, EPSILON_DIGITS, INPUT_CHANGED,
    MISSING_INPUT, NOT_A_PATH, NOT_FOR_RELEASE, PLAN_FILE, PRIVATE_AS_REFERENCE, REFERENCE_AS_GENERATOR, REPEATED,
    SETTING_CHANGED, UNKNOWN_GENERATOR, WRONG_MODALITY, Cell, SweepPlan, SweepPlanError, absent_groups_warning,
    absent_holdout_groups, check_epsilons, check_generators, check_inputs, check_seeds, check_settings,
    describe_inputs, input_digest, merge_plans, read_plan, readme_text,
)
from dpsynth.tabular.schema import TabularSchema

SPEC = {
    "version": 1, "modality": "tabular", "target": "y", "positive": "yes",
    "sensitive": [{"column": "sex", "name": "sex", "public": True}],
    "columns": [{"name": "age", "kind": "numeric", "lower": 0, "upper": 100, "public": True},
                {"name": "sex", "kind": "categorical", "categories": ["female", "male"], "public": True},
                {"name": "y", "kind": "categorical", "categories": ["no", "yes"], "public": True}],
}


@pytest.fixture
def schema() -> TabularSchema:
    return TabularSchema.from_dict(SPEC)


def message(template: str, **values) -> str:
    """A regular expression matching ``template`` formatted with ``values`` (for pytest.raises)."""
    return re.escape(template.format(**values))


def plan_of(inputs: dict, **lists) -> SweepPlan:
    defaults = {"generators": ["dp-vae"], "epsilons": (1.0,), "seeds": (0,), "reference": [],
                "settings": {"delta": None, "rows": None, "params": {"epochs": 1}, "audit": {"n_bootstrap": 20}}}
    return SweepPlan(inputs=inputs, **(defaults | lists))


def inputs_in(tmp_path: Path, data_text: str = "age,sex,y\n1,male,no\n") -> dict:
    (tmp_path / "train.csv").write_text(data_text)
    (tmp_path / "holdout.csv").write_text("age,sex,y\n2,female,yes\n")
    (tmp_path / "schema.json").write_text(json.dumps(SPEC))
    return describe_inputs(check_inputs({"data": tmp_path / "train.csv", "holdout": tmp_path / "holdout.csv",
                                         "schema": tmp_path / "schema.json"}))


# ------------------------------------------------------------------------- cells
def test_cell_ids_name_generator_epsilon_and_seed():
    assert Cell("dp-vae", 1.0, 0, True).cell_id == "dp-vae_eps1_seed0"
    assert Cell("dp-gan", 0.5, 2, True).cell_id == "dp-gan_eps0.5_seed2"
    assert Cell("dp-vae", 1e-5, 0, True).cell_id == "dp-vae_eps1e-05_seed0"
    assert Cell("sdv-tvae", math.inf, 3, False).cell_id == "sdv-tvae_seed3"


def test_plan_is_generators_by_epsilons_by_seeds_then_references_by_seeds():
    plan = plan_of({}, generators=["dp-vae", "dp-gan"], epsilons=(1.0, 2.0), seeds=(0, 1), reference=["sdv-tvae"])
    ids = [cell.cell_id for cell in plan.cells()]
    assert ids[:4] == ["dp-vae_eps1_seed0", "dp-vae_eps1_seed1", "dp-vae_eps2_seed0", "dp-vae_eps2_seed1"]
    assert ids[-2:] == ["sdv-tvae_seed0", "sdv-tvae_seed1"]
    assert len(ids) == len(set(ids)) == 2 * 2 * 2 + 2
    assert all(not c.private and c.epsilon == math.inf for c in plan.cells()[-2:])


def test_plan_round_trips_through_its_json_with_infinite_reference_epsilon(tmp_path):
    plan = plan_of(inputs_in(tmp_path), reference=["sdv-tvae"])
    text = json.dumps(plan.to_dict())  # strict JSON: no Infinity
    assert "Infinity" not in text and json.loads(text)["cells"][-1]["epsilon"] == "inf"
    (tmp_path / PLAN_FILE).write_text(text)
    assert read_plan(tmp_path).cells() == plan.cells()


# ------------------------------------------------------------------------- list checks
@pytest.mark.parametrize("epsilons, expected", [
    ([], message(EMPTY_LIST, option="--epsilons", example="--epsilons 0.5,1,2,4,8")),
    ([1, 0], message(BAD_EPSILON, value=0)),
    ([-1.0], message(BAD_EPSILON, value=-1.0)),
    ([math.nan], message(BAD_EPSILON, value=math.nan)),
    ([math.inf], message(BAD_EPSILON, value=math.inf)),
    ([True], message(BAD_EPSILON, value=True)),
    (["1"], message(BAD_EPSILON, value="1")),
    ([1, 2, 1.0], message(REPEATED, option="--epsilons", value=1.0)),
    ([1.2345678], message(EPSILON_DIGITS, value=1.2345678, short="1.23457")),
])
def test_bad_epsilon_lists_are_refused(epsilons, expected):
    with pytest.raises(SweepPlanError, match=expected):
        check_epsilons(epsilons)


def test_good_epsilons_become_floats():
    assert check_epsilons([0.5, 1, 8]) == (0.5, 1.0, 8.0)


@pytest.mark.parametrize("seeds, expected", [
    ([], message(EMPTY_LIST, option="--seeds", example="--seeds 0,1,2")),
    ([0, 1.5], message(BAD_SEED, value=1.5)),
    ([-1], message(BAD_SEED, value=-1)),
    ([True], message(BAD_SEED, value=True)),
    (["0"], message(BAD_SEED, value="0")),
    ([0, 1, 0], message(REPEATED, option="--seeds", value=0)),
])
def test_bad_seed_lists_are_refused(seeds, expected):
    with pytest.raises(SweepPlanError, match=expected):
        check_seeds(seeds)


@pytest.mark.parametrize("settings, expected", [
    ({"delta": 0, "rows": None}, message(BAD_DELTA, value=0)),
    ({"delta": 1.0, "rows": None}, message(BAD_DELTA, value=1.0)),
    ({"delta": None, "rows": 0}, message(BAD_ROWS, value=0)),
    ({"delta": None, "rows": 2.5}, message(BAD_ROWS, value=2.5)),
])
def test_bad_delta_or_rows_are_refused(settings, expected):
    with pytest.raises(SweepPlanError, match=expected):
        check_settings(**settings)


# ------------------------------------------------------------------------- generators
def test_unknown_generator_suggests_the_closest_name(schema):
    with pytest.raises(SweepPlanError, match=message(UNKNOWN_GENERATOR, name="dp-vea",
                                                     hint=" (did you mean 'dp-vae'?)")):
        check_generators(["dp-vea"], [], schema, {})


def test_generator_for_another_modality_is_refused(schema):
    with pytest.raises(SweepPlanError, match=re.escape(WRONG_MODALITY.split("{generator}")[0].format(
            name="dp-series-vae"))):
        check_generators(["dp-series-vae"], [], schema, {})


def test_references_and_dp_generators_each_go_in_their_own_list(schema):
    with pytest.raises(SweepPlanError, match=message(REFERENCE_AS_GENERATOR, name="sdv-tvae")):
        check_generators(["sdv-tvae"], [], schema, {})
    with pytest.raises(SweepPlanError, match=message(PRIVATE_AS_REFERENCE, name="dp-gan")):
        check_generators(["dp-vae"], ["dp-gan"], schema, {})


def test_empty_or_repeated_generators_are_refused(schema):
    with pytest.raises(SweepPlanError, match=message(EMPTY_LIST, option="--generators",
                                                     example="--generators dp-vae,dp-gan")):
        check_generators([], ["sdv-tvae"], schema, {})
    with pytest.raises(SweepPlanError, match=message(REPEATED, option="--generators", value="dp-vae")):
        check_generators(["dp-vae", "dp-vae"], [], schema, {})


def test_a_bad_parameter_is_refused_before_any_fit(schema):
    from dpsynth.errors import ParameterError

    with pytest.raises(ParameterError, match="no_such_parameter"):
        check_generators(["dp-vae"], [], schema, {"no_such_parameter": 1})
    check_generators(["dp-vae", "dp-gan"], ["sdv-tvae"], schema, {"epochs": 1})  # good ones pass


# ------------------------------------------------------------------------- inputs
def test_missing_input_is_named(tmp_path):
    with pytest.raises(SweepPlanError, match=message(MISSING_INPUT, option="--holdout", path=tmp_path / "no.csv")):
        check_inputs({"data": __file__, "holdout": tmp_path / "no.csv", "schema": __file__})


def test_inputs_must_be_paths_and_absent_optional_ones_are_left_out(tmp_path):
    with pytest.raises(SweepPlanError, match=message(NOT_A_PATH, option="--data", kind="DataFrame")):
        check_inputs({"data": pd.DataFrame()})
    paths = check_inputs({"data": __file__, "holdout": __file__,
                          "schema": __file__, "static": None})
    assert set(paths) == {"data", "holdout", "schema"} and all(p.is_absolute() for p in paths.values())


def test_folder_digest_changes_with_any_file(tmp_path):
    (tmp_path / "a.png").write_bytes(b"1")
    before = input_digest(tmp_path)
    (tmp_path / "a.png").write_bytes(b"2")
    assert input_digest(tmp_path) != before


# ------------------------------------------------------------------------- resume rules
def test_rerun_extends_the_plan_and_keeps_earlier_cells_first(tmp_path):
    inputs = inputs_in(tmp_path)
    merged = merge_plans(plan_of(inputs, epsilons=(1.0, 2.0)), plan_of(inputs, epsilons=(4.0, 1.0), seeds=(0, 1)),
                         folder=tmp_path)
    assert merged.epsilons == (1.0, 2.0, 4.0) and merged.seeds == (0, 1)
    assert {"dp-vae_eps1_seed0", "dp-vae_eps2_seed0", "dp-vae_eps4_seed1"} <= {c.cell_id for c in merged.cells()}


def test_changed_input_file_is_refused(tmp_path):
    before = inputs_in(tmp_path)
    after = inputs_in(tmp_path, data_text="age,sex,y\n99,male,no\n")
    with pytest.raises(SweepPlanError, match=re.escape(INPUT_CHANGED.split("(")[0].format(
            option="--data", folder=tmp_path))):
        merge_plans(plan_of(before), plan_of(after), folder=tmp_path)


def test_changed_shared_setting_is_refused(tmp_path):
    inputs = inputs_in(tmp_path)
    changed = plan_of(inputs, settings={"delta": None, "rows": None, "params": {"epochs": 2},
                                        "audit": {"n_bootstrap": 20}})
    with pytest.raises(SweepPlanError, match=re.escape(SETTING_CHANGED.split("(")[0].format(
            setting="--param", folder=tmp_path))):
        merge_plans(plan_of(inputs), changed, folder=tmp_path)


def test_a_plan_file_of_another_kind_is_refused(tmp_path):
    (tmp_path / PLAN_FILE).write_text(json.dumps({"kind": "something else"}))
    with pytest.raises(SweepPlanError, match=re.escape(BAD_PLAN.split("(")[0].format(path=tmp_path / PLAN_FILE))):
        read_plan(tmp_path)
    assert read_plan(tmp_path / "elsewhere") is None


# ------------------------------------------------------------------------- notices
def test_readme_and_plan_say_not_for_release_and_that_epsilons_add_up(tmp_path):
    plan = plan_of(inputs_in(tmp_path), epsilons=(1.0, 2.0))
    text, data = readme_text(plan), plan.to_dict()
    assert NOT_FOR_RELEASE in text and COMPOSITION in text
    assert data["notice"] == NOT_FOR_RELEASE and data["composition"] == COMPOSITION
    assert "REAL data" in NOT_FOR_RELEASE and "ε's add up" in COMPOSITION
    assert plan.inputs["data"]["sha256"] in text  # the README names the data it was computed on


# ------------------------------------------------------------------------- holdout groups
def test_holdout_missing_a_declared_group_is_named(tmp_path, schema):
    (tmp_path / "holdout.csv").write_text("age,sex,y\n30,male,no\n40,male,yes\n")
    absent = absent_holdout_groups(tmp_path / "holdout.csv", schema)
    assert absent == {"sex": ["female"]}
    assert "sex=female" in absent_groups_warning(absent)
    (tmp_path / "full.csv").write_text("age,sex,y\n30,male,no\n40,female,yes\n")
    assert absent_holdout_groups(tmp_path / "full.csv", schema) == {}


def test_holdout_with_one_outcome_class_is_refused_before_any_fit(tmp_path, schema):
    (tmp_path / "holdout.csv").write_text("age,sex,y\n30,male,no\n40,female,no\n")
    with pytest.raises(SweepPlanError, match="only one target class"):
        absent_holdout_groups(tmp_path / "holdout.csv", schema)

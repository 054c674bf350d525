import numpy as np
import pandas as pd
import pytest

from dpsynth.errors import DataReadError, SchemaError
from dpsynth.schema import CategoricalColumn, NumericColumn, SensitiveAttribute, canonical_category
from dpsynth.tabular.schema import TabularSchema, draft_schema
from tests.conftest import make_toy_frame, make_toy_schema


def test_conform_returns_canonical_types_without_touching_the_input():
    frame = make_toy_frame()
    before = frame.copy()
    out, report = make_toy_schema().conform(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert out["age"].dtype == float and out["race"].dtype == object
    assert report.clipped == {} and report.n_rows == len(frame)


def test_missing_and_extra_columns_are_named():
    frame = make_toy_frame()
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['lab'\]"):
        make_toy_schema().conform(frame.drop(columns="lab"))
    with pytest.raises(SchemaError, match=r"column\(s\) \['notes'\] that the schema does not declare"):
        make_toy_schema().conform(frame.assign(notes="x"))


def test_wrong_type_is_named():
    frame = make_toy_frame()
    frame["age"] = frame["age"].astype(object)
    frame.loc[5, "age"] = "old"
    with pytest.raises(SchemaError, match="column 'age' is numeric in the schema but holds non-numeric values"):
        make_toy_schema().conform(frame)


def test_non_integer_and_unexpected_missing_are_named():
    frame = make_toy_frame()
    frame.loc[1, "heart_rate"] = 80.5
    with pytest.raises(SchemaError, match="'heart_rate' is declared integer"):
        make_toy_schema().conform(frame)
    frame = make_toy_frame()
    frame.loc[1, "age"] = np.nan
    with pytest.raises(SchemaError, match="'age' has 1 missing value.*nullable: true"):
        make_toy_schema().conform(frame)


def test_out_of_bounds_is_an_error_unless_the_schema_clips_and_then_it_is_counted():
    frame = make_toy_frame()
    frame.loc[[0, 1], "lab"] = [75.0, -1.0]
    with pytest.raises(SchemaError, match=r"'lab' has 2 value\(s\) outside its public bounds \[0, 50\]"):
        make_toy_schema().conform(frame)
    schema = make_toy_schema()
    schema.column("lab").out_of_bounds = "clip"
    out, report = schema.conform(frame)
    assert report.clipped == {"lab": 2}
    assert out.loc[0, "lab"] == 50 and out.loc[1, "lab"] == 0


def test_unseen_categories_are_an_error_or_counted_missing():
    frame = make_toy_frame()
    frame.loc[0, "race"] = "martian"
    with pytest.raises(SchemaError, match=r"'race' has value\(s\) \['martian'\] outside its public categories"):
        make_toy_schema().conform(frame)
    schema = make_toy_schema()
    race = schema.column("race")
    race.nullable, race.unseen = True, "missing"
    out, report = schema.conform(frame)
    assert report.unseen_to_missing == {"race": 1} and pd.isna(out.loc[0, "race"])


def test_categories_compare_as_canonical_strings():
    assert canonical_category(1.0) == canonical_category(1) == "1"
    assert pd.isna(canonical_category(float("nan")))
    column = CategoricalColumn("flag", categories=[0, 1])
    assert column.categories == ["0", "1"]


def test_group_labels_bands_merges_and_missing():
    schema = make_toy_schema()
    frame = pd.DataFrame({"age": [18.0, 49.9, 50.0, 70.0, 110.0], "sex": ["female"] * 5,
                          "race": ["white", "asian", "other", "black", "white"], "heart_rate": [80.0] * 5,
                          "lab": [1.0, np.nan, 1.0, 1.0, 1.0], "outcome": ["no", "yes", "no", "yes", "no"]})
    groups = schema.group_labels(schema.conform(frame)[0])
    assert list(groups["age_band"]) == ["18-49", "18-49", "50-69", "70+", "70+"]
    assert list(groups["race"]) == ["white", "other", "other", "black", "white"]
    assert schema.condition_domains()["race"] == ["white", "black", "other"]


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_round_trip_keeps_the_fingerprint(tmp_path, suffix):
    schema = make_toy_schema()
    path = schema.save(tmp_path / f"schema{suffix}")
    again = TabularSchema.load(path)
    assert again.to_dict() == schema.to_dict() and again.fingerprint() == schema.fingerprint()


def test_bad_schema_files_are_clear_errors(tmp_path):
    with pytest.raises(DataReadError, match="cannot read schema file"):
        TabularSchema.load(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("columns: [unclosed")
    with pytest.raises(SchemaError, match="not valid JSON/YAML"):
        TabularSchema.load(tmp_path / "bad.yaml")
    spec = make_toy_schema().to_dict()
    spec["version"] = 99
    with pytest.raises(SchemaError, match="version 99 is not supported"):
        TabularSchema.from_dict(spec)
    spec = make_toy_schema().to_dict()
    spec["columns"][0]["kind"] = "date"
    with pytest.raises(SchemaError, match="column 'age': kind must be 'numeric' or 'categorical', not 'date'"):
        TabularSchema.from_dict(spec)


def test_target_and_sensitive_definitions_are_checked():
    cols = [NumericColumn("age", lower=0, upper=100), CategoricalColumn("y", categories=["a"])]
    with pytest.raises(SchemaError, match="needs at least two categories"):
        TabularSchema(columns=cols, target="y", positive="a")
    cols[1] = CategoricalColumn("y", categories=["a", "b", "c"])  # multi-class: binary metrics are a vs rest
    assert TabularSchema(columns=cols, target="y", positive="c").positive == "c"
    cols[1] = CategoricalColumn("y", categories=["a", "b"])
    with pytest.raises(SchemaError, match="positive label 'z'"):
        TabularSchema(columns=cols, target="y", positive="z")
    with pytest.raises(SchemaError, match="unknown column 'sex'"):
        TabularSchema(columns=cols, target="y", positive="a", sensitive=[SensitiveAttribute("sex")])
    with pytest.raises(SchemaError, match="give public band edges"):
        TabularSchema(columns=cols, target="y", positive="a",
                      sensitive=[SensitiveAttribute("age")]).condition_domains()
    with pytest.raises(SchemaError, match=r"bands \[30, 110\] must cover the bounds \[0, 100\]"):
        TabularSchema(columns=cols, target="y", positive="a",
                      sensitive=[SensitiveAttribute("age", bins=[30, 60, 110])])
    schema = make_toy_schema()
    with pytest.raises(SchemaError, match=r"groups list \['klingon'\]"):
        TabularSchema(columns=schema.columns, target="outcome", positive="yes",
                      sensitive=[SensitiveAttribute("race", groups={"x": ["klingon"]})])


def test_draft_marks_every_data_derived_value_not_public():
    draft = draft_schema(make_toy_frame(), target="outcome", sensitive=["sex", "age"])
    assert set(draft.not_public()) >= {"age.bounds", "heart_rate.bounds", "race.categories", "sensitive.age_band"}
    assert all(not c.public for c in draft.columns)
    assert draft.column("lab").nullable and draft.positive == "yes"
    with pytest.raises(SchemaError, match="not confirmed public"):
        draft.require_public()


def test_draft_rejects_identifier_like_columns():
    frame = make_toy_frame().assign(mrn=[f"id{i}" for i in range(400)])
    with pytest.raises(SchemaError, match="'mrn' has 400 distinct values"):
        draft_schema(frame, target="outcome", sensitive=["sex"])


def test_bounds_are_checked_when_a_column_is_built():
    with pytest.raises(SchemaError, match=r"column 'x': lower \(5\) is above upper \(1\); swap them"):
        NumericColumn("x", lower=5, upper=1.0)
    with pytest.raises(SchemaError, match="column 'x': lower and upper are both 2"):
        NumericColumn("x", lower=2, upper=2)
    NumericColumn("x", lower=2, upper=2, public=False)  # a draft of a constant column: replaced before training
    with pytest.raises(SchemaError, match=r"column 'x': upper must be a finite number \(or null: not set yet\), not inf"):
        NumericColumn("x", lower=0, upper=float("inf"))


def test_decimals_round_inside_the_bounds_and_integers_to_whole_numbers():
    col = NumericColumn("temp", lower=34.05, upper=42.0, decimals=1)
    np.testing.assert_array_equal(col.rounded(np.array([34.05, 36.64, 41.99])), [34.1, 36.6, 42.0])
    assert NumericColumn("n", lower=0.5, upper=9.5, integer=True).rounded(np.array([0.5, 9.5])).tolist() == [1, 9]
    assert NumericColumn("x", lower=0, upper=1).rounded(np.array([0.123456789]))[0] == 0.123456789


@pytest.mark.parametrize("spec, message", [
    (dict(decimals=-1), "decimals must be a whole number from 0 to 12"),
    (dict(decimals=1.5), "decimals must be a whole number"),
    (dict(decimals=True), "decimals must be a whole number"),
    (dict(integer=True, decimals=2), "is integer but declares decimals: 2"),
    (dict(lower=0.11, upper=0.19, decimals=1), r"no number with 1 decimal\(s\) lies inside the public bounds"),
    (dict(lower=0.2, upper=0.8, integer=True), "no whole number lies inside"),
])
def test_bad_decimals_are_named(spec, message):
    with pytest.raises(SchemaError, match=message):
        NumericColumn("temp", **{"lower": 0, "upper": 1, **spec})


def test_decimals_round_trip_and_leave_other_fingerprints_alone():
    schema = make_toy_schema()
    before = schema.fingerprint()
    assert "decimals" not in schema.to_dict()["columns"][0]
    spec = schema.to_dict()
    spec["columns"][0]["decimals"] = 1
    with_decimals = TabularSchema.from_dict(spec)
    assert with_decimals.column("age").decimals == 1 and with_decimals.fingerprint() != before
    assert TabularSchema.from_dict(with_decimals.to_dict()).to_dict() == with_decimals.to_dict()

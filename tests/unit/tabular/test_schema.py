"""The strict tabular schema loader: each mistake in a schema file is one SchemaError line that
names the place and the fix, and the published JSON Schema refuses the same files."""

import copy
import json

import jsonschema
import pytest

from dpsynth.errors import SchemaError
from dpsynth.schema_spec import json_schema
from dpsynth.tabular.schema import TabularSchema
from tests.conftest import make_toy_schema

VALID_COLUMN_KEYS = "valid keys: name, kind, lower, upper, integer, decimals, nullable, public, out_of_bounds"
VALID_SCHEMA_KEYS = "valid keys: version, modality, target, positive, subject_id, sensitive, columns, rules"


def toy_spec():
    return copy.deepcopy(make_toy_schema().to_dict())


def changed(edit):
    """The toy schema's mapping after ``edit(spec)``: what a YAML file with that mistake parses to."""
    spec = toy_spec()
    edit(spec)
    return spec


def column(spec, name):
    return next(c for c in spec["columns"] if c["name"] == name)


def rename(mapping, old, new):
    mapping[new] = mapping.pop(old)


# (the mistake, the whole message; the last field says whether the JSON Schema alone can see it)
EXACT = [
    pytest.param(lambda s: rename(s, "sensitive", "sensitve"),
                 f"schema key 'sensitve' is not known; did you mean 'sensitive'? {VALID_SCHEMA_KEYS}", True,
                 id="misspelt-top-level-key"),
    pytest.param(lambda s: column(s, "age").update(public="false"),
                 "column 'age': public must be true or false, not the text 'false'; "
                 "write it without quotes: public: false", True, id="quoted-public"),
    pytest.param(lambda s: column(s, "age").update(lower=110, upper=18),
                 "column 'age': lower (110) is above upper (18); swap them", False, id="lower-above-upper"),
    pytest.param(lambda s: column(s, "age").update(out_of_bounds="clipp"),
                 "column 'age': out_of_bounds must be 'error' or 'clip', not 'clipp'; did you mean 'clip'?", True,
                 id="misspelt-out-of-bounds"),
    pytest.param(lambda s: column(s, "age").update(lower="18"),
                 "column 'age': lower must be a number or null, not the text '18'; "
                 "write it without quotes: lower: 18", True, id="quoted-number"),
]


@pytest.mark.parametrize("edit, message, json_schema_sees_it", EXACT)
def test_the_issue_16_mistakes_are_one_line_naming_the_key_and_the_fix(edit, message, json_schema_sees_it):
    spec = changed(edit)
    with pytest.raises(SchemaError) as caught:
        TabularSchema.from_dict(spec)
    assert str(caught.value) == message
    assert "\n" not in message
    # an editor using the published JSON Schema flags the same file (lower > upper it cannot express)
    assert jsonschema.Draft7Validator(json_schema()).is_valid(spec) is not json_schema_sees_it


@pytest.mark.parametrize("edit, key, fix", [
    # unknown keys at every level
    (lambda s: rename(s, "target", "targte"), "schema key 'targte' is not known",
     f"did you mean 'target'? {VALID_SCHEMA_KEYS}"),
    (lambda s: s.update(notes="x", colums=[]), "schema keys 'notes', 'colums' (did you mean 'columns'?) are not known",
     VALID_SCHEMA_KEYS),
    (lambda s: rename(column(s, "age"), "lower", "lowr"), "column 'age': key 'lowr' is not known",
     f"did you mean 'lower'? {VALID_COLUMN_KEYS}"),
    (lambda s: column(s, "age").update(categories=["a"]),
     "column 'age': key 'categories' is not known for a numeric column", "(categorical columns take 'categories')"),
    (lambda s: rename(s["sensitive"][1], "groups", "group"), "sensitive attribute 'race': key 'group' is not known",
     "did you mean 'groups'? valid keys: column, name, bins, labels, groups, public"),
    # quoted booleans
    (lambda s: column(s, "lab").update(nullable="no"), "column 'lab': nullable must be true or false, not the text 'no'",
     "write it without quotes: nullable: false"),
    (lambda s: column(s, "heart_rate").update(integer="true"),
     "column 'heart_rate': integer must be true or false, not the text 'true'", "write it without quotes: integer: true"),
    (lambda s: s["sensitive"][0].update(public="yes"),
     "sensitive attribute 'sex': public must be true or false, not the text 'yes'", "public: true"),
    # equal bounds, enumerations
    (lambda s: column(s, "age").update(lower=18, upper=18), "column 'age': lower and upper are both 18",
     "public bounds need lower < upper: widen them, or drop the column if it holds one value"),
    (lambda s: column(s, "sex").update(unseen="mising"), "column 'sex': unseen must be 'error' or 'missing', not 'mising'",
     "did you mean 'missing'?"),
    (lambda s: column(s, "sex").update(kind="date"), "column 'sex': kind must be 'numeric' or 'categorical', not 'date'",
     ""),
    (lambda s: s.update(modality="series"), "modality 'series' is not supported by TabularSchema", ""),
    (lambda s: s.update(version=2), "schema version 2 is not supported (expected 1)", "write version: 1"),
    # other types and missing keys
    (lambda s: column(s, "age").pop("kind"), "column 'age' is missing the key 'kind'",
     "add it (kind: 'numeric' or 'categorical')"),
    (lambda s: s.pop("positive"), "schema is missing the key 'positive'", "add it, e.g. positive: 'yes'"),
    (lambda s: s.update(positive=True), "positive must be text or a number, not true",
     "YAML reads unquoted yes/no/true/false/on/off as true/false: quote the value"),
    (lambda s: column(s, "race")["categories"].append(False), "column 'race': categories[4] must be text or a number",
     "quote the value"),
    (lambda s: s["sensitive"].__setitem__(0, "sex"), "sensitive[0] must be a mapping, not the text 'sex'",
     "write {column: sex}"),
    (lambda s: s["sensitive"][2].update(bins=[18, "50", 110]),
     "sensitive attribute 'age_band': bins[1] must be a number, not the text '50'", "write it without quotes: 50"),
    (lambda s: column(s, "age").update(name=2020), "column #1: name must be non-empty text, not 2020",
     'quote it: name: "2020"'),
    (lambda s: column(s, "age").update(upper=float("nan")), "column 'age': upper must be a finite number", "not nan"),
    (lambda s: s.update(columns={"age": {}}), "columns must be a list of columns, not a mapping", ""),
])
def test_every_mistake_names_its_place_and_the_fix(edit, key, fix):
    with pytest.raises(SchemaError) as caught:
        TabularSchema.from_dict(changed(edit))
    message = str(caught.value)
    assert message.startswith(key) and fix in message and "\n" not in message, message


def test_quoted_values_in_a_yaml_file_are_refused(tmp_path):
    text = make_toy_schema().save(tmp_path / "ok.yaml").read_text()
    for right, wrong, message in [
        ("  integer: false", '  integer: "false"', "column 'age': integer must be true or false, not the text 'false'"),
        ("  lower: 18", "  lower: '18'", "column 'age': lower must be a number or null, not the text '18'"),
    ]:
        assert right in text
        path = tmp_path / "wrong.yaml"
        path.write_text(text.replace(right, wrong, 1))
        with pytest.raises(SchemaError, match=message):
            TabularSchema.load(path)


def test_the_first_mistake_in_file_order_is_reported():
    spec = changed(lambda s: (column(s, "heart_rate").update(integer="yes"), column(s, "lab").update(lower="0")))
    with pytest.raises(SchemaError, match="column 'heart_rate': integer"):
        TabularSchema.from_dict(spec)


def test_optional_keys_may_be_left_out_or_null():
    spec = {"target": "y", "positive": "b", "sensitive": None, "subject_id": None,
            "columns": [{"name": "x", "kind": "numeric", "lower": None, "upper": None, "public": False},
                        {"name": "y", "kind": "categorical", "categories": ["a", "b"]}]}
    schema = TabularSchema.from_dict(spec)
    assert schema.not_public() == ["x.bounds (not set)"]
    assert TabularSchema.from_dict(json.loads(json.dumps(schema.to_dict()))).to_dict() == schema.to_dict()

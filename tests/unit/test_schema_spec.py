"""The published JSON Schema of schema files: valid, the loader's own, and accepting every
schema dpsynth ships, builds or drafts."""

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import yaml

from dpsynth.errors import SchemaError
from dpsynth.images.schema import ImageSchema
from dpsynth.schema_spec import json_schema
from dpsynth.series.schema import SeriesSchema
from dpsynth.tabular.schema import TabularSchema, draft_schema
from tests.conftest import make_toy_frame, make_toy_image_schema, make_toy_schema, make_toy_series_schema

SCHEMAS = Path(__file__).resolve().parents[2] / "dpsynth" / "data" / "schemas"
PUBLISHED = SCHEMAS / "dpsynth-schema.json"  # the JSON Schema editors are pointed at
LOADERS = {"tabular": TabularSchema, "series": SeriesSchema, "image": ImageSchema}


def published():
    return jsonschema.Draft7Validator(json.loads(PUBLISHED.read_text()))


def test_the_published_json_schema_is_the_one_the_loader_uses_and_documents_every_key():
    document = json.loads(PUBLISHED.read_text())
    jsonschema.Draft7Validator.check_schema(document)
    assert json_schema() == document
    assert document["$id"] and document["title"] and document["description"]
    for name, definition in document["definitions"].items():
        assert definition.get("description") or definition.get("const") or definition.get("enum"), name
        for key, prop in definition.get("properties", {}).items():
            assert "$ref" in prop or prop.get("description") or key in ("kind", "modality"), f"{name}.{key}"


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_bundled_schema_file_validates_against_the_published_json_schema(path):
    spec = yaml.safe_load(path.read_text())
    errors = [e.message for e in published().iter_errors(spec)]
    assert not errors, errors
    schema = LOADERS[spec.get("modality", "tabular")].load(path)
    assert not list(published().iter_errors(json.loads(json.dumps(schema.to_dict()))))


def _draft(*, nulls=False):
    """A drafted schema; with ``nulls`` an all-missing numeric column (bounds null) and a subject id."""
    if not nulls:
        return draft_schema(make_toy_frame(), target="outcome", sensitive=["sex", "age"])
    frame = make_toy_frame().assign(empty=np.nan, patient=[f"p{i // 2}" for i in range(400)])
    return draft_schema(frame, target="outcome", sensitive=["race", "heart_rate"], subject_id="patient")


TOYS = {  # built inside the test, so that a schema the JSON Schema refuses fails that test only
    "tabular": make_toy_schema, "series": make_toy_series_schema, "series-window-8": lambda: make_toy_series_schema(8),
    "image": make_toy_image_schema, "image-rgb": lambda: make_toy_image_schema(size=4, channels=3),
    "image-no-subject": lambda: ImageSchema.from_dict({**make_toy_image_schema().to_dict(), "subject_id": None}),
    "draft": _draft, "draft-with-nulls": lambda: _draft(nulls=True),
}


@pytest.mark.parametrize("name", list(TOYS))
def test_to_dict_of_every_toy_schema_and_draft_validates_and_round_trips(name):
    schema = TOYS[name]()
    spec = json.loads(json.dumps(schema.to_dict()))  # what a saved file holds
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in published().iter_errors(spec)]
    assert not errors, errors
    assert type(schema).from_dict(spec).fingerprint() == schema.fingerprint()


def test_a_draft_of_an_all_missing_numeric_column_leaves_its_bounds_unset():
    draft = _draft(nulls=True)
    assert (draft.column("empty").lower, draft.column("empty").upper) == (None, None)
    assert "empty.bounds (not set)" in draft.not_public()


def test_a_link_to_the_json_schema_is_allowed_and_changes_nothing():
    spec = make_toy_schema().to_dict()
    linked = TabularSchema.from_dict({"$schema": "urn:dpsynth:schema-file:v1", **spec})
    assert linked.fingerprint() == make_toy_schema().fingerprint()
    with pytest.raises(SchemaError, match="schema key 'sensitve' is not known; did you mean 'sensitive'") as caught:
        TabularSchema.from_dict({"$schema": "urn:dpsynth:schema-file:v1", **spec, "sensitve": []})
    assert "$schema" not in str(caught.value)

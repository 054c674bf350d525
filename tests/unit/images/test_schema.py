"""ImageSchema: validation of the public schema, (de)serialisation, conform, privacy units."""

import copy
import json

import jsonschema
import numpy as np
import pandas as pd
import pytest
import yaml

from dpsynth.errors import DataReadError, SchemaError
from dpsynth.schema_spec import json_schema
from dpsynth.images import ImageData, ImageReport, ImageSchema
from dpsynth.images import schema as image_schema

SPEC = {
    "version": 1, "modality": "image", "image_id": "image", "subject_id": "patient",
    "height": 4, "width": 5, "channels": 1, "pixel_range": [0, 16], "out_of_bounds": "error",
    "target": "label", "positive": "1",
    "sensitive": [{"column": "sex"}, {"column": "age", "name": "age_band", "bins": [18, 60, 90],
                                      "labels": ["18-59", "60+"]}],
    "static": [{"name": "sex", "kind": "categorical", "categories": ["female", "male"]},
               {"name": "age", "kind": "numeric", "lower": 18, "upper": 90, "out_of_bounds": "clip"},
               {"name": "label", "kind": "categorical", "categories": ["0", "1"]}],
}


def spec(**changes):
    """The toy schema's dict with top-level keys replaced (value None deletes the key)."""
    out = copy.deepcopy(SPEC)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def make_schema(**changes) -> ImageSchema:
    return ImageSchema.from_dict(spec(**changes))


def make_data(n=6, *, channels=1, seed=0, **static) -> ImageData:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "image": static.get("image", [f"img{i}" for i in range(n)]),
        "patient": static.get("patient", [f"p{i // 2}" for i in range(n)]),
        "sex": static.get("sex", ["female", "male"] * (n // 2)),
        "age": static.get("age", [40.0] * n),
        "label": static.get("label", [0, 1] * (n // 2)),
    })
    return ImageData(frame, rng.integers(0, 17, size=(n, 4, 5, channels)).astype(np.uint8))


# ------------------------------------------------------------------ serialisation
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_save_load_round_trip(tmp_path, suffix):
    schema = make_schema()
    path = schema.save(tmp_path / "nested" / f"schema{suffix}")
    text = path.read_text()
    raw = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    assert raw["version"] == 1 and raw["modality"] == "image" and raw["pixel_range"] == [0, 16]
    loaded = ImageSchema.load(path)
    assert loaded.to_dict() == schema.to_dict()
    assert loaded.fingerprint() == schema.fingerprint()
    assert loaded.shape == (4, 5, 1) and (loaded.lower, loaded.upper) == (0.0, 16.0)
    assert loaded.image_id == "image" and loaded.subject_id == "patient"
    assert loaded.target == "label" and loaded.positive == "1"
    assert loaded.condition_domains() == {"label": ["0", "1"], "sex": ["female", "male"],
                                          "age_band": ["18-59", "60+"]}
    assert ImageSchema.modality == "image"


def test_subject_id_is_optional_and_round_trips_as_absent():
    schema = make_schema(subject_id=None)
    assert schema.subject_id is None and schema.static.subject_id is None
    assert ImageSchema.from_dict(schema.to_dict()).to_dict() == schema.to_dict()


def test_fingerprint_is_stable_across_number_spellings_and_changes_with_the_schema():
    base = make_schema()
    assert make_schema(pixel_range=[0.0, 16.0]).fingerprint() == base.fingerprint()
    assert make_schema(pixel_range=[0, 255]).fingerprint() != base.fingerprint()
    assert make_schema(subject_id=None).fingerprint() != base.fingerprint()


def test_unknown_keys_are_listed_with_the_known_ones():
    with pytest.raises(SchemaError, match="image schema key 'colour' is not known; valid keys: version, modality, "
                                          "image_id,"):
        ImageSchema.from_dict(spec(colour="red"))


@pytest.mark.parametrize("changes, message", [
    ({"pixel_rnage": [0, 16]}, "image schema key 'pixel_rnage' is not known; did you mean 'pixel_range'? valid keys: "),
    ({"static": [*SPEC["static"][:2], {**SPEC["static"][2], "categoreis": ["0", "1"]}]},
     "static column 'label': key 'categoreis' is not known; did you mean 'categories'? valid keys: name, kind, "
     "categories, nullable, public, unseen"),
    ({"out_of_bounds": "Clip"}, "out_of_bounds must be 'error' or 'clip', not 'Clip'; did you mean 'clip'?"),
    ({"static": [{**SPEC["static"][0], "kind": "categorial"}, *SPEC["static"][1:]]},
     "static column 'sex': kind must be 'numeric' or 'categorical', not 'categorial'; did you mean 'categorical'?"),
    ({"static": [{**SPEC["static"][0], "public": "true"}, *SPEC["static"][1:]]},
     "static column 'sex': public must be true or false, not the text 'true'; write it without quotes: public: true"),
    ({"channels": "3"}, "channels must be 1 (grey) or 3 (RGB), not the text '3'; write it without quotes: channels: 3"),
])
def test_the_strict_loader_names_the_key_and_the_fix(changes, message):
    bad = spec(**changes)
    with pytest.raises(SchemaError) as caught:
        ImageSchema.from_dict(bad)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
    assert not jsonschema.Draft7Validator(json_schema()).is_valid(bad)  # an editor flags it too


@pytest.mark.parametrize("key", ["image_id", "height", "width", "channels", "pixel_range", "target", "static"])
def test_missing_keys_are_named(key):
    with pytest.raises(SchemaError, match=f"missing the key '{key}'"):
        ImageSchema.from_dict(spec(**{key: None}))


@pytest.mark.parametrize("changes, message", [
    ({"modality": "series"}, "is not 'image'"),
    ({"height": 0}, "height must be a positive whole number"),
    ({"width": 2.5}, "width must be a positive whole number"),
    ({"height": True}, "height must be a positive whole number"),
    ({"channels": 2}, r"channels must be 1 \(grey\) or 3 \(RGB\), not 2"),
    ({"pixel_range": [16, 0]}, r"pixel_range: lower \(16\) is above upper \(0\); swap them"),
    ({"pixel_range": [16, 16]}, "pixel_range: lower and upper are both 16"),
    ({"pixel_range": [0, float("inf")]}, "pixel_range must be two finite numbers"),
    ({"pixel_range": [0]}, r"pixel_range must be a list of 2 numbers, not \[0\]"),
    ({"pixel_range": "0-255"}, "pixel_range must be a list of 2 numbers, not the text '0-255'"),
    ({"pixel_range": [0, "255"]}, r"pixel_range\[1\] must be a number, not the text '255'; write it without quotes: 255"),
    ({"out_of_bounds": "wrap"}, "out_of_bounds must be 'error' or 'clip', not 'wrap'"),
    ({"image_id": ""}, "image_id must be non-empty text, not the text ''"),
    ({"image_id": "sex"}, "image_id 'sex' is also a static column"),
    ({"image_id": "patient"}, "image_id 'patient' is also the subject id"),
    ({"version": 2}, "schema version 2 is not supported"),
    ({"version": "one"}, "version must be 1, not the text 'one'"),
])
def test_invalid_schemas_are_refused_with_the_fix(changes, message):
    with pytest.raises(SchemaError, match=message):
        ImageSchema.from_dict(spec(**changes))


def test_static_part_is_checked_as_a_tabular_schema():
    with pytest.raises(SchemaError, match="target 'label' is not a column"):
        ImageSchema.from_dict(spec(target="label", static=SPEC["static"][:2]))


def test_non_mapping_and_unreadable_files(tmp_path):
    with pytest.raises(SchemaError, match="must be a mapping"):
        ImageSchema.from_dict(["not", "a", "mapping"])
    with pytest.raises(DataReadError, match="cannot read schema file"):
        ImageSchema.load(tmp_path / "absent.yaml")
    (tmp_path / "bad.yaml").write_text("a: [unclosed")
    with pytest.raises(SchemaError, match="not valid JSON/YAML"):
        ImageSchema.load(tmp_path / "bad.yaml")


def test_require_public_follows_the_static_columns():
    make_schema().require_public()
    static = copy.deepcopy(SPEC["static"])
    static[0]["public"] = False
    with pytest.raises(SchemaError, match="sex.categories"):
        make_schema(static=static).require_public()


# ------------------------------------------------------------------ conform
def test_conform_returns_canonical_static_and_float32_images():
    schema = make_schema()
    data = make_data()
    out, report = schema.conform(data)
    assert list(out.static.columns) == ["image", "sex", "age", "label", "patient"]
    assert out.static["label"].tolist() == ["0", "1"] * 3
    assert out.images.dtype == np.float32 and out.images.shape == (6, 4, 5, 1)
    np.testing.assert_array_equal(out.images, data.images.astype(np.float32))
    assert isinstance(report, ImageReport)
    assert report.to_dict() == {"n_images": 6, "n_units": 3, "clipped_pixels": 0, "static_clipped": {},
                                "static_unseen_to_missing": {}}
    assert data.static["label"].tolist() == [0, 1] * 3  # the input is not modified


def test_conform_accepts_grey_images_without_a_channel_axis_and_keeps_attrs():
    data = make_data()
    data.static.attrs["simulated"] = True
    out, _ = make_schema().conform(ImageData(data.static, data.images[..., 0]))
    assert out.images.shape == (6, 4, 5, 1) and out.static.attrs == {"simulated": True}


def test_image_ids_are_canonical_text():
    out, _ = make_schema().conform(make_data(image=[1, 2.0, "3", 4, 5, 6]))
    assert out.static["image"].tolist() == ["1", "2", "3", "4", "5", "6"]


def test_without_subject_id_each_image_is_its_own_unit():
    schema = make_schema(subject_id=None)
    data = make_data()
    out, report = schema.conform(ImageData(data.static.drop(columns=["patient"]), data.images))
    assert report.n_units == 6
    assert schema.units(out.static).tolist() == [f"img{i}" for i in range(6)]
    assert schema.count_units(out) == 6


def test_units_are_subject_ids_when_declared():
    schema = make_schema()
    out, _ = schema.conform(make_data())
    assert schema.units(out.static).tolist() == ["p0", "p0", "p1", "p1", "p2", "p2"]
    assert schema.count_units(out) == 3
    with pytest.raises(SchemaError, match=image_schema.MISSING_UNIT_COLUMN.split("'")[0]):
        schema.units(out.static.drop(columns=["patient"]))


def test_missing_image_id_column_names_it():
    data = make_data()
    with pytest.raises(SchemaError, match="no image id column 'image'"):
        make_schema().conform(ImageData(data.static.drop(columns=["image"]), data.images))


def test_missing_and_duplicate_image_ids():
    with pytest.raises(SchemaError, match=r"image id column 'image' has 1 missing"):
        make_schema().conform(make_data(image=["a", None, "c", "d", "e", "f"]))
    with pytest.raises(SchemaError, match=r"image id\(s\) \['a'\] appear on more than one row.*'patient'"):
        make_schema().conform(make_data(image=["a", "a", "c", "d", "e", "f"]))


def test_static_columns_are_conformed_like_a_table():
    with pytest.raises(SchemaError, match="column 'sex' has value"):
        make_schema().conform(make_data(sex=["female", "other"] * 3))
    data = make_data()
    with pytest.raises(SchemaError, match="missing column"):
        make_schema().conform(ImageData(data.static.drop(columns=["sex"]), data.images))
    out, report = make_schema().conform(make_data(age=[10.0, 40, 40, 40, 40, 95]))
    assert report.static_clipped == {"age": 2} and out.static["age"].tolist()[::5] == [18.0, 90.0]


@pytest.mark.parametrize("shape", [(6, 5, 4, 1), (6, 4, 5, 3), (6, 20), (6, 4, 5, 1, 1)])
def test_wrong_image_shape_names_expected_shape_and_no_resize(shape):
    data = make_data()
    with pytest.raises(SchemaError, match=r"expects \[N, 4, 5, 1\].*never resizes"):
        make_schema().conform(ImageData(data.static, np.zeros(shape)))


def test_image_count_must_match_the_static_rows():
    data = make_data()
    with pytest.raises(SchemaError, match=r"5 image\(s\) but 6 row\(s\)"):
        make_schema().conform(ImageData(data.static, data.images[:5]))


def test_non_numeric_images_are_refused():
    data = make_data()
    with pytest.raises(SchemaError, match="not numeric"):
        make_schema().conform(ImageData(data.static, np.full((6, 4, 5, 1), "x")))
    with pytest.raises(SchemaError, match="not numeric"):
        make_schema().conform(ImageData(data.static, np.full((6, 4, 5, 1), "x", dtype=object)))


@pytest.mark.parametrize("value, what", [(np.nan, "NaN"), (np.inf, "infinite"), (-np.inf, "infinite")])
def test_non_finite_pixels_name_the_image(value, what):
    data = make_data()
    images = data.images.astype(np.float64)
    images[3, 1, 2, 0] = value
    with pytest.raises(SchemaError, match=f"image 'img3' holds {what} pixel"):
        make_schema().conform(ImageData(data.static, images))


def test_out_of_range_pixels_raise_with_the_image_and_the_fix():
    data = make_data()
    images = data.images.astype(np.float64)
    images[2, 0, 0, 0] = 17.5
    images[4, 0, 0, 0] = -1
    with pytest.raises(SchemaError, match=r"2 pixel\(s\) lie outside the public pixel_range \[0, 16\] "
                                          r"\(e.g. image 'img2': 17.5\).*out_of_bounds: clip"):
        make_schema().conform(ImageData(data.static, images))


def test_out_of_range_pixels_are_clipped_and_counted_when_the_schema_says_so():
    data = make_data()
    images = data.images.astype(np.float64)
    images[2, 0, 0, 0] = 17.5
    images[4, 0, 0, 0] = -1
    out, report = make_schema(out_of_bounds="clip").conform(ImageData(data.static, images))
    assert report.clipped_pixels == 2
    assert out.images[2, 0, 0, 0] == 16 and out.images[4, 0, 0, 0] == 0
    assert images[2, 0, 0, 0] == 17.5  # the input is not modified


def test_rgb_schema_and_bool_images():
    schema = make_schema(channels=3, pixel_range=[0, 1])
    data = make_data(channels=3)
    out, _ = schema.conform(ImageData(data.static, data.images > 8))
    assert out.images.shape == (6, 4, 5, 3) and set(np.unique(out.images)) <= {0.0, 1.0}

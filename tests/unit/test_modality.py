"""dpsynth.modality: one registered description per modality, and the dispatch through it."""

from __future__ import annotations

from importlib import resources

import pytest

from dpsynth.errors import SchemaError
from dpsynth.images.schema import ImageReport, ImageSchema
from dpsynth.modality import modalities, modality_named, modality_of
from dpsynth.pipeline import load_schema
from dpsynth.series.schema import SeriesReport, SeriesSchema
from dpsynth.tabular.schema import TabularSchema, ValidationReport

SCHEMAS = resources.files("dpsynth.data") / "schemas"


def test_three_modalities_registered_once_in_order():
    assert [m.name for m in modalities()] == ["tabular", "series", "image"]
    assert [m.schema_type for m in modalities()] == [TabularSchema, SeriesSchema, ImageSchema]


@pytest.mark.parametrize("file, kind, name", [("support2.yaml", TabularSchema, "tabular"),
                                              ("ecg_cohort.yaml", SeriesSchema, "series"),
                                              ("digits.yaml", ImageSchema, "image")])
def test_schema_files_load_and_map_back_to_their_modality(file, kind, name):
    schema = load_schema(SCHEMAS / file)
    assert isinstance(schema, kind) and modality_of(schema).name == name == schema.modality
    assert modality_of(schema).describe_schema(schema).split()[-1] == schema.fingerprint()[:12]


def test_unknown_modality_and_non_schema_are_clear_errors(tmp_path):
    path = tmp_path / "schema.yaml"
    path.write_text("modality: video\ntarget: y\n")
    with pytest.raises(SchemaError, match="schema modality 'video' is not known; use one of: tabular, series, image"):
        load_schema(path)
    with pytest.raises(SchemaError, match="expected a schema .*got dict"):
        modality_of({"target": "y"})
    assert modality_named(None).name == "tabular"


def test_each_modality_names_an_audit_plan_and_formats():
    from dpsynth.validators.suite import AuditPlan, audit_plan

    for modality in modalities():
        module, _, attribute = modality.audit_plan.partition(":")
        assert module.startswith("dpsynth.validators.") and attribute == "PLAN"
        assert isinstance(audit_plan(None, modality.name), AuditPlan)
        assert modality.default_synthetic_name in modality.formats.values()


def test_synthetic_names_are_checked_by_their_modality():
    modality_named("tabular").check_synthetic_name("out.parquet")
    modality_named("series").check_synthetic_name("out.csv")
    modality_named("image").check_synthetic_name("folder")
    with pytest.raises(SchemaError, match="series synthetic data is written as .npz, .csv or .parquet"):
        modality_named("series").check_synthetic_name("out.png")
    with pytest.raises(SchemaError, match="synthetic images are written as an .npz archive or a folder"):
        modality_named("image").check_synthetic_name("out.csv")


def test_operator_notes_per_modality():
    tabular = ValidationReport(n_rows=5, clipped={"age": 2}, unseen_to_missing={"race": 1})
    assert modality_named("tabular").data_notes(tabular) == [
        "note: clipped 2 value(s) of 'age' to its public bounds (out_of_bounds: clip)",
        "note: 1 unseen categor(y/ies) of 'race' treated as missing (unseen: missing)"]
    series = SeriesReport(n_subjects=3, clipped={"ecg": 4}, missing={"ecg": 7, "ppg": 0}, static_clipped={"age": 1})
    assert modality_named("series").data_notes(series) == [
        "note: clipped 1 value(s) of 'age' to its public bounds (out_of_bounds: clip)",
        "note: clipped 4 value(s) of 'ecg' to its public bounds (out_of_bounds: clip)",
        "note: 7 missing sample(s) in channel 'ecg' (masked, not filled)"]
    images = ImageReport(n_images=2, n_units=2, clipped_pixels=9)
    assert modality_named("image").data_notes(images) == [
        "note: clipped 9 pixel(s) to the public pixel range (out_of_bounds: clip)"]


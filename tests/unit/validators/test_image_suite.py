"""`audit_images`: conform, the tabular utility / fairness / representation tables on the per-image
attributes, multi-class accuracy, image fidelity, the written report and its image grids."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dpsynth.errors import SchemaError
from dpsynth.images.schema import ImageData, ImageSchema
from dpsynth.validators import AuditReport, audit_images
from dpsynth.validators.context import RESULT_COLUMNS, AuditConfig
from dpsynth.validators.suite import AuditInputError
from tests.conftest import make_toy_image_schema, make_toy_images

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCHEMA = make_toy_image_schema()
FAST = AuditConfig(n_bootstrap=20, intersections=False)


def inputs(**changes):
    return {"train": make_toy_images(60, 1), "holdout": make_toy_images(50, 2),
            "synthetic": make_toy_images(60, 3), "schema": SCHEMA, **changes}


def three_classes(data: ImageData) -> ImageData:
    """The toy images with a 3-class target: 'lesion' split by the blob's brightness half."""
    static = data.static.copy()
    bright = data.images.reshape(len(data), -1).max(1) > 200
    static["label"] = np.where(static["label"] == "clear", "clear", np.where(bright, "large", "small"))
    return ImageData(static, data.images)


@pytest.fixture(scope="module")
def report() -> AuditReport:
    card = {"private": True, "epsilon": 1.0, "delta": 1e-5, "accountant": ["prv"]}
    return audit_images(**inputs(), config=FAST, device="cpu", progress=False,
                        metadata={"generator": "dp-image-vae", "privacy_card": card})


def test_every_validator_runs_with_the_image_cnn(report):
    t = report.table
    assert list(t.columns) == RESULT_COLUMNS
    assert list(pd.unique(t.validator)) == ["utility", "fairness", "fidelity", "representation", "membership"]
    assert report.value(validator="membership", metric="dp_bound_auc") > 0.5  # the card's ε = 1 bounds the attacks
    assert set(t[t.validator.isin(["utility", "fairness"])].model) == {"cnn"}
    # the lesion blob is easy: real and (here: also real-like) synthetic images both teach the CNN
    assert report.value(validator="utility", model="cnn", source="TRTR", metric="auroc") > 0.9
    assert report.value(validator="utility", model="cnn", source="TSTR", metric="auroc") > 0.9
    for validator in ("fairness", "fidelity", "representation", "membership"):
        rows = t[(t.validator == validator) & (t.attribute == "sex") & (t.group != "")]
        assert set(rows.group) == {"female", "male"}, validator
    assert "class_accuracy" not in set(t.metric)  # a binary target: `accuracy` already is that


def test_fidelity_rows_and_metadata_say_what_the_features_are(report):
    t = report.table
    overall = t[(t.validator == "fidelity") & (t.attribute == "overall")]
    assert {"frechet_distance", "precision", "recall", "detection_auc", "mean_pixel_tvd"} <= set(overall.metric)
    meta = report.metadata
    assert meta["audit_differentially_private"] is False and meta["modality"] == "image"
    assert meta["unit"] == "subject" and meta["image_shape"] == [8, 8, 1] and meta["audit_device"] == "cpu"
    assert "no pretrained network" in meta["feature_network_note"]
    assert meta["epsilon"] == 1.0


def test_report_writes_json_markdown_and_image_grids(report, tmp_path):
    report.write(tmp_path)
    assert json.loads((tmp_path / "audit.json").read_text())["metadata"]["modality"] == "image"
    plots = {p.name: p for p in (tmp_path / "plots").glob("*.png")}
    assert {"images_overall.png", "images_by_class.png", "images_sex.png"} <= set(plots)
    assert all(p.read_bytes()[:8] == PNG_MAGIC for p in plots.values())
    assert "not differentially private" in (tmp_path / "report.md").read_text()


def test_a_multi_class_target_adds_class_accuracy_rows():
    spec = SCHEMA.to_dict()
    label = next(c for c in spec["static"] if c["name"] == "label")
    label["categories"] = ["clear", "small", "large"]
    spec["positive"] = "large"
    schema = ImageSchema.from_dict(spec)
    data = {k: three_classes(v) for k, v in inputs().items() if k != "schema"}
    report = audit_images(**data, schema=schema, config=AuditConfig(n_bootstrap=20, intersections=False,
                                                                     min_group_size=5),
                          device="cpu", progress=False)
    rows = report.table[report.table.metric == "class_accuracy"]
    assert set(rows.source) == {"TSTR", "TRTR", "ratio", "change"}
    trtr = report.value(validator="utility", source="TRTR", metric="class_accuracy")
    assert 0.4 < trtr <= 1.0
    ratio = report.value(validator="utility", source="ratio", metric="class_accuracy")
    assert ratio == pytest.approx(report.value(validator="utility", source="TSTR", metric="class_accuracy") / trtr)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(AuditInputError, match="must be dpsynth.images.ImageData"):
        audit_images(**inputs(synthetic=make_toy_images(10).static), progress=False)
    with pytest.raises(AuditInputError, match="must be an ImageSchema"):
        audit_images(**inputs(schema=SCHEMA.static), progress=False)
    holdout = make_toy_images(20, 2)
    holdout.static["label"] = "clear"
    with pytest.raises(AuditInputError, match="label"):
        audit_images(**inputs(holdout=holdout), progress=False)
    broken = make_toy_images(20, 3)
    broken.images[0, 0, 0, 0] = 400.0  # outside the public pixel range [0, 255]
    with pytest.raises(SchemaError, match="synthetic"):
        audit_images(**inputs(synthetic=broken), progress=False)


def test_markdown_headline_reads_the_image_rows(report, tmp_path):
    report.write(tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "images: 8 × 8 × 1" in text and "Fréchet distance, CNN features (not FID)" in text
    assert "Precision (k-NN manifold)" in text and "real train vs synthetic images" in text
    assert "images) / holdout" in text  # sizes are counted in images

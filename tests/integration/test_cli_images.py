"""The CLI end to end on image files the tests write: generate from an .npz archive and from a
PNG folder with its manifest, the release bundle, schema check, audit, and the modality guard."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dpsynth.cli import app
from dpsynth.images.io import read_image_folder, read_images_npz, write_image_folder, write_images_npz
from dpsynth.images.schema import ImageData
from dpsynth.validators.report import AuditReport
from tests.conftest import make_toy_image_schema, make_toy_images

runner = CliRunner()
TINY_PARAMS = ["--param", "epochs=1", "--param", "batch_size=16", "--param", "hidden=[16]",
               "--param", "latent_dim=4", "--param", "conv_channels=[4,8]"]


def subset(data: ImageData, patients) -> ImageData:
    keep = data.static["patient"].isin(patients).to_numpy()
    return ImageData(data.static[keep].reset_index(drop=True), data.images[keep])


@pytest.fixture
def files(tmp_path):
    schema, data = make_toy_image_schema(), make_toy_images(n_patients=60)
    patients = data.static["patient"].unique()
    write_images_npz(subset(data, patients[:40]), tmp_path / "train.npz", schema)
    write_images_npz(subset(data, patients[40:]), tmp_path / "holdout.npz", schema)
    write_image_folder(subset(data, patients[:40]), tmp_path / "train_png", schema)
    schema.save(tmp_path / "schema.yaml")
    return tmp_path


def generate(files, data="train.npz", *extra):
    return runner.invoke(app, ["generate", "--data", str(files / data), "--schema", str(files / "schema.yaml"),
                               "--generator", "dp-image-vae", "--out", str(files / "release"), "--epsilon", "2",
                               "--delta", "1e-5", "--rows", "30", "--seed", "1", "--device", "cpu",
                               *TINY_PARAMS, *extra])


def test_generate_images_writes_an_npz_release_with_card_and_model(files):
    result = generate(files)
    assert result.exit_code == 0, result.output
    release = files / "release"
    synthetic = read_images_npz(release / "synthetic.npz", make_toy_image_schema())
    assert synthetic.images.shape == (30, 8, 8, 1)
    make_toy_image_schema().conform(synthetic)  # inside the public pixel range and domains
    card = json.loads((release / "privacy_card.json").read_text())
    assert card["private"] is True and card["epsilon"] <= 2.0 and "patient" in card["privacy_unit"]
    assert card["training"]["device"] == "cpu"
    assert (release / "model" / "weights.pt").exists()


def test_the_moments_generator_releases_and_verifies_from_the_cli(files):
    """No network, no DP-SGD: the release holds the measurements' ledger entry and `verify`
    re-derives its ε."""
    result = runner.invoke(app, ["generate", "--data", str(files / "train.npz"), "--schema",
                                 str(files / "schema.yaml"), "--generator", "dp-image-moments", "--out",
                                 str(files / "release"), "--epsilon", "2", "--delta", "1e-5", "--rows", "30",
                                 "--param", "components=16"])
    assert result.exit_code == 0, result.output
    card = json.loads((files / "release" / "privacy_card.json").read_text())
    assert "marginal-measurements" in [e["mechanism"] for e in card["ledger"]] and card["epsilon"] <= 2.0
    assert runner.invoke(app, ["verify", str(files / "release")]).exit_code == 0
    assert read_images_npz(files / "release" / "synthetic.npz", make_toy_image_schema()).images.shape == (30, 8, 8, 1)


def test_public_pretraining_runs_from_the_cli_and_the_card_names_its_source(files):
    """`--param pretrain_images=…`: non-private steps on scikit-image's public photographs before
    DP-SGD; the card names the source and charges it no ε."""
    result = generate(files, "train.npz", "--param", "pretrain_images=64", "--param", "pretrain_steps=2")
    assert result.exit_code == 0, result.output
    card = json.loads((files / "release" / "privacy_card.json").read_text())
    pretraining = card["public_pretraining"]
    assert "scikit-image" in pretraining["source"] and pretraining["epsilon"] == 0.0
    assert pretraining["records"] == 64 and pretraining["steps"] == 2 and card["epsilon"] <= 2.0


def test_generate_images_from_a_png_folder_writes_png_files(files):
    result = generate(files, "train_png", "--format", "png")
    assert result.exit_code == 0, result.output
    synthetic = read_image_folder(files / "release" / "synthetic_images", make_toy_image_schema())
    assert synthetic.images.shape == (30, 8, 8, 1)
    assert np.array_equal(synthetic.images, np.round(synthetic.images))  # PNG pixels are whole numbers


def test_an_impossible_device_is_a_clear_error_before_training(files):
    result = generate(files, "train.npz", "--device", "tpu")
    assert result.exit_code == 2 and "'auto', 'cpu', 'cuda' or 'cuda:N'" in result.output
    assert "Traceback" not in result.output and not (files / "release").exists()


def test_a_series_generator_on_an_image_schema_is_a_clear_error(files):
    result = runner.invoke(app, ["generate", "--data", str(files / "train.npz"), "--schema",
                                 str(files / "schema.yaml"), "--generator", "dp-series-vae", "--out",
                                 str(files / "release"), "--epsilon", "1"])
    assert result.exit_code == 2
    assert "for series data" in result.output and "dp-image-vae" in result.output


def test_schema_check_reads_an_image_schema_and_its_data(files):
    result = runner.invoke(app, ["schema", "check", str(files / "schema.yaml"), "--data", str(files / "train.npz")])
    assert result.exit_code == 0, result.output
    assert "image schema ok: 8x8x1" in result.output and "privacy units" in result.output


def test_audit_images_writes_the_report_with_image_metrics_and_grids(files):
    assert generate(files, "train.npz", "--rows", "60").exit_code == 0
    result = runner.invoke(app, ["audit", "--train", str(files / "train.npz"), "--holdout",
                                 str(files / "holdout.npz"), "--synthetic", str(files / "release" / "synthetic.npz"),
                                 "--schema", str(files / "schema.yaml"), "--out", str(files / "audit"),
                                 "--card", str(files / "release" / "privacy_card.json"), "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    table = AuditReport.read_csv(files / "audit" / "audit.csv")
    assert "cnn" in set(table["model"].dropna())
    assert {"utility", "fairness", "fidelity", "representation"} <= set(table["validator"])
    assert {"frechet_distance", "precision", "recall", "detection_auc"} <= set(table["metric"])
    assert "not differentially private" in result.output
    plots = {p.name for p in (files / "audit").glob("plots/*.png")}
    assert {"images_overall.png", "images_by_class.png"} <= plots

"""The CLI end to end on series files the tests write: generate from .npz and from a long
table, the release bundle, schema check, and the modality guard."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from dpsynth.cli import app
from dpsynth.series.io import read_npz, write_long, write_npz
from dpsynth.series.schema import SeriesData
from dpsynth.validators.report import AuditReport
from tests.conftest import make_toy_series, make_toy_series_schema

runner = CliRunner()
TINY_PARAMS = ["--param", "epochs=1", "--param", "batch_size=16", "--param", "hidden=[16]",
               "--param", "latent_dim=4", "--param", "conv_channels=[4,8]"]


def subset(data: SeriesData, ids) -> SeriesData:
    static = data.static[data.static["subject"].isin(ids)].reset_index(drop=True)
    return SeriesData(static, {s: data.signals[s] for s in static["subject"]})


@pytest.fixture
def files(tmp_path):
    schema, data = make_toy_series_schema(), make_toy_series(n=80)
    ids = list(data.static["subject"])
    write_npz(subset(data, ids[:60]), tmp_path / "train.npz", schema)
    write_npz(subset(data, ids[60:]), tmp_path / "holdout.npz", schema)
    write_long(subset(data, ids[:60]), tmp_path / "train_long.parquet", tmp_path / "train_static.csv", schema)
    schema.save(tmp_path / "schema.yaml")
    return tmp_path


def generate(files, data="train.npz", *extra):
    return runner.invoke(app, ["generate", "--data", str(files / data), "--schema", str(files / "schema.yaml"),
                               "--generator", "dp-series-vae", "--out", str(files / "release"), "--epsilon", "2",
                               "--delta", "1e-5", "--rows", "25", "--seed", "1", *TINY_PARAMS, *extra])


def test_generate_series_writes_an_npz_release_with_card_and_model(files):
    result = generate(files)
    assert result.exit_code == 0, result.output
    release = files / "release"
    synthetic = read_npz(release / "synthetic.npz", make_toy_series_schema())
    assert len(synthetic.static) == 25
    assert all(s.shape == (32, 2) for s in synthetic.signals.values())
    make_toy_series_schema().conform(synthetic)  # inside the public bounds
    card = json.loads((release / "privacy_card.json").read_text())
    assert card["private"] is True and card["epsilon"] <= 2.0 and "subject" in card["privacy_unit"]
    assert (release / "model" / "weights.pt").exists()
    assert "missing sample(s) in channel" in result.output  # the toy data has NaN dropouts: masked, said so


def test_generate_series_from_a_long_table_with_its_static_table(files):
    result = generate(files, "train_long.parquet", "--static", str(files / "train_static.csv"),
                      "--format", "parquet")
    assert result.exit_code == 0, result.output
    assert (files / "release" / "synthetic.parquet").exists()
    assert (files / "release" / "synthetic_static.parquet").exists()


def test_a_long_table_without_its_static_table_is_a_clear_error(files):
    result = generate(files, "train_long.parquet")
    assert result.exit_code == 2 and "static" in result.output and "Traceback" not in result.output


def test_a_tabular_generator_on_a_series_schema_is_a_clear_error(files):
    result = runner.invoke(app, ["generate", "--data", str(files / "train.npz"), "--schema",
                                 str(files / "schema.yaml"), "--generator", "dp-vae", "--out",
                                 str(files / "release"), "--epsilon", "1"])
    assert result.exit_code == 2
    assert "for tabular data" in result.output and "dp-series-vae" in result.output
    assert not (files / "release").exists()


def test_schema_check_reads_a_series_schema_and_its_data(files):
    result = runner.invoke(app, ["schema", "check", str(files / "schema.yaml"), "--data", str(files / "train.npz")])
    assert result.exit_code == 0, result.output
    assert "series schema ok" in result.output and "60 subjects" in result.output


def test_audit_series_writes_the_report_with_series_metrics(files):
    assert generate(files, "train.npz", "--rows", "40").exit_code == 0
    result = runner.invoke(app, ["audit", "--train", str(files / "train.npz"), "--holdout",
                                 str(files / "holdout.npz"), "--synthetic", str(files / "release" / "synthetic.npz"),
                                 "--schema", str(files / "schema.yaml"), "--out", str(files / "audit"),
                                 "--card", str(files / "release" / "privacy_card.json"), "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    table = AuditReport.read_csv(files / "audit" / "audit.csv")
    assert {"cnn", "features"} <= set(table["model"].dropna())
    assert {"utility", "fairness", "fidelity"} <= set(table["validator"])
    assert "not differentially private" in result.output
    assert list((files / "audit").glob("plots/*.png"))

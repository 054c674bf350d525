"""`dpsynth privacy-audit` end to end on small files the tests write: the report, the JSON
result, clear errors (exit 2) and the loud stop when the bound contradicts the card (exit 3)."""

import json

import pytest
from typer.testing import CliRunner

from dpsynth import privacy_audit
from dpsynth.cli import CONTRADICTS_CARD, app
from dpsynth.series.io import write_npz
from tests.conftest import (
    dpsgd_noise_off,
    make_toy_frame,
    make_toy_schema,
    make_toy_series,
    make_toy_series_schema,
)

runner = CliRunner()
TINY_PARAMS = ["--param", "epochs=1", "--param", "batch_size=32", "--param", "hidden=[16]", "--param", "n_bins=8"]


@pytest.fixture
def files(tmp_path):
    make_toy_frame(n=200).to_csv(tmp_path / "train.csv", index=False)
    make_toy_schema().save(tmp_path / "schema.yaml")
    return tmp_path


def audit(files, *extra):
    return runner.invoke(app, ["privacy-audit", "--data", str(files / "train.csv"), "--schema",
                               str(files / "schema.yaml"), "--epsilon", "1", "--canaries", "50", "--draws", "2",
                               *TINY_PARAMS, *extra])


def test_audit_reports_the_bound_beside_the_card_and_writes_json(files):
    result = audit(files, "--generator", "dp-gan", "--out", str(files / "audit" / "privacy_audit.json"))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("one-run privacy audit: uses real data and is not differentially private")
    assert "ε lower bound" in result.output and "card           : ε = " in result.output
    assert "consistent with the card" in result.output
    saved = json.loads((files / "audit" / "privacy_audit.json").read_text())
    assert next(iter(saved)) == "note" and "not a release" in saved["note"]
    assert saved["generator"] == "dp-gan" and saved["canaries"] == 50 and saved["contradicts_card"] is False
    assert 0 <= saved["epsilon_lower_bound"] <= saved["card_epsilon"] <= 1.0


def test_series_files_are_audited_the_same_way(tmp_path):
    schema = make_toy_series_schema()
    write_npz(make_toy_series(n=60), tmp_path / "train.npz", schema)
    schema.save(tmp_path / "schema.yaml")
    result = runner.invoke(app, ["privacy-audit", "--data", str(tmp_path / "train.npz"), "--schema",
                                 str(tmp_path / "schema.yaml"), "--generator", "dp-series-vae", "--epsilon", "2",
                                 "--draws", "2", *TINY_PARAMS])
    assert result.exit_code == 0, result.output
    assert "canaries       : 60 " in result.output  # the default: 1000, or the number of subjects if fewer
    assert "60 canaries cannot show a bound above" in result.output  # too few to contradict ε = 2


@pytest.mark.parametrize("args, message", [
    (["--canaries", "10"], "canaries must be a whole number >= 50"),
    (["--canaries", "500"], "more than the data's 200 privacy units"),
    (["--generator", "sdv-ctgan"], "NOT PRIVATE reference"),
    (["--epsilon", "-1"], "epsilon must be a finite number > 0"),
    (["--generator", "dp-image-vae"], "is for image data, but the schema describes tabular"),
])
def test_impossible_input_is_a_clear_error(files, args, message):
    result = audit(files, *args)
    assert result.exit_code == 2 and "error:" in result.output and message in result.output
    assert "Traceback" not in result.output


def test_a_bound_above_the_card_stops_loudly_with_its_own_exit_code(files, monkeypatch):
    def contradicted(**kwargs):
        return privacy_audit.PrivacyAuditResult(
            generator=kwargs["generator"], card_epsilon=1.0, card_delta=1e-5, epsilon_lower_bound=2.5,
            confidence=0.95, canaries=50, canaries_included=25, guesses=20, correct=20, side="out", rules=[],
            best_possible=2.6)

    monkeypatch.setattr(privacy_audit, "one_run_audit", contradicted)
    result = audit(files)
    assert result.exit_code == CONTRADICTS_CARD == 3
    assert "PRIVACY BUG" in result.output and "exceeds the card's ε = 1.000" in result.output
    assert "Do not release" in result.output


@pytest.mark.slow
def test_the_cli_catches_dp_sgd_without_noise(tmp_path):
    make_toy_frame(n=400).to_csv(tmp_path / "train.csv", index=False)
    make_toy_schema().save(tmp_path / "schema.yaml")
    strong = ["--param", "epochs=30", "--param", "batch_size=32", "--param", "hidden=[256,256]",
              "--param", "n_bins=8", "--param", "lr=0.01", "--param", "max_grad_norm=100"]
    with dpsgd_noise_off():
        result = runner.invoke(app, ["privacy-audit", "--data", str(tmp_path / "train.csv"), "--schema",
                                     str(tmp_path / "schema.yaml"), "--epsilon", "0.5", "--canaries", "200", *strong])
    assert result.exit_code == CONTRADICTS_CARD, result.output
    assert "PRIVACY BUG" in result.output

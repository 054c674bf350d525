"""The CLI end to end on small files the tests write (tiny training settings)."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from dpsynth.cli import app
from dpsynth.validators.report import AuditReport
from tests.conftest import make_toy_frame, make_toy_schema, write_toy_files
from tests.extras import needs_sdv

runner = CliRunner()
TINY_PARAMS = ["--param", "epochs=1", "--param", "batch_size=64", "--param", "hidden=[16]",
               "--param", "latent_dim=4"]


@pytest.fixture
def files(tmp_path):
    return write_toy_files(tmp_path, n=400, n_train=300)


def generate(files, *extra):
    return runner.invoke(app, ["generate", "--data", str(files / "train.csv"), "--schema",
                               str(files / "schema.yaml"), "--out", str(files / "release"), "--epsilon", "2",
                               "--delta", "1e-5", "--rows", "200", "--seed", "1", *TINY_PARAMS, *extra])


def test_generators_lists_the_registry():
    result = runner.invoke(app, ["generators"])
    assert result.exit_code == 0 and "dp-vae" in result.output and "tabular" in result.output


def test_generate_writes_synthetic_data_card_and_model(files):
    result = generate(files)
    assert result.exit_code == 0, result.output
    release = files / "release"
    synthetic = pd.read_csv(release / "synthetic.csv")
    assert len(synthetic) == 200 and list(synthetic.columns) == make_toy_schema().names
    card = json.loads((release / "privacy_card.json").read_text())
    assert card["private"] is True and card["epsilon"] <= 2.0 and card["delta"] <= 1e-5
    assert (release / "model" / "weights.pt").exists() and (release / "model" / "config.json").exists()
    assert "ε = " in result.output


def test_generate_writes_parquet_on_request(files):
    result = generate(files, "--format", "parquet")
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(files / "release" / "synthetic.parquet")) == 200


def test_draft_schema_is_refused_with_both_ways_out(files):
    draft = runner.invoke(app, ["schema", "draft", str(files / "train.csv"), "--target", "outcome",
                                "--sensitive", "sex,race", "--out", str(files / "draft.yaml")])
    assert draft.exit_code == 0, draft.output
    assert "public: false" in (files / "draft.yaml").read_text()
    result = runner.invoke(app, ["generate", "--data", str(files / "train.csv"), "--schema",
                                 str(files / "draft.yaml"), "--out", str(files / "r"), "--epsilon", "1"])
    assert result.exit_code == 2
    assert "confirm public values" in result.output and "--learn-domain-share" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args, message", [
    (["--epsilon", "0"], "epsilon must be a finite number > 0"),
    (["--epsilon", "1", "--delta", "1.5"], "delta must be in (0, 1)"),
    (["--epsilon", "1", "--format", "xlsx"], "--format must be csv, parquet, npz or png"),
])
def test_bad_budget_or_option_is_a_clear_error(files, args, message):
    result = runner.invoke(app, ["generate", "--data", str(files / "train.csv"), "--schema",
                                 str(files / "schema.yaml"), "--out", str(files / "r"), *args])
    assert result.exit_code == 2 and message in result.output


def test_bad_data_is_a_clear_error_naming_the_column(files):
    frame = pd.read_csv(files / "train.csv")
    frame.loc[0, "race"] = "martian"
    frame.to_csv(files / "bad.csv", index=False)
    result = runner.invoke(app, ["generate", "--data", str(files / "bad.csv"), "--schema",
                                 str(files / "schema.yaml"), "--out", str(files / "r"), "--epsilon", "1"])
    assert result.exit_code == 2 and "column 'race'" in result.output and "martian" in result.output


def test_unreadable_file_is_a_clear_error(files):
    result = runner.invoke(app, ["generate", "--data", str(files / "nope.csv"), "--schema",
                                 str(files / "schema.yaml"), "--out", str(files / "r"), "--epsilon", "1"])
    assert result.exit_code == 2 and "nope.csv" in result.output


def test_large_delta_is_refused_unless_allowed_and_then_the_card_says_so(files, tmp_path):
    args = ["generate", "--data", str(files / "train.csv"), "--schema", str(files / "schema.yaml"),
            "--epsilon", "1", "--delta", "0.01", "--rows", "10", *TINY_PARAMS]
    refused = runner.invoke(app, [*args, "--out", str(tmp_path / "r")])
    assert refused.exit_code == 2 and "not below 1/n" in refused.output and "--allow-large-delta" in refused.output
    assert not (tmp_path / "r").exists()
    allowed = runner.invoke(app, [*args, "--out", str(tmp_path / "r"), "--allow-large-delta"])
    assert allowed.exit_code == 0, allowed.output
    card = runner.invoke(app, ["card", str(tmp_path / "r")])
    assert "switched off the check that δ is below 1/n" in card.output


def test_audit_works_on_a_table_from_another_tool(files):
    # "another tool": a resampled copy of the holdout with the schema's columns
    other = pd.read_csv(files / "holdout.csv").sample(150, replace=True, random_state=0)
    other.to_csv(files / "other.csv", index=False)
    result = runner.invoke(app, ["audit", "--train", str(files / "train.csv"), "--holdout",
                                 str(files / "holdout.csv"), "--synthetic", str(files / "other.csv"),
                                 "--schema", str(files / "schema.yaml"), "--out", str(files / "audit"),
                                 "--bootstrap", "20", "--min-group-size", "10"])
    assert result.exit_code == 0, result.output
    first_line = (files / "audit" / "report.md").read_text().splitlines()[0]
    assert "not differentially private" in first_line
    table = AuditReport.read_csv(files / "audit" / "audit.csv")
    assert {"utility", "fairness", "fidelity", "memorisation"} <= set(table["validator"])


def test_draft_schema_can_pay_to_learn_its_values(files):
    frame = make_toy_frame(n=1500)
    frame.to_csv(files / "big.csv", index=False)
    runner.invoke(app, ["schema", "draft", str(files / "big.csv"), "--target", "outcome",
                        "--sensitive", "sex,race", "--out", str(files / "draft.yaml")])
    result = runner.invoke(app, ["generate", "--data", str(files / "big.csv"), "--schema", str(files / "draft.yaml"),
                                 "--out", str(files / "r"), "--epsilon", "4", "--delta", "1e-6", "--rows", "50",
                                 "--learn-domain-share", "0.3", *TINY_PARAMS])
    assert result.exit_code == 0, result.output
    card = json.loads((files / "r" / "privacy_card.json").read_text())
    purposes = [e["purpose"] for e in card["ledger"]]
    assert "bounds of column 'age'" in purposes and "categories of column 'race'" in purposes
    assert card["epsilon"] <= 4.0


@needs_sdv
def test_reference_runs_without_epsilon_and_says_not_private(files):
    result = runner.invoke(app, ["generate", "--data", str(files / "train.csv"), "--schema",
                                 str(files / "schema.yaml"), "--out", str(files / "ref"),
                                 "--generator", "sdv-gaussiancopula", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "NOT PRIVATE" in result.output and "ε = ∞" in result.output and "do not release" in result.output
    card = json.loads((files / "ref" / "privacy_card.json").read_text())
    assert card["private"] is False and card["epsilon"] == "inf" and card["generator"] == "sdv-gaussiancopula"
    assert card["rows_released"] == 300 and card["synthetic_file"] == "synthetic.csv"
    synthetic = pd.read_csv(files / "ref" / "synthetic.csv")
    assert len(synthetic) == 300 and list(synthetic.columns) == make_toy_schema().names
    assert not (files / "ref" / "model").exists()


def test_private_generator_without_epsilon_is_a_clear_error(files):
    result = runner.invoke(app, ["generate", "--data", str(files / "train.csv"), "--schema",
                                 str(files / "schema.yaml"), "--out", str(files / "r"), "--generator", "dp-gan"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--epsilon" in result.output and "required for the private generator 'dp-gan'" in result.output


def test_generators_lists_the_references_as_not_private():
    result = runner.invoke(app, ["generators"], terminal_width=200)
    assert result.exit_code == 0
    line = next(row for row in result.output.splitlines() if "sdv-ctgan" in row)
    assert "NO (ε = ∞)" in line and "reference" in line


def test_rebalance_sets_subgroup_shares_and_is_on_the_card(files):
    result = generate(files, "--rebalance", "race=equal", "--rows", "600")
    assert result.exit_code == 0, result.output
    synthetic = pd.read_csv(files / "release" / "synthetic.csv")
    groups = make_toy_schema().group_labels(make_toy_schema().conform(synthetic)[0])
    assert (groups["race"].value_counts(normalize=True) - 1 / 3).abs().max() < 0.07
    card = json.loads((files / "release" / "privacy_card.json").read_text())
    assert card["sampling"]["rebalance"] == {"race": "equal"} and "post-processing" in card["sampling"]["note"]


@pytest.mark.parametrize("args, message", [
    (["--rebalance", "ethnicity=equal"], "'ethnicity' is not a condition"),
    (["--rebalance", "race=white:0.9"], "adding up to 1"),
    (["--rebalance", "race=equal", "--generator", "sdv-gaussiancopula"], "has none"),
])
def test_bad_rebalance_is_a_clear_error_before_training(files, args, message):
    result = generate(files, *args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert message in result.output
    assert not (files / "release").exists()


def test_generate_on_two_processes_writes_the_card_of_one_process(files):
    assert generate(files).exit_code == 0
    one = json.loads((files / "release" / "privacy_card.json").read_text())
    result = runner.invoke(app, ["generate", "--data", str(files / "train.csv"), "--schema",
                                 str(files / "schema.yaml"), "--out", str(files / "release2"), "--epsilon", "2",
                                 "--delta", "1e-5", "--rows", "200", "--seed", "1", "--devices", "2", *TINY_PARAMS])
    assert result.exit_code == 0, result.output
    two = json.loads((files / "release2" / "privacy_card.json").read_text())
    assert two["training"]["devices"] == 2 and one["training"]["devices"] == 1
    drop = ("training", "created", "dpsynth_version", "generated_at")
    assert {k: v for k, v in two.items() if k not in drop} == {k: v for k, v in one.items() if k not in drop}
    assert runner.invoke(app, ["verify", str(files / "release2")]).exit_code == 0

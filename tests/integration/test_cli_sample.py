"""`dpsynth sample`: sample a saved tabular model bundle again (post-processing: no new ε)."""

import hashlib
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from dpsynth.cli import app
from tests.conftest import make_toy_frame, make_toy_schema

runner = CliRunner()
TINY_PARAMS = ["--param", "epochs=1", "--param", "batch_size=64", "--param", "hidden=[16]",
               "--param", "latent_dim=4"]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """One tiny dp-vae release (fitted once for the module): the bundle `sample` reads."""
    root = tmp_path_factory.mktemp("sample")
    make_toy_frame(n=300).to_csv(root / "train.csv", index=False)
    make_toy_schema().save(root / "schema.yaml")
    result = runner.invoke(app, ["generate", "--data", str(root / "train.csv"), "--schema", str(root / "schema.yaml"),
                                 "--out", str(root / "release"), "--epsilon", "2", "--delta", "1e-5", "--rows", "50",
                                 "--seed", "1", *TINY_PARAMS])
    assert result.exit_code == 0, result.output
    return root / "release"


def sample(release, out, *extra):
    return runner.invoke(app, ["sample", "--model", str(release / "model"), "--out", str(out), *extra])


def fingerprint(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_sample_writes_the_rows_and_says_no_new_privacy_cost(release, tmp_path):
    before = fingerprint(release)
    result = sample(release, tmp_path / "more.csv", "--rows", "30")
    assert result.exit_code == 0, result.output
    synthetic = pd.read_csv(tmp_path / "more.csv")
    assert len(synthetic) == 30 and list(synthetic.columns) == make_toy_schema().names
    card = json.loads((release / "privacy_card.json").read_text())
    assert f"released at ε = {card['epsilon']:.3f}" in result.output and "no new privacy cost" in result.output
    assert fingerprint(release) == before  # the model folder and the card are only read
    assert sorted(p.name for p in tmp_path.iterdir()) == ["more.csv"]  # no staging folder left behind


def test_format_adds_the_extension(release, tmp_path):
    result = sample(release, tmp_path / "more", "--rows", "10", "--format", "parquet")
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(tmp_path / "more.parquet")) == 10


def test_conditions_fix_the_condition_columns(release, tmp_path):
    result = sample(release, tmp_path / "old_women.csv", "--rows", "40", "--conditions", "sex=female",
                    "--conditions", "age_band=70+")
    assert result.exit_code == 0, result.output
    synthetic = pd.read_csv(tmp_path / "old_women.csv")
    assert len(synthetic) == 40 and set(synthetic["sex"]) == {"female"} and synthetic["age"].min() >= 70


def test_rebalance_sets_subgroup_shares(release, tmp_path):
    result = sample(release, tmp_path / "even.csv", "--rows", "600", "--rebalance", "race=equal")
    assert result.exit_code == 0, result.output
    schema = make_toy_schema()
    groups = schema.group_labels(schema.conform(pd.read_csv(tmp_path / "even.csv"))[0])
    assert (groups["race"].value_counts(normalize=True) - 1 / 3).abs().max() < 0.07


def test_same_seed_gives_the_same_output_and_another_seed_does_not(release, tmp_path):
    for name, seed in (("a.csv", "7"), ("b.csv", "7"), ("c.csv", "8")):
        result = sample(release, tmp_path / name, "--rows", "25", "--seed", seed)
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()


@pytest.mark.parametrize("args, message", [
    (["--conditions", "sex=F"], "condition sex='F' is not a known value; 'sex' takes one of ['female', 'male']"),
    (["--conditions", "sex"], "--conditions expects name=value"),
    (["--conditions", "ethnicity=x"], "condition 'ethnicity' is neither the target nor a sensitive attribute"),
    (["--rebalance", "race=white:0.9"], "adding up to 1"),
    (["--rows", "0"], "--rows must be a positive integer"),
    (["--format", "png"], "--format must be one of csv, parquet"),
])
def test_bad_requests_are_one_line_errors_and_write_nothing(release, tmp_path, args, message):
    result = sample(release, tmp_path / "out.csv", *(["--rows", "10"] if "--rows" not in args else []), *args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1 and message in result.output
    assert not any(tmp_path.iterdir())


def test_an_existing_output_is_never_overwritten(release, tmp_path):
    (tmp_path / "taken.csv").write_text("keep me\n")
    result = sample(release, tmp_path / "taken.csv", "--rows", "5")
    assert result.exit_code == 2 and "already exists" in result.output
    assert (tmp_path / "taken.csv").read_text() == "keep me\n"


def test_output_inside_the_model_folder_is_refused(release):
    result = sample(release, release / "model" / "x.csv", "--rows", "5")
    assert result.exit_code == 2 and "inside the model folder" in result.output
    assert not (release / "model" / "x.csv").exists()


def test_a_folder_that_is_not_a_bundle_is_a_clear_error(release, tmp_path):
    result = runner.invoke(app, ["sample", "--model", str(release), "--rows", "5", "--out", str(tmp_path / "x.csv")])
    assert result.exit_code == 2 and "is not a model bundle (no config.json)" in result.output

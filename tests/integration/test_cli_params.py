"""Generator parameters on the command line: one-line errors for unknown names and bad values, and
`dpsynth generators --params NAME`."""

import pytest
from typer.testing import CliRunner

from dpsynth.cli import app
from tests.conftest import make_toy_frame, make_toy_schema

runner = CliRunner()


@pytest.fixture
def files(tmp_path):
    make_toy_frame(n=200).to_csv(tmp_path / "train.csv", index=False)
    make_toy_schema().save(tmp_path / "schema.yaml")
    return tmp_path


def generate(files, *params):
    return runner.invoke(app, ["generate", "--data", str(files / "train.csv"), "--schema", str(files / "schema.yaml"),
                               "--out", str(files / "release"), "--epsilon", "1", *params], terminal_width=400)


def error_lines(result):
    return [line for line in result.output.splitlines() if line.strip()]


def test_a_misspelled_parameter_is_one_line_with_did_you_mean_and_exit_2(files):
    result = generate(files, "--param", "epoch=2")
    assert result.exit_code == 2
    lines = error_lines(result)
    assert len(lines) == 1 and "Traceback" not in result.output
    assert lines[0].startswith("error: unknown parameter 'epoch' for dp-vae; did you mean 'epochs'? valid: ")
    assert not (files / "release").exists()


@pytest.mark.parametrize("param, message", [
    ("epochs=abc", "error: parameter 'epochs' of dp-vae must be None (by cohort size) or a number > 0 (got 'abc')"),
    ("batch_size=0", "error: parameter 'batch_size' of dp-vae must be None (by cohort size) or a whole number >= 1 "
                     "(got 0)"),
    ("epochs=-1", "error: parameter 'epochs' of dp-vae must be None (by cohort size) or a number > 0 (got -1)"),
])
def test_a_bad_parameter_value_is_one_line_and_exit_2(files, param, message):
    result = generate(files, "--param", param)
    assert result.exit_code == 2 and error_lines(result) == [message]


def test_a_param_without_a_value_is_a_clear_error(files):
    result = generate(files, "--param", "epochs")
    assert result.exit_code == 2 and "--param expects name=value" in result.output


def test_generators_params_lists_names_defaults_and_descriptions():
    result = runner.invoke(app, ["generators", "--params", "dp-vae"], terminal_width=200)
    assert result.exit_code == 0, result.output
    epochs = next(line for line in result.output.splitlines() if " epochs " in line)
    assert "null" in epochs and "passes over the data" in epochs  # dp-vae: by cohort size
    latent = next(line for line in result.output.splitlines() if " latent_dim " in line)
    assert "32" in latent and "latent code" in latent


def test_generators_params_shows_a_generator_own_defaults():
    result = runner.invoke(app, ["generators", "--params", "dp-gan"], terminal_width=200)
    assert result.exit_code == 0
    lr = next(line for line in result.output.splitlines() if " lr " in line)
    assert "0.001" in lr


def test_generators_params_of_an_unknown_generator_is_a_clear_error():
    result = runner.invoke(app, ["generators", "--params", "dp-vea"])
    assert result.exit_code == 2 and "unknown generator 'dp-vea'" in result.output


def test_plain_generators_listing_is_unchanged():
    result = runner.invoke(app, ["generators"], terminal_width=200)
    assert result.exit_code == 0 and "dp-vae" in result.output and "sdv-ctgan" in result.output

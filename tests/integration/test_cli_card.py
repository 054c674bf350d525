"""`dpsynth card`: a release's privacy card in words (or normalised JSON), end to end."""

import json

from dpsynth.cli import app
from dpsynth.privacy.card import non_private_card
from tests.integration.test_cli import files, generate, runner  # noqa: F401  (files is a fixture)


def test_card_says_a_tiny_release_in_words_and_as_json(files):  # noqa: F811
    assert generate(files).exit_code == 0
    path = files / "release" / "privacy_card.json"
    result = runner.invoke(app, ["card", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("This release is differentially private: ε = ")
    assert "δ = 1e-05" in result.output and "row (one row = one patient)" in result.output
    assert "(marginal-measurements)" in result.output and "(dp-sgd)" in result.output and "NOT PRIVATE" not in result.output
    assert "The seed (1) drives only" in result.output
    as_json = runner.invoke(app, ["card", str(files / "release"), "--json"])  # the folder works too
    assert as_json.exit_code == 0 and json.loads(as_json.output) == json.loads(path.read_text())


def test_card_is_loud_about_a_not_private_reference(tmp_path):
    non_private_card(generator="sdv-tvae", schema_fingerprint="ab" * 32, seed=0).write(tmp_path / "card.json")
    result = runner.invoke(app, ["card", str(tmp_path / "card.json")])
    assert result.exit_code == 0 and result.output.startswith("NOT PRIVATE (ε = ∞): do not release.")
    assert json.loads(runner.invoke(app, ["card", str(tmp_path / "card.json"), "--json"]).output)["epsilon"] == "inf"


def test_card_refuses_a_bad_path_in_one_line(tmp_path):
    (tmp_path / "audit.json").write_text(json.dumps({"records": []}))
    for path, message in ((tmp_path / "missing.json", "cannot read privacy card"),
                          (tmp_path / "audit.json", "is not a privacy card: it has no 'private'")):
        result = runner.invoke(app, ["card", str(path)])
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert message in result.output and result.output.startswith("error:")
        assert len(result.output.strip().splitlines()) == 1


def test_the_audit_report_names_the_generator_on_its_card(files):  # noqa: F811
    assert generate(files).exit_code == 0
    result = runner.invoke(app, ["audit", "--train", str(files / "train.csv"), "--holdout", str(files / "holdout.csv"),
                                 "--synthetic", str(files / "release" / "synthetic.csv"), "--schema",
                                 str(files / "schema.yaml"), "--card", str(files / "release" / "privacy_card.json"),
                                 "--out", str(files / "audit"), "--bootstrap", "20", "--min-group-size", "10"])
    assert result.exit_code == 0, result.output
    (row,) = [line for line in (files / "audit" / "report.md").read_text().splitlines()
              if line.startswith("| generator ")]
    assert "dp-vae" in row

"""The operator's mistakes, one case each: exit code 2, one `error:` line that names the fix, no
traceback, and nothing half-written (the output absent, or an earlier one unchanged).

Every case fails before any training (the checks that need no private data come first), so
the whole matrix runs in seconds.
"""

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from dpsynth.cli import app
from tests.conftest import make_toy_frame, make_toy_schema

runner = CliRunner()
TINY = ["--param", "epochs=1", "--param", "batch_size=64", "--param", "hidden=[16]", "--param", "latent_dim=4"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Good inputs, bad variants of the data, and one real release to resample, audit and tamper with."""
    root = tmp_path_factory.mktemp("mistakes")
    frame = make_toy_frame(n=400)
    frame.iloc[:300].to_csv(root / "train.csv", index=False)
    frame.iloc[300:].to_csv(root / "holdout.csv", index=False)
    make_toy_schema().save(root / "schema.yaml")
    variants = {
        "missing_column": frame.drop(columns="lab"),
        "extra_column": frame.assign(notes="x"),
        "nan": frame.assign(heart_rate=frame.heart_rate.where(frame.index > 3)),
        "out_of_bounds": frame.assign(age=frame.age.where(frame.index > 0, 400.0)),
        "unseen": frame.assign(race=frame.race.where(frame.index > 0, "martian")),
        "not_numeric": frame.assign(lab=frame.lab.astype(object).where(frame.index > 0, "high")),
        "header_only": frame.iloc[:0],
    }
    for name, bad in variants.items():
        bad.to_csv(root / f"{name}.csv", index=False)
    schema_text = (root / "schema.yaml").read_text()
    bad_schemas = {
        "misspelt_key": schema_text.replace("sensitive:", "sensitve:"),
        "quoted_boolean": schema_text.replace("public: true", "public: 'false'", 1),
        "lower_above_upper": schema_text.replace("lower: 18\n  upper: 110", "lower: 110\n  upper: 18"),
        "bad_choice": schema_text.replace("out_of_bounds: error", "out_of_bounds: clipp", 1),
        "quoted_number": schema_text.replace("lower: 18", "lower: '18'"),
    }
    for name, text in bad_schemas.items():
        assert text != schema_text, name
        (root / f"{name}.yaml").write_text(text)
    (root / "corrupt.parquet").write_bytes(b"PAR1 not really parquet")
    (root / "afile").write_text("x")
    (root / "notes").mkdir()
    (root / "notes" / "mine.txt").write_text("keep me")
    result = runner.invoke(app, ["generate", "--data", str(root / "train.csv"), "--schema", str(root / "schema.yaml"),
                                 "--out", str(root / "release"), "--epsilon", "2", "--rows", "120", *TINY])
    assert result.exit_code == 0, result.output
    return root


def snapshot(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def generate_args(f, *extra, data="train.csv", out="new"):
    return ["generate", "--data", str(f / data), "--schema", str(f / "schema.yaml"), "--out", str(f / out),
            "--epsilon", "1", *TINY, *extra]


def audit_args(f, *extra, out="audit_new", synthetic="release/synthetic.csv"):
    return ["audit", "--train", str(f / "train.csv"), "--holdout", str(f / "holdout.csv"), "--synthetic",
            str(f / synthetic), "--schema", str(f / "schema.yaml"), "--out", str(f / out), "--bootstrap", "5", *extra]


# (case, arguments given the files folder, words the one error line must hold)
CASES = [
    # generate: paths and outputs
    ("data missing", lambda f: generate_args(f, data="nope.csv"), "nope.csv"),
    ("schema missing", lambda f: ["generate", "--data", str(f / "train.csv"), "--schema", str(f / "nope.yaml"),
                                  "--out", str(f / "new"), "--epsilon", "1"], "nope.yaml"),
    ("out is a file", lambda f: generate_args(f, out="afile"), "is a file"),
    ("out is not empty", lambda f: generate_args(f, out="notes"), "--force"),
    ("out holds a release", lambda f: generate_args(f, out="release"), "--force"),
    ("force on a foreign folder", lambda f: generate_args(f, "--force", out="notes"), "only a folder dpsynth wrote"),
    ("force on the input's folder", lambda f: generate_args(f, "--force", data="release/synthetic.csv",
                                                             out="release"), "holds the input"),
    ("out below a file", lambda f: generate_args(f, out="afile/rel"), "is a file"),
    ("out inside a release", lambda f: generate_args(f, out="release/again"), "inside"),
    # generate: parameters
    ("misspelt parameter", lambda f: generate_args(f, "--param", "epoch=1"), "did you mean 'epochs'"),
    ("parameter not a number", lambda f: generate_args(f, "--param", "epochs=abc"), "epochs"),
    ("batch size zero", lambda f: generate_args(f, "--param", "batch_size=0"), "batch_size"),
    ("negative epochs", lambda f: generate_args(f, "--param", "epochs=-1"), "epochs"),
    ("parameter without value", lambda f: generate_args(f, "--param", "epochs"), "name=value"),
    ("parameter twice", lambda f: generate_args(f, "--param", "lr=0.1", "--param", "lr=0.2"), "twice"),
    ("unknown generator", lambda f: generate_args(f, "--generator", "dp-magic"), "dp-magic"),
    ("generator of another modality", lambda f: generate_args(f, "--generator", "dp-series-vae"), "series"),
    ("unknown format", lambda f: generate_args(f, "--format", "xlsx"), "--format"),
    ("format of another modality", lambda f: generate_args(f, "--format", "npz"), "npz"),
    ("zero rows", lambda f: generate_args(f, "--rows", "0"), "--rows"),
    ("bad rebalance", lambda f: generate_args(f, "--rebalance", "planet=equal"), "planet"),
    ("learn share too large", lambda f: generate_args(f, "--learn-domain-share", "1.5"), "learn_domain_share"),
    ("bad device", lambda f: generate_args(f, "--device", "tpu"), "tpu"),
    # generate: budget
    ("no epsilon", lambda f: [a for a in generate_args(f) if a not in ("--epsilon", "1")], "--epsilon"),
    ("zero epsilon", lambda f: generate_args(f)[:-len(TINY) - 1] + ["0"], "epsilon"),
    ("negative epsilon", lambda f: generate_args(f)[:-len(TINY) - 1] + ["-1"], "epsilon"),
    ("infinite epsilon", lambda f: generate_args(f)[:-len(TINY) - 1] + ["inf"], "epsilon"),
    ("tiny epsilon", lambda f: generate_args(f)[:-len(TINY) - 1] + ["1e-4"], "too small to train"),
    ("delta above one", lambda f: generate_args(f, "--delta", "1.5"), "delta"),
    ("delta not below 1/n", lambda f: generate_args(f, "--delta", "0.5"), "--allow-large-delta"),
    ("epsilon above the accountant's range", lambda f: generate_args(f)[:-len(TINY) - 1] + ["500"], "epsilon"),
    # generate: the data
    ("missing column", lambda f: generate_args(f, data="missing_column.csv"), "lab"),
    ("extra column", lambda f: generate_args(f, data="extra_column.csv"), "notes"),
    ("NaN where not nullable", lambda f: generate_args(f, data="nan.csv"), "heart_rate"),
    ("value out of bounds", lambda f: generate_args(f, data="out_of_bounds.csv"), "age"),
    ("unseen category", lambda f: generate_args(f, data="unseen.csv"), "martian"),
    ("text in a numeric column", lambda f: generate_args(f, data="not_numeric.csv"), "lab"),
    ("header only", lambda f: generate_args(f, data="header_only.csv"), "no rows"),
    ("corrupt parquet", lambda f: generate_args(f, data="corrupt.parquet"), "corrupt.parquet"),
    ("unknown data extension", lambda f: generate_args(f, data="afile"), "extension"),
    # a strict schema: the same error from `schema check` and before `generate` reads data
    *[(f"schema {name} ({command})", (lambda f, n=name, c=command: (
        ["schema", "check", str(f / f"{n}.yaml")] if c == "check" else
        ["generate", "--data", str(f / "train.csv"), "--schema", str(f / f"{n}.yaml"), "--out", str(f / "new"),
         "--epsilon", "1"])), words)
      for name, words in [("misspelt_key", "did you mean 'sensitive'"), ("quoted_boolean", "without quotes"),
                          ("lower_above_upper", "swap them"), ("bad_choice", "did you mean 'clip'"),
                          ("quoted_number", "lower must be a number")]
      for command in ("check", "generate")],
    # audit
    ("audit card missing", lambda f: audit_args(f, "--card", str(f / "missing.json")), "missing.json"),
    ("audit card not a card", lambda f: audit_args(f, "--card", str(f / "train.csv")), "train.csv"),
    ("audit inside a release", lambda f: audit_args(f, out="release/audit"), "never travel with a release"),
    ("audit out not empty", lambda f: audit_args(f, out="notes"), "--force"),
    ("audit out is a file", lambda f: audit_args(f, out="afile"), "is a file"),
    ("audit confidence", lambda f: audit_args(f, "--confidence", "2"), "--confidence"),
    ("audit synthetic missing", lambda f: audit_args(f, synthetic="nope.csv"), "nope.csv"),
    ("audit synthetic wrong columns", lambda f: audit_args(f, synthetic="missing_column.csv"), "lab"),
    # sample
    ("sample no model", lambda f: ["sample", "--model", str(f / "notes"), "--rows", "5", "--out", str(f / "s.csv")],
     "not a model bundle"),
    ("sample zero rows", lambda f: ["sample", "--model", str(f / "release/model"), "--rows", "0", "--out",
                                    str(f / "s.csv")], "--rows"),
    ("sample out exists", lambda f: ["sample", "--model", str(f / "release/model"), "--rows", "5", "--out",
                                     str(f / "train.csv")], "never overwrites"),
    ("sample format mismatch", lambda f: ["sample", "--model", str(f / "release/model"), "--rows", "5", "--out",
                                          str(f / "s.csv"), "--format", "parquet"], "--format"),
    ("sample bad condition", lambda f: ["sample", "--model", str(f / "release/model"), "--rows", "5", "--out",
                                        str(f / "s.csv"), "--conditions", "sex"], "name=value"),
    # schema draft
    ("draft over a curated schema", lambda f: ["schema", "draft", str(f / "train.csv"), "--target", "outcome",
                                               "--out", str(f / "schema.yaml")], "--force"),
    ("draft unknown target", lambda f: ["schema", "draft", str(f / "train.csv"), "--target", "death",
                                        "--out", str(f / "draft.yaml")], "death"),
    # card, verify
    ("card missing", lambda f: ["card", str(f / "nope.json")], "nope.json"),
    ("card not JSON", lambda f: ["card", str(f / "train.csv")], "train.csv"),
    ("verify not a folder", lambda f: ["verify", str(f / "nope")], "not a folder"),
    ("verify a foreign folder", lambda f: ["verify", str(f / "notes")], "manifest.json' is missing"),
    # privacy-audit
    ("privacy-audit out exists", lambda f: ["privacy-audit", "--data", str(f / "train.csv"), "--schema",
                                            str(f / "schema.yaml"), "--epsilon", "1", "--out", str(f / "train.csv")],
     "--force"),
]


@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_a_mistake_is_one_clear_line_and_writes_nothing(files, case):
    _, make_args, words = next(c for c in CASES if c[0] == case)
    before = snapshot(files)
    result = runner.invoke(app, make_args(files))
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and words in errors[0], result.output
    assert "Traceback" not in result.output
    assert snapshot(files) == before  # nothing new, nothing changed, no staging left behind
    assert not [p for p in files.iterdir() if ".partial-" in p.name]


TAMPER = [
    ("emptied ledger", lambda r: _edit(r / "model/config.json", lambda c: c["ledger"].update(entries=[])),
     "does not match its SHA-256"),
    ("bundle format 999", lambda r: _edit(r / "model/config.json", lambda c: c.update(bundle_format=999)),
     "config.json'"),
    ("corrupt weights", lambda r: (r / "model/weights.pt").write_bytes(b"garbage"), "weights.pt' does not match"),
    ("card edited", lambda r: _edit(r / "privacy_card.json", lambda c: c.update(epsilon=0.01)),
     "privacy_card.json' does not match"),
    ("stale file beside", lambda r: (r / "synthetic.parquet").write_text("old"), "not in the manifest"),
]


def _edit(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("case", [c[0] for c in TAMPER])
def test_a_tampered_release_fails_verify_and_sample_naming_the_file(files, tmp_path, case):
    _, tamper, words = next(c for c in TAMPER if c[0] == case)
    release = shutil.copytree(files / "release", tmp_path / "release")
    tamper(release)
    verified = runner.invoke(app, ["verify", str(release)])
    assert verified.exit_code == 2 and words in verified.output, verified.output
    if case not in ("card edited", "stale file beside"):  # sampling reads the model folder only
        sampled = runner.invoke(app, ["sample", "--model", str(release / "model"), "--rows", "5", "--out",
                                      str(tmp_path / "s.csv")])
        assert sampled.exit_code == 2 and words in sampled.output, sampled.output
        assert not (tmp_path / "s.csv").exists()


def test_an_intact_release_verifies(files):
    result = runner.invoke(app, ["verify", str(files / "release")])
    assert result.exit_code == 0 and "recomputed from the model's ledger and equal to the card's" in result.output


def test_force_replaces_a_release_whole(files, tmp_path):
    release = shutil.copytree(files / "release", tmp_path / "release")
    (release / "model" / "old-notes.txt").write_text("from an earlier run")  # now fails verify; --force fixes it
    args = ["generate", "--data", str(files / "train.csv"), "--schema", str(files / "schema.yaml"), "--out",
            str(release), "--epsilon", "2", "--rows", "50", "--format", "parquet", "--force", *TINY]
    assert runner.invoke(app, args).exit_code == 0
    assert sorted(p.name for p in release.iterdir()) == ["manifest.json", "model", "privacy_card.json",
                                                         "synthetic.parquet"]
    assert runner.invoke(app, ["verify", str(release)]).exit_code == 0
    assert len(pd.read_parquet(release / "synthetic.parquet")) == 50

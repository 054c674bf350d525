"""benchmarks/peers/compare.py's arguments: the smartnoise peers beside (or instead of) synthcity's plugins."""

import pytest

from tests.benchmarks.scripts import load_script
from tests.conftest import make_toy_frame, make_toy_schema


def load_compare():
    return load_script("peers/compare.py")


def test_nothing_to_run_is_an_error(capsys):
    compare = load_compare()
    with pytest.raises(SystemExit):
        compare.main(["--plugins"])
    assert "nothing to run" in capsys.readouterr().err


def test_an_unknown_smartnoise_synthesizer_is_named(capsys):
    compare = load_compare()
    with pytest.raises(SystemExit):
        compare.main(["--plugins", "--smartnoise", "patectgan"])
    assert "patectgan" in capsys.readouterr().err


def test_a_missing_smartnoise_venv_says_how_to_make_it(monkeypatch, tmp_path):
    compare = load_compare()
    monkeypatch.setattr(compare.smartnoise_peer, "PEER_PYTHON", tmp_path / "absent" / "python")
    with pytest.raises(SystemExit, match="setup_smartnoise.sh"):
        compare.main(["--plugins", "--smartnoise", "mst"])


def test_smartnoise_runs_share_the_audit_and_record_failures(monkeypatch):
    compare = load_compare()
    schema, frame = make_toy_schema(), make_toy_frame(n=200)
    train, holdout = frame.iloc[:140].reset_index(drop=True), frame.iloc[140:].reset_index(drop=True)
    seen = {}

    def fake_fit(synth, data, schema_, **kwargs):
        seen.update(kwargs)
        return data.copy(), {"fit_seconds": 1.5, "versions": {"smartnoise-synth": "1.0.8"}, "settings": {}}

    monkeypatch.setattr(compare.smartnoise_peer, "fit_sample", fake_fit)
    monkeypatch.setattr(compare, "audit_and_summarise", lambda **kw: {"tstr_auroc_gboost": 0.7})
    run = compare.run_smartnoise("mst", "toy", train, holdout, schema, 1.0, 2, 60)
    assert run["generator"] == "smartnoise-mst" and run["tstr_auroc_gboost"] == 0.7 and run["fit_seconds"] == 1.5
    assert seen == {"epsilon": 1.0, "delta": compare.DELTA, "seed": 2, "rows": 140, "timeout": 60}

    def failing(*args, **kwargs):
        raise RuntimeError("smartnoise mst: no result within 60 s")

    monkeypatch.setattr(compare.smartnoise_peer, "fit_sample", failing)
    run = compare.run_smartnoise("mst", "toy", train, holdout, schema, 1.0, 2, 60)
    assert run["error"].endswith("60 s") and "tstr_auroc_gboost" not in run

"""`dpsynth sweep` end to end on a local Ray with two workers: two ε of dp-vae plus a cell that fails at
fit time (an ε too small to train), then the same command again: nothing finished is refitted, the
failed cell is retried, and both runs exit 1 after writing everything else."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import write_small_support2

pytest.importorskip("ray")
pytest.importorskip("pyarrow")
pytest.importorskip("SurvSet")

DONE = ["dp-vae_eps1_seed0", "dp-vae_eps2_seed0"]
FAILING = "dp-vae_eps1e-09_seed0"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_small_support2(tmp_path_factory.mktemp("sweep"))


def sweep(root):
    command = [sys.executable, "-m", "dpsynth", "sweep", "--data", str(root / "train.csv"),
               "--holdout", str(root / "holdout.csv"), "--schema", str(root / "schema.yaml"),
               "--generators", "dp-vae", "--epsilons", "1,2,1e-9", "--seeds", "0", "--param", "epochs=1",
               "--max-parallel", "2", "--bootstrap", "20", "--min-group-size", "5", "--no-intersections",
               "--out", str(root / "out")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)


def stamps(root):
    """(mtime_ns, bytes) of every file of the finished cells: a refit would change them."""
    return {str(p): (p.stat().st_mtime_ns, p.read_bytes()) for cell in DONE
            for p in sorted((root / "out" / "cells" / cell).rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_sweep_runs_cells_on_ray_records_a_failure_and_resumes_without_refitting(files):
    first = sweep(files)
    assert first.returncode == 1, first.stderr[-3000:]  # one cell failed, everything else written
    assert "Traceback" not in first.stderr
    assert "results.parquet" in first.stdout and "not differentially private" in first.stderr
    assert f"1 cell(s) failed: {FAILING}" in first.stderr
    out = files / "out"
    cells = pd.read_csv(out / "cells.csv").set_index("cell")
    assert cells["status"].to_dict() == {**dict.fromkeys(DONE, "done"), FAILING: "failed"}
    assert (cells.loc[DONE, "epsilon_spent"] <= cells.loc[DONE, "epsilon"]).all()
    failure = json.loads((out / "failures" / f"{FAILING}.json").read_text())
    assert failure["error_type"] == "BudgetError" and "too small to train" in failure["error"]
    results = pd.read_parquet(out / "results.parquet")
    assert sorted(results["cell"].unique()) == DONE
    before, failed_at = stamps(files), (out / "failures" / f"{FAILING}.json").stat().st_mtime_ns

    second = sweep(files)
    assert second.returncode == 1, second.stderr[-3000:]
    assert stamps(files) == before  # the finished cells were not refitted
    assert (out / "failures" / f"{FAILING}.json").stat().st_mtime_ns > failed_at  # the failed cell ran again
    assert pd.read_parquet(out / "results.parquet").equals(results)
    assert not [p for p in (out / "cells").iterdir() if p.name.startswith(".")]

"""The cohort-size benchmark (benchmarks/cohorts.py) resumes cell by cell, subsamples seeded and
stratified, and reports medians over seeds with TRTR beside."""

import json

import pandas as pd
import pytest

from tests.benchmarks.scripts import load_script
from tests.conftest import make_toy_frame


def load_cohorts():
    return load_script("cohorts.py")


def fake_cell(seed, *, generator="mst", n="500", tstr=0.7, trtr=0.8, **extra):
    return {"dataset": "support2", "n": n, "generator": generator, "epsilon": 1.0, "seed": seed,
            "n_train": 500 if n != "full" else 6373, "fit_seconds": 10.0 + seed,
            "tstr_auroc_logreg": tstr, "trtr_auroc_logreg": trtr,
            "tstr_auroc_gboost": tstr, "trtr_auroc_gboost": trtr, "correlation_difference": 0.05} | extra


def test_finished_cells_are_skipped_and_failed_ones_run_again(tmp_path):
    cohorts = load_cohorts()
    path = tmp_path / "cells.jsonl"
    cohorts.append_cell(path, fake_cell(0))
    cohorts.append_cell(path, {k: v for k, v in fake_cell(1).items() if k in cohorts.KEY} | {"error": "timeout"})
    with open(path, "a") as handle:
        handle.write('{"dataset": "support2", "n": ')  # a torn line from an interrupted run
    grid = [{"dataset": "support2", "n": "500", "generator": "mst", "epsilon": 1, "seed": s} for s in (0, 1, 2)]
    todo = cohorts.pending(grid, cohorts.read_cells(path))
    assert [c["seed"] for c in todo] == [1, 2]


def test_a_rerun_of_the_same_grid_fits_nothing(tmp_path, monkeypatch):
    cohorts = load_cohorts()
    fitted = []

    def fake_run(cell, timeout, params):
        fitted.append(cell["seed"])
        return dict(cell) | fake_cell(cell["seed"], generator=cell["generator"])

    monkeypatch.setattr(cohorts, "run_cell", fake_run)
    argv = ["--out", str(tmp_path), "--datasets", "support2", "--sizes", "500", "--epsilons", "1",
            "--seeds", "0", "1", "--generators", "dp-vae", "--report", str(tmp_path / "r.json")]
    cohorts.main(argv)
    assert fitted == [0, 1]
    cohorts.main(argv + ["--seeds", "0", "1", "2"])
    assert fitted == [0, 1, 2]  # only the new seed
    assert len(cohorts.read_cells(tmp_path / "cells.jsonl")) == 3


def test_params_reach_dpsynths_generators_as_json_values(tmp_path, monkeypatch):
    cohorts = load_cohorts()
    seen = []
    monkeypatch.setattr(cohorts, "run_cell", lambda cell, timeout, params: seen.append(params) or fake_cell(0))
    cohorts.main(["--out", str(tmp_path), "--datasets", "support2", "--sizes", "500", "--epsilons", "1",
                  "--seeds", "0", "--generators", "dp-marginal", "--param", 'unpaired=["sex", "race"]',
                  "--param", "pair_groups=4", "--report", str(tmp_path / "r.json")])
    assert seen == [{"unpaired": ["sex", "race"], "pair_groups": 4}]
    with pytest.raises(SystemExit):
        cohorts.main(["--out", str(tmp_path), "--param", "unpaired"])


def test_a_failed_cell_is_recorded_with_its_error(tmp_path, monkeypatch):
    cohorts = load_cohorts()

    def failing(cell, timeout, params):
        raise RuntimeError("smartnoise mst: no result within 5 s")

    monkeypatch.setattr(cohorts, "run_cell", failing)
    cohorts.main(["--out", str(tmp_path), "--datasets", "support2", "--sizes", "500", "--epsilons", "1",
                  "--seeds", "0", "--generators", "dp-vae", "--report", str(tmp_path / "r.json")])
    summary = json.loads((tmp_path / "r.json").read_text())
    assert summary["failures"][0]["error"].endswith("5 s") and summary["medians"] == []


def test_report_takes_medians_over_seeds_with_trtr_beside_and_draws_the_plot(tmp_path):
    cohorts = load_cohorts()
    cohorts.append_cell(tmp_path / "cells.jsonl", fake_cell(2, tstr=0.1) | {"error": "killed"})  # retried later
    for seed, tstr in enumerate((0.6, 0.72, 0.1)):
        cohorts.append_cell(tmp_path / "cells.jsonl", fake_cell(seed, tstr=tstr))
    cohorts.append_cell(tmp_path / "cells.jsonl", fake_cell(2, tstr=0.7))  # the same cell twice: its last record
    cohorts.append_cell(tmp_path / "cells.jsonl", fake_cell(0, n="full", tstr=0.76))
    cohorts.main(["--out", str(tmp_path), "--report-only", "--report", str(tmp_path / "r.json"),
                  "--plot", str(tmp_path / "plot.png")])
    summary = json.loads((tmp_path / "r.json").read_text())
    small = next(r for r in summary["medians"] if r["n"] == "500")
    assert summary["failures"] == [] and len(summary["cells"]) == 4
    assert small["seeds"] == 3 and small["tstr_auroc_gboost"] == 0.7 and small["trtr_auroc_gboost"] == 0.8
    assert small["tstr_trtr_ratio_gboost"] == 0.875 and small["fit_seconds"] == 11.0
    assert next(r for r in summary["medians"] if r["n"] == "full")["tstr_trtr_ratio_logreg"] == 0.95
    assert (tmp_path / "plot.png").stat().st_size > 1000


def test_cohort_subsample_is_seeded_stratified_and_keeps_the_holdout():
    cohorts = load_cohorts()
    frame = make_toy_frame(n=400)

    class Toy:
        name, outcome = "toy", "outcome"

        def load(self):
            return frame

        def split(self, data, seed):
            return data.iloc[:300].reset_index(drop=True), data.iloc[300:].reset_index(drop=True)

    train, holdout = cohorts.cohort(Toy(), "100", seed=0)
    again, _ = cohorts.cohort(Toy(), "100", seed=0)
    other, _ = cohorts.cohort(Toy(), "100", seed=1)
    assert len(train) == 100 and len(holdout) == 100
    pd.testing.assert_frame_equal(train, again)
    assert not train.equals(other)
    full_rate = (frame.iloc[:300]["outcome"] == "yes").mean()
    assert abs((train["outcome"] == "yes").mean() - full_rate) <= 0.01
    assert len(cohorts.cohort(Toy(), "full", seed=0)[0]) == 300
    with pytest.raises(ValueError, match="full"):
        cohorts.cohort(Toy(), "300", seed=0)


def test_bad_arguments_are_named(capsys):
    cohorts = load_cohorts()
    for argv, words in ((["--sizes", "tiny"], "cohort size 'tiny'"), (["--generators", "ctgan"], "ctgan"),
                        (["--epsilons", "0"], "positive")):
        with pytest.raises(SystemExit):
            cohorts.main(["--out", "unused"] + argv)
        assert words in capsys.readouterr().err

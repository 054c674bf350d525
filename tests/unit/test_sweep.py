"""`run_sweep` without Ray: bad inputs refused before anything is written, the resume rules (a
finished cell skipped, a failed one retried, new ε extending the plan, other inputs refused),
the tables' columns and dtypes, the not-for-release and composition notices, and one real cell
(`run_cell`: generate + audit on a 300-row SUPPORT2 subsample, one epoch).

Ray is replaced by an in-process runner (`fake_runner`) that writes a small finished cell (or a
failure) per task; the Ray path itself runs in tests/integration/test_cli_sweep.py.
"""

from __future__ import annotations

import json
import math
import warnings

import pandas as pd
import pytest

from dpsynth import sweep
from dpsynth.bundle import PARTIAL, staged_folder, verify_manifest
from dpsynth.errors import DpsynthError
from dpsynth.optional import MissingExtraError
from dpsynth.sweep import record_outcome, run_sweep
from dpsynth.sweep_cell import CellOutcome, CellTask, error_line, run_cell
from dpsynth.sweep_folder import CELL_FILE, CELL_KIND, LOCK_FILE
from dpsynth.sweep_plan import COMPOSITION, Cell
from dpsynth.sweep_ray import check_reachable
from dpsynth.sweep_table import CELL_COLUMNS, RESULT_TABLE_COLUMNS, STATUS_COLUMNS
from dpsynth.validators.context import RESULT_COLUMNS, AuditConfig
from dpsynth.validators.report import NOTICE, AuditReport
from tests.conftest import write_small_support2, write_toy_files

pytest.importorskip("ray")
pytest.importorskip("pyarrow")

FAST_AUDIT = AuditConfig(min_group_size=5, n_bootstrap=20, intersections=False)


@pytest.fixture
def inputs(tmp_path):
    """A toy train / holdout / schema on disk (no fit reads them here: the runner is fake)."""
    return write_toy_files(tmp_path, n=200, n_train=120)


def arguments(inputs, **changes):
    base = dict(data=inputs / "train.csv", holdout=inputs / "holdout.csv", schema=inputs / "schema.yaml",
                generators=["dp-vae"], epsilons=[1, 2], seeds=[0], out_dir=inputs / "sweep",
                params={"epochs": 1}, audit_config=FAST_AUDIT, progress=False)
    return {**base, **changes}


class FakeRunner:
    """Stands in for `dpsynth.sweep.run_cells`: each task becomes a small finished cell (one audit
    row) or, for a cell id in ``failing``, a recorded failure; ``ran`` lists the cell ids run."""

    def __init__(self):
        self.ran: list[str] = []
        self.failing: set[str] = set()
        self.params: dict[str, dict] = {}

    def __call__(self, out, plan, tasks, **options):
        for task in tasks:
            self.ran.append(task.cell.cell_id)
            self.params[task.cell.cell_id] = task.params
            if task.cell.cell_id in self.failing:
                record_outcome(out, CellOutcome(task.cell, False, 0.5, "boom at fit time", "BudgetError"))
                continue
            write_fake_cell(task)
            record_outcome(out, CellOutcome(task.cell, True, 1.0))


def write_fake_cell(task: CellTask) -> None:
    row = dict.fromkeys(RESULT_COLUMNS, "") | {"validator": "utility", "model": "logreg", "source": "TSTR",
                                               "metric": "auroc", "attribute": "overall", "value": 0.7,
                                               "ci_low": 0.6, "ci_high": 0.8, "n": 80}
    report = AuditReport(table=pd.DataFrame([row]))
    with staged_folder(task.target, kind=CELL_KIND) as staging:
        (staging / "audit").mkdir()
        (staging / "audit" / "audit.json").write_text(json.dumps(report.to_dict()))
        (staging / CELL_FILE).write_text(json.dumps({"cell": task.cell.cell_id, "epsilon_spent": 0.99,
                                                     "delta_spent": 1e-5, "seconds": 1.0, "peak_rss_mb": 500.0}))


@pytest.fixture
def runner(monkeypatch):
    fake = FakeRunner()
    monkeypatch.setattr(sweep, "run_cells", fake)
    monkeypatch.setattr(sweep, "write_report", lambda out, **options: None)  # the report has its own tests
    return fake


# ----------------------------------------------------------------------------- checks first
@pytest.mark.parametrize("changes, message", [
    ({"generators": ["dp-vea"]}, "did you mean 'dp-vae'"),
    ({"generators": ["dp-series-vae"]}, "is for series data"),
    ({"generators": ["sdv-tvae"]}, "--reference"),
    ({"reference": ["dp-gan"]}, "--generators"),
    ({"generators": []}, "--generators is empty"),
    ({"epsilons": []}, "--epsilons is empty"),
    ({"epsilons": [0]}, "positive, finite"),
    ({"epsilons": [-1]}, "positive, finite"),
    ({"epsilons": [math.nan]}, "positive, finite"),
    ({"epsilons": [1, 1.0]}, "twice"),
    ({"seeds": [1.5]}, "--seeds must hold whole numbers"),
    ({"seeds": ["0"]}, "--seeds must hold whole numbers"),
    ({"params": {"no_such_parameter": 1}}, "no_such_parameter"),
    ({"max_parallel": 0}, "--max-parallel must be"),
    ({"address": "127.0.0.1:1"}, "cannot reach a Ray cluster"),
])
def test_bad_input_is_one_line_and_nothing_is_written(inputs, runner, changes, message):
    with pytest.raises(DpsynthError, match=message.replace("(", r"\(").replace("?", r"\?")):
        run_sweep(**arguments(inputs, **changes))
    assert not (inputs / "sweep").exists() and runner.ran == []


def test_missing_input_file_is_named(inputs, runner):
    with pytest.raises(DpsynthError, match="'.*nope.csv' does not exist"):
        run_sweep(**arguments(inputs, holdout=inputs / "nope.csv"))
    assert not (inputs / "sweep").exists()


def test_out_that_is_a_file_or_another_dpsynth_folder_is_refused(inputs, runner):
    (inputs / "file.txt").write_text("x")
    with pytest.raises(DpsynthError, match="is a file"):
        run_sweep(**arguments(inputs, out_dir=inputs / "file.txt"))
    release = inputs / "release"
    with staged_folder(release, kind="release") as staging:
        (staging / "synthetic.csv").write_text("a\n1\n")
    with pytest.raises(DpsynthError, match="release folder dpsynth wrote"):
        run_sweep(**arguments(inputs, out_dir=release))
    with pytest.raises(DpsynthError, match="inside"):
        run_sweep(**arguments(inputs, out_dir=release / "sweep"))
    (inputs / "other").mkdir()
    (inputs / "other" / "notes.txt").write_text("mine")
    with pytest.raises(DpsynthError, match="not a sweep folder"):
        run_sweep(**arguments(inputs, out_dir=inputs / "other", force=True))
    assert sorted(p.name for p in (inputs / "other").iterdir()) == ["notes.txt"]
    assert runner.ran == []


def test_single_class_holdout_is_refused_before_any_fit(inputs, runner):
    holdout = pd.read_csv(inputs / "holdout.csv").assign(outcome="no")
    holdout.to_csv(inputs / "holdout.csv", index=False)
    with pytest.raises(DpsynthError, match="only one target class"):
        run_sweep(**arguments(inputs))
    assert not (inputs / "sweep").exists() and runner.ran == []


def test_holdout_without_a_declared_group_warns_and_names_it(inputs, runner):
    holdout = pd.read_csv(inputs / "holdout.csv")
    holdout[holdout["sex"] == "male"].to_csv(inputs / "holdout.csv", index=False)
    with pytest.warns(UserWarning, match="sex=female"):
        run_sweep(**arguments(inputs))
    assert runner.ran  # a warning, not an error: the audit flags the group's rows absent_in_holdout


def test_missing_ray_names_the_sweep_extra(inputs, runner, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'dpsynth\[sweep\]'"):
        run_sweep(**arguments(inputs))
    assert not (inputs / "sweep").exists()


def test_an_unreachable_address_fails_fast():
    with pytest.raises(DpsynthError, match="cannot reach a Ray cluster at --address '127.0.0.1:1'"):
        check_reachable("127.0.0.1:1")


# ----------------------------------------------------------------------------- resume
def test_a_finished_cell_is_skipped_and_a_failed_one_retried(inputs, runner):
    runner.failing = {"dp-vae_eps2_seed0"}
    first = run_sweep(**arguments(inputs))
    assert runner.ran == ["dp-vae_eps1_seed0", "dp-vae_eps2_seed0"]
    assert first.failed == ["dp-vae_eps2_seed0"]
    failure = json.loads((inputs / "sweep" / "failures" / "dp-vae_eps2_seed0.json").read_text())
    assert (failure["error"], failure["error_type"]) == ("boom at fit time", "BudgetError")

    runner.ran, runner.failing = [], set()
    second = run_sweep(**arguments(inputs))
    assert runner.ran == ["dp-vae_eps2_seed0"]  # the finished cell is not refitted
    assert second.failed == [] and not (inputs / "sweep" / "failures" / "dp-vae_eps2_seed0.json").exists()
    assert second.cells["status"].tolist() == ["done", "done"]


def test_a_sweep_whose_every_cell_failed_writes_its_tables_but_no_report(inputs, runner, monkeypatch):
    reports = []
    monkeypatch.setattr(sweep, "write_report", lambda out, **options: reports.append(out))
    runner.failing = {"dp-vae_eps1_seed0", "dp-vae_eps2_seed0"}
    result = run_sweep(**arguments(inputs))
    assert sorted(result.failed) == sorted(runner.failing) and reports == []
    assert (inputs / "sweep" / "cells.csv").is_file() and len(result.table) == 0
    runner.failing = {"dp-vae_eps2_seed0"}
    run_sweep(**arguments(inputs))
    assert reports == [inputs / "sweep"]  # one finished cell: the report is written


def test_new_epsilons_and_seeds_extend_the_plan(inputs, runner):
    run_sweep(**arguments(inputs))
    runner.ran = []
    result = run_sweep(**arguments(inputs, epsilons=[4], seeds=[0, 1]))
    plan = json.loads((inputs / "sweep" / "sweep.json").read_text())
    assert (plan["epsilons"], plan["seeds"]) == ([1.0, 2.0, 4.0], [0, 1])
    assert sorted(runner.ran) == sorted(["dp-vae_eps1_seed1", "dp-vae_eps2_seed1", "dp-vae_eps4_seed0",
                                         "dp-vae_eps4_seed1"])
    assert len(result.cells) == 6 and set(result.table["cell"]) == set(result.cells["cell"])


def test_other_inputs_are_refused_and_force_replaces_the_whole_sweep(inputs, runner):
    run_sweep(**arguments(inputs))
    runner.ran = []
    with pytest.raises(DpsynthError, match="--param differs"):
        run_sweep(**arguments(inputs, params={"epochs": 2}))
    holdout = pd.read_csv(inputs / "holdout.csv")
    holdout.iloc[:-1].to_csv(inputs / "holdout.csv", index=False)
    with pytest.raises(DpsynthError, match="--holdout differs .* --force"):
        run_sweep(**arguments(inputs))
    assert runner.ran == []
    run_sweep(**arguments(inputs, epsilons=[8], force=True))
    assert runner.ran == ["dp-vae_eps8_seed0"]
    assert sorted(p.name for p in (inputs / "sweep" / "cells").iterdir()) == ["dp-vae_eps8_seed0"]


def test_leftover_staging_folders_are_removed(inputs, runner):
    run_sweep(**arguments(inputs))
    leftover = inputs / "sweep" / "cells" / f".dp-vae_eps2_seed0{PARTIAL}abc"
    leftover.mkdir()
    (leftover / "half.csv").write_text("a\n")
    run_sweep(**arguments(inputs))
    assert not leftover.exists()


# ----------------------------------------------------------------------------- tables and notices
def test_the_results_table_has_the_cell_columns_then_the_audit_columns(inputs, runner):
    result = run_sweep(**arguments(inputs, reference=["sdv-tvae"]))
    assert list(result.table.columns) == CELL_COLUMNS + RESULT_COLUMNS == RESULT_TABLE_COLUMNS
    table = pd.read_parquet(inputs / "sweep" / "results.parquet")
    assert list(table.columns) == RESULT_TABLE_COLUMNS
    assert (table["epsilon"].dtype, table["seed"].dtype, table["private"].dtype, table["value"].dtype) == (
        "float64", "int64", "bool", "float64")
    assert runner.params == {"dp-vae_eps1_seed0": {"epochs": 1}, "dp-vae_eps2_seed0": {"epochs": 1},
                             "sdv-tvae_seed0": {}}  # --param goes to the DP generators; references keep defaults
    reference = table[table["cell"] == "sdv-tvae_seed0"]
    assert len(reference) == 1 and reference["epsilon"].iloc[0] == math.inf and not reference["private"].iloc[0]
    lines = (inputs / "sweep" / "results.csv").read_text().splitlines()
    assert lines[0] == f"# {NOTICE}" and lines[1].split(",") == RESULT_TABLE_COLUMNS
    csv = pd.read_csv(inputs / "sweep" / "results.csv", comment="#")
    assert len(csv) == len(table)


def test_cells_csv_lists_every_planned_cell_with_its_status(inputs, runner):
    runner.failing = {"dp-vae_eps2_seed0"}
    run_sweep(**arguments(inputs))
    cells = pd.read_csv(inputs / "sweep" / "cells.csv").fillna({"error": ""})
    assert list(cells.columns) == STATUS_COLUMNS
    assert cells.set_index("cell")["status"].to_dict() == {"dp-vae_eps1_seed0": "done", "dp-vae_eps2_seed0": "failed"}
    assert cells.set_index("cell").loc["dp-vae_eps2_seed0", "error"] == "boom at fit time"
    assert cells.set_index("cell").loc["dp-vae_eps1_seed0", "epsilon_spent"] == 0.99


def test_the_folder_says_not_for_release_and_that_epsilons_add_up(inputs, runner):
    run_sweep(**arguments(inputs))
    readme = (inputs / "sweep" / "README.txt").read_text()
    assert "NOT FOR RELEASE" in readme and COMPOSITION in readme and "add up" in COMPOSITION
    plan = json.loads((inputs / "sweep" / "sweep.json").read_text())
    assert plan["composition"] == COMPOSITION and "REAL" in plan["notice"]
    assert {name: entry["name"] for name, entry in plan["inputs"].items()} == {
        "data": "train.csv", "holdout": "holdout.csv", "schema": "schema.yaml"}
    assert all(len(entry["sha256"]) == 64 for entry in plan["inputs"].values())


def test_read_sweep_gives_back_the_tables(inputs, runner):
    written = run_sweep(**arguments(inputs))
    read = sweep.read_sweep(inputs / "sweep")
    pd.testing.assert_frame_equal(read.table, written.table)
    pd.testing.assert_frame_equal(read.cells, written.cells)
    with pytest.raises(DpsynthError, match="not a sweep folder"):
        sweep.read_sweep(inputs)


def test_the_lock_file_does_not_make_a_folder_foreign(inputs, runner):
    (inputs / "sweep").mkdir()
    (inputs / "sweep" / LOCK_FILE).write_text("")
    run_sweep(**arguments(inputs))
    assert (inputs / "sweep" / "sweep.json").is_file()


# ----------------------------------------------------------------------------- one real cell
@pytest.fixture(scope="module")
def support2_files(tmp_path_factory):
    pytest.importorskip("dpsynth.data.support2")
    pytest.importorskip("SurvSet")
    return write_small_support2(tmp_path_factory.mktemp("support2"))


def cell_task(root, cell):
    return CellTask(cell=cell, target=root / "cells" / cell.cell_id, data=root / "train.csv",
                    holdout=root / "holdout.csv", schema=root / "schema.yaml", params={"epochs": 1},
                    audit_config=FAST_AUDIT)


def test_run_cell_writes_release_audit_and_cell_json_whole(support2_files):
    cell = Cell("dp-vae", 1.0, 0, True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = run_cell(cell_task(support2_files, cell))
    assert outcome.ok, outcome.error
    folder = support2_files / "cells" / cell.cell_id
    verify_manifest(folder, kind=CELL_KIND)
    verify_manifest(folder / "release", kind="release")
    card = json.loads((folder / "release" / "privacy_card.json").read_text())
    summary = json.loads((folder / CELL_FILE).read_text())
    assert summary["epsilon_spent"] == card["epsilon"] <= 1.0 and summary["delta_spent"] == card["delta"]
    assert (summary["generator"], summary["epsilon"], summary["seed"], summary["private"]) == ("dp-vae", 1.0, 0, True)
    assert card["seed"] == 0  # the public seed reaches generate as seed=
    assert summary["peak_rss_mb"] > 50 and summary["seconds"] > 0
    assert AuditReport.read(folder / "audit" / "audit.json").metadata["epsilon"] == card["epsilon"]


def test_a_cell_failing_at_fit_time_is_returned_and_leaves_nothing(support2_files):
    cell = Cell("dp-vae", 1e-9, 0, True)
    outcome = run_cell(cell_task(support2_files, cell))
    assert not outcome.ok and outcome.error_type == "BudgetError" and "too small to train" in outcome.error
    assert not (support2_files / "cells" / cell.cell_id).exists()
    assert not [p for p in (support2_files / "cells").iterdir() if PARTIAL in p.name]


def test_error_line_is_one_line_and_names_foreign_exception_types():
    assert error_line(DpsynthError("bad value\nmore")) == "bad value"
    assert error_line(ZeroDivisionError("division by zero")) == "ZeroDivisionError: division by zero"

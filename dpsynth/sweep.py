"""`run_sweep`: fit → sample → audit for every (generator, ε, seed) cell, as Ray tasks, resumable.

Users see what each ε costs on their own data by fitting many cells. Each cell goes through
the same library functions as ``dpsynth generate`` and ``dpsynth audit``
(`dpsynth.pipeline.generate`, `dpsynth.pipeline.run_audit`; see `dpsynth.sweep_cell`), for any
modality (the schema's). The parts: `dpsynth.sweep_plan` (cells, checks, the plan and its
resume rules), `dpsynth.sweep_folder` (the folder, its lock, each cell's state),
`dpsynth.sweep_cell` (one cell), `dpsynth.sweep_ray` (Ray), `dpsynth.sweep_table` (the tables).

Ray: a local Ray by default; ``address`` joins an existing cluster through the same code. On
a cluster, the input paths and ``out_dir`` must be on storage every node sees (the cells read
the inputs and write into ``out_dir`` from whichever node runs them).

The folder (``out_dir``) is audit material on REAL data, not for release; releasing several of
its cells composes their ε (they add up). Rerunning with the same inputs and settings resumes
(finished cells are skipped, failed ones retried) and may add generators, ε or seeds; other
inputs or settings are refused unless ``force`` replaces the whole sweep folder.

Absent groups: a holdout without rows of a sensitive group the schema declares is a warning,
not an error: each cell's audit reports those groups' rows as NaN with flag
``absent_in_holdout``. A holdout the audit cannot use (not fitting the schema, one outcome
class) is an error before any fit.
"""

from __future__ import annotations

import json
import numbers
import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from dpsynth.bundle import write_file_atomically
from dpsynth.errors import DpsynthError
from dpsynth.optional import require
from dpsynth.sweep_cell import CellOutcome, CellTask
from dpsynth.sweep_folder import (
    cell_folder, check_out, clear_failure, empty_sweep, is_done, record_failure, remove_leftovers, sweep_lock,
)
from dpsynth.sweep_plan import (
    PLAN_FILE, README_FILE, Cell, SweepPlan, absent_groups_warning, absent_holdout_groups, check_epsilons,
    check_generators, check_inputs, check_seeds, check_settings, describe_inputs, merge_plans, read_plan,
    readme_text,
)
from dpsynth.sweep_ray import check_reachable, load_ray, ray_session, run_tasks
from dpsynth.sweep_table import CELLS_CSV, DONE, FAILED, cells_table, rebuild_tables, write_tables

__all__ = ["Cell", "SweepResult", "run_sweep", "read_sweep"]

BAD_RESOURCE = "--{option} must be {rule} (got {value!r})"
NOT_A_SWEEP = "'{path}' is not a sweep folder (no {plan}); give the --out folder of `dpsynth sweep`"


@dataclass
class SweepResult:
    folder: Path
    table: pd.DataFrame  # every finished cell's audit rows (results.parquet)
    cells: pd.DataFrame  # every planned cell and its status (cells.csv)
    failed: list[str]  # cell ids whose last run failed


def run_sweep(
    *,
    data: str | Path,
    holdout: str | Path,
    schema: str | Path,
    generators: list[str],
    epsilons: list[float],
    seeds: list[int],
    out_dir: str | Path,
    reference: list[str] | None = None,
    delta: float | None = None,
    rows: int | None = None,
    params: dict[str, Any] | None = None,
    static: str | Path | None = None,
    holdout_static: str | Path | None = None,
    audit_config: Any = None,
    address: str | None = None,
    max_parallel: int | None = None,
    cpus_per_cell: int = 1,
    gpus_per_cell: float = 0,
    progress: bool = True,
    force: bool = False,
    thresholds: str | Path | None = None,
    margin: float = 0.05,
) -> SweepResult:
    """Fit, sample and audit every cell of ``generators`` × ``epsilons`` × ``seeds`` (and every
    NOT PRIVATE ``reference`` × ``seeds``) into ``out_dir``; returns the tables.

    ``data``, ``holdout``, ``schema`` (and ``static`` / ``holdout_static`` for series given as long
    tables) are paths every worker reads: on a cluster, put them and ``out_dir`` on shared
    storage. ``params`` go to every generator of ``generators`` (references run with their
    defaults); ``delta``, ``rows`` and ``audit_config`` (an `AuditConfig`) apply to every cell.
    ``seeds`` are public seeds, passed to `generate` as ``seed=``. ``max_parallel`` caps the
    cells in flight (default: the local CPUs / ``cpus_per_cell``; on a cluster, what it fits);
    each cell is a Ray task with ``cpus_per_cell`` CPUs (its torch threads) and
    ``gpus_per_cell`` GPUs. A failing cell is recorded in ``failures/`` and the sweep goes on.
    ``thresholds`` (a YAML file overriding the verdict's levels) and ``margin`` (how close a group's
    TSTR AUROC must come to its TRTR) shape the report written to ``out_dir/report/``.
    """
    from dpsynth.pipeline import load_schema
    from dpsynth.validators.context import AuditConfig

    out = Path(out_dir)
    load_ray()
    require("pyarrow", extra="parquet", purpose="writing the sweep's results.parquet")
    paths = check_inputs({"data": data, "holdout": holdout, "schema": schema, "static": static,
                          "holdout_static": holdout_static})
    check_out(out, force=force, inputs=paths.values())
    check_resources(max_parallel=max_parallel, cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell)
    check_margin(margin)
    if thresholds is not None:
        from dpsynth.validators.verdict import threshold_overrides

        threshold_overrides(thresholds)  # a bad file fails before any fit
    if address:
        check_reachable(address)
    loaded = load_schema(paths["schema"])
    epsilons, seeds = check_epsilons(list(epsilons)), check_seeds(list(seeds))
    check_settings(delta=delta, rows=rows)
    params = dict(params or {})
    check_generators(list(generators), list(reference or []), loaded, params)
    config = audit_config or AuditConfig()
    plan = SweepPlan(inputs=describe_inputs(paths), generators=list(generators), epsilons=epsilons, seeds=seeds,
                     reference=list(reference or []),
                     settings={"delta": delta, "rows": rows, "params": params, "audit": asdict(config)})
    previous = None if force else read_plan(out)
    if previous is not None:
        plan = merge_plans(previous, plan, folder=out)
    absent = absent_holdout_groups(paths["holdout"], loaded, holdout_static=paths.get("holdout_static"))
    if absent:
        warnings.warn(absent_groups_warning(absent), UserWarning, stacklevel=2)

    with sweep_lock(out):
        if force:
            empty_sweep(out)
        remove_leftovers(out)
        write_plan(out, plan)
        pending = [cell for cell in plan.cells() if not is_done(out, cell)]
        if pending:
            tasks = [CellTask(cell=cell, target=cell_folder(out, cell), data=paths["data"], holdout=paths["holdout"],
                              schema=paths["schema"], static=paths.get("static"),
                              holdout_static=paths.get("holdout_static"), delta=delta, rows=rows,
                              params=params if cell.private else {},
                              audit_config=config, threads=cpus_per_cell) for cell in pending]
            run_cells(out, plan, tasks, address=address, max_parallel=max_parallel, cpus_per_cell=cpus_per_cell,
                      gpus_per_cell=gpus_per_cell, progress=progress)
        results, cells = rebuild_tables(out, plan)
        write_tables(out, results, cells)
        if (cells["status"] == DONE).any():  # no finished cell, no report: the failures say why
            write_report(out, thresholds=thresholds, margin=margin)
    return SweepResult(out, results, cells, failed=cells.loc[cells["status"] == FAILED, "cell"].tolist())


def run_cells(out: Path, plan: SweepPlan, tasks: Sequence[CellTask], *, address: str | None,
              max_parallel: int | None, cpus_per_cell: int, gpus_per_cell: float, progress: bool) -> None:
    """Run ``tasks`` on Ray with a bar "cells done/total" (failures in its postfix); each outcome is
    recorded as it arrives (a failure file written or cleared, ``cells.csv`` refreshed)."""
    planned = plan.cells()
    if max_parallel is None:
        max_parallel = len(tasks) if address else max(1, (os.cpu_count() or 1) // cpus_per_cell)
    failures = 0
    with tqdm(total=len(planned), initial=len(planned) - len(tasks), desc="sweep", unit="cell",
              disable=not progress) as bar:
        def on_done(outcome: CellOutcome) -> None:
            nonlocal failures
            record_outcome(out, outcome)
            failures += not outcome.ok
            bar.update(1)
            bar.set_postfix(failed=failures)
            table = cells_table(out, planned)
            write_file_atomically(out / CELLS_CSV, lambda tmp: table.to_csv(tmp, index=False), force=True)

        bar.set_postfix(failed=0)
        with ray_session(address=address, num_cpus=max_parallel * cpus_per_cell, use_gpus=gpus_per_cell > 0) as ray:
            run_tasks(ray, tasks, max_parallel=max_parallel, cpus_per_cell=cpus_per_cell,
                      gpus_per_cell=gpus_per_cell, on_done=on_done)


def record_outcome(out: Path, outcome: CellOutcome) -> None:
    """A failure writes ``failures/<cell_id>.json``; a success removes an older one."""
    if outcome.ok:
        clear_failure(out, outcome.cell)
    else:
        record_failure(out, outcome.cell, error=outcome.error, error_type=outcome.error_type,
                       seconds=outcome.seconds)


def write_plan(out: Path, plan: SweepPlan) -> None:
    """``README.txt`` and ``sweep.json``: written (or extended) before any fit."""
    text = json.dumps(plan.to_dict(), indent=2, default=str) + "\n"
    write_file_atomically(out / README_FILE, lambda tmp: tmp.write_text(readme_text(plan)), force=True)
    write_file_atomically(out / PLAN_FILE, lambda tmp: tmp.write_text(text), force=True)


def write_report(out: Path, *, thresholds: str | Path | None = None, margin: float = 0.05) -> dict[str, Path]:
    """The frontier report ``out/report/`` (`dpsynth.validators.sweep_report`), from the tables just
    written; ``dpsynth report DIR`` rebuilds it."""
    from dpsynth.validators.sweep_report import write_sweep_report

    return write_sweep_report(out, thresholds=thresholds, margin=margin)


def check_margin(margin: Any) -> None:
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real) or not 0 < margin < 1:
        raise DpsynthError(BAD_RESOURCE.format(option="margin", rule="an AUROC difference in (0, 1), e.g. 0.05",
                                               value=margin))


def check_resources(*, max_parallel: Any, cpus_per_cell: Any, gpus_per_cell: Any) -> None:
    def integer(value: Any) -> bool:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1

    if max_parallel is not None and not integer(max_parallel):
        raise DpsynthError(BAD_RESOURCE.format(option="max-parallel", rule="an integer >= 1", value=max_parallel))
    if not integer(cpus_per_cell):
        raise DpsynthError(BAD_RESOURCE.format(option="cpus-per-cell", rule="an integer >= 1", value=cpus_per_cell))
    if isinstance(gpus_per_cell, bool) or not isinstance(gpus_per_cell, numbers.Real) or not gpus_per_cell >= 0:
        raise DpsynthError(BAD_RESOURCE.format(option="gpus-per-cell", rule="a number >= 0 (e.g. 0.5, 1)",
                                               value=gpus_per_cell))


def read_sweep(folder: str | Path) -> SweepResult:
    """The tables of the sweep in ``folder``, rebuilt from its cells (for ``dpsynth report``)."""
    folder = Path(folder)
    plan = read_plan(folder)
    if plan is None:
        raise DpsynthError(NOT_A_SWEEP.format(path=folder, plan=PLAN_FILE))
    results, cells = rebuild_tables(folder, plan)
    return SweepResult(folder, results, cells, failed=cells.loc[cells["status"] == FAILED, "cell"].tolist())

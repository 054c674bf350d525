"""The sweep's tidy tables, rebuilt from the cells on disk (so resumed cells are always included).

- results (``results.parquet``, ``results.csv``): every finished cell's ``audit/audit.json`` rows,
  columns `RESULT_TABLE_COLUMNS` = ``cell, generator, epsilon, seed, private`` + the audit's
  `RESULT_COLUMNS`; ``epsilon`` is a float (``inf`` for a NOT PRIVATE reference). The CSV's first
  line is ``# <notice>``: the table holds results computed on real data.
- cells (``cells.csv``): one row per planned cell with its status (done | failed | pending), its
  error, seconds, the ε and δ its card states and the worker's peak memory.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from dpsynth.bundle import write_file_atomically
from dpsynth.sweep_folder import CELL_FILE, cell_folder, failure_file, read_json
from dpsynth.sweep_plan import Cell, SweepPlan
from dpsynth.validators.context import RESULT_COLUMNS
from dpsynth.validators.report import NOTICE, AuditReport

CELL_COLUMNS = ["cell", "generator", "epsilon", "seed", "private"]
RESULT_TABLE_COLUMNS = CELL_COLUMNS + RESULT_COLUMNS
STATUS_COLUMNS = CELL_COLUMNS + ["status", "error", "seconds", "epsilon_spent", "delta_spent", "peak_rss_mb"]
RESULTS_PARQUET = "results.parquet"
RESULTS_CSV = "results.csv"
CELLS_CSV = "cells.csv"
DONE, FAILED, PENDING = "done", "failed", "pending"


def results_table(out: Path, cells: list[Cell]) -> pd.DataFrame:
    """The audit rows of every finished cell of ``cells``, in plan order, with the cell's columns first."""
    parts = []
    for cell in cells:
        audit_json = cell_folder(out, cell) / "audit" / "audit.json"
        if not (cell_folder(out, cell) / CELL_FILE).is_file() or not audit_json.is_file():
            continue
        table = AuditReport.read(audit_json).table
        parts.append(table.assign(cell=cell.cell_id, generator=cell.generator, epsilon=float(cell.epsilon),
                                  seed=cell.seed, private=cell.private))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=RESULT_TABLE_COLUMNS)
    return typed(frame[RESULT_TABLE_COLUMNS], RESULT_TABLE_COLUMNS)


def cells_table(out: Path, cells: list[Cell]) -> pd.DataFrame:
    """One row per planned cell: its status and, when done, what its ``cell.json`` records."""
    rows = []
    for cell in cells:
        row = {"cell": cell.cell_id, "generator": cell.generator, "epsilon": float(cell.epsilon), "seed": cell.seed,
               "private": cell.private, "status": PENDING, "error": "", "seconds": math.nan,
               "epsilon_spent": math.nan, "delta_spent": math.nan, "peak_rss_mb": math.nan}
        done = read_json(cell_folder(out, cell) / CELL_FILE)
        failure = read_json(failure_file(out, cell))
        if done is not None:
            row.update(status=DONE, **{key: number(done.get(key)) for key in
                                       ("seconds", "epsilon_spent", "delta_spent", "peak_rss_mb")})
        elif failure is not None:
            row.update(status=FAILED, error=str(failure.get("error", "")), seconds=number(failure.get("seconds")))
        rows.append(row)
    return typed(pd.DataFrame(rows, columns=STATUS_COLUMNS), STATUS_COLUMNS)


def typed(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Fixed dtypes, whatever the rows: text as str, ``seed`` int64, ``private`` bool, numbers float64."""
    text = {"cell", "generator", "status", "error", "validator", "model", "source", "metric", "attribute", "group",
            "feature", "flag"}
    out = frame.reset_index(drop=True).copy()
    for column in columns:
        if column in text:
            out[column] = out[column].fillna("").astype(str)
        elif column == "seed":
            out[column] = out[column].astype("int64")
        elif column == "private":
            out[column] = out[column].astype(bool)
        else:
            out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    return out


def number(value: object) -> float:
    """A JSON number (``"inf"`` for ∞) as a float; NaN when absent."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def write_tables(out: Path, results: pd.DataFrame, cells: pd.DataFrame) -> dict[str, Path]:
    """Write ``results.parquet``, ``results.csv`` (first line ``# <notice>``) and ``cells.csv``, each
    atomically over the last run's."""
    def csv_with_notice(frame: pd.DataFrame):
        def write(tmp: Path) -> None:
            with open(tmp, "w", newline="") as handle:
                handle.write(f"# {NOTICE}\n")
                frame.to_csv(handle, index=False)
        return write

    return {
        "parquet": write_file_atomically(out / RESULTS_PARQUET, lambda tmp: results.to_parquet(tmp, index=False),
                                         force=True),
        "csv": write_file_atomically(out / RESULTS_CSV, csv_with_notice(results), force=True),
        "cells": write_file_atomically(out / CELLS_CSV, lambda tmp: cells.to_csv(tmp, index=False), force=True),
    }


def rebuild_tables(out: Path, plan: SweepPlan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(results, cells) of the sweep in ``out`` under ``plan``."""
    planned = plan.cells()
    return results_table(out, planned), cells_table(out, planned)

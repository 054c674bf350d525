"""One sweep cell: fit, sample and audit through the same library functions as the CLI.

`run_cell` is what a Ray task runs (and what tests run in process): `dpsynth.pipeline.generate`
writes ``release/`` (synthetic data, privacy card, model), `dpsynth.pipeline.run_audit`
audits that synthetic data against the real train and holdout into ``audit/`` (the card
passed), and ``cell.json`` records the cell, the ε and δ its card states, the seconds and
the worker's peak memory. The three are written whole or not at all (one staged folder of
kind ``"sweep-cell"``). Any exception becomes a failed `CellOutcome`, so one bad cell never
stops a sweep; an interrupt still propagates.

Privacy: the cell's ``seed`` is public and goes to `generate` exactly as ``dpsynth generate
--seed`` passes it; the fit's private randomness comes from OS entropy inside the fit.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpsynth.bundle import staged_folder
from dpsynth.sweep_folder import CELL_FILE, CELL_KIND, json_number
from dpsynth.sweep_plan import Cell

MAX_WARNINGS = 20  # distinct UserWarning lines kept in cell.json (e.g. groups absent from the holdout)
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class CellTask:
    """Everything one cell needs; paths every worker can read (on a cluster: shared storage)."""

    cell: Cell
    target: Path  # DIR/cells/<cell_id>
    data: Path
    holdout: Path
    schema: Path
    static: Path | None = None
    holdout_static: Path | None = None
    delta: float | None = None
    rows: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    audit_config: Any = None  # a dpsynth.validators.context.AuditConfig
    threads: int = 1  # torch threads: the task's CPUs


@dataclass(frozen=True)
class CellOutcome:
    cell: Cell
    ok: bool
    seconds: float
    error: str = ""
    error_type: str = ""


def run_cell(task: CellTask) -> CellOutcome:
    """Fit, sample and audit ``task.cell`` into ``task.target``; a failure is returned, not raised."""
    start = time.perf_counter()
    try:
        import torch

        torch.set_num_threads(max(1, int(task.threads)))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            with staged_folder(task.target, kind=CELL_KIND) as staging:
                card = fit_and_audit(task, staging)
                summary = cell_summary(task.cell, card, seconds=time.perf_counter() - start,
                                       warned=[str(w.message) for w in caught if issubclass(w.category, UserWarning)])
                (staging / CELL_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    except Exception as exc:  # noqa: BLE001  (one failed cell must not stop the sweep)
        return CellOutcome(task.cell, False, time.perf_counter() - start, error_line(exc), type(exc).__name__)
    return CellOutcome(task.cell, True, time.perf_counter() - start)


def fit_and_audit(task: CellTask, staging: Path) -> Any:
    """``generate`` into ``staging/release``, then ``run_audit`` of its synthetic data into
    ``staging/audit``; returns the privacy card."""
    from dpsynth.pipeline import generate, run_audit

    cell = task.cell
    release = generate(data=task.data, schema=task.schema, generator=cell.generator,
                       epsilon=cell.epsilon if cell.private else None, delta=task.delta, rows=task.rows,
                       seed=cell.seed, out_dir=staging / "release", params=dict(task.params),
                       static=task.static, progress=False)
    run_audit(train=task.data, holdout=task.holdout, synthetic=release.synthetic_path, schema=task.schema,
              out_dir=staging / "audit", card=release.card, config=task.audit_config,
              statics={"train": task.static, "holdout": task.holdout_static}, progress=False)
    return release.card


def cell_summary(cell: Cell, card: Any, *, seconds: float, warned: list[str]) -> dict[str, Any]:
    """What ``cell.json`` holds: the cell, the spend its card states, time, memory, version."""
    from dpsynth import __version__

    distinct = list(dict.fromkeys(line.splitlines()[0] for line in warned if line))[:MAX_WARNINGS]
    return {"cell": cell.cell_id, "generator": cell.generator, "epsilon": json_number(cell.epsilon),
            "seed": cell.seed, "private": cell.private, "epsilon_spent": json_number(float(card.epsilon)),
            "delta_spent": card.delta, "seconds": round(seconds, 3), "peak_rss_mb": round(peak_rss_mb(), 1),
            "dpsynth": __version__, "warnings": distinct}


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MB (each Ray cell runs in a fresh worker)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def error_line(exc: BaseException) -> str:
    """One line: the message's first line (dpsynth's errors are one line already), with the type
    for exceptions dpsynth did not raise on purpose."""
    from dpsynth.errors import DpsynthError

    text = (str(exc).strip().splitlines() or [""])[0]
    if not isinstance(exc, DpsynthError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text[:MAX_ERROR_CHARS]

"""The sweep folder DIR: its checks, its lock, its cells' state on disk.

Layout: ``README.txt`` and ``sweep.json`` (the plan), ``cells/<cell_id>/`` (each written whole
by `dpsynth.bundle.staged_folder`, kind ``"sweep-cell"``), ``failures/<cell_id>.json`` (the
last error of a failed cell), ``results.parquet``/``results.csv``/``cells.csv`` (the tables).
A cell is *done* when its folder exists (a staged folder appears complete or not at all),
*failed* when it has a failure file, else *pending*. A killed sweep leaves hidden
``.partial-`` staging folders behind; the next run deletes them (`remove_leftovers`).
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from dpsynth.bundle import MANIFEST_FILE, PARTIAL, enclosing_folder, write_file_atomically
from dpsynth.errors import DpsynthError
from dpsynth.sweep_plan import PLAN_FILE, Cell

CELLS = "cells"
FAILURES = "failures"
CELL_FILE = "cell.json"
CELL_KIND = "sweep-cell"
LOCK_FILE = ".sweep.lock"

OUT_IS_FILE = "--out '{path}' is a file; a sweep writes a folder: give a folder path"
OUT_INSIDE = ("--out '{path}' is inside '{folder}', a {kind} folder dpsynth wrote; a sweep holds real-data audits "
              "and must stay apart from it: choose a folder outside it")
OUT_IS_DPSYNTH = ("--out '{path}' is a {kind} folder dpsynth wrote, not a sweep folder; choose a new folder for "
                  "the sweep")
OUT_FOREIGN = ("--out '{path}' is not empty and holds no {plan}: it is not a sweep folder; choose a new folder "
               "(--force replaces only a sweep folder)")
FORCE_HOLDS_INPUT = "--force would replace '{path}', which holds the input '{input}'; choose another --out"
LOCKED = ("another sweep is running on '{path}' (its lock is held); wait for it to finish, or choose another "
          "--out")


def check_out(out: Path, *, force: bool, inputs: Iterable[Path]) -> None:
    """Refuse a file, a folder inside or equal to another dpsynth folder, a non-empty folder that
    is not a sweep, and (with ``force``) a folder that holds an input."""
    if out.is_file():
        raise DpsynthError(OUT_IS_FILE.format(path=out))
    if (out / MANIFEST_FILE).is_file():
        found = enclosing_folder(out)
        raise DpsynthError(OUT_IS_DPSYNTH.format(path=out, kind=found[1] if found else "dpsynth"))
    outer = enclosing_folder(out.parent)
    if outer is not None:
        raise DpsynthError(OUT_INSIDE.format(path=out, folder=outer[0], kind=outer[1]))
    if out.is_dir() and any(p.name != LOCK_FILE for p in out.iterdir()) and not (out / PLAN_FILE).is_file():
        raise DpsynthError(OUT_FOREIGN.format(path=out, plan=PLAN_FILE))
    if force and out.exists():
        for source in inputs:
            if source.resolve().is_relative_to(out.resolve()):
                raise DpsynthError(FORCE_HOLDS_INPUT.format(path=out, input=source))


def empty_sweep(out: Path) -> None:
    """Delete everything in the sweep folder ``out`` but its lock (``--force``, under the lock):
    each entry renamed aside, the plan last (a kill midway leaves a sweep folder that a rerun
    with --force empties again), then removed."""
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    entries = sorted((p for p in out.iterdir() if p.name != LOCK_FILE), key=lambda p: p.name == PLAN_FILE)
    for entry in entries:
        entry.rename(aside / entry.name)
    shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def sweep_lock(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``out`` while a sweep writes there (released when the process ends,
    even when killed); `DpsynthError` if another sweep holds it."""
    import fcntl

    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise DpsynthError(LOCKED.format(path=out)) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_leftovers(out: Path) -> list[Path]:
    """Delete the staging folders and files a killed run left (``.<name>.partial-*``); returns them."""
    found = [p for folder in (out, out / CELLS, out / FAILURES) if folder.is_dir()
             for p in folder.iterdir() if p.name.startswith(".") and PARTIAL in p.name]
    for path in found:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return found


# ----------------------------------------------------------------------------- cell state
def cell_folder(out: Path, cell: Cell) -> Path:
    return out / CELLS / cell.cell_id


def failure_file(out: Path, cell: Cell) -> Path:
    return out / FAILURES / f"{cell.cell_id}.json"


def is_done(out: Path, cell: Cell) -> bool:
    return (cell_folder(out, cell) / CELL_FILE).is_file()


def record_failure(out: Path, cell: Cell, *, error: str, error_type: str, seconds: float) -> Path:
    """Write ``failures/<cell_id>.json`` (replacing an older one): the error line and its type."""
    text = json.dumps({"cell": cell.cell_id, "generator": cell.generator, "epsilon": json_number(cell.epsilon),
                       "seed": cell.seed, "private": cell.private, "error": error, "error_type": error_type,
                       "seconds": round(seconds, 3)}, indent=2) + "\n"
    return write_file_atomically(failure_file(out, cell), lambda tmp: tmp.write_text(text), force=True)


def clear_failure(out: Path, cell: Cell) -> None:
    failure_file(out, cell).unlink(missing_ok=True)


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``, or None when the file is missing or unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def json_number(value: float) -> float | str:
    """JSON has no infinity: a NOT PRIVATE cell's ε = ∞ is written ``"inf"`` (as on its card)."""
    return "inf" if value == math.inf else value

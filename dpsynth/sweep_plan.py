"""The plan of a sweep: its cells, the checks that run before any fit, and the resume rules.

A sweep fits every (generator, ε, seed) cell, plus each NOT PRIVATE reference once per seed,
on the same private data. Everything a user can get wrong without a fit (a generator name,
its modality or parameters, an ε list, the seeds, missing files) is checked here, each as
one `SweepPlanError` line. The plan (``sweep.json``) records the SHA-256 of every input and
the settings every cell shares, so a sweep folder never mixes results of different data or
settings: a rerun may only add generators, ε, seeds or references (`merge_plans`).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpsynth import registry
from dpsynth.bundle import sha256_of
from dpsynth.errors import DpsynthError

PLAN_FILE = "sweep.json"
README_FILE = "README.txt"
PLAN_VERSION = 1
PLAN_KIND = "dpsynth-sweep"
INFINITY = "inf"  # JSON has no infinity: a NOT PRIVATE reference's ε = ∞ is written so (as on its card)
INPUT_OPTIONS = {"data": "--data", "holdout": "--holdout", "schema": "--schema", "static": "--static",
                 "holdout_static": "--holdout-static"}

NOT_FOR_RELEASE = ("This folder is audit material computed on REAL data (each cell's audit and the results "
                   "tables compare synthetic data with the real training and holdout data): it is not "
                   "differentially private and is not for release.")
COMPOSITION = ("Every cell is a separate fit on the same private data. Releasing several cells of this data "
               "set composes their privacy cost: under basic composition their ε's add up (and their δ's "
               "too), e.g. releasing the cells at ε = 1 and ε = 2 costs ε = 3. Release one cell, or account "
               "for the sum. The NOT PRIVATE references (ε = ∞) are never released.")

EMPTY_LIST = "{option} is empty; give at least one value, e.g. {example}"
UNKNOWN_GENERATOR = "unknown generator {name!r}{hint}; `dpsynth generators` lists them"
REFERENCE_AS_GENERATOR = ("'{name}' is a NOT PRIVATE reference (ε = ∞): pass it with --reference, which fits it "
                          "once per seed, not once per ε")
PRIVATE_AS_REFERENCE = "'{name}' is a DP generator, not a NOT PRIVATE reference: pass it with --generators"
WRONG_MODALITY = ("generator '{name}' is for {generator} data, but the schema describes {schema} data; "
                  "choose one of: {choices}")
REPEATED = "{option} lists {value!r} twice; each value makes its own cells"
BAD_EPSILON = "--epsilons must hold positive, finite numbers (ε > 0); got {value!r}"
EPSILON_DIGITS = ("ε {value!r} has more than 6 significant digits; cells are named by ε ('eps{short}'): "
                  "round it to {short}")
BAD_SEED = "--seeds must hold whole numbers ≥ 0 (public seeds); got {value!r}"
BAD_DELTA = "--delta must be a number in (0, 1), e.g. 1e-5 (got {value!r})"
BAD_ROWS = "--rows must be a whole number ≥ 1 (got {value!r})"
MISSING_INPUT = "{option} '{path}' does not exist; check the path"
NOT_A_PATH = ("{option} must be a file or folder path (got {kind}): the sweep records its SHA-256, and "
              "every Ray worker reads it from there")
BAD_PLAN = "'{path}' is not a sweep plan dpsynth wrote ({reason}); choose another --out"
INPUT_CHANGED = ("{option} differs from the input of the sweep in '{folder}' (SHA-256 {old} then, {new} now): a "
                 "sweep never mixes data sets. Choose another --out, or pass --force to replace the whole sweep "
                 "folder")
SETTING_CHANGED = ("{setting} differs from the sweep in '{folder}' ({old} then, {new} now): a sweep never mixes "
                   "settings. Use the same {setting}, choose another --out, or pass --force to replace the whole "
                   "sweep folder")
ABSENT_GROUPS = ("the holdout has no rows of sensitive group(s) {groups} that the schema declares: every cell's "
                 "audit reports them as NaN with flag 'absent_in_holdout'; a larger holdout stratified on these "
                 "groups would measure them")
SETTING_NAMES = {"delta": "--delta", "rows": "--rows", "params": "--param", "audit": "the audit settings"}


class SweepPlanError(DpsynthError, ValueError):
    """A sweep's inputs cannot make a plan (a bad list, name, file or setting, or another sweep's folder)."""


@dataclass(frozen=True)
class Cell:
    """One fit of the sweep: ``generator`` at ``epsilon`` (math.inf for a NOT PRIVATE
    reference) with the public ``seed``."""

    generator: str
    epsilon: float
    seed: int
    private: bool

    @property
    def cell_id(self) -> str:
        """Stable folder name: ``dp-vae_eps1_seed0`` (ε with ``:g``); references ``sdv-tvae_seed0``."""
        if not self.private:
            return f"{self.generator}_seed{self.seed}"
        return f"{self.generator}_eps{self.epsilon:g}_seed{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return {"cell": self.cell_id, "generator": self.generator,
                "epsilon": self.epsilon if self.private else INFINITY, "seed": self.seed, "private": self.private}


@dataclass(frozen=True)
class SweepPlan:
    """The inputs (role -> name, path, SHA-256), the settings every cell shares (delta, rows,
    params, audit) and the lists whose product makes the cells."""

    inputs: dict[str, dict[str, str]]
    generators: Sequence[str]
    epsilons: Sequence[float]
    seeds: Sequence[int]
    reference: Sequence[str] = ()
    settings: dict[str, Any] | None = None

    def cells(self) -> list[Cell]:
        """Every DP generator at every ε and seed, then every NOT PRIVATE reference at every seed."""
        private = [Cell(g, float(e), int(s), True) for g in self.generators for e in self.epsilons for s in self.seeds]
        return private + [Cell(r, math.inf, int(s), False) for r in self.reference for s in self.seeds]

    def to_dict(self) -> dict[str, Any]:
        from dpsynth import __version__

        return {"plan_version": PLAN_VERSION, "kind": PLAN_KIND, "notice": NOT_FOR_RELEASE,
                "composition": COMPOSITION, "dpsynth": __version__, "inputs": self.inputs,
                "generators": list(self.generators), "epsilons": [float(e) for e in self.epsilons],
                "seeds": [int(s) for s in self.seeds], "reference": list(self.reference),
                "settings": plain(self.settings or {}), "cells": [cell.to_dict() for cell in self.cells()]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepPlan:
        return cls(inputs=dict(data["inputs"]), generators=list(data["generators"]),
                   epsilons=tuple(float(e) for e in data["epsilons"]), seeds=tuple(int(s) for s in data["seeds"]),
                   reference=list(data.get("reference") or ()), settings=dict(data.get("settings") or {}))


def plain(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples as lists, paths as text): what plans compare."""
    return json.loads(json.dumps(value, default=str))


# ------------------------------------------------------------------------- checks
def check_epsilons(epsilons: Sequence[Any]) -> tuple[float, ...]:
    """ε values as floats: a non-empty list of distinct, positive, finite numbers, each with at
    most 6 significant digits (the cell id shows ε with ``:g``, and must name one ε)."""
    if not epsilons:
        raise SweepPlanError(EMPTY_LIST.format(option="--epsilons", example="--epsilons 0.5,1,2,4,8"))
    out: list[float] = []
    for value in epsilons:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
            raise SweepPlanError(BAD_EPSILON.format(value=value))
        if float(f"{value:g}") != float(value):
            raise SweepPlanError(EPSILON_DIGITS.format(value=value, short=f"{value:g}"))
        if float(value) in out:
            raise SweepPlanError(REPEATED.format(option="--epsilons", value=value))
        out.append(float(value))
    return tuple(out)


def check_seeds(seeds: Sequence[Any]) -> tuple[int, ...]:
    """Public seeds: a non-empty list of distinct whole numbers ≥ 0."""
    if not seeds:
        raise SweepPlanError(EMPTY_LIST.format(option="--seeds", example="--seeds 0,1,2"))
    out: list[int] = []
    for value in seeds:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise SweepPlanError(BAD_SEED.format(value=value))
        if int(value) in out:
            raise SweepPlanError(REPEATED.format(option="--seeds", value=value))
        out.append(int(value))
    return tuple(out)


def check_settings(*, delta: Any, rows: Any) -> None:
    """``delta`` in (0, 1) and ``rows`` ≥ 1 when given (``generate`` checks them again, per cell)."""
    if delta is not None and (isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not 0 < delta < 1):
        raise SweepPlanError(BAD_DELTA.format(value=delta))
    if rows is not None and (isinstance(rows, bool) or not isinstance(rows, numbers.Integral) or rows < 1):
        raise SweepPlanError(BAD_ROWS.format(value=rows))


def check_generators(generators: Sequence[str], reference: Sequence[str], schema: Any,
                     params: dict[str, Any]) -> None:
    """Known names ("did you mean"), DP generators in ``generators`` and NOT PRIVATE ones in
    ``reference``, each for the schema's modality; every DP generator is built (not fitted)
    with ``params``, so a bad parameter is one line now, not a failed cell later."""
    if not generators:
        raise SweepPlanError(EMPTY_LIST.format(option="--generators", example="--generators dp-vae,dp-gan"))
    for option, names, private in (("--generators", list(generators), True), ("--reference", list(reference), False)):
        for position, name in enumerate(names):
            if name in names[:position]:
                raise SweepPlanError(REPEATED.format(option=option, value=name))
            info = generator_info(name)
            if info.private != private:
                raise SweepPlanError((REFERENCE_AS_GENERATOR if private else PRIVATE_AS_REFERENCE).format(name=name))
            if info.modality != schema.modality:
                choices = ", ".join(i.name for i in registry.available(schema.modality)) or "none"
                raise SweepPlanError(WRONG_MODALITY.format(name=name, generator=info.modality,
                                                           schema=schema.modality, choices=choices))
            if private:
                registry.create(name, schema, **params)


def generator_info(name: str) -> registry.GeneratorInfo:
    """The registered generator ``name``, or one line suggesting the closest registered name."""
    known = [info.name for info in registry.available()]
    if name not in known:
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f"; registered: {', '.join(known)}"
        raise SweepPlanError(UNKNOWN_GENERATOR.format(name=name, hint=hint))
    return registry.get(name)


def check_inputs(paths: dict[str, Any]) -> dict[str, Path]:
    """The given input paths by role (`INPUT_OPTIONS`; None: not given, left out), each an
    existing file or folder, made absolute: Ray workers read them from there."""
    out: dict[str, Path] = {}
    for role, option in INPUT_OPTIONS.items():
        value = paths.get(role)
        if value is None:
            continue
        if not isinstance(value, (str, Path)):
            raise SweepPlanError(NOT_A_PATH.format(option=option, kind=type(value).__name__))
        path = Path(value).expanduser()
        if not path.exists():
            raise SweepPlanError(MISSING_INPUT.format(option=option, path=path))
        out[role] = path.resolve()
    return out


def absent_holdout_groups(holdout: Path, schema: Any, *, holdout_static: Path | None = None) -> dict[str, list[str]]:
    """Sensitive attribute -> the groups of its public domain with no holdout record. Reads the
    holdout once (audit material; errors the audit would raise, such as a holdout that does not
    fit the schema or holds one outcome class, surface here, before any fit)."""
    from dpsynth.pipeline import load_data
    from dpsynth.validators.suite import SINGLE_CLASS_HOLDOUT

    conformed = schema.conform(load_data(holdout, schema, static=holdout_static))[0]
    static_schema = getattr(schema, "static", None)  # series and images: one static record per subject or image
    labels = (schema.group_labels(conformed) if static_schema is None
              else static_schema.group_labels(conformed.static))
    outcomes = labels[schema.target].astype(str)
    if outcomes.nunique() < 2:
        raise SweepPlanError(SINGLE_CLASS_HOLDOUT.format(target=schema.target, value=outcomes.iloc[0],
                                                         n=len(outcomes)))
    domains = schema.condition_domains()
    absent = {}
    for attribute in schema.sensitive:
        present = set(labels[attribute.name].astype(str))
        missing = [str(group) for group in domains.get(attribute.name, []) if str(group) not in present]
        if missing:
            absent[attribute.name] = missing
    return absent


def absent_groups_warning(absent: dict[str, list[str]]) -> str:
    return ABSENT_GROUPS.format(groups=", ".join(f"{a}={g}" for a, groups in absent.items() for g in groups))


# ------------------------------------------------------------------------- checksums
def input_digest(path: str | Path) -> str:
    """SHA-256 of a file, or of a folder's files (their relative paths and SHA-256, in order)."""
    path = Path(path)
    if path.is_file():
        return sha256_of(path)
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{item.relative_to(path).as_posix()}\0{sha256_of(item)}\n".encode())
    return digest.hexdigest()


def describe_inputs(paths: dict[str, Path]) -> dict[str, dict[str, str]]:
    """role -> {"name", "path", "sha256"} for every given input."""
    return {role: {"name": path.name, "path": str(path), "sha256": input_digest(path)} for role, path in paths.items()}


# ------------------------------------------------------------------------- the plan on disk
def read_plan(folder: str | Path) -> SweepPlan | None:
    """The plan in ``folder/sweep.json``; None when there is none; `SweepPlanError` when it is not one."""
    path = Path(folder) / PLAN_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        if data.get("kind") != PLAN_KIND or data.get("plan_version") != PLAN_VERSION:
            raise ValueError(f"kind {data.get('kind')!r}, version {data.get('plan_version')!r}")
        return SweepPlan.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SweepPlanError(BAD_PLAN.format(path=path, reason=str(exc).splitlines()[0] if str(exc) else
                                             type(exc).__name__)) from None


def merge_plans(previous: SweepPlan, plan: SweepPlan, *, folder: Path) -> SweepPlan:
    """``previous`` extended by the generators, ε, seeds and references of ``plan``; refused when
    an input (by SHA-256) or a shared setting differs."""
    for role in sorted(set(previous.inputs) | set(plan.inputs), key=list(INPUT_OPTIONS).index):
        old, new = (p.inputs.get(role, {}).get("sha256", "none") for p in (previous, plan))
        if old != new:
            raise SweepPlanError(INPUT_CHANGED.format(option=INPUT_OPTIONS[role], folder=folder, old=old[:12],
                                                      new=new[:12]))
    old_settings, new_settings = plain(previous.settings or {}), plain(plan.settings or {})
    for key in sorted(set(old_settings) | set(new_settings)):
        if old_settings.get(key) != new_settings.get(key):
            raise SweepPlanError(SETTING_CHANGED.format(setting=SETTING_NAMES.get(key, key), folder=folder,
                                                        old=old_settings.get(key), new=new_settings.get(key)))

    def union(old: Sequence[Any], new: Sequence[Any]) -> list[Any]:
        return list(old) + [value for value in new if value not in old]

    return SweepPlan(inputs=previous.inputs, generators=union(previous.generators, plan.generators),
                     epsilons=tuple(union(previous.epsilons, plan.epsilons)),
                     seeds=tuple(union(previous.seeds, plan.seeds)),
                     reference=union(previous.reference, plan.reference), settings=previous.settings)


def readme_text(plan: SweepPlan) -> str:
    """``README.txt``: what the folder is, that it is not for release, composition, and the plan."""
    inputs = "\n".join(f"  {role:15s} {item['name']}  (SHA-256 {item['sha256']})" for role, item in plan.inputs.items())
    settings = plain(plan.settings or {})
    cells = plan.cells()
    return "\n".join([
        "dpsynth sweep: fit -> sample -> audit for every (generator, ε, seed) cell",
        "",
        "NOT FOR RELEASE. " + NOT_FOR_RELEASE,
        "",
        "COMPOSITION. " + COMPOSITION,
        "",
        "Inputs:",
        inputs,
        "",
        f"Generators : {', '.join(plan.generators)}",
        f"Epsilons   : {', '.join(f'{e:g}' for e in plan.epsilons)}",
        f"Seeds      : {', '.join(str(s) for s in plan.seeds)}  (public seeds; each fit's private noise "
        "comes from OS entropy)",
        f"References : {', '.join(plan.reference) or 'none'}  (NOT PRIVATE, ε = ∞; for comparison only)",
        f"Delta      : {settings.get('delta') if settings.get('delta') is not None else 'default (as dpsynth generate)'}",
        f"Rows       : {settings.get('rows') if settings.get('rows') is not None else 'default (as dpsynth generate)'}",
        f"Params     : {json.dumps(settings.get('params') or {})}",
        f"Audit      : {json.dumps(settings.get('audit') or {})}",
        f"Cells      : {len(cells)}",
        "",
        "Layout: sweep.json (this plan), cells/<cell>/ (release/ from dpsynth generate, audit/ from "
        "dpsynth audit, cell.json), failures/<cell>.json (the last error of a failed cell), results.parquet "
        "and results.csv (every finished cell's audit rows), cells.csv (every planned cell and its status).",
        "Rerunning `dpsynth sweep` with the same inputs and settings resumes: finished cells are skipped, "
        "failed ones retried, new generators, ε or seeds added.",
        "",
    ])

"""The privacy–utility–fairness frontier of a sweep: its audit numbers against ε.

A sweep (``dpsynth sweep``) audits every cell (generator × ε × seed); its results table holds
``cell, generator, epsilon, seed, private`` + `context.RESULT_COLUMNS`, each cell's rows being
exactly that cell's audit table (ε is ``inf`` for a NOT PRIVATE reference). This module answers
"what ε can I afford on my data, and which patients pay for it?" with three computations:

- `frontier_series`: each metric per generator and ε, averaged over seeds, with the seeds'
  spread and the envelope of the cells' own bootstrap intervals (`per_cell` keeps each cell's
  row and interval as it was);
- `price_of_privacy`: per generator × attribute × group, the smallest ε at which the group's
  TSTR AUROC comes within a margin of its TRTR AUROC, and which group needs the largest ε;
- `sweep_verdict`: the release verdict (`verdict.evaluate`) of every cell, the worst status over
  seeds per check, and per generator the smallest ε with no failing check (and with all passing).

Every number here was computed on real data: none of it is differentially private.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from dpsynth.errors import DpsynthError
from dpsynth.validators.context import RESULT_COLUMNS
from dpsynth.validators.verdict import (
    CHECK_NAMES, SEVERITY, SMALL_GROUP_FLAGS, Thresholds, Verdict, evaluate, has_flag, load_thresholds)

CELL_COLUMNS = ["cell", "generator", "epsilon", "seed", "private"]
SWEEP_COLUMNS = CELL_COLUMNS + RESULT_COLUMNS
#: What identifies one number of an audit table (a row's value differs across cells only).
ROW_KEYS = ["validator", "model", "source", "metric", "attribute", "group", "feature"]
NEVER = "never"

MISSING_SWEEP_COLUMNS = ("a sweep's results table needs the columns {expected}; missing: {missing} "
                         "(read DIR/results.parquet, written by `dpsynth sweep`)")
EMPTY_SWEEP = "the sweep's results table has no rows: no cell finished; rerun `dpsynth sweep` and check DIR/cells.csv"
BAD_MARGIN = "margin must be a finite number >= 0 (an AUROC difference); got {margin!r}"
UNKNOWN_MODEL = "model {model!r} is not in the sweep's utility/fairness rows; choose one of {models}"


# ---------------------------------------------------------------------------- input
def tidy_results(table: pd.DataFrame) -> pd.DataFrame:
    """The results table with every column present and typed (text as str, numbers as float,
    ``private`` as bool); a `DpsynthError` naming the missing columns otherwise."""
    missing = [c for c in SWEEP_COLUMNS if c not in table.columns]
    if missing:
        raise DpsynthError(MISSING_SWEEP_COLUMNS.format(expected=SWEEP_COLUMNS, missing=missing))
    if table.empty:
        raise DpsynthError(EMPTY_SWEEP)
    t = table[SWEEP_COLUMNS].reset_index(drop=True).copy()
    for col in ("epsilon", "value", "ci_low", "ci_high", "n"):
        t[col] = pd.to_numeric(t[col], errors="coerce").astype(float)
    for col in ["cell", "generator"] + [c for c in RESULT_COLUMNS if c not in ("value", "ci_low", "ci_high", "n")]:
        t[col] = t[col].fillna("").astype(str)
    t["seed"] = pd.to_numeric(t["seed"], errors="coerce").astype("Int64")
    t["private"] = t["private"].map(lambda v: str(v).lower() in ("true", "1")).astype(bool)
    return t


def epsilon_text(epsilon: float) -> str:
    """"1", "0.5", or "∞" for a NOT PRIVATE reference; "never" for NaN (no ε reached it)."""
    if epsilon is None or (isinstance(epsilon, float) and math.isnan(epsilon)):
        return NEVER
    return "∞" if math.isinf(epsilon) else f"{epsilon:g}"


# ---------------------------------------------------------------------------- series
@dataclass(frozen=True)
class SeriesSpec:
    """Which rows of the table form one family of frontier series."""

    description: str
    select: Callable[[pd.DataFrame], pd.Series]  # row mask
    ignore_feature: bool = False  # the feature column holds per-cell counts (membership), not a key


SERIES: dict[str, SeriesSpec] = {
    "utility": SeriesSpec(
        "overall AUROC per downstream model: TSTR, TRTR and their ratio",
        lambda t: (t.validator == "utility") & (t.attribute == "overall") & (t.metric == "auroc")
        & t.source.isin(["TSTR", "TRTR", "ratio"])),
    "subgroups": SeriesSpec(
        "per-subgroup AUROC, TPR and FPR, TSTR and TRTR",
        lambda t: (t.validator == "fairness") & (t.group != "") & t.metric.isin(["auroc", "tpr", "fpr"])
        & t.source.isin(["TSTR", "TRTR"])),
    "equalized_odds": SeriesSpec(
        "equalized-odds difference and worst-group AUROC per attribute: TSTR, TRTR and the change",
        lambda t: (t.validator == "fairness") & (t.group == "")
        & t.metric.isin(["equalized_odds_difference", "worst_group_auroc"]) & t.source.isin(["TSTR", "TRTR", "change"])),
    "representation": SeriesSpec(
        "group shares, real train vs synthetic, and their ratio",
        lambda t: (t.validator == "representation") & (t.group != "")
        & t.metric.isin(["share_real", "share_synthetic", "share_ratio"])),
    "fidelity": SeriesSpec(
        "overall fidelity: marginal distances, correlation difference and detection AUC",
        lambda t: (t.validator == "fidelity") & (t.attribute == "overall") & (t.feature == "")),
    "membership": SeriesSpec(
        "membership-inference AUC per attack (overall and per group) and the privacy card's bound",
        lambda t: (t.validator == "membership") & t.metric.isin(["auc", "dp_bound_auc"])
        & t.source.isin(["synthetic", ""]),
        ignore_feature=True),
}
AGGREGATE_COLUMNS = ["generator", "epsilon", "private", *ROW_KEYS, "value", "sd", "seed_min", "seed_max",
                     "ci_low", "ci_high", "n", "n_cells", "flag"]


def per_cell(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows of the series family ``name`` (a key of `SERIES`), one per cell, each with its
    own bootstrap interval."""
    t = tidy_results(table)
    spec = SERIES[name]
    rows = t[spec.select(t)].copy()
    if spec.ignore_feature:
        rows["feature"] = ""
    return rows.reset_index(drop=True)


def aggregate(rows: pd.DataFrame) -> pd.DataFrame:
    """Per generator × ε × row key: the mean over cells (seeds) of the value, its standard
    deviation (0 for one seed) and range, and the envelope of the cells' bootstrap intervals
    (lowest ci_low, highest ci_high: every cell's interval lies inside); ``flag`` is the union of
    the cells' flags, ``n`` their mean row count. Columns: `AGGREGATE_COLUMNS`."""
    if rows.empty:
        return pd.DataFrame(columns=AGGREGATE_COLUMNS)
    keys = ["generator", "epsilon", "private", *ROW_KEYS]
    grouped = rows.groupby(keys, sort=False, dropna=False)
    out = grouped.agg(value=("value", "mean"), sd=("value", "std"), seed_min=("value", "min"),
                      seed_max=("value", "max"), ci_low=("ci_low", "min"), ci_high=("ci_high", "max"),
                      n=("n", "mean"), n_cells=("cell", "nunique"),
                      flag=("flag", lambda f: ";".join(dict.fromkeys(p for v in f for p in str(v).split(";") if p))))
    out["sd"] = out["sd"].fillna(0.0).where(out["value"].notna())
    out = out.reset_index()
    order = {g: i for i, g in enumerate(pd.unique(rows.generator))}
    out = out.sort_values(["generator", "epsilon"], key=lambda c: c.map(order) if c.name == "generator" else c,
                          kind="stable")
    return out[AGGREGATE_COLUMNS].reset_index(drop=True)


def frontier_series(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Every family of `SERIES`, aggregated over seeds (`aggregate`); a family the audits did
    not produce (e.g. no membership attack) is an empty frame."""
    t = tidy_results(table)
    return {name: aggregate(per_cell(t, name)) for name in SERIES}


# ---------------------------------------------------------------------------- price of privacy
PRICE_COLUMNS = ["generator", "attribute", "group", "epsilon_needed", "reached", "holds_above", "tstr", "trtr",
                 "gap", "gap_at_largest", "largest_epsilon", "small_group", "degrades_first"]


def price_of_privacy(table: pd.DataFrame, margin: float = 0.05, model: str | None = None) -> pd.DataFrame:
    """Per generator × attribute × group, the smallest ε of the sweep at which the group's TSTR
    AUROC (mean over seeds) lies within ``margin`` of its TRTR AUROC (TSTR ≥ TRTR − margin).

    ``model`` picks one downstream model; None judges the worst one (a group reaches the margin
    when every model does). Columns (`PRICE_COLUMNS`): ``epsilon_needed`` (NaN and ``reached``
    "never" when no ε of the sweep reaches it), ``holds_above`` (every larger ε reaches it too),
    ``tstr``/``trtr``/``gap`` (TRTR − TSTR, the worst model's) at that ε, ``gap_at_largest`` at the
    sweep's largest ε, ``small_group`` (flagged small_group / absent_in_holdout in any cell: too
    few holdout rows to judge), ``degrades_first`` (the group needing the largest ε of its
    generator × attribute, "never" counting as larger than any ε; between equal needs, the one
    furthest from its TRTR at the largest ε; ties all marked).
    """
    if not (isinstance(margin, (int, float)) and math.isfinite(margin) and margin >= 0):
        raise DpsynthError(BAD_MARGIN.format(margin=margin))
    t = tidy_results(table)
    rows = t[(t.validator == "fairness") & (t.metric == "auroc") & (t.group != "") & t.source.isin(["TSTR", "TRTR"])]
    if model is not None:
        if model not in set(rows.model):
            raise DpsynthError(UNKNOWN_MODEL.format(model=model, models=sorted(set(rows.model))))
        rows = rows[rows.model == model]
    if rows.empty:
        return pd.DataFrame(columns=PRICE_COLUMNS)
    small = {(a, g) for a, g, f in zip(t.attribute, t.group, t.flag) if has_flag(f, SMALL_GROUP_FLAGS)}
    means = (rows.groupby(["generator", "attribute", "group", "epsilon", "model", "source"], sort=False)["value"]
             .mean().unstack("source"))
    for source in ("TSTR", "TRTR"):
        if source not in means:
            means[source] = np.nan
    means["gap"] = means["TRTR"] - means["TSTR"]
    # the worst model decides: the largest gap (a NaN gap, i.e. a model without a number, cannot reach)
    worst = means.reset_index().sort_values("gap", ascending=False, na_position="first", kind="stable")
    worst = worst.groupby(["generator", "attribute", "group", "epsilon"], sort=False).head(1)
    parts = dict(list(worst.groupby(["generator", "attribute", "group"], sort=False)))
    out = []
    for generator, attribute, group in dict.fromkeys(zip(rows.generator, rows.attribute, rows.group)):
        part = parts[(generator, attribute, group)].sort_values("epsilon")
        ok = (part["gap"] <= margin + 1e-12).to_numpy()
        at = int(np.argmax(ok)) if ok.any() else None
        row = part.iloc[at] if at is not None else None
        largest = part.iloc[-1]
        out.append({
            "generator": generator, "attribute": attribute, "group": group,
            "epsilon_needed": float(row["epsilon"]) if row is not None else math.nan,
            "reached": epsilon_text(float(row["epsilon"])) if row is not None else NEVER,
            "holds_above": bool(ok[at:].all()) if at is not None else False,
            "tstr": float(row["TSTR"]) if row is not None else math.nan,
            "trtr": float(row["TRTR"]) if row is not None else math.nan,
            "gap": float(row["gap"]) if row is not None else math.nan,
            "gap_at_largest": float(largest["gap"]), "largest_epsilon": float(largest["epsilon"]),
            "small_group": (attribute, group) in small,
        })
    price = pd.DataFrame(out, columns=PRICE_COLUMNS[:-1])
    # "never" ranks above any ε, ∞ (a reference that reaches it) included; then the gap left at the largest ε
    key = list(zip(price["reached"] == NEVER, price["epsilon_needed"].fillna(math.inf),
                   price["gap_at_largest"].fillna(math.inf).round(12)))
    price["degrades_first"] = False
    for _, part in price.groupby(["generator", "attribute"], sort=False):
        top = max(key[i] for i in part.index)
        price.loc[[i for i in part.index if key[i] == top], "degrades_first"] = True
    return price[PRICE_COLUMNS]


def degrades_first(price: pd.DataFrame) -> pd.DataFrame:
    """Per generator × attribute, the group(s) that degrade first (`price_of_privacy`'s
    ``degrades_first`` rows), with the ε they need."""
    return price[price["degrades_first"]].reset_index(drop=True)


# ---------------------------------------------------------------------------- verdict
@dataclass(frozen=True)
class SweepVerdict:
    """The release verdict across a sweep.

    ``cells``: one row per cell × check (cell, generator, epsilon, seed, check, status,
    decided_by, value). ``checks``: per generator × ε × check, the worst status over seeds with
    the decided_by line and number of the seed that set it. ``headline``: per generator, the
    smallest ε with no failing check (``no_fail_epsilon``) and with every judged check passing
    (``all_pass_epsilon``), NaN when no ε of the sweep gets there, and ``decided_by``: the
    failing (or, for all-pass, non-passing) checks just below that ε, or at the largest ε when
    none gets there.
    """

    cells: pd.DataFrame
    checks: pd.DataFrame
    headline: pd.DataFrame
    thresholds: Thresholds

    def checklist(self, generator: str, epsilon: float) -> pd.DataFrame:
        """The checks of one generator at one ε (worst over seeds), in `CHECK_NAMES` order."""
        c = self.checks
        return c[(c.generator == generator) & (c.epsilon == epsilon)].reset_index(drop=True)

    def status(self, generator: str, epsilon: float) -> str:
        """The worst check of one generator at one ε ("n/a" when no check has a number)."""
        return worst_status(self.checklist(generator, epsilon)["status"])

    def to_dict(self) -> dict[str, Any]:
        return {"thresholds": self.thresholds.to_dict(), "headline": records(self.headline),
                "checks": records(self.checks), "cells": records(self.cells)}


def worst_status(statuses: Any) -> str:
    """The worst of some statuses by `verdict.SEVERITY` ("n/a" only when all are "n/a" or none)."""
    statuses = [s for s in statuses if s in SEVERITY]
    return max(statuses, key=SEVERITY.__getitem__) if statuses else "n/a"


def sweep_verdict(table: pd.DataFrame, thresholds: Thresholds | None = None, *,
                  metadata: Mapping[str, Mapping[str, Any]] | None = None) -> SweepVerdict:
    """Judge every cell of the sweep with `verdict.evaluate` and summarise per generator × ε.

    ``metadata`` maps a cell id to its audit's metadata (``config.min_group_size``, ``n_holdout``;
    the sweep report reads it from each cell's audit.json); cells without any use the defaults.
    """
    th = thresholds or load_thresholds()
    t = tidy_results(table)
    metadata = metadata or {}
    cell_rows = []
    for cell, part in t.groupby("cell", sort=False):
        first = part.iloc[0]
        verdict: Verdict = evaluate(part[RESULT_COLUMNS], metadata.get(cell), th)
        for check in verdict.checks:
            cell_rows.append({"cell": cell, "generator": first.generator, "epsilon": float(first.epsilon),
                              "seed": first.seed, "check": check.name, "status": check.status,
                              "decided_by": check.decided_by, "value": check.value})
    cells = pd.DataFrame(cell_rows)
    cells["severity"] = cells["status"].map(SEVERITY)
    order = {name: i for i, name in enumerate(CHECK_NAMES)}
    gen_order = {g: i for i, g in enumerate(pd.unique(t.generator))}
    checks = (cells.sort_values("severity", ascending=False, kind="stable")
              .groupby(["generator", "epsilon", "check"], sort=False)
              .agg(status=("status", "first"), decided_by=("decided_by", "first"), value=("value", "first"),
                   n_cells=("cell", "nunique"))
              .reset_index())
    checks = checks.sort_values(["generator", "epsilon", "check"], kind="stable", key=lambda c: (
        c.map(gen_order) if c.name == "generator" else c.map(order) if c.name == "check" else c))
    checks = checks.reset_index(drop=True)
    headline = pd.DataFrame([_headline(checks[checks.generator == g], g) for g in gen_order],
                            columns=["generator", "no_fail_epsilon", "all_pass_epsilon", "no_fail_holds_above",
                                     "decided_by", "largest_epsilon"])
    return SweepVerdict(cells.drop(columns="severity"), checks, headline, th)


def _headline(checks: pd.DataFrame, generator: str) -> dict[str, Any]:
    """The smallest ε with no fail / all pass for one generator, and what decided it."""
    epsilons = sorted(pd.unique(checks.epsilon))
    status = {e: worst_status(checks[checks.epsilon == e].status) for e in epsilons}
    no_fail = [e for e in epsilons if status[e] != "fail"]
    all_pass = [e for e in epsilons if status[e] == "pass"]
    first_ok = no_fail[0] if no_fail else None
    holds = first_ok is not None and all(status[e] != "fail" for e in epsilons if e >= first_ok)
    if first_ok is None:
        decided = _failing(checks, epsilons[-1], ("fail",))
    elif epsilons.index(first_ok) > 0:
        below = epsilons[epsilons.index(first_ok) - 1]
        decided = _failing(checks, below, ("fail",))
    else:
        decided = f"no check fails at the smallest ε of the sweep (ε = {epsilon_text(first_ok)})"
    return {"generator": generator, "no_fail_epsilon": math.nan if first_ok is None else first_ok,
            "all_pass_epsilon": all_pass[0] if all_pass else math.nan, "no_fail_holds_above": holds,
            "decided_by": decided, "largest_epsilon": epsilons[-1]}


def _failing(checks: pd.DataFrame, epsilon: float, statuses: tuple[str, ...]) -> str:
    sel = checks[(checks.epsilon == epsilon) & checks.status.isin(statuses)]
    parts = [f"{r.check} {r.status.upper()}: {r.decided_by}" for r in sel.itertuples(index=False)]
    return f"at ε = {epsilon_text(epsilon)}: " + "; ".join(parts)


# ---------------------------------------------------------------------------- JSON
def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as JSON-safe dicts: NaN → None, ±inf → "inf"/"-inf", numpy scalars → Python."""
    return [{str(k): json_safe(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def json_safe(value: Any) -> Any:
    """One value made JSON-safe (see `records`)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return None
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else float(value)
    if value is pd.NA or value is None:
        return None
    return value

"""The report of a sweep: what ε can I afford on my data, and which patients pay for it?

`write_sweep_report(DIR)` reads the sweep folder that ``dpsynth sweep`` wrote (``results.parquet``,
``cells.csv``, ``sweep.json``, and each cell's ``cells/<id>/audit/audit.json`` metadata when
present) and writes ``DIR/report/`` whole (`bundle.staged_folder`): ``report.md`` (verdict per
generator, price of privacy per group, frontier plots, failed cells, per-ε detail), ``report.json``
(the same data), ``report.html`` (the Markdown as one self-contained page) and ``plots/*.png``.

Every number comes from audits against REAL patients: the report is not differentially
private (its first line says so), and releasing several cells of one data set composes their ε.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from dpsynth.bundle import staged_folder
from dpsynth.errors import DpsynthError
from dpsynth.validators import frontier, frontier_plots
from dpsynth.validators.frontier import NEVER, SweepVerdict, epsilon_text, records
from dpsynth.validators.markdown import DASH, number, table_lines
from dpsynth.validators.report import NOTICE
from dpsynth.validators.report_html import markdown_page
from dpsynth.validators.verdict import MARGINAL_METRICS, Thresholds, load_thresholds, status_text

RESULTS_FILE = "results.parquet"
CELLS_FILE = "cells.csv"
PLAN_FILE = "sweep.json"
REPORT_FOLDER = "report"
COMPOSITION = ("Releasing several cells of one data set composes their ε: the privacy losses add up "
               "(two releases at ε = 1 and ε = 2 cost ε = 3 together).")
TITLE = "Privacy–utility–fairness frontier of a sweep"

NOT_A_SWEEP = "'{folder}' holds no {file}: give the folder `dpsynth sweep --out` wrote, after at least one cell finished"
BAD_PLAN = "'{path}' is not valid JSON ({problem}); rerun `dpsynth sweep` on the same --out to rewrite it"

PLOT_SENTENCES = {
    "utility": "Overall AUROC of models trained on synthetic data (TSTR) against ε, beside the same models trained "
               "on real data (TRTR, dotted): the gap is what privacy costs the average patient.",
    "subgroups": "Per-group AUROC, TPR and FPR by {attribute} against ε: the group whose line stays furthest from its "
                 "own TRTR level (dashed) is the one that pays first.",
    "equalized_odds": "Change of the equalized-odds difference (TSTR − TRTR) against ε with bootstrap intervals: "
                      "above 0, synthesis widens the gap between groups.",
    "representation": "Each {attribute} group's share in the synthetic data over its share in the real data "
                      "against ε: below 1, the group is under-represented.",
    "fidelity": "Overall fidelity against ε: marginal distances (0 = identical) and the detection AUC "
                "(0.5 = indistinguishable from real).",
    "membership": "Membership-inference attack AUC against ε (0.5 = chance), under the bound each ε allows "
                  "(dashed): an attack above its bound contradicts the privacy card.",
}


# ---------------------------------------------------------------------------- reading
def read_sweep_folder(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """``(results, cells, plan)`` of a sweep folder. ``cells`` falls back to the finished cells
    of the results table and ``plan`` to ``{}`` when their files are absent."""
    folder = Path(folder)
    path = folder / RESULTS_FILE
    if not path.is_file():
        raise DpsynthError(NOT_A_SWEEP.format(folder=folder, file=RESULTS_FILE))
    results = frontier.tidy_results(pd.read_parquet(path))
    cells_path = folder / CELLS_FILE
    if cells_path.is_file():
        skip = 1 if cells_path.read_text(encoding="utf-8").startswith("#") else 0  # a notice line
        cells = pd.read_csv(cells_path, skiprows=skip)
        cells["error"] = cells.get("error", pd.Series("", index=cells.index)).fillna("").astype(str)
    else:
        cells = results[frontier.CELL_COLUMNS].drop_duplicates("cell").assign(status="done", error="")
    plan: dict[str, Any] = {}
    plan_path = folder / PLAN_FILE
    if plan_path.is_file():
        try:
            plan = json.loads(plan_path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise DpsynthError(BAD_PLAN.format(path=plan_path, problem=error)) from None
    return results, cells, plan


def cell_metadata(folder: str | Path, cell_ids: list[str], plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each cell's audit metadata (min_group_size, n_holdout, ...), read from its audit.json;
    cells without one get the plan's audit settings (``settings.audit`` of sweep.json) as their
    ``config`` when the plan has them."""
    config = (plan.get("settings") or {}).get("audit")
    config = config if isinstance(config, dict) and config else None
    out: dict[str, dict[str, Any]] = {}
    for cell in cell_ids:
        path = Path(folder) / "cells" / cell / "audit" / "audit.json"
        try:
            out[cell] = dict(json.loads(path.read_text(encoding="utf-8")).get("metadata") or {})
        except (OSError, ValueError, AttributeError):
            if config is not None:
                out[cell] = {"config": config}
    return out


# ---------------------------------------------------------------------------- writing
def write_sweep_report(folder: str | Path, *, thresholds: Thresholds | str | Path | None = None,
                       margin: float = 0.05) -> dict[str, Path]:
    """Write ``folder/report/`` whole: report.md, report.json, report.html and plots/*.png.

    ``thresholds``: the verdict's levels (a `Thresholds`, a YAML file overriding the shipped
    ones, or None for the shipped ones). ``margin``: how close (AUROC) a group's TSTR must come
    to its TRTR for the price of privacy. Returns ``{"markdown", "json", "html", "plot:<name>"}``
    → path. An existing report folder is replaced whole.
    """
    folder = Path(folder)
    th = thresholds if isinstance(thresholds, Thresholds) else load_thresholds(thresholds)
    results, cells, plan = read_sweep_folder(folder)
    series = frontier.frontier_series(results)
    price = frontier.price_of_privacy(results, margin=margin)
    verdict = frontier.sweep_verdict(results, th, metadata=cell_metadata(folder, list(pd.unique(results.cell)), plan))
    target = folder / REPORT_FOLDER
    with staged_folder(target, kind="audit", force=True) as stage:
        plots = frontier_plots.write_frontier_plots(series, stage / "plots", thresholds=th)
        links = {name: p.relative_to(stage).as_posix() for name, p in plots.items()}
        text = render(results=results, cells=cells, plan=plan, series=series, price=price, verdict=verdict,
                      margin=margin, plots=links)
        (stage / "report.md").write_text(text, encoding="utf-8")
        data = report_data(cells=cells, plan=plan, series=series, price=price, verdict=verdict, margin=margin,
                           plots=links)
        (stage / "report.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        page = markdown_page(text, base_dir=stage, title=f"{TITLE} (NOT FOR RELEASE)")
        (stage / "report.html").write_text(page, encoding="utf-8")
    paths = {"markdown": target / "report.md", "json": target / "report.json", "html": target / "report.html"}
    paths.update({f"plot:{name}": target / link for name, link in links.items()})
    return paths


def report_data(*, cells: pd.DataFrame, plan: dict[str, Any], series: dict[str, pd.DataFrame],
                price: pd.DataFrame, verdict: SweepVerdict, margin: float, plots: dict[str, str]) -> dict[str, Any]:
    """report.json: the notice, the plan, the verdicts, the price of privacy and every series."""
    return {"notice": NOTICE, "composition": COMPOSITION, "sweep": plan, "margin": margin,
            "verdict": verdict.to_dict(), "price_of_privacy": records(price),
            "series": {name: records(frame) for name, frame in series.items()},
            "cells": records(cells), "failed_cells": records(failed(cells)), "plots": plots}


def failed(cells: pd.DataFrame) -> pd.DataFrame:
    return cells[cells.get("status", pd.Series("done", index=cells.index)) == "failed"]


# ---------------------------------------------------------------------------- Markdown
def render(*, results: pd.DataFrame, cells: pd.DataFrame, plan: dict[str, Any], series: dict[str, pd.DataFrame],
           price: pd.DataFrame, verdict: SweepVerdict, margin: float, plots: dict[str, str]) -> str:
    """The report's Markdown: notice, verdict, price of privacy, plots, failed cells, detail."""
    lines = [f"> **{NOTICE} {COMPOSITION}**", "", f"# {TITLE}", "", about(results, cells, plan), ""]
    lines += verdict_section(verdict)
    lines += price_section(price, margin)
    lines += plots_section(plots)
    lines += failed_section(cells)
    lines += detail_section(series, verdict, cells)
    return "\n".join(lines).rstrip() + "\n"


def eps_list(values: Any) -> str:
    return ", ".join(epsilon_text(float(e)) for e in sorted(set(float(v) for v in values)))


def about(results: pd.DataFrame, cells: pd.DataFrame, plan: dict[str, Any]) -> str:
    status = cells.get("status", pd.Series("done", index=cells.index)).value_counts()
    counts = ", ".join(f"{int(status.get(s, 0))} {s}" for s in ("done", "failed", "pending") if status.get(s, 0))
    generators = ", ".join(pd.unique(results.generator))
    seeds = ", ".join(str(s) for s in sorted(set(results.seed.dropna().astype(int))))
    data = ((plan.get("inputs") or {}).get("data") or {}).get("name")
    return (f"What ε can these data afford, and which patients pay for it? {len(cells)} cells ({counts}): "
            f"generators {generators}; ε {eps_list(results.epsilon)}; seeds {seeds}"
            + (f"; data `{data}`" if data else "") + ". ε = ∞ marks a NOT PRIVATE reference.")


def epsilon_cell(value: float, largest: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{NEVER} (up to ε = {epsilon_text(largest)})"
    return f"ε = {epsilon_text(value)}"


def verdict_section(verdict: SweepVerdict) -> list[str]:
    """Per generator: the smallest ε with no fail / all pass, the status per ε, the checklist."""
    out = ["## Verdict", ""]
    rows = []
    for r in verdict.headline.itertuples(index=False):
        no_fail = epsilon_cell(r.no_fail_epsilon, r.largest_epsilon)
        if not math.isnan(r.no_fail_epsilon) and not r.no_fail_holds_above:
            no_fail += " (a larger ε fails again)"
        rows.append([r.generator, no_fail, epsilon_cell(r.all_pass_epsilon, r.largest_epsilon), r.decided_by])
    out += table_lines(["Generator", "Smallest ε with no FAIL", "Smallest ε where all pass", "Decided by"], rows)
    epsilons = sorted(set(verdict.checks.epsilon))
    status_rows = []
    for generator in pd.unique(verdict.checks.generator):
        own = set(verdict.checks[verdict.checks.generator == generator].epsilon)
        status_rows.append([generator] + [status_text(verdict.status(generator, e)) if e in own else DASH
                                          for e in epsilons])
    out += ["Overall status per ε (the worst check, worst over seeds):", ""]
    out += table_lines(["Generator"] + [f"ε = {epsilon_text(e)}" for e in epsilons], status_rows)
    for r in verdict.headline.itertuples(index=False):
        at = r.no_fail_epsilon if not math.isnan(r.no_fail_epsilon) else r.largest_epsilon
        checks = verdict.checklist(r.generator, at)
        seeds = int(checks.n_cells.max()) if len(checks) else 0
        out += [f"**{r.generator} at ε = {epsilon_text(at)}** (worst over {seeds} seed(s)):", ""]
        out += table_lines(["Check", "Status", "Decided by"],
                           [[c.check, status_text(c.status), c.decided_by] for c in checks.itertuples(index=False)])
    out += ["Each cell is judged by the release verdict (`dpsynth.validators.verdict`) against "
            f"{thresholds_text(verdict.thresholds)}; a check's status here is its worst over the seeds. "
            "The verdict is computed on real data: it is not differentially private.", ""]
    return out


def thresholds_text(thresholds: Thresholds) -> str:
    shipped = load_thresholds().to_dict()
    changed = {k: v for k, v in thresholds.to_dict().items() if shipped.get(k) != v}
    return "the shipped thresholds" + (
        " with " + ", ".join(f"{k}={v}" for k, v in changed.items()) if changed else "")


def price_section(price: pd.DataFrame, margin: float) -> list[str]:
    out = ["## Price of privacy per group", ""]
    if price.empty:
        return out + ["No per-group AUROC rows (the fairness validator did not run in any cell).", ""]
    out += [f"The smallest ε at which a group's TSTR AUROC lies within {margin:g} of its TRTR AUROC (mean over "
            "seeds; the worst downstream model decides). **Bold**: the group that degrades first, i.e. needs the "
            "largest ε, per generator and attribute. \"small\": too few holdout rows to judge; read it as "
            "unknown, not as fine.", ""]
    first = frontier.degrades_first(price)
    summary = [[g, a, ", ".join(f"{r.group}{' (small)' if r.small_group else ''}" for r in part.itertuples()),
                epsilon_cell(part.epsilon_needed.iloc[0], part.largest_epsilon.iloc[0])]
               for (g, a), part in first.groupby(["generator", "attribute"], sort=False)]
    out += table_lines(["Generator", "Attribute", "Degrades first", "It needs"], summary)
    rows = []
    for r in price.itertuples(index=False):
        group = f"**{r.group}**" if r.degrades_first else r.group
        needed = epsilon_cell(r.epsilon_needed, r.largest_epsilon)
        if r.reached != NEVER and not r.holds_above:
            needed += " (not at every larger ε)"
        at = f"{number(r.tstr)} / {number(r.trtr)}" if r.reached != NEVER else DASH
        rows.append([r.generator, r.attribute, group, needed, at, number(r.gap_at_largest, signed=True),
                     "small" if r.small_group else ""])
    out += table_lines(["Generator", "Attribute", "Group", "ε needed", "TSTR / TRTR there",
                        "TRTR − TSTR at the largest ε", "Flags"], rows)
    return out


def plots_section(plots: dict[str, str]) -> list[str]:
    if not plots:
        return []
    out = ["## Frontier plots", ""]
    for name, link in plots.items():
        kind, _, attribute = name.partition("_") if name.startswith(("subgroups_", "representation_")) else (name, "", "")
        sentence = PLOT_SENTENCES[kind].format(attribute=attribute)
        out += [f"![{kind} against ε{' by ' + attribute if attribute else ''}]({link})", "", sentence, ""]
    return out


def failed_section(cells: pd.DataFrame) -> list[str]:
    out = ["## Failed cells", ""]
    bad = failed(cells)
    pending = int((cells.get("status", pd.Series(dtype=str)) == "pending").sum())
    if bad.empty:
        out += ["None: every cell that ran finished." + (f" {pending} cell(s) still pending." if pending else ""), ""]
        return out
    rows = [[str(r.cell), str(r.generator), epsilon_text(float(r.epsilon)), str(r.seed), str(r.error) or DASH]
            for r in bad.itertuples(index=False)]
    out += [f"{len(bad)} cell(s) failed and are missing from every number above; rerun `dpsynth sweep` on the same "
            "folder to retry them." + (f" {pending} cell(s) still pending." if pending else ""), ""]
    return out + table_lines(["Cell", "Generator", "ε", "Seed", "Error"], rows)


def detail_section(series: dict[str, pd.DataFrame], verdict: SweepVerdict, cells: pd.DataFrame) -> list[str]:
    """Per generator, one row per ε: verdict, utility per model, the worst fairness change,
    fidelity, membership, ε spent; mean over seeds (± standard deviation)."""
    out = ["## Detail per ε", "", "Mean over seeds ± their standard deviation; intervals are in report.json.", ""]
    utility = series["utility"]
    models = list(pd.unique(utility.model))
    for generator in pd.unique(verdict.checks.generator):
        rows = []
        for epsilon in sorted(set(verdict.checks[verdict.checks.generator == generator].epsilon)):
            pick = {name: frame[(frame.generator == generator) & (frame.epsilon == epsilon)]
                    for name, frame in series.items()}
            row = [epsilon_text(epsilon), str(int(verdict.checklist(generator, epsilon).n_cells.max())),
                   status_text(verdict.status(generator, epsilon))]
            for model in models:
                u = pick["utility"][pick["utility"].model == model]
                row.append(f"{spread(u[u.source == 'TSTR'])} / {spread(u[u.source == 'TRTR'])}")
            eod = pick["equalized_odds"]
            eod = eod[(eod.metric == "equalized_odds_difference") & (eod.source == "change")]
            worst = eod.loc[eod.value.idxmax()] if eod.value.notna().any() else None
            row.append(DASH if worst is None else f"{number(worst.value, signed=True)} ({worst.model}, {worst.attribute})")
            fid = pick["fidelity"]
            marginal = fid[fid.metric.isin(list(MARGINAL_METRICS))]
            row.append(spread(marginal.head(1)))
            row.append(spread(fid[fid.metric == "detection_auc"]))
            mem = pick["membership"]
            mem = mem[(mem.metric == "auc") & (mem.attribute == "overall") & (mem.source == "synthetic")]
            row.append(spread(mem.loc[[mem.value.idxmax()]]) if mem.value.notna().any() else DASH)
            row.append(spent(cells, generator, epsilon))
            rows.append(row)
        header = ["ε", "cells", "verdict"] + [f"{m} AUROC TSTR / TRTR" for m in models] + [
            "worst equalized-odds change", "marginal distance", "detection AUC", "membership AUC (worst attack)",
            "ε spent (card)"]
        out += [f"### {generator}", ""] + table_lines(header, rows)
    return out


def spread(rows: pd.DataFrame) -> str:
    """"0.781 ± 0.012" (the mean over seeds ± their sd), "0.781" for one seed, "—" for none."""
    if rows.empty or not math.isfinite(float(rows.value.iloc[0])):
        return DASH
    r = rows.iloc[0]
    return number(r.value) + (f" ± {number(r.sd)}" if r.n_cells > 1 else "")


def spent(cells: pd.DataFrame, generator: str, epsilon: float) -> str:
    if "epsilon_spent" not in cells:
        return DASH
    sel = cells[(cells.generator == generator) & (pd.to_numeric(cells.epsilon, errors="coerce") == epsilon)
                & (cells.get("status", "done") == "done")]
    values = pd.to_numeric(sel.epsilon_spent, errors="coerce")
    values = values[values.notna()]
    return DASH if values.empty else epsilon_text(float(values.max()))

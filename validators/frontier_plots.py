"""PNG plots of a sweep's frontier: audit numbers against ε (log scale), one line per generator.

Each function takes a family of `frontier.frontier_series` (the mean over seeds, the seeds'
range and the envelope of the cells' bootstrap intervals) and a path, draws one figure and returns
the path, or None when the family is empty. Lines are the mean over seeds; error bars span the
cells' bootstrap intervals; the shaded band is the range over seeds. A NOT PRIVATE reference
(ε = ∞) is a dotted horizontal line, as is the TRTR (real-data) level. A point of a group flagged
small (too few holdout rows to judge) is drawn as a large hollow red ring.

Figures are written by `plot_files.save_figure`: headless, with the "real data — not for release"
footer, since every number here was computed on real patients.

fairlearn's plotting (`plot_model_comparison`, `plot_roc_curve_by_group`,
`plot_threshold_optimizer`) needs the predictions themselves; a sweep keeps only the tidy
results, so these plots are drawn with matplotlib directly.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from dpsynth.validators.frontier import epsilon_text
from dpsynth.validators.plot_files import ALERT_COLOUR, save_figure
from dpsynth.validators.report_plots import slug
from dpsynth.validators.verdict import SMALL_GROUP_FLAGS, Thresholds, has_flag

PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666",
           "#1f78b4", "#b2df8a", "#fb9a99", "#cab2d6")
TRTR_COLOUR = "#555555"
FAIRNESS_METRICS = {"auroc": "AUROC", "tpr": "TPR (sensitivity)", "fpr": "FPR (false-positive rate)"}
EPSILON_LABEL = "ε (log scale; larger = less private)"
SMALL_LABEL = "red ring: small group (too few holdout rows to judge)"
PANEL = (3.8, 2.9)  # inches per panel
LEGEND_INSIDE = 6  # legend entries drawn inside a panel; more go beside it


def colours_for(names: list[str]) -> dict[str, str]:
    """A stable colour per name (generator or group), in order."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def epsilon_axis(ax: Axes, epsilons: list[float]) -> None:
    """Log-scaled ε axis with a tick at every finite ε of the sweep."""
    finite = sorted({e for e in epsilons if math.isfinite(e) and e > 0})
    ax.set_xscale("log")
    if finite:
        ax.set_xticks(finite)
        ax.set_xticklabels([epsilon_text(e) for e in finite], fontsize=7)
        ax.minorticks_off()
        ax.set_xlim(finite[0] / 1.4, finite[-1] * 1.4)
    ax.set_xlabel(EPSILON_LABEL, fontsize=7)
    ax.grid(True, alpha=0.3)


def draw_line(ax: Axes, rows: pd.DataFrame, *, label: str, colour: str, linestyle: str = "-") -> None:
    """One series: finite ε as a line with CI error bars and a seed-range band; ε = ∞ rows (a
    NOT PRIVATE reference) as a dotted horizontal line; small-group points ringed in red."""
    rows = rows.sort_values("epsilon")
    finite = rows[np.isfinite(rows.epsilon.to_numpy(float))]
    for r in rows[~np.isfinite(rows.epsilon.to_numpy(float))].itertuples(index=False):
        if math.isfinite(r.value):
            ax.axhline(r.value, color=colour, linestyle=":", linewidth=1.2, label=f"{label} (ε = ∞, NOT PRIVATE)")
    if finite.empty:
        return
    x = finite.epsilon.to_numpy(float)
    y = finite.value.to_numpy(float)
    low, high = finite.ci_low.to_numpy(float), finite.ci_high.to_numpy(float)
    below = np.where(np.isfinite(low), y - low, 0.0)
    above = np.where(np.isfinite(high), high - y, 0.0)
    yerr = np.clip(np.nan_to_num(np.vstack([below, above])), 0.0, None)
    ax.errorbar(x, y, yerr=yerr if yerr.any() else None, color=colour, linestyle=linestyle, marker="o",
                markersize=3.5, capsize=2, linewidth=1.3, label=label)
    if finite.n_cells.max() > 1:
        ax.fill_between(x, finite.seed_min.to_numpy(float), finite.seed_max.to_numpy(float), color=colour,
                        alpha=0.15, linewidth=0)
    small = finite.flag.map(lambda f: has_flag(f, SMALL_GROUP_FLAGS)).to_numpy(bool)
    if small.any():
        ax.scatter(x[small], y[small], s=90, facecolors="none", edgecolors=ALERT_COLOUR, linewidths=1.4, zorder=5)


def finish(ax: Axes, *, title: str, ylabel: str, small: bool = False, legend: bool = True) -> None:
    """Title, y label and legend (``legend=False``: the row's last panel carries it)."""
    ax.set_title(title, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=7)
    ax.tick_params(labelsize=7)
    if not legend:
        return
    handles, labels = ax.get_legend_handles_labels()
    if small:
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="none", markeredgecolor=ALERT_COLOUR,
                              markersize=8))
        labels.append(SMALL_LABEL)
    unique = dict(zip(labels, handles))
    if len(unique) > LEGEND_INSIDE:  # many groups (intersections): beside the panel, not over the lines
        ax.legend(unique.values(), unique.keys(), fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    elif unique:
        ax.legend(unique.values(), unique.keys(), fontsize=6, loc="best")


def any_small(rows: pd.DataFrame) -> bool:
    return bool(rows.flag.map(lambda f: has_flag(f, SMALL_GROUP_FLAGS)).any())


def grid(n_rows: int, n_cols: int, *, title: str) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(PANEL[0] * n_cols, PANEL[1] * n_rows + 0.5))
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    fig.suptitle(title, fontsize=9)
    return fig, axes


def private_generators(rows: pd.DataFrame) -> list[str]:
    """Generators with a finite ε (the DP ones); the references alone when there are none."""
    finite = rows[np.isfinite(rows.epsilon.to_numpy(float))]
    return list(pd.unique((finite if len(finite) else rows).generator))


# ---------------------------------------------------------------------------- plots
def utility(series: pd.DataFrame, path: Path, *, colours: dict[str, str] | None = None) -> Path | None:
    """Overall AUROC against ε, one panel per downstream model: TSTR per generator, TRTR (the
    real-data model, the same in every cell) as a dotted grey level with its interval."""
    rows = series[series.source.isin(["TSTR", "TRTR"])]
    if rows.empty:
        return None
    colours = colours or colours_for(list(pd.unique(series.generator)))
    models = list(pd.unique(rows.model))
    fig, axes = grid(1, len(models), title="Utility against ε: TSTR (trained on synthetic) vs TRTR (trained on real), "
                                           "tested on the real holdout")
    for ax, model in zip(axes[0], models):
        sel = rows[rows.model == model]
        trtr = sel[sel.source == "TRTR"]
        if len(trtr):
            level = float(trtr.value.mean())
            ax.axhline(level, color=TRTR_COLOUR, linestyle="--", linewidth=1.2, label=f"TRTR (real) {level:.3f}")
            if np.isfinite(trtr.ci_low).any():
                ax.axhspan(float(trtr.ci_low.min()), float(trtr.ci_high.max()), color=TRTR_COLOUR, alpha=0.1)
        for generator, part in sel[sel.source == "TSTR"].groupby("generator", sort=False):
            draw_line(ax, part, label=f"{generator} TSTR", colour=colours[generator])
        epsilon_axis(ax, list(sel.epsilon))
        finish(ax, title=f"{model}: AUROC", ylabel="AUROC on the real holdout")
    return save_figure(fig, path)


def subgroups(series: pd.DataFrame, attribute: str, path: Path) -> Path | None:
    """Per-group AUROC, TPR and FPR (TSTR) against ε for one attribute: rows are the metrics,
    columns generator × model, one line per group, each group's TRTR level dashed in its
    colour. The group whose line leaves its TRTR level first is the one that pays first."""
    rows = series[(series.attribute == attribute) & series.metric.isin(list(FAIRNESS_METRICS))]
    if rows.empty:
        return None
    groups = list(pd.unique(rows.group))
    colours = colours_for(groups)
    columns = [(g, m) for g in private_generators(rows) for m in pd.unique(rows.model)]
    metrics = [m for m in FAIRNESS_METRICS if m in set(rows.metric)]
    fig, axes = grid(len(metrics), len(columns),
                     title=f"Per-group performance against ε by {attribute} (lines: TSTR; dashed: each group's TRTR)")
    for i, metric in enumerate(metrics):
        for j, (generator, model) in enumerate(columns):
            ax = axes[i][j]
            sel = rows[(rows.generator == generator) & (rows.model == model) & (rows.metric == metric)]
            for group in groups:
                trtr = sel[(sel.group == group) & (sel.source == "TRTR")]
                if len(trtr) and np.isfinite(trtr.value).any():
                    ax.axhline(float(trtr.value.mean()), color=colours[group], linestyle="--", linewidth=0.8,
                               alpha=0.7)
                draw_line(ax, sel[(sel.group == group) & (sel.source == "TSTR")], label=group, colour=colours[group])
            epsilon_axis(ax, list(rows.epsilon))
            ax.set_ylim(-0.02, 1.02)
            finish(ax, title=f"{generator}, {model}: {FAIRNESS_METRICS[metric]}", ylabel=FAIRNESS_METRICS[metric],
                   small=any_small(rows), legend=j == len(columns) - 1)
    return save_figure(fig, path)


def equalized_odds(series: pd.DataFrame, path: Path, *, thresholds: Thresholds | None = None,
                   colours: dict[str, str] | None = None) -> Path | None:
    """Change of the equalized-odds difference (TSTR − TRTR; > 0: synthesis widens the gap)
    against ε, with its bootstrap interval; rows are models, columns attributes; the verdict's
    warn / fail levels dashed when given."""
    rows = series[(series.metric == "equalized_odds_difference") & (series.source == "change")]
    if rows.empty:
        return None
    colours = colours or colours_for(list(pd.unique(series.generator)))
    models, attributes = list(pd.unique(rows.model)), list(pd.unique(rows.attribute))
    fig, axes = grid(len(models), len(attributes),
                     title="Equalized-odds difference change against ε (TSTR − TRTR; > 0 = synthesis widens the gap)")
    for i, model in enumerate(models):
        for j, attribute in enumerate(attributes):
            ax = axes[i][j]
            sel = rows[(rows.model == model) & (rows.attribute == attribute)]
            ax.axhline(0.0, color=TRTR_COLOUR, linewidth=0.8)
            if thresholds is not None:
                for level, name in ((thresholds.fairness_eod_change_warn, "warn"),
                                    (thresholds.fairness_eod_change_fail, "fail")):
                    if level is not None:
                        ax.axhline(level, color=ALERT_COLOUR, linestyle="--" if name == "fail" else ":",
                                   linewidth=0.9, label=f"verdict {name} level {level:g}")
            for generator, part in sel.groupby("generator", sort=False):
                draw_line(ax, part, label=generator, colour=colours[generator])
            epsilon_axis(ax, list(rows.epsilon))
            finish(ax, title=f"{model}, {attribute}", ylabel="change in equalized-odds difference")
    return save_figure(fig, path)


def representation(series: pd.DataFrame, attribute: str, path: Path, *,
                   thresholds: Thresholds | None = None) -> Path | None:
    """Each group's synthetic / real share against ε for one attribute, one panel per
    generator (1 = represented as in the real data; the verdict's warn level dashed)."""
    rows = series[(series.attribute == attribute) & (series.metric == "share_ratio")]
    if rows.empty:
        return None
    groups = list(pd.unique(rows.group))
    colours = colours_for(groups)
    generators = private_generators(rows)
    fig, axes = grid(1, len(generators), title=f"Representation against ε by {attribute}: synthetic share / real share")
    for j, (ax, generator) in enumerate(zip(axes[0], generators)):
        sel = rows[rows.generator == generator]
        ax.axhline(1.0, color=TRTR_COLOUR, linewidth=0.8)
        warn = thresholds.representation_share_ratio_warn if thresholds is not None else None
        if warn is not None:
            ax.axhline(warn, color=ALERT_COLOUR, linestyle=":", linewidth=0.9, label=f"verdict warn level {warn:g}")
        for group in groups:
            draw_line(ax, sel[sel.group == group], label=group, colour=colours[group])
        epsilon_axis(ax, list(rows.epsilon))
        finish(ax, title=f"{generator}", ylabel="synthetic / real share", small=any_small(rows),
               legend=j == len(generators) - 1)
    return save_figure(fig, path)


def fidelity(series: pd.DataFrame, path: Path, *, colours: dict[str, str] | None = None) -> Path | None:
    """Overall fidelity against ε: one panel per metric (marginal distances, 0 = identical;
    detection AUC, 0.5 = indistinguishable), one line per generator."""
    if series.empty:
        return None
    colours = colours or colours_for(list(pd.unique(series.generator)))
    metrics = list(pd.unique(series.metric))
    fig, axes = grid(1, len(metrics), title="Fidelity against ε (synthetic vs real train)")
    for ax, metric in zip(axes[0], metrics):
        sel = series[series.metric == metric]
        if metric == "detection_auc":
            ax.axhline(0.5, color=TRTR_COLOUR, linewidth=0.8, label="0.5 = indistinguishable")
        for generator, part in sel.groupby("generator", sort=False):
            draw_line(ax, part, label=generator, colour=colours[generator])
        epsilon_axis(ax, list(series.epsilon))
        finish(ax, title=metric.replace("_", " "), ylabel=metric.replace("_", " "))
    return save_figure(fig, path)


def membership(series: pd.DataFrame, path: Path, *, colours: dict[str, str] | None = None) -> Path | None:
    """Membership-inference AUC (overall) against ε, one panel per attack, one line per
    generator; the privacy card's bound on any attack's AUC dashed in the generator's colour."""
    rows = series[series.attribute == "overall"]
    attacks = rows[(rows.metric == "auc") & (rows.source == "synthetic")]
    if attacks.empty:
        return None
    colours = colours or colours_for(list(pd.unique(series.generator)))
    bounds = rows[rows.metric == "dp_bound_auc"]
    models = list(pd.unique(attacks.model))
    fig, axes = grid(1, len(models), title="Membership inference against ε (0.5 = chance)")
    for ax, model in zip(axes[0], models):
        ax.axhline(0.5, color=TRTR_COLOUR, linewidth=0.8, label="0.5 = chance")
        for generator, part in attacks[attacks.model == model].groupby("generator", sort=False):
            draw_line(ax, part, label=f"{generator} attack AUC", colour=colours[generator])
            bound = bounds[(bounds.generator == generator) & np.isfinite(bounds.epsilon.to_numpy(float))]
            if len(bound):
                bound = bound.sort_values("epsilon")
                ax.plot(bound.epsilon, bound.value, color=colours[generator], linestyle="--", linewidth=0.9,
                        label=f"{generator}: bound from its ε")
        epsilon_axis(ax, list(rows.epsilon))
        ax.set_ylim(0.4, 1.02)
        finish(ax, title=f"attack: {model}", ylabel="membership-inference AUC")
    return save_figure(fig, path)


def write_frontier_plots(series: dict[str, pd.DataFrame], plot_dir: str | Path, *,
                         thresholds: Thresholds | None = None) -> dict[str, Path]:
    """Every frontier plot the series support, as ``{name: path}``: ``utility``,
    ``subgroups_<attr>``, ``equalized_odds``, ``representation_<attr>``, ``fidelity``,
    ``membership``."""
    plot_dir = Path(plot_dir)
    generators = list(dict.fromkeys(g for frame in series.values() for g in frame.generator))
    colours = colours_for(generators)
    made: dict[str, Path | None] = {}
    made["utility"] = utility(series["utility"], plot_dir / "utility.png", colours=colours)
    for attribute in pd.unique(series["subgroups"].attribute):
        made[f"subgroups_{slug(attribute)}"] = subgroups(series["subgroups"], attribute,
                                                         plot_dir / f"subgroups_{slug(attribute)}.png")
    made["equalized_odds"] = equalized_odds(series["equalized_odds"], plot_dir / "equalized_odds.png",
                                            thresholds=thresholds, colours=colours)
    for attribute in pd.unique(series["representation"].attribute):
        made[f"representation_{slug(attribute)}"] = representation(
            series["representation"], attribute, plot_dir / f"representation_{slug(attribute)}.png",
            thresholds=thresholds)
    made["fidelity"] = fidelity(series["fidelity"], plot_dir / "fidelity.png", colours=colours)
    made["membership"] = membership(series["membership"], plot_dir / "membership.png", colours=colours)
    return {name: p for name, p in made.items() if p is not None}

"""PNG plots of an audit table (matplotlib, Agg canvas; the global pyplot state is untouched).

Each function takes the tidy result table (RESULT_COLUMNS) and a path, draws one figure and
returns the path, or returns ``None`` when the table has nothing to draw (e.g. the fairness
validator did not run). Every axis is labelled, bars carry their bootstrap interval where the
table has one, and a group flagged ``small_group`` is hatched (too few rows to judge). Figures
are `matplotlib.figure.Figure` objects written by `plot_files.save_figure` (headless, never a
window, the not-for-release footer on each).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from dpsynth.validators.plot_files import save_figure

SOURCES = ("TSTR", "TRTR")
SOURCE_COLOURS = {"TSTR": "#d95f02", "TRTR": "#1b9e77", "real": "#1b9e77", "synthetic": "#d95f02"}
FAIRNESS_METRICS = ("auroc", "tpr", "fpr")
METRIC_LABELS = {"auroc": "AUROC", "tpr": "TPR (sensitivity)", "fpr": "FPR (false-positive rate)"}
SMALL_GROUP = "small_group"
SMALL_GROUP_HATCH = "///"
SMALL_GROUP_LABEL = "small group: too few rows to judge"


def slug(text: str) -> str:
    """A file-name-safe form of an attribute name (``sex×race`` → ``sex_x_race``)."""
    text = text.replace("×", "_x_")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "attribute"


def _errors(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Asymmetric error-bar lengths from a CI; 0 where the CI is missing."""
    below = np.where(np.isfinite(low), values - low, 0.0)
    above = np.where(np.isfinite(high), high - values, 0.0)
    return np.clip(np.nan_to_num(np.vstack([below, above])), 0.0, None)


def small_groups(series: dict[str, pd.DataFrame]) -> set[str]:
    """Labels (the frames' index) of rows flagged ``small_group`` in any of ``series``."""
    return {str(label) for frame in series.values() if "flag" in frame
            for label, flag in frame["flag"].items() if SMALL_GROUP in str(flag).split(";")}


def _paired_bars(ax: Axes, labels: list[str], series: dict[str, pd.DataFrame], *, title: str,
                 xlabel: str, ylabel: str) -> None:
    """Side-by-side bars (one per series) per label, with CI error bars where present and the
    bars of a small group hatched."""
    x = np.arange(len(labels))
    width = 0.8 / max(len(series), 1)
    small = small_groups(series)
    for k, (name, frame) in enumerate(series.items()):
        frame = frame[~frame.index.duplicated()].reindex(labels)
        values = frame["value"].to_numpy(float)
        yerr = _errors(values, frame["ci_low"].to_numpy(float), frame["ci_high"].to_numpy(float))
        bars = ax.bar(x + (k - (len(series) - 1) / 2) * width, np.nan_to_num(values), width,
                      yerr=yerr if yerr.any() else None, capsize=2, label=name, color=SOURCE_COLOURS.get(name))
        for bar, label in zip(bars, labels):
            if label in small:
                bar.set_hatch(SMALL_GROUP_HATCH)
                bar.set_edgecolor("black")
                bar.set_linewidth(0.4)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=30 if len(labels) > 3 else 0, ha="right" if len(labels) > 3 else "center",
                       fontsize=8)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    handles, names = ax.get_legend_handles_labels()
    if small:
        handles.append(Patch(facecolor="white", edgecolor="black", hatch=SMALL_GROUP_HATCH))
        names.append(SMALL_GROUP_LABEL)
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, top + 0.18 * (top - bottom))  # room for the legend above the bars
    ax.legend(handles, names, fontsize=6.5, loc="upper center", ncol=len(handles), frameon=False,
              handlelength=1.5, columnspacing=1.0)


def fairness_groups(table: pd.DataFrame, attribute: str, path: Path) -> Path | None:
    """Per-group AUROC, TPR and FPR, TSTR vs TRTR, one row of panels per downstream model."""
    rows = table[(table.validator == "fairness") & (table.attribute == attribute) & (table.group != "")
                 & table.metric.isin(FAIRNESS_METRICS) & table.source.isin(SOURCES)]
    if rows.empty:
        return None
    models = list(pd.unique(rows.model))
    groups = list(pd.unique(rows.group))
    fig = Figure(figsize=(3.6 * len(FAIRNESS_METRICS), 2.8 * len(models) + 0.4))
    axes = fig.subplots(len(models), len(FAIRNESS_METRICS), squeeze=False)
    for i, model in enumerate(models):
        for j, metric in enumerate(FAIRNESS_METRICS):
            sel = rows[(rows.model == model) & (rows.metric == metric)]
            series = {s: sel[sel.source == s].set_index("group") for s in SOURCES}
            _paired_bars(axes[i][j], groups, series, title=f"{model}: {metric} by {attribute}",
                         xlabel=attribute, ylabel=METRIC_LABELS[metric])
            axes[i][j].set_ylim(0, 1.25)  # rates and AUROC lie in [0, 1]; the rest holds the legend
            axes[i][j].set_yticks(np.linspace(0, 1, 6))
    fig.suptitle(f"Per-group performance on the real holdout ({attribute}); error bars = bootstrap CI",
                 fontsize=10)
    return save_figure(fig, path)


def equalized_odds(table: pd.DataFrame, path: Path) -> Path | None:
    """Equalized-odds difference per attribute, TSTR vs TRTR, one panel per model."""
    rows = table[(table.validator == "fairness") & (table.metric == "equalized_odds_difference")
                 & (table.group == "") & table.source.isin(SOURCES)]
    if rows.empty:
        return None
    models = list(pd.unique(rows.model))
    attributes = list(pd.unique(rows.attribute))
    fig = Figure(figsize=(max(4.0, 1.2 * len(attributes) + 2), 3.0 * len(models)))
    axes = fig.subplots(len(models), 1, squeeze=False)
    for i, model in enumerate(models):
        sel = rows[rows.model == model]
        series = {s: sel[sel.source == s].set_index("attribute") for s in SOURCES}
        _paired_bars(axes[i][0], attributes, series, title=f"{model}: equalized-odds difference (lower is fairer)",
                     xlabel="sensitive attribute", ylabel="equalized-odds difference")
    return save_figure(fig, path)


def representation(table: pd.DataFrame, attribute: str, path: Path) -> Path | None:
    """Group shares in the real train data vs the synthetic data."""
    rows = table[(table.validator == "representation") & (table.attribute == attribute)]
    if rows.empty:
        return None
    groups = list(pd.unique(rows.group))
    series = {
        "real": rows[rows.metric == "share_real"].set_index("group"),
        "synthetic": rows[rows.metric == "share_synthetic"].set_index("group"),
    }
    fig = Figure(figsize=(max(4.0, 0.7 * len(groups) + 2.5), 3.2))
    ax = fig.subplots()
    _paired_bars(ax, groups, series, title=f"Share of rows by {attribute}: real train vs synthetic",
                 xlabel=attribute, ylabel="share of rows")
    return save_figure(fig, path)


def fidelity_columns(table: pd.DataFrame, path: Path) -> Path | None:
    """Per-column marginal distance (TVD or range-normalised Wasserstein-1), overall."""
    rows = table[(table.validator == "fidelity") & (table.attribute == "overall") & (table.feature != "")
                 & table.metric.isin(["tvd", "wasserstein"])]
    if rows.empty:
        return None
    fig = Figure(figsize=(6.0, 0.3 * len(rows) + 1.4))
    ax = fig.subplots()
    colours = ["#7570b3" if m == "tvd" else "#e7298a" for m in rows.metric]
    y = np.arange(len(rows))
    values = rows.value.to_numpy(float)
    xerr = _errors(values, rows.ci_low.to_numpy(float), rows.ci_high.to_numpy(float))
    ax.barh(y, np.nan_to_num(values), color=colours, xerr=xerr if xerr.any() else None, capsize=2)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{f} ({'TVD' if m == 'tvd' else 'W1/range'})" for f, m in zip(rows.feature, rows.metric)],
                       fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("distance, synthetic vs real train (0 = identical)")
    ax.set_ylabel("column (distance)", fontsize=8)
    ax.set_title("Marginal fidelity per column", fontsize=9)
    return save_figure(fig, path)

"""PNG plots of a series audit: real vs synthetic example windows and mean power spectra.

`plot_data` keeps only what the plots need (a few seeded example windows per group and the
mean normalised spectra per group, not the signals); `write_plots` draws them with
matplotlib's Agg canvas (headless, pyplot state untouched, like `report_plots`). The
series audit hands ``partial(write_plots, data)`` to `AuditReport` as its ``extra_plots``,
so ``report.write(out_dir)`` writes them next to the tabular plots:

- ``series_examples_<attribute>``: for each group of a sensitive attribute (rows) and each
  channel (columns), ``N_EXAMPLES`` real and ``N_EXAMPLES`` synthetic windows, chosen at
  random (seeded) among the group's subjects, one window per subject;
- ``series_spectra_<attribute>``: the same layout with the mean normalised power spectrum
  of the real and of the synthetic windows (what ``psd_distance`` compares);
- ``series_examples_overall`` and ``series_spectra_overall``: the same over all subjects.

Each panel's title gives the group's subject counts (real / synthetic); a group with fewer than
``min_group_size`` subjects on either side is titled "small group" in red (too few to judge).
Every figure is written by `plot_files.save_figure` (the not-for-release footer).

The example traces are REAL patients' signals: like the rest of the audit these plots
are not differentially private and must stay with the audit, never with the release.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dpsynth.validators.plot_files import ALERT_COLOUR, save_figure
from dpsynth.validators.report_plots import SOURCE_COLOURS, slug
from dpsynth.validators.representation import ordered_groups
from dpsynth.validators.series_models import SeriesAuditContext

N_EXAMPLES = 3
OVERALL = "overall"
_SALT = 104  # seeds the choice of example windows
SPECTRUM_FLOOR = 1e-8  # log-scale floor for the spectra


@dataclass
class SeriesPlotData:
    """What the series plots show: ``examples[attribute][group] = (real, synthetic)`` windows
    [k, window, channels] in raw units, ``spectra[attribute][group] = (real, synthetic)``
    mean normalised spectra [channels, frequencies], ``subjects[attribute][group] = (real,
    synthetic)`` subject counts; attribute ``"overall"`` has group ``"all"``; a group with fewer
    than ``min_group_size`` subjects on either side is a small group."""

    channels: list[str]
    units: list[str]
    sampling_rate: float
    frequencies: np.ndarray
    examples: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    spectra: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    subjects: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    min_group_size: int = 0

    def is_small(self, attribute: str, group: str) -> bool:
        """Fewer than `min_group_size` subjects in the real or the synthetic group."""
        return min(self.subjects.get(attribute, {}).get(group, (0, 0))) < self.min_group_size


def plot_data(ctx: SeriesAuditContext, *, n_examples: int = N_EXAMPLES) -> SeriesPlotData:
    """Example windows and mean spectra overall and per group of each sensitive attribute
    (intersections are left out to keep the report short)."""
    schema = ctx.series_schema
    rng = ctx.rng(_SALT)
    real_w, syn_w = ctx.windows("train"), ctx.windows("synthetic")
    real_s, syn_s = ctx.statistics("train"), ctx.statistics("synthetic")
    data = SeriesPlotData(channels=schema.channel_names, units=[c.unit for c in schema.channels],
                          sampling_rate=schema.sampling_rate, frequencies=real_s.frequencies,
                          min_group_size=ctx.config.min_group_size)

    def pick(windows, subjects: np.ndarray) -> np.ndarray:
        chosen = rng.choice(subjects, size=min(n_examples, len(subjects)), replace=False) if len(subjects) else []
        picks = [windows.offsets[s] + rng.integers(windows.counts[s]) for s in chosen]
        return windows.values[np.array(picks, dtype=int)]

    def spectrum(stats, windows, subjects: np.ndarray) -> np.ndarray:
        keep = np.isin(windows.owner, subjects)
        rows = stats.spectrum[keep]                                   # [windows, C, P]
        out = np.full(rows.shape[1:], np.nan)
        for c in range(rows.shape[1]):
            valid = ~np.isnan(rows[:, c]).any(axis=1)
            if valid.any():
                out[c] = rows[valid, c].mean(axis=0)
        return out

    slices = [(OVERALL, {"all": (np.arange(len(ctx.train)), np.arange(len(ctx.synthetic)))})]
    for attribute in [a.name for a in schema.sensitive]:
        g_real = ctx.groups_of("train", attribute).to_numpy(dtype=object).astype(str)
        g_syn = ctx.groups_of("synthetic", attribute).to_numpy(dtype=object).astype(str)
        slices.append((attribute, {g: (np.flatnonzero(g_real == g), np.flatnonzero(g_syn == g))
                                   for g in ordered_groups(ctx, attribute, g_real, g_syn)}))
    for attribute, groups in slices:
        data.examples[attribute] = {g: (pick(real_w, r), pick(syn_w, s)) for g, (r, s) in groups.items()}
        data.spectra[attribute] = {g: (spectrum(real_s, real_w, r), spectrum(syn_s, syn_w, s))
                                   for g, (r, s) in groups.items()}
        data.subjects[attribute] = {g: (len(r), len(s)) for g, (r, s) in groups.items()}
    return data


def write_plots(data: SeriesPlotData, plot_dir: str | Path) -> dict[str, Path]:
    """Every series plot as ``{name: path}`` (see the module docstring)."""
    plot_dir = Path(plot_dir)
    made: dict[str, Path] = {}
    for attribute in data.examples:
        key = slug(attribute)
        made[f"series_examples_{key}"] = example_traces(data, attribute, plot_dir / f"series_examples_{key}.png")
        made[f"series_spectra_{key}"] = mean_spectra(data, attribute, plot_dir / f"series_spectra_{key}.png")
    return made


def _grid(data: SeriesPlotData, groups: list[str]) -> tuple[Figure, np.ndarray]:
    n_ch = len(data.channels)
    fig = Figure(figsize=(3.4 * n_ch + 0.6, 2.2 * len(groups) + 0.8))
    return fig, fig.subplots(len(groups), n_ch, squeeze=False)


def set_panel_title(ax: Axes, data: SeriesPlotData, attribute: str, group: str, channel: str) -> None:
    """A panel's title: group, subject counts (real / synthetic), channel; red for a small group."""
    real, syn = data.subjects.get(attribute, {}).get(group, (0, 0))
    small = data.is_small(attribute, group)
    mark = f", small group (< {data.min_group_size})" if small else ""
    ax.set_title(f"{group} (subjects {real} real / {syn} syn{mark}): {channel}", fontsize=8,
                 **({"color": ALERT_COLOUR} if small else {}))


def example_traces(data: SeriesPlotData, attribute: str, path: Path) -> Path:
    """Real vs synthetic example windows, one row per group, one column per channel."""
    groups = list(data.examples[attribute])
    fig, axes = _grid(data, groups)
    for i, group in enumerate(groups):
        real, syn = data.examples[attribute][group]
        for c, channel in enumerate(data.channels):
            ax = axes[i][c]
            for name, windows in (("real", real), ("synthetic", syn)):
                for k, window in enumerate(windows):
                    t = np.arange(len(window)) / data.sampling_rate
                    ax.plot(t, window[:, c], color=SOURCE_COLOURS[name], lw=0.8, alpha=0.8,
                            label=name if k == 0 else None)
                    alone = isolated(window[:, c])  # a line needs two samples: mark the lone visits
                    ax.scatter(t[alone], window[alone, c], color=SOURCE_COLOURS[name], s=6, alpha=0.8)
            unit = f" ({data.units[c]})" if data.units[c] else ""
            set_panel_title(ax, data, attribute, group, channel)
            ax.set_ylabel(f"{channel}{unit}", fontsize=7)
            ax.tick_params(labelsize=7)
            if i == len(groups) - 1:
                ax.set_xlabel("time in window (s)", fontsize=7)
            if i == 0 and c == 0:
                ax.legend(fontsize=7)
    scope = "all subjects" if attribute == OVERALL else f"by {attribute}"
    fig.suptitle(f"Example windows, real train (real patients) vs synthetic, {scope}", fontsize=9)
    return save_figure(fig, path)


def isolated(values: np.ndarray) -> np.ndarray:
    """Observed samples whose neighbours are both missing (or past the window's ends)."""
    observed = ~np.isnan(values)
    padded = np.pad(observed, 1)
    return observed & ~padded[:-2] & ~padded[2:]


def mean_spectra(data: SeriesPlotData, attribute: str, path: Path) -> Path:
    """Mean normalised power spectra, real vs synthetic, one row per group, one column per channel."""
    groups = list(data.spectra[attribute])
    fig, axes = _grid(data, groups)
    for i, group in enumerate(groups):
        real, syn = data.spectra[attribute][group]
        for c, channel in enumerate(data.channels):
            ax = axes[i][c]
            for name, spec in (("real", real), ("synthetic", syn)):
                if np.isfinite(spec[c]).any():
                    ax.semilogy(data.frequencies, np.maximum(spec[c], SPECTRUM_FLOOR), color=SOURCE_COLOURS[name],
                                lw=1.0, label=name)
            set_panel_title(ax, data, attribute, group, channel)
            ax.set_ylabel("normalised power", fontsize=7)
            ax.tick_params(labelsize=7)
            if i == len(groups) - 1:
                ax.set_xlabel("frequency (Hz)", fontsize=7)
            if i == 0 and c == 0 and ax.lines:
                ax.legend(fontsize=7)
    scope = "all subjects" if attribute == OVERALL else f"by {attribute}"
    fig.suptitle(f"Mean normalised power spectrum per window, real train vs synthetic, {scope}", fontsize=9)
    return save_figure(fig, path)

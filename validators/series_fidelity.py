"""Fidelity of synthetic series: how closely the synthetic windows resemble the real training
windows, per channel, overall and within every subgroup.

Comparisons are synthetic vs real *train* (what the generator saw), on the windows the
schema cuts from each signal (`SeriesSchema.windows`), first over all subjects (attribute
``"overall"``), then within each group of each sensitive attribute and intersection (the
groups of the static tables, as for tabular data). Rows use the tidy format of
`context.RESULT_COLUMNS`, validator ``"fidelity"``; ``feature`` names the channel for
per-channel metrics:

- ``wasserstein``: Wasserstein-1 distance between the observed sample values, each channel
  scaled to [0, 1] by its public bounds (0 = identical, 1 = all mass moved across the
  whole range; the tabular ``wasserstein`` divided by the range is the same quantity);
- ``ks``: the two-sample Kolmogorov–Smirnov statistic of the same values (largest gap
  between the two empirical distribution functions; 0 = identical, 1 = disjoint);
- ``acf_distance``: mean absolute difference, over lags 1..K with K = min(window // 4,
  ``ACF_MAX_LAG`` = 64), between the mean autocorrelation functions of the real and the
  synthetic windows (per-window ACF from observed pairs only; 0 = same temporal
  correlation, at most 2);
- ``psd_distance``: total variation distance (half the L1 distance) between the mean
  *normalised* power spectra of the real and the synthetic windows (per window: mean
  removed, missing samples set to the mean, Hann taper, rFFT power without the DC bin,
  scaled to sum 1). 0 = the same spectral shape, 1 = power at disjoint frequencies. It
  ignores amplitude, which the marginal distances cover;
- ``missing_rate_difference``: synthetic − real share of missing (NaN) samples in the
  signals (whole signals, not windows, so the padding of short signals does not count);
- ``mean_wasserstein``, ``mean_ks``, ``mean_acf_distance``, ``mean_psd_distance``
  (``feature=""``): means over channels;
- ``detection_auc`` (model ``"detector"``): the tabular detector's gradient boosting
  (`detection.DETECTOR_PARAMS`) on the per-window summary features of
  `series_models.window_statistics` (signal only: the static columns are audited by
  representation, utility and fairness), real windows (0) vs synthetic windows (1),
  balanced by subsampling the larger side to the smaller one (at most
  ``DETECTION_MAX_WINDOWS`` per side), ``N_FOLDS``-fold stratified cross-validated AUROC.
  The windows of one subject, and identical windows whichever table they come from, stay
  in one fold (otherwise the detector would recognise subjects, or be pushed below 0.5 by
  copies, see `fidelity.detection_auc`). 0.5 = indistinguishable, 1 = every synthetic
  window recognisable.

``n`` is the number of subjects compared (real + synthetic). A group with fewer than
``config.min_group_size`` subjects in either table is flagged ``small_group`` (still
computed); with fewer than 2 subjects in either table the values are NaN, flag ``empty``. A
channel with no observed sample in either table's slice has NaN distances flagged
``no_observed_values`` (another NaN in a slice with subjects: ``undefined``), and the means
over channels name what they leave out (``excluded_undefined:flow``).
Each table is subsampled to ``config.max_rows`` subjects (seeded) and the marginal
distances to ``MAX_SAMPLES`` values per channel and side. The audit reads real data and
is NOT differentially private.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import wasserstein_distance

from dpsynth.validators.context import result_frame
from dpsynth.validators.detection import (
    EXCLUDED_UNDEFINED, MIN_ROWS, N_FOLDS, NO_OBSERVED, fidelity_row, grouped_detection_auc,
)
from dpsynth.validators.representation import ordered_groups
from dpsynth.validators.series_models import SeriesAuditContext, scale_unit
from dpsynth.validators.tabular_encoding import sample_positions

VALIDATOR = "fidelity"
DETECTOR = "detector"
MAX_SAMPLES = 100_000          # values per channel and side for wasserstein / ks (seeded subsample)
DETECTION_MAX_WINDOWS = 5_000  # windows per side for the detector (seeded subsample)
CHANNEL_METRICS = ("wasserstein", "ks", "acf_distance", "psd_distance")
_SALT = 103  # seeds this validator's subsampling, folds and detector


@dataclass
class _Side:
    """The subsampled subjects of one table with their windows and window statistics."""

    values: np.ndarray       # [windows, L, C] scaled to [0, 1]
    owner: np.ndarray        # window -> subject (position in the subsample)
    features: np.ndarray     # [windows, F]
    acf: np.ndarray          # [windows, C, K]
    spectrum: np.ndarray     # [windows, C, P]
    missing: np.ndarray      # [subjects, C] missing samples in the whole signal
    samples: np.ndarray      # [subjects] samples in the whole signal
    keys: np.ndarray         # [windows] subject key, unique across tables

    @classmethod
    def of(cls, ctx: SeriesAuditContext, frame: str, subjects: np.ndarray) -> _Side:
        windows, stats = ctx.windows(frame), ctx.statistics(frame)
        chosen = np.zeros(len(windows.counts), bool)
        chosen[subjects] = True
        keep = chosen[windows.owner]
        position = np.full(len(chosen), -1)
        position[subjects] = np.arange(len(subjects))
        ids = getattr(ctx, frame)[ctx.series_schema.subject_id].to_numpy(dtype=object)[subjects]
        signals = [ctx.signals[frame][s] for s in ids]
        return cls(
            values=scale_unit(ctx.series_schema, windows.values[keep]), owner=position[windows.owner[keep]],
            features=stats.features[keep], acf=stats.acf[keep], spectrum=stats.spectrum[keep],
            missing=np.array([np.isnan(s).sum(0) for s in signals]).reshape(len(ids), -1),
            samples=np.array([len(s) for s in signals]),
            keys=np.array([f"{frame}:{ids[o]}" for o in position[windows.owner[keep]]], dtype=object),
        )

    def subset(self, subject_mask: np.ndarray) -> _Side:
        keep = subject_mask[self.owner]
        renumber = np.cumsum(subject_mask) - 1
        return _Side(values=self.values[keep], owner=renumber[self.owner[keep]], features=self.features[keep],
                     acf=self.acf[keep], spectrum=self.spectrum[keep], missing=self.missing[subject_mask],
                     samples=self.samples[subject_mask], keys=self.keys[keep])

    @property
    def n_subjects(self) -> int:
        return len(self.samples)


def evaluate(ctx: SeriesAuditContext) -> pd.DataFrame:
    """Series fidelity rows, overall and per subgroup (see the module docstring)."""
    cfg = ctx.config
    rng = ctx.rng(_SALT)
    real_pos = sample_positions(len(ctx.train), max_rows=cfg.max_rows, rng=rng)
    syn_pos = sample_positions(len(ctx.synthetic), max_rows=cfg.max_rows, rng=rng)
    seed = int(rng.integers(2**31 - 1))
    real, syn = _Side.of(ctx, "train", real_pos), _Side.of(ctx, "synthetic", syn_pos)

    rows = _compare(ctx, real, syn, attribute="overall", group="", seed=seed)
    for attribute in ctx.attributes:
        g_real = ctx.groups_of("train", attribute).to_numpy(dtype=object)[real_pos]
        g_syn = ctx.groups_of("synthetic", attribute).to_numpy(dtype=object)[syn_pos]
        for group in ordered_groups(ctx, attribute, g_real, g_syn):
            rows += _compare(ctx, real.subset(g_real == group), syn.subset(g_syn == group),
                             attribute=attribute, group=group, seed=seed)
    return result_frame(rows)


def _compare(ctx: SeriesAuditContext, real: _Side, syn: _Side, *, attribute: str, group: str,
             seed: int) -> list[dict]:
    """Every fidelity row for one (attribute, group) slice."""
    smallest = min(real.n_subjects, syn.n_subjects)
    empty = smallest < MIN_ROWS
    flag = "empty" if empty else "small_group" if smallest < ctx.config.min_group_size else ""
    base = {"validator": VALIDATOR, "model": "", "source": "", "attribute": attribute, "group": group,
            "feature": "", "n": real.n_subjects + syn.n_subjects, "flag": flag}

    def row(metric: str, value: float, why: str = "", **extra) -> dict:
        return fidelity_row(base, metric, value, empty=empty, why=why, **extra)

    rows: list[dict] = []
    per_metric: dict[str, dict[str, float]] = {m: {} for m in CHANNEL_METRICS}
    for c, channel in enumerate(ctx.series_schema.channel_names):
        unobserved = ""
        if empty:
            values = dict.fromkeys(CHANNEL_METRICS, np.nan)
            missing = np.nan
        else:
            a = _sample(real.values[:, :, c], seed)
            b = _sample(syn.values[:, :, c], seed + 1)
            unobserved = "" if len(a) and len(b) else NO_OBSERVED
            values = {
                "wasserstein": float(wasserstein_distance(a, b)) if len(a) and len(b) else np.nan,
                "ks": ks_statistic(a, b),
                "acf_distance": _mean_abs_difference(real.acf[:, c], syn.acf[:, c]),
                "psd_distance": 0.5 * _sum_abs_difference(real.spectrum[:, c], syn.spectrum[:, c]),
            }
            missing = _share(syn.missing[:, c], syn.samples) - _share(real.missing[:, c], real.samples)
        for metric, value in values.items():
            per_metric[metric][channel] = value
            rows.append(row(metric, value, unobserved, feature=channel))
        rows.append(row("missing_rate_difference", missing, feature=channel))
    for metric, values in per_metric.items():
        nan = [channel for channel, v in values.items() if not np.isfinite(v)]
        rows.append(row(f"mean_{metric}", _nanmean(list(values.values())),
                        f"{EXCLUDED_UNDEFINED}:{','.join(nan)}" if nan else ""))
    auc = np.nan if empty else detection_auc(real.features, syn.features, real_keys=real.keys,
                                               synthetic_keys=syn.keys, seed=seed)
    rows.append(row("detection_auc", auc, model=DETECTOR))
    return rows


# ------------------------------------------------------------------------ distances
def _sample(values: np.ndarray, seed: int) -> np.ndarray:
    """Observed values of one channel, at most MAX_SAMPLES of them (seeded)."""
    flat = values.ravel()
    flat = flat[~np.isnan(flat)].astype(np.float64)
    if len(flat) > MAX_SAMPLES:
        flat = np.random.default_rng(seed).choice(flat, size=MAX_SAMPLES, replace=False)
    return flat


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic (sup of the gap between empirical CDFs)."""
    if len(a) == 0 or len(b) == 0:
        return np.nan
    a, b = np.sort(a), np.sort(b)
    points = np.concatenate([a, b])
    gap = np.searchsorted(a, points, side="right") / len(a) - np.searchsorted(b, points, side="right") / len(b)
    return float(np.max(np.abs(gap)))


def _column_means(rows: np.ndarray) -> np.ndarray:
    """Mean over windows of per-window vectors, skipping windows where the vector is undefined."""
    valid = ~np.isnan(rows).any(axis=1)
    return rows[valid].mean(axis=0) if valid.any() else np.full(rows.shape[1], np.nan)


def _mean_abs_difference(real: np.ndarray, syn: np.ndarray) -> float:
    return float(np.mean(np.abs(_column_means(real) - _column_means(syn))))


def _sum_abs_difference(real: np.ndarray, syn: np.ndarray) -> float:
    return float(np.sum(np.abs(_column_means(real) - _column_means(syn))))


def _share(missing: np.ndarray, samples: np.ndarray) -> float:
    total = samples.sum()
    return float(missing.sum() / total) if total else np.nan


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else np.nan


# ------------------------------------------------------------------------- detection
def fold_groups(keys: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """A group id per window: the windows of one subject, and identical windows (whatever their
    subject or table), share a group (union of the two relations)."""
    subject = pd.factorize(pd.Series(keys, dtype=object))[0]
    same = pd.factorize(pd.util.hash_pandas_object(pd.DataFrame(rows), index=False))[0]
    parent = np.arange(subject.max() + 1 if len(subject) else 0)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[int, int] = {}
    for s, h in zip(subject, same):
        if h in first:
            a, b = find(s), find(first[h])
            if a != b:
                parent[a] = b
        else:
            first[h] = s
    return pd.factorize(np.array([find(s) for s in subject]))[0]


def detection_auc(x_real: np.ndarray, x_synthetic: np.ndarray, *, real_keys: np.ndarray,
                  synthetic_keys: np.ndarray, seed: int) -> float:
    """Cross-validated AUROC of the fixed detector, real windows (0) vs synthetic (1), balanced.

    ``*_keys`` name each window's subject (distinct between the tables); see `fold_groups`.
    """
    rng = np.random.default_rng(seed)
    n = min(len(x_real), len(x_synthetic), DETECTION_MAX_WINDOWS)
    if n < 2:
        return np.nan
    pick_real = np.sort(rng.choice(len(x_real), size=n, replace=False))
    pick_syn = np.sort(rng.choice(len(x_synthetic), size=n, replace=False))
    x = np.vstack([x_real[pick_real], x_synthetic[pick_syn]])
    y = np.r_[np.zeros(n, int), np.ones(n, int)]
    groups = fold_groups(np.r_[real_keys[pick_real], synthetic_keys[pick_syn]], x)
    folds = min(N_FOLDS, len(np.unique(groups[y == 0])), len(np.unique(groups[y == 1])))
    if folds < 2:
        return np.nan
    return grouped_detection_auc(x, y, groups, folds=folds, seed=seed)

"""Fidelity: how closely the synthetic rows resemble the real training rows, overall and
within every subgroup.

All comparisons are synthetic vs real *train* (the data the generator saw), on the
schema's columns, first over all rows (attribute ``"overall"``) and then within each group
of each sensitive attribute and intersection (real and synthetic rows restricted to that
group). Metrics (``feature`` names the column for per-column metrics):

- ``tvd`` (categorical columns): total variation distance between the two category
  distributions, missing counted as a category of its own; 0 = identical, 1 = disjoint.
- ``wasserstein`` (numeric columns): Wasserstein-1 distance between the non-missing values,
  divided by the column's public range ``upper − lower`` from the schema, so it is
  comparable across columns (0 = identical, 1 = all mass moved across the whole range).
- ``missing_rate_difference`` (every column): synthetic − real share of missing cells.
- ``mean_tvd`` / ``mean_wasserstein`` (``feature=""``): means of the above over columns.
- ``correlation_difference``: mean absolute difference, over all column pairs, between the
  real and synthetic *association matrices*. The association is mixed-type: Pearson ``r``
  between two numerics (missing filled with the frame's own median), Cramér's V between two
  categoricals (missing as a category), the correlation ratio η between a numeric and a
  categorical. Pairs involving a column that is constant in a frame count as association 0.
- ``detection_auc`` (model ``"detector"``): a gradient-boosting classifier (fixed
  parameters `detection.DETECTOR_PARAMS`, categoricals one-hot, missing numerics left as NaN for the
  trees) is trained to tell real rows (0) from synthetic rows (1); the value is its
  ``N_FOLDS``-fold stratified cross-validated AUROC (mean over folds; identical rows share
  a fold, see `detection_auc`). 0.5 means the detector cannot tell them apart; 1.0 means
  every synthetic row is recognisable.

``n`` is the number of rows the metric was computed on, real + synthetic. Groups with fewer
than ``config.min_group_size`` rows in either table are flagged ``small_group`` (still
computed); groups with fewer than 2 rows in either table get NaN and the flag ``empty``. A
column with no observed value in either table's slice has NaN distances flagged
``no_observed_values``, and the means over columns name what they leave out
(``excluded_undefined:lab``).
Each table is subsampled to ``config.max_rows`` rows (seeded) before anything is computed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import wasserstein_distance

from dpsynth.schema import CategoricalColumn, NumericColumn
from dpsynth.validators.context import AuditContext, result_frame
from dpsynth.validators.detection import (
    EXCLUDED_UNDEFINED, MIN_ROWS, N_FOLDS, NO_OBSERVED, fidelity_row, grouped_detection_auc,
)
from dpsynth.validators.representation import ordered_groups
from dpsynth.validators.tabular_encoding import (
    MISSING_CATEGORY, category_levels, encode, numeric_range, sample_positions,
)

VALIDATOR = "fidelity"
DETECTOR = "detector"
_SALT = 101  # seeds this validator's subsampling, folds and detector


def evaluate(ctx: AuditContext) -> pd.DataFrame:
    """Fidelity metrics overall and per subgroup (see module docstring)."""
    cfg = ctx.config
    rng = ctx.rng(_SALT)
    real_pos = sample_positions(len(ctx.train), max_rows=cfg.max_rows, rng=rng)
    syn_pos = sample_positions(len(ctx.synthetic), max_rows=cfg.max_rows, rng=rng)
    real = ctx.train.iloc[real_pos].reset_index(drop=True)
    syn = ctx.synthetic.iloc[syn_pos].reset_index(drop=True)
    x_real, x_syn = encode([real, syn], schema=ctx.schema, missing="native")
    seed = int(rng.integers(2**31 - 1))

    rows = _compare(ctx, real, syn, x_real, x_syn, attribute="overall", group="", seed=seed)
    for attribute in ctx.attributes:
        g_real = ctx.groups_of("train", attribute).to_numpy(dtype=object)[real_pos]
        g_syn = ctx.groups_of("synthetic", attribute).to_numpy(dtype=object)[syn_pos]
        for group in ordered_groups(ctx, attribute, g_real, g_syn):
            m_real, m_syn = g_real == group, g_syn == group
            rows += _compare(ctx, real[m_real], syn[m_syn], x_real[m_real], x_syn[m_syn],
                             attribute=attribute, group=group, seed=seed)
    return result_frame(rows)


def _compare(ctx: AuditContext, real: pd.DataFrame, syn: pd.DataFrame, x_real: np.ndarray,
             x_syn: np.ndarray, *, attribute: str, group: str, seed: int) -> list[dict]:
    """Every fidelity row for one (attribute, group) slice."""
    n_real, n_syn = len(real), len(syn)
    empty = min(n_real, n_syn) < MIN_ROWS
    if empty:
        flag = "empty"
    elif min(n_real, n_syn) < ctx.config.min_group_size:
        flag = "small_group"
    else:
        flag = ""
    base = {"validator": VALIDATOR, "model": "", "source": "", "attribute": attribute,
            "group": group, "feature": "", "n": n_real + n_syn, "flag": flag}

    def row(metric: str, value: float, why: str = "", **extra) -> dict:
        return fidelity_row(base, metric, value, empty=empty, why=why, **extra)

    rows, tvds, dists = [], {}, {}
    for col in ctx.schema.columns:
        name = col.name
        unobserved = NO_OBSERVED if real[name].isna().all() or syn[name].isna().all() else ""
        if isinstance(col, CategoricalColumn):
            value = np.nan if empty else tvd(real[name], syn[name])
            tvds[name] = value
            rows.append(row("tvd", value, feature=name))
        elif isinstance(col, NumericColumn):
            lower, upper = numeric_range(ctx.schema, name, ctx.train, ctx.synthetic)
            value = np.nan if empty else wasserstein_normalised(real[name], syn[name], span=upper - lower)
            dists[name] = value
            rows.append(row("wasserstein", value, unobserved, feature=name))
        miss = syn[name].isna().mean() - real[name].isna().mean() if not empty else np.nan
        rows.append(row("missing_rate_difference", miss, feature=name))
    if tvds:
        rows.append(row("mean_tvd", _nanmean(list(tvds.values())), _left_out(tvds)))
    if dists:
        rows.append(row("mean_wasserstein", _nanmean(list(dists.values())), _left_out(dists)))
    if not empty:
        corr = correlation_difference(real, syn, ctx=ctx)
        auc = detection_auc(x_real, x_syn, seed=seed)
    else:
        corr = auc = np.nan
    rows.append(row("correlation_difference", corr))
    rows.append(row("detection_auc", auc, model=DETECTOR))
    return rows


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else np.nan


def _left_out(values: dict[str, float]) -> str:
    """``excluded_undefined:a,b`` naming the NaN values a mean over features leaves out; ``""`` if none."""
    nan = [name for name, v in values.items() if not np.isfinite(v)]
    return f"{EXCLUDED_UNDEFINED}:{','.join(nan)}" if nan else ""


# --------------------------------------------------------------------- marginals
def tvd(real: pd.Series, synthetic: pd.Series) -> float:
    """Total variation distance of two categorical samples; missing is its own category."""
    p = real.astype(object).where(real.notna(), MISSING_CATEGORY).value_counts(normalize=True)
    q = synthetic.astype(object).where(synthetic.notna(), MISSING_CATEGORY).value_counts(normalize=True)
    p, q = p.align(q, fill_value=0.0)
    return float(0.5 * np.abs(p - q).sum())


def wasserstein_normalised(real: pd.Series, synthetic: pd.Series, *, span: float) -> float:
    """Wasserstein-1 distance of the non-missing values divided by the public range ``span``.

    NaN when either side has no non-missing value (the missing-rate row covers that case).
    """
    a, b = real.dropna().to_numpy(float), synthetic.dropna().to_numpy(float)
    if len(a) == 0 or len(b) == 0:
        return np.nan
    return float(wasserstein_distance(a, b) / span)


# ------------------------------------------------------------------- associations
def association_matrix(frame: pd.DataFrame, *, ctx: AuditContext) -> np.ndarray:
    """Mixed-type association matrix over the schema's columns (see module docstring)."""
    cols = ctx.schema.columns
    encoded: list[tuple[str, np.ndarray, int]] = []  # (kind, values or codes, n levels)
    for col in cols:
        values = frame[col.name]
        if isinstance(col, NumericColumn):
            x = values.to_numpy(float)
            x = np.where(np.isnan(x), np.nanmedian(x) if np.isfinite(x).any() else 0.0, x)
            encoded.append(("num", x, 0))
        else:
            levels = category_levels(ctx.schema, col.name, ctx.train, ctx.synthetic) + [MISSING_CATEGORY]
            filled = values.astype(object).where(values.notna(), MISSING_CATEGORY).astype(str)
            codes = pd.Categorical(filled, categories=levels).codes.astype(int)
            encoded.append(("cat", codes, len(levels)))
    p = len(encoded)
    out = np.eye(p)
    for i in range(p):
        for j in range(i + 1, p):
            out[i, j] = out[j, i] = _association(encoded[i], encoded[j])
    return out


def _association(a: tuple[str, np.ndarray, int], b: tuple[str, np.ndarray, int]) -> float:
    (ka, va, la), (kb, vb, lb) = a, b
    if ka == "num" and kb == "num":
        return _pearson(va, vb)
    if ka == "cat" and kb == "cat":
        return _cramers_v(va, la, vb, lb)
    if ka == "cat":
        return _correlation_ratio(va, la, values=vb)
    return _correlation_ratio(vb, lb, values=va)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    dx, dy = x - x.mean(), y - y.mean()
    denom = np.sqrt((dx @ dx) * (dy @ dy))
    return float(dx @ dy / denom) if denom > 0 else 0.0


def _cramers_v(a: np.ndarray, la: int, b: np.ndarray, lb: int) -> float:
    table = np.bincount(a * lb + b, minlength=la * lb).reshape(la, lb).astype(float)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    k = min(table.shape)
    if k < 2:
        return 0.0
    n = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / n / (k - 1)))


def _correlation_ratio(codes: np.ndarray, levels: int, *, values: np.ndarray) -> float:
    counts = np.bincount(codes, minlength=levels).astype(float)
    sums = np.bincount(codes, weights=values, minlength=levels)
    total = float(((values - values.mean()) ** 2).sum())
    if total <= 0:
        return 0.0
    present = counts > 0
    means = sums[present] / counts[present]
    between = float((counts[present] * (means - values.mean()) ** 2).sum())
    return float(np.sqrt(min(between / total, 1.0)))


def correlation_difference(real: pd.DataFrame, synthetic: pd.DataFrame, *, ctx: AuditContext) -> float:
    """Mean |association(real) − association(synthetic)| over the column pairs (NaN if < 2 columns)."""
    a, b = association_matrix(real, ctx=ctx), association_matrix(synthetic, ctx=ctx)
    upper = np.triu_indices(len(a), k=1)
    if len(upper[0]) == 0:
        return np.nan
    return float(np.mean(np.abs(a[upper] - b[upper])))


# ---------------------------------------------------------------------- detection
def detection_auc(x_real: np.ndarray, x_synthetic: np.ndarray, *, seed: int) -> float:
    """Cross-validated AUROC of a fixed classifier telling real (0) from synthetic (1) rows.

    Identical rows (same encoded values, whichever table they come from) are kept in the same
    fold. Otherwise a synthetic copy of a real row would sit in the training fold, labelled
    "synthetic", while its twin is tested as "real": the detector would be pushed *below*
    0.5 by copying, and a perfect copy would look better than indistinguishable.
    """
    x = np.vstack([x_real, x_synthetic])
    y = np.r_[np.zeros(len(x_real), int), np.ones(len(x_synthetic), int)]
    groups = pd.factorize(pd.util.hash_pandas_object(pd.DataFrame(x), index=False))[0]
    folds = min(N_FOLDS, len(x_real), len(x_synthetic), int(groups.max()) + 1 if len(groups) else 0)
    if folds < 2:
        return np.nan
    return grouped_detection_auc(x, y, groups, folds=folds, seed=seed)

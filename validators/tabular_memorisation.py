"""Memorisation signals: did the generator copy real training rows?

**These numbers are not privacy evidence.** Distance-to-closest-record (DCR) and exact-match
checks only catch crude copying. Published membership-inference attacks succeed against
synthetic data that passes DCR checks, and a model can leak a training record without ever
emitting it verbatim. The privacy guarantee of a dpsynth release is the ε (and δ) on its
privacy card, which bounds *every* attack; nothing here can confirm or weaken it. Every
row this validator returns carries the flag ``not_privacy_evidence`` so that no table or
report can quote these values without the caveat.

Metrics (``source`` says whose rows were compared with the real train rows):

- ``exact_match_share``: share of rows identical to some real train row on every schema
  column (missing equals missing). ``source="synthetic"`` is the signal; ``source="holdout"``
  is the base rate for fresh real rows (high when the schema has few, coarse columns).
- ``dcr_median``: median distance to the closest real train row, for synthetic rows and
  for holdout rows. The distance is Gower-style: L1 over numerics scaled by the public range
  (missing = mid-range plus a missing-indicator of weight 1) plus 1 per differing
  categorical column (see `tabular_encoding`).
- ``dcr_ratio``: synthetic median DCR / holdout median DCR. ≈ 1 is what a generator that
  does not copy gives; ≪ 1 signals memorisation. NaN when the holdout median is 0.
- ``dcr_holdout_p5``: 5th percentile of the holdout→train DCR.
- ``share_closer_than_holdout_p5``: share of synthetic rows strictly closer to the train
  data than that percentile (about 0.05 or less without copying; near 1 for copies).

Rows are subsampled to ``config.max_rows`` per table (seeded) for the distances; exact
matches are counted on all rows. The rows that read the holdout (its base rate, its DCR, the
ratio and the share closer than its 5th percentile) also carry ``small_holdout`` when it has
fewer than 2 x ``config.min_group_size`` rows: a percentile of so few distances means little.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from dpsynth.validators.context import AuditContext, result_frame
from dpsynth.validators.tabular_encoding import encode, sample_positions

VALIDATOR = "memorisation"
FLAG = "not_privacy_evidence"
CATEGORICAL_WEIGHT = 0.5  # one-hot under L1: one differing category = distance 1
PERCENTILE = 5
_SALT = 202


def evaluate(ctx: AuditContext) -> pd.DataFrame:
    """Exact-match shares and DCR statistics (see module docstring); every row flagged."""
    names = ctx.schema.names
    train_keys = set(row_keys(ctx.train[names]))
    n_syn, n_hold = len(ctx.synthetic), len(ctx.holdout)
    small = ctx.holdout_flags(classes=False)
    rows = [
        _row("exact_match_share", "synthetic", _share_in(row_keys(ctx.synthetic[names]), train_keys), n_syn),
        _row("exact_match_share", "holdout", _share_in(row_keys(ctx.holdout[names]), train_keys), n_hold, small),
    ]

    rng = ctx.rng(_SALT)
    cap = ctx.config.max_rows
    train = ctx.train.iloc[sample_positions(len(ctx.train), max_rows=cap, rng=rng)]
    syn = ctx.synthetic.iloc[sample_positions(n_syn, max_rows=cap, rng=rng)]
    hold = ctx.holdout.iloc[sample_positions(n_hold, max_rows=cap, rng=rng)]
    if len(train) == 0 or len(syn) == 0 or len(hold) == 0:
        dcr_syn = dcr_hold = np.array([])
    else:
        x_train, x_syn, x_hold = encode([train, syn, hold], schema=ctx.schema, missing="indicator",
                                        categorical_weight=CATEGORICAL_WEIGHT)
        index = NearestNeighbors(n_neighbors=1, metric="manhattan").fit(x_train)
        dcr_syn = index.kneighbors(x_syn)[0][:, 0]
        dcr_hold = index.kneighbors(x_hold)[0][:, 0]

    med_syn = float(np.median(dcr_syn)) if len(dcr_syn) else np.nan
    med_hold = float(np.median(dcr_hold)) if len(dcr_hold) else np.nan
    ratio = med_syn / med_hold if np.isfinite(med_hold) and med_hold > 0 else np.nan
    p5 = float(np.percentile(dcr_hold, PERCENTILE)) if len(dcr_hold) else np.nan
    close = float(np.mean(dcr_syn < p5)) if len(dcr_syn) and np.isfinite(p5) else np.nan
    rows += [
        _row("dcr_median", "synthetic", med_syn, len(dcr_syn)),
        _row("dcr_median", "holdout", med_hold, len(dcr_hold), small),
        _row("dcr_ratio", "", ratio, len(dcr_syn), small),
        _row("dcr_holdout_p5", "holdout", p5, len(dcr_hold), small),
        _row("share_closer_than_holdout_p5", "synthetic", close, len(dcr_syn), small),
    ]
    return result_frame(rows)


def row_keys(frame: pd.DataFrame) -> list[tuple]:
    """One hashable key per row; missing cells (NaN/None) compare equal to each other."""
    filled = frame.astype(object).where(frame.notna(), None)
    return list(filled.itertuples(index=False, name=None))


def _share_in(keys: list[tuple], reference: set[tuple]) -> float:
    return float(np.mean([k in reference for k in keys])) if keys else np.nan


def _row(metric: str, source: str, value: float, n: int, flag: str = "") -> dict:
    return {"validator": VALIDATOR, "model": "", "source": source, "metric": metric, "attribute": "overall",
            "group": "", "feature": "", "value": value, "n": n, "flag": ";".join(f for f in (FLAG, flag) if f)}

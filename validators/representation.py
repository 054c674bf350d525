"""Representation: does each subgroup make up the same share of the synthetic data as of
the real training data?

DP synthesis tends to wash out small groups (the noise is the same for every group, the
signal is not), so a group's share can shrink or vanish. For every sensitive attribute,
every intersection ("a×b") and the target itself (the class balance), and for every
group seen in either table, this validator reports:

- ``share_real``: the group's share of the real train rows (``n`` = its real row count);
- ``share_synthetic``: its share of the synthetic rows (``n`` = its synthetic row count);
- ``share_difference``: synthetic − real;
- ``share_ratio``: synthetic / real (NaN when the group has no real rows).

Flags: ``absent_in_synthetic`` (no synthetic row), ``absent_in_real`` (synthetic rows of
a group that has no real train row, e.g. an intersection the generator invented),
``small_group`` (fewer than ``config.min_group_size`` real rows).

Shares are counted on all rows (no subsampling: counting is cheap).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dpsynth.validators.context import AuditContext, result_frame

VALIDATOR = "representation"


def ordered_groups(ctx: AuditContext, attribute: str, *labels: np.ndarray | pd.Series) -> list[str]:
    """`AuditContext.ordered_groups`: the groups in ``labels``, in the schema's domain order."""
    return ctx.ordered_groups(attribute, *labels)


def evaluate(ctx: AuditContext) -> pd.DataFrame:
    """Group shares real vs synthetic for the target, every sensitive attribute and intersection."""
    rows: list[dict] = []
    min_size = ctx.config.min_group_size
    for attribute in [ctx.schema.target, *ctx.attributes]:
        real = ctx.groups_of("train", attribute).to_numpy(dtype=object)
        synthetic = ctx.groups_of("synthetic", attribute).to_numpy(dtype=object)
        n_real, n_syn = len(real), len(synthetic)
        for group in ordered_groups(ctx, attribute, real, synthetic):
            c_real, c_syn = int(np.sum(real == group)), int(np.sum(synthetic == group))
            share_real = c_real / n_real if n_real else np.nan
            share_syn = c_syn / n_syn if n_syn else np.nan
            if c_syn == 0:
                flag = "absent_in_synthetic"
            elif c_real == 0:
                flag = "absent_in_real"
            elif c_real < min_size:
                flag = "small_group"
            else:
                flag = ""
            base = {"validator": VALIDATOR, "model": "", "source": "", "attribute": attribute,
                    "group": group, "feature": "", "flag": flag}
            rows += [
                {**base, "metric": "share_real", "value": share_real, "n": c_real},
                {**base, "metric": "share_synthetic", "value": share_syn, "n": c_syn},
                {**base, "metric": "share_difference", "value": share_syn - share_real, "n": c_real},
                {**base, "metric": "share_ratio",
                 "value": share_syn / share_real if share_real else np.nan, "n": c_real},
            ]
    return result_frame(rows)

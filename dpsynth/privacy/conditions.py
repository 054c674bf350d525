"""The mix of conditions (target × sensitive groups) a generator samples from.

When `sample` is called without conditions, a generator draws a condition cell for each
row from this table. The table holds Laplace-noised counts over the PUBLIC product of
the condition domains, charged to the ledger — never raw frequencies (privacy contract,
rule 1). Everything derived from it (sampling, rebalancing) is post-processing.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from dpsynth import errors
from dpsynth.errors import SchemaError
from dpsynth.privacy.ledger import LedgerEntry, PrivacyLedger
from dpsynth.privacy.mechanisms import laplace_histogram

WEIGHT = "_weight"  # noisy count clipped at 0: the sampling weight
NOISY = "_noisy"  # the unclipped noisy count (unbiased; used to judge whether a group is empty)


def unit_weights(unit_ids: pd.Series | None, n_rows: int) -> np.ndarray:
    """Weight 1/k for each of a unit's k rows, so each privacy unit adds total weight 1."""
    if unit_ids is None:
        return np.ones(n_rows)
    sizes = unit_ids.map(unit_ids.value_counts())
    return 1.0 / sizes.to_numpy(float)


def _all_cells(domains: dict[str, list[str]]) -> pd.DataFrame:
    """The public product of the condition domains, one row per cell."""
    return pd.DataFrame(list(itertools.product(*domains.values())), columns=list(domains))


def noisy_condition_table(
    groups: pd.DataFrame,
    domains: dict[str, list[str]],
    *,
    unit_ids: pd.Series | None,
    epsilon: float,
    ledger: PrivacyLedger,
) -> pd.DataFrame:
    """Charge ε to the ledger, then return noisy counts of every condition cell (≥ 0): the
    three steps below in order, for data that is in memory at once."""
    charge_condition_counts(domains, epsilon=epsilon, ledger=ledger)
    return release_condition_counts(exact_condition_counts(groups, domains, unit_ids=unit_ids), domains,
                                    epsilon=epsilon)


def charge_condition_counts(domains: dict[str, list[str]], *, epsilon: float, ledger: PrivacyLedger) -> None:
    """The ledger entry of the condition counts: charged before any count is taken."""
    ledger.charge(LedgerEntry(
        mechanism="laplace-histogram", purpose="condition counts (target × sensitive groups)",
        epsilon=epsilon, delta=0.0,
        params={"cells": len(_all_cells(domains)), "sensitivity": 1.0, "noise_scale": 1.0 / epsilon,
                "post_processing": "clip at 0"}))


def exact_condition_counts(groups: pd.DataFrame, domains: dict[str, list[str]], *,
                           unit_ids: pd.Series | None) -> np.ndarray:
    """Each unit's weight (1, or 1/k over its k rows) summed per condition cell, in the order of
    the public cells. Private and exact: only `release_condition_counts` may publish them, and
    counts of parts of the data (chunks holding whole units) add up."""
    names = list(domains)
    cells = _all_cells(domains)
    weights = pd.Series(unit_weights(unit_ids, len(groups)), index=groups.index)
    exact = weights.groupby([groups[n].astype(str) for n in names]).sum()
    key = pd.MultiIndex.from_frame(cells) if len(names) > 1 else pd.Index(cells[names[0]])
    return exact.reindex(key, fill_value=0.0).to_numpy(float)


def release_condition_counts(exact: np.ndarray, domains: dict[str, list[str]], *, epsilon: float) -> pd.DataFrame:
    """The condition table: Laplace(1/ε) noise on the exact counts (charged already by
    `charge_condition_counts`), and the sampling weight clipped at 0."""
    cells = _all_cells(domains)
    cells[NOISY] = laplace_histogram(exact, epsilon=epsilon)
    cells[WEIGHT] = np.clip(cells[NOISY], 0.0, None)
    return cells


def indistinguishable_from_empty(table: pd.DataFrame, name: str, *, epsilon: float) -> list[str]:
    """Groups of condition ``name`` whose noisy total is within 2 noise s.d. of zero.

    Post-processing of the noisy table: the total of k cells has Laplace noise with
    standard deviation sqrt(2k)/ε.
    """
    totals = table.groupby(name, sort=False)[NOISY].agg(["sum", "size"])
    threshold = 2.0 * np.sqrt(2.0 * totals["size"]) / epsilon
    return [str(g) for g in totals.index[totals["sum"] < threshold]]


def uniform_condition_table(domains: dict[str, list[str]]) -> pd.DataFrame:
    """Every cell equally likely (costs no budget)."""
    cells = _all_cells(domains)
    cells[WEIGHT] = 1.0
    return cells


def check_conditions(conditions: dict[str, Any], domains: dict[str, list[str]]) -> dict[str, str]:
    """Validate user conditions against the public domains; return them as strings."""
    out = {}
    for name, value in conditions.items():
        if name not in domains:
            raise SchemaError(errors.UNKNOWN_CONDITION_NAME.format(name=name, choices=list(domains)))
        value = str(value)
        if value not in domains[name]:
            raise SchemaError(errors.UNKNOWN_CONDITION.format(name=name, value=value, choices=domains[name]))
        out[name] = value
    return out


def sample_condition_cells(
    table: pd.DataFrame, n: int, *, conditions: dict[str, str] | None, rng: np.random.Generator
) -> pd.DataFrame:
    """Draw ``n`` condition cells from the table, restricted to ``conditions`` if given.

    If every matching cell has weight 0 after noise, matching cells are drawn uniformly.
    """
    subset = table
    for name, value in (conditions or {}).items():
        subset = subset[subset[name] == value]
    weights = subset[WEIGHT].to_numpy(float)
    probs = weights / weights.sum() if weights.sum() > 0 else np.full(len(subset), 1.0 / len(subset))
    picks = rng.choice(len(subset), size=n, p=probs)
    return subset.drop(columns=[WEIGHT, NOISY], errors="ignore").iloc[picks].reset_index(drop=True)

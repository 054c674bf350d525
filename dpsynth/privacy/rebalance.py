"""Subgroup shares for sampling (`--rebalance`): post-processing of the DP condition table.

A rebalance request gives a subgroup — or an intersection of subgroups — a chosen share
of the synthetic rows, e.g. ``{"race": "equal"}`` or ``{"race": {"white": 0.4,
"black": 0.3, "other": 0.3}}`` or ``{("sex", "race"): "equal"}``. Several requests are
met together by raking (iterative proportional fitting) of the noisy cell weights: each
request's marginal is scaled to its shares in turn until all hold. Within a group, the
mix of the other conditions (the outcome, other attributes) stays as the DP table has
it, changed as little as the other requests need.

Only the DP table is read, so rebalancing costs no privacy budget (post-processing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

import numpy as np
import pandas as pd

from dpsynth.errors import SchemaError
from dpsynth.privacy.conditions import WEIGHT

ShareSpec = Union[str, Mapping[str, float]]
Request = tuple[tuple[str, ...], dict[tuple[str, ...], float]]

EQUAL = "equal"
INTERSECTION = "*"  # "sex*race=equal" on the command line
SHARE_TOLERANCE = 1e-3

UNKNOWN_NAME = ("--rebalance: '{name}' is not a condition; rebalance one of {choices} "
                "(the target or a sensitive attribute of the schema)")
UNKNOWN_GROUP = "--rebalance: {name} has no group {group!r}; its groups are {choices}"
BAD_SHARES = ("--rebalance: the shares for {name} must be non-negative numbers adding up to 1 "
              "(got {shares}); or write '{name}=equal'")
MISSING_GROUPS = ("--rebalance: shares for {name} leave out group(s) {groups}; give every group a share "
                  "(0 is allowed) or write '{name}=equal'")
BAD_SYNTAX = ("--rebalance expects NAME=equal, NAME=GROUP:SHARE,GROUP:SHARE,... or A*B=equal "
              "for an intersection (got {item!r})")
CONFLICT = ("a condition fixes '{name}' and --rebalance sets shares for it; drop one of the two")
REPEATED = "--rebalance names '{name}' twice; give each attribute (or intersection) once"
NOT_CONVERGED = ("--rebalance: the requested shares cannot all hold together on this condition table "
                 "(largest gap {gap:.3f} after {iterations} rounds); ask for fewer or consistent shares")


def parse_rebalance(items: list[str] | None) -> dict[tuple[str, ...], ShareSpec]:
    """Parse command-line items ``race=equal``, ``race=white:0.5,black:0.3,other:0.2``,
    ``sex*race=equal`` into the mapping `rebalance_table` takes."""
    out: dict[tuple[str, ...], ShareSpec] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        names = tuple(n.strip() for n in key.split(INTERSECTION))
        if not sep or not value or not all(names):
            raise SchemaError(BAD_SYNTAX.format(item=item))
        if value.strip().lower() == EQUAL:
            spec: ShareSpec = EQUAL
        else:
            spec = {}
            for part in value.split(","):
                group, colon, share = part.rpartition(":")
                try:
                    spec[group.strip()] = float(share)
                except ValueError:
                    raise SchemaError(BAD_SYNTAX.format(item=item)) from None
                if not colon or not group.strip():
                    raise SchemaError(BAD_SYNTAX.format(item=item))
        out[names] = spec
    return out


def _normalise(rebalance: Mapping[Any, ShareSpec], domains: dict[str, list[str]]) -> list[Request]:
    """Check every request against the public domains; return (names, {cell: share})."""
    requests: list[Request] = []
    seen: set[str] = set()
    for key, spec in rebalance.items():
        names = (key,) if isinstance(key, str) else tuple(key)
        label = INTERSECTION.join(names)
        for name in names:
            if name not in domains:
                raise SchemaError(UNKNOWN_NAME.format(name=name, choices=list(domains)))
            if name in seen:
                raise SchemaError(REPEATED.format(name=name))
            seen.add(name)
        cells = list(pd.MultiIndex.from_product([domains[n] for n in names]))
        cells = [c if isinstance(c, tuple) else (c,) for c in cells]
        if isinstance(spec, str):
            if spec != EQUAL:
                raise SchemaError(BAD_SYNTAX.format(item=f"{label}={spec}"))
            shares = {cell: 1.0 / len(cells) for cell in cells}
        else:
            shares = {}
            for group, share in spec.items():
                cell = tuple(str(group).split(INTERSECTION)) if len(names) > 1 else (str(group),)
                if cell not in cells:
                    raise SchemaError(UNKNOWN_GROUP.format(name=label, group=group,
                                                           choices=[INTERSECTION.join(c) for c in cells]))
                shares[cell] = share
            values = np.array(list(shares.values()), float)
            if not np.all(np.isfinite(values)) or (values < 0).any() or abs(values.sum() - 1) > SHARE_TOLERANCE:
                raise SchemaError(BAD_SHARES.format(name=label, shares=dict(spec)))
            left_out = [INTERSECTION.join(c) for c in cells if c not in shares]
            if left_out:
                raise SchemaError(MISSING_GROUPS.format(name=label, groups=left_out))
            shares = {cell: share / values.sum() for cell, share in shares.items()}
        requests.append((names, shares))
    return requests


def rebalance_table(
    table: pd.DataFrame,
    rebalance: Mapping[Any, ShareSpec],
    domains: dict[str, list[str]],
    *,
    max_iterations: int = 200,
    tolerance: float = 1e-6,
) -> pd.DataFrame:
    """A copy of the condition ``table`` whose ``_weight`` gives each requested group its share.

    A group whose DP weight is zero in every cell (it looks empty under the noise) gets its
    share spread evenly over its cells: the generator then relies on what it learned from
    the other groups, as `sample` with a condition does.
    """
    requests = _normalise(rebalance, domains)
    out = table.copy()
    weights = out[WEIGHT].to_numpy(float).copy()
    targets = []  # (row mask, share) of every requested group, computed once
    for names, shares in requests:
        key = pd.Series(list(zip(*(out[n].astype(str) for n in names))), index=out.index)
        targets += [((key == cell).to_numpy(), share) for cell, share in shares.items()]
    for rows, share in targets:  # empty groups: an even spread raking can scale
        if share > 0 and weights[rows].sum() <= 0:
            weights[rows] = 1.0
    weights /= weights.sum()
    gap = np.inf
    for iteration in range(1, max_iterations + 1):
        for rows, share in targets:
            total = weights[rows].sum()
            weights[rows] = weights[rows] * (share / total) if total > 0 else 0.0
        gap = max(abs(weights[rows].sum() - share) for rows, share in targets)
        if gap <= tolerance:
            break
    if gap > SHARE_TOLERANCE:
        raise SchemaError(NOT_CONVERGED.format(gap=gap, iterations=iteration))
    out[WEIGHT] = weights
    return out


def check_no_conflict(rebalance: Mapping[Any, ShareSpec], conditions: Mapping[str, Any]) -> None:
    """A fixed condition and a share for the same attribute contradict each other."""
    for key in rebalance:
        for name in ((key,) if isinstance(key, str) else tuple(key)):
            if name in conditions:
                raise SchemaError(CONFLICT.format(name=name))


def describe(rebalance: Mapping[Any, ShareSpec]) -> dict[str, Any]:
    """JSON-ready record of a rebalance request for the privacy card and reports."""
    out: dict[str, Any] = {}
    for key, spec in rebalance.items():
        label = key if isinstance(key, str) else INTERSECTION.join(key)
        out[label] = spec if isinstance(spec, str) else {str(g): float(s) for g, s in spec.items()}
    return out


"""Hand-built sweep results tables with known answers, shared by the frontier tests.

Two DP generators (dp-vae, dp-gan) × ε {1, 2, 4, 8} × seeds {0, 1} and one NOT PRIVATE reference
(sdv-tvae, ε = ∞, seed 0). Seed 0 adds `SEED_OFFSET` to every value, seed 1 subtracts it, so the
mean over seeds is exactly the designed value. Per-group TRTR AUROC is 0.80; TSTR is 0.80 minus
the gaps of `GAPS` (logreg; gboost's are `GBOOST_GAPS` where given, else the same):

- dp-vae, sex=F reaches the 0.05 margin at ε = 4 (at ε = 2 with gboost alone); sex=M at ε = 1;
  race=white at ε = 2; race=black never; race=asian (flagged small_group) at ε = 8;
- dp-gan: no group ever reaches it; the reference reaches it everywhere (at ε = ∞).

Verdict (utility ratio, fairness, fidelity, membership rows): dp-vae fails at ε = 1 (utility),
has no fail from ε = 2; without small groups every check passes from ε = 4. dp-gan fails at ε
1 and 2 (utility), has none at 4, and fails again at 8 (membership AUC 0.62).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from dpsynth.validators.context import RESULT_COLUMNS

EPSILONS = (1.0, 2.0, 4.0, 8.0)
SEEDS = (0, 1)
SEED_OFFSET = 0.01
TRTR = 0.80
GAPS = {
    "dp-vae": {("sex", "F"): {1: 0.20, 2: 0.10, 4: 0.04, 8: 0.02}, ("sex", "M"): {1: 0.04, 2: 0.03, 4: 0.02, 8: 0.0},
               ("race", "white"): {1: 0.08, 2: 0.045, 4: 0.03, 8: 0.01}, ("race", "black"): {e: 0.20 for e in EPSILONS},
               ("race", "asian"): {1: 0.3, 2: 0.2, 4: 0.1, 8: 0.04}},
    "dp-gan": {key: {e: 0.30 for e in EPSILONS} for key in [("sex", "F"), ("sex", "M"), ("race", "white"),
                                                             ("race", "black"), ("race", "asian")]},
}
GBOOST_GAPS = {("dp-vae", "sex", "F"): {1: 0.15, 2: 0.04, 4: 0.03, 8: 0.01}}
UTILITY_RATIO = {"dp-vae": {1: 0.75, 2: 0.88, 4: 0.96, 8: 0.98}, "dp-gan": {1: 0.70, 2: 0.80, 4: 0.97, 8: 0.97}}
MEMBERSHIP_AUC = {"dp-vae": {e: 0.50 for e in EPSILONS}, "dp-gan": {1: 0.5, 2: 0.5, 4: 0.52, 8: 0.62}}
SMALL = ("race", "asian")
MODELS = ("logreg", "gboost")
FAILED_CELL = {"cell": "dp-gan_eps0.5_seed0", "generator": "dp-gan", "epsilon": 0.5, "seed": 0, "private": True,
               "status": "failed", "error": "ParameterError: lr=-1 must be > 0 (raised at fit time)",
               "seconds": 1.5, "epsilon_spent": math.nan, "delta_spent": math.nan, "peak_rss_mb": 300.0}


def cell_id(generator: str, epsilon: float, seed: int) -> str:
    return f"{generator}_seed{seed}" if math.isinf(epsilon) else f"{generator}_eps{epsilon:g}_seed{seed}"


def audit_rows(generator: str, epsilon: float, seed: int, *, small_groups: bool = True) -> list[dict]:
    """One cell's audit table (RESULT_COLUMNS) as designed above."""
    d = SEED_OFFSET if seed == 0 else -SEED_OFFSET
    reference = math.isinf(epsilon)
    rows: list[dict] = []

    def add(validator, metric, value, *, model="", source="", attribute="overall", group="", feature="",
            half=0.02, n=400, flag=""):
        rows.append(dict(validator=validator, model=model, source=source, metric=metric, attribute=attribute,
                         group=group, feature=feature, value=value + d, ci_low=value + d - half,
                         ci_high=value + d + half, n=n, flag=flag))

    ratio = 0.99 if reference else UTILITY_RATIO[generator][epsilon]
    for model in MODELS:
        add("utility", "auroc", TRTR * ratio, model=model, source="TSTR")
        add("utility", "auroc", TRTR, model=model, source="TRTR")
        add("utility", "auroc", ratio, model=model, source="ratio", half=0.03)
        for (attribute, group), gaps in GAPS["dp-vae"].items():
            if (attribute, group) == SMALL and not small_groups:
                continue
            if reference:
                gap = 0.0
            elif model == "gboost" and (generator, attribute, group) in GBOOST_GAPS:
                gap = GBOOST_GAPS[(generator, attribute, group)][epsilon]
            else:
                gap = GAPS[generator][(attribute, group)][epsilon]
            small = (attribute, group) == SMALL
            flag, n = ("small_group", 12) if small else ("", 200)
            for source, auroc in (("TSTR", TRTR - gap), ("TRTR", TRTR)):
                add("fairness", "auroc", auroc, model=model, source=source, attribute=attribute, group=group,
                    n=n, flag=flag)
                add("fairness", "tpr", auroc - 0.1, model=model, source=source, attribute=attribute, group=group,
                    n=n, flag=flag)
                add("fairness", "fpr", 1.1 - auroc, model=model, source=source, attribute=attribute, group=group,
                    n=n, flag=flag)
        for attribute in ("sex", "race"):
            add("fairness", "equalized_odds_difference", 0.05, model=model, source="TSTR", attribute=attribute)
            add("fairness", "equalized_odds_difference", 0.04, model=model, source="TRTR", attribute=attribute)
            add("fairness", "equalized_odds_difference", 0.01, model=model, source="change", attribute=attribute,
                half=0.03)
    for (attribute, group) in GAPS["dp-vae"]:
        if (attribute, group) == SMALL and not small_groups:
            continue
        small = (attribute, group) == SMALL
        flag, n = ("small_group", 12) if small else ("", 200)
        add("representation", "share_real", 0.3, attribute=attribute, group=group, half=math.nan, n=n, flag=flag)
        add("representation", "share_synthetic", 0.3 * (0.6 if small else 0.95), attribute=attribute, group=group,
            half=math.nan, n=n, flag=flag)
        add("representation", "share_ratio", 0.6 if small else 0.95, attribute=attribute, group=group,
            half=math.nan, n=n, flag=flag)
    add("fidelity", "mean_tvd", 0.05, half=math.nan)
    add("fidelity", "detection_auc", 0.8, model="detector", half=math.nan)
    auc = 0.5 if reference else MEMBERSHIP_AUC[generator][epsilon]
    add("membership", "auc", auc, model="domias", source="synthetic", feature=f"members={100 + seed},nonmembers=100",
        half=0.005)
    if not reference:
        add("membership", "dp_bound_auc", min(1.0, 0.5 + epsilon / 10), half=math.nan)
    return rows


def cells(*, small_groups: bool = True) -> list[tuple[str, float, int, bool]]:
    out = [(g, e, s, True) for g in ("dp-vae", "dp-gan") for e in EPSILONS for s in SEEDS]
    return out + [("sdv-tvae", math.inf, 0, False)]


def sweep_table(*, small_groups: bool = True) -> pd.DataFrame:
    """The sweep's results table: ``cell, generator, epsilon, seed, private`` + RESULT_COLUMNS."""
    frames = []
    for generator, epsilon, seed, private in cells(small_groups=small_groups):
        frame = pd.DataFrame(audit_rows(generator, epsilon, seed, small_groups=small_groups), columns=RESULT_COLUMNS)
        frame.insert(0, "private", private)
        frame.insert(0, "seed", seed)
        frame.insert(0, "epsilon", epsilon)
        frame.insert(0, "generator", generator)
        frame.insert(0, "cell", cell_id(generator, epsilon, seed))
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table["flag"] = table["flag"].fillna("")
    return table


def cells_frame() -> pd.DataFrame:
    """DIR/cells.csv of the sweep: every cell done, plus `FAILED_CELL`."""
    rows = [{"cell": cell_id(g, e, s), "generator": g, "epsilon": e, "seed": s, "private": p, "status": "done",
             "error": "", "seconds": 12.0, "epsilon_spent": e * 0.99 if p else math.inf,
             "delta_spent": 1e-5 if p else math.nan, "peak_rss_mb": 800.0} for g, e, s, p in cells()]
    return pd.DataFrame(rows + [FAILED_CELL])


def sweep_folder(root: Path, table: pd.DataFrame, cell_table: pd.DataFrame | None = None) -> Path:
    """A sweep folder as `dpsynth sweep` writes it (results.parquet, cells.csv, sweep.json)."""
    folder = root / "sweep"
    folder.mkdir()
    table.to_parquet(folder / "results.parquet")
    if cell_table is not None:
        cell_table.to_csv(folder / "cells.csv", index=False)
    plan = {"generators": ["dp-vae", "dp-gan"], "inputs": {"data": {"name": "toy.csv", "sha256": "0" * 64}},
            "settings": {"audit": {"min_group_size": 30}}}  # the parts of sweep.json the report reads
    (folder / "sweep.json").write_text(json.dumps(plan))
    return folder

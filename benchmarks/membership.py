"""Benchmark: membership-inference attacks against DP and NOT PRIVATE generators on SUPPORT2. Prints JSON.

The audit's attacks (`dpsynth.validators.membership`: DOMIAS-style density ratio, distance to
the closest synthetic record, and that distance relative to the closest reference record),
with the audit's tabular features, on:

- the DP generators (``--generators``, default dp-vae, dp-gan, dp-diffusion) at each ε of
  ``--epsilons`` (δ = 1e-5), fitted on the fixed train split (seed 0, 70 %), sampling as many
  rows as the train split has;
- the NOT PRIVATE reference ``--reference`` (default sdv-tvae, SDV defaults, ε = ∞);
- two deliberately overfit, NOT PRIVATE releases that show what the attacks catch:
  ``noisy-copy`` — every train row once, shuffled, each numeric value moved by Gaussian
  noise of 1 % of its public range (clipped to the bounds, integers rounded), categories
  kept: a "generator" that memorised everything; and ``sdv-tvae-overfit`` — SDV's TVAE
  trained for ``--overfit-epochs`` (2,000) epochs on a ``--overfit-rows`` (200) row subset of
  the train split (one batch per epoch), sampling ``--overfit-multiplier`` (5) times as many
  rows; the attack's members are those 200 rows (it never saw the rest).

Each release is attacked once per seed (members: a same-size sample of its train rows;
non-members: half of the holdout, the other half the attacker's reference; 200 bootstrap
resamples). Reported per run: every attack's AUC and TPR at 1 % / 0.1 % FPR with intervals
and flags, the in-audit noisy-copy control, per-group AUC (sex, race) with the AUC gap, the
card's DP bound and any ``contradicts_card`` row.

    python benchmarks/membership.py --seeds 0 > benchmarks/results/membership_support2.json

Needs the demo extra (SurvSet) and the reference extra (SDV). Timings depend on the machine:
the JSON records it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits

from dpsynth import registry
from dpsynth.data import get_dataset
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.schema import NumericColumn
from dpsynth.tabular.schema import TabularSchema
from dpsynth.validators import membership
from dpsynth.validators.context import AuditConfig, AuditContext
from dpsynth.validators.report import privacy_summary
from dpsynth.validators.suite import conform_tables
from dpsynth.validators.tabular_suite import MEMBERSHIP_FEATURES, NOT_A_FRAME, membership_features

DELTA = 1e-5
NOISE = 0.01            # noisy-copy: numeric noise as a share of the public range
ATTRIBUTES = ("sex", "race")
NOT_PRIVATE = {"epsilon": "inf", "private": False}


def noisy_copy(train: pd.DataFrame, schema: TabularSchema, rng: np.random.Generator) -> pd.DataFrame:
    """Every train row once, shuffled; numeric values + N(0, (NOISE × public range)²), clipped and
    rounded as the schema says; categories and missing values kept (NOT PRIVATE, overfit)."""
    out = train.sample(frac=1.0, random_state=int(rng.integers(2**31 - 1))).reset_index(drop=True)
    for col in schema.columns:
        if isinstance(col, NumericColumn):
            values = out[col.name].to_numpy(float)
            noisy = np.clip(values + rng.normal(0, NOISE * (col.upper - col.lower), len(values)), col.lower, col.upper)
            out[col.name] = np.round(noisy) if col.integer else noisy
    return out


def attack(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, schema: TabularSchema,
           privacy: dict[str, Any], seed: int, n_bootstrap: int) -> dict[str, Any]:
    """The audit's membership rows for one release, summarised."""
    frames = conform_tables({"train": train, "holdout": holdout, "synthetic": synthetic}, schema,
                            data_type=pd.DataFrame, not_data=NOT_A_FRAME)
    ctx = AuditContext(schema, frames["train"], frames["holdout"], frames["synthetic"],
                       config=AuditConfig(n_bootstrap=n_bootstrap, random_state=seed))
    start = time.perf_counter()
    table = membership.evaluate(ctx, membership_features(ctx), privacy=privacy)
    return summarise(table) | {"attack_seconds": round(time.perf_counter() - start, 1)}


def _estimate(row: pd.Series) -> dict[str, Any]:
    out = {"value": round(float(row.value), 4), "ci": [round(float(row.ci_low), 4), round(float(row.ci_high), 4)]}
    return out | ({"flag": row.flag} if row.flag else {})


def summarise(table: pd.DataFrame) -> dict[str, Any]:
    """Per attack: overall metrics, the control, per-group AUC and AUC gap; the card's bounds."""
    out: dict[str, Any] = {"attacks": {}}
    overall = table[(table.attribute == "overall") & (table.group == "")]
    for name in membership.ATTACKS:
        rows = overall[overall.model == name]
        entry: dict[str, Any] = {}
        for source in ("synthetic", "control"):
            part = rows[rows.source == source]
            entry[source] = {r.metric: _estimate(r) for _, r in part.iterrows()}
        entry["members_nonmembers"] = rows.feature.iloc[0] if len(rows) else ""
        for attribute in ATTRIBUTES:
            groups = table[(table.model == name) & (table.attribute == attribute) & (table.metric == "auc")]
            entry[f"auc_by_{attribute}"] = {r.group: _estimate(r) | {"counts": r.feature} for _, r in groups.iterrows()}
            gap = table[(table.model == name) & (table.attribute == attribute) & (table.metric == "auc_gap")]
            if len(gap):
                entry[f"auc_gap_{attribute}"] = _estimate(gap.iloc[0])
        out["attacks"][name] = entry
    bounds = table[table.metric.str.startswith("dp_bound_")]
    out["dp_bound"] = {r.metric.removeprefix("dp_bound_"): round(float(r.value), 5) for _, r in bounds.iterrows()}
    flagged = table[table.flag.str.contains(membership.CONTRADICTS_CARD)]
    out["contradicts_card"] = [f"{r.model} {r.metric} {r.attribute} {r.group}".strip() for _, r in flagged.iterrows()]
    return out


def run_generator(name: str, epsilon: float | None, seed: int, train, holdout, schema, params: dict,
                  n_bootstrap: int) -> dict[str, Any]:
    info = registry.get(name)
    model = registry.create(name, schema, **params)
    start = time.perf_counter()
    model.fit(train, budget=PrivacyBudget(epsilon, DELTA) if info.private else None, random_state=seed,
              progress=False)
    fit_seconds = time.perf_counter() - start
    synthetic = model.sample(len(train), random_state=seed + 1)
    privacy = privacy_summary(model.privacy_card())
    return {"release": name, "private": info.private, "epsilon": epsilon if info.private else "inf",
            "epsilon_spent": round(model.privacy_spent()[0], 4) if info.private else "inf", "seed": seed,
            "fit_seconds": round(fit_seconds, 1), "n_train_seen": len(train)} \
        | attack(train, holdout, synthetic, schema, privacy, seed, n_bootstrap)


def run_noisy_copy(seed: int, train, holdout, schema, n_bootstrap: int) -> dict[str, Any]:
    synthetic = noisy_copy(schema.conform(train)[0], schema, np.random.default_rng(seed))
    return {"release": "noisy-copy", "private": False, "epsilon": "inf", "seed": seed, "fit_seconds": 0.0,
            "n_train_seen": len(train)} | attack(train, holdout, synthetic, schema, NOT_PRIVATE, seed, n_bootstrap)


def run_overfit_tvae(seed: int, train, holdout, schema, rows: int, epochs: int, multiplier: int,
                     n_bootstrap: int) -> dict[str, Any]:
    """SDV's TVAE trained far too long on a small subset (one batch per epoch); the subset's rows
    are the attack's members."""
    subset = train.sample(n=rows, random_state=seed)
    model = registry.create("sdv-tvae", schema, epochs=epochs, batch_size=min(rows, 500))
    start = time.perf_counter()
    model.fit(subset, random_state=seed, progress=False)
    fit_seconds = time.perf_counter() - start
    synthetic = model.sample(rows * multiplier, random_state=seed + 1)
    return {"release": "sdv-tvae-overfit", "private": False, "epsilon": "inf", "seed": seed,
            "fit_seconds": round(fit_seconds, 1), "n_train_seen": rows, "epochs": epochs,
            "n_synthetic": rows * multiplier} \
        | attack(subset, holdout, synthetic, schema, NOT_PRIVATE, seed, n_bootstrap)


def table_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One flat row per run: AUC and TPR at 1 % / 0.1 % FPR of every attack (point values)."""
    out = []
    for run in runs:
        row = {k: run[k] for k in ("release", "epsilon", "seed")}
        for name, entry in run["attacks"].items():
            for metric, key in (("auc", "auc"), ("tpr_at_fpr_0.01", "tpr@1%"), ("tpr_at_fpr_0.001", "tpr@0.1%")):
                row[f"{name} {key}"] = entry["synthetic"].get(metric, {}).get("value")
        row["contradicts_card"] = len(run["contradicts_card"])
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="support2", choices=["support2", "rhc"])
    parser.add_argument("--generators", nargs="+", default=["dp-vae", "dp-gan", "dp-diffusion"])
    parser.add_argument("--epsilons", nargs="+", type=float, default=[1.0, 10.0])
    parser.add_argument("--reference", nargs="*", default=["sdv-tvae"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--overfit-rows", type=int, default=200)
    parser.add_argument("--overfit-epochs", type=int, default=2000)
    parser.add_argument("--overfit-multiplier", type=int, default=5)
    parser.add_argument("--n-bootstrap", type=int, default=200)
    parser.add_argument("--param", action="append", default=[], help="generator parameter key=json (DP generators)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and BLAS/OpenMP threads (1: on a shared 2-core machine more threads spin-wait)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    threadpool_limits(limits=args.threads)
    params = {k: json.loads(v) for k, v in (p.split("=", 1) for p in args.param)}

    dataset = get_dataset(args.dataset)
    schema = dataset.schema()
    train, holdout = dataset.split(dataset.load(), seed=0)
    started = time.perf_counter()
    runs: list[dict[str, Any]] = []

    def log(run: dict[str, Any]) -> None:
        runs.append(run)
        print(json.dumps(table_rows([run])[0]), file=sys.stderr, flush=True)

    for seed in args.seeds:
        log(run_noisy_copy(seed, train, holdout, schema, args.n_bootstrap))
        log(run_overfit_tvae(seed, train, holdout, schema, args.overfit_rows, args.overfit_epochs,
                             args.overfit_multiplier, args.n_bootstrap))
        for name in args.reference:
            log(run_generator(name, None, seed, train, holdout, schema, {}, args.n_bootstrap))
        for name in args.generators:
            for epsilon in args.epsilons:
                log(run_generator(name, epsilon, seed, train, holdout, schema, params, args.n_bootstrap))
    result = {
        "benchmark": "membership",
        "dataset": {"name": dataset.name, "source": dataset.source, "outcome": dataset.outcome,
                    "n_train": len(train), "n_holdout": len(holdout), "subsampled": False},
        "delta": DELTA, "seeds": args.seeds,
        "seed_note": "one seed per release (time): intervals are bootstrap intervals over the attacked records, "
                     "not over refits" if len(args.seeds) == 1 else "",
        "date": date.today().isoformat(), "total_seconds": round(time.perf_counter() - started, 1),
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform()},
        "attack_settings": {"density_components": membership.DENSITY_COMPONENTS,
                            "control_shift": membership.CONTROL_SHIFT, "fprs": list(membership.FPRS),
                            "n_bootstrap": args.n_bootstrap, "features": MEMBERSHIP_FEATURES},
        "overfit": {"noisy-copy": f"every train row, numeric noise {NOISE:g} x public range",
                    "sdv-tvae-overfit": f"sdv-tvae, {args.overfit_epochs} epochs on {args.overfit_rows} train rows, "
                                        f"{args.overfit_multiplier} x as many rows sampled (the attack's members "
                                        "are those rows)"},
        "params": params, "table": table_rows(runs), "runs": runs,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

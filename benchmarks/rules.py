"""Declared rules, measured: a generator fitted with and without the schema's rules. Prints JSON.

On the benchmark's fixed split (seed 0, 30 % holdout, as benchmarks/tabular.py), fit the
generator twice per seed at the same ε — once on the shipped schema (its rules declared) and
once on the same schema without ``rules`` — sample as many rows as the train part, and report
for each: the share of synthetic rows that keep every declared rule (per rule), and the AUROC on
the holdout of logistic regression and gradient boosting trained on the synthetic rows (TSTR),
next to the same models trained on the real train rows (TRTR). The real shares are given beside.

    python benchmarks/rules.py --dataset support2 --generator dp-vae --epsilon 1 --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import date

import torch

from dpsynth import registry
from dpsynth.data import get_dataset
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.tabular.schema import TabularSchema

from tune import auroc  # noqa: E402  (benchmarks/tune.py)

DELTA = 1e-5
MODELS = ("logreg", "gboost")


def without_rules(schema: TabularSchema) -> TabularSchema:
    spec = schema.to_dict()
    spec.pop("rules", None)
    return TabularSchema.from_dict(spec)


def rule_shares(schema: TabularSchema, frame) -> dict[str, float]:
    return {rule.label: round(float(rule.holds(frame).mean()), 4) for rule in schema.rules}


def run_one(schema, train, holdout, generator: str, epsilon: float, seed: int, declared: bool,
            params: dict) -> dict:
    fit_schema = schema if declared else without_rules(schema)
    model = registry.create(generator, fit_schema, **params)
    start = time.perf_counter()
    model.fit(train, budget=PrivacyBudget(epsilon, DELTA), random_state=seed, progress=False)
    seconds = time.perf_counter() - start
    synthetic = schema.conform(model.sample(len(train), random_state=seed + 1), check_rules=False)[0]
    row = {"rules_declared": declared, "seed": seed, "epsilon_spent": round(model.privacy_spent()[0], 4),
           "fit_seconds": round(seconds, 1), "synthetic_rule_share": rule_shares(schema, synthetic)}
    for m in MODELS:
        row[f"tstr_auroc_{m}"] = round(auroc(schema, synthetic, holdout, m, seed), 4)
    return row


def summarise(runs: list[dict]) -> list[dict]:
    out = []
    for declared in (False, True):
        part = [r for r in runs if r["rules_declared"] is declared]
        if not part:
            continue
        row = {"rules_declared": declared, "seeds": len(part)}
        for rule in part[0]["synthetic_rule_share"]:
            row[f"synthetic_rule_share[{rule}]"] = round(statistics.median(r["synthetic_rule_share"][rule]
                                                                           for r in part), 4)
        for m in MODELS:
            row[f"tstr_auroc_{m}"] = round(statistics.median(r[f"tstr_auroc_{m}"] for r in part), 4)
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="support2")
    parser.add_argument("--generator", default="dp-vae")
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--param", action="append", default=[], help="generator parameter key=json")
    args = parser.parse_args(argv)
    params = {k: json.loads(v) for k, v in (p.split("=", 1) for p in args.param)}

    dataset = get_dataset(args.dataset)
    schema = dataset.schema()
    if not schema.rules:
        parser.error(f"the {args.dataset} schema declares no rules: nothing to compare")
    train, holdout = dataset.split(dataset.load(), seed=0)
    real_train, real_holdout = schema.conform(train)[0], schema.conform(holdout)[0]
    trtr = {m: round(auroc(schema, real_train, real_holdout, m, 0), 4) for m in MODELS}
    runs = []
    for seed in args.seeds:
        for declared in (False, True):
            runs.append(run_one(schema, train, real_holdout, args.generator, args.epsilon, seed, declared,
                                params))
            print(json.dumps(runs[-1]), flush=True, file=sys.stderr)
    result = {
        "benchmark": "rules", "dataset": args.dataset, "source": dataset.source, "outcome": dataset.outcome,
        "n_train": len(train), "n_holdout": len(holdout), "generator": args.generator,
        "epsilon_budget": args.epsilon, "delta": DELTA, "params": params, "date": date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "platform": platform.platform()},
        "rules": [rule.to_dict() | {"label": rule.label} for rule in schema.rules],
        "real_rule_share": {"train": rule_shares(schema, real_train), "holdout": rule_shares(schema, real_holdout)},
        "trtr": {f"trtr_auroc_{m}": v for m, v in trtr.items()},
        "medians": summarise(runs), "runs": runs,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

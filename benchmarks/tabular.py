"""Benchmark: tabular generators on SUPPORT2 and RHC — utility, fairness, fidelity, cost. Prints JSON.

For each data set, generator, ε and seed: fit on the fixed train split (seed 0, 70 %),
sample as many rows as the train split has, audit against the real holdout. Reports per
run and the median over seeds: TSTR and TRTR AUROC (logistic regression, gradient
boosting), the equalized-odds difference of TSTR and TRTR models and its change (sex,
race), per-group TSTR AUROC, mean TVD, detection AUC, fit seconds, and the DP-SGD step
time relative to the same step without DP; each median row also counts its runs whose
TSTR AUROC is below chance. Non-private references (sdv-*) run once per
seed with ε = inf. ``--rebalance race=equal`` also audits a second sample of each
private model with those subgroup shares (keys ``rebalanced.*``).

    python benchmarks/tabular.py --datasets support2 rhc --epsilons 1 10 --seeds 0 1 2 \
        --rebalance race=equal > benchmarks/results/tabular.json

Needs the demo extra (SurvSet). Timings depend on the machine: the JSON records it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date

import numpy as np
import torch

from dpsynth import registry
from dpsynth.data import DATASETS, get_dataset
from dpsynth.devices import module_device
from dpsynth.families.training import PerUnitLoss, keep_rows, train_dpsgd
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.dpsgd import DPSGDPlan
from dpsynth.privacy.rebalance import describe, parse_rebalance

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summary import MODELS, audit_and_summarise, medians  # noqa: E402  (benchmarks/summary.py)

DELTA = 1e-5


def step_cost_ratio(model, train, steps: int = 40) -> dict[str, float]:
    """Seconds per DP-SGD step (ghost clipping, Poisson) over seconds per plain Adam step.

    Same module architecture, same data, the same expected batch size (the DP step's
    q × units: all units when the batch size exceeds them) and the same rows per
    unit (the model's ``rows_per_step`` draw, `keep_rows`, in both); warm-up excluded.
    Works for any modality (the model's own conform/encode hooks build the unit tensors),
    on the device the model was fitted on.
    """
    device = module_device(model.module_)
    schema, codec = model.schema_, model.codec_
    conformed = model._conform(train, schema)[0]
    tensors = model._unit_tensors(conformed, codec, model._condition_groups(conformed, schema)[0], schema,
                                   np.random.default_rng(0))
    batch, sample_rate, n_units = model.plan_.batch_size, model.plan_.sample_rate, len(tensors[0])  # as the fit ran
    rows = model.training.rows_per_step
    expected_batch = round(sample_rate * n_units)  # the plain step uses the DP step's expected batch

    fresh = model._build_module(codec).to(device)
    plan = DPSGDPlan(noise_multiplier=1.0, sample_rate=sample_rate, steps=steps,
                     max_grad_norm=1.0, accountant="rdp", delta=DELTA, epsilon=0.0, batch_size=batch,
                     n_units=n_units)
    train_dpsgd(fresh, tensors, plan, lr=1e-3, rows_per_step=rows, progress=False)  # warm-up
    fresh = model._build_module(codec).to(device)
    dp_seconds = train_dpsgd(fresh, tensors, plan, lr=1e-3, rows_per_step=rows, progress=False).seconds / steps

    plain = model._build_module(codec).to(device)
    optimizer = torch.optim.Adam(plain.parameters(), lr=1e-3)
    criterion = PerUnitLoss()
    generator = torch.Generator().manual_seed(0)

    def plain_steps(k: int) -> float:
        start = time.perf_counter()
        for _ in range(k):
            idx = torch.randint(0, n_units, (expected_batch,), generator=generator)
            optimizer.zero_grad()
            criterion(plain(*keep_rows([t[idx].to(device) for t in tensors], rows))).backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - start) / k

    plain_steps(5)
    plain_seconds = plain_steps(steps)
    return {"dp_step_seconds": dp_seconds, "plain_step_seconds": plain_seconds,
            "dp_step_cost_ratio": dp_seconds / plain_seconds}


def run_one(dataset, generator: str, epsilon: float, seed: int, params: dict,
            rebalance: dict | None) -> dict:
    """Fit, sample as many rows as the train split has, audit; with ``rebalance`` also audit
    a second sample of the same model with the requested subgroup shares."""
    train, holdout = SPLITS[dataset.name]
    info = registry.get(generator)
    model = registry.create(generator, dataset.schema(), **params)
    budget = PrivacyBudget(epsilon, DELTA) if info.private else None
    start = time.perf_counter()
    model.fit(train, budget=budget, random_state=seed, progress=False)
    fit_seconds = time.perf_counter() - start
    synthetic = model.sample(len(train), random_state=seed + 1)
    out = {"dataset": dataset.name, "generator": generator, "private": info.private,
           "epsilon_budget": epsilon if info.private else "inf",
           "epsilon_spent": round(model.privacy_spent()[0], 4) if info.private else "inf",
           "seed": seed, "fit_seconds": round(fit_seconds, 1)}
    out |= audit_and_summarise(train=train, holdout=holdout, synthetic=synthetic, schema=dataset.schema(),
                               seed=seed)
    if rebalance and info.private:
        balanced = model.sample(len(train), rebalance=rebalance, random_state=seed + 1)
        summary = audit_and_summarise(train=train, holdout=holdout, synthetic=balanced,
                                      schema=dataset.schema(), seed=seed)
        out |= {f"rebalanced.{k}": v for k, v in summary.items() if "trtr" not in k}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["support2"], choices=sorted(DATASETS))
    parser.add_argument("--generators", nargs="+", default=["dp-vae"])
    parser.add_argument("--epsilons", nargs="+", type=float, default=[1.0, 10.0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--param", action="append", default=[], help="generator parameter key=json")
    parser.add_argument("--rebalance", action="append", default=[],
                        help="also audit a sample with these subgroup shares, e.g. race=equal")
    parser.add_argument("--no-step-cost", action="store_true", help="skip the DP step cost measurement")
    args = parser.parse_args(argv)
    params = {k: json.loads(v) for k, v in (p.split("=", 1) for p in args.param)}
    rebalance = parse_rebalance(args.rebalance)

    runs = []
    for name in args.datasets:
        dataset = get_dataset(name)
        SPLITS[name] = dataset.split(dataset.load(), seed=0)
        for generator in args.generators:
            private = registry.get(generator).private
            for epsilon in (args.epsilons if private else [float("inf")]):
                for seed in args.seeds:
                    runs.append(run_one(dataset, generator, epsilon, seed, params, rebalance))
                    print(json.dumps(runs[-1]), file=sys.stderr)
    step_cost = {}
    for generator in ([] if args.no_step_cost else args.generators):
        dataset = get_dataset(args.datasets[0])
        cost_model = registry.create(generator, dataset.schema(), **params)
        info = registry.get(generator)
        if not info.private or info.family == "gan" or info.cls.training_mechanism != "dp-sgd":
            step_cost[generator] = "n/a: not private, the family runs its own multi-network loop, or no DP-SGD"
            continue
        train = SPLITS[dataset.name][0]
        cost_model.fit(train, budget=PrivacyBudget(1.0, DELTA), random_state=0, progress=False)
        step_cost[generator] = step_cost_ratio(cost_model, train)
    result = {
        "benchmark": "tabular",
        "datasets": {name: {"source": get_dataset(name).source, "outcome": get_dataset(name).outcome,
                            "n_train": len(SPLITS[name][0]), "n_holdout": len(SPLITS[name][1])}
                     for name in args.datasets},
        "delta": DELTA, "date": date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform()},
        "params": params, "rebalance": describe(rebalance),
        "medians": medians(runs, ("dataset", "generator", "epsilon_budget"),
                           below_chance=tuple(f"tstr_auroc_{m}" for m in MODELS)),
        "runs": runs,
        "step_cost": step_cost,
    }
    print(json.dumps(result, indent=2))


SPLITS: dict = {}

if __name__ == "__main__":
    main()

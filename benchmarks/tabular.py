"""Benchmark: DP tabular generators on SUPPORT2 — utility, fairness, fidelity, cost. Prints JSON.

For each ε and seed: fit on the fixed train split (seed 0, 70 %), sample as many rows as
the train split has, audit against the real holdout. Reports per run and the median over
seeds: TSTR and TRTR AUROC (logistic regression, gradient boosting), the equalized-odds
difference of TSTR and TRTR models and its change (sex, race), mean TVD, detection AUC,
fit seconds, and the DP-SGD step time relative to the same step without DP.

    python benchmarks/tabular.py --epsilons 1 10 --seeds 0 1 2 > benchmarks/results/tabular.json

Needs the demo extra (SurvSet). Timings depend on the machine: the JSON records it.
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
from dpsynth.data.support2 import load_support2, split_support2, support2_schema
from dpsynth.families.training import PerUnitLoss, train_dpsgd
from dpsynth.generator import TabularGenerator
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.dpsgd import DPSGDPlan
from dpsynth.validators import audit
from dpsynth.validators.context import AuditConfig

DELTA = 1e-5


def step_cost_ratio(model, steps: int = 40) -> dict[str, float]:
    """Seconds per DP-SGD step (ghost clipping, Poisson) over seconds per plain Adam step.

    Same module architecture, same data and same (expected) batch size; warm-up excluded.
    """
    frame, codec = model.schema_.conform(TRAIN)[0], model.codec_
    tensors = model._unit_tensors(frame, codec, model.schema_.group_labels(frame), model.schema_, 0)
    batch = model.training.batch_size

    fresh = model._build_module(codec)
    plan = DPSGDPlan(noise_multiplier=1.0, sample_rate=1 / -(-len(frame) // batch), steps=steps,
                     max_grad_norm=1.0, accountant="rdp", delta=DELTA, epsilon=0.0, batch_size=batch,
                     n_units=len(frame))
    train_dpsgd(fresh, tensors, plan, lr=1e-3, progress=False)  # warm-up
    fresh = model._build_module(codec)
    dp_seconds = train_dpsgd(fresh, tensors, plan, lr=1e-3, progress=False).seconds / steps

    plain = model._build_module(codec)
    optimizer = torch.optim.Adam(plain.parameters(), lr=1e-3)
    criterion = PerUnitLoss()
    generator = torch.Generator().manual_seed(0)

    def plain_steps(k: int) -> float:
        start = time.perf_counter()
        for _ in range(k):
            idx = torch.randint(0, len(frame), (batch,), generator=generator)
            optimizer.zero_grad()
            criterion(plain(*(t[idx] for t in tensors))).backward()
            optimizer.step()
        return (time.perf_counter() - start) / k

    plain_steps(5)
    plain_seconds = plain_steps(steps)
    return {"dp_step_seconds": dp_seconds, "plain_step_seconds": plain_seconds,
            "dp_step_cost_ratio": dp_seconds / plain_seconds}


def metric(report, **where) -> float:
    return round(report.value(**where), 4)


def run_one(generator: str, epsilon: float, seed: int, params: dict) -> dict:
    model = registry.create(generator, support2_schema(), **params)
    start = time.perf_counter()
    model.fit(TRAIN, budget=PrivacyBudget(epsilon, DELTA), random_state=seed, progress=False)
    fit_seconds = time.perf_counter() - start
    synthetic = model.sample(len(TRAIN), random_state=seed + 1)
    report = audit(train=TRAIN, holdout=HOLDOUT, synthetic=synthetic, schema=model.schema_,
                   config=AuditConfig(n_bootstrap=50, random_state=seed), progress=False)
    out = {"generator": generator, "epsilon_budget": epsilon, "epsilon_spent": round(model.privacy_spent()[0], 4),
           "seed": seed, "fit_seconds": round(fit_seconds, 1)}
    for model_name in ("logreg", "gboost"):
        for source in ("TSTR", "TRTR"):
            out[f"{source.lower()}_auroc_{model_name}"] = metric(
                report, validator="utility", source=source, model=model_name, metric="auroc", attribute="overall")
    for attribute in ("sex", "race"):
        for source in ("TSTR", "TRTR", "change"):
            out[f"eod_{source.lower()}_{attribute}_gboost"] = metric(
                report, validator="fairness", source=source, model="gboost",
                metric="equalized_odds_difference", attribute=attribute, group="")
    out["mean_tvd"] = metric(report, validator="fidelity", metric="mean_tvd", attribute="overall", feature="")
    out["detection_auc"] = metric(report, validator="fidelity", metric="detection_auc", attribute="overall")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generators", nargs="+", default=["dp-vae"])
    parser.add_argument("--epsilons", nargs="+", type=float, default=[1.0, 10.0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--param", action="append", default=[], help="generator parameter key=json")
    args = parser.parse_args(argv)
    params = {k: json.loads(v) for k, v in (p.split("=", 1) for p in args.param)}

    global TRAIN, HOLDOUT
    TRAIN, HOLDOUT = split_support2(load_support2(), seed=0)
    runs = []
    for generator in args.generators:
        for epsilon in args.epsilons:
            for seed in args.seeds:
                runs.append(run_one(generator, epsilon, seed, params))
                print(json.dumps(runs[-1]), file=sys.stderr)
    medians = []
    for generator in args.generators:
        for epsilon in args.epsilons:
            group = [r for r in runs if r["generator"] == generator and r["epsilon_budget"] == epsilon]
            keys = [k for k in group[0] if isinstance(group[0][k], (int, float)) and k not in ("seed",)]
            medians.append({"generator": generator, "epsilon_budget": epsilon, "seeds": len(group)}
                           | {k: round(statistics.median(r[k] for r in group), 4) for k in keys
                              if k != "epsilon_budget"})
    step_cost = {}
    for generator in args.generators:
        cost_model = registry.create(generator, support2_schema(), **params)
        if type(cost_model)._train is not TabularGenerator._train:
            step_cost[generator] = "n/a: the family runs its own multi-network loop"
            continue
        cost_model.fit(TRAIN, budget=PrivacyBudget(1.0, DELTA), random_state=0, progress=False)
        step_cost[generator] = step_cost_ratio(cost_model)
    result = {
        "benchmark": "tabular", "dataset": "SUPPORT2 (SurvSet), outcome death within 180 days",
        "n_train": len(TRAIN), "n_holdout": len(HOLDOUT), "delta": DELTA, "date": date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform()},
        "params": params, "medians": medians, "runs": runs, "step_cost": step_cost,
    }
    print(json.dumps(result, indent=2))


TRAIN = HOLDOUT = None

if __name__ == "__main__":
    main()

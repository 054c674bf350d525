"""Benchmark: the one-run privacy audit of DP training (Steinke, Nasr & Jagielski 2023). Prints JSON.

Each case runs `dpsynth.privacy_audit.one_run_audit`: m canaries (random records inside
the public schema), each included with probability ½ by a secret coin, one fit with the
generator's own settings, one membership score per canary, and the empirical ε lower bound
at 95 % confidence beside the card's ε. Cases (``--cases``, default all), each once per
public seed (``--seeds``; the secret coins differ in every run anyway):

- ``dp-vae``, ``dp-gan``, ``dp-diffusion`` on SUPPORT2 (the train split: seed 0, 70 %);
- ``dp-series-vae`` on the SIMULATED ECG cohort (train subjects; seed 0, 30 % holdout);
- ``dp-image-vae`` on scikit-learn's digits (train split; not medical);
- ``*-noise-off``: dp-vae on SUPPORT2 and dp-image-vae on digits with DP-SGD's Gaussian
  noise replaced by zeros (a benchmark-only monkeypatch of opacus; clipping, sampling and the
  accountant unchanged, so the card still claims ε) — a broken mechanism the audit must
  flag; ``dp-vae-noise-off-no-clipping`` also lifts the clip norm to 100 (`STRONG_SIGNAL`).

Expected: the bound stays at or below the card's ε for every private case, and exceeds it
for the noise-off cases where the attack sees them (``checks`` in the JSON). All at ε = 1,
δ = 1e-5, the generators' default settings unless said (``changed_params``, ``--epochs``).
Timings depend on the machine and its load: the JSON records the machine and torch's
thread count (one thread is much faster on a shared, loaded 2-core machine).

    OMP_NUM_THREADS=1 python benchmarks/privacy_audit.py > benchmarks/results/privacy_audit.json

Needs the demo extra (SurvSet) for SUPPORT2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import pkgutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import date
from typing import Any

import numpy as np
import torch

from dpsynth.data import get_dataset, image_sets, series_sets
from dpsynth.privacy_audit import one_run_audit

DELTA = 1e-5


def support2() -> tuple[Any, Any, str]:
    dataset = get_dataset("support2")
    train, _ = dataset.split(dataset.load(), seed=0)
    return train, dataset.schema(), "support2 (REAL; train split, seed 0, 70 %)"


def ecg_cohort() -> tuple[Any, Any, str]:
    train, _ = series_sets.split_ecg_cohort(series_sets.load_ecg_cohort(), seed=0)
    return train, series_sets.ecg_cohort_schema(), "ecg_cohort (SIMULATED on a real ECG; train subjects)"


def digits() -> tuple[Any, Any, str]:
    train, _ = image_sets.split_digits(image_sets.load_digits_images(), seed=0)
    return train, image_sets.digits_schema(), "digits (scikit-learn 8x8 digits; not medical; train split)"


STRONG_SIGNAL = {"max_grad_norm": 100.0}
"""A clip norm that no unit's gradient reaches: with the noise off, plain Adam that can
memorise a canary. (With the noise on it would cost no ε either: the noise scales with it.)"""

CASES: dict[str, tuple[str, Callable[[], tuple[Any, Any, str]], bool, dict[str, Any]]] = {
    # name -> (generator, data, DP-SGD noise on, parameters beyond the generator's defaults)
    "dp-vae": ("dp-vae", support2, True, {}),
    "dp-gan": ("dp-gan", support2, True, {}),
    "dp-diffusion": ("dp-diffusion", support2, True, {}),
    "dp-series-vae": ("dp-series-vae", ecg_cohort, True, {}),
    "dp-image-vae": ("dp-image-vae", digits, True, {}),
    "dp-vae-noise-off": ("dp-vae", support2, False, {}),
    "dp-vae-noise-off-no-clipping": ("dp-vae", support2, False, STRONG_SIGNAL),
    "dp-image-vae-noise-off": ("dp-image-vae", digits, False, {}),
}


@contextmanager
def dpsgd_noise_off() -> Iterator[None]:
    """BENCHMARK ONLY: opacus' Gaussian noise replaced by zeros in every optimizer module;
    clipping, Poisson sampling and the accountant are unchanged, so the card claims its ε."""
    import opacus.optimizers

    def no_noise(std, reference, generator=None, secure_mode=False):
        return torch.zeros_like(reference)

    saved = []
    for info in pkgutil.iter_modules(opacus.optimizers.__path__):
        module = importlib.import_module(f"opacus.optimizers.{info.name}")
        if hasattr(module, "_generate_noise"):
            saved.append((module, module._generate_noise))
            module._generate_noise = no_noise
    try:
        yield
    finally:
        for module, original in saved:
            module._generate_noise = original


def run_case(name: str, *, epsilon: float, canaries: int, draws: int, seed: int,
             epochs: float | None) -> dict[str, Any]:
    generator, load, noise_on, params = CASES[name]
    data, schema, description = load()
    params = params | ({} if epochs is None else {"epochs": epochs})
    with nullcontext() if noise_on else dpsgd_noise_off():
        result = one_run_audit(data=data, schema=schema, generator=generator, epsilon=epsilon, delta=DELTA,
                               canaries=min(canaries, schema.count_units(data)), params=params, draws=draws,
                               seed=seed, progress=False)
    row = result.to_dict()
    row.pop("note")
    return {"case": name, "dataset": description, "dp_sgd_noise": "on" if noise_on else "OFF (benchmark-only patch)",
            "changed_params": params, **row}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES))
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--canaries", type=int, default=1000, help="m (at most the data's privacy units)")
    parser.add_argument("--draws", type=int, default=16, help="score draws per canary")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                        help="public seeds (canary content, initial weights); the secret coins differ every run")
    parser.add_argument("--epochs", type=float, default=None, help="override every generator's epochs")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    runs = []
    for name in args.cases:
        for seed in args.seeds:
            start = time.perf_counter()
            runs.append(run_case(name, epsilon=args.epsilon, canaries=args.canaries, draws=args.draws, seed=seed,
                                 epochs=args.epochs) | {"wall_seconds": round(time.perf_counter() - start, 1)})
            print(f"{name} seed {seed}: bound {runs[-1]['epsilon_lower_bound']:.3f}, "
                  f"card {runs[-1]['card_epsilon']:.3f}", file=sys.stderr, flush=True)
    private = [r for r in runs if r["dp_sgd_noise"] == "on"]
    broken = [r for r in runs if r["dp_sgd_noise"] != "on"]
    summary = {name: {"generator": CASES[name][0], "dp_sgd_noise": "on" if CASES[name][2] else "OFF",
                      "card_epsilon": max(r["card_epsilon"] for r in runs if r["case"] == name),
                      "bounds": [round(r["epsilon_lower_bound"], 3) for r in runs if r["case"] == name],
                      "contradicts_card": [r["contradicts_card"] for r in runs if r["case"] == name],
                      "median_wall_seconds": float(np.median([r["wall_seconds"] for r in runs if r["case"] == name]))}
               for name in args.cases}
    print(json.dumps({
        "benchmark": "privacy_audit (one run; Steinke, Nasr & Jagielski 2023)",
        "note": "uses real data; not differentially private; not a release",
        "date": date.today().isoformat(),
        "epsilon": args.epsilon, "delta": DELTA, "canaries": args.canaries, "draws": args.draws, "seeds": args.seeds,
        "epochs": args.epochs if args.epochs is not None else "generator defaults",
        "confidence": 0.95,
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "platform": platform.platform()},
        "checks": {"every_private_bound_within_its_card": all(not r["contradicts_card"] for r in private),
                   "noise_off_bound_exceeds_its_card": {name: all(v["contradicts_card"]) for name, v in summary.items()
                                                        if v["dp_sgd_noise"] == "OFF"}},
        "summary": summary,
        "runs": runs,
    }, indent=2))


if __name__ == "__main__":
    main()

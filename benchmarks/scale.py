"""Benchmark: peak memory and wall time against the number of rows. Prints JSON.

SUPPORT2's rows resampled (seeded, with replacement) to each ``--rows`` size and written as
CSV; then, each in its own process, through the `dpsynth` command:

- ``fit``: ``dpsynth generate`` with dp-vae, ε = 1, one epoch (``--param epochs=1``), 1,000
  synthetic rows — loading, checking, encoding, DP-SGD and writing the bundle;
- ``sample``: ``dpsynth sample`` of each of ``--sample-rows`` (100,000 and 1,000,000) rows
  from the model fitted at the smallest size, written as CSV;
- ``audit``: ``dpsynth audit`` at the sizes of ``--audit-rows`` (default 100,000 train rows,
  a holdout of a third of that, as many synthetic rows as train rows), 50 bootstrap resamples.

Peak memory is the process's maximum resident set size (``getrusage``), wall time the
command's. The target is a peak at 1,000,000 rows within 1.5x of the peak at 100,000.

    python benchmarks/scale.py > benchmarks/results/scale.json

Needs the demo extra (SurvSet). Timings and memory depend on the machine: the JSON records it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from dpsynth.data.support2 import load_support2, split_support2, support2_schema

# Runs one command as a child and prints its peak resident memory (KiB on Linux) on the last line.
MEASURE = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")


def measure(command: list[str]) -> dict:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    peak_kib = int(done.stdout.strip().splitlines()[-1])
    return {"seconds": round(seconds, 1), "peak_rss_mib": round(peak_kib / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000", help="fit sizes (comma-separated)")
    parser.add_argument("--sample-rows", default="100000,1000000", help="sample sizes (comma-separated)")
    parser.add_argument("--audit-rows", default="100000", help="audit sizes (comma-separated; empty: none)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.rows.split(",")]
    audit_sizes = [int(s) for s in args.audit_rows.split(",") if s]
    dpsynth = [sys.executable, "-m", "dpsynth"]
    env_note = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}
    results: dict = {"benchmark": "scale", "date": date.today().isoformat(), "python": platform.python_version(),
                     "machine": platform.machine(), "cpus": os.cpu_count(), "env": env_note,
                     "generator": "dp-vae", "epsilon": 1.0, "epochs": 1, "fit": [], "sample": [], "audit": []}
    train, holdout = split_support2(load_support2(), seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="dpsynth-scale-") as tmp:
        root = Path(tmp)
        support2_schema().save(root / "schema.yaml")

        def table(frame, n: int, name: str) -> Path:
            path = root / f"{name}_{n}.csv"
            if not path.exists():
                frame.sample(n, replace=True, random_state=args.seed).to_csv(path, index=False)
            return path

        for n in sizes:
            out = root / f"release_{n}"
            run = measure([*dpsynth, "generate", "--data", str(table(train, n, "train")), "--schema",
                           str(root / "schema.yaml"), "--out", str(out), "--epsilon", "1", "--rows", "1000",
                           "--param", "epochs=1", "--seed", str(args.seed)])
            results["fit"].append({"rows": n, **run})
            print(json.dumps({"fit": n, **run}), file=sys.stderr)
        model = root / f"release_{min(sizes)}" / "model"
        for n in [int(s) for s in args.sample_rows.split(",") if s]:
            run = measure([*dpsynth, "sample", "--model", str(model), "--rows", str(n), "--out",
                           str(root / f"sampled_{n}.csv")])
            results["sample"].append({"rows": n, **run})
            print(json.dumps({"sample": n, **run}), file=sys.stderr)
        for n in audit_sizes:
            synthetic = root / f"synthetic_{n}.csv"
            subprocess.run([*dpsynth, "sample", "--model", str(model), "--rows", str(n), "--out", str(synthetic)],
                           check=True, capture_output=True)
            run = measure([*dpsynth, "audit", "--train", str(table(train, n, "train")), "--holdout",
                           str(table(holdout, n // 3, "holdout")), "--synthetic", str(synthetic), "--schema",
                           str(root / "schema.yaml"), "--out", str(root / f"audit_{n}"), "--bootstrap", "50"])
            results["audit"].append({"rows": n, **run})
            print(json.dumps({"audit": n, **run}), file=sys.stderr)
    for stage in ("fit", "sample"):
        peaks = {r["rows"]: r["peak_rss_mib"] for r in results[stage]}
        if 100_000 in peaks and 1_000_000 in peaks:
            ratio = peaks[1_000_000] / peaks[100_000]
            results[f"{stage}_peak_ratio_1m_vs_100k"] = round(ratio, 2)
            results[f"{stage}_peak_target_met"] = ratio <= 1.5
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

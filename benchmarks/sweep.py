"""Benchmark: `dpsynth sweep` on a local Ray against the same cells one after another. Prints JSON.

SUPPORT2 (split seed 0, written as CSV with the shipped schema); by default dp-vae and dp-gan at
ε ∈ {0.5, 1, 2, 4, 8} with seeds 0, 1, 2 (30 cells), audited with 200 bootstrap resamples. The
same cells run twice:

- ``ray``: `dpsynth.sweep.run_sweep` on a local Ray, ``--workers`` cells in flight, one CPU each;
- ``serial``: `dpsynth.sweep_cell.run_cell` on each cell in this process, one after another, no
  Ray (``--serial-cells N`` runs only the first N of them and says so).

Reported: wall times, the speed-up (serial seconds per cell × cells / Ray wall time), Ray's cost
per cell (the Ray run's worker-seconds per cell minus the cells' own mean seconds), peak memory of
the driver and of the workers, and the frontier: per generator, sensitive attribute and group,
the smallest ε whose TSTR AUROC (mean over seeds) is within ``--margin`` of its TRTR AUROC
(`dpsynth.validators.frontier.price_of_privacy`). The sweep's report (with its plots) is copied
to ``--keep-report`` when given.

    python benchmarks/sweep.py > benchmarks/results/sweep.json

Needs the demo, parquet and sweep extras. Each fit's private randomness comes from OS entropy: the
numbers vary from run to run within the seeds' spread.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd

from dpsynth.data.support2 import load_support2, split_support2, support2_schema
from dpsynth.sweep import run_sweep
from dpsynth.sweep_cell import CellTask, run_cell
from dpsynth.sweep_plan import Cell
from dpsynth.validators.context import AuditConfig
from dpsynth.validators.frontier import price_of_privacy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generators", default="dp-vae,dp-gan")
    parser.add_argument("--epsilons", default="0.5,1,2,4,8")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--workers", type=int, default=2, help="cells in flight on the local Ray")
    parser.add_argument("--serial-cells", type=int, default=None, help="cells run serially (default: all)")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--margin", type=float, default=0.05)
    parser.add_argument("--keep-report", type=Path, default=None, help="copy the sweep's report/ folder here")
    args = parser.parse_args()
    generators = args.generators.split(",")
    epsilons = [float(e) for e in args.epsilons.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    config = AuditConfig(n_bootstrap=args.bootstrap)
    results: dict = {"benchmark": "sweep", "date": date.today().isoformat(), "python": platform.python_version(),
                     "machine": platform.machine(), "cpus": os.cpu_count(), "dataset": "SUPPORT2 (split seed 0)",
                     "generators": generators, "epsilons": epsilons, "seeds": seeds, "workers": args.workers,
                     "bootstrap": args.bootstrap, "margin": args.margin}
    train, holdout = split_support2(load_support2(), seed=0)
    with tempfile.TemporaryDirectory(prefix="dpsynth-sweep-") as tmp:
        root = Path(tmp)
        paths = {"data": root / "train.csv", "holdout": root / "holdout.csv", "schema": root / "schema.yaml"}
        train.to_csv(paths["data"], index=False)
        holdout.to_csv(paths["holdout"], index=False)
        support2_schema().save(paths["schema"])

        start = time.perf_counter()
        sweep = run_sweep(**paths, generators=generators, epsilons=epsilons, seeds=seeds, out_dir=root / "sweep",
                          audit_config=config, max_parallel=args.workers, cpus_per_cell=1, progress=True)
        ray_wall = time.perf_counter() - start
        done = sweep.cells[sweep.cells["status"] == "done"]
        cell_seconds = float(done["seconds"].mean())
        results["ray"] = {"wall_s": round(ray_wall, 1), "cells": len(sweep.cells), "failed": sweep.failed,
                          "cell_mean_s": round(cell_seconds, 1),
                          "worker_peak_rss_mb": round(float(done["peak_rss_mb"].max()), 1),
                          "overhead_per_cell_s": round(ray_wall * args.workers / len(done) - cell_seconds, 1)}
        print(json.dumps({"ray": results["ray"]}), file=sys.stderr)
        if args.keep_report is not None:
            shutil.copytree(root / "sweep" / "report", args.keep_report, dirs_exist_ok=True)

        cells = [Cell(g, e, s, True) for g in generators for e in epsilons for s in seeds]
        if args.serial_cells is not None:
            cells = cells[: args.serial_cells]
        task = CellTask(cell=cells[0], target=root / "serial" / "x", **paths, audit_config=config)
        start = time.perf_counter()
        outcomes = [run_cell(replace(task, cell=cell, target=root / "serial" / cell.cell_id)) for cell in cells]
        serial_wall = time.perf_counter() - start
        per_cell = serial_wall / len(cells)
        results["serial"] = {"wall_s": round(serial_wall, 1), "cells": len(cells),
                             "failed": [o.cell.cell_id for o in outcomes if not o.ok],
                             "cell_mean_s": round(per_cell, 1),
                             "driver_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
        results["speedup"] = round(per_cell * len(done) / ray_wall, 2)
        print(json.dumps({"serial": results["serial"]}), file=sys.stderr)

        price = price_of_privacy(sweep.table, margin=args.margin)
        results["price_of_privacy"] = json.loads(price.to_json(orient="records"))
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()

"""Benchmark across cohort sizes: dpsynth's generators beside the marginal peers AIM and MST. Resumable.

For each data set, cohort size n, generator, ε and seed (one *cell*): the fixed split of
`benchmarks/tabular.py` (seed 0, 30 % holdout); the train part subsampled to n rows, seeded
by the cell's seed and stratified on the outcome ("full" keeps it whole); the generator fitted
on those rows, as many rows sampled, and audited against the full real holdout by
`benchmarks/summary.py` (TSTR and TRTR AUROC of logistic regression and gradient boosting,
equalized-odds difference and its change per sensitive attribute, association difference,
detection AUC) plus fit seconds. dpsynth generators run in this venv; ``aim`` and ``mst`` run in
smartnoise-synth's venv (`benchmarks/peers/smartnoise_peer.py`, made by
`benchmarks/peers/setup_smartnoise.sh`) on a binning of the public schema.

``--param name=value`` sets a parameter of dpsynth's generators (recorded in each cell; a run
with other settings belongs in its own ``--out``).

Each finished cell is appended to ``OUT/cells.jsonl`` and skipped when the command runs again
(a failed cell is recorded with its error and retried), so the grid can be run in pieces:

    python benchmarks/cohorts.py --out runs/cohorts --datasets support2 --sizes 500 1000 \\
        --epsilons 1 --seeds 0 1 2 --generators mst dp-vae
    python benchmarks/cohorts.py --out runs/cohorts --report-only \\
        --report benchmarks/results/cohorts.json --plot docs/images/cohorts.png

The report holds the median over seeds of every metric per (data set, n, generator, ε), the
TSTR/TRTR AUROC ratio beside TRTR, and every cell.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "peers"))
from summary import MODELS, audit_and_summarise, medians  # noqa: E402  (benchmarks/summary.py)

DELTA = 1e-5
DATASETS = ("support2", "rhc", "actg175")
SIZES = ("500", "1000", "2000", "full")
EPSILONS = (0.5, 1.0, 4.0)
SEEDS = (0, 1, 2)
GENERATORS = ("dp-marginal", "dp-vae", "dp-gan", "aim", "mst")
PEERS = ("aim", "mst")
KEY = ("dataset", "n", "generator", "epsilon", "seed")
GROUP = ("dataset", "n", "generator", "epsilon")


def parse_size(text: str) -> str:
    """``"full"`` or a positive whole number of rows, as the cell label."""
    if text == "full" or (text.isdigit() and int(text) > 0):
        return text
    raise argparse.ArgumentTypeError(f"cohort size {text!r}: give a positive number of rows or 'full'")


def cell_key(cell: dict) -> tuple:
    return tuple(str(float(cell[k])) if k == "epsilon" else str(cell[k]) for k in KEY)


def read_cells(path: Path) -> list[dict]:
    """The cells recorded so far (a torn last line from an interrupted run is ignored)."""
    if not path.exists():
        return []
    cells = []
    for line in path.read_text().splitlines():
        try:
            cells.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return cells


def pending(grid: list[dict], done: list[dict]) -> list[dict]:
    """The grid's cells without a successful record (failed ones are run again)."""
    finished = {cell_key(c) for c in done if "error" not in c}
    return [cell for cell in grid if cell_key(cell) not in finished]


def append_cell(path: Path, cell: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:  # one write per line: concurrent runs append whole lines
        handle.write(json.dumps(cell) + "\n")


def grid(args) -> list[dict]:
    return [{"dataset": d, "n": n, "generator": g, "epsilon": float(e), "seed": s}
            for d in args.datasets for n in args.sizes for g in args.generators
            for e in args.epsilons for s in args.seeds]


def cohort(dataset, n: str, seed: int):
    """(train rows of size n, the full holdout): a seeded subsample stratified on the outcome,
    of exactly n rows (a whole count, not a fraction that could round to n - 1), in row order."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    train, holdout = dataset.split(dataset.load(), seed=0)
    if n != "full":
        if int(n) >= len(train):
            raise ValueError(f"cohort size {n} is not below the {len(train)} train rows of {dataset.name}; use 'full'")
        keep, _ = train_test_split(np.arange(len(train)), train_size=int(n), random_state=seed,
                                   stratify=train[dataset.outcome].to_numpy())
        train = train.iloc[np.sort(keep)].reset_index(drop=True)
    return train, holdout


def parse_param(text: str) -> tuple[str, object]:
    """``"name=value"`` -> (name, the value as JSON where it parses, else the text)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"--param {text!r}: write name=value, e.g. unpaired='[\"sex\", \"race\"]'")
    try:
        return name.strip(), json.loads(value)
    except json.JSONDecodeError:
        return name.strip(), value.strip()


def run_cell(cell: dict, timeout: int, params: dict | None = None) -> dict:
    """Fit, sample len(train) rows, audit: the cell's record. ``params`` go to dpsynth's
    generators (the peers run with their own settings) and are recorded in the cell."""
    from dpsynth import registry
    from dpsynth.data import get_dataset
    from dpsynth.privacy.budget import PrivacyBudget

    dataset = get_dataset(cell["dataset"])
    schema = dataset.schema()
    train, holdout = cohort(dataset, cell["n"], cell["seed"])
    out = dict(cell) | {"n_train": len(train), "n_holdout": len(holdout)}
    if cell["generator"] in PEERS:
        import smartnoise_peer

        synthetic, info = smartnoise_peer.fit_sample(cell["generator"], train, schema, epsilon=cell["epsilon"],
                                                     delta=DELTA, seed=cell["seed"], rows=len(train), timeout=timeout)
        out |= {"fit_seconds": info["fit_seconds"], "peer": info}
    else:
        model = registry.create(cell["generator"], schema, **(params or {}))
        out["params"] = params or {}
        start = time.perf_counter()
        model.fit(train, budget=PrivacyBudget(cell["epsilon"], DELTA), random_state=cell["seed"], progress=False)
        out["fit_seconds"] = round(time.perf_counter() - start, 1)
        out["epsilon_spent"] = round(model.privacy_spent()[0], 4)
        synthetic = model.sample(len(train), random_state=cell["seed"] + 1)
    out |= audit_and_summarise(train=train, holdout=holdout, synthetic=synthetic, schema=schema, seed=cell["seed"])
    return out


def with_ratios(cell: dict) -> dict:
    """The cell plus TSTR/TRTR AUROC ratios (NaN-safe: absent when either side is missing)."""
    out = dict(cell)
    for model in MODELS:
        tstr, trtr = cell.get(f"tstr_auroc_{model}"), cell.get(f"trtr_auroc_{model}")
        if isinstance(tstr, (int, float)) and isinstance(trtr, (int, float)) and trtr == trtr and tstr == tstr and trtr:
            out[f"tstr_trtr_ratio_{model}"] = round(tstr / trtr, 4)
    return out


def report(cells: list[dict]) -> dict:
    """Medians over seeds per (data set, n, generator, ε) of every numeric field, and the cells.
    A cell recorded twice (two runs of the same grid at once) counts once: its last record."""
    last = {cell_key(c): c for c in cells if "error" not in c}
    ok = [with_ratios(c) for c in last.values()]
    versions = next((c["peer"]["versions"] for c in ok if "peer" in c), {})
    return {
        "benchmark": "cohorts", "date": date.today().isoformat(), "delta": DELTA,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "peer_versions": versions,
        "peer_settings": {c["generator"]: c["peer"]["settings"] for c in ok if "peer" in c},
        "peer_epsilon_not_covered": next((c["peer"]["epsilon_not_covered"] for c in ok if "peer" in c), ""),
        "medians": medians(ok, GROUP) if ok else [],
        "failures": [c for c in cells if "error" in c and cell_key(c) not in last],
        "cells": ok,
    }


def size_value(row: dict) -> int:
    return int(row["n_train"]) if row["n"] == "full" else int(row["n"])


def plot(summary: dict, path: Path) -> None:
    """TSTR/TRTR AUROC ratio against n: one panel per (data set, model), a line per generator and ε."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary["medians"]
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    generators = sorted({r["generator"] for r in rows})
    epsilons = sorted({r["epsilon"] for r in rows})
    colours = {g: plt.get_cmap("tab10")(i % 10) for i, g in enumerate(generators)}  # a colour per generator
    styles = {e: m for e, m in zip(epsilons, [("o", ":"), ("s", "-"), ("^", "--"), ("D", "-.")])}
    fig, axes = plt.subplots(len(datasets), len(MODELS), figsize=(5 * len(MODELS), 3.6 * len(datasets)),
                             squeeze=False)
    for i, name in enumerate(datasets):
        for j, model in enumerate(MODELS):
            ax = axes[i][j]
            key = f"tstr_trtr_ratio_{model}"
            lines = dict.fromkeys((r["generator"], r["epsilon"]) for r in rows if r["dataset"] == name)
            for generator, epsilon in lines:
                points = sorted((size_value(r), r[key]) for r in rows if r["dataset"] == name
                                and r["generator"] == generator and r["epsilon"] == epsilon and key in r)
                if points:
                    xs, ys = zip(*points)
                    marker, line = styles.get(epsilon, ("o", "-"))  # a marker and dash per ε
                    ax.plot(xs, ys, marker=marker, linestyle=line, color=colours[generator],
                            label=f"{generator}, ε={epsilon:g}")
            ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
            ax.set_xscale("log")
            sizes = sorted({size_value(r) for r in rows if r["dataset"] == name})
            ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
            ax.minorticks_off()
            ax.set_xlabel("cohort size n (train rows)")
            ax.set_ylabel(f"TSTR / TRTR AUROC ({model})")
            ax.set_title(f"{name}: {model}")
            ax.set_ylim(0.0, 1.05)  # one scale for every panel: chance is near 0.5 / TRTR
            ax.legend(fontsize=7, loc="lower left", ncol=2)  # ratios sit above 0.4: the lower left is free
    fig.suptitle("Synthetic-data utility against cohort size (median over seeds)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder holding cells.jsonl")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--sizes", nargs="+", type=parse_size, default=list(SIZES))
    parser.add_argument("--epsilons", nargs="+", type=float, default=list(EPSILONS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--generators", nargs="+", default=list(GENERATORS))
    parser.add_argument("--timeout", type=int, default=7200, help="seconds per peer fit")
    parser.add_argument("--param", type=parse_param, action="append", default=[],
                        help="name=value for dpsynth's generators (repeatable; give such a run its own --out)")
    parser.add_argument("--report-only", action="store_true", help="summarise cells.jsonl, run nothing")
    parser.add_argument("--report", type=Path, default=None, help="write the JSON summary here (else stdout)")
    parser.add_argument("--plot", type=Path, default=None, help="draw TSTR/TRTR ratio against n to this file")
    args = parser.parse_args(argv)
    unknown = [g for g in args.generators if g not in GENERATORS]
    if unknown:
        parser.error(f"unknown generator(s) {', '.join(unknown)}; choose from {', '.join(GENERATORS)}")
    if any(e <= 0 for e in args.epsilons):
        parser.error("every ε must be positive")

    cells_path = args.out / "cells.jsonl"
    if not args.report_only:
        if set(args.generators) & set(PEERS):
            import smartnoise_peer

            smartnoise_peer.require_peer_venv()
        todo = pending(grid(args), read_cells(cells_path))
        print(f"{len(todo)} cell(s) to run", file=sys.stderr)
        for cell in todo:
            try:
                record = run_cell(cell, args.timeout, dict(args.param))
            except (RuntimeError, ValueError) as error:
                record = dict(cell) | {"error": str(error)}
            append_cell(cells_path, record)
            print(json.dumps({k: record.get(k) for k in KEY + ("fit_seconds", "tstr_auroc_gboost", "error")}),
                  file=sys.stderr, flush=True)
    summary = report(read_cells(cells_path))
    text = json.dumps(summary, indent=2)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text + "\n")
    else:
        print(text)
    if args.plot:
        plot(summary, args.plot)


if __name__ == "__main__":
    main()

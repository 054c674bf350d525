"""Peer comparison: synthcity's DP plugins and smartnoise's AIM/MST on dpsynth's split, through dpsynth's audit. Prints JSON.

Run from the dpsynth environment after `benchmarks/peers/setup.sh` made synthcity's own
(synthcity needs torch<2.3 and numpy<2) and `benchmarks/peers/setup_smartnoise.sh`
smartnoise-synth's (mbi<2, opacus<0.15):

    .venv/bin/python benchmarks/peers/compare.py --datasets support2 rhc \\
        --plugins dpgan pategan aim privbayes --smartnoise aim mst --epsilons 1 --seeds 0 1 2 \\
        > benchmarks/results/peers.json

``--plugins`` with no name runs no synthcity plugin (e.g. ``--plugins --smartnoise mst``).
smartnoise's AIM and MST get the table as category codes binned on the schema's public
bounds (`marginal_codec.py`, no ε spent) and fit with a transformer fitted on the public
domain, so their ε covers all they learn from the rows, except what `smartnoise_peer.py`
lists (MST's exact record count, numpy's Mersenne Twister for the selection steps).

For each data set, plugin, ε and seed: the same fixed train split as `benchmarks/tabular.py`
is written to a temporary folder (deleted afterwards), the plugin is fitted in the
synthcity venv (`run_synthcity.py`) and samples as many rows as the train split has, and
the rows are audited against the same real holdout by the same code (`benchmarks/summary.py`).

What the peers get, from the public schema only: synthcity's plugins do not take missing
values, so each nullable numeric column is filled with its public lower bound and gets a
``<column>__missing`` yes/no column; synthetic rows get NaN back where it says yes.
Synthetic values outside the public bounds are clipped and integer columns rounded before
the audit; the clip counts are in the output. synthcity fits its own encoders (including
a Gaussian mixture per numeric column for dpgan/pategan) on the private data without
charging them to any budget: their ε covers training only. dpsynth's ε covers everything.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from dpsynth.data import DATASETS, get_dataset
from dpsynth.schema import NumericColumn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from summary import audit_and_summarise, medians  # noqa: E402  (benchmarks/summary.py)

sys.path.insert(0, str(HERE))
import smartnoise_peer  # noqa: E402  (benchmarks/peers/smartnoise_peer.py)

PEER_PYTHON = HERE / ".venv-synthcity" / "bin" / "python"
MISSING_SUFFIX = "__missing"
DELTA = 1e-5


def to_peer_frame(frame: pd.DataFrame, schema) -> pd.DataFrame:
    """The training frame as synthcity can take it: no NaN (public fill + indicator column)."""
    out = frame[schema.names].copy()
    for column in schema.columns:
        if isinstance(column, NumericColumn) and column.nullable:
            missing = out[column.name].isna()
            out[column.name] = out[column.name].fillna(column.lower)
            out[column.name + MISSING_SUFFIX] = np.where(missing, "yes", "no")
    return out


def from_peer_frame(synthetic: pd.DataFrame, schema) -> tuple[pd.DataFrame, dict[str, int]]:
    """Undo `to_peer_frame`; clip to the public bounds and round integers (counted)."""
    out = pd.DataFrame(index=synthetic.index)
    clipped: dict[str, int] = {}
    for column in schema.columns:
        values = synthetic[column.name]
        if isinstance(column, NumericColumn):
            values = pd.to_numeric(values, errors="coerce").astype(float)
            outside = ((values < column.lower) | (values > column.upper)).sum()
            if outside:
                clipped[column.name] = int(outside)
            values = values.clip(column.lower, column.upper)
            if column.integer:
                values = values.round()
            indicator = column.name + MISSING_SUFFIX
            if indicator in synthetic:
                values = values.mask(synthetic[indicator].astype(str) == "yes")
        else:
            values = values.astype(str)
        out[column.name] = values
    return out, clipped


def run_peer(plugin: str, train_csv: Path, target: str, epsilon: float, seed: int, rows: int,
             workdir: Path, timeout: int, params: list[str]) -> tuple[pd.DataFrame | None, dict]:
    out_csv = workdir / f"{plugin}-{epsilon:g}-{seed}.csv"
    command = [str(PEER_PYTHON), str(HERE / "run_synthcity.py"), "--plugin", plugin, "--train", str(train_csv),
               "--target", target, "--epsilon", str(epsilon), "--delta", str(DELTA), "--seed", str(seed),
               "--rows", str(rows), "--out", str(out_csv)] + [f"--param={p}" for p in params]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, {"error": f"no result within {timeout} s"}
    if done.returncode != 0:
        return None, {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    info = json.loads(done.stdout.strip().splitlines()[-1])
    synthetic = pd.read_csv(out_csv, dtype=str, keep_default_na=False, na_values=[""])
    return synthetic, info


def run_smartnoise(synth: str, name: str, train, holdout, schema, epsilon: float, seed: int, timeout: int) -> dict:
    """One smartnoise fit on the train split, audited like the synthcity runs."""
    run = {"dataset": name, "generator": f"smartnoise-{synth}", "epsilon_budget": epsilon, "seed": seed}
    try:
        synthetic, info = smartnoise_peer.fit_sample(synth, train, schema, epsilon=epsilon, delta=DELTA, seed=seed,
                                                     rows=len(train), timeout=timeout)
    except RuntimeError as error:
        return run | {"error": str(error)}
    run |= {"fit_seconds": info["fit_seconds"], "peer": info}
    return run | audit_and_summarise(train=train, holdout=holdout, synthetic=synthetic, schema=schema, seed=seed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["support2"], choices=sorted(DATASETS))
    parser.add_argument("--plugins", nargs="*", default=["dpgan", "pategan", "aim", "privbayes"],
                        help="synthcity plugins (none: only the smartnoise peers)")
    parser.add_argument("--smartnoise", nargs="*", default=[], choices=smartnoise_peer.SYNTHS,
                        help="smartnoise-synth synthesizers to run beside them: aim, mst")
    parser.add_argument("--epsilons", nargs="+", type=float, default=[1.0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per plugin fit")
    parser.add_argument("--plugin-param", action="append", default=[],
                        help="PLUGIN:key=json passed to that plugin, e.g. dpgan:n_iter=100 (repeatable)")
    args = parser.parse_args(argv)
    if not args.plugins and not args.smartnoise:
        parser.error("nothing to run: name synthcity --plugins or --smartnoise synthesizers")
    if args.plugins and not PEER_PYTHON.exists():
        sys.exit(f"{PEER_PYTHON} is missing: run benchmarks/peers/setup.sh first")
    if args.smartnoise:
        smartnoise_peer.require_peer_venv()

    runs, versions, sizes, smartnoise_versions = [], {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="dpsynth-peers-") as tmp:
        workdir = Path(tmp)
        for name in args.datasets:
            dataset = get_dataset(name)
            schema = dataset.schema()
            train, holdout = dataset.split(dataset.load(), seed=0)
            sizes[name] = {"n_train": len(train), "n_holdout": len(holdout)}
            train_csv = workdir / f"{name}-train.csv"
            to_peer_frame(train, schema).to_csv(train_csv, index=False)
            for plugin in args.plugins:
                for epsilon in args.epsilons:
                    for seed in args.seeds:
                        params = [p.split(":", 1)[1] for p in args.plugin_param if p.split(":", 1)[0] == plugin]
                        synthetic, info = run_peer(plugin, train_csv, dataset.outcome, epsilon, seed, len(train),
                                                   workdir, args.timeout, params)
                        run = {"dataset": name, "generator": f"synthcity-{plugin}", "epsilon_budget": epsilon,
                               "seed": seed, "params": params}
                        if synthetic is None:
                            run |= info
                        else:
                            versions = info.pop("versions")
                            restored, clipped = from_peer_frame(synthetic, schema)
                            run |= {"fit_seconds": info["fit_seconds"], "privacy_args": info["privacy_args"],
                                    "clipped_to_public_bounds": clipped}
                            run |= audit_and_summarise(train=train, holdout=holdout, synthetic=restored,
                                                       schema=schema, seed=seed)
                        runs.append(run)
                        print(json.dumps(run), file=sys.stderr)
            for synth in args.smartnoise:
                for epsilon in args.epsilons:
                    for seed in args.seeds:
                        runs.append(run_smartnoise(synth, name, train, holdout, schema, epsilon, seed, args.timeout))
                        if "peer" in runs[-1]:
                            smartnoise_versions = runs[-1]["peer"]["versions"]
                        print(json.dumps(runs[-1]), file=sys.stderr)
    ok = [r for r in runs if "error" not in r]
    print(json.dumps({
        "benchmark": "peers (synthcity, smartnoise)", "date": date.today().isoformat(), "delta": DELTA, "datasets": sizes,
        "peer_versions": versions, "smartnoise_versions": smartnoise_versions,
        "smartnoise_epsilon_not_covered": smartnoise_peer.EPSILON_NOT_COVERED if args.smartnoise else "",
        "machine": {"cpus": os.cpu_count()},
        "medians": medians(ok, ("dataset", "generator", "epsilon_budget")) if ok else [],
        "failures": [r for r in runs if "error" in r], "runs": runs,
    }, indent=2))


if __name__ == "__main__":
    main()

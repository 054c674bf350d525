"""Benchmark: DP-learned bounds against the shipped public bounds, per numeric column. Prints JSON.

What `--learn-domain-share S` gives a user who has no public bounds: every numeric column of
the data set's shipped schema is marked non-public and learned with `dp_bounds` at the ε a
real fit would give it (S·ε split evenly over the numeric columns), ``--repeats`` times (the
noise is secret, so repeats differ). Reported per column: the public bounds, the train
range, the learned bounds (median and range over the repeats), how often learning failed
(no bin stood out from the noise: the fit would stop with a clear error), the learned width
over the public width, and the share of train values the learned bounds clip.

    python benchmarks/dp_bounds.py --datasets support2 --epsilons 1 10 --share 0.1 \
        --repeats 10 > benchmarks/results/dp_bounds.json

Needs the demo extra (SurvSet). Reads only the train split (seed 0, 70 %).
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
from datetime import date

import numpy as np

from dpsynth.data import DATASETS, get_dataset
from dpsynth.errors import SchemaError
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.tabular.domain import learn_public_values
from dpsynth.privacy.ledger import PrivacyLedger
from dpsynth.schema import NumericColumn

DELTA = 1e-5


def learn_column(train, schema, name: str, epsilon: float) -> tuple[float, float] | None:
    """Learned (lower, upper) of one column at ``epsilon``, or None when learning fails."""
    drafted = copy.deepcopy(schema)
    drafted.column(name).public = False
    ledger = PrivacyLedger(PrivacyBudget(epsilon, DELTA))
    try:
        learned = learn_public_values(train, drafted, epsilon=epsilon, delta=DELTA / 10, ledger=ledger)
    except SchemaError:
        return None
    column = learned.column(name)
    return column.lower, column.upper


def column_report(values: np.ndarray, public: NumericColumn, learned: list[tuple[float, float] | None]) -> dict:
    ok = [b for b in learned if b is not None]
    out = {"public": [public.lower, public.upper], "train_range": [float(values.min()), float(values.max())],
           "train_q005_q995": [float(np.quantile(values, 0.005)), float(np.quantile(values, 0.995))],
           "failures": len(learned) - len(ok), "repeats": len(learned)}
    if ok:
        lows, highs = np.array([b[0] for b in ok]), np.array([b[1] for b in ok])
        clipped = [float(np.mean((values < lo) | (values > hi))) for lo, hi in ok]
        out |= {"learned_median": [float(np.median(lows)), float(np.median(highs))],
                "learned_lower_range": [float(lows.min()), float(lows.max())],
                "learned_upper_range": [float(highs.min()), float(highs.max())],
                "width_over_public_median": float(np.median((highs - lows) / (public.upper - public.lower))),
                "clipped_share_median": float(np.median(clipped)), "clipped_share_max": float(np.max(clipped))}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["support2"], choices=sorted(DATASETS))
    parser.add_argument("--epsilons", nargs="+", type=float, default=[1.0, 10.0])
    parser.add_argument("--share", type=float, default=0.1, help="--learn-domain-share of the fit")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)

    results = {}
    for name in args.datasets:
        dataset = get_dataset(name)
        train, _ = dataset.split(dataset.load(), seed=0)
        schema = dataset.schema()
        numeric = [c for c in schema.columns if isinstance(c, NumericColumn)]
        for epsilon in args.epsilons:
            per_column = args.share * epsilon / len(numeric)
            columns = {}
            for col in numeric:
                values = schema.conform(train)[0][col.name].dropna().to_numpy(float)
                learned = [learn_column(train, schema, col.name, per_column) for _ in range(args.repeats)]
                columns[col.name] = column_report(values, col, learned)
                print(f"{name} eps={epsilon:g} {col.name}: {columns[col.name]}", file=sys.stderr)
            results[f"{name}/eps={epsilon:g}"] = {
                "dataset": name, "epsilon": epsilon, "learn_share": args.share, "numeric_columns": len(numeric),
                "epsilon_per_column": per_column, "n_train_units": int(schema.count_units(train)),
                "columns": columns}
    print(json.dumps({"benchmark": "dp_bounds", "date": date.today().isoformat(), "delta": DELTA,
                      "machine": {"platform": platform.platform()}, "results": results}, indent=2))


if __name__ == "__main__":
    main()

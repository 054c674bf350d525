"""Fit one synthcity DP plugin on a CSV and write its synthetic rows (runs in .venv-synthcity).

Called by `compare.py`, never imported by dpsynth: synthcity needs torch<2.3 and numpy<2.

    .venv-synthcity/bin/python run_synthcity.py --plugin dpgan --train train.csv \\
        --target death_180d --epsilon 1 --delta 1e-5 --seed 0 --rows 6373 --out synthetic.csv

Prints one JSON line: plugin, the privacy arguments it accepted, fit seconds, versions.
"""

from __future__ import annotations

import argparse
import inspect
import json
import time
import warnings

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--train", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--epsilon", type=float, required=True)
    parser.add_argument("--delta", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--param", action="append", default=[], help="plugin argument key=json (repeatable)")
    args = parser.parse_args()

    warnings.filterwarnings("ignore")
    import importlib.metadata

    import torch
    from synthcity.plugins import Plugins
    from synthcity.plugins.core.dataloader import GenericDataLoader
    from synthcity.utils.reproducibility import enable_reproducible_results

    enable_reproducible_results(args.seed)
    frame = pd.read_csv(args.train, keep_default_na=False, na_values=[""])
    plugin_cls = type(Plugins().get(args.plugin))
    accepted = inspect.signature(plugin_cls.__init__).parameters
    kwargs = {"epsilon": args.epsilon, "random_state": args.seed}
    if "delta" in accepted:
        kwargs["delta"] = args.delta
    extra = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.param)}
    plugin = Plugins().get(args.plugin, **kwargs, **extra)
    start = time.perf_counter()
    plugin.fit(GenericDataLoader(frame, target_column=args.target, random_state=args.seed))
    fit_seconds = time.perf_counter() - start
    synthetic = plugin.generate(count=args.rows, random_state=args.seed).dataframe()
    synthetic.to_csv(args.out, index=False)
    print(json.dumps({"plugin": args.plugin, "privacy_args": {k: v for k, v in kwargs.items() if k != "random_state"},
                      "params": extra,
                      "fit_seconds": round(fit_seconds, 1), "rows": len(synthetic),
                      "versions": {"synthcity": importlib.metadata.version("synthcity"), "torch": torch.__version__,
                                   "numpy": np.__version__, "pandas": pd.__version__}}))


if __name__ == "__main__":
    main()

"""Fit smartnoise-synth's AIM or MST on a CSV of category codes and write sampled codes (runs in .venv-smartnoise).

Called by `smartnoise_peer.py`, never imported by dpsynth: smartnoise-synth pins mbi<2 and
opacus<0.15.

    .venv-smartnoise/bin/python run_smartnoise.py --synth mst --train codes.csv \\
        --domain domain.json --epsilon 1 --delta 1e-5 --rows 6373 --out synthetic.csv

``domain.json`` maps each column to its number of codes, taken from dpsynth's public schema
(`marginal_codec.domain_sizes`). smartnoise's own table transformer would learn each
column's categories from the private rows (unaccounted, and a code absent from the data would
vanish from the domain), so it is fitted here on a PUBLIC frame that lists every code 0..k-1
and handed to ``fit`` already fitted: ``preprocessor_eps`` stays 0 and no ε goes to bounds.

The mechanism's numpy draws (MST's exponential-mechanism selection and domain-compression
undo, AIM's selection, mbi's sampling) come from numpy's global generator, which this script
seeds from OS entropy (``--seed`` only labels the repetition); the Gaussian noise comes from
OpenDP's samplers. Prints one JSON line: settings, fit seconds, versions.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd

SETTINGS = {  # smartnoise-synth 1.0.8's defaults, written down so the output records them
    "aim": {"max_model_size": 80, "degree": 2, "max_cells": 10000, "rounds": None},
    "mst": {},
}


def public_transformer(sizes: dict[str, int]):
    """A TableTransformer of label encoders fitted on every public code 0..k-1 of each column."""
    from snsynth.transform import LabelTransformer, TableTransformer

    longest = max(sizes.values())
    public = pd.DataFrame({name: np.minimum(np.arange(longest), k - 1) for name, k in sizes.items()})
    transformer = TableTransformer([LabelTransformer(nullable=False) for _ in sizes])
    transformer.fit(public, epsilon=0.0)
    assert transformer.cardinality == list(sizes.values()), "label encoder did not keep the public domain"
    assert not transformer.odometer.spent[0], "the public transformer must spend no epsilon"
    return transformer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synth", required=True, choices=sorted(SETTINGS))
    parser.add_argument("--train", required=True)
    parser.add_argument("--domain", required=True)
    parser.add_argument("--epsilon", type=float, required=True)
    parser.add_argument("--delta", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0, help="labels the repetition; the draws use OS entropy")
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--param", action="append", default=[], help="synthesizer argument key=json (repeatable)")
    args = parser.parse_args()

    warnings.filterwarnings("ignore")
    from snsynth import Synthesizer

    sizes = json.loads(open(args.domain).read())
    codes = pd.read_csv(args.train)[list(sizes)]
    np.random.seed(int.from_bytes(os.urandom(4), "little"))
    settings = {k: v for k, v in SETTINGS[args.synth].items() if v is not None}
    settings |= {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.param)}
    synth = Synthesizer.create(args.synth, epsilon=args.epsilon, delta=args.delta, **settings)
    transformer = public_transformer(sizes)
    start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # AIM prints progress on stdout
        synth.fit(codes, transformer=transformer, preprocessor_eps=0.0)
        fit_seconds = time.perf_counter() - start
        synthetic = synth.sample(args.rows)
    synthetic = pd.DataFrame(synthetic, columns=list(sizes))
    synthetic.to_csv(args.out, index=False)
    print(json.dumps({
        "synth": args.synth, "epsilon": args.epsilon, "delta": args.delta, "epsilon_after_preprocessing": synth.epsilon,
        "settings": settings, "fit_seconds": round(fit_seconds, 1), "rows": len(synthetic),
        "versions": {p: importlib.metadata.version(p) for p in ("smartnoise-synth", "mbi", "opendp", "numpy", "jax")},
    }))


if __name__ == "__main__":
    main()

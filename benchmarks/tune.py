"""Settings studies for choosing a family's defaults without touching a benchmark holdout. Prints JSON.

The benchmark (benchmarks/tabular.py) audits against the holdout of the fixed split
(seed 0, 30 %). Choosing defaults on that holdout would make the benchmark an optimistic
estimate, so this script splits the benchmark's *train* part once more (seed 1, 30 %) and
scores each setting on that inner validation part: fit on the inner train rows, sample as
many rows, train logistic regression and gradient boosting on the synthetic rows, report
their AUROC on the inner validation rows (TSTR) next to the same models trained on the
inner train rows (TRTR), and how far each widens the equalized-odds gap of each sensitive
attribute beyond the TRTR model's (``eod_change_*``, as the audit reads it). The benchmark
holdout is never loaded into a model or a metric.

    python benchmarks/tune.py --generator dp-gan --epsilon 1 --seeds 0 \
        --param generator_steps=1 --param generator_steps=4

``--rows N`` keeps a seeded, stratified subsample of N inner train rows: a small cohort built
from the inner split (the inner validation part is unchanged). With ``--resample`` each seed
draws its own subsample (seed 2 + the fit's seed; TRTR per subsample), so a setting is scored
over many small cohorts, not over the noise draws on one.

``--generator aim`` or ``mst`` scores smartnoise's marginal peers on the same inner cohorts
(their own settings; `benchmarks/peers/setup_smartnoise.sh` makes their venv), so a
dpsynth setting can be set beside the strongest peer without the benchmark holdout.

Each ``--param`` is one setting (``k=v[,k=v...]``); without any, the defaults run.
``--sweep guidance=0,1,2`` samples each fitted model once per value of a sampling-time
attribute of the fitted module (post-processing knobs only, e.g. diffusion guidance).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
from fairlearn.metrics import equalized_odds_difference
from sklearn.metrics import roc_auc_score

from dpsynth import registry
from dpsynth.data import get_dataset
from dpsynth.data.survset import split_stratified
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.validators.bootstrap import THRESHOLD
from dpsynth.validators.context import AuditConfig
from dpsynth.validators.tabular_models import make_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
import smartnoise_peer  # noqa: E402  (benchmarks/peers/: AIM and MST in their own venv)

DELTA = 1e-5
MIN_GROUP = AuditConfig.min_group_size  # the audit's smallest group for between-group metrics


def parse_setting(text: str) -> dict:
    """``"a=1,b=0.5,c=x,h=[64,64]"`` -> {"a": 1, "b": 0.5, "c": "x", "h": [64, 64]} (JSON values where
    they parse; a comma inside brackets belongs to the value)."""
    setting = {}
    for item in filter(None, re.split(r",(?![^\[]*\])", text)):
        key, _, value = item.partition("=")
        try:
            setting[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            setting[key.strip()] = value.strip()
    return setting


SUBSAMPLE_SEED = 2  # the one subsample of ``--rows``; ``--resample`` draws SUBSAMPLE_SEED + the fit's seed


def inner_split(dataset) -> tuple:
    """(inner train, inner validation) from ``dataset``'s benchmark train part only."""
    train, _benchmark_holdout = dataset.split(dataset.load(), seed=0)
    return split_stratified(train, outcome=dataset.outcome, seed=1, holdout_fraction=0.3)


def subsample(train, outcome: str, rows: int | None, seed: int):
    """A stratified subsample of ``rows`` inner train rows drawn with ``seed`` (all of them
    when ``rows`` is None or not below their number)."""
    if rows is None or rows >= len(train):
        return train
    return split_stratified(train, outcome=outcome, seed=seed, holdout_fraction=1 - rows / len(train))[0]


def scores(schema, train_frame, valid_frame, model: str, seed: int) -> dict[str, float]:
    """AUROC on the validation rows of ``model`` trained on ``train_frame``, and its equalized-odds
    difference per sensitive attribute (the audit's: prediction at its `THRESHOLD`, groups of at
    least `MIN_GROUP` validation rows); NaN when the training rows hold one class."""
    labels = lambda f: (f[schema.target].astype(str) == str(schema.positive)).to_numpy()  # noqa: E731
    y, y_valid = labels(train_frame), labels(valid_frame)
    attributes = [a.name for a in schema.sensitive]
    if len(np.unique(y)) < 2:
        return {"auroc": float("nan"), **{f"eod_{a}": float("nan") for a in attributes}}
    score = make_pipeline(schema, model, random_state=seed).fit(train_frame, y).predict_proba(valid_frame)[:, 1]
    out = {"auroc": float(roc_auc_score(y_valid, score))}
    groups = schema.group_labels(valid_frame)
    for attribute in attributes:
        group = groups[attribute].astype(str).to_numpy()
        sizes = dict(zip(*np.unique(group, return_counts=True)))
        kept = np.array([sizes[g] >= MIN_GROUP for g in group])
        out[f"eod_{attribute}"] = float(equalized_odds_difference(
            y_valid[kept], score[kept] >= THRESHOLD, sensitive_features=group[kept]))
    return out


def fit_and_sample(generator: str, schema, train, *, epsilon: float, seed: int, setting: dict,
                   sweep: tuple[str, list]) -> tuple[float, list[tuple[dict, object]]]:
    """Fit ``generator`` (a dpsynth generator with ``setting``, or a smartnoise peer) on ``train``
    and sample as many rows: (fit seconds, [(the setting as run, synthetic rows)]), one sample per
    value of the sampling-time attribute ``sweep`` (a dpsynth generator only)."""
    attribute, values = sweep
    if generator in smartnoise_peer.SYNTHS:
        synthetic, info = smartnoise_peer.fit_sample(generator, train, schema, epsilon=epsilon, delta=DELTA,
                                                     seed=seed, rows=len(train))
        return info["fit_seconds"], [({}, synthetic)]
    model = registry.create(generator, schema, **setting)
    start = time.perf_counter()
    model.fit(train, budget=PrivacyBudget(epsilon, DELTA), random_state=seed, progress=False)
    seconds = time.perf_counter() - start
    samples = []
    for value in values or [None]:
        if attribute:
            setattr(model.module_, attribute, value)
        run_setting = setting | ({attribute: value} if attribute else {})
        samples.append((run_setting, model.sample(len(train), random_state=seed + 1)))
    return seconds, samples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="support2")
    parser.add_argument("--generator", required=True)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--param", action="append", default=[], help="one setting: k=v[,k=v...]")
    parser.add_argument("--rows", type=int, default=None, help="a stratified subsample of the inner train rows")
    parser.add_argument("--sweep", default=None, help="ATTR=v1,v2,...: a sampling-time module attribute")
    parser.add_argument("--resample", action="store_true", help="with --rows: a subsample per seed (seed 2 + seed)")
    args = parser.parse_args(argv)
    if args.resample and args.rows is None:
        parser.error("--resample draws a subsample per seed: give its size with --rows N")
    if args.generator in smartnoise_peer.SYNTHS and (args.param or args.sweep):
        parser.error(f"{args.generator} runs with smartnoise's own settings: drop --param and --sweep")

    dataset = get_dataset(args.dataset)
    schema = dataset.schema()
    inner_train, valid = inner_split(dataset)
    conformed_valid = schema.conform(valid)[0]
    cohorts: dict[int, tuple] = {}
    attribute, _, values = (args.sweep or "").partition("=")
    sweep = (attribute, [json.loads(v) for v in values.split(",")] if args.sweep else [])

    def cohort(subsample_seed: int) -> tuple:
        """(train rows, TRTR scores) of one subsample, drawn and scored once."""
        if subsample_seed not in cohorts:
            train = subsample(inner_train, dataset.outcome, args.rows, subsample_seed)
            cohorts[subsample_seed] = (train, {
                m: scores(schema, schema.conform(train)[0], conformed_valid, m, 0) for m in ("logreg", "gboost")})
        return cohorts[subsample_seed]

    for setting in [parse_setting(p) for p in args.param] or [{}]:
        for seed in args.seeds:
            subsample_seed = SUBSAMPLE_SEED + seed if args.resample else SUBSAMPLE_SEED
            train, trtr = cohort(subsample_seed)
            seconds, samples = fit_and_sample(args.generator, schema, train, epsilon=args.epsilon, seed=seed,
                                              setting=setting, sweep=sweep)
            for run_setting, sampled in samples:
                synthetic = schema.conform(sampled)[0]
                row = {"dataset": args.dataset, "rows": len(train), "generator": args.generator, "epsilon": args.epsilon,
                       "setting": run_setting, "seed": seed,
                       "subsample_seed": subsample_seed if args.rows else None, "fit_seconds": round(seconds, 1)}
                for m in ("logreg", "gboost"):
                    tstr = scores(schema, synthetic, conformed_valid, m, seed)
                    row[f"tstr_{m}"], row[f"trtr_{m}"] = round(tstr["auroc"], 4), round(trtr[m]["auroc"], 4)
                    row |= {f"eod_change_{key[4:]}_{m}": round(value - trtr[m][key], 4)
                            for key, value in tstr.items() if key.startswith("eod_")}
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

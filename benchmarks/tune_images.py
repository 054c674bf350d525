"""Settings studies for choosing image-generator settings without touching a benchmark holdout.
Prints JSON lines, one per (generator, setting, seed), then the best setting per generator.

`benchmarks/images.py` audits against the holdout of the fixed split (seed 0, 30 %). This
script splits that split's *train* part once more (seed 1, 30 %, stratified on the target)
and scores each setting on the inner validation part: fit on the inner train images at
``--epsilon``, sample as many images, train the audit CNN (`image_models.fit_cnn`, settings
fixed a priori) on the synthetic images and report its class accuracy on the inner
validation images (TSTR), next to the same CNN trained on the inner train images (TRTR).
The benchmark holdout is never loaded into a model or a metric.

    python benchmarks/tune_images.py --dataset digits --epsilon 10 \\
        --setting dp-image-diffusion:epochs=30 --setting dp-image-diffusion:epochs=300

Each ``--setting`` is ``generator:k=v[,k=v...]`` (JSON values where they parse). The last
line is ``{"best": {generator: setting}}``: the highest TSTR class accuracy per generator
(mean over ``--seeds``), which `images.py --generator-params` accepts as it is.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from dpsynth import registry
from dpsynth.data import image_sets
from dpsynth.devices import resolve_device
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.validators.image_fidelity import precision_recall
from dpsynth.validators.image_models import embed, feature_network, fit_cnn, predict_proba

DELTA = 1e-5
INNER = {  # benchmark train part -> (inner train, inner validation), and the schema
    "digits": lambda: (image_sets.split_digits(image_sets.split_digits(image_sets.load_digits_images(), seed=0)[0],
                                               seed=1), image_sets.digits_schema()),
    "fundus_cohort": lambda: (image_sets.split_fundus_cohort(
        image_sets.split_fundus_cohort(image_sets.load_fundus_cohort(seed=0), seed=0)[0], seed=1),
        image_sets.fundus_cohort_schema()),
    "retina_tiles": lambda: (image_sets.split_tiles(image_sets.split_tiles(image_sets.load_retina_tiles(), seed=0)[0],
                                                    seed=1), image_sets.retina_tiles_schema()),
}


def parse_setting(text: str) -> tuple[str, dict]:
    """``"gen:a=1,b=x,c=[16,32]"`` -> ("gen", {"a": 1, "b": "x", "c": [16, 32]}) (commas inside
    brackets belong to the value)."""
    generator, _, rest = text.partition(":")
    setting = {}
    for item in filter(None, re.split(r",(?![^\[]*\])", rest)):
        key, _, value = item.partition("=")
        try:
            setting[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            setting[key.strip()] = value.strip()
    return generator, setting


def arrays(schema, data) -> tuple[np.ndarray, np.ndarray]:
    """Images scaled by the public range to [0, 1], and class indices."""
    classes = list(schema.static.column(schema.target).categories)
    x = ((data.images - schema.lower) / (schema.upper - schema.lower)).astype(np.float32)
    return x, np.array([classes.index(str(v)) for v in data.static[schema.target]])


def class_scores(schema, train, valid, seed: int, device: str) -> tuple[float, float]:
    """Accuracy and AUROC (one class against the rest, macro-averaged) on ``valid`` of the audit
    CNN trained on ``train``: accuracy alone cannot tell a rare class's signal from always
    predicting the common one."""
    (x_train, y_train), (x_valid, y_valid) = arrays(schema, train), arrays(schema, valid)
    n_classes = len(schema.static.column(schema.target).categories)
    net = fit_cnn(x_train, y_train, n_classes=n_classes, seed=seed, device=device)
    proba = predict_proba(net, x_valid)
    auroc = roc_auc_score(y_valid, proba[:, 1]) if n_classes == 2 else roc_auc_score(
        y_valid, proba, multi_class="ovr", labels=list(range(n_classes)))
    return float((proba.argmax(1) == y_valid).mean()), float(auroc)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(INNER), default="digits")
    parser.add_argument("--epsilon", type=float, default=10.0)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--setting", action="append", default=[], help="generator:k=v[,k=v...]")
    args = parser.parse_args(argv)
    device = str(resolve_device(args.device))
    (train, valid), schema = INNER[args.dataset]()
    trtr, trtr_auroc = class_scores(schema, train, valid, 0, device)
    x_train, y_train = arrays(schema, train)
    features = feature_network(x_train, y_train, seed=0, n_classes=len(schema.static.column(schema.target).categories),
                               device=device)
    valid_features = embed(features, arrays(schema, valid)[0])
    scores: dict[tuple[str, str], list[float]] = {}
    for text in args.setting:
        generator, setting = parse_setting(text)
        for seed in args.seeds:
            model = registry.create(generator, schema, device=device, **setting)
            start = time.perf_counter()
            model.fit(train, budget=PrivacyBudget(args.epsilon, DELTA), random_state=seed, progress=False)
            seconds = time.perf_counter() - start
            synthetic = model.sample(len(train), random_state=seed + 1)
            tstr, tstr_auroc = class_scores(schema, synthetic, valid, seed, device)
            precision, recall = precision_recall(valid_features, embed(features, arrays(schema, synthetic)[0]))
            scores.setdefault((generator, json.dumps(setting, sort_keys=True)), []).append(tstr)
            print(json.dumps({"generator": generator, "setting": setting, "seed": seed, "epsilon": args.epsilon,
                              "steps": model.log_.steps,
                              "measured": getattr(model.log_, "covariance", None), "fit_seconds": round(seconds, 1),
                              "tstr_class_accuracy": round(tstr, 4), "trtr_class_accuracy": round(trtr, 4),
                              "tstr_auroc": round(tstr_auroc, 4), "trtr_auroc": round(trtr_auroc, 4),
                              "precision": round(precision, 4), "recall": round(recall, 4)}),
                  flush=True)
    best: dict[str, dict] = {}
    for (generator, setting), values in sorted(scores.items(), key=lambda kv: -float(np.mean(kv[1]))):
        best.setdefault(generator, json.loads(setting))
    print(json.dumps({"best": best}), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()

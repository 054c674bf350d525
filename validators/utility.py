"""Utility audit: how well do models trained on synthetic data (TSTR) predict real outcomes,
compared with models trained on real data (TRTR)?

For every downstream model and source, on the whole real holdout (attribute
``"overall"``): AUROC, AUPRC (average precision), Brier score, accuracy at score >= 0.5
and expected calibration error (10 equal-width bins), each with a percentile bootstrap
interval over holdout rows. Then, per model:

- source ``"ratio"``: TSTR / TRTR for AUROC and AUPRC (1 = no loss of utility);
- source ``"change"``: TSTR - TRTR for every metric.

Both are paired: TSTR and TRTR are scored on the same resampled rows, so their
intervals reflect the uncertainty of the comparison, not of each side alone. Rows are
resampled within each outcome class (`bootstrap`), so no resample loses a class. A source
that could not be trained (see `models.training_flag`) gives NaN rows carrying its flag.
Every row carries the holdout's size flags (`AuditContext.holdout_flags`: ``small_holdout``
below 2 x ``min_group_size`` rows, ``few_holdout_positives`` / ``few_holdout_negatives``
below ``min_group_size`` rows of a class): on such a holdout no utility value can be judged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dpsynth.validators import bootstrap as bs
from dpsynth.validators.bootstrap import Replicated, WeightedMetric
from dpsynth.validators.context import AuditContext, result_frame
from dpsynth.validators.predictions import SOURCES, join_flags, model_names, prediction_flags

VALIDATOR = "utility"
ATTRIBUTE = "overall"
SALT = 1  # this validator's bootstrap stream: ctx.rng(SALT)

METRICS: dict[str, WeightedMetric] = {
    "auroc": bs.auroc,
    "auprc": bs.average_precision,
    "brier": bs.brier,
    "accuracy": bs.accuracy,
    "ece": bs.calibration_error,
}
RATIO_METRICS = ("auroc", "auprc")
NEEDS_BOTH_CLASSES = ("auroc", "auprc")
SINGLE_CLASS_HOLDOUT = "single_class_holdout"


def evaluate(ctx: AuditContext, predictions: dict[tuple[str, str], np.ndarray]) -> pd.DataFrame:
    """Tidy utility rows (`context.RESULT_COLUMNS`) for ``downstream_predictions(ctx)``."""
    flags = prediction_flags(ctx, predictions)
    models = model_names(predictions)
    y = ctx.labels(ctx.holdout)
    n_bootstrap, confidence = ctx.config.n_bootstrap, ctx.config.confidence
    weights = bs.resample_weights(len(y), n_bootstrap=n_bootstrap, rng=ctx.rng(SALT), strata=y)
    holdout_flag = "" if len(np.unique(y)) == 2 else SINGLE_CLASS_HOLDOUT
    size_flag = ctx.holdout_flags()

    scored: dict[tuple[str, str, str], tuple[Replicated, str]] = {}
    for source in SOURCES:
        for model in models:
            flag = flags[(source, model)]
            scores = np.asarray(predictions[(source, model)], dtype=float)
            for metric, fn in METRICS.items():
                rep = (Replicated.undefined(n_bootstrap) if flag
                       else bs.replicate(fn, y, scores, weights=weights))
                metric_flag = join_flags(flag, holdout_flag if metric in NEEDS_BOTH_CLASSES else "", size_flag)
                scored[(source, model, metric)] = (rep, metric_flag)

    combined: list[tuple[str, str, str, Replicated, str]] = []
    for model in models:
        for metric in RATIO_METRICS:
            (a, fa), (b, fb) = scored[("TSTR", model, metric)], scored[("TRTR", model, metric)]
            combined.append(("ratio", model, metric, a / b, join_flags(fa, fb)))
        for metric in METRICS:
            (a, fa), (b, fb) = scored[("TSTR", model, metric)], scored[("TRTR", model, metric)]
            combined.append(("change", model, metric, a - b, join_flags(fa, fb)))

    rows = [(source, model, metric, rep, flag) for (source, model, metric), (rep, flag) in scored.items()]
    return result_frame([
        dict(validator=VALIDATOR, model=model, source=source, metric=metric, attribute=ATTRIBUTE,
             group="", feature="", n=len(y), **rep.fields(confidence=confidence, flag=flag))
        for source, model, metric, rep, flag in rows + combined
    ])

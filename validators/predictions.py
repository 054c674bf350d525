"""What every modality's downstream models hand to the utility and fairness validators.

Predictions are P(target = positive) per real holdout record, keyed by ``(source, model)``:
TSTR models train on the synthetic data, TRTR models on the real training data
(`TRAINING_FRAME`). A source whose training data hold one target class cannot be fitted:
`training_flag` names why, its predictions are NaN, and the metrics carry that flag.
`prediction_flags` checks a predictions dict against the holdout; `join_flags` joins flags
into one cell.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from dpsynth.validators.context import AuditContext

Source = Literal["TSTR", "TRTR"]
SOURCES: tuple[Source, ...] = ("TSTR", "TRTR")

#: Which table each source trains on, and the flag used when it holds a single class.
TRAINING_FRAME: dict[str, str] = {"TSTR": "synthetic", "TRTR": "train"}
SINGLE_CLASS_FLAGS: dict[str, str] = {"TSTR": "single_class_synthetic", "TRTR": "single_class_train"}
# The models named when a predictions dict names none (the tabular audit's), so that the
# missing keys are reported by name.
DEFAULT_MODELS: tuple[str, ...] = ("logreg", "gboost")

SINGLE_CLASS = (
    "cannot train the {source} downstream models: the {frame} data ({count} rows) hold only the "
    "value(s) {values!r} of target '{target}', and a classifier needs both classes; the {source} "
    "metrics are reported as NaN with flag '{flag}'"
)
MISSING_PREDICTIONS = (
    "predictions lack the key(s) {keys!r}; pass the dict returned by the modality's downstream_predictions(ctx) "
    "(tabular_models, series_models, image_suite), which holds every (source, model) in {sources!r} x {models!r}"
)
BAD_PREDICTIONS = (
    "predictions for {key!r} must be {n} probabilities in [0, 1], one per holdout row in order; "
    "got {problem}"
)
UNKNOWN_SOURCE = "unknown source {source!r}; choose one of {choices!r}"


def training_flag(ctx: AuditContext, source: Source) -> str:
    """``""`` when the source's training table holds both classes, else the flag naming why not."""
    if source not in SOURCES:
        raise ValueError(UNKNOWN_SOURCE.format(source=source, choices=SOURCES))
    frame = getattr(ctx, TRAINING_FRAME[source])
    return "" if len(np.unique(ctx.labels(frame))) == 2 else SINGLE_CLASS_FLAGS[source]


def model_names(predictions: dict[tuple[str, str], np.ndarray]) -> tuple[str, ...]:
    """The downstream models of ``predictions`` (keys ``(source, model)``), in order of first
    appearance; `DEFAULT_MODELS` when the dict names none (so that the missing keys are reported)."""
    names = tuple(dict.fromkeys(m for (s, m) in predictions if s in SOURCES))
    return names or DEFAULT_MODELS


def prediction_flags(
    ctx: AuditContext, predictions: dict[tuple[str, str], np.ndarray]
) -> dict[tuple[str, str], str]:
    """Check ``predictions`` against the holdout and return each key's flag (``""`` if none).

    The models are those the keys name (`model_names`): the tabular ``logreg`` / ``gboost``,
    the series ``cnn`` / ``features``, the image ``cnn``; every model needs both sources. Raises
    ValueError naming the key when one is missing, has the wrong length, or holds values
    that are not probabilities (NaN is allowed only for a flagged source).
    """
    models = model_names(predictions)
    keys = [(s, m) for s in SOURCES for m in models]
    missing = [k for k in keys if k not in predictions]
    if missing:
        raise ValueError(MISSING_PREDICTIONS.format(keys=missing, sources=SOURCES, models=models))
    flags = {}
    for source, model in keys:
        scores = np.asarray(predictions[(source, model)], dtype=float)
        flag = training_flag(ctx, source)
        problem = ""
        if scores.shape != (len(ctx.holdout),):
            problem = f"shape {scores.shape}"
        elif not flag and not np.all((scores >= 0) & (scores <= 1)):
            problem = "NaN or values outside [0, 1]"
        if problem:
            raise ValueError(BAD_PREDICTIONS.format(key=(source, model), n=len(ctx.holdout), problem=problem))
        flags[(source, model)] = flag
    return flags


def join_flags(*flags: str) -> str:
    """Several flags as one cell: the non-empty ones, de-duplicated, joined by ";"."""
    return ";".join(dict.fromkeys(f for flag in flags for f in flag.split(";") if f))

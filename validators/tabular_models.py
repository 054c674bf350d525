"""Downstream models for the utility and fairness audits: train on one table, score the holdout.

TSTR trains on the synthetic data, TRTR on the real training data; both score the same
real holdout rows. The models and their hyper-parameters are fixed a priori (no tuning,
no early stopping on held-out rows), so that the comparison is the same for every
generator and no choice is made by looking at real data:

- ``logreg``: median imputation + missing indicators + standardisation for numeric
  columns, one-hot encoding (``"missing"`` as its own category, unknown categories
  ignored) for categorical ones, then ``LogisticRegression(C=1.0, max_iter=5000)``;
- ``gboost``: the same encoding without scaling, then ``HistGradientBoostingClassifier``
  with scikit-learn defaults except ``early_stopping=False`` (the default switches it on
  above 10,000 rows, which would treat a large synthetic table differently from a small
  real one) and ``random_state`` from the audit config.

Features are every schema column except the target; sensitive attributes are ordinary
features. One-hot categories come from the public schema domain, so TSTR and TRTR models
see the same columns.

When a training table holds only one target class the model cannot be fitted: its
predictions are NaN, `training_flag` names the reason (``"single_class_synthetic"`` or
``"single_class_train"``) and a warning says so, so that the audit still finishes and
reports NaN metrics with that flag instead of stopping.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from dpsynth.schema import CategoricalColumn, NumericColumn
from dpsynth.tabular.schema import TabularSchema
from dpsynth.validators.context import AuditContext
from dpsynth.validators.predictions import SINGLE_CLASS, SOURCES, TRAINING_FRAME, training_flag

ModelName = Literal["logreg", "gboost"]
MODELS: tuple[ModelName, ...] = ("logreg", "gboost")
MISSING_CATEGORY = "missing"
LOGREG_MAX_ITER = 5000

UNKNOWN_MODEL = "unknown downstream model {model!r}; choose one of {choices!r}"


def make_pipeline(schema: TabularSchema, model: ModelName, *, random_state: int = 0) -> Pipeline:
    """An unfitted scikit-learn pipeline (encoding + classifier) for the schema's features."""
    if model not in MODELS:
        raise ValueError(UNKNOWN_MODEL.format(model=model, choices=MODELS))
    features = [c for c in schema.columns if c.name != schema.target]
    numeric = [c.name for c in features if isinstance(c, NumericColumn)]
    categorical = [c for c in features if isinstance(c, CategoricalColumn)]
    numeric_steps = [("impute", SimpleImputer(strategy="median", add_indicator=True,
                                              keep_empty_features=True))]
    if model == "logreg":
        numeric_steps.append(("scale", StandardScaler()))
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline(numeric_steps), numeric))
    if categorical:
        domains = [_one_hot_domain(c) for c in categorical]
        one_hot = OneHotEncoder(
            categories="auto" if any(d is None for d in domains) else domains,
            handle_unknown="ignore", sparse_output=False)
        transformers.append(("categorical", Pipeline([
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY,
                                     keep_empty_features=True)),
            ("one_hot", one_hot),
        ]), [c.name for c in categorical]))
    encode = ColumnTransformer(transformers, remainder="drop")
    if model == "logreg":
        classifier = LogisticRegression(C=1.0, max_iter=LOGREG_MAX_ITER)
    else:
        classifier = HistGradientBoostingClassifier(early_stopping=False, random_state=random_state)
    return Pipeline([("encode", encode), ("classify", classifier)])


def _one_hot_domain(column: CategoricalColumn) -> list[str] | None:
    if column.categories is None:
        return None
    return list(column.categories) + ([MISSING_CATEGORY] if MISSING_CATEGORY not in column.categories else [])


def downstream_predictions(ctx: AuditContext) -> dict[tuple[str, str], np.ndarray]:
    """P(y = positive) for every holdout row (in order), keyed by ``(source, model)``.

    Sources whose training table holds one class get all-NaN predictions and a warning
    (see `training_flag`).
    """
    features = ctx.feature_names()
    holdout = ctx.holdout[features]
    out: dict[tuple[str, str], np.ndarray] = {}
    for source in SOURCES:
        frame: pd.DataFrame = getattr(ctx, TRAINING_FRAME[source])
        y = ctx.labels(frame)
        flag = training_flag(ctx, source)
        if flag:
            values = sorted(frame[ctx.schema.target].astype(str).unique())
            warnings.warn(SINGLE_CLASS.format(
                source=source, frame=TRAINING_FRAME[source], count=len(frame), values=values,
                target=ctx.schema.target, flag=flag), stacklevel=2)
        for model in MODELS:
            if flag:
                out[(source, model)] = np.full(len(holdout), np.nan)
                continue
            pipeline = make_pipeline(ctx.schema, model, random_state=ctx.config.random_state)
            # OpenMP threads spin-wait when the CPUs are shared and slow gradient boosting
            # many times over (as for the detector in tabular_fidelity.py): fit single-threaded.
            with threadpool_limits(limits=1, user_api="openmp"):
                pipeline.fit(frame[features], y)
            positive = list(pipeline.classes_).index(1)
            out[(source, model)] = pipeline.predict_proba(holdout)[:, positive]
    return out

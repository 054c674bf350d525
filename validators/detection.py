"""The real-vs-synthetic detector every modality's fidelity shares: fixed settings and the
grouped cross-validation that scores it.

Fixed a priori (nothing about the detector is tuned on the real data): ``DETECTOR_PARAMS``
for a gradient-boosting classifier, ``N_FOLDS`` stratified group folds, and ``MIN_ROWS``
below which a fidelity metric is NaN with the flag ``empty``. A feature with no observed value
in a fit's training rows (a nullable column missing throughout a small subgroup) carries
nothing to split on and is left out of that fit (`observed_columns`): scikit-learn's
histogram binning cannot take a column that is all NaN.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from threadpoolctl import threadpool_limits

from dpsynth.validators.predictions import join_flags

N_FOLDS = 5
MIN_ROWS = 2  # fewer rows than this in either table: metrics are NaN, flag "empty"
# Why a fidelity value of a slice with rows is still NaN, or a mean over features leaves some out:
NO_OBSERVED = "no_observed_values"    # a column / channel with no observed value in either table's slice
UNDEFINED = "undefined"               # another statistic undefined on these rows (e.g. constant windows)
EXCLUDED_UNDEFINED = "excluded_undefined"  # a mean over features that leaves the NaN ones out (names them)
DETECTOR_PARAMS = dict(max_iter=100, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=20,
                       l2_regularization=0.0, early_stopping=False)


def fidelity_row(base: dict, metric: str, value: float, *, empty: bool, why: str = "", **extra) -> dict:
    """One fidelity result row on top of ``base`` (the slice's columns and flag): NaN for an
    ``empty`` slice; a NaN value of a slice with rows carries why (``why``, else `UNDEFINED`)."""
    value = np.nan if empty else float(value)
    if not empty and np.isnan(value):
        why = why or UNDEFINED
    return {**base, "metric": metric, "value": value, **extra,
            "flag": join_flags(base["flag"], why if not empty else "")}


def observed_columns(x: np.ndarray) -> np.ndarray:
    """Mask of the columns of ``x`` with at least one non-missing value: the features a
    HistGradientBoosting fit on these rows can use."""
    return ~np.isnan(x).all(axis=0) if len(x) else np.zeros(x.shape[1], bool)


def grouped_detection_auc(x: np.ndarray, y: np.ndarray, groups: np.ndarray, *, folds: int, seed: int) -> float:
    """Mean AUROC over ``folds`` stratified group folds of the fixed detector on features ``x``
    and labels ``y`` (0 real, 1 synthetic); records of one group never straddle train and test.
    Folds whose train or test part holds one class are skipped; NaN when none is left. Each
    fold's detector uses the features observed in its training rows (`observed_columns`);
    with none, it cannot tell the rows apart (AUROC 0.5)."""
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    aucs = []
    # Many small fits: OpenMP threads spin-wait and slow down many times over when the CPUs
    # are shared, so the detector runs single-threaded.
    with threadpool_limits(limits=1, user_api="openmp"):
        for train_idx, test_idx in splitter.split(x, y, groups):
            if len(np.unique(y[test_idx])) < 2 or len(np.unique(y[train_idx])) < 2:
                continue
            keep = observed_columns(x[train_idx])
            if not keep.any():
                aucs.append(0.5)
                continue
            clf = HistGradientBoostingClassifier(**DETECTOR_PARAMS, random_state=seed)
            clf.fit(x[train_idx][:, keep], y[train_idx])
            aucs.append(roc_auc_score(y[test_idx], clf.predict_proba(x[test_idx][:, keep])[:, 1]))
    return float(np.mean(aucs)) if aucs else np.nan

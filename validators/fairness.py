"""Fairness audit: per-subgroup performance of the downstream models and the gaps between
subgroups, for TSTR and TRTR, and whether synthesis widens the gaps.

For every attribute of ``ctx.attributes`` (each sensitive attribute and, when configured,
each pairwise intersection ``"a×b"`` whose groups read ``"x & y"``), every downstream
model and source, on the real holdout:

- per group: ``auroc``, ``tpr``, ``fpr``, ``ppv``, ``selection_rate`` and ``ece``
  (expected calibration error, 10 bins), with the group's row count in ``n``; a score
  >= 0.5 predicts the positive class. Point values come from fairlearn's ``MetricFrame``
  (fairlearn's ``true_positive_rate``, ``false_positive_rate``, ``selection_rate``;
  scikit-learn's AUROC and precision).
- between groups (``group = ""``): ``equalized_odds_difference``,
  ``equalized_odds_ratio`` and ``demographic_parity_difference`` with fairlearn's
  ``between_groups`` / ``agg="worst_case"`` definitions, ``worst_group_auroc`` (lowest
  group AUROC) and ``auroc_gap`` (highest minus lowest). They are aggregated from the
  ``MetricFrame`` group values of the included groups (see below) rather than by calling
  ``fairlearn.metrics.equalized_odds_difference`` & co. on the included rows: the result
  is identical (the tests compare them) and one ``MetricFrame`` per model replaces four.
- source ``"change"``: TSTR - TRTR for every between-group metric and for the
  per-group ``auroc``, ``tpr`` and ``fpr``: a positive ``equalized_odds_difference``
  change means the model trained on synthetic data treats the groups less equally.

Which groups enter the between-group metrics:

- a group with fewer than ``config.min_group_size`` holdout rows gets its per-group rows
  (flag ``"small_group"``) but is EXCLUDED from every between-group metric, whose flag
  then lists it, e.g. ``"excluded_small:asian"``; small groups are reported, never
  silently averaged in;
- a group holding one outcome class has no AUROC (NaN, flag ``"single_class"``) and no
  TPR or FPR, so it is excluded from the equalized-odds and AUROC metrics
  (``"excluded_single_class:..."``; fairlearn would count its undefined rate as 0);
- with fewer than two groups left, a between-group metric is NaN (``"fewer_than_two_groups"``);
- a group the schema or the real train rows hold but the holdout does not
  (`AuditContext.absent_from_holdout`) gets NaN per-group rows with ``n = 0`` and the flag
  ``"absent_in_holdout"``, and every between-group row names it (``"absent_in_holdout:black"``):
  a gap over the groups that are left says nothing about it.

A source whose model predicts one class for every holdout row (all scores on one side of
0.5) has TPR and FPR both 0 (or both 1) in every group, so its equalized-odds difference
is 0 by construction and its change is just minus the other source's: every row of that
source, and every change row, carries the flag ``"constant_predictor"`` (values kept, to
be read as "no fairness signal", not as "fair").

Likewise a source whose model ranks the holdout no better than chance — its overall AUROC's
bootstrap interval includes 0.5 — can look fairer than the real-data model only because it
has learned nothing: its rows and every change row carry ``"chance_level_predictor"``
(e.g. a DP generator that lost the outcome signal; values kept, read as "no signal").

Intervals are percentile bootstraps over holdout rows, resampled within each group x outcome
class of the attribute (one resample set per attribute, so every change is paired; the
chance-level check resamples within class). Every resample thus keeps each group's
positives and negatives, so TPR, FPR and AUROC are defined on every resample of a group
that holds both classes: none is dropped, and the interval is one of the reported statistic.
Between-group replicates are aggregated from the per-group replicates by the same function
as the point value. A resample on which a value is still undefined (no predicted positive,
a 0/0 ratio) is skipped; an interval that excludes its estimate (gaps and worst cases are
biased upward on resamples) is extended to it and flagged ``"interval_widened"`` (`bootstrap`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
from sklearn.metrics import precision_score, roc_auc_score

from dpsynth.validators import bootstrap as bs
from dpsynth.validators.bootstrap import THRESHOLD, Replicated, WeightedMetric
from dpsynth.validators.context import ABSENT_IN_HOLDOUT, AuditContext, result_frame
from dpsynth.validators.predictions import SOURCES, join_flags, model_names, prediction_flags

VALIDATOR = "fairness"
SALT = 2  # this validator's bootstrap stream: ctx.rng(SALT)

SMALL_GROUP = "small_group"
CONSTANT_PREDICTOR = "constant_predictor"
CHANCE_PREDICTOR = "chance_level_predictor"
SINGLE_CLASS = "single_class"
NO_PREDICTED_POSITIVE = "no_predicted_positive"
FEWER_THAN_TWO = "fewer_than_two_groups"
UNKNOWN_METRIC = "unknown between-group metric {metric!r}; choose one of {choices!r}"

#: Per-group metrics: weighted kernels for the bootstrap (point values use fairlearn).
GROUP_METRICS: dict[str, WeightedMetric] = {
    "auroc": bs.auroc,
    "tpr": bs.true_positive_rate,
    "fpr": bs.false_positive_rate,
    "ppv": bs.positive_predictive_value,
    "selection_rate": bs.selection_rate,
    "ece": bs.calibration_error,
}
GROUP_CHANGE_METRICS = ("auroc", "tpr", "fpr")
BETWEEN_METRICS = ("equalized_odds_difference", "equalized_odds_ratio",
                   "demographic_parity_difference", "worst_group_auroc", "auroc_gap")
#: Between-group metrics that need both outcome classes in each included group.
NEEDS_BOTH_CLASSES = ("equalized_odds_difference", "equalized_odds_ratio", "worst_group_auroc", "auroc_gap")


# ------------------------------------------------------- per-group values via fairlearn
def _auroc(y: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else np.nan


def _tpr(y: np.ndarray, score: np.ndarray) -> float:
    return float(true_positive_rate(y, score >= THRESHOLD, pos_label=1)) if (y == 1).any() else np.nan


def _fpr(y: np.ndarray, score: np.ndarray) -> float:
    return float(false_positive_rate(y, score >= THRESHOLD, pos_label=1)) if (y == 0).any() else np.nan


def _ppv(y: np.ndarray, score: np.ndarray) -> float:
    return float(precision_score(y, score >= THRESHOLD, pos_label=1, zero_division=np.nan))


def _selection_rate(y: np.ndarray, score: np.ndarray) -> float:
    return float(selection_rate(y, score >= THRESHOLD, pos_label=1))


def _ece(y: np.ndarray, score: np.ndarray) -> float:
    return float(bs.calibration_error(y, score, np.ones((1, len(y))))[0])


_FAIRLEARN_METRICS = {"auroc": _auroc, "tpr": _tpr, "fpr": _fpr, "ppv": _ppv,
                      "selection_rate": _selection_rate, "ece": _ece}


# ------------------------------------------------------------------------ group layout
@dataclass(frozen=True)
class _Groups:
    """The holdout's groups for one attribute and which of them enter between-group metrics."""

    labels: np.ndarray        # group label per holdout row
    names: list[str]          # distinct groups of the holdout, sorted
    sizes: dict[str, int]     # holdout rows per group (0 for an absent group)
    positives: dict[str, int]
    small: list[str]          # n < min_group_size: reported, excluded from between-group metrics
    absent: list[str]         # in the schema / real train rows, in no holdout row: NaN rows

    @classmethod
    def of(cls, ctx: AuditContext, attribute: str, y: np.ndarray, absent: list[str] | None = None) -> _Groups:
        labels = ctx.groups_of("holdout", attribute).to_numpy(dtype=object).astype(str)
        names = sorted(set(labels))
        absent = [g for g in absent or [] if g not in names]
        sizes = {g: int((labels == g).sum()) for g in [*names, *absent]}
        positives = {g: int(y[labels == g].sum()) for g in [*names, *absent]}
        small = [g for g in names if sizes[g] < ctx.config.min_group_size]
        return cls(labels, names, sizes, positives, small, absent)

    def one_class(self, g: str) -> bool:
        return self.positives[g] in (0, self.sizes[g])

    @property
    def single_class(self) -> list[str]:
        """Groups large enough to include but holding one outcome class."""
        return [g for g in self.names if self.one_class(g) and g not in self.small]

    def included(self, metric: str) -> list[str]:
        excluded = set(self.small) | (set(self.single_class) if metric in NEEDS_BOTH_CLASSES else set())
        return [g for g in self.names if g not in excluded]

    def exclusion_flag(self, metric: str) -> str:
        flags = [f"excluded_small:{','.join(self.small)}" if self.small else "",
                 f"{ABSENT_IN_HOLDOUT}:{','.join(self.absent)}" if self.absent else ""]
        if metric in NEEDS_BOTH_CLASSES and self.single_class:
            flags.append(f"excluded_single_class:{','.join(self.single_class)}")
        if len(self.included(metric)) < 2:
            flags.append(FEWER_THAN_TWO)
        return join_flags(*flags)

    def group_flag(self, g: str, metric: str, value: float, *, trained: bool) -> str:
        """Why one group's value may be unreliable (small) or undefined (absent, one class, ...)."""
        if g in self.absent:
            return ABSENT_IN_HOLDOUT
        undefined = {"auroc": self.one_class(g), "tpr": self.positives[g] == 0,
                     "fpr": self.positives[g] == self.sizes[g]}
        flags = [SMALL_GROUP if g in self.small else ""]
        if undefined.get(metric, False):
            flags.append(SINGLE_CLASS)
        elif trained and metric == "ppv" and np.isnan(value):
            flags.append(NO_PREDICTED_POSITIVE)
        return join_flags(*flags)


# --------------------------------------------------------------- per-key computations
def _per_group(y, scores, groups: _Groups, weights) -> dict[tuple[str, str], Replicated]:
    """(group, metric) -> fairlearn point value with the kernel's bootstrap replicates."""
    frame = MetricFrame(metrics=_FAIRLEARN_METRICS, y_true=y, y_pred=scores,
                        sensitive_features=pd.Series(groups.labels, name="group"))
    by_group = frame.by_group
    out = {}
    for g in groups.names:
        mask = groups.labels == g
        for metric, kernel in GROUP_METRICS.items():
            reps = bs.replicate(kernel, y[mask], scores[mask], weights=weights[:, mask]).replicates
            out[(g, metric)] = Replicated(float(by_group.loc[g, metric]), reps)
    for g in groups.absent:
        for metric in GROUP_METRICS:
            out[(g, metric)] = Replicated.undefined(len(weights))
    return out


def _spread(matrix: np.ndarray) -> np.ndarray:
    """Highest minus lowest value along axis 1 (NaN when any value is NaN)."""
    return matrix.max(axis=1) - matrix.min(axis=1)


def _min_over_max(matrix: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return matrix.min(axis=1) / matrix.max(axis=1)   # 0/0 -> NaN, as fairlearn


def _aggregate(metric: str, stack: Callable[[str], np.ndarray]) -> np.ndarray:
    """A between-group metric from per-group values, ``stack(name)`` of shape (rows, groups).

    The definitions are fairlearn's ``between_groups`` / ``worst_case`` ones:
    equalized_odds_difference = max(TPR spread, FPR spread), equalized_odds_ratio =
    min(TPR min/max, FPR min/max) where a 0/0 ratio is skipped, demographic_parity_difference
    = selection-rate spread. A row with any undefined group value is NaN.
    """
    if metric == "equalized_odds_difference":
        return np.maximum(_spread(stack("tpr")), _spread(stack("fpr")))
    if metric == "equalized_odds_ratio":
        tpr, fpr = stack("tpr"), stack("fpr")
        ratio = np.fmin(_min_over_max(tpr), _min_over_max(fpr))
        return np.where(np.isnan(tpr).any(axis=1) | np.isnan(fpr).any(axis=1), np.nan, ratio)
    if metric == "demographic_parity_difference":
        return _spread(stack("selection_rate"))
    if metric == "worst_group_auroc":
        return stack("auroc").min(axis=1)
    if metric == "auroc_gap":
        return _spread(stack("auroc"))
    raise ValueError(UNKNOWN_METRIC.format(metric=metric, choices=BETWEEN_METRICS))


def _between(groups: _Groups, per_group: dict, n_bootstrap: int) -> dict[str, Replicated]:
    """Between-group metrics over the included groups: the point value from the per-group
    (fairlearn) values and each replicate from the per-group replicates, by one definition."""
    out = {}
    for metric in BETWEEN_METRICS:
        included = groups.included(metric)
        if len(included) < 2:
            out[metric] = Replicated.undefined(n_bootstrap)
            continue

        def stack(name: str, included=included) -> np.ndarray:
            return np.column_stack([np.r_[per_group[(g, name)].value, per_group[(g, name)].replicates]
                                    for g in included])

        values = _aggregate(metric, stack)
        out[metric] = Replicated(float(values[0]), values[1:])
    return out


def _row(model: str, source: str, metric: str, attribute: str, group: str, rep: Replicated,
         *, n: int, flag: str, confidence: float) -> dict:
    return dict(validator=VALIDATOR, model=model, source=source, metric=metric, attribute=attribute,
                group=group, feature="", n=n, **rep.fields(confidence=confidence, flag=flag))


def _model_rows(ctx: AuditContext, model: str, attribute: str, groups: _Groups, y: np.ndarray,
                predictions: dict, flags: dict, signal: dict, weights: np.ndarray) -> list[dict]:
    """TSTR, TRTR and change rows of one downstream model for one attribute (``signal``:
    `signal_flags`, computed once for every attribute)."""
    n_bootstrap, confidence = ctx.config.n_bootstrap, ctx.config.confidence
    rows, results = [], {}
    for source in SOURCES:
        flag = flags[(source, model)]
        row_flag = join_flags(flag, signal[(source, model)])
        if flag:
            per_group = {(g, m): Replicated.undefined(n_bootstrap)
                         for g in [*groups.names, *groups.absent] for m in GROUP_METRICS}
            between = {m: Replicated.undefined(n_bootstrap) for m in BETWEEN_METRICS}
        else:
            scores = np.asarray(predictions[(source, model)], dtype=float)
            per_group = _per_group(y, scores, groups, weights)
            between = _between(groups, per_group, n_bootstrap)
        results[source] = per_group, between
        rows += [_row(model, source, metric, attribute, g, rep, n=groups.sizes[g], confidence=confidence,
                      flag=join_flags(row_flag, groups.group_flag(g, metric, rep.value, trained=not flag)))
                 for (g, metric), rep in per_group.items()]
        rows += [_row(model, source, metric, attribute, "", rep, confidence=confidence,
                      n=sum(groups.sizes[g] for g in groups.included(metric)),
                      flag=join_flags(row_flag, groups.exclusion_flag(metric)))
                 for metric, rep in between.items()]

    (tstr_group, tstr_between), (trtr_group, trtr_between) = results["TSTR"], results["TRTR"]
    flag = join_flags(*(flags[(s, model)] for s in SOURCES), *(signal[(s, model)] for s in SOURCES))
    rows += [_row(model, "change", metric, attribute, g, tstr_group[(g, metric)] - trtr_group[(g, metric)],
                  n=groups.sizes[g], confidence=confidence,
                  flag=join_flags(flag, groups.group_flag(g, metric, np.nan, trained=False)))
             for g in [*groups.names, *groups.absent] for metric in GROUP_CHANGE_METRICS]
    rows += [_row(model, "change", metric, attribute, "", tstr_between[metric] - trtr_between[metric],
                  n=sum(groups.sizes[g] for g in groups.included(metric)), confidence=confidence,
                  flag=join_flags(flag, groups.exclusion_flag(metric)))
             for metric in BETWEEN_METRICS]
    return rows


def constant_flag(scores: np.ndarray) -> str:
    """``CONSTANT_PREDICTOR`` when every score falls on the same side of the threshold, else ``""``."""
    predicted = np.asarray(scores, dtype=float) >= THRESHOLD
    return CONSTANT_PREDICTOR if len(predicted) and (predicted.all() or not predicted.any()) else ""


def chance_flag(y: np.ndarray, scores: np.ndarray, weights: np.ndarray, confidence: float) -> str:
    """``CHANCE_PREDICTOR`` when the overall AUROC's bootstrap interval (resample ``weights``)
    includes 0.5, else ``""`` (also when the AUROC is undefined: one outcome class)."""
    estimate = bs.replicate(bs.auroc, y, np.asarray(scores, dtype=float), weights=weights).estimate(
        confidence=confidence)
    return CHANCE_PREDICTOR if estimate.ci_low <= 0.5 <= estimate.ci_high else ""


def signal_flags(y: np.ndarray, predictions: dict, flags: dict, weights: np.ndarray,
                 confidence: float) -> dict[tuple[str, str], str]:
    """(source, model) -> ``CONSTANT_PREDICTOR``, ``CHANCE_PREDICTOR`` or ``""``: whether the
    model's predictions carry a signal at all (a constant predictor is at chance too: one flag).
    Independent of the attribute, so computed once per audit."""
    return {key: "" if flag else (constant_flag(predictions[key]) or
                                  chance_flag(y, predictions[key], weights, confidence))
            for key, flag in flags.items()}


# ----------------------------------------------------------------------------- public
def evaluate(ctx: AuditContext, predictions: dict[tuple[str, str], np.ndarray]) -> pd.DataFrame:
    """Tidy fairness rows (`context.RESULT_COLUMNS`) for ``downstream_predictions(ctx)``.

    Groups below ``config.min_group_size`` holdout rows are flagged ``"small_group"`` and
    EXCLUDED from the between-group metrics, whose flag lists them (``"excluded_small:..."``);
    see the module docstring for the other exclusions.
    """
    flags = prediction_flags(ctx, predictions)
    models = model_names(predictions)
    y = ctx.labels(ctx.holdout)
    rng, n_bootstrap = ctx.rng(SALT), ctx.config.n_bootstrap
    class_weights = bs.resample_weights(len(y), n_bootstrap=n_bootstrap, rng=rng, strata=y)
    signal = signal_flags(y, predictions, flags, class_weights, ctx.config.confidence)
    absent = ctx.absent_from_holdout()
    rows: list[dict] = []
    for attribute in ctx.attributes:
        groups = _Groups.of(ctx, attribute, y, absent.get(attribute))
        strata = np.char.add(groups.labels.astype(str), np.where(y == 1, "|1", "|0"))
        weights = bs.resample_weights(len(y), n_bootstrap=n_bootstrap, rng=rng, strata=strata)
        for model in models:
            rows += _model_rows(ctx, model, attribute, groups, y, predictions, flags, signal, weights)
    return result_frame(rows)

"""Membership inference against the synthetic data, one path for every modality.

The question: can someone who holds the release tell the generator's training records
(*members*) from fresh records of the same population (*non-members*)? Each audit hands in
feature matrices (`MembershipFeatures`: real train, real holdout, synthetic, row-aligned with
the audit's tables); what follows is the same for tables, series and images.

Set-up. The holdout is split at random, by privacy unit when the audit gives unit keys, into
a *reference* half (the attacker's sample of the population) and a *non-member* half;
members are a same-size random sample of train rows. Every feature is standardised by the
reference half's mean and standard deviation (a missing value, NaN, is then set to 0, the
reference mean). Attacks (higher score = "member"):

- ``domias``: density ratio (DOMIAS, van Breugel et al. 2023) ``log p_syn(x) - log p_ref(x)``.
  Both densities are Gaussian kernel density estimates in the first `DENSITY_COMPONENTS`
  principal components of the reference half, whitened (PCA fitted on the reference half
  only); bandwidth by Scott's rule ``h = n^(-1/(d + 4))`` for the n points of each estimate
  in that unit-covariance space. It finds local over-density of the synthetic data around
  training records; in ten dimensions the kernels are wide, so it reacts to where a generator
  puts its mass rather than to single copied records (the distance attacks see those).
- ``distance``: minus the Euclidean distance to the closest synthetic record (all standardised
  features).
- ``distance_ratio``: ``log d_ref(x) - log d_syn(x)``, the distance to the closest synthetic
  record relative to the closest reference record, which discounts records that are far
  from everything (outliers) and near to everything (common profiles).

Metrics per attack: ``auc``, ``tpr_at_fpr_0.01`` and ``tpr_at_fpr_0.001`` (the ROC curve's
height at FPR 1 % / 0.1 %, `bootstrap.tpr_at_fpr`), each with a percentile bootstrap interval over
the attacked rows, resampled within members and non-members (per group: within group x
membership, one resample set per attribute; `bootstrap`), overall and per group of every attribute of the audit
(group ``auc_gap``: highest minus lowest group AUC). ``feature`` says how many members and
non-members each row used, e.g. ``"members=1366,nonmembers=1366"``; ``source`` is
``"synthetic"`` for the release and ``"control"`` for a positive control: the same attacks on
noisy copies of every train record, a NOT PRIVATE release that leaks by construction (each
copy moved by Gaussian noise of expected length `CONTROL_SHIFT` times the median distance
between a reference record and its nearest other reference record: closer to its original
than real neighbours are to each other); what the attacks reach on it is their *power* on
this data.

Flags: ``small_group`` (fewer than ``min_group_size`` members or non-members; reported,
never averaged away, and left out of ``auc_gap``); ``small_holdout`` on the overall rows when
the holdout has fewer than 2 x ``min_group_size`` rows (fewer than ``min_group_size``
non-members, as for a group); ``few_nonmembers`` on a TPR-at-FPR row
with fewer than 1 / FPR non-members (TPR at 0.1 % FPR needs >= 1,000 to mean anything);
``contradicts_card`` when the whole interval lies above the bound that the privacy card's
(ε, δ) puts on every attack (rows ``dp_bound_*``, `CardBound`; docs/privacy.md, rule 10: a
bug to stop the release for, not a number to report and move on). That check is made only
where the interval can carry it: on the release's rows that are neither ``small_group`` nor
``few_nonmembers``, and a TPR at FPR α is held against the bound at the FPR's one-sided
Clopper-Pearson upper limit (the threshold's FPR is itself estimated from the non-members:
with 1,000 of them, three members that happen to score above every non-member would
otherwise "beat" ε = 1 at FPR 0.1 %).

What this is NOT: proof of privacy. The card's ε bounds every attack, including stronger
ones than these; an attack at chance level shows only that *these* attacks found nothing.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from scipy.stats import beta
from sklearn.neighbors import NearestNeighbors

from dpsynth.validators import bootstrap as bs
from dpsynth.validators.bootstrap import Replicated
from dpsynth.validators.context import SMALL_HOLDOUT, AuditConfig, AuditContext, min_holdout_size, result_frame
from dpsynth.validators.predictions import join_flags
from dpsynth.validators.tabular_encoding import sample_positions

VALIDATOR = "membership"
SALT = 41                 # this validator's stream: ctx.rng(SALT)
DENSITY_COMPONENTS = 10   # PCA dimensions of the density-ratio attack (fixed a priori)
CONTROL_SHIFT = 0.1       # positive control: expected displacement / median reference NN distance
FPRS = (0.01, 0.001)
TPR_METRICS = {f"tpr_at_fpr_{fpr:g}": fpr for fpr in FPRS}  # metric name -> its FPR
METRICS = ("auc", *TPR_METRICS)
KDE_CHUNK = 256           # evaluation points per block of kernel sums (bounds memory)
_TINY = 1e-12             # added to distances before their logarithm (exact copies)

SMALL_GROUP = "small_group"
FEW_NONMEMBERS = "few_nonmembers"
CONTRADICTS_CARD = "contradicts_card"
TOO_FEW_ROWS = "too_few_rows"
FEWER_THAN_TWO = "fewer_than_two_groups"

NOT_A_MATRIX = "membership features for {name} must be a 2-D numeric array [rows, features]; got shape {shape}"
WIDTH_MISMATCH = ("membership features must have the same columns in train, holdout and synthetic; got {widths} "
                  "columns: encode the three tables with one encoding")
NOT_FINITE = ("membership features for {name} hold infinite values in column(s) {columns}: clip or rescale them "
              "(missing values may be NaN)")
GROUP_KEYS = "train_groups and holdout_groups must name the same attributes; got {train} and {holdout}"
BAD_LABELS = "{name} labels for {what!r} must hold one entry per {name} row ({n}); got {got}"


@dataclass(frozen=True)
class MembershipFeatures:
    """One audit's feature matrices, row-aligned with its train, holdout and synthetic tables
    (NaN = missing), and optionally the privacy-unit key of every holdout row (so a unit's
    rows never straddle the reference / non-member split)."""

    train: np.ndarray
    holdout: np.ndarray
    synthetic: np.ndarray
    holdout_units: np.ndarray | None = None


# ------------------------------------------------------------------------- the space
@dataclass(frozen=True)
class _Space:
    """Standardisation and whitened PCA basis, both fitted on the reference half only."""

    mean: np.ndarray
    scale: np.ndarray
    basis: np.ndarray  # [features, components]: z @ basis has unit variance on the reference

    @classmethod
    def fit(cls, reference: np.ndarray, n_components: int) -> _Space:
        with warnings.catch_warnings():  # an all-NaN column: "mean of empty slice"
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(reference, axis=0)
            scale = np.nanstd(reference, axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        scale = np.where(np.isfinite(scale) & (scale > 1e-12), scale, 1.0)
        z = cls._standardise(reference, mean, scale)
        z = z - z.mean(axis=0)
        _, singular, vt = np.linalg.svd(z, full_matrices=False)
        std = singular / np.sqrt(max(len(z) - 1, 1))
        keep = min(n_components, int((std > 1e-8 * max(std.max(initial=0.0), 1e-300)).sum()))
        return cls(mean, scale, vt[:keep].T / std[:keep])

    @staticmethod
    def _standardise(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
        z = (x - mean) / scale
        return np.where(np.isnan(z), 0.0, z)

    def standardise(self, x: np.ndarray) -> np.ndarray:
        return self._standardise(x, self.mean, self.scale)


# --------------------------------------------------------------------------- attacks
def log_kde(points: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Log density at ``points`` of a Gaussian KDE on ``data`` with identity covariance times
    Scott's factor ``n^(-1/(d + 4))`` squared (the data are whitened beforehand)."""
    n, d = data.shape
    if d == 0:
        return np.zeros(len(points))
    h = n ** (-1.0 / (d + 4))
    const = -np.log(n) - d * np.log(h) - 0.5 * d * np.log(2 * np.pi)
    data_sq = (data ** 2).sum(1)
    out = np.empty(len(points))
    for start in range(0, len(points), KDE_CHUNK):
        block = points[start:start + KDE_CHUNK]
        sq = np.maximum((block ** 2).sum(1)[:, None] + data_sq[None, :] - 2 * block @ data.T, 0.0)
        out[start:start + KDE_CHUNK] = logsumexp(-sq / (2 * h * h), axis=1) + const
    return out


def _nearest(points: np.ndarray, data: np.ndarray) -> np.ndarray:
    return NearestNeighbors(n_neighbors=1).fit(data).kneighbors(points)[0][:, 0]


def domias(space: _Space, points: np.ndarray, synthetic: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``log p_syn - log p_ref`` in the whitened PCA space of the reference half."""
    project = space.basis
    return log_kde(points @ project, synthetic @ project) - log_kde(points @ project, reference @ project)


def distance(space: _Space, points: np.ndarray, synthetic: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Minus the distance to the closest synthetic record."""
    return -_nearest(points, synthetic)


def distance_ratio(space: _Space, points: np.ndarray, synthetic: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Distance to the closest reference record over that to the closest synthetic one (log)."""
    return np.log(_nearest(points, reference) + _TINY) - np.log(_nearest(points, synthetic) + _TINY)


#: attack name -> score(space, standardised points, synthetic, reference); higher = member.
ATTACKS: dict[str, Callable[..., np.ndarray]] = {
    "domias": domias, "distance": distance, "distance_ratio": distance_ratio}


# ------------------------------------------------------------------------- DP bounds
def dp_tpr_bound(fpr: float, epsilon: float, delta: float) -> float:
    """The highest TPR any test at false-positive rate ``fpr`` can reach against an (ε, δ)-DP
    mechanism: ``min(1, e^ε·fpr + δ, 1 - e^-ε·(1 - δ - fpr))`` (the hypothesis-testing region
    of Kairouz et al. 2015; the first term is the one that binds at low FPR)."""
    return float(_tpr_curve(np.asarray(fpr, dtype=float), epsilon, delta))


def _tpr_curve(fpr: np.ndarray, epsilon: float, delta: float) -> np.ndarray:
    return np.clip(np.minimum(np.exp(epsilon) * fpr + delta, 1 - np.exp(-epsilon) * (1 - delta - fpr)), 0, 1)


def dp_auc_bound(epsilon: float, delta: float, *, grid: int = 20001) -> float:
    """The largest AUC any attack can reach against an (ε, δ)-DP mechanism: the area under
    `dp_tpr_bound` over FPR in [0, 1] (trapezoids on a fine grid; the curve is piecewise linear)."""
    fpr = np.linspace(0.0, 1.0, grid)
    tpr = _tpr_curve(fpr, epsilon, delta)
    return float(np.sum((tpr[1:] + tpr[:-1]) / 2 * np.diff(fpr)))


@dataclass(frozen=True)
class CardBound:
    """The (ε, δ) of a DP privacy card and what they allow any membership attack."""

    epsilon: float
    delta: float

    @classmethod
    def of(cls, privacy: dict[str, Any] | None) -> CardBound | None:
        """From a privacy summary (`report.privacy_summary`: ``epsilon``, ``delta``, ``private``);
        None for a NOT PRIVATE reference, an infinite ε or no card. A card without δ is read
        as δ = 0 (pure ε-DP)."""
        privacy = privacy or {}
        try:
            epsilon, delta = float(privacy.get("epsilon")), float(privacy.get("delta") or 0.0)
        except (TypeError, ValueError):
            return None
        if privacy.get("private") is False or not np.isfinite(epsilon) or epsilon <= 0:
            return None
        return cls(epsilon, delta)

    def nominal(self) -> dict[str, float]:
        """metric -> the bound at its nominal FPR (the ``dp_bound_*`` rows)."""
        return {"auc": dp_auc_bound(self.epsilon, self.delta),
                **{name: dp_tpr_bound(fpr, self.epsilon, self.delta) for name, fpr in TPR_METRICS.items()}}

    def limit(self, metric: str, n_nonmembers: int, confidence: float) -> float:
        """What a row's interval is checked against: the AUC bound, or for TPR at FPR α the
        TPR bound at the one-sided Clopper-Pearson upper limit of an FPR of α measured on
        ``n_nonmembers`` non-members (at ``confidence``)."""
        if metric == "auc":
            return dp_auc_bound(self.epsilon, self.delta)
        fpr = TPR_METRICS[metric]
        false_positives = int(np.floor(fpr * n_nonmembers))
        upper = float(beta.ppf(confidence, false_positives + 1, n_nonmembers - false_positives)) \
            if false_positives < n_nonmembers else 1.0
        return dp_tpr_bound(upper, self.epsilon, self.delta)


# --------------------------------------------------------------------------- the split
@dataclass(frozen=True)
class _Split:
    members: np.ndarray      # train positions
    nonmembers: np.ndarray   # holdout positions
    reference: np.ndarray    # holdout positions
    synthetic: np.ndarray    # synthetic positions (at most max_rows)
    control: np.ndarray      # train positions copied into the positive control (at most max_rows)


def _split(n_train: int, n_holdout: int, n_synthetic: int, units: np.ndarray | None,
           max_rows: int | None, rng: np.random.Generator) -> _Split:
    """Holdout units shuffled and halved (non-members, reference); members: as many train rows
    as non-members (fewer non-members when train is smaller); each side capped at ``max_rows``."""
    keys = np.arange(n_holdout) if units is None else pd.factorize(pd.Series(units, dtype=object))[0]
    order = rng.permutation(keys.max() + 1 if n_holdout else 0)
    in_half = np.isin(keys, order[: len(order) // 2])
    nonmembers, reference = np.flatnonzero(in_half), np.flatnonzero(~in_half)
    cap = n_train if max_rows is None else min(n_train, max_rows)
    n_eval = min(len(nonmembers), cap)
    nonmembers = np.sort(rng.choice(nonmembers, size=n_eval, replace=False))
    members = np.sort(rng.choice(n_train, size=n_eval, replace=False))
    if max_rows is not None and len(reference) > max_rows:
        reference = np.sort(rng.choice(reference, size=max_rows, replace=False))
    synthetic = sample_positions(n_synthetic, max_rows=max_rows, rng=rng)
    control = sample_positions(n_train, max_rows=max_rows, rng=rng)
    return _Split(members, nonmembers, reference, synthetic, control)


# ---------------------------------------------------------------------------- scoring
def attack_scores(features: MembershipFeatures, split: _Split, rng: np.random.Generator,
                  ) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
    """Labels (1 = member) of the attacked rows (members, then non-members) and, per source
    ("synthetic", "control"), every attack's scores for them."""
    space = _Space.fit(features.holdout[split.reference], DENSITY_COMPONENTS)
    reference = space.standardise(features.holdout[split.reference])
    points = space.standardise(np.vstack([features.train[split.members], features.holdout[split.nonmembers]]))
    copies = space.standardise(features.train[split.control])
    releases = {"synthetic": space.standardise(features.synthetic[split.synthetic]),
                "control": copies + _control_sigma(reference) * rng.standard_normal(copies.shape)}
    y = np.r_[np.ones(len(split.members), int), np.zeros(len(split.nonmembers), int)]
    scores = {source: {name: attack(space, points, release, reference) for name, attack in ATTACKS.items()}
              for source, release in releases.items()}
    return y, scores


def _control_sigma(reference: np.ndarray) -> float:
    """Per-feature noise of the positive control: expected length ``CONTROL_SHIFT`` × the median
    distance from a reference record to its nearest other reference record."""
    neighbours = NearestNeighbors(n_neighbors=2).fit(reference).kneighbors(reference)[0][:, 1]
    return CONTROL_SHIFT * float(np.median(neighbours)) / np.sqrt(max(reference.shape[1], 1))


def _kernels() -> dict[str, bs.WeightedMetric]:
    return {"auc": bs.auroc, **{name: bs.tpr_at_fpr(fpr) for name, fpr in TPR_METRICS.items()}}


def _flags(metric: str, n_members: int, n_nonmembers: int, min_group_size: int | None) -> str:
    small = min_group_size is not None and min(n_members, n_nonmembers) < min_group_size
    fpr = TPR_METRICS.get(metric)
    few = fpr is not None and n_nonmembers < round(1 / fpr)
    return join_flags(SMALL_GROUP if small else "", FEW_NONMEMBERS if few else "")


def _counts(n_members: int, n_nonmembers: int) -> str:
    return f"members={n_members},nonmembers={n_nonmembers}"


# ------------------------------------------------------------------------------ public
def membership_inference(
    features: MembershipFeatures,
    *,
    train_groups: dict[str, np.ndarray],
    holdout_groups: dict[str, np.ndarray],
    config: AuditConfig,
    rng: np.random.Generator,
    privacy: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Tidy membership rows (`context.RESULT_COLUMNS`; see the module docstring).

    ``train_groups`` / ``holdout_groups``: attribute -> group label of every train / holdout
    row; ``privacy``: the card's summary (``epsilon``, ``delta``, ``private``) for the
    ``dp_bound_*`` rows and the ``contradicts_card`` flag.
    """
    _check(features, train_groups, holdout_groups)
    n_train, n_holdout, n_syn = len(features.train), len(features.holdout), len(features.synthetic)
    split = _split(n_train, n_holdout, n_syn, features.holdout_units, config.max_rows, rng)
    card = CardBound.of(privacy)
    bounds = card.nominal() if card else {}
    rows = [dict(metric=f"dp_bound_{metric}", value=value) for metric, value in bounds.items()]
    if min(len(split.members), len(split.reference), len(split.synthetic)) < 2 or not len(split.nonmembers):
        rows += [dict(model=name, source="synthetic", metric=metric, value=np.nan, flag=TOO_FEW_ROWS,
                      feature=_counts(len(split.members), len(split.nonmembers)))
                 for name in ATTACKS for metric in METRICS]
        return _frame(rows)

    y, scores = attack_scores(features, split, rng)
    weights = bs.resample_weights(len(y), n_bootstrap=config.n_bootstrap, rng=rng, strata=y)
    labels = {a: np.r_[np.asarray(train_groups[a], dtype=str)[split.members],
                       np.asarray(holdout_groups[a], dtype=str)[split.nonmembers]] for a in train_groups}
    group_weights = {a: bs.resample_weights(len(y), n_bootstrap=config.n_bootstrap, rng=rng,
                                            strata=np.char.add(group_of, np.where(y == 1, "|1", "|0")))
                     for a, group_of in labels.items()}
    small = SMALL_HOLDOUT if n_holdout < min_holdout_size(config) else ""
    scorer = _Scorer(y, weights, config, card)
    for source, by_attack in scores.items():
        for name, score in by_attack.items():
            rows += scorer.overall_rows(name, source, score, flag=small)
            if source == "synthetic":
                for attribute, group_of in labels.items():
                    rows += scorer.group_rows(name, score, attribute, group_of, group_weights[attribute])
    return _frame(rows)


def evaluate(ctx: AuditContext, features: MembershipFeatures, *,
             privacy: dict[str, Any] | None = None) -> pd.DataFrame:
    """`membership_inference` on an audit context: its attributes' group labels, its config
    and its random stream ``ctx.rng(SALT)``."""
    groups = {frame: {a: ctx.groups_of(frame, a).to_numpy(dtype=str) for a in ctx.attributes}
              for frame in ("train", "holdout")}
    return membership_inference(features, train_groups=groups["train"], holdout_groups=groups["holdout"],
                                config=ctx.config, rng=ctx.rng(SALT), privacy=privacy)


class _Scorer:
    """Metric rows of one attack's scores, on all attacked rows or one group's."""

    def __init__(self, y: np.ndarray, weights: np.ndarray, config: AuditConfig, card: CardBound | None):
        self.y, self.weights, self.config, self.card = y, weights, config, card
        self.kernels = _kernels()

    def replicated(self, score: np.ndarray, mask: np.ndarray,
                   weights: np.ndarray | None = None) -> dict[str, Replicated]:
        weights = self.weights if weights is None else weights
        return {metric: bs.replicate(kernel, self.y[mask], score[mask], weights=weights[:, mask])
                for metric, kernel in self.kernels.items()}

    def counts(self, mask: np.ndarray) -> tuple[int, int]:
        """(members, non-members) among the masked rows."""
        members = int(self.y[mask].sum())
        return members, int(mask.sum()) - members

    def rows(self, name: str, source: str, replicated: dict[str, Replicated], attribute: str, group: str,
             counts: tuple[int, int], *, min_group_size: int | None = None, flag: str = "") -> list[dict]:
        """One row per metric; the card is checked on the release's rows that carry no flag
        (``flag``: the flags every row of this call carries)."""
        out = []
        for metric, rep in replicated.items():
            row_flag = join_flags(flag, _flags(metric, *counts, min_group_size))
            fields = rep.fields(confidence=self.config.confidence, flag=row_flag)
            if source == "synthetic" and not row_flag and self.card is not None and \
                    fields["ci_low"] > self.card.limit(metric, counts[1], self.config.confidence):
                fields["flag"] = join_flags(fields["flag"], CONTRADICTS_CARD)
            out.append(dict(model=name, source=source, metric=metric, attribute=attribute, group=group,
                            feature=_counts(*counts), n=sum(counts), **fields))
        return out

    def overall_rows(self, name: str, source: str, score: np.ndarray, *, flag: str = "") -> list[dict]:
        everyone = np.ones(len(self.y), bool)
        return self.rows(name, source, self.replicated(score, everyone), "overall", "", self.counts(everyone),
                         flag=flag)

    def group_rows(self, name: str, score: np.ndarray, attribute: str, group_of: np.ndarray,
                   weights: np.ndarray | None = None) -> list[dict]:
        """Per-group rows of one attribute and its ``auc_gap`` over the groups that are not small
        (``weights``: the attribute's resamples, stratified by group and membership)."""
        out, aucs, small, included = [], {}, [], np.zeros(len(self.y), bool)
        for group in sorted(set(group_of)):
            mask = group_of == group
            counts, replicated = self.counts(mask), self.replicated(score, mask, weights)
            out += self.rows(name, "synthetic", replicated, attribute, group, counts,
                             min_group_size=self.config.min_group_size)
            if min(counts) < self.config.min_group_size:
                small.append(group)
            else:
                aucs[group], included = replicated["auc"], included | mask
        if len(aucs) >= 2:
            stack = np.column_stack([np.r_[r.value, r.replicates] for r in aucs.values()])
            gap = stack.max(axis=1) - stack.min(axis=1)
            rep = Replicated(float(gap[0]), gap[1:])
        else:
            rep = Replicated.undefined(len(self.weights))
        flag = join_flags(f"excluded_small:{','.join(small)}" if small else "",
                          FEWER_THAN_TWO if len(aucs) < 2 else "")
        counts = self.counts(included)
        out.append(dict(model=name, source="synthetic", metric="auc_gap", attribute=attribute, group="",
                        feature=_counts(*counts), n=sum(counts), **rep.fields(confidence=self.config.confidence,
                                                                               flag=flag)))
        return out


def _frame(rows: list[dict]) -> pd.DataFrame:
    base = dict(validator=VALIDATOR, model="", source="", attribute="overall", group="", feature="", flag="")
    return result_frame([{**base, **row} for row in rows])


def _check(features: MembershipFeatures, train_groups: dict, holdout_groups: dict) -> None:
    """Inputs checked up front: 2-D numeric matrices, one encoding, finite or NaN, one label per row."""
    named = {"train": features.train, "holdout": features.holdout, "synthetic": features.synthetic}
    for name, x in named.items():
        if not isinstance(x, np.ndarray) or x.ndim != 2 or not np.issubdtype(x.dtype, np.number):
            raise ValueError(NOT_A_MATRIX.format(name=name, shape=getattr(x, "shape", type(x).__name__)))
        infinite = np.flatnonzero(np.isinf(x).any(axis=0))
        if len(infinite):
            raise ValueError(NOT_FINITE.format(name=name, columns=infinite[:10].tolist()))
    widths = {name: x.shape[1] for name, x in named.items()}
    if len(set(widths.values())) != 1:
        raise ValueError(WIDTH_MISMATCH.format(widths=widths))
    if set(train_groups) != set(holdout_groups):
        raise ValueError(GROUP_KEYS.format(train=sorted(train_groups), holdout=sorted(holdout_groups)))
    for name, groups, n in (("train", train_groups, len(features.train)),
                            ("holdout", holdout_groups, len(features.holdout))):
        for what, labels in groups.items():
            if len(labels) != n:
                raise ValueError(BAD_LABELS.format(name=name, what=what, n=n, got=len(labels)))
    if features.holdout_units is not None and len(features.holdout_units) != len(features.holdout):
        raise ValueError(BAD_LABELS.format(name="holdout", what="holdout_units", n=len(features.holdout),
                                           got=len(features.holdout_units)))

"""The marginal family: a few noisy counts, chosen for the downstream task, instead of DP-SGD.

At small n the noise of DP-SGD drowns what a network must learn; the marginal-based methods
(MST, AIM) spend the budget on a handful of low-order counts instead. This family measures,
in one pass over the encoded units (privacy stage of `dpsynth.privacy.marginals`, ρ-zCDP):

1. *one-way*: every measured block's histogram (a categorical column; a numeric column's
   coarse bins and its missing flag), Gaussian noise, L2 sensitivity √blocks;
2. *selection*: for each block, how far its exact joint histogram with the target is from
   independence at stage 1's noisy p̂(y) (Σ |N(x, y) − p̂(y) N(x)|, less the L1 norm the next
   stage's noise alone would add, halved: one unit moves the sum by at most 2), then OpenDP's
   noisy top-k of those scores;
3. *target pairs*: the k chosen target × block histograms, Gaussian noise, sensitivity √k.

Stages 2 and 3 share the ρ left after stage 1. k is set from the noisy total of stage 1 (a DP
output) and the blocks' full sizes: as many pairs as keep the expected count per cell at least
``cell_signal`` noise standard deviations, at most every block. The selection takes at most
``selection_share`` of ρ, in proportion to the candidates the affordable pairs leave out
(1 − k/C, with k for the whole of the shared ρ); where every candidate is affordable nothing is
chosen and all are measured. The split follows a DP output, and zCDP composes ρ chosen
adaptively so long as their sum stays within the plan (a Rényi filter at every order, Feldman
& Zrnic 2021); the plan checks that sum. The score is the association alone: at small n·ε the
one-way histograms hold more noise than rows, and a distance from them would choose the blocks
whose one-way noise is largest.

In stages 2 and 3 a block of more than ``pair_groups`` cells is counted on merged cells:
ordered bins in adjacent runs of about equal mass, categories as the most frequent ones and
the rest together (`cell_groups`), both read from stage 1's noisy histogram. Each group's
p(group | y) is shared among its cells as the one-way histogram shares it, so merged cells
share one outcome rate (a sensitive column's too: an age band can share its neighbour's). At small
n·ε a pair's full table has fewer rows per cell than its noise s.d.; merged cells carry the
direction of the association above the noise.

A block named in ``unpaired`` (a public choice, e.g. sex and race) is never a candidate: its
rows are drawn from its one-way histogram, so each group keeps its share but takes the
overall outcome rate. Rows that are independent given the outcome carry a paired attribute's
whole (unadjusted) association with the outcome and none of its links to the other
predictors, so a model trained on them leans on the attribute itself; unpaired, it cannot.

The target's counts are measured once in stage 1 and again by the row sums of every measured
pair whose block each unit fills: p(y) and the noisy total n̂ pool them, each weighted by the
inverse of its noise variance (post-processing). Stage 1's noise is shared among every block,
so at small n·ε its target histogram alone can empty an outcome class; tens of pairs cannot.

Every noisy histogram is projected onto the nearest non-negative one with the same total
(least squares on the simplex) and normalised. The module is a table of log-probabilities:
row y holds, for each block, log p(block | target = y) where the pair was measured and
log p(block) elsewhere; fine bins are uniform. Sampling looks up each row's target in its
condition cell, and the modality's codec draws every block from those logits.

The condition mix (target × sensitive groups) comes from the same measurements, not from a
separate Laplace table (``condition_share`` is 0): p(cell) = Σ_y p(y) Π p(group | y), with
p(group | y) from the group column's target pair where the selection measured it and
p(group) where it did not. At n = 500 a joint Laplace table over dozens of cells at 5 % of ε
has more noise than count in most cells: it invents outcome-rate differences between groups,
which models trained on the rows learn and equalized odds reads. Here a group's outcome rate
differs only where the selection found that difference above the noise.

Written once: the modality says which blocks of its encoding to count (`measured` slices)
and where the target sits in the condition one-hot; every unit adds weight 1 in total.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from dpsynth.errors import ParameterError
from dpsynth.families.training import unit_mean
from dpsynth.params import names, number, param, whole
from dpsynth.privacy.conditions import NOISY, WEIGHT
from dpsynth.privacy.marginals import MECHANISM, MarginalPlan, gaussian_counts, gaussian_scale, noisy_top_k, plan_marginals

ONE_WAY, PAIRS = "one-way", "target pairs"  # the second stage chooses its pairs, then measures them
#: Settings shared by every generator that only DP-SGD or a network reads: set, they change nothing here.
UNUSED_SETTINGS = ("epochs", "batch_size", "lr", "max_grad_norm", "accountant", "grad_sample_mode", "rows_per_step",
                   "secure_mode", "ema_decay", "hidden", "devices")
UNUSED_WARNING = "{name} trains no network and runs no DP-SGD: {names} set but not used (its own parameters: {own})"
OWN_MIX_ERROR = ("dp-marginal derives the condition mix from its own target-pair measurements and spends no "
                 "condition_share: set condition_share=0 (got {share})")
EMPTY_WARNING = ("'{name}': group(s) {empty} look empty under the DP counts; conditional samples for them "
                 "rely on what the model learned from other groups")
LOG_FLOOR = 1e-6  # probability floor: a cell the noisy counts emptied stays possible, but rare
COUNT_CHUNK = 8192  # units per pass when counting


@dataclass
class MarginalParams:
    """The family's parameters (a generator's ``family_params``); defaults fixed a priori."""

    one_way_share: float = param(0.3, "share of the measurement budget (ρ) for every block's own histogram",
                                 number(above=0, below=1))
    selection_share: float = param(0.3, "most of ρ spent choosing which target pairs to measure (noisy top-k): "
                                        "this share times the share of candidates the affordable pairs leave out; "
                                        "none when every candidate is affordable", number(above=0, below=1))
    cell_signal: float = param(2.0, "measure as many target pairs as keep the expected count per cell at least "
                                    "this many noise s.d.", number(above=0))
    pair_groups: int = param(3, "cells per block in a target pair: a larger block's cells are merged into this many "
                                "groups (ordered bins in runs of equal noisy mass; categories as the most frequent "
                                "ones and the rest)", whole(2))
    unpaired: tuple[str, ...] = param((), "columns (or sensitive attributes, by name) never measured in a target "
                                          "pair (e.g. sex, race): each group keeps its share but takes the overall "
                                          "outcome rate, and a model trained on the rows cannot lean on the "
                                          "attribute itself", names())

    @staticmethod
    def combined(values: dict[str, Any]) -> str | None:
        """The shares must leave some ρ for measuring the target pairs."""
        if values["one_way_share"] + values["selection_share"] >= 1:
            return ("one_way_share + selection_share must be below 1 (the rest of ρ measures the target pairs); "
                    f"got {values['one_way_share']} + {values['selection_share']}")
        return None


def warn_unused_settings(model: Any, own: str) -> None:
    """Warn when DP-SGD or network settings that a measuring generator ignores were changed."""
    unused = [name for name in UNUSED_SETTINGS if name in model.param_specs
              and getattr(model.training, name, getattr(model, name, None)) != model.param_specs[name].default]
    if unused:
        warnings.warn(UNUSED_WARNING.format(name=model.registered_name, names=", ".join(unused), own=own),
                      UserWarning, stacklevel=4)


def marginal_plan(model: Any, *, epsilon: float, delta: float, label: str = "noisy marginals") -> MarginalPlan:
    """The plan of a marginal generator ``model``: ρ split into the one-way stage and the target
    pairs' (their selection and measurement); ``label`` names the measurements on the ledger."""
    return plan_marginals(epsilon=epsilon, delta=delta, label=label,
                          shares={ONE_WAY: model.one_way_share, PAIRS: 1.0 - model.one_way_share})


class TargetMarginals(nn.Module):
    """Log-probabilities per target value [targets, width]: the decoder outputs of every row
    whose target is y are row y (see the module docstring)."""

    def __init__(self, width: int, n_targets: int, target_offset: int = 0):
        super().__init__()
        self.target_offset = target_offset
        self.register_buffer("log_probs", torch.zeros(n_targets, width))
        self.register_buffer("measured_pairs", torch.zeros(width, dtype=torch.bool))  # a block's target pair

    def _targets(self, c: torch.Tensor) -> torch.Tensor:
        n = self.log_probs.shape[0]
        return c[..., self.target_offset:self.target_offset + n].argmax(-1)

    def generate(self, c: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decoder outputs [n, width] (logits the codec samples from) for condition one-hots ``c``."""
        return self.log_probs[self._targets(c)]

    def forward(self, x: torch.Tensor, c: torch.Tensor, row_mask: torch.Tensor) -> torch.Tensor:
        """Per-unit loss: the negative log-likelihood of each unit's rows, averaged over its rows."""
        nll = -(x * self.log_probs[self._targets(c)]).sum(-1)
        return unit_mean(nll, row_mask.to(nll.dtype))


@dataclass(frozen=True)
class MarginalLog:
    """What the measurement stage did: seconds, the pairs chosen (block indices), noise s.d.,
    the ρ the selection took from the target pairs' stage (0: every candidate measured)."""

    seconds: float
    chosen: tuple[int, ...]
    one_way_sd: float
    pairs_sd: float
    selection_rho: float = 0.0
    n_hat: float = math.nan  # the noisy total: the pooled target counts summed (a DP output)
    steps: int = 0  # no DP-SGD steps


def unit_batches(tensors: Any, size: int = COUNT_CHUNK) -> Iterator[tuple[torch.Tensor, ...]]:
    """(x, c, row mask) a chunk of units at a time, from tensors in memory or a `UnitFile`."""
    n = len(tensors[0]) if isinstance(tensors, tuple) else len(tensors)
    for start in range(0, n, size):
        if isinstance(tensors, tuple):
            yield tuple(t[start:start + size] for t in tensors)
        else:
            items = tensors.__getitems__(list(range(start, min(start + size, n))))
            yield tuple(torch.stack(parts) for parts in zip(*items))


def exact_counts(tensors: Any, measured: Sequence[slice], module: TargetMarginals, *,
                 progress: bool) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Private and exact: each block's histogram and its target × block histogram, every unit
    adding weight 1 in total (1/k on each of its k rows)."""
    n_targets, width = module.log_probs.shape
    joint = torch.zeros(n_targets, width, dtype=torch.float64)
    for x, c, row_mask in tqdm(list(unit_batches(tensors)), desc="count marginals", unit="chunk",
                               disable=not progress, leave=False):
        mask = row_mask.to(torch.float64)
        weight = (mask / mask.sum(-1, keepdim=True).clamp_min(1.0)).reshape(-1)
        y = module._targets(c).reshape(-1)
        rows = x.reshape(-1, x.shape[-1]).to(torch.float64) * weight[:, None]
        joint.index_add_(0, y, rows)
    joint_np = joint.numpy()
    return [joint_np[:, s].sum(0) for s in measured], [joint_np[:, s] for s in measured]


def simplex(counts: np.ndarray) -> np.ndarray:
    """The probabilities nearest (least squares) to noisy ``counts`` with the same total, then
    normalised; uniform when the noisy total is not positive."""
    total = float(counts.sum())
    if total <= 0:
        return np.full(counts.shape, 1.0 / counts.size)
    ordered = np.sort(counts)[::-1]
    cumulative = np.cumsum(ordered) - total
    index = np.arange(1, counts.size + 1)
    last = np.flatnonzero(ordered - cumulative / index > 0)[-1]
    projected = np.maximum(counts - cumulative[last] / (last + 1), 0.0)
    return projected / projected.sum()


def cell_groups(probs: np.ndarray, groups: int, *, merge: str) -> np.ndarray:
    """The group of each of a block's cells, from its noisy histogram ``probs`` (post-processing).
    ``merge``: ``"ordered"`` bins in ``groups`` adjacent runs of about equal mass, ``"categories"``
    as the ``groups - 1`` most probable alone and the rest together. A block of at most ``groups``
    cells keeps every cell its own group."""
    if probs.size <= groups:
        return np.arange(probs.size)
    if merge == "ordered":
        labels = np.minimum(((np.cumsum(probs) - probs / 2) * groups).astype(int), groups - 1)
    else:
        labels = np.full(probs.size, groups - 1)
        labels[np.argsort(-probs, kind="stable")[:groups - 1]] = np.arange(groups - 1)
    return np.unique(labels, return_inverse=True)[1]


def spread(group_probs: np.ndarray, labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """p(cell | y) [targets, cells] from p(group | y) [targets, groups]: each group's probability
    shared among its cells as the one-way ``probs`` share it (evenly where they give it none)."""
    mass = np.bincount(labels, weights=probs)[labels]
    within = np.where(mass > 0, probs / np.where(mass > 0, mass, 1.0), 1.0 / np.bincount(labels)[labels])
    return group_probs[:, labels] * within[None, :]


def pairs_to_measure(n_hat: float, cells: float, rho: float, candidates: int, cell_signal: float) -> int:
    """k: the most target pairs whose Gaussian noise s.d. (√k / √(2ρ)) stays below the expected
    count per cell (``n_hat / cells``) over ``cell_signal``; at least 1, at most every candidate."""
    k = math.floor(2.0 * rho * (max(n_hat, 0.0) / (cells * cell_signal)) ** 2)
    return int(min(max(k, 1), candidates))


def selection_rho(affordable: int, candidates: int, most: float) -> float:
    """ρ for choosing the target pairs: ``most`` times the share of the ``candidates`` that the
    ``affordable`` pairs leave out, none when every candidate is affordable. Where few pairs fit
    their choice is what decides the outcome's signal; where nearly all fit it matters little."""
    return most * max(0.0, 1.0 - affordable / candidates)


def association_score(joint: np.ndarray, target_probs: np.ndarray, pair_sd: float) -> float:
    """How far a block's exact target × block counts ``joint`` [targets, cells] are from
    independence at the noisy ``target_probs``: Σ |N(x, y) − p̂(y) N(x)|, less the L1 norm the
    pair's noise (s.d. ``pair_sd``) alone would add, halved. One unit of weight w moves N(x, y)
    and N(x) by w, so the sum by at most 2(1 − p̂(y)) w ≤ 2 and the score by at most 1."""
    expected = target_probs[:, None] * joint.sum(0)[None, :]
    return (float(np.abs(joint - expected).sum()) - math.sqrt(2 / math.pi) * pair_sd * joint.size) / 2


def target_pairs(joint_exact: list[np.ndarray], candidates: list[int], plan: MarginalPlan, *, n_hat: float,
                 target_probs: np.ndarray, cell_signal: float, block_sizes: Sequence[int],
                 selection_share: float) -> tuple[dict[int, np.ndarray], float, float]:
    """Stages 2 and 3 on the ρ of the plan's target-pairs stage: choose k of the ``candidates``
    by noisy top-k of `association_score` (taking `selection_rho` of that ρ) and measure their
    target × block histograms (``joint_exact`` per group of cells) on the rest. k follows the
    blocks' own ``block_sizes``: merging cells makes each measured pair's cells larger, it does
    not measure more pairs. Returns {block index: noisy [targets, groups] counts}, the noise
    s.d. and the selection's ρ."""
    n_targets = len(target_probs)
    cells = float(np.median([n_targets * block_sizes[i] for i in candidates]))
    stage_rho = plan.stage_rho(PAIRS)
    affordable = pairs_to_measure(n_hat, cells, stage_rho, len(candidates), cell_signal)
    choosing = selection_rho(affordable, len(candidates), selection_share * plan.rho)
    measuring = stage_rho - choosing
    chosen = list(candidates)
    if choosing > 0:
        k = pairs_to_measure(n_hat, cells, measuring, len(candidates), cell_signal)
        pair_sd = gaussian_scale(math.sqrt(k), measuring)
        scores = [association_score(joint_exact[i], target_probs, pair_sd) for i in candidates]
        chosen = [candidates[j] for j in noisy_top_k(np.asarray(scores), k=k, rho=choosing)]
        plan.record(PAIRS, choosing)
    sensitivity = math.sqrt(len(chosen))
    noisy = gaussian_counts(np.concatenate([joint_exact[i].ravel() for i in chosen]), sensitivity=sensitivity,
                            rho=measuring)
    plan.record(PAIRS, measuring)
    parts = np.split(noisy, np.cumsum([joint_exact[i].size for i in chosen])[:-1])
    pairs = {i: part.reshape(n_targets, -1) for i, part in zip(chosen, parts)}
    return pairs, gaussian_scale(sensitivity, measuring), choosing


def pooled_target_counts(target: np.ndarray, target_sd: float, pairs: dict[int, np.ndarray], pair_sd: float,
                         complete: Collection[int]) -> np.ndarray:
    """The target's counts from every measurement that holds them, weighted by the inverse of
    their noise variance (post-processing): its own noisy histogram (s.d. ``target_sd`` per
    cell) and the row sums of each measured pair whose block every unit fills (``complete``:
    its cells total the unit's weight; a nullable column's bins skip its missing rows), with
    variance cells × ``pair_sd``². Each such pair counts the target again, so tens of pairs pin
    p(y) far better than the one histogram whose noise is shared among every block."""
    estimates, precisions = [target], [1.0 / target_sd ** 2]
    for i, pair in pairs.items():
        if i in complete:
            estimates.append(pair.sum(1))
            precisions.append(1.0 / (pair.shape[1] * pair_sd ** 2))
    weights = np.asarray(precisions)
    return (np.stack(estimates) * weights[:, None]).sum(0) / weights.sum()


def measure(module: TargetMarginals, tensors: Any, plan: MarginalPlan, *, measured: Sequence[slice],
            target_block: int, cell_signal: float, pair_groups: int, merges: Sequence[str], selection_share: float,
            progress: bool, unpaired: Collection[int] = (), complete: Collection[int] = ()) -> MarginalLog:
    """Run the three measurements of the module docstring and fill ``module``'s tables.

    ``measured`` are the encoding's slices to count (``measured[target_block]`` is the target's
    own block: measured once for its total, never paired; so is each block in ``unpaired``, a
    public choice); in a target pair a block has at most ``pair_groups`` cells, merged as
    ``merges`` says for each block (`cell_groups`); the selection takes at most
    ``selection_share`` of ρ (`selection_rho`). The target's counts pool its histogram with
    the row sums of the ``complete`` blocks' pairs (`pooled_target_counts`). Every draw is
    OpenDP's."""
    start = time.perf_counter()
    one_way_exact, joint_exact = exact_counts(tensors, measured, module, progress=progress)

    sensitivity = math.sqrt(len(measured))
    one_way = np.split(gaussian_counts(np.concatenate(one_way_exact), sensitivity=sensitivity,
                                       rho=plan.stage_rho(ONE_WAY)), np.cumsum([s.stop - s.start for s in measured])[:-1])
    plan.record(ONE_WAY, plan.stage_rho(ONE_WAY))
    one_way_total = max(float(np.clip(one_way[target_block], 0.0, None).sum()), 1.0)  # sets k, before pooling
    target_probs = simplex(one_way[target_block])
    probs = [simplex(v) for v in one_way]

    candidates = [i for i in range(len(measured)) if i != target_block and i not in unpaired]
    labels = [cell_groups(p, pair_groups, merge=merge) for p, merge in zip(probs, merges)]  # from noisy counts
    grouped_joint = [joint @ np.eye(group.max() + 1)[group] for joint, group in zip(joint_exact, labels)]
    pairs, pair_sd, choosing = target_pairs(
        grouped_joint, candidates, plan, n_hat=one_way_total, target_probs=target_probs, cell_signal=cell_signal,
        block_sizes=[p.size for p in probs], selection_share=selection_share) if candidates else ({}, math.nan, 0.0)

    one_way_sd = gaussian_scale(sensitivity, plan.stage_rho(ONE_WAY))
    pooled = pooled_target_counts(one_way[target_block], one_way_sd, pairs, pair_sd, complete)
    probs[target_block] = simplex(pooled)
    n_hat = max(float(np.clip(pooled, 0.0, None).sum()), 1.0)

    table = np.zeros(tuple(module.log_probs.shape))
    for i, s in enumerate(measured):
        table[:, s] = np.log(np.maximum(probs[i], LOG_FLOOR))[None, :]
    for i, pair in pairs.items():
        conditional = spread(np.stack([simplex(row) for row in pair]), labels[i], probs[i])
        table[:, measured[i]] = np.log(np.maximum(conditional, LOG_FLOOR))
        module.measured_pairs[measured[i]] = True
    module.log_probs.copy_(torch.from_numpy(table).to(module.log_probs.dtype))
    return MarginalLog(seconds=time.perf_counter() - start, chosen=tuple(pairs), one_way_sd=one_way_sd,
                       pairs_sd=pair_sd, selection_rho=choosing, n_hat=n_hat)


def measured_condition_mix(marginals: TargetMarginals, log: MarginalLog, table: pd.DataFrame,
                           choices_of: Callable[[pd.DataFrame], dict[int, np.ndarray]], *, measured: Sequence[slice],
                           target_block: int) -> pd.DataFrame:
    """The condition mix from measured marginals (post-processing): for each cell of ``table``
    (one column per condition name; its count columns are replaced), expected counts
    n̂ · Σ_y p(y) Π_blocks p(the cell's choices | y), where ``choices_of(cells)[i]`` [cells, block
    size] says which of measured block i's choices each cell allows. Warns for groups whose
    count is within 2 noise s.d. of zero."""
    cells = table.drop(columns=[WEIGHT, NOISY], errors="ignore")
    choices = choices_of(cells)
    probs = marginals.log_probs.exp().cpu().double().numpy()
    p_target = probs[0, measured[target_block]] / probs[0, measured[target_block]].sum()
    weight = np.zeros(len(cells))
    for y, p_y in enumerate(p_target):
        w = p_y * choices[target_block][:, y]
        for i, allowed in choices.items():
            if i != target_block:
                p = probs[y, measured[i]]
                w = w * (allowed * (p / p.sum())[None, :]).sum(1)
        weight += w
    counts = log.n_hat * weight / weight.sum()
    out = cells.assign(**{NOISY: counts, WEIGHT: counts})
    for name in cells.columns:
        totals = out.groupby(name, sort=False)[NOISY].sum()
        empty = [str(g) for g in totals.index[totals < 2.0 * log.pairs_sd * math.sqrt(len(p_target))]]
        if empty:
            warnings.warn(EMPTY_WARNING.format(name=name, empty=empty), UserWarning, stacklevel=4)
    return out


class MarginalFamily:
    """The family's part of a generator (mixed in before the modality's `DPGenerator` subclass):
    its plan, module, private stage and membership score. The modality part says which slices
    of its encoding to count (`_measured_blocks`)."""

    family_params = MarginalParams
    training_mechanism = MECHANISM
    own_condition_mix = True
    param_defaults = {"condition_share": 0.0}

    def _measured_blocks(self, codec: Any) -> tuple[list[slice], int]:
        """(slices of the encoding to count, index of the target's own slice among them)."""
        raise NotImplementedError

    def _pair_merges(self, codec: Any) -> list[str]:
        """For each measured block, how `cell_groups` merges its cells in a target pair:
        ``"ordered"`` or ``"categories"``."""
        raise NotImplementedError

    def _check_unpaired(self) -> None:
        """Raise a `ParameterError` for an ``unpaired`` name the schema cannot keep out of the pairs."""
        raise NotImplementedError

    def _unpaired_blocks(self, codec: Any) -> set[int]:
        """The indices, among the measured blocks, of the ``unpaired`` names' blocks."""
        raise NotImplementedError

    def _complete_blocks(self, codec: Any) -> set[int]:
        """The indices, among the measured blocks, of those every unit fills (weight 1 in total)."""
        raise NotImplementedError

    def _condition_choices(self, codec: Any, cells: Any) -> dict[int, np.ndarray]:
        """For each measured block that a condition cell restricts (the target's, the sensitive
        groups' columns): which of its choices each of ``cells`` allows, [cells, block size]."""
        raise NotImplementedError

    def _plan_training(self, *, n_units: int, epsilon: float, delta: float) -> MarginalPlan:
        warn_unused_settings(self, "one_way_share, selection_share, cell_signal, pair_groups, unpaired, n_bins")
        if self.training.condition_share != 0:
            raise ParameterError(OWN_MIX_ERROR.format(share=self.training.condition_share))
        self._check_unpaired()  # before any mechanism reads the data
        return marginal_plan(self, epsilon=epsilon, delta=delta)  # k follows the noisy total, not n_units

    def _build_module(self, codec: Any) -> nn.Module:
        first = next(iter(codec.condition_domains.values()))  # the target comes first
        return TargetMarginals(codec.width, len(first))

    def _train(self, module: nn.Module, tensors: Any, plan: MarginalPlan, *, progress: bool) -> MarginalLog:
        measured, target_block = self._measured_blocks(self.codec_)
        with torch.no_grad():
            return measure(module, tensors, plan, measured=measured, target_block=target_block,
                           cell_signal=self.cell_signal, pair_groups=self.pair_groups,
                           selection_share=self.selection_share,
                           merges=self._pair_merges(self.codec_), progress=progress,
                           unpaired=self._unpaired_blocks(self.codec_),
                           complete=self._complete_blocks(self.codec_))

    def _fitted_condition_table(self, module: nn.Module, log: MarginalLog, table: Any) -> Any:
        """The condition mix from the measurements (`measured_condition_mix`)."""
        measured, target_block = self._measured_blocks(self.codec_)
        return measured_condition_mix(module, log, table, lambda cells: self._condition_choices(self.codec_, cells),
                                      measured=measured, target_block=target_block)

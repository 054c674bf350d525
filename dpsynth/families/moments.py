"""The moments family: class means and covariances in a public basis, measured with Gaussian
noise, instead of DP-SGD.

At a few thousand images DP-SGD's noise drowns what a network must learn in its 60–90
steps, and the models that survive it draw one template per class. This family measures,
in four passes over the encoded units (ρ-zCDP, OpenDP, `dpsynth.privacy.marginals`), the
first and second moments of each value row's coefficients z = B·v in a public orthonormal
basis B (the modality's: low frequencies of a DCT), v being the row's values scaled to
[0, 1]:

1. *counts*: the target × block histogram of every attribute block (categories, a numeric
   column's coarse bins and missing flag), Gaussian, L2 sensitivity √blocks; the target's
   own block gives the class counts;
2. *reference clip*: the ``clip_quantile`` quantile of the units' distances from a public
   reference z₀ (the mid-range image), OpenDP's private quantile over a public grid: C₀;
3. *centre*: z₀ + Σ clip(z − z₀, C₀) / n, Gaussian, sensitivity C₀;
4. *clip*: the same quantile of the distances from that centre: the clip C;
5. *class means*: per target value, Σ clip(z − centre, C), Gaussian, sensitivity C;
6. *covariance*: the upper triangle of Σ clip(z − centre, C) clip(·)ᵀ — over all rows, or
   per target value when ``covariance`` is ``per-class``; only its diagonal, per target
   value, when it is ``diagonal`` — Gaussian, sensitivity C² (a unit's rows add at most C²
   in Frobenius norm, across the targets together). ``auto`` picks per-class or shared
   from stage 1's noisy class counts (post-processing), see `resolve_covariance`.

A unit's distance is the mean over its rows (one value per unit for each quantile).

A unit's rows share its weight 1 (1/k each), so each sum moves by at most its sensitivity
when one unit is added or removed. The model is post-processing: class mean μ_y and
covariance Σ_y — one Σ shared by the classes (the second moment less the classes' spread)
or each class's own (for classes that differ in texture or rhythm, e.g. a heart rate at a
random phase, not in their mean), full or diagonal — projected onto the positive
semi-definite matrices; a sample of class y is centre + μ_y + Σ_y^½ ε, mapped back through
Bᵀ; its attributes are drawn from p(block | y). The sensitive groups share their class's distribution: group
differences beyond the class are not modelled. Sampling draws ε from the public sampling
generator.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from dpsynth.families.marginal import LOG_FLOOR, simplex, unit_batches, warn_unused_settings
from dpsynth.families.training import unit_mean
from dpsynth.params import choice, number, param, whole
from dpsynth.privacy.marginals import (MECHANISM, MarginalPlan, gaussian_counts, gaussian_scale, plan_marginals,
                                       private_quantile)

COUNTS, REFERENCE_CLIP, CENTRE, CLIP, MEANS, COVARIANCE = (
    "counts", "reference clip", "centre", "clip", "class means", "covariance")
#: Shares of ρ by stage, fixed a priori (docs/benchmarks.md, settings studies).
SHARES = {COUNTS: 0.05, REFERENCE_CLIP: 0.05, CENTRE: 0.1, CLIP: 0.05, MEANS: 0.3, COVARIANCE: 0.45}
# Candidate clips, as shares of √D (public), 0.7 % apart: the exponential mechanism scores a
# candidate by the units below it, so a cohort whose distances all fall between two
# candidates would score every candidate alike and get a clip drawn at random.
CLIP_GRID = np.geomspace(1e-3, 1.0, 1000)
#: ``auto`` measures one covariance per class when every class's noisy count n_y satisfies
#: n_y·√(2ρ)/k ≥ this (ρ: the covariance stage's, k: components), fixed a priori: docs/benchmarks.md.
AUTO_PER_CLASS_SIGNAL = 1.0
EIGEN_FLOOR = 1e-6  # relative: the precision used for membership scores stays finite


@dataclass
class MomentsParams:
    """The family's parameters (a generator's ``family_params``); defaults fixed a priori."""

    components: int = param(64, "public basis functions kept (the lowest frequencies first); more keep finer "
                                "detail and add noise to the covariance", whole(1))
    clip_quantile: float = param(0.5, "the clip of each row's centred coefficients: this quantile of the units' "
                                      "distances from the centre, chosen privately", number(above=0, below=1))
    covariance: str = param("auto", "one covariance for all classes ('shared'); one per class ('per-class': "
                                    "classes that differ in texture or rhythm rather than in their mean; each "
                                    "measured on its own units); per class its variances only ('diagonal': no "
                                    "correlations, far less noise); or 'auto': per-class when every class has "
                                    "enough units for its own at this budget, else shared",
                            choice("auto", "shared", "per-class", "diagonal"))


@dataclass(frozen=True)
class MomentsLayout:
    """Where a modality's encoding keeps what this family measures: the attribute blocks to count
    (``blocks``; ``blocks[target]`` is the target's own), which fill the first ``attributes``
    columns of both the input and the output; the input columns of the values (``values``),
    each in [``floor``, 1] (-1 for a value scaled to [-1, 1], 0 for a 0/1 flag); the output
    columns they are written to in [-1, 1] (``output``, same order); the public basis
    [components, values] with orthonormal rows."""

    blocks: list[slice]
    target: int
    attributes: int
    values: np.ndarray
    floor: np.ndarray
    output: np.ndarray
    basis: np.ndarray

    @classmethod
    def scaled(cls, *, blocks: list[slice], target: int, values: slice, basis: np.ndarray) -> MomentsLayout:
        """The layout of an encoding whose values are one slice in [-1, 1], in the same place in
        the input and the output, after the attributes."""
        columns = np.arange(values.start, values.stop)
        return cls(blocks=blocks, target=target, attributes=values.start, values=columns,
                   floor=np.full(len(columns), -1.0), output=columns, basis=basis)


@dataclass(frozen=True)
class MomentsLog:
    """What the measurement stage did: seconds, the noisy unit total, the clip chosen (a DP
    output), the noise s.d. of each Gaussian stage."""

    seconds: float
    n_hat: float
    clip: float
    noise_sd: dict[str, float]
    covariance: str = "shared"  # the covariance measured (``auto`` resolved)
    steps: int = 0  # no DP-SGD steps


class GaussianMoments(nn.Module):
    """Per target value: attribute log-probabilities and a Gaussian over basis coefficients
    (one covariance per target value; equal when the covariance is shared)."""

    def __init__(self, layout: MomentsLayout, *, width: int, n_targets: int):
        super().__init__()
        k = layout.basis.shape[0]
        self.attributes = layout.attributes
        self.register_buffer("values", torch.as_tensor(layout.values, dtype=torch.long))
        self.register_buffer("floor", torch.as_tensor(layout.floor, dtype=torch.float32))
        self.register_buffer("output", torch.as_tensor(layout.output, dtype=torch.long))
        self.register_buffer("basis", torch.as_tensor(layout.basis, dtype=torch.float32))
        self.register_buffer("attribute_logits", torch.zeros(n_targets, layout.attributes))
        self.register_buffer("centre", torch.zeros(k))
        self.register_buffer("means", torch.zeros(n_targets, k))
        self.register_buffer("factor", torch.zeros(n_targets, k, k))  # Σ_y = factor_y · factor_yᵀ
        self.register_buffer("precision", torch.eye(k).repeat(n_targets, 1, 1))
        self.width = width

    @classmethod
    def for_codec(cls, layout: MomentsLayout, codec: Any) -> GaussianMoments:
        """The module for ``codec``'s rows: its width, and one Gaussian per value of the target,
        the first of its condition domains."""
        first = next(iter(codec.condition_domains.values()))
        return cls(layout, width=codec.width, n_targets=len(first))

    def _targets(self, c: torch.Tensor) -> torch.Tensor:
        return c[..., :self.means.shape[0]].argmax(-1)

    def reference(self) -> torch.Tensor:
        """z₀: the coefficients of the mid-range image (every value 0.5), public [k] (float64)."""
        return 0.5 * self.basis.double().sum(1)

    def coefficients(self, x: torch.Tensor) -> torch.Tensor:
        """z = B·v for the rows of ``x`` (values scaled from [floor, 1] to [0, 1])."""
        return ((x[..., self.values] - self.floor) / (1.0 - self.floor)) @ self.basis.T

    def generate(self, c: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decoder outputs [n, width]: attribute logits of each row's class, then its values in [-1, 1]."""
        y = self._targets(c)
        noise = torch.randn(len(c), self.means.shape[1], generator=generator, device=c.device)
        z = self.centre + self.means[y] + torch.einsum("nij,nj->ni", self.factor[y], noise)
        out = torch.zeros(len(c), self.width, device=c.device)
        out[:, :self.attributes] = self.attribute_logits[y]
        out[:, self.output] = 2.0 * (z @ self.basis) - 1.0
        return out

    def posterior_mean(self, x_t: torch.Tensor, c: torch.Tensor, alpha_bar: torch.Tensor, *,
                       complement_variance: float, scale: float = 1.0) -> torch.Tensor:
        """E[x0 | x_t, y] of the values in output units ([-1, 1]) when x0 follows this Gaussian
        and x_t = √ᾱ·x0/``scale`` + √(1 − ᾱ)·noise: the exact denoiser of the measured model.

        ``x_t`` [..., values] (diffused units), ``c`` [..., C] (y: its target), ``alpha_bar``
        broadcasting against x_t[..., :1]. In output units x0 = 2·Bᵀz − 1 has mean
        m_y = 2·Bᵀ(centre + μ_y) − 1 and covariance 4·BᵀΣ_yB inside the basis and
        ``complement_variance``·I outside it (public: the basis need not span every value).
        Per direction of variance λ the posterior shrinks x_t − √ᾱ·m by √ᾱ/(ᾱλ + 1 − ᾱ)·λ; the
        factor's columns are Σ_y's scaled eigenvectors (`within_covariances`), so no
        decomposition runs here. Post-processing of the measurements only.
        """
        y = self._targets(c)
        a = alpha_bar.to(x_t.dtype)
        mean = (2.0 * ((self.centre + self.means[y]) @ self.basis) - 1.0) / scale
        factor = 2.0 * self.factor[y] / scale  # [..., k, k]: 4Σ_y/scale² = factor·factorᵀ
        variances = (factor ** 2).sum(-2)  # its columns' squared norms: the eigenvalues
        w = x_t - a.sqrt() * mean
        u = w @ self.basis.T  # inside the basis [..., k]
        shrink = a.sqrt() / (a * variances + 1.0 - a)
        inside = torch.einsum("...ij,...j->...i", factor, shrink * torch.einsum("...ji,...j->...i", factor, u))
        tau = complement_variance / scale ** 2
        outside = (a.sqrt() * tau / (a * tau + 1.0 - a)) * (w - u @ self.basis)
        return scale * (mean + inside @ self.basis + outside)

    def forward(self, x: torch.Tensor, c: torch.Tensor, row_mask: torch.Tensor) -> torch.Tensor:
        """Per-unit loss: half the squared Mahalanobis distance of its rows' coefficients from
        their class mean, averaged over its rows (a Gaussian negative log-likelihood up to a
        constant; the membership score is its negative)."""
        y = self._targets(c)
        d = self.coefficients(x) - self.centre - self.means[y]
        nll = 0.5 * (torch.einsum("...ij,...j->...i", self.precision[y], d) * d).sum(-1)
        return unit_mean(nll, row_mask.to(nll.dtype))


def clip_rows(d: torch.Tensor, bound: float) -> torch.Tensor:
    """Each row of ``d`` scaled down to L2 norm at most ``bound``."""
    norms = d.norm(dim=-1, keepdim=True)
    return d * (bound / norms.clamp_min(bound))


def _row_weights(row_mask: torch.Tensor) -> torch.Tensor:
    mask = row_mask.to(torch.float64)
    return mask / mask.sum(-1, keepdim=True).clamp_min(1.0)


def exact_counts(module: GaussianMoments, tensors: Any, *, progress: bool) -> np.ndarray:
    """Private and exact: the target × attribute table [targets, attribute width]."""
    joint = torch.zeros(module.means.shape[0], module.attributes, dtype=torch.float64)
    for x, c, row_mask in tqdm(list(unit_batches(tensors)), desc="moments: counts", unit="chunk",
                               disable=not progress, leave=False):
        w = _row_weights(row_mask).reshape(-1)
        rows = x.reshape(-1, x.shape[-1])
        joint.index_add_(0, module._targets(c).reshape(-1), rows[:, :module.attributes].double() * w[:, None])
    return joint.numpy()


def exact_clipped_sum(module: GaussianMoments, tensors: Any, reference: torch.Tensor, bound: float, *,
                      progress: bool) -> np.ndarray:
    """Private and exact: Σ clip(z − reference, bound) over all rows [k]."""
    total = torch.zeros(module.means.shape[1], dtype=torch.float64)
    for x, _, row_mask in tqdm(list(unit_batches(tensors)), desc="moments: centre", unit="chunk",
                               disable=not progress, leave=False):
        w = _row_weights(row_mask).reshape(-1)
        d = clip_rows(module.coefficients(x.reshape(-1, x.shape[-1])).double() - reference, bound)
        total += (d * w[:, None]).sum(0)
    return total.numpy()


def unit_distances(module: GaussianMoments, tensors: Any, centre: torch.Tensor, *, progress: bool) -> np.ndarray:
    """Private and exact: each unit's distance ‖z − centre‖, averaged over its rows (one value per unit)."""
    out = []
    for x, c, row_mask in tqdm(list(unit_batches(tensors)), desc="moments: clip", unit="chunk",
                               disable=not progress, leave=False):
        distances = (module.coefficients(x).double() - centre).norm(dim=-1)
        out.append((distances * _row_weights(row_mask)).sum(-1))
    return torch.cat(out).numpy()


def exact_second_pass(module: GaussianMoments, tensors: Any, centre: torch.Tensor, bound: float, *,
                      progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """Private and exact: per target Σ clip(z − centre) [targets, k] and Σ clip(·) clip(·)ᵀ [targets, k, k]."""
    n_targets, k = module.means.shape
    sums = torch.zeros(n_targets, k, dtype=torch.float64)
    second = torch.zeros(n_targets, k, k, dtype=torch.float64)
    for x, c, row_mask in tqdm(list(unit_batches(tensors)), desc="moments: class means", unit="chunk",
                               disable=not progress, leave=False):
        w = _row_weights(row_mask).reshape(-1)
        d = clip_rows(module.coefficients(x.reshape(-1, x.shape[-1])).double() - centre, bound)
        y = module._targets(c).reshape(-1)
        sums.index_add_(0, y, d * w[:, None])
        for target in range(n_targets):
            rows = y == target
            second[target] += (d[rows] * w[rows, None]).T @ d[rows]
    return sums.numpy(), second.numpy()


def noisy_second_moments(second: np.ndarray, *, per_class: bool, diagonal: bool = False, sensitivity: float,
                         rho: float) -> np.ndarray:
    """The second moments [targets, k, k] with Gaussian noise on each measured upper triangle (or
    diagonal): one per target (a unit's rows add at most its sensitivity across them all) or
    one of their total, repeated for each target."""
    measured = second if per_class else second.sum(0, keepdims=True)
    upper = np.diag_indices(second.shape[1]) if diagonal else np.triu_indices(second.shape[1])
    noisy = np.zeros_like(measured)
    noisy[:, upper[0], upper[1]] = gaussian_counts(measured[:, upper[0], upper[1]], sensitivity=sensitivity,
                                                   rho=rho).reshape(len(measured), -1)
    noisy = noisy + np.triu(noisy, 1).transpose(0, 2, 1)
    return noisy if per_class else np.repeat(noisy, len(second), axis=0)


def within_covariances(second: np.ndarray, means: np.ndarray, class_counts: np.ndarray, *,
                       per_class: bool, diagonal: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Post-processing: each target's covariance Σ_y from the noisy second moments (less the
    mean's outer product; shared: the total less the classes' spread), projected onto the
    positive semi-definite matrices; returns (Σ_y^½, a floored inverse of Σ_y), [targets, k, k] each."""
    if per_class:
        covariances = second / class_counts[:, None, None] - np.einsum("yi,yj->yij", means, means)
    else:
        n = class_counts.sum()
        shared = second[0] / n - np.einsum("y,yi,yj->ij", class_counts / n, means, means)
        covariances = np.repeat(shared[None], len(means), axis=0)
    if diagonal:
        covariances = covariances * np.eye(covariances.shape[-1])
    eigenvalues, vectors = np.linalg.eigh(covariances)
    eigenvalues = np.clip(eigenvalues, 0.0, None)
    floor = EIGEN_FLOOR * np.maximum(eigenvalues.mean(-1, keepdims=True), EIGEN_FLOOR)
    factors = vectors * np.sqrt(eigenvalues)[:, None, :]
    precisions = np.einsum("yik,yk,yjk->yij", vectors, 1.0 / (eigenvalues + floor), vectors)
    return factors, precisions


def resolve_covariance(covariance: str, class_counts: np.ndarray, *, rho: float, components: int) -> str:
    """The covariance to measure: ``covariance`` itself unless it is ``auto``.

    A class's own covariance divides its second moment, whose entries carry noise of s.d.
    C²/√(2ρ), by its n_y units; a variance it should show is at most about C²/k (the clip
    spread over k coefficients). So n_y·√(2ρ)/k is that class's signal over noise: ``auto``
    measures per class when it reaches `AUTO_PER_CLASS_SIGNAL` for every class (counts noisy,
    so this is post-processing), and one shared covariance, with noise over all n units, otherwise."""
    if covariance != "auto":
        return covariance
    signal = float(np.min(class_counts)) * math.sqrt(2.0 * rho) / components
    return "per-class" if signal >= AUTO_PER_CLASS_SIGNAL else "shared"


def measure_moments(module: GaussianMoments, tensors: Any, plan: MarginalPlan, *, blocks: list[slice],
                    target: int, clip_quantile: float, covariance: str = "shared", progress: bool) -> MomentsLog:
    """Run the six measurements of the module docstring and fill ``module``'s buffers
    (``covariance`` as `MomentsParams` says). Every draw is OpenDP's."""
    start = time.perf_counter()
    grid = CLIP_GRID * math.sqrt(len(module.values))
    joint = exact_counts(module, tensors, progress=progress)
    sensitivities = {COUNTS: math.sqrt(len(blocks))}
    noisy_joint = gaussian_counts(np.concatenate([joint[:, s].ravel() for s in blocks]),
                                  sensitivity=sensitivities[COUNTS], rho=plan.stage_rho(COUNTS))
    plan.record(COUNTS, plan.stage_rho(COUNTS))
    tables = [part.reshape(joint.shape[0], -1)
              for part in np.split(noisy_joint, np.cumsum([joint[:, s].size for s in blocks])[:-1])]
    class_counts = np.clip(np.diag(tables[target]), 1.0, None)
    n_hat = float(class_counts.sum())
    covariance = resolve_covariance(covariance, class_counts, rho=plan.stage_rho(COVARIANCE),
                                    components=module.basis.shape[0])
    per_class = covariance != "shared"
    reference = module.reference()
    reference_bound = private_quantile(unit_distances(module, tensors, reference, progress=progress),
                                       candidates=grid, alpha=clip_quantile, rho=plan.stage_rho(REFERENCE_CLIP))
    plan.record(REFERENCE_CLIP, plan.stage_rho(REFERENCE_CLIP))
    sensitivities[CENTRE] = reference_bound
    total = exact_clipped_sum(module, tensors, reference, reference_bound, progress=progress)
    centre = reference.numpy() + gaussian_counts(total, sensitivity=reference_bound,
                                                 rho=plan.stage_rho(CENTRE)) / n_hat
    plan.record(CENTRE, plan.stage_rho(CENTRE))
    bound = private_quantile(unit_distances(module, tensors, torch.from_numpy(centre), progress=progress),
                             candidates=grid, alpha=clip_quantile, rho=plan.stage_rho(CLIP))
    plan.record(CLIP, plan.stage_rho(CLIP))
    sensitivities |= {MEANS: bound, COVARIANCE: bound ** 2}

    sums, second = exact_second_pass(module, tensors, torch.from_numpy(centre), bound, progress=progress)
    means = gaussian_counts(sums, sensitivity=sensitivities[MEANS], rho=plan.stage_rho(MEANS)) / class_counts[:, None]
    plan.record(MEANS, plan.stage_rho(MEANS))
    noisy = noisy_second_moments(second, per_class=per_class, diagonal=covariance == "diagonal",
                                 sensitivity=sensitivities[COVARIANCE], rho=plan.stage_rho(COVARIANCE))
    plan.record(COVARIANCE, plan.stage_rho(COVARIANCE))
    factor, precision = within_covariances(noisy, means, class_counts, per_class=per_class,
                                           diagonal=covariance == "diagonal")

    logits = np.zeros(module.attribute_logits.shape)
    for i, s in enumerate(blocks):
        logits[:, s] = np.log(np.maximum(np.stack([simplex(row) for row in tables[i]]), LOG_FLOOR))
    module.attribute_logits.copy_(torch.from_numpy(logits))
    module.centre.copy_(torch.from_numpy(centre))
    module.means.copy_(torch.from_numpy(means))
    module.factor.copy_(torch.from_numpy(factor))
    module.precision.copy_(torch.from_numpy(precision))
    return MomentsLog(seconds=time.perf_counter() - start, n_hat=n_hat, clip=bound, covariance=covariance,
                      noise_sd={stage: gaussian_scale(value, plan.stage_rho(stage))
                                for stage, value in sensitivities.items()})


class MomentsFamily:
    """The family's part of a generator (mixed in before the modality's `DPGenerator` subclass):
    its plan, module and private stage. The modality part gives the layout (`_moments_layout`)."""

    family_params = MomentsParams
    training_mechanism = MECHANISM

    def _moments_layout(self, codec: Any) -> MomentsLayout:
        """Where ``codec``'s encoding keeps the attributes and values, and the public basis."""
        raise NotImplementedError

    def _plan_training(self, *, n_units: int, epsilon: float, delta: float) -> MarginalPlan:
        warn_unused_settings(self, "components, clip_quantile, covariance, condition_share")
        return plan_marginals(epsilon=epsilon, delta=delta, shares=SHARES, label="noisy moments")

    def _pretrain(self, module: nn.Module, codec: Any, *, seed: int, progress: bool) -> None:
        """No network, nothing to pretrain."""
        return None

    def _build_module(self, codec: Any) -> nn.Module:
        return GaussianMoments.for_codec(self._moments_layout(codec), codec)

    def _train(self, module: nn.Module, tensors: Any, plan: MarginalPlan, *, progress: bool) -> MomentsLog:
        layout = self._moments_layout(self.codec_)
        with torch.no_grad():
            return measure_moments(module, tensors, plan, blocks=layout.blocks, target=layout.target,
                                   clip_quantile=self.clip_quantile, covariance=self.covariance, progress=progress)

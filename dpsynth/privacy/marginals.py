"""Noisy marginals under zero-concentrated DP, on OpenDP: the private stage of the marginal family.

A marginal generator (`dpsynth.families.marginal`) reads the private data only through the
measurements here: Gaussian noise on vectors of counts and a noisy top-k selection, each an
OpenDP measurement whose privacy map is checked against the ρ it is run for. Their ρ add up
(zCDP composes by addition); the plan's total ρ is turned into the (ε, δ) on the ledger by
OpenDP's ``make_zCDP_to_approxDP``, and `dpsynth.privacy.recheck` re-derives it from the
ledger entry. Noise is drawn by OpenDP from the OS CSPRNG (docs/privacy.md, rule 9).

Sensitivities (add/remove one privacy unit of weight 1): a vector of m histograms that each
count the unit once has L2 sensitivity √m; a vector of scores that each move by at most 1
has L∞ sensitivity 1; a quantile of one value per unit moves by one value (symmetric distance 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import opendp.prelude as dp

from dpsynth.errors import BudgetError, DpsynthError
from dpsynth.privacy.ledger import LedgerEntry

dp.enable_features("contrib")

MECHANISM = "marginal-measurements"
_FLOAT_VECTOR = dp.vector_domain(dp.atom_domain(T=float, nan=False))
_RHO_BOUNDS = (1e-12, 1e6)


def epsilon_of_rho(rho: float, delta: float) -> float:
    """The ε at ``delta`` of a ρ-zCDP mechanism, by OpenDP's zCDP → (ε, δ) conversion; infinite
    where OpenDP's conversion overflows (a ρ of thousands: no finite budget asks for it)."""
    if rho <= 0:
        return 0.0
    scalar = dp.m.make_gaussian(dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float),
                                scale=1.0 / math.sqrt(2.0 * rho))
    try:
        return float(dp.c.make_zCDP_to_approxDP(scalar).map(1.0).epsilon(delta))
    except dp.OpenDPException as error:
        if "not finite" not in str(error):
            raise
        return math.inf


def rho_for(epsilon: float, delta: float) -> float:
    """The largest ρ whose (ε, δ) by `epsilon_of_rho` stays within ``epsilon`` (binary search)."""
    if epsilon <= 0 or not 0 < delta < 1:
        raise BudgetError(f"the marginal measurements need ε > 0 and 0 < δ < 1 (got ε = {epsilon}, δ = {delta})")
    low, high = _RHO_BOUNDS
    for _ in range(200):
        mid = math.sqrt(low * high)
        low, high = (mid, high) if epsilon_of_rho(mid, delta) <= epsilon else (low, mid)
        if high / low < 1 + 1e-10:
            break
    return low


def _check_rho(measurement: dp.Measurement, d_in: float, rho: float) -> None:
    spent = float(measurement.map(d_in))
    if spent > rho * (1 + 1e-9):
        raise DpsynthError(f"mechanism spends ρ = {spent} but ρ = {rho} was planned")


def gaussian_scale(sensitivity: float, rho: float) -> float:
    """The Gaussian noise s.d. that makes a query of L2 ``sensitivity`` ρ-zCDP: Δ / √(2ρ)."""
    return sensitivity / math.sqrt(2.0 * rho)


def gaussian_counts(counts: np.ndarray, *, sensitivity: float, rho: float) -> np.ndarray:
    """``counts`` plus Gaussian noise of s.d. `gaussian_scale` (OpenDP, ρ-zCDP for L2 ``sensitivity``)."""
    values = np.asarray(counts, dtype=float)
    measurement = dp.m.make_gaussian(_FLOAT_VECTOR, dp.l2_distance(T=float), scale=gaussian_scale(sensitivity, rho))
    _check_rho(measurement, sensitivity, rho)
    return np.asarray(measurement(values.ravel().tolist()), dtype=float).reshape(values.shape)


def top_k_scale(k: int, rho: float) -> float:
    """The noise scale at which OpenDP's noisy top-k of ``k`` (scores of L∞ sensitivity 1) is ρ-zCDP."""
    return float(dp.binary_search_param(lambda s: _top_k(k, s), d_in=1.0, d_out=rho))


def _top_k(k: int, scale: float) -> dp.Measurement:
    return dp.m.make_noisy_top_k(_FLOAT_VECTOR, dp.linf_distance(T=float), dp.zero_concentrated_divergence(),
                                 k=k, scale=scale)


def noisy_top_k(scores: np.ndarray, *, k: int, rho: float) -> list[int]:
    """The indices of ``k`` high scores, chosen by OpenDP's noisy top-k (ρ-zCDP; each score may
    move by at most 1 when one privacy unit is added or removed)."""
    measurement = _top_k(k, top_k_scale(k, rho))
    _check_rho(measurement, 1.0, rho)
    return [int(i) for i in measurement(np.asarray(scores, dtype=float).tolist())]


def _quantile(candidates: list[float], alpha: float, scale: float) -> dp.Measurement:
    return dp.m.make_private_quantile(_FLOAT_VECTOR, dp.symmetric_distance(), dp.zero_concentrated_divergence(),
                                      candidates=candidates, alpha=alpha, scale=scale)


def private_quantile(values: np.ndarray, *, candidates: np.ndarray, alpha: float, rho: float) -> float:
    """The ``alpha`` quantile of ``values`` (one per privacy unit) among the public, sorted
    ``candidates``, by OpenDP's private quantile (exponential mechanism, ρ-zCDP)."""
    grid = [float(c) for c in candidates]
    measurement = _quantile(grid, alpha, float(dp.binary_search_param(lambda s: _quantile(grid, alpha, s),
                                                                      d_in=1, d_out=rho)))
    _check_rho(measurement, 1, rho)
    return float(measurement(np.asarray(values, dtype=float).tolist()))


@dataclass(frozen=True)
class MarginalPlan:
    """The marginal family's budget: ρ in total, split into its stages before any data is read.

    ``stages`` maps each stage (e.g. "one-way", "selection", "target pairs") to its ρ; the
    entry's ε is OpenDP's conversion of their sum at ``delta``. ``spent`` collects the ρ of
    every measurement actually run (by their OpenDP maps), checked against the plan after fit.
    """

    rho: float
    delta: float
    epsilon: float
    stages: dict[str, float]
    spent: list[tuple[str, float]] = field(default_factory=list, compare=False)
    label: str = "noisy marginals"  # what is measured, for the ledger's purpose line

    def ledger_entry(self, purpose: str) -> LedgerEntry:
        params: dict[str, Any] = {"rho": self.rho, "stages": dict(self.stages), "accountant": "zcdp",
                                  "accounting": "zCDP: the stages' ρ add up; (ε, δ) by OpenDP make_zCDP_to_approxDP"}
        return LedgerEntry(mechanism=MECHANISM, purpose=purpose, epsilon=self.epsilon, delta=self.delta,
                           params=params)

    @property
    def parts(self) -> tuple[MarginalPlan]:
        """The plans of the training in the order they run (this one alone), as `DPSGDPlan.parts`."""
        return (self,)

    def stage_rho(self, stage: str) -> float:
        return self.stages[stage]

    def record(self, stage: str, rho: float) -> None:
        """Note a measurement of ``rho`` run for ``stage`` (what `check_spent` sums)."""
        self.spent.append((stage, float(rho)))

    def check_spent(self, log: Any = None) -> None:
        """Every stage ran within its ρ, and the total within the plan's (a bug otherwise)."""
        for stage, planned in self.stages.items():
            used = sum(r for s, r in self.spent if s == stage)
            if used > planned * (1 + 1e-6):
                raise RuntimeError(f"stage {stage!r} spent ρ = {used} > planned {planned}")
        unknown = {s for s, _ in self.spent} - set(self.stages)
        if unknown:
            raise RuntimeError(f"measurements outside the plan's stages: {sorted(unknown)}")


def plan_marginals(*, epsilon: float, delta: float, shares: dict[str, float],
                   label: str = "noisy marginals") -> MarginalPlan:
    """The plan for (``epsilon``, ``delta``): ρ from OpenDP's conversion, split by ``shares`` (sum 1)."""
    if not math.isclose(sum(shares.values()), 1.0, rel_tol=1e-9) or min(shares.values()) <= 0:
        raise BudgetError(f"the stage shares must be positive and sum to 1 (got {shares})")
    rho = rho_for(epsilon, delta)
    return MarginalPlan(rho=rho, delta=delta, epsilon=epsilon_of_rho(rho, delta),
                        stages={name: share * rho for name, share in shares.items()}, label=label)


def recheck_epsilon(params: dict[str, Any], delta: float) -> float:
    """ε of a marginal-measurements ledger entry, re-derived from its recorded ρ (and the stages
    adding up to it)."""
    rho = float(params["rho"])
    stages = sum(float(v) for v in params["stages"].values())
    if not math.isclose(stages, rho, rel_tol=1e-6):
        raise ValueError(f"the stages' ρ add up to {stages:.6g}, not the recorded ρ = {rho:.6g}")
    return epsilon_of_rho(rho, delta)

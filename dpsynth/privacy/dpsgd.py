"""DP-SGD planning: the noise multiplier is fixed for the target ε *before* training.

A plan is (sample rate q, steps T, noise multiplier σ, clip norm C). σ comes from
opacus' `get_noise_multiplier` for the ε share given to training, and the ε charged to
the ledger is what opacus' accountant reports for the history [(σ, q, T)] — so training
that runs exactly T Poisson-sampled steps ends at (not after) the budget.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Literal

from opacus.accountants import create_accountant
from opacus.accountants.utils import get_noise_multiplier

from dpsynth import errors
from dpsynth.errors import BudgetError
from dpsynth.privacy.ledger import LedgerEntry

Accountant = Literal["prv", "rdp"]
# Above this noise multiplier the model learns nothing useful; we refuse rather than pretend.
MAX_NOISE_MULTIPLIER = 1e3
PRV_MAX_EPSILON = 100.0  # PRV calibration takes ~18 s at ε = 100, minutes and 7 GB at ε = 1000
# The cohort-size schedule (batch_size / epochs None), fixed a priori on inner splits
# (docs/privacy.md, rule 4): a public ladder of batches, largest first, and the batches an
# epoch should have at least; 30 passes, or more where that is under 400 steps.
COHORT_BATCH_LADDER = (512, 256, 128)
COHORT_MIN_BATCHES = 8
COHORT_EPOCHS = 30.0
COHORT_MIN_STEPS = 400


# opacus' RDP analysis warns when the best order is its largest alpha: the bound is then
# valid but could be tighter. It is not an error; we report the (valid) bound.
LOOSE_RDP_ORDER = ".*Optimal order is the (largest|smallest) alpha.*"
# opacus' PRV takes log(1 - q), which is log(0) when every unit is in every batch (q = 1); the
# result is still right (numpy's -inf is handled), only the warning is noise.
PRV_LOG_ZERO = "divide by zero encountered in log"


def epsilon_for_history(history: list[tuple[float, float, int]], *, delta: float, accountant: Accountant) -> float:
    """ε that opacus' accountant computes for a DP-SGD history [(σ, q, steps), ...]."""
    acc = create_accountant(mechanism=accountant)
    acc.history = [tuple(h) for h in history]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=LOOSE_RDP_ORDER)
        warnings.filterwarnings("ignore", message=PRV_LOG_ZERO, category=RuntimeWarning)
        return float(acc.get_epsilon(delta=delta))


@dataclass(frozen=True)
class DPSGDPlan:
    """Everything that determines the privacy cost of one DP-SGD run."""

    noise_multiplier: float
    sample_rate: float
    steps: int
    max_grad_norm: float
    accountant: Accountant
    delta: float
    epsilon: float  # ε of the history below, by `accountant` (≤ the share it was planned for)
    batch_size: int  # nominal loader batch size; the Poisson batch has mean q·n
    n_units: int  # kept in memory for the loader; never written to the ledger or the card
    first_stage: Any = None
    """A plan that runs on the same data before DP-SGD (an anchored decoder's `MarginalPlan`),
    with its own share of the budget and its own ledger entry; None for DP-SGD alone."""

    label = "DP-SGD"  # names the training on the ledger

    @property
    def history(self) -> list[tuple[float, float, int]]:
        return [(self.noise_multiplier, self.sample_rate, self.steps)]

    @property
    def parts(self) -> tuple[Any, ...]:
        """The plans of the training in the order they run, each charged as its own ledger entry."""
        return (self,) if self.first_stage is None else (*self.first_stage.parts, self)

    def check_spent(self, log: Any) -> None:
        """The accountant's history and ε after training (a `TrainingLog`) must equal the plan's,
        and a first stage must have run within its own plan (a bug otherwise)."""
        if self.first_stage is not None:
            self.first_stage.check_spent()
        if [tuple(map(float, h)) for h in log.history] != [tuple(map(float, h)) for h in self.history]:
            raise RuntimeError(f"DP-SGD ran {log.history} but the ledger charged {self.history}")
        if log.epsilon > self.epsilon * (1 + 1e-6) + 1e-9:
            raise RuntimeError(f"DP-SGD spent epsilon={log.epsilon} > charged {self.epsilon}")

    def ledger_entry(self, purpose: str) -> LedgerEntry:
        params: dict[str, Any] = asdict(self)
        for private_or_redundant in ("epsilon", "delta", "n_units", "first_stage"):  # n is not released
            params.pop(private_or_redundant)
        params["history"] = [list(h) for h in self.history]
        params["sampling"] = "poisson"
        return LedgerEntry(mechanism="dp-sgd", purpose=purpose, epsilon=self.epsilon, delta=self.delta, params=params)


def cohort_batch_size(n_units: int) -> int:
    """The batch of the cohort-size schedule: the largest of 512, 256, 128 that splits the
    units into at least 8 batches (128 also below 897 units, with fewer). Small cohorts then take many small
    noisy steps instead of a few full-batch ones; the ladder is public, so q and the batch
    disclose n only to within one batch, as any DP-SGD plan does."""
    for batch in COHORT_BATCH_LADDER:
        if math.ceil(n_units / batch) >= COHORT_MIN_BATCHES:
            return batch
    return COHORT_BATCH_LADDER[-1]


def batch_setting_matches(recorded: object, setting: object) -> bool:
    """Whether a DP-SGD ledger entry's batch agrees with a model's ``batch_size`` setting: equal,
    or the setting is None (by cohort size) and the entry's batch is on the public ladder."""
    if setting is None:
        return recorded in COHORT_BATCH_LADDER
    return recorded == setting


def plan_dpsgd(
    *,
    n_units: int,
    epsilon: float,
    delta: float,
    batch_size: int | None,
    epochs: float | None,
    max_grad_norm: float,
    accountant: Accountant = "prv",
) -> DPSGDPlan:
    """Calibrate σ so that `epochs` passes of Poisson-sampled batches cost at most (ε, δ).

    None follows the cohort size: ``batch_size`` from `cohort_batch_size`, ``epochs`` 30 or
    as many more as make 400 steps (a small cohort gets more, noisier steps for the same ε)."""
    if n_units < 2:
        raise BudgetError(f"DP-SGD needs at least 2 privacy units; the data has {n_units}")
    if epsilon <= 0:
        raise BudgetError(errors.EPSILON_INVALID.format(epsilon=epsilon))
    if accountant == "prv" and epsilon > PRV_MAX_EPSILON:
        raise BudgetError(errors.PRV_EPSILON_TOO_LARGE.format(epsilon=epsilon, max_epsilon=PRV_MAX_EPSILON))
    if batch_size is None:
        batch_size = cohort_batch_size(n_units)
    # opacus' DPDataLoader samples each unit with q = 1 / len(loader) = 1 / ceil(n / batch_size)
    sample_rate = 1.0 / math.ceil(n_units / batch_size)
    if epochs is None:
        steps = max(math.ceil(COHORT_EPOCHS / sample_rate), COHORT_MIN_STEPS)
    else:
        steps = max(1, math.ceil(epochs / sample_rate))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=LOOSE_RDP_ORDER)
            warnings.filterwarnings("ignore", category=RuntimeWarning)  # PRV's log(0) at huge σ
            sigma = get_noise_multiplier(target_epsilon=epsilon, target_delta=delta, sample_rate=sample_rate,
                                         steps=steps, accountant=accountant)
    except ValueError:  # opacus: "The privacy budget is too low."
        sigma = math.inf
    if sigma > MAX_NOISE_MULTIPLIER:
        raise BudgetError(errors.BUDGET_TOO_SMALL.format(epsilon=epsilon, delta=delta, max_sigma=MAX_NOISE_MULTIPLIER))
    spent = epsilon_for_history([(sigma, sample_rate, steps)], delta=delta, accountant=accountant)
    return DPSGDPlan(noise_multiplier=float(sigma), sample_rate=sample_rate, steps=steps,
                     max_grad_norm=max_grad_norm, accountant=accountant, delta=delta, epsilon=spent,
                     batch_size=batch_size, n_units=n_units)

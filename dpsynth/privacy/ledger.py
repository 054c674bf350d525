"""`PrivacyLedger`: an append-only record of every mechanism run on private data.

Every read of private records goes through `charge` *before* the mechanism runs: the
ledger refuses an entry that would overspend the budget, so nothing is computed on the
data that the budget cannot pay for. Entries compose by basic (sequential) composition:
total ε = Σ εᵢ, total δ = Σ δᵢ — a valid upper bound for any mix of mechanisms. The ε of
a DP-SGD entry is the one opacus' accountant computes for its recorded history.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from dpsynth import errors
from dpsynth.errors import BudgetError
from dpsynth.privacy.budget import PrivacyBudget

# Float slack when comparing sums against the budget (ε values come from binary searches).
TOLERANCE = 1e-9


@dataclass(frozen=True)
class LedgerEntry:
    """One mechanism run on private data.

    ``mechanism`` names the algorithm (e.g. "dp-sgd", "laplace-histogram"), ``purpose``
    what it was for (e.g. "condition counts"), ``params`` everything needed to re-derive
    its (ε, δ): noise scale and sensitivity, or the accountant and its history.
    """

    mechanism: str
    purpose: str
    epsilon: float
    delta: float
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PrivacyLedger:
    """Append-only ledger of charges against one `PrivacyBudget`."""

    def __init__(self, budget: PrivacyBudget, *, privacy_unit: str = "row (one row = one patient)"):
        self.budget = budget
        self.privacy_unit = privacy_unit
        self._entries: list[LedgerEntry] = []

    @property
    def entries(self) -> tuple[LedgerEntry, ...]:
        return tuple(self._entries)

    def spent(self) -> tuple[float, float]:
        """Total (ε, δ) charged so far, by basic composition."""
        return (sum(e.epsilon for e in self._entries), sum(e.delta for e in self._entries))

    def remaining(self) -> tuple[float, float]:
        eps, delta = self.spent()
        return (max(self.budget.epsilon - eps, 0.0), max(self.budget.delta - delta, 0.0))

    def can_afford(self, epsilon: float, delta: float) -> bool:
        eps_left, delta_left = self.remaining()
        return epsilon <= eps_left + TOLERANCE and delta <= delta_left + TOLERANCE * 1e-6

    def charge(self, entry: LedgerEntry) -> LedgerEntry:
        """Record ``entry``; raise `BudgetError` (and record nothing) if it would overspend."""
        if entry.epsilon < 0 or entry.delta < 0:
            raise BudgetError(f"ledger entry '{entry.purpose}' has a negative epsilon or delta")
        if not self.can_afford(entry.epsilon, entry.delta):
            eps_left, delta_left = self.remaining()
            raise BudgetError(errors.OVERSPEND.format(
                mechanism=entry.purpose, epsilon=entry.epsilon, delta=entry.delta,
                epsilon_left=eps_left, delta_left=delta_left))
        self._entries.append(entry)
        return entry

    def to_dict(self) -> dict[str, Any]:
        eps, delta = self.spent()
        return {
            "budget": self.budget.to_dict(),
            "spent": {"epsilon": eps, "delta": delta},
            "composition": "basic (sequential): sum of entry epsilons and deltas",
            "adjacency": "add/remove one privacy unit",
            "privacy_unit": self.privacy_unit,
            "entries": [e.to_dict() for e in self._entries],
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> PrivacyLedger:
        ledger = cls(PrivacyBudget(**spec["budget"]), privacy_unit=spec["privacy_unit"])
        for raw in spec["entries"]:
            ledger.charge(LedgerEntry(**raw))
        return ledger

"""`PrivacyBudget`: the (ε, δ) a user allows for one release, checked up front."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dpsynth import errors
from dpsynth.errors import BudgetError


DEFAULT_DELTA = "1e-5, or the power of ten at or below 1/n^1.1 for larger n"


def default_delta(n_units: int) -> float:
    """δ well below 1/n (docs/privacy.md, rule 5): ``1e-5``, or for n above about 35,000 the
    power of ten at or below ``1 / n**1.1``. The card prints δ, so it is rounded down to a
    power of ten: it tells the order of magnitude of n, never n itself."""
    if n_units <= 0:
        raise BudgetError("cannot choose delta for an empty dataset")
    return min(1e-5, 10.0 ** math.floor(-1.1 * math.log10(n_units)))


@dataclass(frozen=True)
class PrivacyBudget:
    """A total (ε, δ) budget under add/remove-one-privacy-unit adjacency.

    ``allow_large_delta`` switches off the refusal of δ ≥ 1/n (docs/privacy.md, rule 5); the
    card then says the user switched it off (whether or not it would have refused, so the card
    tells nothing about n)."""

    epsilon: float
    delta: float
    allow_large_delta: bool = False

    def __post_init__(self) -> None:
        eps = self.epsilon
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not math.isfinite(eps) or eps <= 0:
            raise BudgetError(errors.EPSILON_INVALID.format(epsilon=eps))
        d = self.delta
        if not isinstance(d, (int, float)) or isinstance(d, bool) or not (0 < d < 1):
            raise BudgetError(errors.DELTA_INVALID.format(delta=d))

        if not isinstance(self.allow_large_delta, bool):
            raise BudgetError(f"allow_large_delta must be true or false (got {self.allow_large_delta!r})")

    def check_against(self, n_units: int) -> None:
        """Refuse δ ≥ 1/n for this dataset (docs/privacy.md, rule 5) unless ``allow_large_delta``:
        such a δ allows a mechanism to publish a whole record with probability δ."""
        if n_units > 0 and self.delta >= 1.0 / n_units and not self.allow_large_delta:
            raise BudgetError(errors.DELTA_TOO_LARGE.format(delta=self.delta, suggested=default_delta(n_units)))

    def to_dict(self) -> dict[str, Any]:
        """{"epsilon", "delta"}, plus ``"allow_large_delta": true`` when the user set it."""
        out: dict[str, Any] = {"epsilon": self.epsilon, "delta": self.delta}
        if self.allow_large_delta:
            out["allow_large_delta"] = True
        return out

import math
import warnings

import pytest

from dpsynth.errors import BudgetError
from dpsynth.privacy.budget import PrivacyBudget, default_delta


@pytest.mark.parametrize("epsilon", [0, -1, math.inf, math.nan, "1", True])
def test_rejects_invalid_epsilon(epsilon):
    with pytest.raises(BudgetError, match="epsilon must be a finite number > 0"):
        PrivacyBudget(epsilon, 1e-6)


@pytest.mark.parametrize("delta", [0, 1, 1.5, -1e-6, math.nan])
def test_rejects_delta_outside_open_unit_interval(delta):
    with pytest.raises(BudgetError, match=r"delta must be in \(0, 1\)"):
        PrivacyBudget(1.0, delta)


def test_refuses_delta_not_below_one_over_n_unless_allowed():
    with pytest.raises(BudgetError, match="not below 1/n .*--allow-large-delta"):
        PrivacyBudget(1.0, 1 / 200).check_against(200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PrivacyBudget(1.0, 1e-6).check_against(200)
        allowed = PrivacyBudget(1.0, 0.5, allow_large_delta=True)
        allowed.check_against(200)
    assert allowed.to_dict() == {"epsilon": 1.0, "delta": 0.5, "allow_large_delta": True}
    assert PrivacyBudget(1.0, 1e-6).to_dict() == {"epsilon": 1.0, "delta": 1e-6}


def test_default_delta_is_well_below_one_over_n():
    assert default_delta(1000) == 1e-5
    assert default_delta(10**6) == 1e-7  # 1/n^1.1 = 2.5e-7, rounded down to a power of ten
    for n in (10, 1000, 35_000, 10**6, 10**9):
        assert default_delta(n) <= 1 / n**1.1 or default_delta(n) == 1e-5
        assert default_delta(n) < 1 / n


def test_default_delta_releases_no_exact_count():
    """Rule 5: the default δ is a power of ten, so a card's δ cannot tell n from n + 1."""
    sizes = range(1, 3_000_000, 997)
    deltas = {default_delta(n) for n in sizes}
    assert len(deltas) <= 4 and all(math.log10(d) == round(math.log10(d)) for d in deltas)
    same = sum(default_delta(n) == default_delta(n + 1) for n in sizes)
    assert same >= len(sizes) - 4

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


def test_warns_when_delta_not_below_one_over_n():
    with pytest.warns(UserWarning, match="not well below 1/n"):
        PrivacyBudget(1.0, 1e-2).check_against(200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PrivacyBudget(1.0, 1e-6).check_against(200)


def test_default_delta_is_well_below_one_over_n():
    assert default_delta(1000) == 1e-5
    assert default_delta(10**6) == pytest.approx(1 / (10**6) ** 1.1)
    for n in (10, 1000, 10**6):
        assert default_delta(n) < 1 / n

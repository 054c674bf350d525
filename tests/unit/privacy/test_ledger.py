import pytest

from dpsynth.errors import BudgetError
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.ledger import LedgerEntry, PrivacyLedger


def entry(eps, delta=0.0, purpose="x"):
    return LedgerEntry(mechanism="laplace-histogram", purpose=purpose, epsilon=eps, delta=delta)


def test_composes_entries_by_summing():
    ledger = PrivacyLedger(PrivacyBudget(1.0, 1e-5))
    ledger.charge(entry(0.25))
    ledger.charge(entry(0.5, 5e-6))
    assert ledger.spent() == pytest.approx((0.75, 5e-6))
    assert ledger.remaining() == pytest.approx((0.25, 5e-6))


def test_refuses_an_overspend_and_records_nothing():
    ledger = PrivacyLedger(PrivacyBudget(1.0, 1e-5))
    ledger.charge(entry(0.9))
    with pytest.raises(BudgetError, match="refusing 'second'"):
        ledger.charge(entry(0.2, purpose="second"))
    with pytest.raises(BudgetError, match="refusing"):
        ledger.charge(entry(0.05, delta=2e-5))
    assert len(ledger.entries) == 1


def test_is_append_only():
    ledger = PrivacyLedger(PrivacyBudget(1.0, 1e-5))
    ledger.charge(entry(0.1))
    with pytest.raises(AttributeError):
        ledger.entries.append(entry(0.1))  # a tuple view, not the list
    with pytest.raises(Exception):
        ledger.entries[0].epsilon = 0.0  # frozen entries


def test_round_trips_through_dict():
    ledger = PrivacyLedger(PrivacyBudget(2.0, 1e-6), privacy_unit="subject")
    ledger.charge(entry(0.3))
    again = PrivacyLedger.from_dict(ledger.to_dict())
    assert again.to_dict() == ledger.to_dict()

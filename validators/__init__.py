"""Audits of synthetic data against real data: utility, subgroup fairness, fidelity,
representation and memorisation, collected in an `AuditReport`.

`audit` audits tabular data; `audit_series` audits time series (`dpsynth.series`), with
the same utility, fairness and representation tables and a series fidelity. The audit
reads real data and is NOT differentially private; write its report apart from the
release bundle (privacy contract, rule 7).
"""

from typing import Any

from dpsynth.validators.suite import audit
from dpsynth.validators.report import AuditReport

__all__ = ["audit", "audit_series", "AuditReport"]


def __getattr__(name: str) -> Any:
    # The series audit needs torch: imported on first use, so `audit` stays light.
    if name == "audit_series":
        from dpsynth.validators.series_suite import audit_series

        return audit_series
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Audits of synthetic data against real data: utility, subgroup fairness, fidelity,
representation, memorisation and membership inference, collected in an `AuditReport`.

`audit` audits tabular data; `audit_series` audits time series (`dpsynth.series`) and
`audit_images` images (`dpsynth.images`), with the same utility, fairness and
representation tables and a fidelity of their own. The audit
reads real data and is NOT differentially private; write its report apart from the
release bundle (privacy contract, rule 7).
"""

from typing import Any

from dpsynth.validators.suite import audit
from dpsynth.validators.report import AuditReport

__all__ = ["audit", "audit_images", "audit_series", "AuditReport"]


def __getattr__(name: str) -> Any:
    # The series and image audits need torch: imported on first use, so `audit` stays light.
    if name == "audit_series":
        from dpsynth.validators.series_suite import audit_series

        return audit_series
    if name == "audit_images":
        from dpsynth.validators.image_suite import audit_images

        return audit_images
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Audits of synthetic data against real data: utility, subgroup fairness, fidelity,
representation, memorisation and membership inference, collected in an `AuditReport`.

`audit` audits any modality: the schema's `dpsynth.modality.Modality` names the audit plan
(`tabular_suite`, `series_suite`, `image_suite`) that `suite.audit` runs. `audit_series` and
`audit_images` are `audit` restricted to one modality. The audit reads real data and is NOT
differentially private; write its report apart from the release bundle (docs/privacy.md,
rule 7).
"""

from typing import Any

from dpsynth.validators.report import AuditReport
from dpsynth.validators.suite import audit

__all__ = ["audit", "audit_images", "audit_series", "AuditReport"]


def __getattr__(name: str) -> Any:
    # The series and image plans need torch: imported on first use, so `audit` stays light.
    if name == "audit_series":
        from dpsynth.validators.series_suite import audit_series

        return audit_series
    if name == "audit_images":
        from dpsynth.validators.image_suite import audit_images

        return audit_images
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Audits of synthetic data against real data: utility, subgroup fairness, fidelity,
representation and memorisation, collected in an `AuditReport`.

The audit reads real data and is NOT differentially private; write its report apart from
the release bundle (privacy contract, rule 7).
"""

from dpsynth.validators.suite import audit
from dpsynth.validators.report import AuditReport

__all__ = ["audit", "AuditReport"]

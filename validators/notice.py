"""What every file the audit writes says about itself: real-data results, not DP, not for release.

The audit compares synthetic data with REAL patients' data (privacy contract, rule 7), so each
of its files carries a notice: `NOTICE` in full where there is room (report.md's first line,
audit.json's ``"notice"``, audit.csv's first line, the PNGs' metadata), `BANNER` at the top of
report.html and of each printed page, `WATERMARK` at the foot of each plot. A module of its own
so that the report, its plots and its HTML page share the words without importing each other.
"""

from __future__ import annotations

NOTICE = (
    "This audit evaluates the synthetic data against REAL patient data: it is not "
    "differentially private and must not be released with the synthetic data."
)
BANNER = "CONTAINS REAL PATIENT DATA RESULTS — NOT DIFFERENTIALLY PRIVATE — NOT FOR RELEASE"
WATERMARK = "REAL DATA — NOT FOR RELEASE · audit on real patients, not differentially private"

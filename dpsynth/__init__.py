"""dpsynth: differentially private synthetic medical data with a per-subgroup audit."""

__version__ = "0.1.0"

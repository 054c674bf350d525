"""dpsynth: differentially private synthetic medical data with a per-subgroup audit."""

__version__ = "0.2.0"  # the single source: pyproject.toml reads it (dynamic = ["version"])

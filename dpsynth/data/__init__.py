"""Real tabular data sets for the demo and the benchmarks, by name.

``get_dataset("support2")`` / ``get_dataset("rhc")`` give a `TabularDataset`: its outcome,
a loader (one row per patient), a stratified train/holdout split and the shipped public
schema. The rows come from the optional package SurvSet (``pip install 'dpsynth[demo]'``),
which is imported only when a loader runs: importing this package does not need it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from dpsynth.data import rhc, support2
from dpsynth.errors import DpsynthError
from dpsynth.tabular.schema import TabularSchema

UNKNOWN_DATASET = "unknown data set {name!r}; known data sets: {known}"


@dataclass(frozen=True)
class TabularDataset:
    """A real tabular data set: `load()` -> frame, `split(frame, *, seed, holdout_fraction)`, `schema()`."""

    name: str
    outcome: str
    load: Callable[[], pd.DataFrame]
    split: Callable[..., tuple[pd.DataFrame, pd.DataFrame]]
    schema: Callable[[], TabularSchema]
    source: str


DATASETS: dict[str, TabularDataset] = {
    "support2": TabularDataset("support2", support2.OUTCOME, support2.load_support2,
                               support2.split_support2, support2.support2_schema, support2.SOURCE),
    "rhc": TabularDataset("rhc", rhc.OUTCOME, rhc.load_rhc, rhc.split_rhc, rhc.rhc_schema, rhc.SOURCE),
}


def get_dataset(name: str) -> TabularDataset:
    """The data set called `name` (a key of `DATASETS`); `DpsynthError` listing the known names otherwise."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise DpsynthError(UNKNOWN_DATASET.format(name=name, known=", ".join(sorted(DATASETS)))) from None

"""Real tabular data sets for the demo and the benchmarks, by name.

``get_dataset("support2")`` / ``"rhc"`` / ``"actg175"`` give a `TabularDataset`: its
outcome, a loader (one row per patient), a stratified train/holdout split and the shipped
public schema. The rows come from optional packages (SurvSet for SUPPORT2 and RHC,
lifelines for ACTG 175; ``pip install 'dpsynth[demo]'``), which are imported only when a
loader runs: importing this package needs neither.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from dpsynth.data import actg175, rhc, support2
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
    "actg175": TabularDataset("actg175", actg175.OUTCOME, actg175.load_actg175, actg175.split_actg175,
                              actg175.actg175_schema, actg175.SOURCE),
}


def get_dataset(name: str) -> TabularDataset:
    """The data set called `name` (a key of `DATASETS`); `DpsynthError` listing the known names otherwise."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise DpsynthError(UNKNOWN_DATASET.format(name=name, known=", ".join(sorted(DATASETS)))) from None

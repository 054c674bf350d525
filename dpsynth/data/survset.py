"""Shared helpers of the loaders for data sets that ship inside SurvSet (SUPPORT2, RHC).

SurvSet (GPL-3) is an optional package (``pip install 'dpsynth[demo]'``): it is imported
here lazily, inside `load_survset`, so that the library never needs it. Its tables have
an identifier ``pid``, the survival outcome ``event``/``time`` and the features with a
``num_``/``fac_`` prefix; a missing factor is stored as the level ``"missing"`` (never
``NaN``). A loader module names its columns (rename map, dropped columns) and its binary
outcome, and `survset_frame` does the rest:

1. `load_survset` reads the table (a clear `DpsynthError` if SurvSet is missing);
2. `check_columns` insists on exactly the expected columns (renamed or dropped);
3. `rename_columns` keeps the renamed ones, in order, with categorical columns as plain
   Python strings (`canonical_category`; integer codes become ``"0"``/``"1"``);
4. `binary_outcome` turns ``(event, time)`` into ``"yes"``/``"no"`` at a horizon.

`split_stratified` is the train/holdout split of every loader and `load_schema` reads a
public schema shipped in ``dpsynth/data/schemas/``.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable, Mapping
from importlib import resources

import numpy as np
import pandas as pd

from dpsynth.errors import DpsynthError
from dpsynth.schema import canonical_category
from dpsynth.tabular.schema import TabularSchema

NEGATIVE = "no"

SURVSET_MISSING = (
    "the {dataset} demo data ships in the optional package SurvSet (GPL-3), which is not "
    "installed: pip install 'dpsynth[demo]'"
)
SURVSET_CHANGED = (
    "SurvSet's '{table}' table does not have the expected columns (missing: {missing}, "
    "unexpected: {extra}); this dpsynth version was written for SurvSet 0.2.x"
)
BAD_HOLDOUT_FRACTION = "holdout_fraction must be a number in (0, 1) (got {value!r})"
NO_OUTCOME = (
    "frame has no '{outcome}' column to stratify on; pass the frame the data set's loader "
    "returned (e.g. load_support2(), load_rhc())"
)


def load_survset(table: str, *, dataset: str) -> pd.DataFrame:
    """SurvSet's table `table` as stored (``SurvLoader().load_dataset(table)["df"]``).

    `dataset` is the human name used in the error raised when SurvSet is not installed.
    """
    try:
        from SurvSet.data import SurvLoader
    except ImportError:
        raise DpsynthError(SURVSET_MISSING.format(dataset=dataset)) from None
    with warnings.catch_warnings():
        # SurvSet's pickles reference numpy.core, deprecated in numpy 2: not ours to fix.
        warnings.filterwarnings("ignore", message=r"numpy\.core", category=DeprecationWarning)
        return SurvLoader().load_dataset(table)["df"]


def check_columns(raw: pd.DataFrame, expected: Iterable[str], *, table: str) -> None:
    """Raise `DpsynthError` naming the missing and unexpected columns unless they match exactly."""
    expected = set(expected)
    present = set(raw.columns)
    if present != expected:
        raise DpsynthError(SURVSET_CHANGED.format(
            table=table, missing=sorted(expected - present), extra=sorted(present - expected)))


def rename_columns(raw: pd.DataFrame, rename: Mapping[str, str]) -> pd.DataFrame:
    """The columns of `rename`, in its order, renamed; categoricals as plain strings; index 0..n-1.

    Categorical (and any non-numeric) columns become ``object`` columns of Python strings
    through `canonical_category` (``NaN`` stays ``NaN``); numeric columns are unchanged.
    """
    out = raw[list(rename)].rename(columns=dict(rename))
    for name in out.columns:
        series = out[name]
        if isinstance(series.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(series):
            out[name] = series.astype(object).map(canonical_category).astype(object)
    return out.reset_index(drop=True)


def binary_outcome(event, time, *, horizon: float, positive: str = "yes",
                   negative: str = NEGATIVE) -> np.ndarray:
    """`positive` where the event happened by `horizon` (``event == 1 and time <= horizon``).

    Rows censored before the horizon (alive at last contact) count as `negative`.
    Returns an ``object`` array of strings.
    """
    died = (np.asarray(event) == 1) & (np.asarray(time) <= horizon)
    return np.where(died, positive, negative).astype(object)


def survset_frame(
    table: str, *, dataset: str, rename: Mapping[str, str], dropped: Iterable[str],
    outcome: str, horizon: float, positive: str = "yes",
) -> pd.DataFrame:
    """One row per patient: the renamed columns of SurvSet's `table`, then the binary `outcome`.

    Every column of the table must be either renamed or dropped (`check_columns`).
    """
    raw = load_survset(table, dataset=dataset)
    check_columns(raw, set(rename) | set(dropped), table=table)
    out = rename_columns(raw, rename)
    out[outcome] = binary_outcome(raw["event"], raw["time"], horizon=horizon, positive=positive)
    return out


def split_stratified(
    frame: pd.DataFrame, *, outcome: str, seed: int = 0, holdout_fraction: float = 0.3
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split into (train, holdout), stratified on `outcome` and fixed by `seed`.

    Both parts keep the rows' original order and get a fresh 0..n-1 index. The holdout is
    the real data the audit evaluates on; it is never given to a generator.
    """
    from sklearn.model_selection import train_test_split

    if isinstance(holdout_fraction, bool) or not isinstance(holdout_fraction, numbers.Real) \
            or not 0 < holdout_fraction < 1:
        raise ValueError(BAD_HOLDOUT_FRACTION.format(value=holdout_fraction))
    if outcome not in frame.columns:
        raise ValueError(NO_OUTCOME.format(outcome=outcome))
    positions = np.arange(len(frame))
    train_pos, holdout_pos = train_test_split(
        positions, test_size=holdout_fraction, stratify=frame[outcome].to_numpy(), random_state=seed)
    train = frame.iloc[np.sort(train_pos)].reset_index(drop=True)
    holdout = frame.iloc[np.sort(holdout_pos)].reset_index(drop=True)
    return train, holdout


def load_schema(resource: str) -> TabularSchema:
    """A public schema shipped with dpsynth, e.g. ``load_schema("schemas/rhc.yaml")``."""
    with resources.as_file(resources.files("dpsynth.data").joinpath(resource)) as path:
        return TabularSchema.load(path)

"""The embedded SUPPORT2 data set, its public schema and its train/holdout split."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from dpsynth.data import support2 as mod
from dpsynth.data.support2 import (
    COLUMNS, OUTCOME, SURVSET_MISSING, load_support2, support2_schema,
)
from dpsynth.errors import DpsynthError
from dpsynth.schema import CategoricalColumn, NumericColumn
from dpsynth.tabular.schema import TabularSchema

N_ROWS = 9105
N_DEATHS_180D = 4265


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    pytest.importorskip("SurvSet")
    return load_support2()


@pytest.fixture(scope="module")
def schema() -> TabularSchema:
    return support2_schema()


# --------------------------------------------------------------------------- the frame
def test_shape_columns_and_outcome_rate(frame):
    assert frame.shape == (N_ROWS, 32)
    assert list(frame.columns) == COLUMNS
    assert frame.columns[-1] == OUTCOME
    assert int((frame[OUTCOME] == "yes").sum()) == N_DEATHS_180D
    assert set(frame[OUTCOME]) == {"yes", "no"}
    assert isinstance(frame.index, pd.RangeIndex)


def test_no_leaking_or_identifying_columns(frame):
    leaking = {"pid", "event", "time", "surv2m", "surv6m", "sfdm2", "d.time", "death", "hospdead",
               "num_surv2m", "num_surv6m", "fac_sfdm2", "fac_num_co"}
    assert not leaking & set(frame.columns)
    assert not any(c.startswith("fac_") for c in frame.columns)
    assert not any(c.startswith("num_") and c != "num_co" for c in frame.columns)


def test_categoricals_are_plain_strings(frame, schema):
    for col in schema.columns:
        series = frame[col.name]
        if isinstance(col, CategoricalColumn):
            assert series.dtype == object, col.name
            assert all(isinstance(v, str) for v in series.dropna()), col.name
        else:
            assert pd.api.types.is_numeric_dtype(series), col.name
    assert frame["race"].value_counts().to_dict() == {
        "white": 7191, "black": 1391, "hispanic": 290, "other": 112, "asian": 79, "missing": 42}
    assert frame["sex"].value_counts().to_dict() == {"male": 5125, "female": 3980}
    assert set(frame["diabetes"]) == {"0", "1"}


def test_load_returns_a_fresh_copy(frame):
    again = load_support2()
    again.loc[0, "age"] = -1.0
    assert load_support2().loc[0, "age"] == frame.loc[0, "age"] != -1.0


def test_missing_survset_gives_install_hint(monkeypatch):
    mod._build.cache_clear()
    monkeypatch.setitem(sys.modules, "SurvSet", None)
    monkeypatch.setitem(sys.modules, "SurvSet.data", None)
    try:
        with pytest.raises(DpsynthError, match=r"pip install 'dpsynth\[demo\]'") as info:
            load_support2()
        assert info.value.args[0] == SURVSET_MISSING
    finally:
        mod._build.cache_clear()


# -------------------------------------------------------------------------- the schema
def test_schema_is_public_and_describes_the_frame(schema):
    schema.require_public()
    assert schema.not_public() == []
    assert schema.target == OUTCOME and schema.positive == "yes"
    assert schema.names == COLUMNS
    assert all(c.public for c in schema.columns)
    for col in schema.columns:
        if isinstance(col, NumericColumn):
            assert col.lower is not None and col.upper is not None and col.lower < col.upper


# --------------------------------------------------------------------------- declared rules
def test_schema_declares_the_data_dictionary_dzgroup_to_dzclass_mapping(schema):
    (rule,) = schema.rules
    assert (rule.kind, rule.source, rule.target) == ("mapping", "dzgroup", "dzclass")
    assert rule.map["Colon Cancer"] == "Cancer" and rule.map["COPD"] == "COPD/CHF/Cirrhosis"


def test_every_dzgroup_level_has_exactly_one_dzclass_in_the_data(frame, schema):
    classes = frame.groupby("dzgroup")["dzclass"].unique()
    assert {group: list(values) for group, values in classes.items()} == {
        group: [value] for group, value in schema.rules[0].map.items()}
    assert schema.rules[0].holds(schema.conform(frame)[0]).all()

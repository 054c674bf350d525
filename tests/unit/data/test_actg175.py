"""The ACTG 175 data set (read from lifelines' CSV), its public schema and its loader's checks."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from dpsynth.data import actg175 as mod
from dpsynth.data.actg175 import (COLUMNS, LIFELINES_CHANGED, LIFELINES_MISSING, OUTCOME, actg175_schema,
                                  load_actg175, read_release)
from dpsynth.errors import DpsynthError
from dpsynth.optional import MissingExtraError
from dpsynth.schema import CategoricalColumn, NumericColumn
from dpsynth.tabular.schema import TabularSchema

N_ROWS = 2139
N_EVENTS = 521


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    pytest.importorskip("lifelines")
    return load_actg175()


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    pytest.importorskip("lifelines")
    return read_release()


@pytest.fixture(scope="module")
def schema() -> TabularSchema:
    return actg175_schema()


# --------------------------------------------------------------------------- the frame
def test_shape_columns_and_outcome_rate(frame):
    assert frame.shape == (N_ROWS, 19)
    assert list(frame.columns) == COLUMNS
    assert frame.columns[-1] == OUTCOME
    assert frame[OUTCOME].value_counts().to_dict() == {"no": N_ROWS - N_EVENTS, "yes": N_EVENTS}
    assert isinstance(frame.index, pd.RangeIndex)
    assert not frame.isna().any().any()  # nothing missing in the kept columns


def test_outcome_is_the_event_indicator(frame, raw):
    assert np.array_equal(frame[OUTCOME].to_numpy() == "yes", raw["cens"].to_numpy() == 1)
    assert raw["pidnum"].is_unique  # one row per patient


def test_no_identifying_or_post_baseline_columns(frame):
    # the identifier, the follow-up time, the week-20/96 measurements, the off-treatment
    # flag and the constant zprior (see the actg175 module docstring)
    dropped = {"pidnum", "days", "cd420", "cd820", "cd496", "r", "offtrt", "zprior", "Unnamed: 0"}
    assert not dropped & set(frame.columns)


def test_recoding(frame, raw):
    assert frame["gender"].value_counts().to_dict() == {"male": 1771, "female": 368}
    assert frame["race"].value_counts().to_dict() == {"white": 1522, "non-white": 617}
    assert np.array_equal(frame["gender"] == "male", raw["gender"] == 1)
    assert np.array_equal(frame["race"] == "non-white", raw["race"] == 1)
    assert frame["arms"].value_counts().sort_index().to_dict() == {"0": 532, "1": 522, "2": 524, "3": 561}
    assert set(frame["strat"]) == {"1", "2", "3"} and set(frame["hemo"]) == {"0", "1"}
    # the design's rules hold in the release (the schema yaml lists them)
    assert ((frame["treat"] == "0") == (frame["arms"] == "0")).all()
    assert ((frame["str2"] == "0") == (frame["strat"] == "1")).all()


def test_categoricals_are_plain_strings(frame, schema):
    for col in schema.columns:
        series = frame[col.name]
        if isinstance(col, CategoricalColumn):
            assert series.dtype == object, col.name
            assert all(isinstance(v, str) for v in series), col.name
        else:
            assert pd.api.types.is_numeric_dtype(series), col.name


def test_load_returns_a_fresh_copy(frame):
    again = load_actg175()
    again.loc[0, "age"] = -1
    assert load_actg175().loc[0, "age"] == frame.loc[0, "age"] != -1


# ------------------------------------------------------------------- loader's errors
def test_missing_lifelines_gives_install_hint(monkeypatch):
    mod._build.cache_clear()
    monkeypatch.setitem(sys.modules, "lifelines", None)
    monkeypatch.setitem(sys.modules, "lifelines.datasets", None)
    try:
        with pytest.raises(MissingExtraError, match=r"pip install 'dpsynth\[demo\]'") as info:
            load_actg175()
        assert info.value.args[0] == LIFELINES_MISSING
        assert "ACTG 175" in LIFELINES_MISSING and "lifelines" in LIFELINES_MISSING
    finally:
        mod._build.cache_clear()


def test_changed_release_names_the_columns(monkeypatch, raw):
    mod._build.cache_clear()
    monkeypatch.setattr(mod, "read_release", lambda: raw.drop(columns=["cd40"]).assign(new=1))
    try:
        with pytest.raises(DpsynthError) as info:
            load_actg175()
        assert info.value.args[0] == LIFELINES_CHANGED.format(missing=["cd40"], extra=["new"])
    finally:
        mod._build.cache_clear()


# -------------------------------------------------------------------------- the schema
def test_schema_is_public_and_describes_the_frame(schema):
    schema.require_public()
    assert schema.not_public() == []
    assert schema.target == OUTCOME and schema.positive == "yes"
    assert schema.names == COLUMNS
    for col in schema.columns:
        if isinstance(col, NumericColumn):
            assert col.lower is not None and col.upper is not None and col.lower < col.upper
    assert schema.column("age").lower == 12  # the trial enrolled from 12 years


def test_flag_categories_survive_a_yaml_round_trip(tmp_path, schema):
    back = TabularSchema.load(schema.save(tmp_path / "actg175.yaml"))
    assert back.column("hemo").categories == ["0", "1"]
    assert back.column("cens").categories == ["no", "yes"]  # not YAML booleans


# --------------------------------------------------------------------------- declared rules
def test_schema_declares_the_trial_design_rules(schema):
    labels = {rule.label: rule for rule in schema.rules}
    assert labels["arms -> treat"].map == {"0": "0", "1": "1", "2": "1", "3": "1"}
    assert labels["strat -> str2"].map == {"1": "0", "2": "1", "3": "1"}
    assert labels["preanti range by strat"].ranges["1"] == [0, 7]


def test_the_data_keep_every_declared_rule(frame, schema):
    conformed = schema.conform(frame)[0]  # conform refuses rows that break a rule
    for rule in schema.rules:
        assert rule.holds(conformed).all(), rule.label
    assert set(frame.loc[frame["arms"] == "0", "treat"]) == {"0"}
    assert set(frame.loc[frame["strat"] == "1", "str2"]) == {"0"}

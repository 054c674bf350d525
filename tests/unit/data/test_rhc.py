"""The embedded RHC data set, its public schema and its train/holdout split."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from dpsynth.data import rhc as mod
from dpsynth.data.rhc import COLUMNS, OUTCOME, SURVSET_MISSING, load_rhc, rhc_schema
from dpsynth.data.survset import load_survset
from dpsynth.errors import DpsynthError
from dpsynth.schema import CategoricalColumn, NumericColumn
from dpsynth.tabular.schema import TabularSchema

N_ROWS = 5735
N_DEATHS_30D = 1918


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    pytest.importorskip("SurvSet")
    return load_rhc()


@pytest.fixture(scope="module")
def schema() -> TabularSchema:
    return rhc_schema()


# --------------------------------------------------------------------------- the frame
def test_shape_columns_and_outcome_rate(frame):
    assert frame.shape == (N_ROWS, 52)
    assert list(frame.columns) == COLUMNS
    assert frame.columns[-1] == OUTCOME
    assert frame[OUTCOME].value_counts().to_dict() == {"no": N_ROWS - N_DEATHS_30D, "yes": N_DEATHS_30D}
    assert isinstance(frame.index, pd.RangeIndex)


def test_outcome_follows_event_and_time(frame):
    raw = load_survset("rhc", dataset="RHC")
    died = (raw["event"] == 1) & (raw["time"] <= 30)
    assert np.array_equal(frame[OUTCOME].to_numpy() == "yes", died.to_numpy())
    # the 8 patients censored (last seen alive) before day 30 count as "no"
    assert int(((raw["event"] == 0) & (raw["time"] <= 30)).sum()) == 8


def test_no_leaking_or_identifying_columns(frame):
    # identifiers, dates, survival/outcome columns, the SUPPORT model's survival estimate
    # and the day-3 interview scores (see the rhc module docstring)
    leaking = {"pid", "ptid", "event", "time", "surv2md1", "num_surv2md1", "adld3p", "num_adld3p",
               "das2d3pc", "death", "dth30", "t3d30", "sadmdte", "dschdte", "dthdte", "lstctdte"}
    assert not leaking & set(frame.columns)
    assert not any(c.startswith(("fac_", "num_")) for c in frame.columns)


def test_categoricals_are_plain_strings(frame, schema):
    for col in schema.columns:
        series = frame[col.name]
        if isinstance(col, CategoricalColumn):
            assert series.dtype == object, col.name
            assert all(isinstance(v, str) for v in series.dropna()), col.name
        else:
            assert pd.api.types.is_numeric_dtype(series), col.name
    assert frame["race"].value_counts().to_dict() == {"white": 4460, "black": 920, "other": 355}
    assert frame["sex"].value_counts().to_dict() == {"Male": 3192, "Female": 2543}
    assert frame["swang1"].value_counts().to_dict() == {"No RHC": 3551, "RHC": 2184}
    assert set(frame["cardiohx"]) == {"0", "1"}
    assert int((frame["cat2"] == "missing").sum()) == 4535  # SurvSet's missing level, kept


def test_load_returns_a_fresh_copy(frame):
    again = load_rhc()
    again.loc[0, "age"] = -1.0
    assert load_rhc().loc[0, "age"] == frame.loc[0, "age"] != -1.0


def test_missing_survset_gives_install_hint(monkeypatch):
    mod._build.cache_clear()
    monkeypatch.setitem(sys.modules, "SurvSet", None)
    monkeypatch.setitem(sys.modules, "SurvSet.data", None)
    try:
        with pytest.raises(DpsynthError, match=r"pip install 'dpsynth\[demo\]'") as info:
            load_rhc()
        assert info.value.args[0] == SURVSET_MISSING
        assert "RHC" in SURVSET_MISSING
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


def test_weight_code_zero_becomes_missing(frame):
    """The release codes "weight not recorded" as 0 kg; the loader masks it as NaN."""
    assert frame["wtkilo1"].isna().sum() == 515
    assert frame["wtkilo1"].min() == 19.5


def test_yes_no_categories_survive_a_yaml_round_trip(tmp_path, schema):
    back = TabularSchema.load(schema.save(tmp_path / "rhc.yaml"))
    assert back.column("ca").categories == ["No", "Yes", "Metastatic"]  # not YAML booleans


def test_no_rule_is_declared_because_none_holds_in_every_row(frame, schema):
    """The candidates named in rhc.yaml's comment do not hold exactly: ca does not determine
    malighx, and cat1 does not determine cat2."""
    assert schema.rules == []
    assert frame.groupby("ca")["malighx"].nunique().max() > 1
    assert frame.groupby("cat1")["cat2"].nunique().max() > 1

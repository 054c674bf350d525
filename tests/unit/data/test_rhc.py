"""The embedded RHC data set, its public schema and its train/holdout split."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest

from dpsynth.data import rhc as mod
from dpsynth.data.rhc import COLUMNS, OUTCOME, SURVSET_MISSING, load_rhc, rhc_schema, split_rhc
from dpsynth.data.survset import load_survset
from dpsynth.errors import DpsynthError
from dpsynth.schema import CategoricalColumn, NumericColumn, TabularSchema

N_ROWS = 5735
N_DEATHS_30D = 1918
# The only changes conform() may make: recording errors beyond the public ranges are
# clipped (documented in rhc.yaml).
DOCUMENTED_CLIPS = {"meanbp1": 1, "resp1": 2, "alb1": 2}


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


def test_conform_passes_with_only_documented_clips(frame, schema):
    conformed, report = schema.conform(frame)
    assert report.clipped == DOCUMENTED_CLIPS
    assert report.unseen_to_missing == {}
    for col in schema.columns:
        if isinstance(col, NumericColumn) and col.name not in DOCUMENTED_CLIPS:
            present = frame[col.name].dropna()
            assert ((present >= col.lower) & (present <= col.upper)).all(), col.name
    for name, count in DOCUMENTED_CLIPS.items():
        col = schema.column(name)
        assert int((frame[name] > col.upper).sum() + (frame[name] < col.lower).sum()) == count
        assert conformed[name].max() <= col.upper


def test_nullable_exactly_where_data_has_missing_values(frame, schema):
    for col in schema.columns:
        assert col.nullable == bool(frame[col.name].isna().any()), col.name


def test_weight_code_zero_becomes_missing(frame):
    """The release codes "weight not recorded" as 0 kg; the loader masks it as NaN."""
    assert frame["wtkilo1"].isna().sum() == 515
    assert frame["wtkilo1"].min() == 19.5


def test_integer_flags_hold_on_the_data(frame, schema):
    for col in schema.columns:
        if isinstance(col, NumericColumn) and col.integer:
            present = frame[col.name].dropna().to_numpy(dtype=float)
            assert np.array_equal(present, np.round(present)), col.name


def test_sensitive_groups(frame, schema):
    domains = schema.condition_domains()
    assert domains == {
        OUTCOME: ["no", "yes"],
        "sex": ["Female", "Male"],
        "race": ["white", "black", "other"],
        "age_band": ["18-49", "50-64", "65-79", "80+"],
    }
    conformed, _ = schema.conform(frame)
    labels = schema.group_labels(conformed)
    assert labels["race"].value_counts().to_dict() == {"white": 4460, "black": 920, "other": 355}
    assert set(labels["age_band"]) == set(domains["age_band"])  # no row falls outside the bands


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_schema_round_trips_with_same_fingerprint(tmp_path, schema, suffix):
    path = schema.save(tmp_path / f"rhc{suffix}")
    back = TabularSchema.load(path)
    assert back.to_dict() == schema.to_dict()
    assert back.fingerprint() == schema.fingerprint()
    assert back.positive == "yes"  # not YAML's boolean `yes`
    assert back.column("ca").categories == ["No", "Yes", "Metastatic"]  # not YAML booleans


# --------------------------------------------------------------------------- the split
def test_split_is_deterministic_and_stratified(frame):
    train, holdout = split_rhc(frame, seed=0)
    train2, holdout2 = split_rhc(frame, seed=0)
    pd.testing.assert_frame_equal(train, train2)
    pd.testing.assert_frame_equal(holdout, holdout2)
    # scikit-learn rounds the holdout size up (1720.5 -> 1721)
    assert len(holdout) == math.ceil(0.3 * N_ROWS) and len(train) + len(holdout) == N_ROWS
    rate = N_DEATHS_30D / N_ROWS
    for part in (train, holdout):
        assert abs((part[OUTCOME] == "yes").mean() - rate) < 1 / len(part) + 1e-12
        assert isinstance(part.index, pd.RangeIndex)
    # the two parts partition the rows
    hashes = lambda f: sorted(pd.util.hash_pandas_object(f, index=False).tolist())  # noqa: E731
    assert hashes(pd.concat([train, holdout])) == hashes(frame)
    other_train, _ = split_rhc(frame, seed=1)
    assert not other_train.equals(train)


def test_split_fraction_and_input_checks(frame):
    _, holdout = split_rhc(frame, seed=3, holdout_fraction=0.2)
    assert len(holdout) == math.ceil(0.2 * N_ROWS)
    for bad in (0, 1, 1.5, -0.1, float("nan"), "0.3", True):
        with pytest.raises(ValueError, match="holdout_fraction"):
            split_rhc(frame, holdout_fraction=bad)
    with pytest.raises(ValueError, match=OUTCOME):
        split_rhc(frame.drop(columns=[OUTCOME]))

"""The embedded SUPPORT2 data set, its public schema and its train/holdout split."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from dpsynth.data import support2 as mod
from dpsynth.data.support2 import (
    COLUMNS, OUTCOME, SURVSET_MISSING, load_support2, split_support2, support2_schema,
)
from dpsynth.errors import DpsynthError
from dpsynth.schema import CategoricalColumn, NumericColumn, TabularSchema

N_ROWS = 9105
N_DEATHS_180D = 4265
# The only change conform() may make: physiologically impossible albumin entries are
# clipped (documented in support2.yaml).
DOCUMENTED_CLIPS = {"alb": 3}


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


def test_conform_passes_with_only_documented_clips(frame, schema):
    conformed, report = schema.conform(frame)
    assert report.clipped == DOCUMENTED_CLIPS
    assert report.unseen_to_missing == {}
    for name, col in ((c.name, c) for c in schema.columns):
        if isinstance(col, NumericColumn) and name not in DOCUMENTED_CLIPS:
            present = frame[name].dropna()
            assert ((present >= col.lower) & (present <= col.upper)).all(), name
    for name, count in DOCUMENTED_CLIPS.items():
        col = schema.column(name)
        assert int((frame[name] > col.upper).sum() + (frame[name] < col.lower).sum()) == count
        assert conformed[name].max() <= col.upper


def test_nullable_exactly_where_data_has_missing_values(frame, schema):
    for col in schema.columns:
        assert col.nullable == bool(frame[col.name].isna().any()), col.name


def test_integer_flags_hold_on_the_data(frame, schema):
    for col in schema.columns:
        if isinstance(col, NumericColumn) and col.integer:
            present = frame[col.name].dropna().to_numpy(dtype=float)
            assert np.array_equal(present, np.round(present)), col.name


def test_sensitive_groups(frame, schema):
    domains = schema.condition_domains()
    assert domains == {
        OUTCOME: ["no", "yes"],
        "sex": ["female", "male"],
        "race": ["white", "black", "other"],
        "age_band": ["18-49", "50-64", "65-79", "80+"],
    }
    conformed, _ = schema.conform(frame)
    labels = schema.group_labels(conformed)
    assert labels["race"].value_counts().to_dict() == {"white": 7191, "black": 1391, "other": 523}
    assert set(labels["age_band"]) == set(domains["age_band"])  # no row falls outside the bands


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_schema_round_trips_with_same_fingerprint(tmp_path, schema, suffix):
    path = schema.save(tmp_path / f"support2{suffix}")
    back = TabularSchema.load(path)
    assert back.to_dict() == schema.to_dict()
    assert back.fingerprint() == schema.fingerprint()
    assert back.positive == "yes"  # not YAML's boolean `yes`


# --------------------------------------------------------------------------- the split
def test_split_is_deterministic_and_stratified(frame):
    train, holdout = split_support2(frame, seed=0)
    train2, holdout2 = split_support2(frame, seed=0)
    pd.testing.assert_frame_equal(train, train2)
    pd.testing.assert_frame_equal(holdout, holdout2)
    assert len(holdout) == round(0.3 * N_ROWS) and len(train) + len(holdout) == N_ROWS
    rate = N_DEATHS_180D / N_ROWS
    for part in (train, holdout):
        assert abs((part[OUTCOME] == "yes").mean() - rate) < 1 / len(part) + 1e-12
        assert isinstance(part.index, pd.RangeIndex)
    # the two parts partition the rows
    hashes = lambda f: sorted(pd.util.hash_pandas_object(f, index=False).tolist())  # noqa: E731
    assert hashes(pd.concat([train, holdout])) == hashes(frame)
    other_train, _ = split_support2(frame, seed=1)
    assert not other_train.equals(train)


def test_split_fraction_and_input_checks(frame):
    _, holdout = split_support2(frame, seed=3, holdout_fraction=0.2)
    assert len(holdout) == round(0.2 * N_ROWS)
    for bad in (0, 1, 1.5, -0.1, float("nan"), "0.3", True):
        with pytest.raises(ValueError, match="holdout_fraction"):
            split_support2(frame, holdout_fraction=bad)
    with pytest.raises(ValueError, match=OUTCOME):
        split_support2(frame.drop(columns=[OUTCOME]))

"""What every shipped real data set promises (`dpsynth.data.DATASETS`): its public schema
describes the frame, conform changes only the documented clips, and the split is
deterministic, stratified and a partition. Data-set specifics live in test_<name>.py."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from dpsynth.data import get_dataset
from dpsynth.schema import NumericColumn
from dpsynth.tabular.schema import TabularSchema


@dataclass(frozen=True)
class Expected:
    rows: int
    positives: int
    clips: dict[str, int]  # the only changes conform() may make (documented in the schema yaml)
    sex: list[str]
    race_counts: dict[str, int]
    package: str = "SurvSet"  # the optional package (extra `demo`) that ships the rows
    age_bands: tuple[str, ...] = ("18-49", "50-64", "65-79", "80+")


EXPECTED = {
    "support2": Expected(9105, 4265, {"alb": 3}, ["female", "male"], {"white": 7191, "black": 1391, "other": 523}),
    "rhc": Expected(5735, 1918, {"meanbp1": 1, "resp1": 2, "alb1": 2}, ["Female", "Male"],
                    {"white": 4460, "black": 920, "other": 355}),
    "actg175": Expected(2139, 521, {}, ["female", "male"], {"white": 1522, "non-white": 617},
                        package="lifelines", age_bands=("12-29", "30-39", "40-49", "50+")),
}


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def case(request):
    expected = EXPECTED[request.param]
    pytest.importorskip(expected.package)
    dataset = get_dataset(request.param)
    return dataset, dataset.load(), dataset.schema(), expected


def test_conform_passes_with_only_documented_clips(case):
    _, frame, schema, expected = case
    conformed, report = schema.conform(frame)
    assert report.clipped == expected.clips
    assert report.unseen_to_missing == {}
    for col in schema.columns:
        if isinstance(col, NumericColumn) and col.name not in expected.clips:
            present = frame[col.name].dropna()
            assert ((present >= col.lower) & (present <= col.upper)).all(), col.name
    for name, count in expected.clips.items():
        col = schema.column(name)
        assert int((frame[name] > col.upper).sum() + (frame[name] < col.lower).sum()) == count
        assert conformed[name].max() <= col.upper


def test_nullable_exactly_where_data_has_missing_values(case):
    _, frame, schema, _ = case
    for col in schema.columns:
        assert col.nullable == bool(frame[col.name].isna().any()), col.name


def test_integer_flags_hold_on_the_data(case):
    _, frame, schema, _ = case
    for col in schema.columns:
        if isinstance(col, NumericColumn) and col.integer:
            present = frame[col.name].dropna().to_numpy(dtype=float)
            assert np.array_equal(present, np.round(present)), col.name


def test_sensitive_groups(case):
    dataset, frame, schema, expected = case
    domains = schema.condition_domains()
    assert domains == {
        dataset.outcome: ["no", "yes"],
        "sex": expected.sex,
        "race": list(expected.race_counts),
        "age_band": list(expected.age_bands),
    }
    labels = schema.group_labels(schema.conform(frame)[0])
    assert labels["race"].value_counts().to_dict() == expected.race_counts
    assert set(labels["age_band"]) == set(domains["age_band"])  # no row falls outside the bands


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_schema_round_trips_with_same_fingerprint(tmp_path, case, suffix):
    dataset, _, schema, _ = case
    back = TabularSchema.load(schema.save(tmp_path / f"{dataset.name}{suffix}"))
    assert back.to_dict() == schema.to_dict()
    assert back.fingerprint() == schema.fingerprint()
    assert back.positive == "yes"  # not YAML's boolean `yes`


def test_split_is_deterministic_and_stratified(case):
    dataset, frame, _, expected = case
    train, holdout = dataset.split(frame, seed=0)
    train2, holdout2 = dataset.split(frame, seed=0)
    pd.testing.assert_frame_equal(train, train2)
    pd.testing.assert_frame_equal(holdout, holdout2)
    # scikit-learn rounds the holdout size up (e.g. 1720.5 -> 1721)
    assert len(holdout) == math.ceil(0.3 * expected.rows) and len(train) + len(holdout) == expected.rows
    rate = expected.positives / expected.rows
    for part in (train, holdout):
        assert abs((part[dataset.outcome] == "yes").mean() - rate) < 1 / len(part) + 1e-12
        assert isinstance(part.index, pd.RangeIndex)
    hashes = lambda f: sorted(pd.util.hash_pandas_object(f, index=False).tolist())  # noqa: E731
    assert hashes(pd.concat([train, holdout])) == hashes(frame)  # the two parts partition the rows
    other_train, _ = dataset.split(frame, seed=1)
    assert not other_train.equals(train)


def test_split_fraction_and_input_checks(case):
    dataset, frame, _, expected = case
    _, holdout = dataset.split(frame, seed=3, holdout_fraction=0.2)
    assert len(holdout) == math.ceil(0.2 * expected.rows)
    for bad in (0, 1, 1.5, -0.1, float("nan"), "0.3", True):
        with pytest.raises(ValueError, match="holdout_fraction"):
            dataset.split(frame, holdout_fraction=bad)
    with pytest.raises(ValueError, match=dataset.outcome):
        dataset.split(frame.drop(columns=[dataset.outcome]))

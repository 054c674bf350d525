"""Representation: group shares real vs synthetic, for attributes, intersections and the target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpsynth.schema import CategoricalColumn, NumericColumn, SensitiveAttribute
from dpsynth.tabular.schema import TabularSchema
from dpsynth.validators import representation
from dpsynth.validators.context import RESULT_COLUMNS, AuditConfig, AuditContext

SCHEMA = TabularSchema(
    columns=[
        NumericColumn("age", lower=18, upper=90),
        CategoricalColumn("sex", categories=["F", "M"]),
        CategoricalColumn("race", categories=["white", "black", "asian"], nullable=True),
        CategoricalColumn("outcome", categories=["no", "yes"]),
    ],
    target="outcome", positive="yes",
    sensitive=[SensitiveAttribute("sex"), SensitiveAttribute("race"),
               SensitiveAttribute("age", name="age_band", bins=[18, 65, 91], labels=["<65", "65+"])],
)


def patients(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    race = rng.choice(["white", "black", "asian"], n, p=[0.6, 0.3, 0.1]).astype(object)
    race[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({"age": rng.uniform(18, 90, n).round(), "sex": rng.choice(["F", "M"], n),
                         "race": race, "outcome": rng.choice(["no", "yes"], n)})


def evaluate(train: pd.DataFrame, synthetic: pd.DataFrame, **config) -> pd.DataFrame:
    frames = [SCHEMA.conform(f)[0] for f in (train, patients(50, 9), synthetic)]
    return representation.evaluate(AuditContext(SCHEMA, *frames, config=AuditConfig(**config)))


def value(table: pd.DataFrame, metric: str, attribute: str, group: str) -> float:
    row = table[(table.metric == metric) & (table.attribute == attribute) & (table.group == group)]
    assert len(row) == 1
    return float(row.value.iloc[0])


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return patients(600, 1)


def test_identical_data_has_equal_shares(train):
    table = evaluate(train, train.copy())
    assert list(table.columns) == RESULT_COLUMNS and set(table.validator) == {"representation"}
    assert np.allclose(table[table.metric == "share_difference"].value, 0.0)
    assert np.allclose(table[table.metric == "share_ratio"].value, 1.0)
    assert value(table, "share_real", "sex", "F") == pytest.approx((train.sex == "F").mean())


def test_attributes_intersections_and_target_in_domain_order(train):
    table = evaluate(train, patients(600, 2))
    groups = table.groupby("attribute", sort=False).group.unique()
    assert list(groups.index) == ["outcome", "sex", "race", "age_band", "sex×race", "sex×age_band",
                                  "race×age_band"]
    assert list(groups["race"]) == ["white", "black", "asian", "missing"]
    assert list(groups["age_band"]) == ["<65", "65+"]
    assert list(groups["sex×age_band"]) == ["F & <65", "F & 65+", "M & <65", "M & 65+"]
    for attribute in groups.index:
        for metric in ("share_real", "share_synthetic"):
            shares = table[(table.attribute == attribute) & (table.metric == metric)].value
            assert shares.sum() == pytest.approx(1.0)


def test_missing_and_shrunken_groups(train):
    synthetic = patients(600, 2)
    synthetic = synthetic[synthetic.race != "asian"]
    synthetic = pd.concat([synthetic[synthetic.sex == "F"], synthetic[synthetic.sex == "M"].iloc[:30]])
    table = evaluate(train, synthetic)
    asian = table[(table.attribute == "race") & (table.group == "asian")]
    assert (asian.flag == "absent_in_synthetic").all()
    assert value(table, "share_synthetic", "race", "asian") == 0.0
    assert value(table, "share_ratio", "race", "asian") == 0.0
    real_m, syn_m = value(table, "share_real", "sex", "M"), value(table, "share_synthetic", "sex", "M")
    assert syn_m < 0.15 < real_m
    assert value(table, "share_difference", "sex", "M") == pytest.approx(syn_m - real_m)
    assert value(table, "share_ratio", "sex", "M") == pytest.approx(syn_m / real_m)
    n = table[(table.attribute == "sex") & (table.group == "M") & (table.metric == "share_synthetic")].n
    assert int(n.iloc[0]) == 30


def test_small_real_groups_and_invented_groups_are_flagged():
    train = patients(600, 1)
    train = train[train.race != "asian"]
    synthetic = patients(600, 2)
    table = evaluate(train, synthetic, min_group_size=100)
    asian = table[(table.attribute == "race") & (table.group == "asian")]
    assert (asian.flag == "absent_in_real").all() and np.isnan(value(table, "share_ratio", "race", "asian"))
    missing = table[(table.attribute == "race") & (table.group == "missing")]
    assert (missing.flag == "small_group").all()  # ~30 real rows < 100

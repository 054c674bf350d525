"""Fidelity: marginal distances, association difference and the real-vs-synthetic detector,
overall and per subgroup."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpsynth.schema import CategoricalColumn, NumericColumn, SensitiveAttribute
from dpsynth.tabular.schema import TabularSchema
from dpsynth.validators import tabular_fidelity as fidelity
from dpsynth.validators.context import RESULT_COLUMNS, AuditConfig, AuditContext
from dpsynth.validators.tabular_encoding import encode, numeric_range

SCHEMA = TabularSchema(
    columns=[
        NumericColumn("age", lower=18, upper=90),
        NumericColumn("lab", lower=0, upper=10, nullable=True),
        CategoricalColumn("sex", categories=["F", "M"]),
        CategoricalColumn("smoker", categories=["no", "yes"], nullable=True),
        CategoricalColumn("outcome", categories=["no", "yes"]),
    ],
    target="outcome", positive="yes",
    sensitive=[SensitiveAttribute("sex"), SensitiveAttribute("smoker")],
)


def patients(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.uniform(18, 90, n)
    lab = rng.gamma(2.0, 1.0, n).clip(0, 10)
    lab[rng.random(n) < 0.1] = np.nan
    sex = rng.choice(["F", "M"], n)
    smoker = rng.choice(["no", "yes"], n, p=[0.7, 0.3]).astype(object)
    smoker[rng.random(n) < 0.05] = np.nan
    logit = -3 + 0.04 * (age - 18) + 0.5 * np.nan_to_num(lab, nan=2.0)
    outcome = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return pd.DataFrame({"age": age, "lab": lab, "sex": sex, "smoker": smoker, "outcome": outcome})


def context(train: pd.DataFrame, synthetic: pd.DataFrame, **config) -> AuditContext:
    frames = [SCHEMA.conform(f)[0] for f in (train, patients(200, 99), synthetic)]
    return AuditContext(SCHEMA, *frames, config=AuditConfig(**{"intersections": False, **config}))


def pick(table: pd.DataFrame, metric: str, *, attribute: str = "overall", group: str = "",
         feature: str = "") -> float:
    row = table[(table.metric == metric) & (table.attribute == attribute) & (table.group == group)
                & (table.feature == feature)]
    assert len(row) == 1, (metric, attribute, group, feature)
    return float(row.value.iloc[0])


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return patients(600, 1)


@pytest.fixture(scope="module")
def identical(train) -> pd.DataFrame:
    return fidelity.evaluate(context(train, train.copy()))


def test_identical_synthetic_has_zero_distances_and_chance_detection(identical):
    assert list(identical.columns) == RESULT_COLUMNS
    assert set(identical.validator) == {"fidelity"}
    overall = identical[identical.attribute == "overall"]
    for metric in ("tvd", "wasserstein", "missing_rate_difference", "mean_tvd", "mean_wasserstein",
                   "correlation_difference"):
        values = overall[overall.metric == metric].value
        assert len(values) and np.allclose(values, 0.0), metric
    assert pick(identical, "detection_auc") == pytest.approx(0.5, abs=0.05)
    assert set(overall[overall.metric == "tvd"].feature) == {"sex", "smoker", "outcome"}
    assert set(overall[overall.metric == "wasserstein"].feature) == {"age", "lab"}
    assert (identical[identical.metric == "detection_auc"].model == "detector").all()


def test_every_group_of_every_attribute_gets_rows(identical):
    groups = identical[identical.attribute != "overall"].groupby("attribute").group.unique()
    assert sorted(groups["sex"]) == ["F", "M"]
    assert list(groups["smoker"]) == ["no", "yes", "missing"]  # schema order, missing last
    for attribute, group in [("sex", "F"), ("smoker", "missing")]:
        rows = identical[(identical.attribute == attribute) & (identical.group == group)]
        assert {"tvd", "wasserstein", "mean_tvd", "correlation_difference", "detection_auc"} <= set(rows.metric)
        assert np.isfinite(pick(identical, "detection_auc", attribute=attribute, group=group))


def test_shifted_column_is_the_only_one_far_away(train):
    synthetic = patients(600, 2)
    synthetic["lab"] = (synthetic["lab"] + 4).clip(0, 10)
    synthetic["sex"] = "F"
    table = fidelity.evaluate(context(train, synthetic))
    assert pick(table, "wasserstein", feature="lab") > 0.3
    assert pick(table, "wasserstein", feature="age") < 0.05
    assert pick(table, "tvd", feature="sex") == pytest.approx((train.sex == "M").mean())
    assert pick(table, "tvd", feature="smoker") < 0.06
    assert pick(table, "detection_auc") > 0.9
    # within the women, lab is still shifted; men are absent from the synthetic data
    assert pick(table, "wasserstein", attribute="sex", group="F", feature="lab") > 0.3
    men = table[(table.attribute == "sex") & (table.group == "M")]
    assert (men.flag == "empty").all() and men.value.isna().all()


def test_small_groups_are_flagged_but_computed(train):
    synthetic = patients(600, 2)
    men = synthetic.index[synthetic.sex == "M"]
    synthetic = synthetic.drop(men[10:])  # 10 synthetic men left, min_group_size is 30
    table = fidelity.evaluate(context(train, synthetic))
    men_rows = table[(table.attribute == "sex") & (table.group == "M")]
    assert (men_rows.flag == "small_group").all()
    assert np.isfinite(pick(table, "detection_auc", attribute="sex", group="M"))
    assert (table[(table.attribute == "sex") & (table.group == "F")].flag == "").all()


def test_same_seed_same_table_and_row_cap(train):
    synthetic = patients(600, 2)
    a = fidelity.evaluate(context(train, synthetic, max_rows=150))
    b = fidelity.evaluate(context(train, synthetic, max_rows=150))
    pd.testing.assert_frame_equal(a, b)
    assert a[a.attribute == "overall"].n.eq(300).all()  # 150 real + 150 synthetic rows


def test_marginal_distances():
    assert fidelity.tvd(pd.Series(["a", np.nan]), pd.Series(["a", "a"])) == pytest.approx(0.5)
    assert fidelity.tvd(pd.Series(["a", "b"]), pd.Series(["b", "a"])) == 0.0
    assert fidelity.wasserstein_normalised(pd.Series([0.0, 0.0]), pd.Series([5.0, 5.0]), span=10) == 0.5
    assert np.isnan(fidelity.wasserstein_normalised(pd.Series([np.nan]), pd.Series([1.0]), span=1))


def test_association_difference_sees_a_broken_dependence(train):
    synthetic = train.copy()
    rng = np.random.default_rng(0)
    synthetic["outcome"] = rng.permutation(synthetic["outcome"].to_numpy())  # keeps the marginal
    ctx = context(train, synthetic)
    assert fidelity.correlation_difference(ctx.train, ctx.synthetic, ctx=ctx) > 0.03
    assert fidelity.correlation_difference(ctx.train, ctx.train, ctx=ctx) == 0.0


def test_encoding_follows_the_public_schema(train):
    ctx = context(train, train)
    real, = encode([ctx.train], schema=SCHEMA, missing="indicator")
    # age, lab, lab-missing, sex (F, M), smoker (no, yes, missing), outcome (no, yes)
    assert real.shape == (len(train), 3 + 2 + 3 + 2)
    assert np.nanmin(real) >= 0 and np.nanmax(real) <= 1 and not np.isnan(real).any()
    assert numeric_range(SCHEMA, "age") == (18.0, 90.0)

"""Memorisation signals: exact matches and distance to closest record, always flagged as
not privacy evidence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpsynth.schema import CategoricalColumn, NumericColumn, SensitiveAttribute
from dpsynth.tabular.schema import TabularSchema
from dpsynth.validators import tabular_memorisation as memorisation
from dpsynth.validators.context import RESULT_COLUMNS, AuditConfig, AuditContext

SCHEMA = TabularSchema(
    columns=[
        NumericColumn("age", lower=18, upper=90),
        NumericColumn("lab", lower=0, upper=10, nullable=True),
        CategoricalColumn("sex", categories=["F", "M"]),
        CategoricalColumn("smoker", categories=["no", "yes"], nullable=True),
        CategoricalColumn("outcome", categories=["no", "yes"]),
    ],
    target="outcome", positive="yes", sensitive=[SensitiveAttribute("sex")],
)


def patients(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lab = rng.gamma(2.0, 1.0, n).clip(0, 10)
    lab[rng.random(n) < 0.2] = np.nan
    smoker = rng.choice(["no", "yes"], n).astype(object)
    smoker[rng.random(n) < 0.2] = np.nan
    return pd.DataFrame({"age": rng.uniform(18, 90, n), "lab": lab, "sex": rng.choice(["F", "M"], n),
                         "smoker": smoker, "outcome": rng.choice(["no", "yes"], n)})


def evaluate(train: pd.DataFrame, synthetic: pd.DataFrame, **config) -> pd.DataFrame:
    frames = [SCHEMA.conform(f)[0] for f in (train, patients(400, 7), synthetic)]
    return memorisation.evaluate(AuditContext(SCHEMA, *frames, config=AuditConfig(**config)))


def value(table: pd.DataFrame, metric: str, source: str = "") -> float:
    row = table[(table.metric == metric) & (table.source == source)]
    assert len(row) == 1
    return float(row.value.iloc[0])


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return patients(800, 1)


def test_copied_training_data_is_caught(train):
    table = evaluate(train, train.sample(frac=1.0, random_state=0))  # shuffled copy, NaNs included
    assert list(table.columns) == RESULT_COLUMNS and set(table.validator) == {"memorisation"}
    assert value(table, "exact_match_share", "synthetic") == 1.0
    assert value(table, "exact_match_share", "holdout") == 0.0
    assert value(table, "dcr_median", "synthetic") == 0.0
    assert value(table, "dcr_ratio") == pytest.approx(0.0)
    assert value(table, "share_closer_than_holdout_p5", "synthetic") == 1.0


def test_fresh_sample_looks_like_the_holdout(train):
    table = evaluate(train, patients(800, 2))
    assert value(table, "exact_match_share", "synthetic") == 0.0
    assert 0.7 < value(table, "dcr_ratio") < 1.4
    assert value(table, "share_closer_than_holdout_p5", "synthetic") < 0.15


def test_partial_copy_and_row_cap(train):
    synthetic = pd.concat([train.iloc[:300], patients(300, 3)], ignore_index=True)
    table = evaluate(train, synthetic, max_rows=200)
    assert value(table, "exact_match_share", "synthetic") == 0.5  # counted on all rows
    dcr = table[table.metric == "dcr_median"]
    assert dcr.n.eq(200).all()


def test_every_row_carries_the_caveat(train):
    table = evaluate(train, patients(300, 4))
    assert (table.flag == "not_privacy_evidence").all()
    assert "not privacy evidence" in memorisation.__doc__
    assert "privacy card" in memorisation.__doc__


def test_missing_equals_missing_in_exact_matches():
    frame = pd.DataFrame({"a": [1.0, np.nan], "b": ["x", np.nan]}, dtype=object)
    other = pd.DataFrame({"a": [np.nan, 1.0], "b": [None, "y"]}, dtype=object)
    keys = set(memorisation.row_keys(frame))
    assert [k in keys for k in memorisation.row_keys(other)] == [True, False]


def test_same_seed_same_table(train):
    synthetic = patients(800, 5)
    pd.testing.assert_frame_equal(evaluate(train, synthetic, max_rows=300),
                                  evaluate(train, synthetic, max_rows=300))

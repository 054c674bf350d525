"""Series fidelity: per-channel distances and the window detector, overall and per subgroup."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from dpsynth.series.schema import SeriesData
from dpsynth.validators import series_fidelity
from dpsynth.validators.context import RESULT_COLUMNS, AuditConfig
from dpsynth.validators.series_fidelity import fold_groups, ks_statistic
from dpsynth.validators.series_suite import build_context
from tests.conftest import make_toy_series, make_toy_series_schema

SCHEMA = make_toy_series_schema()
TRAIN, HOLDOUT = make_toy_series(120, 1), make_toy_series(40, 2)
CHANNELS = ("pressure", "flow")
DISTANCES = ("wasserstein", "ks", "acf_distance", "psd_distance")


def fidelity(synthetic: SeriesData, **config) -> pd.DataFrame:
    ctx = build_context(train=TRAIN, holdout=HOLDOUT, synthetic=synthetic, schema=SCHEMA,
                        config=AuditConfig(**{"intersections": False, **config}))
    return series_fidelity.evaluate(ctx)


def value(table: pd.DataFrame, metric: str, feature: str = "", attribute: str = "overall", group: str = "") -> float:
    rows = table[(table.metric == metric) & (table.feature == feature) & (table.attribute == attribute)
                 & (table.group == group)]
    assert len(rows) == 1, (metric, feature, attribute, group)
    return float(rows.value.iloc[0])


def white_noise(data: SeriesData, seed: int = 5) -> SeriesData:
    rng = np.random.default_rng(seed)
    return SeriesData(data.static.copy(), {k: np.column_stack([rng.uniform(0, 40, len(v)), rng.uniform(-2, 2, len(v))])
                                           for k, v in data.signals.items()})


@pytest.fixture(scope="module")
def identical() -> pd.DataFrame:
    return fidelity(copy.deepcopy(TRAIN))


@pytest.fixture(scope="module")
def noise() -> pd.DataFrame:
    return fidelity(white_noise(TRAIN))


def test_identical_data_has_zero_distances_and_chance_detection(identical):
    assert list(identical.columns) == RESULT_COLUMNS and set(identical.validator) == {"fidelity"}
    for channel in CHANNELS:
        for metric in (*DISTANCES, "missing_rate_difference"):
            assert value(identical, metric, channel) == pytest.approx(0.0, abs=1e-9), (metric, channel)
    for metric in DISTANCES:
        assert value(identical, f"mean_{metric}") == pytest.approx(0.0, abs=1e-9)
    # every real window has its synthetic twin in the same fold: the detector cannot tell them apart
    assert value(identical, "detection_auc") == pytest.approx(0.5, abs=0.05)
    assert set(identical[identical.metric == "detection_auc"].model) == {"detector"}


def test_white_noise_is_far_and_detected(noise):
    for channel in CHANNELS:
        assert value(noise, "wasserstein", channel) > 0.05
        assert value(noise, "ks", channel) > 0.1
        assert value(noise, "acf_distance", channel) > 0.3
        assert value(noise, "psd_distance", channel) > 0.5
    assert value(noise, "detection_auc") > 0.95
    for group in ("female", "male"):
        assert value(noise, "detection_auc", attribute="sex", group=group) > 0.9


def test_independent_sample_of_the_same_process_is_close():
    table = fidelity(make_toy_series(120, 3))
    for channel in CHANNELS:
        for metric in DISTANCES:
            assert value(table, metric, channel) < 0.1, (metric, channel)
    assert value(table, "detection_auc") < 0.65


def test_a_level_shift_moves_the_marginal_only():
    shifted = SeriesData(TRAIN.static.copy(), {k: v + np.array([8.0, 0.0]) for k, v in TRAIN.signals.items()})
    table = fidelity(shifted)
    assert value(table, "wasserstein", "pressure") == pytest.approx(8 / 40, abs=1e-6)   # public range 0..40
    assert value(table, "ks", "pressure") > 0.3
    for metric in ("acf_distance", "psd_distance"):
        assert value(table, metric, "pressure") == pytest.approx(0.0, abs=1e-6)
    assert value(table, "wasserstein", "flow") == pytest.approx(0.0, abs=1e-9)
    assert value(table, "detection_auc") > 0.95


def test_rows_per_group_with_small_and_empty_groups_flagged():
    synthetic = copy.deepcopy(TRAIN)
    synthetic.static["sex"] = "female"                       # no synthetic man: "male" is empty
    table = fidelity(synthetic, min_group_size=60, intersections=True)
    assert set(table.attribute) == {"overall", "sex", "age_band", "sex×age_band"}
    bands = SCHEMA.static.group_labels(SCHEMA.static.conform(TRAIN.static)[0])["age_band"].astype(str)
    sizes = bands.value_counts().to_dict()
    assert min(sizes.values()) < 60 <= max(sizes.values())   # one small band, one large
    for group, n in sizes.items():
        rows = table[(table.attribute == "age_band") & (table.group == group)]
        assert (rows.n == 2 * n).all()
        assert set(rows.flag) == {"small_group" if n < 60 else ""}, group
    male = table[(table.attribute == "sex") & (table.group == "male")]
    assert set(male.flag) == {"empty"} and male.value.isna().all()
    female = table[(table.attribute == "sex") & (table.group == "female")]
    assert female.value.notna().any() and set(female.flag) <= {"", "small_group"}
    assert set(table[table.attribute == "sex×age_band"].group) >= {"female & 18-59", "male & 60+"}


def test_ks_statistic_and_fold_groups():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=300), rng.normal(0.3, 1.0, 200)
    assert ks_statistic(a, b) == pytest.approx(ks_2samp(a, b).statistic)
    assert np.isnan(ks_statistic(a, np.array([])))
    rows = np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0], [5.0, np.nan], [6.0, 6.0]])
    keys = np.array(["train:a", "train:a", "synthetic:x", "synthetic:y", "synthetic:z"], dtype=object)
    groups = fold_groups(keys, rows)
    assert groups[0] == groups[1] == groups[2]              # one subject, and an identical window
    assert len({groups[0], groups[3], groups[4]}) == 3

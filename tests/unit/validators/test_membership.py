"""Membership inference: the attacks find copies, find nothing in independent data, report per
group with small-group and few-non-member flags, check the card's DP bound, and run in all
three audits on their own features."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from dpsynth.validators import membership as mb
from dpsynth.validators import report_membership
from dpsynth.validators.context import AuditConfig, RESULT_COLUMNS
from dpsynth.validators.image_suite import build_context as image_context
from dpsynth.validators.image_suite import membership_features as image_features
from dpsynth.validators.image_suite import pooled_pixels
from dpsynth.validators.report import AuditReport
from dpsynth.validators.series_suite import build_context as series_context
from dpsynth.validators.series_suite import membership_features as series_features
from dpsynth.validators.tabular_suite import membership_features as tabular_features
from tests.conftest import make_toy_image_schema, make_toy_images, make_toy_series, make_toy_series_schema

CARD = {"epsilon": 1.0, "delta": 1e-5, "private": True}
TPR1, TPR01 = "tpr_at_fpr_0.01", "tpr_at_fpr_0.001"


def run(ctx, privacy=None) -> pd.DataFrame:
    return mb.evaluate(ctx, tabular_features(ctx), privacy=privacy)


def pick(table: pd.DataFrame, *, model: str, metric: str, source: str = "synthetic", attribute: str = "overall",
         group: str = "") -> pd.Series:
    sel = table[(table.model == model) & (table.metric == metric) & (table.source == source)
                & (table.attribute == attribute) & (table.group == group)]
    assert len(sel) == 1, (model, metric, source, attribute, group)
    return sel.iloc[0]


@pytest.fixture(scope="module")
def copied(make_context, patients) -> pd.DataFrame:
    """The release is the training table itself (patients(600, 1) is the context's train)."""
    return run(make_context(synthetic=patients(600, 1)), privacy=CARD)


@pytest.fixture(scope="module")
def independent(make_context) -> pd.DataFrame:
    """The release is drawn from the same population, independently of the training rows."""
    return run(make_context(), privacy=CARD)


def test_rows_are_tidy(copied):
    assert list(copied.columns) == RESULT_COLUMNS and set(copied.validator) == {"membership"}
    assert set(copied.model) == set(mb.ATTACKS) | {""}
    assert set(copied.source) == {"synthetic", "control", ""}
    overall = pick(copied, model="domias", metric="auc")
    assert overall.feature == "members=300,nonmembers=300" and overall.n == 600


def test_a_copy_of_the_training_rows_is_found(copied):
    for attack in ("distance", "distance_ratio"):
        assert pick(copied, model=attack, metric="auc").value > 0.98
    # 5 of the 300 non-members equal some train row (coarse toy columns): tied with the members,
    # so at 1 % FPR the best test catches 3/5 of them (see test_bootstrap), not all
    assert pick(copied, model="distance", metric=TPR1).value == pytest.approx(0.6)
    domias = pick(copied, model="domias", metric="auc")
    assert domias.ci_low > 0.5  # weaker on exact copies, but significant


def test_a_copy_of_continuous_records_is_found_at_the_lowest_fpr():
    rng = np.random.default_rng(0)
    train, holdout = rng.normal(size=(1500, 6)), rng.normal(size=(2400, 6))
    table = mb.membership_inference(mb.MembershipFeatures(train, holdout, train.copy()), train_groups={},
                                    holdout_groups={}, config=AuditConfig(n_bootstrap=20), rng=rng)
    for attack in ("distance", "distance_ratio"):
        row = pick(table, model=attack, metric=TPR01)
        assert row.value == 1.0 and row.ci_low == 1.0 and row.flag == ""  # 1,200 non-members: enough
        assert row.feature == "members=1200,nonmembers=1200"
    assert pick(table, model="domias", metric="auc").value > 0.6


def test_independent_synthetic_data_reveals_nothing(independent):
    for attack in mb.ATTACKS:
        auc = pick(independent, model=attack, metric="auc")
        assert abs(auc.value - 0.5) < 0.07, attack
        assert auc.ci_low <= 0.5 <= auc.ci_high, attack
        assert pick(independent, model=attack, metric=TPR1).value < 0.1, attack


def test_the_noisy_copy_control_states_the_attacks_power(independent):
    for attack in ("distance", "distance_ratio"):
        assert pick(independent, model=attack, metric="auc", source="control").ci_low > 0.9
    assert pick(independent, model="distance", metric=TPR1, source="control").value > 0.1
    assert pick(independent, model="domias", metric="auc", source="control").ci_low > 0.5
    control = independent[independent.source == "control"]
    assert set(control.attribute) == {"overall"}  # the control is not broken down by group


def test_per_group_rows_and_small_groups(independent):
    race = independent[(independent.attribute == "race") & (independent.model == "distance")]
    assert set(race.group) == {"white", "black", "asian", ""}
    asian = pick(independent, model="distance", metric="auc", attribute="race", group="asian")
    white = pick(independent, model="distance", metric="auc", attribute="race", group="white")
    assert "small_group" in asian.flag.split(";") and "small_group" not in white.flag.split(";")
    gap = pick(independent, model="distance", metric="auc_gap", attribute="race")
    assert "excluded_small:asian" in gap.flag and math.isfinite(gap.value) and gap.value >= 0
    # the groups' members and non-members add up to the overall ones
    counts = race[(race.metric == "auc") & (race.group != "")].feature.str.extract(
        r"members=(\d+),nonmembers=(\d+)").astype(int).sum()
    assert tuple(counts) == (300, 300)
    assert {"sex", "race", "sex×race"} <= set(independent.attribute)


def test_tpr_at_a_low_fpr_needs_enough_non_members(independent):
    assert "few_nonmembers" in pick(independent, model="domias", metric=TPR01).flag  # 300 < 1,000
    assert "few_nonmembers" not in pick(independent, model="domias", metric=TPR1).flag  # 300 >= 100
    assert pick(independent, model="domias", metric="auc").flag == ""


def test_results_above_the_cards_bound_contradict_it(copied, independent):
    bound = copied[copied.metric == f"dp_bound_{TPR1}"].value.iloc[0]
    assert bound == pytest.approx(math.e * 0.01 + 1e-5)
    flagged = copied[copied.flag.str.contains("contradicts_card")]
    assert {(r.model, r.metric) for r in flagged.itertuples() if r.attribute == "overall"} >= {
        ("distance", "auc"), ("distance", TPR1), ("distance_ratio", "auc")}
    assert not flagged.flag.str.contains("small_group|few_nonmembers").any()  # too few records to tell
    assert set(flagged.source) == {"synthetic"}  # the control is not the release: never flagged
    assert not independent.flag.str.contains("contradicts_card").any()


def test_no_bound_without_a_dp_card(make_context):
    for privacy in (None, {"epsilon": "inf", "private": False}, {"epsilon": 5.0, "private": False}):
        table = run(make_context(n=200), privacy=privacy)
        assert not table.metric.str.startswith("dp_bound").any()


def test_dp_bounds():
    assert mb.dp_tpr_bound(0.01, 1.0, 1e-5) == pytest.approx(math.e * 0.01 + 1e-5)
    assert mb.dp_tpr_bound(0.5, 10.0, 1e-5) == pytest.approx(1 - math.exp(-10) * (0.5 - 1e-5))
    assert mb.dp_auc_bound(1e-9, 0.0) == pytest.approx(0.5, abs=1e-6)   # ε → 0: no attack beats a guess
    assert mb.dp_auc_bound(20.0, 0.0) == pytest.approx(1.0, abs=1e-4)
    assert 0.5 < mb.dp_auc_bound(1.0, 1e-5) < mb.dp_auc_bound(2.0, 1e-5) < 1
    card = mb.CardBound.of({"epsilon": 1.0})  # no δ: pure ε-DP
    assert card.nominal()["auc"] == pytest.approx(mb.dp_auc_bound(1.0, 0.0))
    # a TPR is checked at the FPR's upper confidence limit: 1 false positive in 1,000 may be 0.47 %
    assert card.limit(TPR01, 1000, 0.95) == pytest.approx(mb.dp_tpr_bound(0.004735, 1.0, 0.0), rel=1e-3)
    assert card.limit(TPR01, 10**9, 0.95) == pytest.approx(card.nominal()[TPR01], rel=1e-2)
    assert mb.CardBound.of({"epsilon": "inf"}) is None and mb.CardBound.of(None) is None


def test_same_seed_same_rows_and_the_seed_matters(make_context):
    a, b = run(make_context(n=200)), run(make_context(n=200))
    pd.testing.assert_frame_equal(a, b)
    c = run(make_context(n=200, random_state=1))
    assert not np.allclose(a.value.to_numpy(float), c.value.to_numpy(float), equal_nan=True)


def test_a_units_rows_never_straddle_the_split():
    units = np.repeat(np.arange(50), 3)
    split = mb._split(400, len(units), 400, units, None, np.random.default_rng(0))
    assert not set(units[split.nonmembers]) & set(units[split.reference])
    assert len(split.members) == len(split.nonmembers) and len(split.reference) >= 60


def test_too_few_rows_give_flagged_nan_rows():
    x = np.random.default_rng(0).normal(size=(3, 4))
    table = mb.membership_inference(mb.MembershipFeatures(x, x[:1], x), train_groups={}, holdout_groups={},
                                    config=AuditConfig(), rng=np.random.default_rng(0))
    assert len(table) and table.value.isna().all() and set(table.flag) == {"too_few_rows"}


@pytest.mark.parametrize(("features", "message"), [
    (mb.MembershipFeatures(np.zeros((5, 3)), np.zeros((5, 2)), np.zeros((5, 3))), "same columns"),
    (mb.MembershipFeatures(np.full((5, 3), np.inf), np.zeros((5, 3)), np.zeros((5, 3))),
     r"infinite values.*\[0, 1, 2\]"),
    (mb.MembershipFeatures(np.zeros(5), np.zeros((5, 3)), np.zeros((5, 3))), "2-D numeric array"),
])
def test_bad_features_are_refused_with_the_fix(features, message):
    with pytest.raises(ValueError, match=message):
        mb.membership_inference(features, train_groups={}, holdout_groups={}, config=AuditConfig(),
                                rng=np.random.default_rng(0))


def test_group_labels_must_match_the_rows():
    x = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r"train labels for 'sex' must hold one entry per train row \(5\); got 4"):
        mb.membership_inference(mb.MembershipFeatures(x, x, x), train_groups={"sex": np.zeros(4)},
                                holdout_groups={"sex": np.zeros(5)}, config=AuditConfig(),
                                rng=np.random.default_rng(0))


def test_missing_feature_values_are_allowed(make_context):
    ctx = make_context(n=200)
    features = tabular_features(ctx)
    with_nan = mb.MembershipFeatures(np.where(features.train > 0.9, np.nan, features.train), features.holdout,
                                     features.synthetic)
    table = mb.evaluate(ctx, with_nan)
    assert table[table.metric == "auc"].value.notna().any()


# ------------------------------------------------------------------- the three modalities
def test_tabular_features_follow_the_schema_encoding(make_context):
    ctx = make_context(n=200)
    features = tabular_features(ctx)
    assert features.train.shape[0] == 200 and features.train.shape[1] == features.synthetic.shape[1]
    assert features.holdout_units is None and np.isfinite(features.train).all()


def test_series_audit_features_and_rows():
    schema = make_toy_series_schema()
    ctx = series_context(train=make_toy_series(80, 1), holdout=make_toy_series(80, 2),
                         synthetic=make_toy_series(80, 3), schema=schema,
                         config=AuditConfig(n_bootstrap=20, intersections=False))
    features = series_features(ctx)
    assert features.train.shape[0] == 80 and features.train.shape[1] > 20
    table = mb.evaluate(ctx, features)
    assert {"overall", "sex", "age_band"} <= set(table.attribute)
    assert table[(table.metric == "auc") & (table.attribute == "overall")].value.notna().all()


def test_image_audit_features_and_rows():
    ctx = image_context(train=make_toy_images(40, 1), holdout=make_toy_images(40, 2),
                        synthetic=make_toy_images(40, 3), schema=make_toy_image_schema(),
                        config=AuditConfig(n_bootstrap=20, intersections=False))
    features = image_features(ctx)
    assert features.train.shape == (len(ctx.train), 8 * 8 + features.train.shape[1] - 64)
    assert list(features.holdout_units) == list(ctx.units("holdout"))
    table = mb.evaluate(ctx, features)
    assert {"overall", "sex", "age_band"} <= set(table.attribute)


def test_pooled_pixels_are_adaptive_average_pooling():
    images = np.random.default_rng(0).random((3, 13, 10, 2)).astype(np.float32)
    expected = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(images).permute(0, 3, 1, 2), (8, 8))
    expected = expected.permute(0, 2, 3, 1).reshape(3, -1).numpy()
    np.testing.assert_allclose(pooled_pixels(images), expected, rtol=1e-5)
    assert pooled_pixels(images[:, :4, :4]).shape == (3, 4 * 4 * 2)  # smaller than the grid: every pixel


# ---------------------------------------------------------------------------- the report
def test_report_section_states_power_bound_and_exposure(copied):
    report = AuditReport(table=copied, metadata={"epsilon": 1.0, "delta": 1e-5, "membership_features": "toy"})
    text = report.to_markdown()
    section = text[text.index("## Membership inference"):]
    assert "not prove privacy" in section and "**Power.**" in section
    assert "noisy copies of every train record" in section
    assert "DP bound from the privacy card" in section and "STOP (docs/privacy.md, rule 10)" in section
    assert "### Membership exposure by race" in section and "asian" in section
    assert "Membership-inference AUC (strongest attack)" in text


def test_report_without_a_contradiction_has_no_stop(independent):
    text = "\n".join(report_membership.section(independent, {}))
    assert "STOP" not in text and "DP bound from the privacy card" in text

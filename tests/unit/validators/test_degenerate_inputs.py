"""Degenerate inputs through the real `audit` (tables, series, images): each one finishes, writes
its report and says what it could not judge with a flag, never a traceback or a silent number."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from dpsynth.images.schema import ImageData
from dpsynth.series.schema import SeriesData
from dpsynth.validators import audit, image_models, series_models
from dpsynth.validators import bootstrap as bs
from dpsynth.validators.context import AuditConfig
from dpsynth.validators.detection import grouped_detection_auc
from dpsynth.validators.suite import AuditInputError
from tests.conftest import (
    make_toy_frame, make_toy_image_schema, make_toy_images, make_toy_schema, make_toy_series,
    make_toy_series_schema,
)

TABLE_SCHEMA = make_toy_schema()
SERIES_SCHEMA = make_toy_series_schema()
IMAGE_SCHEMA = make_toy_image_schema()
FAST = AuditConfig(n_bootstrap=30, intersections=False)
HOLDOUT_FLAGS = {"small_holdout", "few_holdout_positives", "few_holdout_negatives"}


@pytest.fixture(autouse=True)
def _short_cnn_training(monkeypatch):
    """The series and image CNNs train for 20 steps instead of 300: these tests are about what
    the audit does with odd inputs, not about how well the CNNs learn."""
    monkeypatch.setattr(series_models, "CNN_STEPS", 20)
    monkeypatch.setattr(image_models, "CNN_STEPS", 20)


def flags(rows: pd.DataFrame) -> set[str]:
    return {f for cell in rows.flag for f in cell.split(";") if f}


def run(tmp_path, **inputs):
    """The real audit on ``inputs``, written to ``tmp_path``; returns (table, report.md text,
    the UserWarnings raised). Checks what must hold for any input: the files are there, every
    NaN value and every undefined interval of a defined value says why (a flag), and every
    interval contains its estimate."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = audit(config=inputs.pop("config", FAST), progress=False, **inputs)
        paths = report.write(tmp_path)
    for key in ("json", "csv", "markdown"):
        assert paths[key].is_file(), key
    text = paths["markdown"].read_text()
    assert "not differentially private" in text.splitlines()[0]
    t = report.table
    silent = t[t.value.isna() & (t.flag == "")]
    assert silent.empty, silent[["validator", "model", "source", "metric", "attribute", "group", "feature"]]
    assert_intervals_contain_estimates(t)
    return t, text, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def assert_intervals_contain_estimates(t: pd.DataFrame) -> None:
    has = t.ci_low.notna() & t.value.notna()
    outside = t[has & ~((t.ci_low <= t.value) & (t.value <= t.ci_high))]
    assert outside.empty, outside[["validator", "model", "source", "metric", "attribute", "group", "value",
                                   "ci_low", "ci_high"]]


def tables(**changes) -> dict:
    return {"train": make_toy_frame(400, 1), "holdout": make_toy_frame(300, 2),
            "synthetic": make_toy_frame(400, 3), "schema": TABLE_SCHEMA, **changes}


def two_class_head(frame: pd.DataFrame, n: int, target: str, positive: str) -> pd.DataFrame:
    """The first ``n`` rows of ``frame`` holding both target values (the audit refuses one class)."""
    positives = frame[frame[target] == positive].head(2)
    others = frame[frame[target] != positive].head(n - len(positives))
    return pd.concat([positives, others]).reset_index(drop=True)


# ------------------------------------------------------------------------------- tables
def test_one_class_synthetic_table(tmp_path):
    t, _, caught = run(tmp_path, **tables(synthetic=make_toy_frame(100, 3).assign(outcome="no")))
    assert any("single_class_synthetic" in w for w in caught)
    tstr = t[(t.validator == "utility") & (t.source == "TSTR")]
    assert tstr.value.isna().all() and (tstr.flag.str.split(";").map(lambda f: "single_class_synthetic" in f)).all()
    trtr = t[(t.validator == "utility") & (t.source == "TRTR")]
    assert trtr.value.notna().all()


def test_twenty_row_synthetic_table(tmp_path):
    t, _, _ = run(tmp_path, **tables(synthetic=make_toy_frame(20, 3)))
    fidelity = t[(t.validator == "fidelity") & (t.group != "")]
    assert {"small_group"} <= flags(fidelity)
    assert t[(t.validator == "utility") & (t.source == "TSTR")].value.notna().all()


def test_group_empty_in_the_synthetic_table(tmp_path):
    synthetic = make_toy_frame(400, 3)
    t, text, _ = run(tmp_path, **tables(synthetic=synthetic[synthetic.race != "black"]))
    black = t[(t.attribute == "race") & (t.group == "black")]
    assert (black[black.validator == "representation"].flag == "absent_in_synthetic").all()
    fidelity = black[black.validator == "fidelity"]
    assert fidelity.value.isna().all() and (fidelity.flag == "empty").all()
    assert "| race | black |" in text.split("## Small or missing groups")[1]


def test_five_row_holdout_is_flagged_as_too_small_to_judge(tmp_path):
    holdout = two_class_head(make_toy_frame(300, 2), 5, "outcome", "yes")
    t, text, _ = run(tmp_path, **tables(holdout=holdout))
    utility = t[t.validator == "utility"]
    assert len(utility) and utility.flag.map(lambda f: HOLDOUT_FLAGS <= set(f.split(";"))).all()
    membership = t[(t.validator == "membership") & (t.attribute == "overall") & t.metric.isin(["auc"])]
    assert membership.flag.str.contains("small_holdout").all()
    memorisation = t[(t.validator == "memorisation") & (t.source == "holdout")]
    assert memorisation.flag.str.contains("small_holdout").all()
    assert "**The holdout is too small to judge**" in text
    headline = text.split("## Headline")[1].split("##")[0]
    assert all("small_holdout" in line for line in headline.splitlines() if line.startswith("| AUROC |"))


def test_a_large_holdout_is_not_flagged(tmp_path):
    t, text, _ = run(tmp_path, **tables(config=AuditConfig(n_bootstrap=30, intersections=False,
                                                           min_group_size=10)))
    assert not flags(t) & HOLDOUT_FLAGS and "too small to judge" not in text


@pytest.mark.parametrize("where", ["synthetic", "both"])
def test_all_missing_column_inside_a_subgroup(tmp_path, where):
    """A nullable column (``lab``) missing in every row of one group of a 100-row synthetic table
    and, with ``both``, of the real train rows too: the detector once crashed on that group."""
    synthetic, train = make_toy_frame(100, 3), make_toy_frame(400, 1)
    synthetic.loc[synthetic.race.isin(["asian", "other"]), "lab"] = np.nan
    if where == "both":
        train.loc[train.race.isin(["asian", "other"]), "lab"] = np.nan
    t, _, _ = run(tmp_path, **tables(train=train, synthetic=synthetic))
    other = t[(t.validator == "fidelity") & (t.attribute == "race") & (t.group == "other")]
    wasserstein = other[(other.metric == "wasserstein") & (other.feature == "lab")].iloc[0]
    assert np.isnan(wasserstein.value) and "no_observed_values" in wasserstein.flag
    assert "excluded_undefined:lab" in other[other.metric == "mean_wasserstein"].iloc[0].flag
    detection = other[other.metric == "detection_auc"].iloc[0]
    assert 0 <= detection.value <= 1


def test_holdout_missing_a_group_warns_and_flags(tmp_path):
    holdout = make_toy_frame(300, 2)
    t, text, caught = run(tmp_path, **tables(holdout=holdout[holdout.race != "black"]))
    assert any("race=black" in w and "absent_in_holdout" in w for w in caught), caught
    black = t[(t.validator == "fairness") & (t.attribute == "race") & (t.group == "black")]
    assert len(black) and black.value.isna().all() and (black.flag == "absent_in_holdout").all()
    assert (black.n == 0).all()
    between = t[(t.validator == "fairness") & (t.attribute == "race") & (t.group == "")]
    assert between.flag.str.contains("absent_in_holdout:black").all()
    assert "**Groups missing from the holdout**: race=black" in text
    assert "| race | black | absent_in_holdout" in text


def test_a_one_class_holdout_is_still_refused_with_a_clear_message():
    holdout = make_toy_frame(300, 2).assign(outcome="no")
    with pytest.raises(AuditInputError, match="only one target class"):
        audit(**tables(holdout=holdout), config=FAST, progress=False)


def test_detector_leaves_out_a_feature_with_no_observed_value():
    """scikit-learn's histogram binning fails on an all-NaN column (the old crash)."""
    rng = np.random.default_rng(0)
    x = rng.random((60, 3))
    x[:, 1] = np.nan
    y = np.r_[np.zeros(30, int), np.ones(30, int)]
    auc = grouped_detection_auc(x, y, np.arange(60), folds=3, seed=0)
    assert 0 <= auc <= 1
    assert grouped_detection_auc(np.full((60, 2), np.nan), y, np.arange(60), folds=3, seed=0) == 0.5


# ------------------------------------------------------------------------------- series
def series_subset(data: SeriesData, mask: np.ndarray) -> SeriesData:
    static = data.static[mask].reset_index(drop=True)
    return SeriesData(static, {s: data.signals[s] for s in static["subject"]})


def series(**changes) -> dict:
    return {"train": make_toy_series(80, 1), "holdout": make_toy_series(60, 2),
            "synthetic": make_toy_series(80, 3), "schema": SERIES_SCHEMA, **changes}


def blank_channel(data: SeriesData, sex: str, channel: int) -> SeriesData:
    """``data`` with one channel missing throughout the signals of one sex."""
    sex_of = data.static.set_index("subject")["sex"]
    signals = {}
    for subject, signal in data.signals.items():
        signal = signal.copy()
        if sex_of[subject] == sex:
            signal[:, channel] = np.nan
        signals[subject] = signal
    return SeriesData(data.static, signals)


def test_series_one_class_synthetic(tmp_path):
    synthetic = make_toy_series(80, 3)
    t, _, caught = run(tmp_path, **series(synthetic=SeriesData(synthetic.static.assign(label="normal"),
                                                               synthetic.signals)))
    assert any("single_class_synthetic" in w for w in caught)
    assert t[(t.validator == "utility") & (t.source == "TSTR")].value.isna().all()


def test_series_twenty_subject_synthetic_and_a_group_it_lacks(tmp_path):
    synthetic = make_toy_series(20, 3)
    synthetic = series_subset(synthetic, (synthetic.static.sex == "female").to_numpy())
    t, _, _ = run(tmp_path, **series(synthetic=synthetic))
    male = t[(t.attribute == "sex") & (t.group == "male")]
    assert (male[male.validator == "representation"].flag == "absent_in_synthetic").all()
    assert (male[male.validator == "fidelity"].flag == "empty").all()


def test_series_five_subject_holdout(tmp_path):
    holdout = make_toy_series(60, 2)
    keep = two_class_head(holdout.static, 5, "label", "abnormal")["subject"]
    t, text, _ = run(tmp_path, **series(holdout=series_subset(holdout, holdout.static.subject.isin(keep).to_numpy())))
    utility = t[t.validator == "utility"]
    assert utility.flag.map(lambda f: HOLDOUT_FLAGS <= set(f.split(";"))).all()
    assert "too small to judge" in text


def test_series_channel_missing_in_a_subgroup(tmp_path):
    train, synthetic = blank_channel(make_toy_series(80, 1), "female", 1), blank_channel(make_toy_series(80, 3),
                                                                                         "female", 1)
    t, _, _ = run(tmp_path, **series(train=train, synthetic=synthetic))
    female = t[(t.validator == "fidelity") & (t.attribute == "sex") & (t.group == "female")]
    flow = female[female.feature == "flow"]
    wasserstein = flow[flow.metric == "wasserstein"].iloc[0]
    assert np.isnan(wasserstein.value) and "no_observed_values" in wasserstein.flag
    assert "excluded_undefined:flow" in female[female.metric == "mean_wasserstein"].iloc[0].flag


def test_series_holdout_missing_a_group(tmp_path):
    holdout = make_toy_series(60, 2)
    t, _, caught = run(tmp_path, **series(holdout=series_subset(holdout, (holdout.static.sex == "female").to_numpy())))
    assert any("sex=male" in w for w in caught)
    male = t[(t.validator == "fairness") & (t.attribute == "sex") & (t.group == "male")]
    assert len(male) and (male.flag == "absent_in_holdout").all()


# ------------------------------------------------------------------------------- images
def image_subset(data: ImageData, mask: np.ndarray) -> ImageData:
    return ImageData(data.static[mask].reset_index(drop=True), data.images[mask])


def images(**changes) -> dict:
    return {"train": make_toy_images(40, 1), "holdout": make_toy_images(30, 2),
            "synthetic": make_toy_images(40, 3), "schema": IMAGE_SCHEMA, "device": "cpu", **changes}


def test_images_one_class_synthetic(tmp_path):
    synthetic = make_toy_images(40, 3)
    t, _, caught = run(tmp_path, **images(synthetic=ImageData(synthetic.static.assign(label="clear"),
                                                              synthetic.images)))
    assert any("single_class_synthetic" in w for w in caught)
    assert t[(t.validator == "utility") & (t.source == "TSTR")].value.isna().all()


def test_images_twenty_image_synthetic_without_men(tmp_path):
    synthetic = make_toy_images(40, 3)
    keep = (synthetic.static.sex == "female").to_numpy() & (np.cumsum(synthetic.static.sex == "female") <= 20)
    t, _, _ = run(tmp_path, **images(synthetic=image_subset(synthetic, keep)))
    male = t[(t.attribute == "sex") & (t.group == "male")]
    assert (male[male.validator == "representation"].flag == "absent_in_synthetic").all()


def test_images_five_image_holdout(tmp_path):
    holdout = make_toy_images(30, 2)
    keep = two_class_head(holdout.static, 5, "label", "lesion")["image"]
    t, text, _ = run(tmp_path, **images(holdout=image_subset(holdout, holdout.static.image.isin(keep).to_numpy())))
    assert t[t.validator == "utility"].flag.map(lambda f: HOLDOUT_FLAGS <= set(f.split(";"))).all()
    assert "too small to judge" in text


def test_images_holdout_missing_a_group(tmp_path):
    holdout = make_toy_images(30, 2)
    t, _, caught = run(tmp_path, **images(holdout=image_subset(holdout, (holdout.static.sex == "female").to_numpy())))
    assert any("sex=male" in w for w in caught)
    male = t[(t.validator == "fairness") & (t.attribute == "sex") & (t.group == "male")]
    assert len(male) and (male.flag == "absent_in_holdout").all()


# ------------------------------------------------------------------- interval containment
def test_an_equalized_odds_gap_of_zero_no_longer_gets_an_interval_above_it():
    """Two groups with identical TPR and FPR: the gap is 0, but on resamples the group rates
    wobble apart and the gap is positive on nearly every one, so the old percentile interval
    lay entirely above 0. The reported interval now reaches the estimate and says so."""
    y = np.tile([1, 1, 0, 0], 20)
    score = np.tile([0.9, 0.1, 0.9, 0.1], 20)   # TPR = FPR = 0.5 in both groups
    group = np.repeat(["a", "b"], 40)
    rng = np.random.default_rng(0)

    def gap(weights):
        rates = [[kernel(y[group == g], score[group == g], weights[:, group == g])
                  for kernel in (bs.true_positive_rate, bs.false_positive_rate)] for g in ("a", "b")]
        return np.maximum(np.abs(rates[0][0] - rates[1][0]), np.abs(rates[0][1] - rates[1][1]))

    plain = bs.resample_weights(len(y), n_bootstrap=200, rng=rng)
    old = bs.Replicated(float(gap(np.ones((1, len(y))))[0]), gap(plain))
    low, high = np.quantile(old.replicates[np.isfinite(old.replicates)], [0.025, 0.975])
    assert old.value == 0 and low > 0   # the old interval excluded its own estimate
    strata = np.char.add(group, y.astype(str))
    new = bs.Replicated(old.value, gap(bs.resample_weights(len(y), n_bootstrap=200, rng=rng, strata=strata)))
    fields = new.fields(confidence=0.95)
    assert fields["ci_low"] <= fields["value"] <= fields["ci_high"]
    assert fields["flag"] == bs.INTERVAL_WIDENED


def test_stratified_resamples_never_lose_a_class():
    y = np.r_[np.ones(2, int), np.zeros(10, int)]
    score = np.linspace(0.9, 0.1, 12)
    rng = np.random.default_rng(0)
    plain = bs.replicate(bs.auroc, y, score, weights=bs.resample_weights(12, n_bootstrap=200, rng=rng))
    assert plain.n_valid < 190   # ~10 % of plain resamples draw no positive row and were dropped
    weights = bs.resample_weights(12, n_bootstrap=200, rng=rng, strata=y)
    assert (weights[:, y == 1].sum(axis=1) == 2).all() and (weights.sum(axis=1) == 12).all()
    assert bs.replicate(bs.auroc, y, score, weights=weights).n_valid == 200


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_interval_of_the_audit_contains_its_estimate(tmp_path, seed):
    """Small holdouts and groups of 10+ rows: where the old audit reported intervals such as
    EOD 0.027 [0.043, 0.474] or an equalized-odds ratio 0.944 [0.305, 0.929]."""
    config = AuditConfig(n_bootstrap=200, min_group_size=10, random_state=seed)
    t, _, _ = run(tmp_path, train=make_toy_frame(400, 10 + seed), holdout=make_toy_frame(60, 20 + seed),
                  synthetic=make_toy_frame(200, 30 + seed), schema=TABLE_SCHEMA, config=config)
    widened = t[t.flag.str.contains(bs.INTERVAL_WIDENED)]
    assert widened.metric.isin(["equalized_odds_difference", "equalized_odds_ratio", "auroc_gap", "auc_gap",
                                "demographic_parity_difference", "worst_group_auroc", "ece"]).all()

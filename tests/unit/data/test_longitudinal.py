"""The longitudinal EHR data set (CSL-1 via SurvSet): grid placement, loader, split, schema, one tiny fit.

The binning tests use small hand-made visit tables and run without SurvSet; the rest skip
cleanly when the optional package SurvSet is not installed.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest

from dpsynth import registry
from dpsynth.data import longitudinal as mod
from dpsynth.data.longitudinal import (
    CHANNELS,
    GRID_LENGTH,
    GRID_STEP,
    OUTCOME,
    SUBJECT,
    csl_schema,
    grid_bins,
    load_csl,
    load_csl_visits,
    split_csl,
    visits_to_grid,
)
from dpsynth.pipeline import load_schema
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.series.schema import SeriesData, SeriesSchema

N_SUBJECTS = 446
N_VISITS = 2481


@pytest.fixture(scope="module")
def data() -> SeriesData:
    pytest.importorskip("SurvSet")
    return load_csl()


@pytest.fixture(scope="module")
def visits() -> pd.DataFrame:
    pytest.importorskip("SurvSet")
    return load_csl_visits()


@pytest.fixture(scope="module")
def schema() -> SeriesSchema:
    return csl_schema()


def _grid(frame: pd.DataFrame, **kwargs) -> dict[str, np.ndarray]:
    return visits_to_grid(frame, subject="id", time="t", channels=["x", "y"], **kwargs)


# ------------------------------------------------------------------ the grid (no SurvSet)
def test_grid_bins_are_centred_on_the_scheduled_times():
    times = [0.0, 0.12, 0.125, 0.2, 0.25, 0.374, 0.375, 7.87, 7.875, -0.1, -0.13, 50.0]
    expected = [0, 0, 1, 1, 1, 1, 2, 31, -1, 0, -1, -1]  # step 0.25 y, 32 samples; -1 = off the grid
    assert grid_bins(times).tolist() == expected
    assert grid_bins([0.9, 1.1], step=1.0, length=2).tolist() == [1, 1]
    assert grid_bins([1.5], step=1.0, length=2).tolist() == [-1]


def test_visits_land_in_their_bins_with_nan_elsewhere_never_filled():
    frame = pd.DataFrame({"id": ["a", "a", "b"], "t": [0.0, 0.5, 0.75], "x": [1.0, 5.0, 7.0],
                          "y": [10.0, 50.0, 70.0]})
    grid = _grid(frame, length=6)
    assert list(grid) == ["a", "b"]
    assert all(g.shape == (6, 2) and g.dtype == np.float64 for g in grid.values())
    np.testing.assert_array_equal(grid["a"][[0, 2]], [[1.0, 10.0], [5.0, 50.0]])
    assert np.isnan(grid["a"][[1, 3, 4, 5]]).all()  # between and after visits: NaN, not carried forward
    np.testing.assert_array_equal(grid["b"][3], [7.0, 70.0])
    assert np.isnan(np.delete(grid["b"], 3, axis=0)).all()  # before the first visit: NaN, not back-filled


def test_several_visits_in_one_bin_give_their_mean_of_observed_values():
    frame = pd.DataFrame({"id": [1, 1, 1, 2], "t": [0.0, 0.1, 0.05, 0.3],
                          "x": [1.0, 3.0, 8.0, 4.0], "y": [10.0, np.nan, 20.0, np.nan]})
    grid = _grid(frame, length=4)
    assert list(grid) == ["1", "2"]  # ids as canonical text, like the schema's subject ids
    np.testing.assert_allclose(grid["1"][0], [4.0, 15.0])  # x: (1+3+8)/3; y: NaN skipped, (10+20)/2
    assert np.isnan(grid["1"][1:]).all()
    assert grid["2"][1, 0] == 4.0 and np.isnan(grid["2"][1, 1])  # a channel not measured stays NaN


def test_visits_off_the_grid_are_left_out_and_a_subject_keeps_its_row():
    frame = pd.DataFrame({"id": ["a", "a", "c"], "t": [0.0, 9.0, 20.0], "x": [1.0, 2.0, 3.0],
                          "y": [1.0, 2.0, 3.0]})
    grid = _grid(frame, step=1.0, length=4)
    assert grid["a"][0].tolist() == [1.0, 1.0] and np.isnan(grid["a"][1:]).all()
    assert np.isnan(grid["c"]).all()  # kept (all NaN): the caller decides


def test_grid_input_errors_name_the_column():
    good = pd.DataFrame({"id": ["a"], "t": [0.0], "x": [1.0], "y": [2.0]})
    with pytest.raises(ValueError, match=r"missing column\(s\) \['y'\]"):
        _grid(good.drop(columns="y"))
    with pytest.raises(ValueError, match="time column 't'"):
        _grid(good.assign(t=[np.nan]))
    with pytest.raises(ValueError, match="channel column 'x'"):
        _grid(good.assign(x=["high"]))
    with pytest.raises(ValueError, match="subject column 'id'"):
        _grid(good.assign(id=[None]))
    for bad in (dict(step=0.0), dict(step=True), dict(length=0), dict(length=2.5)):
        with pytest.raises(ValueError, match="step|length"):
            _grid(good, **bad)


# ---------------------------------------------------------------------- the real data
def test_loader_shape_columns_and_unique_ids(data):
    static = data.static
    assert list(static.columns) == list(mod.STATIC_COLUMNS)
    assert len(static) == N_SUBJECTS and static[SUBJECT].is_unique
    assert static[SUBJECT].str.fullmatch(r"csl\d{3}").all()
    assert list(data.signals) == static[SUBJECT].tolist()
    assert all(s.shape == (GRID_LENGTH, len(CHANNELS)) and s.dtype == np.float64 for s in data.signals.values())
    assert all(not np.isnan(s[0, 0]) for s in data.signals.values())  # every patient has an entry visit
    assert static.attrs == {"dataset": "csl", "simulated": False}
    assert set(static["sex"]) == {"female", "male"} and set(static["treatment"]) == {"prednisone", "placebo"}
    assert static["age"].between(17, 80).all()  # timereg's "age minus 60", plus 60
    assert (static[OUTCOME] == "yes").sum() == 270
    assert (static["sex"] == "male").sum() == 257


def test_signals_are_the_visits_on_the_grid(data, visits):
    assert len(visits) == N_VISITS and visits[SUBJECT].nunique() == N_SUBJECTS
    bins = grid_bins(visits["time"])
    on_grid = visits[bins >= 0].assign(bin=bins[bins >= 0])
    assert (bins < 0).sum() == 38 and (visits["time"][bins < 0] >= (GRID_LENGTH - 0.5) * GRID_STEP).all()
    means = on_grid.groupby([SUBJECT, "bin"])["prothrombin"].mean()
    assert int(sum((~np.isnan(s)).sum() for s in data.signals.values())) == len(means) == 2415
    for (subject, k), value in means.items():
        assert data.signals[subject][k, 0] == pytest.approx(value)
    # csl002's first visits: entry (73 %), then about 8 months (90 %); 3 and 6 months missed -> NaN
    two = data.signals["csl002"][:, 0]
    assert two[0] == 73 and np.isnan(two[1:3]).all() and two[3] == 90


def test_static_attributes_match_survset(data):
    from dpsynth.data.survset import load_survset

    raw = load_survset("csl", dataset="CSL").groupby("pid").first()
    static = data.static.set_index(SUBJECT)
    assert static.loc["csl001", "age"] == raw.loc[1, "num_age"] + 60
    assert static.loc["csl002", "prothrombin_base"] == raw.loc[2, "num_prot_base"]
    codes = raw["fac_sex"].astype(int).to_numpy()
    assert np.array_equal(static["sex"].to_numpy() == "male", codes == 1)  # timereg: 1 male


def test_split_is_by_subject_and_stratified(data):
    train, holdout = split_csl(data, seed=0, holdout_fraction=0.3)
    train_ids, holdout_ids = set(train.static[SUBJECT]), set(holdout.static[SUBJECT])
    assert not train_ids & holdout_ids and train_ids | holdout_ids == set(data.static[SUBJECT])
    assert len(holdout) == pytest.approx(0.3 * N_SUBJECTS, abs=1)
    for part, ids in ((train, train_ids), (holdout, holdout_ids)):
        assert set(part.signals) == ids and all(part.signals[s] is data.signals[s] for s in ids)
        assert part.static.attrs["dataset"] == "csl"
    rate = (data.static[OUTCOME] == "yes").mean()
    for part in (train, holdout):
        assert abs((part.static[OUTCOME] == "yes").mean() - rate) < 0.01
    assert not split_csl(data, seed=1)[1].static.equals(holdout.static)


# -------------------------------------------------------------------------- the schema
def test_schema_content_and_loaders_agree(schema, tmp_path):
    with resources.as_file(resources.files("dpsynth.data").joinpath(mod.SCHEMA_RESOURCE)) as file:
        loaded = load_schema(file)  # what `dpsynth schema check` reads
    assert isinstance(loaded, SeriesSchema) and loaded.fingerprint() == schema.fingerprint()
    assert schema.window == GRID_LENGTH and schema.stride == GRID_LENGTH and schema.max_windows_per_subject == 1
    assert schema.sampling_rate == mod.SAMPLING_RATE == 4.0
    assert schema.channel_names == list(CHANNELS)
    assert (schema.channels[0].lower, schema.channels[0].upper, schema.channels[0].out_of_bounds) == (0, 200, "clip")
    assert schema.subject_id == SUBJECT and schema.target == OUTCOME and schema.positive == "yes"
    assert [a.name for a in schema.sensitive] == ["sex", "age_band"]
    assert {a.column for a in schema.sensitive} | {OUTCOME} <= set(schema.static.names)
    assert [SUBJECT, *schema.static.names] == list(mod.STATIC_COLUMNS)
    assert schema.not_public() == []
    again = SeriesSchema.load(schema.save(tmp_path / "csl.json"))
    assert again.fingerprint() == schema.fingerprint()


def test_real_data_conforms_with_nothing_clipped(data, schema):
    conformed, report = schema.conform(data)
    assert report.n_subjects == N_SUBJECTS and report.n_samples == N_SUBJECTS * GRID_LENGTH
    assert report.clipped == {} and report.static_clipped == {}
    assert report.missing == {"prothrombin": N_SUBJECTS * GRID_LENGTH - 2415}
    assert schema.windows(conformed.signals["csl001"]).shape == (1, GRID_LENGTH, 1)
    bands = schema.static.group_labels(conformed.static)
    assert bands["age_band"].value_counts().to_dict() == {"60-69": 171, "50-59": 141, "<50": 73, "70+": 61}


def test_tiny_dp_vae_fit_samples_conform_to_the_schema(data, schema):
    train, _ = split_csl(data, seed=0)
    static = train.static.iloc[:60].reset_index(drop=True)
    static.attrs = dict(train.static.attrs)
    subset = SeriesData(static, {s: train.signals[s] for s in static[SUBJECT]})
    assert set(static[OUTCOME]) == {"yes", "no"}
    model = registry.create("dp-series-vae", schema, epochs=1, batch_size=16, hidden=(16,), n_bins=8)
    model.fit(subset, budget=PrivacyBudget(1.0, 1e-5), random_state=0, progress=False)
    out = model.sample(20, random_state=0)
    conformed, report = schema.conform(out)  # raises on any type, domain or bound violation
    assert len(conformed.static) == 20 and report.clipped == {} and report.static_clipped == {}
    assert all(s.shape == (GRID_LENGTH, 1) for s in out.signals.values())
    eps, delta = model.privacy_spent()
    assert 0 < eps <= 1.0 + 1e-9 and delta <= 1e-5

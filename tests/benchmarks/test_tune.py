"""The settings-study script (benchmarks/tune.py) scores a model as the audit reads it: AUROC on
the validation rows and the equalized-odds difference per sensitive attribute, with groups too
small for a between-group metric left out."""

import json

import numpy as np
import pytest
from fairlearn.metrics import equalized_odds_difference

from tests.benchmarks.scripts import load_script
from tests.conftest import make_toy_frame, make_toy_schema


class ToyDataset:
    """A data set as `tune.get_dataset` returns it: the toy schema and rows, split 700 / the rest."""

    outcome = "outcome"

    def __init__(self, schema, frame):
        self._schema, self._frame = schema, frame

    def schema(self):
        return self._schema

    def load(self):
        return self._frame

    def split(self, data, seed):
        return data.iloc[:700], data.iloc[700:]


def test_scores_give_auroc_and_the_equalized_odds_gap_of_each_sensitive_attribute():
    tune = load_script("tune.py")
    schema = make_toy_schema()
    train, valid = schema.conform(make_toy_frame(600, seed=1))[0], schema.conform(make_toy_frame(400, seed=2))[0]
    scores = tune.scores(schema, train, valid, "logreg", 0)
    assert scores["auroc"] > 0.6
    assert set(scores) == {"auroc", *(f"eod_{a.name}" for a in schema.sensitive)}
    assert all(0.0 <= scores[f"eod_{a.name}"] <= 1.0 for a in schema.sensitive)


def test_groups_below_the_audits_minimum_are_left_out_of_the_gap():
    tune = load_script("tune.py")
    schema = make_toy_schema()
    train, valid = schema.conform(make_toy_frame(600, seed=1))[0], schema.conform(make_toy_frame(150, seed=2))[0]
    race = schema.group_labels(valid)["race"].astype(str)
    small = race.value_counts()[race.value_counts() < tune.MIN_GROUP].index
    assert len(small) > 0  # "other" (asian and other) is about 15 % of 150 rows
    pipe = tune.make_pipeline(schema, "logreg", random_state=0)
    y = lambda f: (f[schema.target].astype(str) == schema.positive).to_numpy()  # noqa: E731
    predicted = pipe.fit(train, y(train)).predict_proba(valid)[:, 1] >= tune.THRESHOLD
    kept = ~race.isin(small).to_numpy()
    expected = equalized_odds_difference(y(valid)[kept], predicted[kept], sensitive_features=race.to_numpy()[kept])
    assert np.isclose(tune.scores(schema, train, valid, "logreg", 0)["eod_race"], expected)


def test_a_training_table_with_one_class_scores_nan():
    tune = load_script("tune.py")
    schema = make_toy_schema()
    frame = schema.conform(make_toy_frame(400, seed=1))[0]
    scores = tune.scores(schema, frame[frame["outcome"] == "yes"], frame, "logreg", 0)
    assert all(np.isnan(value) for value in scores.values())


def test_resample_draws_a_subsample_per_seed_and_scores_each_against_its_own_trtr(monkeypatch, capsys):
    tune = load_script("tune.py")
    schema = make_toy_schema()
    frame = make_toy_frame(900, seed=3)

    monkeypatch.setattr(tune, "get_dataset", lambda name: ToyDataset(schema, frame))
    monkeypatch.setattr(tune, "scores", lambda *a: {"auroc": 0.5})  # the subsamples are under test, not the models
    drawn = []
    subsample = tune.subsample
    monkeypatch.setattr(tune, "subsample", lambda *a: drawn.append(a[3]) or subsample(*a))
    tune.main(["--dataset", "toy", "--generator", "dp-marginal", "--rows", "200", "--seeds", "0", "1", "1",
               "--resample"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["subsample_seed"] for r in rows] == [2, 3, 3]
    assert drawn == [2, 3]  # each subsample drawn once, its TRTR scored once
    assert all(r["rows"] == 200 for r in rows)

    tune.main(["--dataset", "toy", "--generator", "dp-marginal", "--rows", "200", "--seeds", "0", "1"])
    assert [json.loads(line)["subsample_seed"] for line in capsys.readouterr().out.splitlines()] == [2, 2]


def test_resample_without_a_subsample_size_is_a_clear_error(capsys):
    tune = load_script("tune.py")
    with pytest.raises(SystemExit):
        tune.main(["--generator", "dp-marginal", "--resample"])
    assert "--resample draws a subsample per seed: give its size with --rows N" in capsys.readouterr().err


def test_a_marginal_peer_is_scored_on_the_same_inner_cohort_with_its_own_settings(monkeypatch, capsys):
    tune = load_script("tune.py")
    schema = make_toy_schema()
    frame = make_toy_frame(900, seed=3)

    fitted = []

    def fake_fit_sample(synth, train, schema_, *, epsilon, delta, seed, rows, **kwargs):
        fitted.append((synth, len(train), epsilon, seed, rows))
        return train.sample(rows, replace=True, random_state=seed), {"fit_seconds": 1.5}

    monkeypatch.setattr(tune, "get_dataset", lambda name: ToyDataset(schema, frame))
    monkeypatch.setattr(tune.smartnoise_peer, "fit_sample", fake_fit_sample)
    tune.main(["--dataset", "toy", "--generator", "mst", "--epsilon", "0.5", "--rows", "200", "--seeds", "4",
               "--resample"])
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert fitted == [("mst", 200, 0.5, 4, 200)]
    assert row["generator"] == "mst" and row["subsample_seed"] == 6 and row["fit_seconds"] == 1.5
    assert row["setting"] == {} and 0.0 <= row["tstr_logreg"] <= 1.0

    with pytest.raises(SystemExit):
        tune.main(["--dataset", "toy", "--generator", "aim", "--param", "epochs=3"])
    assert "smartnoise's own settings" in capsys.readouterr().err

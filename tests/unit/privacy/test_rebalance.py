"""Rebalancing the DP condition table: requested shares, kept conditionals, clear errors."""

import numpy as np
import pandas as pd
import pytest

from dpsynth.errors import SchemaError
from dpsynth.privacy import rebalance as rb
from dpsynth.privacy.conditions import NOISY, WEIGHT, sample_condition_cells

DOMAINS = {"outcome": ["no", "yes"], "sex": ["female", "male"], "race": ["white", "black", "other"]}


def make_table(weights=None) -> pd.DataFrame:
    cells = pd.MultiIndex.from_product(DOMAINS.values(), names=list(DOMAINS)).to_frame(index=False)
    rng = np.random.default_rng(0)
    w = rng.uniform(1, 50, len(cells)) if weights is None else np.asarray(weights, float)
    cells[NOISY] = w
    cells[WEIGHT] = np.clip(w, 0, None)
    return cells


def shares(table, names):
    w = table.groupby(list(names))[WEIGHT].sum()
    return (w / w.sum()).to_dict()


def test_equal_shares_for_one_attribute_keep_the_within_group_mix():
    table = make_table()
    out = rb.rebalance_table(table, {"race": "equal"}, DOMAINS)
    assert all(v == pytest.approx(1 / 3) for v in shares(out, ["race"]).values())
    for race in DOMAINS["race"]:  # P(outcome, sex | race) unchanged
        before = table[table.race == race][WEIGHT].to_numpy()
        after = out[out.race == race][WEIGHT].to_numpy()
        np.testing.assert_allclose(after / after.sum(), before / before.sum())
    assert out[NOISY].equals(table[NOISY])  # the DP counts themselves are untouched


def test_explicit_shares_and_two_requests_hold_together():
    out = rb.rebalance_table(make_table(), {"race": {"white": 0.5, "black": 0.25, "other": 0.25},
                                            "sex": {"female": 0.6, "male": 0.4}}, DOMAINS)
    assert shares(out, ["race"])["white"] == pytest.approx(0.5, abs=1e-5)
    assert shares(out, ["sex"])["female"] == pytest.approx(0.6, abs=1e-5)


def test_intersection_equal():
    out = rb.rebalance_table(make_table(), {("sex", "race"): "equal"}, DOMAINS)
    assert all(v == pytest.approx(1 / 6) for v in shares(out, ["sex", "race"]).values())


def test_group_empty_under_noise_gets_an_even_spread():
    w = make_table()[WEIGHT].to_numpy()
    table = make_table(np.where(make_table().race == "other", -3.0, w))
    out = rb.rebalance_table(table, {"race": "equal"}, DOMAINS)
    other = out[out.race == "other"][WEIGHT]
    assert other.sum() == pytest.approx(1 / 3) and np.allclose(other, other.iloc[0])


def test_sampling_follows_the_rebalanced_table():
    out = rb.rebalance_table(make_table(), {"race": "equal"}, DOMAINS)
    cells = sample_condition_cells(out, 6000, conditions=None, rng=np.random.default_rng(1))
    assert np.allclose(cells["race"].value_counts(normalize=True), 1 / 3, atol=0.02)


@pytest.mark.parametrize("items, expected", [
    (["race=equal"], {("race",): "equal"}),
    (["race=white:0.5,black:0.3,other:0.2"], {("race",): {"white": 0.5, "black": 0.3, "other": 0.2}}),
    (["sex*race=equal", "outcome=EQUAL"], {("sex", "race"): "equal", ("outcome",): "equal"}),
])
def test_parse(items, expected):
    assert rb.parse_rebalance(items) == expected


@pytest.mark.parametrize("item", ["race", "race=", "=equal", "race=white:x", "race=white"])
def test_parse_errors(item):
    with pytest.raises(SchemaError, match="--rebalance expects"):
        rb.parse_rebalance([item])


@pytest.mark.parametrize("request_, message", [
    ({"ethnicity": "equal"}, "'ethnicity' is not a condition"),
    ({"race": {"white": 0.5, "asian": 0.5}}, "race has no group 'asian'"),
    ({"race": {"white": 0.5, "black": 0.6, "other": 0.1}}, "adding up to 1"),
    ({"race": {"white": 0.5, "black": 0.5}}, r"leave out group\(s\) \['other'\]"),
    ({"race": "most"}, "--rebalance expects"),
    ({"race": "equal", ("sex", "race"): "equal"}, "names 'race' twice"),
])
def test_bad_requests_name_the_problem(request_, message):
    with pytest.raises(SchemaError, match=message):
        rb.rebalance_table(make_table(), request_, DOMAINS)


def test_conflict_with_a_fixed_condition():
    with pytest.raises(SchemaError, match="a condition fixes 'race'"):
        rb.check_no_conflict({("sex", "race"): "equal"}, {"race": "white"})
    rb.check_no_conflict({"race": "equal"}, {"sex": "male"})


def test_describe_is_json_ready():
    assert rb.describe({("sex", "race"): "equal", "outcome": {"no": 0.5, "yes": 0.5}}) == {
        "sex*race": "equal", "outcome": {"no": 0.5, "yes": 0.5}}

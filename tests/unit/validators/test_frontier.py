"""The sweep's frontier: series over seeds, the price of privacy per group, the sweep verdict."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dpsynth.errors import DpsynthError
from dpsynth.validators import frontier
from dpsynth.validators.verdict import Thresholds
from tests.unit.validators.sweep_tables import SEED_OFFSET, sweep_table


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return sweep_table()


@pytest.fixture(scope="module")
def price(table) -> pd.DataFrame:
    return frontier.price_of_privacy(table)


def price_row(price: pd.DataFrame, generator: str, attribute: str, group: str) -> pd.Series:
    sel = price[(price.generator == generator) & (price.attribute == attribute) & (price.group == group)]
    assert len(sel) == 1
    return sel.iloc[0]


def shift(table: pd.DataFrame, amount: float, **equals) -> pd.DataFrame:
    """A copy with ``amount`` added to the value and interval of the rows matching ``equals``."""
    out = table.copy()
    mask = np.ones(len(out), bool)
    for col, value in equals.items():
        mask &= (out[col] == value).to_numpy()
    assert mask.any()
    out.loc[mask, ["value", "ci_low", "ci_high"]] += amount
    return out


# ---------------------------------------------------------------------------- price of privacy
def test_each_group_gets_the_smallest_epsilon_within_the_margin(price):
    expected = {("sex", "F"): 4.0, ("sex", "M"): 1.0, ("race", "white"): 2.0, ("race", "asian"): 8.0}
    for (attribute, group), epsilon in expected.items():
        row = price_row(price, "dp-vae", attribute, group)
        assert row.epsilon_needed == epsilon and row.reached == f"{epsilon:g}", (attribute, group)
    f = price_row(price, "dp-vae", "sex", "F")
    assert f.tstr == pytest.approx(0.76) and f.trtr == pytest.approx(0.80) and f.gap == pytest.approx(0.04)


def test_a_group_that_never_reaches_the_margin_says_never(price):
    black = price_row(price, "dp-vae", "race", "black")
    assert black.reached == frontier.NEVER and math.isnan(black.epsilon_needed)
    assert black.gap_at_largest == pytest.approx(0.20) and black.largest_epsilon == 8.0
    assert (price[price.generator == "dp-gan"].reached == frontier.NEVER).all()


def test_the_group_needing_the_largest_epsilon_degrades_first(price):
    first = frontier.degrades_first(price)
    vae = first[first.generator == "dp-vae"].set_index("attribute").group
    assert vae.to_dict() == {"sex": "F", "race": "black"}  # "never" outranks asian's ε = 8
    gan_race = first[(first.generator == "dp-gan") & (first.attribute == "race")]
    assert set(gan_race.group) == {"white", "black", "asian"}  # ties: all never, same gap, all marked


def test_among_groups_that_never_reach_it_the_furthest_degrades_first(table):
    wider = shift(table, -0.05, generator="dp-gan", validator="fairness", metric="auroc", source="TSTR",
                  attribute="race", group="black")
    first = frontier.degrades_first(frontier.price_of_privacy(wider))
    assert first[(first.generator == "dp-gan") & (first.attribute == "race")].group.tolist() == ["black"]


def test_small_groups_are_flagged(price):
    small = price[price.small_group]
    assert set(zip(small.attribute, small.group)) == {("race", "asian")}


def test_the_worst_model_decides_unless_one_is_chosen(table, price):
    assert price_row(price, "dp-vae", "sex", "F").epsilon_needed == 4.0  # logreg, the worse one
    gboost = frontier.price_of_privacy(table, model="gboost")
    assert price_row(gboost, "dp-vae", "sex", "F").epsilon_needed == 2.0


def test_the_margin_is_a_parameter(table):
    wide = frontier.price_of_privacy(table, margin=0.15)
    assert price_row(wide, "dp-vae", "sex", "F").epsilon_needed == 2.0
    assert price_row(wide, "dp-vae", "race", "asian").epsilon_needed == 4.0
    assert price_row(wide, "dp-vae", "race", "black").reached == frontier.NEVER


def test_the_mean_over_seeds_decides_not_one_seed(table):
    # seed 0 alone reaches the margin at ε = 2 for sex=F (gap 0.10 − 0.06); the mean does not
    lifted = shift(table, 0.06, generator="dp-vae", epsilon=2.0, seed=0, validator="fairness", metric="auroc",
                   source="TSTR", attribute="sex", group="F")
    assert price_row(frontier.price_of_privacy(lifted), "dp-vae", "sex", "F").epsilon_needed == 4.0
    both = shift(lifted, 0.06, generator="dp-vae", epsilon=2.0, seed=1, validator="fairness", metric="auroc",
                 source="TSTR", attribute="sex", group="F")
    assert price_row(frontier.price_of_privacy(both), "dp-vae", "sex", "F").epsilon_needed == 2.0


def test_a_group_that_falls_back_above_its_epsilon_is_marked(table, price):
    assert price_row(price, "dp-vae", "sex", "M").holds_above
    dropped = shift(table, -0.2, generator="dp-vae", epsilon=8.0, validator="fairness", metric="auroc",
                    source="TSTR", attribute="sex", group="M")
    row = price_row(frontier.price_of_privacy(dropped), "dp-vae", "sex", "M")
    assert row.epsilon_needed == 1.0 and not row.holds_above


def test_a_not_private_reference_reaches_it_at_infinity(price):
    ref = price[price.generator == "sdv-tvae"]
    assert (ref.reached == "∞").all() and np.isinf(ref.epsilon_needed).all()


# ---------------------------------------------------------------------------- series
def test_series_average_seeds_and_keep_their_spread_and_intervals(table):
    series = frontier.frontier_series(table)
    assert set(series) == set(frontier.SERIES)
    u = series["utility"]
    row = u[(u.generator == "dp-vae") & (u.epsilon == 1.0) & (u.model == "logreg") & (u.source == "TSTR")]
    assert len(row) == 1
    r = row.iloc[0]
    assert r.value == pytest.approx(0.60) and r.n_cells == 2
    assert r.sd == pytest.approx(SEED_OFFSET * math.sqrt(2))
    assert (r.seed_min, r.seed_max) == pytest.approx((0.59, 0.61))
    assert (r.ci_low, r.ci_high) == pytest.approx((0.57, 0.63))  # the envelope of both cells' intervals
    cells = frontier.per_cell(table, "utility")
    own = cells[(cells.generator == "dp-vae") & (cells.epsilon == 1.0) & (cells.model == "logreg")
                & (cells.source == "TSTR")].sort_values("seed")
    assert own.ci_low.tolist() == pytest.approx([0.59, 0.57]) and own.ci_high.tolist() == pytest.approx([0.63, 0.61])


def test_series_cover_every_family_the_brief_names(table):
    series = frontier.frontier_series(table)
    assert set(series["subgroups"].metric) == {"auroc", "tpr", "fpr"}
    assert set(series["subgroups"].source) == {"TSTR", "TRTR"}
    assert "change" in set(series["equalized_odds"].source)
    assert set(series["representation"].metric) == {"share_real", "share_synthetic", "share_ratio"}
    assert set(series["fidelity"].metric) == {"mean_tvd", "detection_auc"}
    # membership rows of different seeds differ in their member counts, yet form one series
    m = series["membership"]
    auc = m[(m.generator == "dp-vae") & (m.epsilon == 1.0) & (m.metric == "auc")]
    assert len(auc) == 1 and auc.iloc[0].n_cells == 2
    small = series["subgroups"][series["subgroups"].group == "asian"]
    assert small.flag.str.contains("small_group").all()


def test_a_family_the_audits_lack_is_empty(table):
    series = frontier.frontier_series(table[table.validator != "membership"])
    assert series["membership"].empty and list(series["membership"].columns) == frontier.AGGREGATE_COLUMNS


# ---------------------------------------------------------------------------- verdict
def test_sweep_verdict_finds_the_smallest_epsilon_without_a_fail(table):
    verdict = frontier.sweep_verdict(table)
    head = verdict.headline.set_index("generator")
    assert head.loc["dp-vae", "no_fail_epsilon"] == 2.0 and head.loc["dp-vae", "no_fail_holds_above"]
    assert "at ε = 1" in head.loc["dp-vae", "decided_by"] and "utility FAIL" in head.loc["dp-vae", "decided_by"]
    assert head.loc["dp-gan", "no_fail_epsilon"] == 4.0 and not head.loc["dp-gan", "no_fail_holds_above"]
    assert verdict.status("dp-gan", 8.0) == "fail"
    assert verdict.checklist("dp-gan", 8.0).set_index("check").status["memorisation"] == "fail"
    # a small group warns in every cell: nothing passes everywhere
    assert head.all_pass_epsilon.isna().all()
    assert list(verdict.checklist("dp-vae", 2.0).check) == [
        "utility", "fairness", "representation", "fidelity", "rules", "memorisation", "small_groups"]


def test_all_pass_needs_every_check_passing(table):
    verdict = frontier.sweep_verdict(sweep_table(small_groups=False))
    head = verdict.headline.set_index("generator")
    assert head.loc["dp-vae", "all_pass_epsilon"] == 4.0 and head.loc["dp-vae", "no_fail_epsilon"] == 2.0


def test_the_worst_seed_sets_a_check(table):
    bad = shift(table, -0.2, generator="dp-vae", epsilon=2.0, seed=1, validator="utility", source="ratio")
    verdict = frontier.sweep_verdict(bad)
    utility = verdict.checklist("dp-vae", 2.0).set_index("check").loc["utility"]
    assert utility.status == "fail" and utility.value == pytest.approx(0.67)
    assert verdict.headline.set_index("generator").loc["dp-vae", "no_fail_epsilon"] == 4.0
    seeds = verdict.cells[(verdict.cells.generator == "dp-vae") & (verdict.cells.epsilon == 2.0)
                          & (verdict.cells.check == "utility")].set_index("seed").status
    assert seeds.to_dict() == {0: "warn", 1: "fail"}


def test_cell_metadata_and_thresholds_reach_the_verdict(table):
    cell = "dp-vae_eps4_seed0"
    verdict = frontier.sweep_verdict(table, metadata={cell: {"n_holdout": 20, "min_holdout_size": 60}})
    assert verdict.checklist("dp-vae", 4.0).set_index("check").status["small_groups"] == "fail"
    assert verdict.checklist("dp-vae", 8.0).set_index("check").status["small_groups"] == "warn"
    strict = Thresholds.from_dict({"utility_ratio_warn": 0.99, "utility_ratio_fail": 0.97})
    # ε = 2's ratio 0.88 [0.86, 0.92] now lies wholly below the fail level; ε = 4's interval reaches it
    assert frontier.sweep_verdict(table, strict).headline.set_index("generator").loc["dp-vae", "no_fail_epsilon"] == 4.0


def test_verdict_to_dict_is_json_safe(table):
    import json

    data = frontier.sweep_verdict(table).to_dict()
    text = json.dumps(data, allow_nan=False)
    assert '"no_fail_epsilon": 2.0' in text and '"inf"' in text  # the reference's ε


# ---------------------------------------------------------------------------- errors
def test_mistakes_are_one_clear_line(table):
    with pytest.raises(DpsynthError, match=r"missing: \['epsilon'\]"):
        frontier.frontier_series(table.drop(columns="epsilon"))
    with pytest.raises(DpsynthError, match="no rows"):
        frontier.price_of_privacy(table.iloc[:0])
    with pytest.raises(DpsynthError, match="margin must be"):
        frontier.price_of_privacy(table, margin=-0.1)
    with pytest.raises(DpsynthError, match="model 'svm' is not in the sweep"):
        frontier.price_of_privacy(table, model="svm")

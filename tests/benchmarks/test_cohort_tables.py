"""The cohort benchmark's tables and bar counts (benchmarks/cohort_tables.py): cells in order,
peers not run said so, and the bar counted against the better peer per model."""

from tests.benchmarks.scripts import load_script


def row(generator, *, n="500", epsilon=1.0, logreg=0.6, gboost=0.6, seeds=3, eod=0.0):
    return {"dataset": "support2", "n": n, "epsilon": epsilon, "generator": generator, "seeds": seeds,
            "n_train": 6373 if n == "full" else int(n), "fit_seconds": 1.0,
            "tstr_auroc_logreg": logreg, "tstr_auroc_gboost": gboost, "trtr_auroc_logreg": 0.8,
            "trtr_auroc_gboost": 0.8, "tstr_trtr_ratio_gboost": gboost / 0.8, "correlation_difference": 0.07,
            "detection_auc": 0.99, "eod_change_sex_gboost": eod, "eod_change_race_gboost": 0.0,
            "eod_change_age_band_gboost": 0.0}


SUMMARY = {"medians": [
    row("dp-marginal", n="full", logreg=0.80, gboost=0.78, eod=0.05),
    row("mst", n="full", logreg=0.50, gboost=0.52, eod=0.01),
    row("dp-marginal", logreg=0.62, gboost=0.48),
    row("mst", logreg=0.55, gboost=0.50),
    row("aim", logreg=0.65, gboost=0.45, seeds=2, eod=0.10),
]}


def test_the_readme_table_orders_cells_by_size_and_says_what_was_not_run():
    tables = load_script("cohort_tables.py")
    lines = tables.readme_table(SUMMARY).splitlines()
    assert lines[2].startswith("| SUPPORT2 | 500 | 1 | 0.620 / 0.480 | not run | 0.650 / 0.450 (2 seeds) |")
    assert lines[3].startswith("| SUPPORT2 | full (6,373) | 1 | 0.800 / 0.780 | not run | not run | 0.500 / 0.520 |")


def test_the_bar_compares_each_model_with_its_better_peer_and_counts_wider_gaps():
    bar = load_script("cohort_tables.py").bar(SUMMARY)
    assert bar["cells_with_a_peer"] == 2 and bar["cells_at_or_above_on_both_models"] == 1
    assert bar["behind"] == ["support2 n=500 eps=1 logreg: dp-marginal 0.620 vs aim 0.650",
                             "support2 n=500 eps=1 gboost: dp-marginal 0.480 vs mst 0.500"]
    assert bar["below_chance_medians"] == ["dp-marginal support2 n=500 eps=1 gboost 0.480"]
    assert bar["attribute_cells"] == 6
    assert [(w["cell"], w["attribute"], w["peer"]) for w in bar["eod_wider_than_better_peer"]] == [
        ("support2 n=full eps=1", "sex", "mst")]


def test_the_bar_reads_each_cells_best_dpsynth_generator_or_the_one_named():
    tables = load_script("cohort_tables.py")
    both = {"medians": SUMMARY["medians"] + [row("dp-vae", logreg=0.66, gboost=0.55, eod=0.02)]}
    best = tables.bar(both)
    assert best["chosen"] == {"support2 n=500 eps=1": "dp-vae", "support2 n=full eps=1": "dp-marginal"}
    assert best["cells_at_or_above_on_both_models"] == 2 and best["behind"] == []
    assert [w["generator"] for w in best["eod_wider_than_better_peer"]] == ["dp-vae", "dp-marginal"]
    alone = tables.bar(both, "dp-marginal")
    assert alone["cells_at_or_above_on_both_models"] == 1 and set(alone["chosen"].values()) == {"dp-marginal"}
    assert tables.bar(both, "dp-vae")["cells_with_a_peer"] == 1  # it ran in one cell


def test_a_median_without_a_tstr_counts_below_chance():
    tables = load_script("cohort_tables.py")
    one_class = {"medians": SUMMARY["medians"] + [row("dp-vae", logreg=float("nan"), gboost=0.6)]}
    assert "dp-vae support2 n=500 eps=1 logreg nan" in tables.bar(one_class)["below_chance_medians"]
    assert tables.bar(one_class)["chosen"]["support2 n=500 eps=1"] == "dp-marginal"


def seed_cell(generator, seed, *, gboost, eod):
    return {"dataset": "support2", "n": "full", "epsilon": 1.0, "generator": generator, "seed": seed,
            "tstr_auroc_gboost": gboost, "eod_change_sex_gboost": eod}


def test_a_miss_says_whether_it_lies_beyond_the_spread_of_seeds():
    tables = load_script("cohort_tables.py")
    ours = [seed_cell("dp-marginal", s, gboost=0.78, eod=e) for s, e in enumerate((0.04, 0.05, 0.06))]
    apart = {**SUMMARY, "cells": ours + [seed_cell("mst", s, gboost=0.52, eod=e)
                                         for s, e in enumerate((0.0, 0.01, 0.02))]}
    overlapping = {**SUMMARY, "cells": ours + [seed_cell("mst", s, gboost=0.52, eod=e)
                                               for s, e in enumerate((0.0, 0.01, 0.3))]}
    bar, mixed = tables.bar(apart), tables.bar(overlapping)
    assert [w["beyond_seed_spread"] for w in bar["eod_wider_than_better_peer"]] == [True]
    assert bar["eod_wider_beyond_seed_spread"] == 1
    assert [w["beyond_seed_spread"] for w in mixed["eod_wider_than_better_peer"]] == [False]
    assert mixed["eod_wider_beyond_seed_spread"] == 0
    assert tables.bar(SUMMARY)["eod_wider_than_better_peer"][0]["beyond_seed_spread"] is None
    assert tables.beyond_spread([0.55, 0.56], [0.57, 0.6]) and not tables.beyond_spread([0.55, 0.58], [0.57, 0.6])

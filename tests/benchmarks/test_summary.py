"""The benchmarks' shared summary (benchmarks/summary.py): medians over seeds per group."""

import math

from tests.benchmarks.scripts import load_script


def test_medians_keep_a_shared_count_whole_over_an_even_number_of_seeds():
    summary = load_script("summary.py")
    runs = [{"generator": "aim", "seed": 0, "n_train": 2000, "auroc": 0.5190, "steps": 3},
            {"generator": "aim", "seed": 1, "n_train": 2000, "auroc": 0.42421, "steps": 4}]
    (row,) = summary.medians(runs, ("generator",))
    assert row == {"generator": "aim", "seeds": 2, "n_train": 2000, "auroc": 0.4716, "steps": 3.5}
    assert isinstance(row["n_train"], int)


def test_a_seed_without_a_metric_ranks_lowest_in_the_median():
    """TSTR is NaN where the synthetic rows hold one outcome class: it counts as the worst seed,
    so two such seeds of three make the median NaN, and one pulls it down."""
    summary = load_script("summary.py")
    nan = float("nan")
    assert math.isnan(summary.median([0.6, nan, nan]))
    assert summary.median([0.7, 0.6, nan]) == 0.6
    assert summary.median([0.7, 0.6, 0.5, nan]) == 0.55 and summary.median([2, 4]) == 3


def test_runs_below_chance_are_counted_per_group_and_a_missing_score_counts():
    summary = load_script("summary.py")
    nan = float("nan")
    runs = [{"generator": "g", "seed": s, "auroc": a} for s, a in enumerate([0.6, 0.49, nan])]
    runs.append({"generator": "h", "seed": 0, "auroc": 0.5})
    rows = summary.medians(runs, ("generator",), below_chance=("auroc",))
    assert [r["auroc_below_chance"] for r in rows] == [2, 0]

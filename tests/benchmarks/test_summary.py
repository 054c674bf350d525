"""The benchmarks' shared summary (benchmarks/summary.py): medians over seeds per group."""

from tests.benchmarks.scripts import load_script


def test_medians_keep_a_shared_count_whole_over_an_even_number_of_seeds():
    summary = load_script("summary.py")
    runs = [{"generator": "aim", "seed": 0, "n_train": 2000, "auroc": 0.5190, "steps": 3},
            {"generator": "aim", "seed": 1, "n_train": 2000, "auroc": 0.42421, "steps": 4}]
    (row,) = summary.medians(runs, ("generator",))
    assert row == {"generator": "aim", "seeds": 2, "n_train": 2000, "auroc": 0.4716, "steps": 3.5}
    assert isinstance(row["n_train"], int)

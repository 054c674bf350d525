"""`dpsynth.pipeline.generate`: the release a steward writes, checked for exact counts."""

import json

import pandas as pd

from dpsynth.pipeline import generate
from tests.conftest import make_toy_frame, make_toy_schema

TINY = {"epochs": 1, "batch_size": 64, "hidden": (16,), "latent_dim": 4, "n_bins": 8}


def test_rule_6_the_default_row_count_is_the_dp_count_not_the_exact_n(tmp_path):
    """The number of synthetic rows released by default is the (rounded) sum of the DP condition
    counts in the bundle — post-processing — never the exact number of private rows."""
    frame = make_toy_frame(n=400)
    result = generate(data=frame, schema=make_toy_schema(), generator="dp-vae", epsilon=2.0, delta=1e-5,
                      out_dir=tmp_path / "release", params=TINY, progress=False)
    config = json.loads((tmp_path / "release" / "model" / "config.json").read_text())
    noisy_total = pd.DataFrame(config["condition_table"])["_noisy"].sum()
    assert result.card.rows_released == max(1, round(noisy_total)) == len(result.synthetic)

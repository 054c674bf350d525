"""The peer comparison hands synthcity NaN-free data built from the public schema only, and
reads its rows back inside the public bounds (benchmarks/peers/compare.py)."""

import numpy as np
import pandas as pd

from tests.benchmarks.scripts import load_script
from tests.conftest import make_toy_frame, make_toy_schema


def load_compare():
    return load_script("peers/compare.py")


def test_round_trip_keeps_missing_values_and_uses_public_fill_only():
    compare = load_compare()
    schema, frame = make_toy_schema(), make_toy_frame()
    peer = compare.to_peer_frame(frame, schema)
    assert not peer.isna().any().any()
    missing = frame["lab"].isna()
    assert (peer.loc[missing, "lab"] == schema.column("lab").lower).all()  # public bound, not a data statistic
    assert set(peer["lab__missing"]) == {"yes", "no"}
    back, clipped = compare.from_peer_frame(peer.astype(str), schema)
    assert clipped == {}
    assert back["lab"].isna().equals(missing)
    pd.testing.assert_series_equal(back["age"], frame["age"].astype(float))


def test_rows_outside_public_bounds_are_clipped_and_counted():
    compare = load_compare()
    schema = make_toy_schema()
    peer = compare.to_peer_frame(make_toy_frame(n=10), schema).astype(str)
    peer.loc[0, "age"], peer.loc[1, "heart_rate"] = "150", "72.4"
    back, clipped = compare.from_peer_frame(peer, schema)
    assert clipped == {"age": 1} and back.loc[0, "age"] == 110 and back.loc[1, "heart_rate"] == 72
    schema.conform(back)  # inside the public schema
    assert np.issubdtype(back["heart_rate"].dtype, np.floating)

"""The marginal peers' codec (benchmarks/peers/marginal_codec.py) bins on the public schema only
and decodes inside the bins at the schema's precision."""

import numpy as np
import pandas as pd
import pytest

from dpsynth.schema import CategoricalColumn, NumericColumn
from dpsynth.tabular.schema import TabularSchema
from tests.benchmarks.scripts import load_script
from tests.conftest import make_toy_frame, make_toy_schema


def load_codec():
    return load_script("peers/marginal_codec.py")


def test_domain_comes_from_the_schema_with_a_missing_code_for_nullable_columns():
    codec = load_codec()
    assert codec.domain_sizes(make_toy_schema()) == {"age": 16, "sex": 2, "race": 4, "heart_rate": 16, "lab": 17,
                                                     "outcome": 2}


def test_round_trip_keeps_categories_missing_values_and_the_bin_of_each_value():
    codec = load_codec()
    schema, frame = make_toy_schema(), make_toy_frame()
    codes = codec.encode(frame, schema)
    sizes = codec.domain_sizes(schema)
    for name, k in sizes.items():
        assert codes[name].between(0, k - 1).all(), name
    assert (codes.loc[frame["lab"].isna(), "lab"] == 16).all()
    back = codec.decode(codes, schema, seed=0)
    for name in ("sex", "race", "outcome"):
        assert (back[name] == frame[name]).all()
    assert back["lab"].isna().equals(frame["lab"].isna())
    again = codec.encode(back, schema)
    pd.testing.assert_frame_equal(again[["age", "lab"]], codes[["age", "lab"]])  # decoded inside the same bin
    assert (back["heart_rate"] == back["heart_rate"].round()).all()  # integer column decoded whole
    assert (np.abs(again["heart_rate"] - codes["heart_rate"]) <= 1).all()  # rounding may cross an edge by one
    schema.conform(back)


def test_bins_are_equal_width_on_the_public_bounds_not_on_the_data():
    codec = load_codec()
    schema = make_toy_schema()
    frame = make_toy_frame(n=50)
    frame["age"] = np.linspace(20, 23, 50)  # data spanning 3 of the public 92 years
    codes = codec.encode(frame, schema)
    assert set(codes["age"]) == {0}  # public width (110 - 18) / 16 = 5.75: all in the first bin
    # one row's codes do not depend on the other rows (no statistic of the data is used)
    alone = codec.encode(frame.iloc[[7]], schema)
    pd.testing.assert_series_equal(alone.iloc[0], codes.iloc[7], check_names=False)
    assert list(codec.edges(schema.column("age"))) == list(np.linspace(18, 110, 17))


def test_decimals_are_honoured_when_decoding():
    codec = load_codec()
    schema = TabularSchema(columns=[NumericColumn("temp", lower=25, upper=45, decimals=1),
                                    CategoricalColumn("y", categories=["0", "1"])], target="y", positive="1")
    codes = pd.DataFrame({"temp": np.arange(16).repeat(20), "y": 1})
    back = codec.decode(codes, schema, seed=3)
    assert np.allclose(back["temp"], back["temp"].round(1))
    assert back["temp"].between(25, 45).all()


def test_a_column_without_public_bounds_is_refused_by_name():
    codec = load_codec()
    schema = TabularSchema(columns=[NumericColumn("secret_lab", lower=0, upper=5, public=False),
                                    CategoricalColumn("y", categories=["0", "1"])], target="y", positive="1")
    with pytest.raises(ValueError, match="secret_lab.*public"):
        codec.domain_sizes(schema)


def test_codes_outside_the_domain_are_refused_by_column():
    codec = load_codec()
    schema = make_toy_schema()
    codes = codec.encode(make_toy_frame(n=5), schema)
    codes.loc[0, "race"] = 9
    with pytest.raises(ValueError, match="race"):
        codec.decode(codes, schema, seed=0)

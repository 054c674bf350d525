import numpy as np
import pandas as pd

from dpsynth.tabular.modality import as_written, describe_schema, write
from tests.conftest import make_ruled_toy_schema, make_toy_frame, make_toy_schema


def toy_with_lab_decimals():
    spec = make_toy_schema().to_dict()
    spec["columns"][4]["decimals"] = 2  # lab
    return type(make_toy_schema()).from_dict(spec)


def test_integer_columns_are_written_as_integers_and_decimals_as_declared(tmp_path):
    schema = toy_with_lab_decimals()
    frame = make_toy_frame().head(6).reset_index(drop=True)
    frame["heart_rate"] = [71.0, 80.0, np.nan, 64.0, 90.0, 55.0]
    frame["lab"] = [1.23456789, np.nan, 2.5, 49.999, 0.0, 3.14159]
    path = write(frame, tmp_path / "synthetic.csv", schema)
    text = path.read_text().splitlines()
    header = text[0].split(",")
    heart, lab = header.index("heart_rate"), header.index("lab")
    assert [line.split(",")[heart] for line in text[1:]] == ["71", "80", "", "64", "90", "55"]
    assert [line.split(",")[lab] for line in text[1:]] == ["1.23", "", "2.5", "50.0", "0.0", "3.14"]
    back = pd.read_csv(path)
    assert back["heart_rate"].isna().sum() == 1 and back["age"].equals(frame["age"])


def test_parquet_keeps_integer_columns_integer_with_missing_cells(tmp_path):
    schema = toy_with_lab_decimals()
    frame = make_toy_frame().head(4).reset_index(drop=True)
    frame["heart_rate"] = [71.0, np.nan, 64.0, 90.0]
    import pyarrow.parquet as pq

    path = write(frame, tmp_path / "synthetic.parquet", schema)
    table = pq.read_table(path)
    assert str(table.schema.field("heart_rate").type) == "int64" and table.column("heart_rate").null_count == 1


def test_as_written_leaves_its_input_alone():
    schema = toy_with_lab_decimals()
    frame = make_toy_frame().head(5)
    before = frame.copy()
    out = as_written(frame, schema)
    pd.testing.assert_frame_equal(frame, before)
    assert str(out["heart_rate"].dtype) == "Int64" and out["age"].dtype == float


def test_schema_check_line_names_the_declared_rules():
    line = describe_schema(make_ruled_toy_schema())
    assert "rules ['race -> race_group', 'lab range by race_group', 'score = age + heart_rate']" in line
    assert "rules" not in describe_schema(make_toy_schema())

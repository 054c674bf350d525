from types import SimpleNamespace

from dpsynth.validators.markdown import DASH, cell, flag_names, number, table_lines


def test_numbers_and_cells_with_intervals():
    assert number(0.12345) == "0.123" and number(0.5, 1, signed=True) == "+0.5" and number(float("nan")) == DASH
    row = SimpleNamespace(value=0.7, ci_low=0.6, ci_high=0.8)
    assert cell(row) == "0.700 [0.600, 0.800]" and cell(row, ci=False) == "0.700" and cell(None) == DASH


def test_tables_escape_pipes_and_flags_split():
    assert table_lines(["a|b", "c"], [["1", "2"]]) == ["| a\\|b | c |", "|---|---|", "| 1 | 2 |", ""]
    assert flag_names(["x;y", "", "y"]) == ["x", "y"]

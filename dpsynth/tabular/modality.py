"""The tabular modality: one row per record, read and written as CSV or Parquet."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dpsynth.modality import Modality, ReportWords, column_notes, register
from dpsynth.schema import NumericColumn
from dpsynth.table_io import read_table, table_format, write_table, write_table_parts
from dpsynth.tabular.chunks import lazy_table
from dpsynth.tabular.schema import TabularSchema, ValidationReport


def read(path: Any, schema: TabularSchema, *, static: Any = None) -> pd.DataFrame:
    return read_table(path)


def write(data: pd.DataFrame, path: Path, schema: TabularSchema) -> Path:
    return write_table(as_written(data, schema), path)


def write_parts(parts: Iterable[pd.DataFrame], path: Path, schema: TabularSchema) -> tuple[Path, int]:
    return write_table_parts((as_written(part, schema) for part in parts), path)


def as_written(data: pd.DataFrame, schema: TabularSchema) -> pd.DataFrame:
    """The table as its file holds it: numeric columns rounded to their declared precision
    (`NumericColumn.rounded`: ``decimals``, whole numbers for integer columns) and integer
    columns as integers (pandas ``Int64``: missing cells stay empty), so a file reads like the
    data it imitates rather than like 17-digit floats. Columns the schema does not name pass
    through; a copy, ``data`` is unchanged."""
    out = data.copy()
    for col in schema.columns:
        if not isinstance(col, NumericColumn) or col.places is None or col.name not in out.columns or not pd.api.types.is_numeric_dtype(out[col.name]):
            continue
        values = out[col.name].to_numpy(dtype=float, na_value=np.nan)
        present = ~np.isnan(values)
        values[present] = col.rounded(values[present])
        out[col.name] = pd.array(values, dtype="Float64").astype("Int64") if col.integer else values
    return out


def describe_schema(schema: TabularSchema) -> str:
    rules = f", rules {[r.label for r in schema.rules]}" if schema.rules else ""
    return (f"schema ok: {len(schema.columns)} columns, target '{schema.target}', "
            f"sensitive {[a.name for a in schema.sensitive]}{rules}, sha256 {schema.fingerprint()[:12]}")


def describe_data(report: ValidationReport) -> str:
    return f"data ok: {report.n_rows} rows; clipped {report.clipped or 'none'}"


def data_notes(report: ValidationReport) -> list[str]:
    return column_notes(report.clipped, report.unseen_to_missing)


MODALITY = register(Modality(
    name="tabular", schema_type=TabularSchema, data_type=pd.DataFrame,
    default_synthetic_name="synthetic.csv",
    formats={"csv": "synthetic.csv", "parquet": "synthetic.parquet"},
    read=read, write=write, check_synthetic_name=table_format,
    describe_schema=describe_schema, describe_data=describe_data, data_notes=data_notes,
    audit_plan="dpsynth.validators.tabular_suite:PLAN",
    report=ReportWords(unit="rows", fidelity_headline=(
        ("mean_tvd", "Mean TVD, categorical columns", "0 = identical marginals"),
        ("mean_wasserstein", "Mean Wasserstein-1 / range, numeric columns", "0 = identical marginals"),
        ("correlation_difference", "Association difference", "0 = same pairwise associations"),
    )),
    lazy_read=lazy_table, write_parts=write_parts,
))

"""`TableChunks`: a CSV or Parquet table that training reads a chunk at a time.

A DP generator reads its private table in three passes — count the units, check the
columns, then conform, count and encode — and none of them needs the whole table in
memory: `dpsynth.tabular.generator.TabularGenerator` folds over the chunks, appending the
encoded rows to a `dpsynth.unit_file.UnitFile`. Memory then stays flat in the number of
rows. It applies when every row is one patient (no ``subject_id``: a patient's rows would
straddle chunks) and the schema is public (learning bounds reads whole columns); otherwise
`lazy_table` returns None and the table is read whole.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dpsynth.table_io import iter_table, table_format
from dpsynth.tabular.schema import TabularSchema

CHUNK_ROWS = 16_384  # rows read, conformed and encoded at once (a few tens of MB encoded)


@dataclass(frozen=True)
class TableChunks:
    """The rows of the table at ``path``, ``chunk_rows`` at a time, each pass read afresh."""

    path: Path
    chunk_rows: int = CHUNK_ROWS

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return iter_table(self.path, chunk_rows=self.chunk_rows)

    @functools.cached_property
    def columns(self) -> pd.Index:
        return next(iter_table(self.path, chunk_rows=1)).columns

    @functools.cached_property
    def n_rows(self) -> int:
        return sum(len(chunk) for chunk in iter_table(self.path, chunk_rows=1 << 18, columns=[self.columns[0]]))

    def __len__(self) -> int:
        return self.n_rows


def lazy_table(data: Any, schema: TabularSchema) -> TableChunks | None:
    """``data`` as `TableChunks` when training can stream it: a CSV or Parquet path, a schema
    without ``subject_id`` and with nothing left to learn; None otherwise (read it whole)."""
    if not isinstance(data, (str, Path)) or schema.subject_id is not None or schema.not_public():
        return None
    table_format(data, action="read")  # an unsupported extension is an error here, as for read_table
    return TableChunks(Path(data))

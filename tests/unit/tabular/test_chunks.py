"""A table trained on a chunk at a time: the same fit, counts and clip report as in memory."""

import numpy as np
import pandas as pd
import pytest
import torch

from dpsynth import registry
from dpsynth.errors import SchemaError
from dpsynth.families import marginal
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.table_io import read_table
from dpsynth.tabular.chunks import TableChunks, lazy_table
from dpsynth.tabular.schema import TabularSchema
from dpsynth.unit_file import UnitFile
from tests.conftest import TINY, make_toy_frame, make_toy_schema, pinned_private_randomness


@pytest.fixture
def table(tmp_path):
    frame = make_toy_frame(n=300)
    frame.loc[5, "heart_rate"] = 299  # inside the bounds; a clip is exercised below
    path = tmp_path / "train.csv"
    frame.to_csv(path, index=False)
    return path


def clipping_schema():
    spec = make_toy_schema().to_dict()
    for column in spec["columns"]:
        if column["name"] == "heart_rate":
            column.update(upper=250, out_of_bounds="clip")
    return TabularSchema.from_dict(spec)


def test_a_streamed_fit_is_the_in_memory_fit(table, monkeypatch):
    """Same Poisson batches, same rows, same counts for the decoder's anchor: the same model,
    draw for draw (secret draws pinned; the anchor's OpenDP noise replaced by a fixed draw)."""
    monkeypatch.setattr(marginal, "gaussian_counts", lambda counts, **_: counts + np.random.default_rng(0).normal(
        0.0, 1.0, counts.shape))
    monkeypatch.setattr(marginal, "noisy_top_k", lambda scores, k, rho: list(np.argsort(-scores, kind="stable")[:k]))
    fits = []
    for data in (read_table(table), TableChunks(table, chunk_rows=37)):
        with pinned_private_randomness():
            model = registry.create("dp-vae", make_toy_schema(), condition_share=0, **TINY)
            fits.append(model.fit(data, budget=PrivacyBudget(1.0, 1e-5), random_state=3, progress=False))
    memory, streamed = fits
    pd.testing.assert_frame_equal(memory.sample(80, random_state=1), streamed.sample(80, random_state=1))
    assert memory.ledger_.to_dict() == streamed.ledger_.to_dict() and streamed.n_units_ == 300


def test_chunks_count_encode_and_report_as_the_whole_table(table):
    model = registry.create("dp-vae", clipping_schema(), **TINY)
    schema = model.schema
    codec = model._make_codec(schema)
    whole = model._prepare(read_table(table), schema, codec, np.random.default_rng(0))
    parts = model._prepare(TableChunks(table, chunk_rows=64), schema, codec, np.random.default_rng(0))
    assert isinstance(parts.units, UnitFile) and len(parts.units) == 300
    for a, b in zip(whole.units, parts.units.tensors()):
        assert torch.equal(a, b)
    np.testing.assert_array_equal(whole.exact_counts, parts.exact_counts)
    assert parts.report == whole.report and parts.report.clipped == {"heart_rate": 1}


def test_a_bad_value_in_a_late_chunk_is_the_usual_error(table):
    frame = pd.read_csv(table)
    frame.loc[250, "race"] = "martian"
    frame.to_csv(table, index=False)
    model = registry.create("dp-vae", make_toy_schema(), **TINY)
    with pytest.raises(SchemaError, match="race.*martian"):
        model.fit(TableChunks(table, chunk_rows=64), budget=PrivacyBudget(1.0, 1e-5), progress=False)


def test_only_row_per_patient_tables_with_a_public_schema_stream(table):
    assert isinstance(lazy_table(str(table), make_toy_schema()), TableChunks)
    assert lazy_table(read_table(table), make_toy_schema()) is None  # already in memory
    with_subject = TabularSchema.from_dict({**make_toy_schema().to_dict(), "subject_id": "pid"})
    assert lazy_table(table, with_subject) is None
    drafted = TabularSchema.from_dict({**make_toy_schema().to_dict()})
    drafted.columns[0].public = False
    assert lazy_table(table, drafted) is None


def test_a_table_of_chunks_counts_its_rows_and_columns(table):
    chunks = TableChunks(table, chunk_rows=64)
    assert len(chunks) == 300 and list(chunks.columns) == list(make_toy_frame(n=3).columns)
    assert [len(c) for c in chunks] == [64, 64, 64, 64, 44]


def test_the_marginal_family_counts_a_streamed_table_as_the_whole_table(table):
    """dp-marginal reads the `UnitFile` a chunk at a time: the same exact counts as in memory."""
    from dpsynth.families.marginal import exact_counts

    model = registry.create("dp-marginal", make_toy_schema(), n_bins=8)
    codec = model._make_codec(model.schema)
    module = model._build_module(codec)
    measured, _ = model._measured_blocks(codec)
    whole = model._prepare(read_table(table), model.schema, codec, np.random.default_rng(0))
    parts = model._prepare(TableChunks(table, chunk_rows=64), model.schema, codec, np.random.default_rng(0))
    for a, b in zip(exact_counts(whole.units, measured, module, progress=False),
                    exact_counts(parts.units, measured, module, progress=False)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y)
    fitted = model.fit(TableChunks(table, chunk_rows=64), budget=PrivacyBudget(1.0, 1e-5), progress=False)
    assert len(fitted.sample(20, random_state=0)) == 20

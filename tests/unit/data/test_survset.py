"""The shared SurvSet loader helpers and the data-set index, on small frames (no SurvSet needed)."""

from __future__ import annotations

import subprocess
import sys
import types
import warnings

import numpy as np
import pandas as pd
import pytest

import dpsynth.data
from dpsynth.data import DATASETS, UNKNOWN_DATASET, TabularDataset, actg175, get_dataset, rhc, support2, survset
from dpsynth.data.survset import (
    BAD_HOLDOUT_FRACTION, SURVSET_CHANGED, SURVSET_MISSING, binary_outcome, check_columns,
    load_schema, load_survset, rename_columns, split_stratified, survset_frame,
)
from dpsynth.errors import DpsynthError
from dpsynth.tabular.schema import TabularSchema


def make_raw(n: int = 40) -> pd.DataFrame:
    """A small table laid out like SurvSet's: pid, event, time, num_*, fac_* (categorical)."""
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "pid": np.arange(n),
        "event": rng.integers(0, 2, n),
        "time": rng.integers(1, 400, n),
        "num_age": rng.uniform(18, 90, n),
        "num_lab": np.where(rng.random(n) < 0.2, np.nan, rng.random(n)),
        "fac_sex": pd.Categorical(rng.choice(["Female", "Male"], n)),
        "fac_hx": pd.Categorical(rng.integers(0, 2, n)),
        "fac_cat2": pd.Categorical(rng.choice(["Coma", "missing"], n)),
        "num_leak": rng.random(n),
    })


RENAME = {"num_age": "age", "fac_sex": "sex", "fac_hx": "hx", "num_lab": "lab", "fac_cat2": "cat2"}
DROPPED = ("pid", "event", "time", "num_leak")


@pytest.fixture
def fake_survset(monkeypatch):
    """Install a stand-in `SurvSet.data` whose loader warns like SurvSet's numpy.core pickles."""
    tables = {"toy": make_raw()}

    class SurvLoader:
        def load_dataset(self, name):
            warnings.warn("numpy.core is deprecated and has been renamed to numpy._core",
                          DeprecationWarning, stacklevel=2)
            return {"df": tables[name].copy()}

    package = types.ModuleType("SurvSet")
    data = types.ModuleType("SurvSet.data")
    data.SurvLoader = SurvLoader
    package.data = data
    monkeypatch.setitem(sys.modules, "SurvSet", package)
    monkeypatch.setitem(sys.modules, "SurvSet.data", data)
    return tables


# ------------------------------------------------------------------------- loading
def test_load_survset_hides_the_numpy_core_warning(fake_survset):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        raw = load_survset("toy", dataset="Toy")
    pd.testing.assert_frame_equal(raw, fake_survset["toy"])


def test_missing_survset_names_the_dataset(monkeypatch):
    monkeypatch.setitem(sys.modules, "SurvSet", None)
    monkeypatch.setitem(sys.modules, "SurvSet.data", None)
    with pytest.raises(DpsynthError, match=r"pip install 'dpsynth\[demo\]'") as info:
        load_survset("toy", dataset="Toy")
    assert info.value.args[0] == SURVSET_MISSING.format(dataset="Toy")
    assert info.value.__cause__ is None  # the ImportError is not chained into the message


def test_message_constants_of_the_loaders():
    assert support2.SURVSET_MISSING.startswith("the SUPPORT2 demo data ships")
    assert rhc.SURVSET_MISSING.startswith("the RHC demo data ships")
    assert "'support2' table" in support2.SURVSET_CHANGED
    assert "'rhc' table" in rhc.SURVSET_CHANGED
    for mod in (support2, rhc):
        assert mod.BAD_HOLDOUT_FRACTION == BAD_HOLDOUT_FRACTION
        assert mod.SURVSET_CHANGED.format(missing=[], extra=[])  # still a {missing}/{extra} template


def test_check_columns_names_missing_and_unexpected():
    raw = make_raw()
    check_columns(raw, set(RENAME) | set(DROPPED), table="toy")  # exact match passes
    with pytest.raises(DpsynthError) as info:
        check_columns(raw.drop(columns=["num_age"]).assign(num_new=1.0),
                      set(RENAME) | set(DROPPED), table="toy")
    assert info.value.args[0] == SURVSET_CHANGED.format(table="toy", missing=["num_age"], extra=["num_new"])


# ----------------------------------------------------------------- the frame pieces
def test_rename_columns_orders_renames_and_gives_plain_strings():
    raw = make_raw().set_index(np.arange(100, 140))
    out = rename_columns(raw, RENAME)
    assert list(out.columns) == list(RENAME.values())
    assert isinstance(out.index, pd.RangeIndex) and out.index[0] == 0
    for name in ("sex", "hx", "cat2"):
        assert out[name].dtype == object
        assert all(isinstance(v, str) for v in out[name])
    assert set(out["hx"]) <= {"0", "1"}  # integer codes become "0"/"1"
    assert "missing" in set(out["cat2"])  # SurvSet's missing level stays a category
    assert out["lab"].dtype == float and out["lab"].isna().sum() == raw["num_lab"].isna().sum()
    np.testing.assert_array_equal(out["age"].to_numpy(), raw["num_age"].to_numpy())


def test_binary_outcome_at_the_horizon():
    event = np.array([1, 1, 1, 0, 0])
    time = np.array([10, 30, 31, 5, 400])
    out = binary_outcome(event, time, horizon=30)
    assert out.dtype == object
    assert out.tolist() == ["yes", "yes", "no", "no", "no"]  # inclusive; censored count as "no"
    assert binary_outcome(pd.Series(event), pd.Series(time), horizon=180, positive="died").tolist() == [
        "died", "died", "died", "no", "no"]


def test_survset_frame_end_to_end(fake_survset):
    out = survset_frame("toy", dataset="Toy", rename=RENAME, dropped=DROPPED, outcome="death_30d", horizon=30)
    raw = fake_survset["toy"]
    assert list(out.columns) == [*RENAME.values(), "death_30d"]
    expected = np.where((raw["event"] == 1) & (raw["time"] <= 30), "yes", "no")
    assert out["death_30d"].tolist() == expected.tolist()
    with pytest.raises(DpsynthError, match="num_leak"):
        survset_frame("toy", dataset="Toy", rename=RENAME, dropped=DROPPED[:-1], outcome="y", horizon=30)


# ------------------------------------------------------------------------ the split
def test_split_stratified_validates_and_partitions():
    frame = pd.DataFrame({"x": np.arange(100), "y": ["yes"] * 30 + ["no"] * 70})
    train, holdout = split_stratified(frame, outcome="y", seed=0)
    assert (len(train), len(holdout)) == (70, 30)
    assert (holdout["y"] == "yes").sum() == 9 and (train["y"] == "yes").sum() == 21
    assert sorted(pd.concat([train, holdout])["x"]) == list(range(100))
    assert train["x"].is_monotonic_increasing and holdout["x"].is_monotonic_increasing
    again = split_stratified(frame, outcome="y", seed=0)
    pd.testing.assert_frame_equal(again[1], holdout)
    for bad in (0, 1, 1.5, -0.1, float("nan"), "0.3", True, None):
        with pytest.raises(ValueError, match="holdout_fraction"):
            split_stratified(frame, outcome="y", holdout_fraction=bad)
    with pytest.raises(ValueError, match="'death'"):
        split_stratified(frame, outcome="death")


# ------------------------------------------------------------------ schema resources
def test_load_schema_reads_the_shipped_files():
    for name in ("support2", "rhc", "actg175"):
        schema = load_schema(f"schemas/{name}.yaml")
        assert isinstance(schema, TabularSchema)
        schema.require_public()


# ---------------------------------------------------------------------- the index
def test_dataset_index():
    assert set(DATASETS) == {"support2", "rhc", "actg175"}
    s2, r = get_dataset("support2"), get_dataset("rhc")
    assert isinstance(s2, TabularDataset) and s2.name == "support2"
    assert (s2.outcome, s2.load, s2.split) == ("death_180d", support2.load_support2, support2.split_support2)
    assert (r.outcome, r.load, r.split, r.schema) == ("death_30d", rhc.load_rhc, rhc.split_rhc, rhc.rhc_schema)
    assert r.schema().target == r.outcome and s2.schema().target == s2.outcome
    assert "SurvSet" in r.source and "hbiostat" in r.source
    a = get_dataset("actg175")
    assert (a.outcome, a.load, a.split, a.schema) == ("cens", actg175.load_actg175, actg175.split_actg175,
                                                      actg175.actg175_schema)
    assert a.schema().target == a.outcome and "lifelines" in a.source and "MIT" in a.source
    with pytest.raises(AttributeError):
        r.name = "other"  # frozen


@pytest.mark.parametrize("name", ["mimic", "RHC", "", None])
def test_unknown_dataset_lists_the_known_names(name):
    with pytest.raises(DpsynthError) as info:
        get_dataset(name)
    assert info.value.args[0] == UNKNOWN_DATASET.format(name=name, known="actg175, rhc, support2")


def test_importing_the_package_does_not_import_survset_or_lifelines():
    code = ("import sys, dpsynth.data, dpsynth.data.rhc, dpsynth.data.support2, dpsynth.data.actg175; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('SurvSet', 'lifelines', 'sklearn')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
    assert dpsynth.data.survset is survset

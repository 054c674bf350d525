"""`sample_bundle`: the ε it reports, its output paths, and bundles it cannot load."""

import json
import shutil

import pandas as pd
import pytest

from dpsynth import registry
from dpsynth.errors import DataReadError, DpsynthError
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.card import CARD_FILE
from dpsynth.sampling import sample_bundle
from tests.conftest import TINY, make_toy_frame, make_toy_schema


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A release folder holding a tiny dp-vae ``model/`` and its card."""
    release = tmp_path_factory.mktemp("release")
    model = registry.create("dp-vae", make_toy_schema(), **TINY)
    model.fit(make_toy_frame(n=300), budget=PrivacyBudget(2.0, 1e-5), random_state=3, progress=False)
    model.save(release / "model")
    model.privacy_card().write(release / CARD_FILE)
    return release


def copy_release(bundle, tmp_path, *, card=True):
    release = tmp_path / "release"
    shutil.copytree(bundle / "model", release / "model")
    if card:
        shutil.copy2(bundle / CARD_FILE, release / CARD_FILE)
    return release


def test_epsilon_comes_from_the_card_beside_the_model(bundle, tmp_path):
    result = sample_bundle(model_dir=bundle / "model", rows=5, out=tmp_path / "s.csv")
    card = json.loads((bundle / CARD_FILE).read_text())
    assert (result.epsilon, result.delta) == (card["epsilon"], card["delta"])
    assert result.epsilon_source == str(bundle / CARD_FILE) and result.notes == ()
    assert result.records == 5 == len(pd.read_csv(result.synthetic_path)) and result.generator == "dp-vae"


def test_without_a_card_epsilon_comes_from_the_model_ledger(bundle, tmp_path):
    release = copy_release(bundle, tmp_path, card=False)
    result = sample_bundle(model_dir=release / "model", rows=5, out=tmp_path / "s.csv")
    assert result.epsilon_source == "the model's ledger" and 0 < result.epsilon <= 2.0


def test_a_card_of_another_model_is_not_claimed(bundle, tmp_path):
    release = copy_release(bundle, tmp_path)
    card = json.loads((release / CARD_FILE).read_text())
    card["schema_sha256"] = "0" * 64
    (release / CARD_FILE).write_text(json.dumps(card))
    result = sample_bundle(model_dir=release / "model", rows=5, out=tmp_path / "s.csv")
    assert result.epsilon_source == "the model's ledger"
    assert len(result.notes) == 1 and "is not this model's (its schema fingerprint differs)" in result.notes[0]


@pytest.mark.parametrize("out, fmt, message", [
    ("s.parquet", "csv", "--format csv writes '.csv' files, but --out is"),
    ("s.npz", None, "unsupported file extension '.npz'"),
    ("s.csv", "npz", "this model makes tabular data: --format must be one of csv, parquet (got 'npz')"),
])
def test_output_format_errors(bundle, tmp_path, out, fmt, message):
    with pytest.raises(DpsynthError) as info:
        sample_bundle(model_dir=bundle / "model", rows=5, out=tmp_path / out, fmt=fmt)
    assert message in str(info.value)


def test_a_bundle_without_weights_is_a_clear_error(bundle, tmp_path):
    release = copy_release(bundle, tmp_path)
    (release / "model" / "weights.pt").unlink()
    with pytest.raises(DpsynthError, match=r"weights\.pt' is listed in the manifest but missing"):
        sample_bundle(model_dir=release / "model", rows=5, out=tmp_path / "s.csv")
    assert not (tmp_path / "s.csv").exists()

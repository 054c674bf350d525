"""`dpsynth.verify` and model loading refuse a bundle whose files, ledger or card do not hold.

Each tamper case edits a real release; the "forged" ones also rewrite the manifests, as a
careless script (or a forger) would, so only the privacy checks can catch them.
"""

import json
import math
import shutil

import pytest

from dpsynth.bundle import BundleError, write_manifest
from dpsynth.errors import DataReadError, DpsynthError
from dpsynth.generator import DPGenerator
from dpsynth.pipeline import generate
from dpsynth.privacy.card import CARD_FILE
from dpsynth.privacy.recheck import recheck_ledger
from dpsynth.verify import verify
from tests.conftest import TINY, make_toy_frame, make_toy_schema


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    out = tmp_path_factory.mktemp("verify") / "release"
    generate(data=make_toy_frame(n=300), schema=make_toy_schema(), generator="dp-vae", epsilon=1.0, out_dir=out,
             params=TINY | {"condition_share": 0.05}, progress=False)  # Laplace counts too: every kind of entry
    return out


@pytest.fixture
def copy(release, tmp_path):
    return shutil.copytree(release, tmp_path / "release")


def edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def reseal(release):
    """Rewrite both manifests after an edit, so the checksums agree with the edited files."""
    write_manifest(release / "model", kind="model")
    write_manifest(release, kind="release")


def test_an_untouched_release_verifies_and_its_epsilon_is_recomputed(release):
    result = verify(release)
    card = json.loads((release / CARD_FILE).read_text())
    assert result.kind == "release" and result.private
    assert math.isclose(result.epsilon, card["epsilon"]) and result.delta == card["delta"]
    assert verify(release / "model").kind == "model"


def dpsgd_entry(config):
    return next(e for e in config["ledger"]["entries"] if e["mechanism"] == "dp-sgd")


FORGED = {
    "emptied ledger": (lambda c: c["ledger"].update(entries=[]), "0 training entries"),
    "ε of training lowered": (lambda c: dpsgd_entry(c).update(epsilon=0.01), "records ε = 0.01, but its parameters"),
    "σ raised": (lambda c: dpsgd_entry(c)["params"]["history"][0].__setitem__(0, 50.0), "but its parameters give"),
    "steps lowered": (lambda c: dpsgd_entry(c)["params"]["history"][0].__setitem__(2, 1), "but its parameters give"),
    "clip norm changed": (lambda c: c["params"].update(max_grad_norm=100.0), "records max_grad_norm"),
    "batch by cohort size, off its ladder": (lambda c: c["params"].update(batch_size=None), "records batch_size = 64"),
    "not Poisson": (lambda c: dpsgd_entry(c)["params"].update(sampling="shuffle"), "not 'poisson'"),
    "a second DP-SGD run": (lambda c: (c["ledger"]["budget"].update(epsilon=10.0, delta=1e-4),
                                       c["ledger"]["entries"].append(dict(dpsgd_entry(c)))),
                            r"3 training entries \(marginal-measurements, dp-sgd, dp-sgd\)"),
    "counts' noise lowered": (
        lambda c: next(e for e in c["ledger"]["entries"] if e["mechanism"] == "laplace-histogram")["params"]
        .update(noise_scale=0.001), "but its parameters give"),
}


@pytest.mark.parametrize("case", FORGED)
def test_a_forged_model_ledger_is_refused_by_verify_and_by_load(copy, case):
    change, match = FORGED[case]
    edit_json(copy / "model" / "config.json", change)
    reseal(copy)
    with pytest.raises(BundleError, match=f"config.json' fails its privacy check: .*{match}"):
        verify(copy)
    with pytest.raises(BundleError, match=match):
        DPGenerator.load(copy / "model")


@pytest.mark.parametrize("change, match", [
    (lambda c: c.update(epsilon=0.1), "the card says ε = 0.1, the ledger adds up to"),
    (lambda c: c.update(delta=1e-9), "the card says δ"),
    (lambda c: c.update(generator="dp-gan"), "the generator differs"),
    (lambda c: c.update(schema_sha256="0" * 64), "the schema fingerprint differs"),
    (lambda c: c["ledger"].pop(), "the ledger entries differ"),
])
def test_a_card_that_disagrees_with_its_model_is_refused(copy, change, match):
    edit_json(copy / CARD_FILE, change)
    reseal(copy)
    with pytest.raises(BundleError, match=match):
        verify(copy)


def test_a_private_card_without_its_model_is_refused(copy):
    shutil.rmtree(copy / "model")
    write_manifest(copy, kind="release")
    with pytest.raises(BundleError, match="says the release is private, but .*model.* is missing"):
        verify(copy)


@pytest.mark.parametrize("found, match", [(999, "has bundle format 999; .*upgrade dpsynth"),
                                          (1, "older dpsynth .*fit and save it again")])
def test_an_unknown_or_old_format_is_refused(copy, found, match):
    edit_json(copy / "model" / "config.json", lambda c: c.update(bundle_format=found))
    with pytest.raises(BundleError, match=match):
        DPGenerator.load(copy / "model")


def test_corrupt_weights_name_the_file_and_never_advise_unsafe_loading(copy):
    weights = copy / "model" / "weights.pt"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(BundleError, match="weights.pt' does not match its SHA-256"):
        DPGenerator.load(copy / "model")
    reseal(copy)  # checksums now agree: torch itself must fail, with our message
    with pytest.raises(DataReadError, match="weights.pt' cannot be loaded") as caught:
        DPGenerator.load(copy / "model")
    assert "weights_only" not in str(caught.value)


def test_verify_names_a_folder_that_is_not_one(tmp_path):
    with pytest.raises(DpsynthError, match="is not a folder"):
        verify(tmp_path / "nope")


def test_recheck_accepts_a_real_ledger_and_reads_a_broken_one_as_a_problem(release):
    config = json.loads((release / "model" / "config.json").read_text())
    assert recheck_ledger(config["ledger"]) == []
    assert "cannot be read" in recheck_ledger({"budget": None})[0]

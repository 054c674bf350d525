"""The typed privacy card (docs/privacy.md, rule 6): the JSON layout round-trips exactly, anything that is not a
card is refused naming its source, and `describe` states the guarantee in words."""

import json
import math

import pytest

from dpsynth.errors import DataReadError, DpsynthError
from dpsynth.pipeline import generate
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.card import (
    CARD_FILE,
    INFINITY,
    CardError,
    PrivacyCard,
    SamplingNote,
    non_private_card,
    privacy_card,
    write_card,
)
from dpsynth.privacy.ledger import LedgerEntry, PrivacyLedger
from dpsynth.privacy.marginals import plan_marginals
from tests.conftest import make_toy_frame, make_toy_schema

TINY = {"epochs": 1, "batch_size": 64, "hidden": (16,), "latent_dim": 4, "n_bins": 8}
# The layout of card_version 1 as the writers produced it before the card was typed (key order too).
PRIVATE_KEYS = ["card_version", "private", "epsilon", "delta", "budget", "accountant", "composition", "adjacency",
                "privacy_unit", "generator", "dp_sgd", "ledger", "schema_sha256", "seed", "secure_mode",
                "randomness", "versions", "created", "notes", "training", "delta_source", "rows_released",
                "synthetic_file", "sampling"]
REFERENCE_KEYS = ["card_version", "private", "epsilon", "delta", "accountant", "generator", "schema_sha256", "seed",
                  "versions", "created", "notes", "reference", "rows_released", "rows_source", "synthetic_file",
                  "model"]
MECHANISMS = ("laplace-histogram", "dp-bounds", "laplace-partition-selection", "dp-sgd")


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A real tiny fit, released by the pipeline with a rebalanced sample: (result, JSON on disk)."""
    out = tmp_path_factory.mktemp("release")
    result = generate(data=make_toy_frame(n=300), schema=make_toy_schema(), generator="dp-vae", epsilon=2.0,
                      rows=40, seed=3, out_dir=out, params=TINY, rebalance={"race": "equal"}, progress=False)
    return result, json.loads((out / CARD_FILE).read_text())


def reference_card() -> PrivacyCard:
    return non_private_card(generator="sdv-tvae", schema_fingerprint="ab" * 32, seed=4, packages=("sdv",),
                            reference={"library": "sdv", "synthesizer": "TVAESynthesizer", "params": {"epochs": 1}}
                            ).with_release(rows_released=300, rows_source="user", synthetic_file="synthetic.csv",
                                           model="not saved (not private)")


def four_mechanism_card() -> PrivacyCard:
    """A card whose ledger holds every mechanism dpsynth runs on private data."""
    ledger = PrivacyLedger(PrivacyBudget(3.0, 1e-5), privacy_unit="subject ('pid'): all rows of a subject are one unit")
    ledger.charge(LedgerEntry("laplace-histogram", "condition counts (target × sensitive groups)", 0.1, 0.0,
                              {"cells": 12, "sensitivity": 1.0, "noise_scale": 10.0}))
    ledger.charge(LedgerEntry("dp-bounds", "bounds of column 'age'", 0.2, 0.0, {"sensitivity": 1.0}))
    ledger.charge(LedgerEntry("laplace-partition-selection", "categories of column 'race'", 0.2, 1e-7,
                              {"threshold": 80.0, "noise_scale": 5.0}))
    ledger.charge(LedgerEntry("dp-sgd", "train dp-gan (DP-SGD)", 2.4, 9e-6, {
        "noise_multiplier": 1.25, "sample_rate": 0.05, "steps": 300, "max_grad_norm": 1.0, "accountant": "rdp",
        "batch_size": 64, "history": [[1.25, 0.05, 300]], "sampling": "poisson"}))
    return privacy_card(ledger=ledger, generator="dp-gan", schema_fingerprint="cd" * 32, seed=11, secure_mode=False,
                        training={"epochs": 30})


# ------------------------------------------------------------------- round trip
def test_a_released_card_round_trips_to_the_same_json(release):
    result, on_disk = release
    assert isinstance(result.card, PrivacyCard) and result.card.to_dict() == on_disk
    assert list(on_disk) == PRIVATE_KEYS
    again = PrivacyCard.from_dict(on_disk)
    assert again == result.card and again.to_dict() == on_disk
    assert PrivacyCard.read(result.card_path) == PrivacyCard.read(result.card_path.parent) == result.card


def test_typed_fields_of_a_released_card(release):
    card = release[0].card
    (run,) = card.dp_sgd
    assert card.private and card.epsilon == pytest.approx(sum(e.epsilon for e in card.ledger)) and card.epsilon <= 2
    assert card.accountant == (run.accountant, "zcdp") and run.steps > 0 and run.history[0][0] == run.noise_multiplier
    assert card.budget == PrivacyBudget(2.0, card.delta) and card.generator == "dp-vae" and card.seed == 3
    assert card.rows_released == 40 == len(release[0].synthetic) and card.synthetic_file == "synthetic.csv"
    assert card.sampling == SamplingNote(rebalance={"race": "equal"}) and card.randomness.public_seed == 3
    assert card.schema_sha256 == make_toy_schema().fingerprint() and "power of ten" in card.delta_source


def test_a_card_names_the_accounting_of_marginal_measurements():
    """A fit without DP-SGD still names how its ε was accounted (zCDP for the marginal family)."""
    plan = plan_marginals(epsilon=1.0, delta=1e-5, shares={"one-way": 0.5, "selection": 0.5})
    ledger = PrivacyLedger(PrivacyBudget(1.0, 1e-5), privacy_unit="row")
    ledger.charge(plan.ledger_entry("noisy marginals"))
    card = privacy_card(ledger=ledger, generator="dp-marginal", schema_fingerprint="ab" * 32, seed=0,
                        secure_mode=False)
    assert card.accountant == ("zcdp",) and card.dp_sgd == ()
    assert PrivacyCard.from_dict(card.to_dict()) == card
    text = card.describe()  # its randomness line names no DP-SGD it did not run
    assert "DP-SGD" not in text and "initial weights" not in text
    assert "noise of every DP mechanism come from OS entropy" in text and "Mechanisms' sampler: OpenDP" in text


def test_a_not_private_card_round_trips_with_epsilon_written_as_inf(tmp_path):
    card = reference_card()
    data = card.to_dict()
    assert list(data) == REFERENCE_KEYS and data["epsilon"] == INFINITY and card.epsilon == math.inf
    assert data["accountant"] is None and data["versions"]["sdv"]
    path = card.write(tmp_path / CARD_FILE)
    text = path.read_text()
    assert "Infinity" not in text and json.loads(text) == data
    assert PrivacyCard.read(path) == card and PrivacyCard.from_dict(data).to_dict() == data


def test_write_card_checks_a_mapping_first(tmp_path):
    data = reference_card().to_dict()
    assert PrivacyCard.read(write_card(data, tmp_path / "a.json")) == PrivacyCard.from_dict(data)
    with pytest.raises(CardError, match="has no 'private'"):
        write_card({"epsilon": 1.0}, tmp_path / "b.json")
    assert not (tmp_path / "b.json").exists()


# ------------------------------------------------------------------- not a card
@pytest.mark.parametrize("spec, message", [
    ([1, 2], "holds a JSON list, not an object"),
    ({"private": True}, "has no 'epsilon'"),
    ({"epsilon": 1.0}, "has no 'private'"),
    ({"card_version": 2, "private": True, "epsilon": 1.0}, "card_version 2 is unknown"),
    ({"private": True, "epsilon": 1.0, "budgett": {}}, "unknown key\\(s\\) 'budgett'"),
    ({"private": "yes", "epsilon": 1.0}, "bad 'private'"),
    ({"private": True, "epsilon": "lots"}, "bad 'epsilon'"),
    ({"private": True, "epsilon": 1.0, "budget": {"epsilon": -1, "delta": 1e-5}}, "bad 'budget'"),
    ({"private": True, "epsilon": 1.0, "ledger": [{"mechanism": "dp-sgd"}]}, "bad 'ledger'"),
])
def test_what_is_not_a_card_is_refused_naming_its_source(spec, message):
    with pytest.raises(CardError, match=message) as caught:
        PrivacyCard.from_dict(spec, source="upload.json")
    assert str(caught.value).startswith("'upload.json' is not a privacy card: ")
    assert isinstance(caught.value, DpsynthError)


def test_unreadable_and_non_json_files_name_the_path(tmp_path):
    with pytest.raises(DataReadError, match="cannot read privacy card '.*missing.json'"):
        PrivacyCard.read(tmp_path / "missing.json")
    (tmp_path / "notes.txt").write_text("epsilon: 1\n")
    with pytest.raises(CardError, match="'.*notes.txt' is not a privacy card: it is not JSON"):
        PrivacyCard.read(tmp_path / "notes.txt")
    (tmp_path / "audit.json").write_text(json.dumps({"records": []}))
    with pytest.raises(CardError, match="'.*audit.json' is not a privacy card: it has no 'private'"):
        PrivacyCard.read(tmp_path / "audit.json")


# ------------------------------------------------------------------- in words
def test_describe_states_the_guarantee_the_unit_and_every_ledger_mechanism():
    card = four_mechanism_card()
    text = card.describe()
    assert text.startswith("This release is differentially private: ε = 2.90, δ = 9.1e-06")
    assert "at most e^2.9 ≈ 18 times more (or less) likely" in text
    assert "subject ('pid'): all rows of a subject are one unit" in text
    for entry in card.ledger:
        line = next(row for row in text.splitlines() if f"({entry.mechanism})" in row)
        assert entry.purpose in line and f"ε = {entry.epsilon:.2f}" in line
    assert "σ = 1.25, clip C = 1, sample rate q = 0.05, 300 steps" in text and "RDP accountant" in text
    assert "cd" * 32 in text and "Not covered" in text and "The seed (11) drives only" in text
    assert "OS entropy" in text and "Generated by dp-gan with dpsynth" in text
    assert "DP-SGD noise and Poisson sampling" in text and "DP-SGD sampler: torch generators" in text
    assert "NOT PRIVATE" not in text


def test_describe_a_released_card_names_its_files_and_rebalance(release):
    text = release[0].card.describe()
    assert "the synthetic data (synthetic.csv, 40 records)" in text and "subgroup shares (race: equal)" in text
    assert all(f"({m})" in text for m in ("marginal-measurements", "dp-sgd"))


def test_describe_a_reference_says_not_private_first():
    text = reference_card().describe()
    assert text.splitlines()[0] == "NOT PRIVATE (ε = ∞): do not release."
    assert "differentially private:" not in text and "'sdv-tvae' was trained without differential privacy" in text


def test_describe_survives_a_huge_epsilon():
    ledger = PrivacyLedger(PrivacyBudget(1000.0, 1e-5))
    ledger.charge(LedgerEntry("laplace-histogram", "condition counts", 1000.0, 0.0, {}))
    card = privacy_card(ledger=ledger, generator="dp-vae", schema_fingerprint="ef" * 32, seed=0, secure_mode=True)
    assert "e^1e+03 ≈ 10^434 times" in card.describe()
    assert "secure_mode" not in card.describe()  # no DP-SGD ran, so its sampler is not named

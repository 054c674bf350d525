"""`dpsynth verify`: is this folder the complete, unchanged output dpsynth wrote, and does its
privacy card tell the truth about its model?

For a release bundle: every file matches the manifest; the model folder passes
`DPGenerator.check_saved` (its own manifest, format, and a ledger whose every ε is re-derived
from its recorded parameters); and the card agrees with that ledger — the same generator,
schema fingerprint, budget, entries, and (ε, δ) recomputed by composition. A model folder or
an audit folder is checked as far as it goes. Loading a model for `dpsynth sample` runs the
same model checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from dpsynth import registry
from dpsynth.bundle import BundleError, verify_manifest
from dpsynth.errors import DataReadError
from dpsynth.generator import DPGenerator
from dpsynth.privacy.card import CARD_FILE, PrivacyCard
from dpsynth.privacy.ledger import PrivacyLedger

NOT_A_FOLDER = "'{path}' is not a folder; pass the release (or model/audit) folder dpsynth wrote"
CARD_DISAGREES = "'{card}' disagrees with the model's ledger in '{config}': {what}; do not release this bundle"


@dataclass(frozen=True)
class Verification:
    folder: Path
    kind: str  # "release", "model" or "audit"
    files: int
    private: bool | None  # None for an audit folder
    epsilon: float | None  # recomputed from the ledger (∞ for a NOT PRIVATE release)
    delta: float | None


def verify(path: str | Path) -> Verification:
    """Check the folder at ``path``; a `BundleError` (or `DataReadError`) names the first file
    that fails."""
    folder = Path(path)
    if not folder.is_dir():
        raise DataReadError(NOT_A_FOLDER.format(path=folder))
    manifest = verify_manifest(folder)
    kind, files = manifest.get("kind"), len(manifest["files"])
    if kind == "audit":
        return Verification(folder, "audit", files, None, None, None)
    if kind == "model":
        epsilon, delta = _model_budget(folder)
        return Verification(folder, "model", files, True, epsilon, delta)
    if kind != "release":
        raise BundleError(f"'{folder / 'manifest.json'}' names an unknown kind of folder: {kind!r}")
    card = PrivacyCard.read(folder / CARD_FILE)
    if card.synthetic_file and not (folder / card.synthetic_file).exists():
        raise BundleError(f"'{folder / card.synthetic_file}', the synthetic data the card names, is missing")
    if not card.private:
        return Verification(folder, "release", files, False, math.inf, None)
    model = folder / "model"
    if not (model / "config.json").is_file():
        raise BundleError(f"'{folder / CARD_FILE}' says the release is private, but '{model}' (its model, which "
                          "carries the ledger the card must agree with) is missing")
    epsilon, delta = _model_budget(model, card=card, card_path=folder / CARD_FILE)
    return Verification(folder, "release", files, True, epsilon, delta)


def _model_budget(model: Path, *, card: PrivacyCard | None = None,
                  card_path: Path | None = None) -> tuple[float, float]:
    """(ε, δ) of the model's checked ledger; with a card, check the card agrees with it."""
    config = DPGenerator.check_saved(model)
    ledger = PrivacyLedger.from_dict(config["ledger"])
    epsilon, delta = ledger.spent()
    if card is None:
        return epsilon, delta
    schema = registry.get(config["generator"]).cls.schema_type.from_dict(config["schema"])
    checks = [
        ("the generator", card.generator, config["generator"]),
        ("the schema fingerprint", card.schema_sha256, schema.fingerprint()),
        ("the budget", card.budget.to_dict() if card.budget else None, ledger.budget.to_dict()),
        ("the ledger entries", [e.to_dict() for e in card.ledger], [e.to_dict() for e in ledger.entries]),
    ]
    for what, on_card, in_model in checks:
        if on_card != in_model:
            raise BundleError(CARD_DISAGREES.format(card=card_path, config=model / "config.json",
                                                    what=f"{what} differs"))
    for name, on_card, spent in (("ε", card.epsilon, epsilon), ("δ", card.delta, delta)):
        if on_card is None or not math.isclose(on_card, spent, rel_tol=1e-9, abs_tol=1e-12):
            raise BundleError(CARD_DISAGREES.format(
                card=card_path, config=model / "config.json",
                what=f"the card says {name} = {on_card}, the ledger adds up to {name} = {spent:.6g}"))
    return epsilon, delta

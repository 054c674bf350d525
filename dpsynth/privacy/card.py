"""The privacy card: a JSON file released beside every synthetic dataset (rule 6).

It states the guarantee (ε, δ, accountant, adjacency, privacy unit), every ledger entry,
the DP-SGD parameters (clip norm, noise multiplier, sample rate, steps), the schema hash,
package versions and the seed of the public randomness — never anything that regenerates
the private noise (rule 9). It holds no statistic of the private data beyond the DP
outputs already on the ledger.
"""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from dpsynth.privacy.ledger import PrivacyLedger

CARD_VERSION = 1
_PACKAGES = ("dpsynth", "torch", "opacus", "opendp", "numpy", "pandas", "scikit-learn")


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Python's and the installed versions of dpsynth's stack plus ``extra`` packages."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES + tuple(extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def randomness_note(seed: int | None, *, secure_mode: bool) -> dict[str, Any]:
    """What the card's seed does and does not drive (privacy contract, rule 9)."""
    return {
        "public_seed": seed,
        "seed_drives": "the initial weights and sampling from the trained model (public randomness)",
        "private_randomness": (
            "DP-SGD noise and Poisson sampling, the row subsample of each privacy unit, the random "
            "draws of the training loss and the noise of every DP mechanism come from OS entropy at "
            "fit time; they are not derived from the seed, not stored and not printed"),
        "mechanism_sampler": "OpenDP (OS CSPRNG, floating-point-safe)",
        "dp_sgd_sampler": ("opacus secure_mode (CSPRNG)" if secure_mode
                           else "torch generators seeded with 64 bits of OS entropy"),
    }


def privacy_card(
    *,
    ledger: PrivacyLedger,
    generator: str,
    schema_fingerprint: str,
    seed: int | None,
    secure_mode: bool,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the card from the ledger (the single source of the ε that is printed)."""
    eps, delta = ledger.spent()
    dpsgd = [e for e in ledger.entries if e.mechanism == "dp-sgd"]
    card: dict[str, Any] = {
        "card_version": CARD_VERSION,
        "private": True,
        "epsilon": eps,
        "delta": delta,
        "budget": {"epsilon": ledger.budget.epsilon, "delta": ledger.budget.delta},
        "accountant": sorted({e.params["accountant"] for e in dpsgd}) or None,
        "composition": "basic (sequential) composition over ledger entries",
        "adjacency": "add/remove one privacy unit",
        "privacy_unit": ledger.privacy_unit,
        "generator": generator,
        "dp_sgd": [
            {k: e.params[k] for k in ("noise_multiplier", "max_grad_norm", "sample_rate", "steps",
                                      "batch_size", "sampling", "history")}
            | {"epsilon": e.epsilon, "delta": e.delta, "accountant": e.params["accountant"]}
            for e in dpsgd
        ],
        "ledger": ledger.to_dict()["entries"],
        "schema_sha256": schema_fingerprint,
        "seed": seed,
        "secure_mode": secure_mode,
        "randomness": randomness_note(seed, secure_mode=secure_mode),
        "versions": package_versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "notes": [
            "The synthetic data and model weights are post-processing of the DP mechanisms above.",
            "No training rows and no non-DP statistics of the private data are in the release "
            "(not even the exact row count or the number of clipped values).",
            "The DP-SGD sample rate q = 1/ceil(n/batch_size) reveals the number of privacy units to "
            "within one batch; like standard DP-SGD accounting, dpsynth treats that size as public.",
        ],
    }
    if extra:
        card.update(extra)
    return card


def non_private_card(*, generator: str, schema_fingerprint: str, seed: int | None,
                     packages: tuple[str, ...] = (), extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Card for reference generators trained without DP: ε = ∞, stated plainly.

    ``epsilon`` is the string ``"inf"`` (JSON has no infinity); ``packages`` adds the
    versions of the reference's own libraries (e.g. SDV) to ``versions``.
    """
    card: dict[str, Any] = {
        "card_version": CARD_VERSION, "private": False, "epsilon": "inf", "delta": 1.0, "accountant": None,
        "generator": generator, "schema_sha256": schema_fingerprint, "seed": seed,
        "versions": package_versions(packages),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "notes": [
            "NOT PRIVATE: this generator was trained without differential privacy (ε = ∞). Do not release.",
            "A reference for comparison only: it shows what the DP generators give up on the same data.",
            "Its synthetic rows may reproduce training records.",
        ],
    }
    if extra:
        card.update(extra)
    return card


def write_card(card: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(card, indent=2, default=float) + "\n")
    return path

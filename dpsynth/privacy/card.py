"""The privacy card: a JSON file released beside every synthetic dataset (docs/privacy.md, rule 6).

It states the guarantee (ε, δ, accountant, adjacency, privacy unit), every ledger entry,
the DP-SGD parameters (clip norm, noise multiplier, sample rate, steps), the schema hash,
package versions and the seed of the public randomness — never anything that regenerates
the private noise (docs/privacy.md, rule 9). It holds no statistic of the private data beyond the DP
outputs already on the ledger.

`PrivacyCard` is the one typed card: the builders (`privacy_card`, `non_private_card`)
return it, the release adds what it wrote (`PrivacyCard.with_release`), `write`/`read`
keep the JSON layout of ``card_version`` 1, and `PrivacyCard.describe` says it in words.
"""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import dpsynth
from dpsynth.errors import DataReadError, DpsynthError
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.ledger import LedgerEntry, PrivacyLedger

CARD_VERSION = 1
CARD_FILE = "privacy_card.json"
INFINITY = "inf"  # JSON has no infinity: a NOT PRIVATE card's ε = ∞ is written as this string
_PACKAGES = ("dpsynth", "torch", "opacus", "opendp", "numpy", "pandas", "scikit-learn")

UNREADABLE_CARD = "cannot read privacy card '{source}': {reason}"
NOT_A_CARD = "'{source}' is not a privacy card: {reason}"
NOT_AN_OBJECT = "it holds a JSON {kind}, not an object"
NOT_JSON = "it is not JSON ({error})"
MISSING_KEY = "it has no '{key}' (every card states 'private' and 'epsilon')"
UNKNOWN_VERSION = "card_version {version!r} is unknown to this dpsynth, which reads version {known}"
UNKNOWN_KEYS = "unknown key(s) {keys} for card_version {known}"
BAD_FIELD = "bad '{key}': {error}"

PRIVATE_NOTES = (
    "The synthetic data and model weights are post-processing of the DP mechanisms above.",
    "No training rows and no non-DP statistics of the private data are in the release "
    "(not even the exact row count or the number of clipped values).",
    "The DP-SGD sample rate q = 1/ceil(n/batch_size) reveals the number of privacy units to "
    "within one batch; like standard DP-SGD accounting, dpsynth treats that size as public.",
)
NOT_PRIVATE_NOTES = (
    "NOT PRIVATE: this generator was trained without differential privacy (ε = ∞). Do not release.",
    "A reference for comparison only: it shows what the DP generators give up on the same data.",
    "Its synthetic rows may reproduce training records.",
)
COMPOSITION = "basic (sequential) composition over ledger entries"
ADJACENCY = "add/remove one privacy unit"
REBALANCE_NOTE = "subgroup shares set by re-weighting the DP condition counts (post-processing)"


class CardError(DpsynthError, ValueError):
    """A file or mapping that is not a privacy card this dpsynth reads."""


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Python's and the installed versions of dpsynth's stack plus ``extra`` packages (dpsynth's own
    from ``dpsynth.__version__``, the single source, not from possibly stale install metadata)."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES + tuple(extra):
        try:
            out[name] = dpsynth.__version__ if name == "dpsynth" else metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass(frozen=True)
class RandomnessNote:
    """What the card's seed does and does not drive (docs/privacy.md, rule 9)."""

    public_seed: int | None
    seed_drives: str
    private_randomness: str
    mechanism_sampler: str
    dp_sgd_sampler: str


NO_DP_SGD = "none (no DP-SGD in this fit)"


def randomness_note(seed: int | None, *, secure_mode: bool, dp_sgd: bool = True) -> RandomnessNote:
    """The card's randomness note for a fit with public ``seed``; ``dp_sgd``: whether the fit
    ran DP-SGD (a family that only measures, e.g. noisy marginals, has no network to train)."""
    trained = ("DP-SGD noise and Poisson sampling, the row subsample of each privacy unit, the random "
               "draws of the training loss" if dp_sgd else "the row subsample of each privacy unit")
    return RandomnessNote(
        public_seed=seed,
        seed_drives=("the initial weights and sampling from the trained model" if dp_sgd
                     else "sampling from the fitted model") + " (public randomness)",
        private_randomness=(f"{trained} and the noise of every DP mechanism come from OS entropy at fit time; "
                            "they are not derived from the seed, not stored and not printed"),
        mechanism_sampler="OpenDP (OS CSPRNG, floating-point-safe)",
        dp_sgd_sampler=(NO_DP_SGD if not dp_sgd else "opacus secure_mode (CSPRNG)" if secure_mode
                        else "torch generators seeded with 64 bits of OS entropy"),
    )


@dataclass(frozen=True)
class DPSGDRun:
    """One DP-SGD run as the card lists it: σ, clip C, sample rate q, steps, its (ε, δ)."""

    noise_multiplier: float
    max_grad_norm: float
    sample_rate: float
    steps: int
    batch_size: int
    sampling: str
    history: tuple[tuple[float, float, int], ...]  # opacus' (σ, q, steps) per phase
    epsilon: float
    delta: float
    accountant: str

    @classmethod
    def of(cls, entry: LedgerEntry) -> DPSGDRun:
        """The run behind a ``dp-sgd`` ledger entry."""
        p = entry.params
        return cls(noise_multiplier=p["noise_multiplier"], max_grad_norm=p["max_grad_norm"],
                   sample_rate=p["sample_rate"], steps=p["steps"], batch_size=p["batch_size"],
                   sampling=p["sampling"], history=tuple(tuple(h) for h in p["history"]),
                   epsilon=entry.epsilon, delta=entry.delta, accountant=p["accountant"])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"history": [list(h) for h in self.history]}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DPSGDRun:
        return cls(**{**raw, "history": tuple(tuple(h) for h in raw["history"])})


@dataclass(frozen=True)
class SamplingNote:
    """How the released rows were drawn from the model beyond its defaults (post-processing)."""

    rebalance: Mapping[str, Any]  # `dpsynth.privacy.rebalance.describe` of the request
    note: str = REBALANCE_NOTE


@dataclass(frozen=True, kw_only=True)
class PrivacyCard:
    """Everything a release states about its privacy, one field per key of the JSON file.

    ``epsilon`` is ``math.inf`` on a NOT PRIVATE card (written as the string "inf").
    Fields after ``notes`` are added by the modality (``training``), a reference
    (``reference``) or the release (`with_release`); absent ones are not written.
    """

    card_version: int = CARD_VERSION
    private: bool
    epsilon: float
    delta: float | None = None
    # budget, composition, adjacency, privacy_unit, dp_sgd, ledger, secure_mode, randomness:
    # written on private cards only (`_PRIVATE_ONLY`)
    budget: PrivacyBudget | None = None
    accountant: tuple[str, ...] | None = None
    composition: str | None = None
    adjacency: str | None = None
    privacy_unit: str | None = None
    generator: str | None = None
    dp_sgd: tuple[DPSGDRun, ...] = ()
    ledger: tuple[LedgerEntry, ...] = ()
    schema_sha256: str | None = None
    seed: int | None = None
    secure_mode: bool | None = None
    randomness: RandomnessNote | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    created: str | None = None  # ISO 8601, UTC, to the second
    notes: tuple[str, ...] = ()
    # added by the generator kind
    training: Mapping[str, Any] | None = None  # the DP generator's training settings
    public_pretraining: Mapping[str, Any] | None = None  # non-private pretraining on public data (no ε)
    reference: Mapping[str, Any] | None = None  # a NOT PRIVATE reference's library and parameters
    # added by the release (`with_release`)
    delta_source: str | None = None
    rows_released: int | None = None
    rows_source: str | None = None
    synthetic_file: str | None = None
    model: str | None = None
    sampling: SamplingNote | None = None

    # ------------------------------------------------------------------ layout
    def with_release(self, *, rows_released: int, synthetic_file: str, delta_source: str | None = None,
                     rows_source: str | None = None, model: str | None = None,
                     sampling: SamplingNote | None = None) -> PrivacyCard:
        """This card plus what the release wrote: the number of rows, the synthetic file, ..."""
        return replace(self, rows_released=int(rows_released), synthetic_file=synthetic_file,
                       delta_source=delta_source, rows_source=rows_source, model=model, sampling=sampling)

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout of card_version 1 (key order included)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if (f.name in _PRIVATE_ONLY and not self.private) or (f.name not in _ALWAYS + _PRIVATE_ONLY
                                                                  and value is None):
                continue
            out[f.name] = _to_json(f.name, value)
        return out

    @classmethod
    def from_dict(cls, spec: Any, *, source: str | Path = "the card") -> PrivacyCard:
        """Parse a card's JSON object; `CardError` naming ``source`` for anything that is not one."""
        def fail(reason: str) -> CardError:
            return CardError(NOT_A_CARD.format(source=source, reason=reason))

        if not isinstance(spec, Mapping):
            raise fail(NOT_AN_OBJECT.format(kind=type(spec).__name__))
        for key in ("private", "epsilon"):
            if key not in spec:
                raise fail(MISSING_KEY.format(key=key))
        version = spec.get("card_version", CARD_VERSION)
        if version != CARD_VERSION or isinstance(version, bool):
            raise fail(UNKNOWN_VERSION.format(version=version, known=CARD_VERSION))
        unknown = sorted(set(spec) - {f.name for f in fields(cls)})
        if unknown:
            raise fail(UNKNOWN_KEYS.format(keys=", ".join(map(repr, unknown)), known=CARD_VERSION))
        values = {}
        for key, raw in spec.items():
            try:
                values[key] = _PARSERS.get(key, _same)(raw)
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                raise fail(BAD_FIELD.format(key=key, error=exc)) from None
        return cls(**values)

    @classmethod
    def read(cls, path: str | Path) -> PrivacyCard:
        """The card in ``path`` (a card file, or a release folder holding ``privacy_card.json``)."""
        path = Path(path)
        if path.is_dir():
            path = path / CARD_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataReadError(UNREADABLE_CARD.format(source=path, reason=getattr(exc, "strerror", None) or exc)) \
                from None
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CardError(NOT_A_CARD.format(source=path, reason=NOT_JSON.format(error=exc))) from None
        return cls.from_dict(spec, source=path)

    def write(self, path: str | Path) -> Path:
        """Write the card as strict JSON (ε = ∞ as "inf"); returns ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json() + "\n")
        return path

    def to_json(self) -> str:
        """`to_dict` as strict, indented JSON (what `write` puts in the file)."""
        return json.dumps(self.to_dict(), indent=2, default=float, allow_nan=False)

    # ------------------------------------------------------------------ words
    def describe(self) -> str:
        """The card in words, for a person deciding whether the release may leave the hospital."""
        return "\n".join(_describe_private(self) if self.private else _describe_not_private(self))


_ALWAYS = ("card_version", "private", "epsilon", "delta", "accountant", "generator", "schema_sha256", "seed",
           "versions", "created", "notes")
_PRIVATE_ONLY = ("budget", "composition", "adjacency", "privacy_unit", "dp_sgd", "ledger", "secure_mode",
                 "randomness")


def _to_json(name: str, value: Any) -> Any:
    if name == "epsilon":
        return INFINITY if value == math.inf else value
    if name == "dp_sgd":
        return [run.to_dict() for run in value]
    if name == "ledger":
        return [entry.to_dict() for entry in value]
    if isinstance(value, PrivacyBudget):
        return value.to_dict()
    if isinstance(value, (RandomnessNote, SamplingNote)):
        return asdict(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _same(raw: Any) -> Any:
    return raw


def _flag(raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise TypeError(f"expected true or false, got {raw!r}")
    return raw


def _epsilon(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise TypeError(f"expected a number or \"{INFINITY}\", got {raw!r}")
    value = float(raw)
    if math.isnan(value) or value < 0:
        raise ValueError(f"expected a number ≥ 0 or \"{INFINITY}\", got {raw!r}")
    return value


def _optional(parse):
    return lambda raw: None if raw is None else parse(raw)


def _strings(raw: Any) -> tuple[str, ...]:
    items = [raw] if isinstance(raw, str) else list(raw)  # an older shape: one accountant name
    if not all(isinstance(s, str) for s in items):
        raise TypeError(f"expected strings, got {raw!r}")
    return tuple(items)


_PARSERS = {
    "private": _flag,
    "epsilon": _epsilon,
    "delta": _optional(float),
    "budget": _optional(lambda raw: PrivacyBudget(**raw)),
    "accountant": _optional(_strings),
    "dp_sgd": lambda raw: tuple(DPSGDRun.from_dict(r) for r in raw),
    "ledger": lambda raw: tuple(LedgerEntry(**r) for r in raw),
    "secure_mode": _optional(_flag),
    "randomness": _optional(lambda raw: RandomnessNote(**raw)),
    "versions": lambda raw: dict(raw),
    "notes": _strings,
    "training": _optional(dict),
    "reference": _optional(dict),
    "public_pretraining": _optional(dict),
    "rows_released": _optional(int),
    "sampling": _optional(lambda raw: SamplingNote(**raw)),
}


# ---------------------------------------------------------------------- builders
def privacy_card(
    *,
    ledger: PrivacyLedger,
    generator: str,
    schema_fingerprint: str,
    seed: int | None,
    secure_mode: bool,
    training: Mapping[str, Any] | None = None,
    public_pretraining: Mapping[str, Any] | None = None,
) -> PrivacyCard:
    """Assemble the card from the ledger (the single source of the ε that is printed)."""
    eps, delta = ledger.spent()
    dpsgd = [e for e in ledger.entries if e.mechanism == "dp-sgd"]
    return PrivacyCard(
        private=True, epsilon=eps, delta=delta,
        budget=ledger.budget,
        accountant=tuple(sorted({e.params["accountant"] for e in ledger.entries if "accountant" in e.params})) or None,
        composition=COMPOSITION, adjacency=ADJACENCY, privacy_unit=ledger.privacy_unit, generator=generator,
        dp_sgd=tuple(DPSGDRun.of(e) for e in dpsgd), ledger=ledger.entries, schema_sha256=schema_fingerprint,
        seed=seed, secure_mode=secure_mode,
        randomness=randomness_note(seed, secure_mode=secure_mode, dp_sgd=bool(dpsgd)),
        versions=package_versions(), created=_now(), notes=PRIVATE_NOTES,
        training=dict(training) if training is not None else None,
        public_pretraining=dict(public_pretraining) if public_pretraining is not None else None,
    )


def non_private_card(*, generator: str, schema_fingerprint: str, seed: int | None,
                     packages: tuple[str, ...] = (), reference: Mapping[str, Any] | None = None) -> PrivacyCard:
    """Card for reference generators trained without DP: ε = ∞, stated plainly.

    ``packages`` adds the versions of the reference's own libraries (e.g. SDV) to
    ``versions``; ``reference`` says which library and parameters were used.
    """
    return PrivacyCard(
        private=False, epsilon=math.inf, delta=1.0, accountant=None, generator=generator,
        schema_sha256=schema_fingerprint, seed=seed, versions=package_versions(packages), created=_now(),
        notes=NOT_PRIVATE_NOTES, reference=dict(reference) if reference is not None else None,
    )


def write_card(card: PrivacyCard | Mapping[str, Any], path: str | Path) -> Path:
    """Write ``card`` (a mapping is checked by `PrivacyCard.from_dict` first) to ``path``."""
    if not isinstance(card, PrivacyCard):
        card = PrivacyCard.from_dict(card)
    return card.write(path)


def read_card(path: str | Path) -> PrivacyCard:
    """`PrivacyCard.read`: the card of a file or a release folder."""
    return PrivacyCard.read(path)


def as_card(card: PrivacyCard | Mapping[str, Any] | str | Path, *, source: str = "the card") -> PrivacyCard:
    """A `PrivacyCard` from a card, its JSON object, or the path of its file or release folder."""
    if isinstance(card, PrivacyCard):
        return card
    if isinstance(card, Mapping):
        return PrivacyCard.from_dict(card, source=source)
    return PrivacyCard.read(card)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------- words
MECHANISM_WORDS = {
    "dp-sgd": "DP-SGD training",
    "marginal-measurements": "noisy measurements (zCDP, OpenDP)",
    "laplace-histogram": "noisy counts",
    "dp-bounds": "learned bounds",
    "laplace-partition-selection": "learned categories",
}
DESCRIBED_VERSIONS = ("dpsynth", "torch", "opacus", "opendp", "sdv", "python")


def _number(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}g}"


def _odds(epsilon: float) -> str:
    """e^ε in words; beyond e^50 as a power of ten (math.exp overflows near 710)."""
    if epsilon <= 50:
        times = math.exp(epsilon)
        return f"{times:.2g}" if times < 10 else f"{times:,.0f}"
    return f"10^{epsilon / math.log(10):.0f}"


def _pair(epsilon: float, delta: float | None) -> str:
    return f"ε = {epsilon:.2f}" + (f", δ = {delta:.2g}" if delta else "")


def _entry_line(entry: LedgerEntry) -> str:
    words = MECHANISM_WORDS.get(entry.mechanism, entry.mechanism)
    head = f"  - {words} ({entry.mechanism}): {entry.purpose}"
    p = entry.params
    if entry.mechanism == "dp-sgd":
        detail = (f"noise multiplier σ = {_number(p['noise_multiplier'])}, clip C = {_number(p['max_grad_norm'])}, "
                  f"sample rate q = {_number(p['sample_rate'])}, {p['steps']} steps, "
                  f"{p.get('sampling', 'poisson')} sampling, {p['accountant'].upper()} accountant")
    elif entry.mechanism == "marginal-measurements":
        stages = ", ".join(f"{name} {_number(rho)}" for name, rho in p["stages"].items())
        detail = f"ρ = {_number(p['rho'])} (zCDP; {stages}), converted to (ε, δ) by OpenDP"
    else:
        shown = {k: v for k, v in p.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
        detail = ", ".join(f"{k.replace('_', ' ')} {_number(v) if isinstance(v, float) else v}"
                           for k, v in shown.items())
    return f"{head} — {detail}; {_pair(entry.epsilon, entry.delta)}" if detail else \
        f"{head}; {_pair(entry.epsilon, entry.delta)}"


def _versions(card: PrivacyCard) -> str:
    shown = [f"{name} {card.versions[name]}" for name in DESCRIBED_VERSIONS
             if card.versions.get(name) not in (None, "not installed")]
    return ", ".join(shown) or "unknown versions"


def _released(card: PrivacyCard) -> str:
    what = [f"the synthetic data ({card.synthetic_file}" + (f", {card.rows_released} records)"
                                                             if card.rows_released is not None else ")")
            if card.synthetic_file else "the synthetic data"]
    if card.private:
        what.append("the model weights")
    if card.sampling is not None:
        shares = ", ".join(f"{k}: {v}" for k, v in card.sampling.rebalance.items())
        what.append(f"the subgroup shares ({shares})")
    return ", ".join(what)


def _describe_private(card: PrivacyCard) -> list[str]:
    eps, delta = card.epsilon, card.delta or 0.0
    lines = [
        f"This release is differentially private: {_pair(eps, delta)} ({card.adjacency or ADJACENCY}).",
        f"ε = {_number(eps, 2)} means: for any one patient, whatever an attacker concludes from the release is "
        f"at most e^{_number(eps, 2)} ≈ {_odds(eps)} times more (or less) likely with that patient's records in "
        f"the training data than without them, except with probability δ = {delta:.2g}.",
        f"The privacy unit is the patient: {card.privacy_unit or 'not stated on this card'}.",
    ]
    if card.budget is not None:
        lines.append(f"Budget: {_pair(card.budget.epsilon, card.budget.delta)} allowed; spent "
                     f"{_pair(eps, delta)} by {card.composition or COMPOSITION}"
                     + (f"; δ chosen by {card.delta_source}" if card.delta_source else "") + ".")
        if card.budget.allow_large_delta:
            lines.append("The user switched off the check that δ is below 1/n (allow_large_delta): a δ that large "
                         "lets a mechanism publish a patient's record with probability δ, so this ε is a weak "
                         "guarantee.")
    lines.append(f"Covered (every mechanism that read the private data; {len(card.ledger)} ledger entr"
                 f"{'y' if len(card.ledger) == 1 else 'ies'}):")
    lines += [_entry_line(entry) for entry in card.ledger] or ["  - (no ledger entries on this card)"]
    lines.append(f"Post-processing of the above (no extra ε): {_released(card)}.")
    if card.public_pretraining:
        public = card.public_pretraining
        lines.append(f"Public pretraining (no ε: it read no private record): {public.get('steps')} non-private "
                     f"steps on {public.get('records')} records of {public.get('source')}; DP-SGD started from "
                     "those weights.")
    schema = f"its SHA-256 {card.schema_sha256}" if card.schema_sha256 else "its hash is not on this card"
    lines.append(f"Not covered: the public schema ({schema}; its bounds and categories are taken as public "
                 "knowledge, not learned from the data unless a ledger entry above says so), and anything "
                 "outside the release folder — other releases about the same patients add up their ε.")
    lines.append(_randomness_line(card))
    lines.append(f"Generated by {card.generator or 'an unnamed generator'} with {_versions(card)}"
                 + (f" on {card.created}" if card.created else "") + ".")
    return lines


def _randomness_line(card: PrivacyCard) -> str:
    note = card.randomness
    if note is None:
        return f"The seed ({card.seed}) drives only public randomness; the private noise is not derived from it."
    samplers = (f"DP-SGD sampler: {note.dp_sgd_sampler}; mechanisms: {note.mechanism_sampler}." if card.dp_sgd
                else f"Mechanisms' sampler: {note.mechanism_sampler}.")
    return f"The seed ({card.seed}) drives only {note.seed_drives}; {note.private_randomness}. {samplers}"


def _describe_not_private(card: PrivacyCard) -> list[str]:
    name = card.generator or "this generator"
    lines = [
        "NOT PRIVATE (ε = ∞): do not release.",
        f"'{name}' was trained without differential privacy: nothing bounds what its synthetic data reveal "
        "about any one patient, and its rows may reproduce training records.",
        "It is a reference for comparison only: it shows what the DP generators give up on the same data.",
    ]
    if card.synthetic_file:
        lines.append(f"Written: {_released(card)}" + (f"; rows: {card.rows_source}" if card.rows_source else "")
                     + (f"; model: {card.model}" if card.model else "") + ".")
    if card.reference:
        lines.append(f"Reference: {card.reference.get('library', '?')} {card.reference.get('synthesizer', '')}"
                     .rstrip() + ".")
    lines.append(f"Generated by {name} with {_versions(card)}" + (f" on {card.created}" if card.created else "")
                 + f" (seed {card.seed}).")
    return lines

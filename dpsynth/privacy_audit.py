"""One-run privacy audit of a DP generator (Steinke, Nasr & Jagielski, NeurIPS 2023).

`one_run_audit` inserts m canaries — random records inside the public schema, each its
own privacy unit (`DPGenerator.canary_units`) — into the data, each with probability ½
drawn secretly from OS entropy; fits the generator once with its own settings on data +
included canaries; scores every canary under the trained model
(`DPGenerator.membership_scores`: minus the family's per-unit loss, or a GAN
discriminator's realness); and turns the guesses "IN for the highest scores, OUT for the
lowest" into an empirical ε lower bound at 95 % confidence
(`dpsynth.privacy.one_run_audit`). The canaries pass through the whole fit, so the bound
is compared with the card's ε of that fit.

Privacy contract, rule 10: a lower bound above the card's ε contradicts the card — a bug
to stop the release for (`PrivacyAuditResult.contradicts_card`; the CLI exits non-zero).
A bound at or below it is evidence, not proof, that the card holds. The audit reads real
data, is not DP, trains a model that is thrown away, and is not a release (docs/privacy.md, rule 7).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dpsynth import registry
from dpsynth.errors import BudgetError, DpsynthError, SchemaError
from dpsynth.pipeline import WRONG_MODALITY, load_data, load_schema
from dpsynth.privacy.budget import PrivacyBudget, default_delta
from dpsynth.privacy.one_run_audit import GUESS_RULES, audit_scores, best_possible_bound
from dpsynth.privacy.randomness import secret_numpy_generator

MIN_CANARIES = 50
DEFAULT_CANARIES = 1000  # or the number of privacy units, if fewer
NOT_AN_AUDIT_TARGET = ("'{name}' is a NOT PRIVATE reference (ε = ∞): there is no DP claim to audit. "
                       "Choose a private generator: {choices}")
BAD_CANARIES = ("canaries must be a whole number >= {minimum} (got {value!r}): with fewer, too few guesses can "
                "be made for a lower bound. Use e.g. --canaries 1000")
TOO_MANY_CANARIES = ("canaries={m} is more than the data's {n} privacy units; the canaries (half of them "
                     "included, on average) must not outnumber the data they are audited with. Use --canaries {n} "
                     "or fewer, or audit on more data")
DATA_TOO_SMALL = ("the data has {n} privacy unit(s); the one-run audit needs at least {minimum} (one canary per "
                  "unit at most, and at least {minimum} canaries). Audit on a larger data set")
NOT_PUBLIC_SCHEMA = ("the one-run audit needs a fully public schema (its canaries are drawn inside the public "
                     "bounds and categories), but these values are not confirmed public: {fields}. Replace them "
                     "with public knowledge and set public: true (learning them with DP, --learn-domain-share, is "
                     "not supported by the audit)")
EPSILON_REQUIRED = "--epsilon (the privacy budget ε whose claim is audited) is required"
BAD_DRAWS = "draws must be a whole number >= 1 (score draws per canary; got {value!r})"
BAD_CONFIDENCE = "confidence must be in (0, 1), e.g. 0.95 (got {value!r})"
NOT_A_RELEASE = ("one-run privacy audit: uses real data and is not differentially private; not a release — keep "
                 "it apart from release bundles")


@dataclass
class PrivacyAuditResult:
    """What a one-run audit found; `to_dict` is JSON-ready."""

    generator: str
    card_epsilon: float  # ε on the privacy card of the audited fit
    card_delta: float
    epsilon_lower_bound: float  # the empirical lower bound at `confidence`
    confidence: float
    canaries: int  # m
    canaries_included: int  # how many the secret coin put in (told only after the fit)
    guesses: int  # r of the rule that gave the bound
    correct: int  # v of that rule
    side: str  # that rule's side: "both", "in" (highest scores) or "out" (lowest)
    rules: list[dict[str, Any]]  # every pre-registered guessing rule: side, fraction, r, v, its bound
    best_possible: float  # the largest bound m canaries could give (all guesses right)
    settings: dict[str, Any] = field(default_factory=dict)  # generator parameters, draws, seed
    seconds: float = 0.0
    note: str = NOT_A_RELEASE

    @property
    def contradicts_card(self) -> bool:
        """True when the lower bound exceeds the card's ε: a privacy bug (docs/privacy.md, rule 10)."""
        return self.epsilon_lower_bound > self.card_epsilon

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the note that this is no release comes first (docs/privacy.md, rule 7)."""
        return {"note": self.note, **asdict(self), "contradicts_card": self.contradicts_card}


def check_canaries(canaries: object, n_units: int) -> int:
    """The canary count m: a clear error unless ``MIN_CANARIES <= m <= n_units`` (checked before
    any training); None picks ``min(DEFAULT_CANARIES, n_units)``."""
    if n_units < MIN_CANARIES:
        raise SchemaError(DATA_TOO_SMALL.format(n=n_units, minimum=MIN_CANARIES))
    if canaries is None:
        return min(DEFAULT_CANARIES, n_units)
    if isinstance(canaries, bool) or not isinstance(canaries, (int, np.integer)) or canaries < MIN_CANARIES:
        raise SchemaError(BAD_CANARIES.format(minimum=MIN_CANARIES, value=canaries))
    if canaries > n_units:
        raise SchemaError(TOO_MANY_CANARIES.format(m=canaries, n=n_units))
    return int(canaries)


def one_run_audit(
    *,
    data: Any,
    schema: Any,
    generator: str,
    epsilon: float | None,
    delta: float | None = None,
    canaries: int | None = None,
    params: dict[str, Any] | None = None,
    draws: int = 16,
    confidence: float = 0.95,
    seed: int = 0,
    static: str | Path | None = None,
    progress: bool = True,
) -> PrivacyAuditResult:
    """Audit ``generator``'s DP training on ``data`` at (``epsilon``, ``delta``) in one run.

    ``data`` and ``schema`` are in memory or paths (as for `dpsynth.pipeline.generate`;
    ``static``: a series' static table). ``canaries`` (m) is at most the number of privacy
    units (default: 1000, or that number if fewer); ``params`` are the generator's own
    parameters; ``draws`` score draws per canary for randomized losses; ``seed`` sets the
    canaries' content, the initial weights and the scoring draws (all public) — the inclusion
    coins come from OS entropy. ``delta=None`` picks `default_delta` for the N = n + m units
    the fit may see.
    """
    info = registry.get(generator)
    if not info.private:
        choices = ", ".join(i.name for i in registry.available() if i.private)
        raise DpsynthError(NOT_AN_AUDIT_TARGET.format(name=generator, choices=choices))
    if isinstance(schema, (str, Path)):
        schema = load_schema(schema)
    if info.modality != schema.modality:
        choices = ", ".join(i.name for i in registry.available(schema.modality) if i.private) or "none"
        raise SchemaError(WRONG_MODALITY.format(name=generator, generator=info.modality, schema=schema.modality,
                                                choices=choices))
    if schema.not_public():
        raise SchemaError(NOT_PUBLIC_SCHEMA.format(fields=", ".join(schema.not_public())))
    if epsilon is None:
        raise BudgetError(EPSILON_REQUIRED)
    PrivacyBudget(epsilon, 1e-5 if delta is None else delta)  # ε and δ checked before any data is read
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise DpsynthError(BAD_DRAWS.format(value=draws))
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.0 < confidence < 1.0:
        raise DpsynthError(BAD_CONFIDENCE.format(value=confidence))
    model = registry.create(generator, schema, **(params or {}))
    data = load_data(data, schema, static=static)
    n_units = schema.count_units(data)
    m = check_canaries(canaries, n_units)
    budget = PrivacyBudget(epsilon, default_delta(n_units + m) if delta is None else delta)

    start = time.perf_counter()
    canary_records = model.canary_units(m, random_state=seed)
    included = secret_numpy_generator().random(m) < 0.5  # the secret coins (docs/privacy.md, rule 9)
    model.fit(model.with_units(data, canary_records, keep=included), budget=budget, random_state=seed,
              progress=progress)
    scores = model.membership_scores(canary_records, draws=draws, random_state=seed + 1)
    card = model.privacy_card()  # the claim under audit, as the release would state it
    card_epsilon, card_delta = card.epsilon, card.delta
    bound, rules = audit_scores(scores, included, delta=card_delta, confidence=confidence)
    best = max(rules, key=lambda g: (g.epsilon_lower_bound, -g.guesses))
    return PrivacyAuditResult(
        generator=generator, card_epsilon=float(card_epsilon), card_delta=float(card_delta),
        epsilon_lower_bound=float(bound), confidence=confidence, canaries=m, canaries_included=int(included.sum()),
        guesses=best.guesses, correct=best.correct, side=best.side, rules=[asdict(g) for g in rules],
        best_possible=best_possible_bound(m, delta=card_delta, confidence=confidence),
        settings={"params": model.get_params(), "draws": draws, "seed": seed, "budget": [budget.epsilon, budget.delta],
                  "guess_rules": [[rule.side, rule.fraction] for rule in GUESS_RULES]},
        seconds=time.perf_counter() - start)

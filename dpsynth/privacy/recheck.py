"""Re-derive a stored ledger's (ε, δ) from what each entry records, not from what it claims.

A saved model or a card carries its ledger as JSON; someone may have edited it, or a bug may
have written it wrong. `recheck_ledger` recomputes each entry's ε from its own parameters —
DP-SGD from its (σ, q, steps) history with the recorded accountant, noisy marginals from their
zCDP ρ by OpenDP's conversion, Laplace mechanisms from
sensitivity / noise scale, partition selection's threshold from OpenDP's map — and returns
the problems found, in words. An empty list means the ledger is consistent with itself.
"""

from __future__ import annotations

import math
from typing import Any

from dpsynth.privacy.dpsgd import epsilon_for_history
from dpsynth.privacy.ledger import TOLERANCE, LedgerEntry, PrivacyLedger
from dpsynth.privacy.marginals import MECHANISM as MARGINALS
from dpsynth.privacy.marginals import recheck_epsilon as marginals_epsilon
from dpsynth.privacy.mechanisms import partition_threshold

TRAINING = ("dp-sgd", MARGINALS)  # a DP generator's training: one of these entries, or one of each

RELATIVE = 1e-6  # recomputed ε may differ from the stored one by float rounding only


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=RELATIVE, abs_tol=TOLERANCE)


def _laplace_epsilon(entry: LedgerEntry) -> float:
    return float(entry.params["sensitivity"]) / float(entry.params["noise_scale"])


def _recomputed(entry: LedgerEntry) -> float | None:
    """ε of ``entry`` from its parameters; None for a mechanism whose ε is taken as recorded."""
    mechanism, params = entry.mechanism, entry.params
    if mechanism == "dp-sgd":
        if params.get("sampling") != "poisson":
            raise ValueError(f"sampling is {params.get('sampling')!r}, not 'poisson'")
        history = [(float(s), float(q), int(t)) for s, q, t in params["history"]]
        return epsilon_for_history(history, delta=entry.delta, accountant=params["accountant"])
    if mechanism == MARGINALS:
        return marginals_epsilon(params, entry.delta)
    if mechanism == "laplace-histogram":
        if entry.delta != 0:
            raise ValueError(f"δ is {entry.delta}, but the Laplace mechanism has δ = 0")
        return _laplace_epsilon(entry)
    if mechanism == "laplace-partition-selection":
        epsilon = _laplace_epsilon(entry)
        if int(params["threshold"]) != partition_threshold(epsilon, entry.delta):
            raise ValueError(f"threshold {params['threshold']} is not the one (ε, δ) = ({epsilon:g}, "
                             f"{entry.delta:g}) requires")
        return epsilon
    if mechanism == "dp-bounds":
        if entry.delta != 0 or entry.epsilon <= 0:
            raise ValueError("DP bounds are pure ε-DP with ε > 0")
        return None
    raise ValueError(f"unknown mechanism {mechanism!r}")


def recheck_ledger(ledger: PrivacyLedger | dict[str, Any], *, require_dpsgd: bool = True) -> list[str]:
    """Problems with ``ledger`` (a ledger or its ``to_dict``), each one line; [] when it holds.

    ``require_dpsgd``: a DP generator's ledger must record its training (one DP-SGD entry, one
    marginal-measurements entry, or one of each: an anchored decoder's measurements, then DP-SGD)."""
    if isinstance(ledger, dict):
        try:
            ledger = PrivacyLedger.from_dict(ledger)
        except Exception as exc:  # a hand-edited ledger can break in any of from_dict's steps
            return [f"the ledger cannot be read ({type(exc).__name__}: {exc})"]
    problems = []
    for number, entry in enumerate(ledger.entries, start=1):
        try:
            epsilon = _recomputed(entry)
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"ledger entry {number} ({entry.purpose!r}): {exc}")
            continue
        if epsilon is not None and not _close(epsilon, entry.epsilon):
            problems.append(f"ledger entry {number} ({entry.purpose!r}) records ε = {entry.epsilon:.6g}, but its "
                            f"parameters give ε = {epsilon:.6g}")
    training = [e.mechanism for e in ledger.entries if e.mechanism in TRAINING]
    if require_dpsgd and (not training or len(set(training)) != len(training)):
        problems.append(f"the ledger has {len(training)} training entries ({', '.join(training) or 'none'}); a DP "
                        "generator's training is one DP-SGD entry, one noisy-marginals entry, or one of each "
                        "(an anchored decoder)")
    return problems

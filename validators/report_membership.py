"""The membership-inference part of the Markdown report: a headline row and one section.

The section says what the attacks are and what they can and cannot show (empirical evidence
beside the formal ε, which bounds every attack; chance level proves nothing), states the
attacks' power on this data (the noisy-copy control and the width of the AUC interval),
the DP bound from the privacy card and whether any result contradicts it (privacy contract,
rule 10), then the per-subgroup exposure: are some groups' records easier to single out?
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from dpsynth.validators.membership import (
    ATTACKS, CONTRADICTS_CARD, CONTROL_SHIFT, FEW_NONMEMBERS, FPRS, TPR_METRICS, VALIDATOR)
from dpsynth.validators.markdown import DASH, cell, flag_names, number, table_lines

TPR_NAMES = tuple(TPR_METRICS)  # the TPR-at-FPR metrics, lowest FPR last
TPR_LABELS = tuple(f"TPR at {fpr * 100:g} % FPR" for fpr in FPRS)
ABOUT = (
    "Can someone who holds the synthetic data tell the generator's training records (members) from "
    "records it never saw (non-members, from the holdout)? Three attacks score every record: `domias` "
    "(density of the synthetic data over that of a reference sample of the population, DOMIAS), `distance` "
    "(closeness to the nearest synthetic record) and `distance_ratio` (that closeness relative to the nearest "
    "reference record); half of the holdout is the attacker's reference, the other half the non-members. "
    "AUC 0.5 = no better than a guess; TPR at 1 % FPR = share of members singled out while wrongly accusing "
    "1 % of non-members. **This is empirical evidence beside the formal guarantee, not a replacement for it**: "
    "the privacy card's ε bounds every possible attack, these included, and an attack at chance level does "
    "not prove privacy; it shows only that these attacks found nothing."
)
MARKS = {FEW_NONMEMBERS: " †", CONTRADICTS_CARD: " ▲"}
LEGEND = ("† fewer than 1 / FPR non-members: a TPR at this FPR cannot be measured on so few records. "
          "▲ the interval lies above the card's DP bound (`contradicts_card`).")
STOP = ("**STOP (docs/privacy.md, rule 10)**: {rows} lie entirely above the bound that the privacy card's "
        "(ε, δ) puts on every attack. The empirical evidence contradicts the card: do not release this "
        "synthetic data; treat it as a bug (accounting, a leak outside DP-SGD, or a wrong card).")


def _rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[table.validator == VALIDATOR]


def _get(t: pd.DataFrame, *, model: str = "", source: str = "synthetic", metric: str, attribute: str = "overall",
         group: str = "") -> Any:
    """The one row matching (a named tuple), or None."""
    sel = t[(t.model == model) & (t.source == source) & (t.metric == metric) & (t.attribute == attribute)
            & (t.group == group)]
    return next(sel.itertuples(index=False), None)


def _value(row: Any) -> float | None:
    return None if row is None else row.value


def _counts(row: Any, joiner: str) -> str:
    """"1366 / 1366" from a row's ``feature`` "members=1366,nonmembers=1366"."""
    if row is None or not row.feature:
        return DASH
    parts = dict(part.split("=") for part in row.feature.split(","))
    return f"{parts['members']}{joiner}{parts['nonmembers']}"


def _marked(row: Any, digits: int = 3) -> str:
    """The value with its interval, marked † (too few non-members) or ▲ (above the card's bound)."""
    flags = str(getattr(row, "flag", "")).split(";")
    return cell(row, digits) + "".join(mark for flag, mark in MARKS.items() if flag in flags)


def _attacks(t: pd.DataFrame) -> list[str]:
    return [a for a in ATTACKS if a in set(t.model)]


def _strongest(t: pd.DataFrame) -> str | None:
    """The attack with the highest overall AUC on the synthetic data (None when none ran)."""
    aucs = {a: r.value for a in _attacks(t) if (r := _get(t, model=a, metric="auc")) is not None
            and math.isfinite(r.value)}
    return max(aucs, key=aucs.get) if aucs else None


def headline_row(table: pd.DataFrame) -> list[str] | None:
    """``[measure, scope, synthetic, real, ratio, reading]`` for the report's headline table."""
    t = _rows(table)
    best = _strongest(t)
    if best is None:
        return None
    control = _value(_get(t, model=best, source="control", metric="auc"))
    return ["Membership-inference AUC (strongest attack)", best, cell(_get(t, model=best, metric="auc")), "", "",
            f"0.5 = attack at chance; {number(control)} on noisy copies of the train records"]


def section(table: pd.DataFrame, meta: dict[str, Any]) -> list[str]:
    """The Markdown lines of the membership section (empty when the validator did not run)."""
    t = _rows(table)
    attacks = _attacks(t)
    if not attacks:
        return []
    out = ["## Membership inference (empirical privacy)", "", ABOUT, ""]
    if meta.get("membership_features"):
        out += [f"Features: {meta['membership_features']}.", ""]
    out += _power(t, attacks) + _overall_table(t, attacks)
    contradicting = t[t.flag.map(lambda f: CONTRADICTS_CARD in str(f).split(";"))]
    if len(contradicting):
        overall = [f"`{r.model}` {r.metric}" for r in contradicting.itertuples(index=False) if r.attribute == "overall"]
        per_group = int((contradicting.attribute != "overall").sum())
        where = ", ".join(overall) + (" and " if overall and per_group else "") + \
            (f"{per_group} per-group result(s)" if per_group else "")
        out += [STOP.format(rows=where), ""]
    for attribute in [a for a in pd.unique(t.attribute) if a != "overall"]:
        out += _group_table(t, attribute, attacks)
    return out


def _power(t: pd.DataFrame, attacks: list[str]) -> list[str]:
    """What the attacks can see on this data: the noisy-copy control, the AUC interval width and
    the card's bound."""
    control = ", ".join(f"`{a}` AUC {number(_value(_get(t, model=a, source='control', metric='auc')))} / "
                        f"{number(_value(_get(t, model=a, source='control', metric=TPR_NAMES[0])))}"
                        for a in attacks)
    text = (f"**Power.** Attacked: {_counts(_get(t, model=attacks[0], metric='auc'), ' members against ')} "
            f"non-members. On a release that leaks by construction — noisy copies of every train record, each "
            f"moved about {CONTROL_SHIFT:g} × the typical distance between neighbouring real records (NOT "
            f"PRIVATE) — the same attacks reach AUC / {TPR_LABELS[0]}: {control}.")
    widths = [(r.ci_high - r.ci_low) / 2 for a in attacks if (r := _get(t, model=a, metric="auc")) is not None
              and math.isfinite(r.ci_high - r.ci_low)]
    if widths:
        text += (f" With these sample sizes an AUC interval is up to ±{max(widths):.3f} wide: a leak weaker than "
                 f"AUC {0.5 + max(widths):.3f} can go unnoticed.")
    lines = [text, ""]
    bound = [_value(_get(t, source="", metric=f"dp_bound_{m}")) for m in ("auc", *TPR_NAMES)]
    if bound[0] is not None:
        limits = ", ".join(f"{label} {number(b, 4)}" for label, b in zip(TPR_LABELS, bound[1:]))
        lines += [f"**DP bound from the privacy card**: no attack can exceed AUC {number(bound[0])}, {limits} (the "
                  "hypothesis-testing region of (ε, δ)-DP); a row whose interval lies entirely above it is flagged "
                  "`contradicts_card` (checked on rows with enough records; a TPR against the bound at the upper "
                  "confidence limit of its FPR).", ""]
    return lines


def _overall_table(t: pd.DataFrame, attacks: list[str]) -> list[str]:
    header = ["Attack", "AUC", *TPR_LABELS, "control AUC", f"control {TPR_LABELS[0]}"]
    rows = []
    for a in attacks:
        metrics = [_get(t, model=a, metric=m) for m in ("auc", *TPR_NAMES)]
        control = [_value(_get(t, model=a, source="control", metric=m)) for m in ("auc", TPR_NAMES[0])]
        rows.append([f"`{a}`", *(_marked(r) for r in metrics), *(number(v) for v in control)])
    bound = [_value(_get(t, source="", metric=f"dp_bound_{m}")) for m in ("auc", *TPR_NAMES)]
    if bound[0] is not None:
        rows.append(["DP bound (card)", *(number(b, 4) for b in bound), "", ""])
    return table_lines(header, rows) + [LEGEND, ""]


def _group_table(t: pd.DataFrame, attribute: str, attacks: list[str]) -> list[str]:
    """Per-group AUC of every attack and TPR at 1 % FPR of the strongest: who is most exposed?"""
    sel = t[(t.attribute == attribute) & (t.group != "") & (t.source == "synthetic")]
    best = _strongest(t) or attacks[0]
    header = ["Group", "members / non-members", *(f"`{a}` AUC" for a in attacks), f"`{best}` {TPR_LABELS[0]}",
              "flags"]
    rows = []
    for group in pd.unique(sel.group):
        aucs = [_marked(_get(t, model=a, metric="auc", attribute=attribute, group=group), 2) for a in attacks]
        tpr = _marked(_get(t, model=best, metric=TPR_NAMES[0], attribute=attribute, group=group), 2)
        counts = _counts(_get(t, model=attacks[0], metric="auc", attribute=attribute, group=group), " / ")
        flags = [f for f in flag_names(sel[sel.group == group].flag) if f not in MARKS]
        rows.append([group, counts, *aucs, tpr, ", ".join(flags)])
    gaps = [f"`{a}` {cell(r)}" for a in attacks
            if (r := _get(t, model=a, metric="auc_gap", attribute=attribute)) is not None]
    out = [f"### Membership exposure by {attribute}", ""] + table_lines(header, rows)
    if gaps:
        out += [f"AUC gap (highest − lowest group AUC, groups of at least the minimum size): {'; '.join(gaps)}. "
                "A gap between noisy estimates is above 0 even when every group is equally exposed: read the "
                "groups' intervals.", ""]
    return out

"""The one-page Markdown audit report.

Layout: the not-DP notice (first line, always), the title, the release verdict (`verdict`: the
overall status, a checklist linked to the detail sections, the thresholds used), a headline table
of at most `MAX_HEADLINE_ROWS` rows with their flags (utility TSTR vs TRTR per model, the worst
fairness change per attribute, marginal fidelity, detection AUC, memorisation signals with their
caveat, membership inference), what was audited, the holdout checks (a holdout below its minimum
sizes, groups it lacks), one section per sensitive attribute (per-group table, between-group gaps,
plots), the small groups called out, fidelity per column, the memorisation details, the declared
rules (share of rows keeping each, real vs synthetic) and the membership-inference section
(`report_membership`: the attacks' power, the card's bound, per-subgroup exposure). Validators
that did not run are simply left out.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from dpsynth.modality import modality_named
from dpsynth.validators.bootstrap import INTERVAL_WIDENED
from dpsynth.validators.context import ABSENT_IN_HOLDOUT, FEW_NEGATIVES, FEW_POSITIVES, SMALL_HOLDOUT
from dpsynth.validators.markdown import DASH, cell, flag_names, number, table_lines
from dpsynth.validators.report import NOTICE, attributes
from dpsynth.validators.verdict import (
    SEVERITY, THRESHOLDS_RESOURCE, Finding, Thresholds, Verdict, evaluate, fairness_findings,
    representation_findings, worst)

if TYPE_CHECKING:
    from dpsynth.validators.report import AuditReport

FIRST_LINE = f"> **{NOTICE}**"
MAX_HEADLINE_ROWS = 15  # the headline fits one screen; every number is in the sections below
VERDICT_RULE = ("A check fails only when a number's whole interval lies beyond its fail level; a row flagged as "
                "resting on too few rows can warn but never fails on its own.")
SMALL_FLAGS = ("small_group", "empty", "absent_in_synthetic", "absent_in_real", ABSENT_IN_HOLDOUT)
HOLDOUT_FLAGS = (SMALL_HOLDOUT, FEW_POSITIVES, FEW_NEGATIVES)
#: Flags shown in the headline's Flags column: the ones that change how its numbers read.
HEADLINE_FLAGS = (*HOLDOUT_FLAGS, INTERVAL_WIDENED, "chance_level_predictor", "constant_predictor",
                  "single_class_synthetic", "single_class_train", "single_class_holdout", "fewer_than_two_groups",
                  ABSENT_IN_HOLDOUT)
TOO_SMALL = ("**The holdout is too small to judge** ({flags}): {n} rows with {pos} positive and {neg} other "
             "(minimum {min_n} rows, {min_class} of each class; `min_group_size` = {min_class}). The utility, "
             "memorisation and membership numbers below rest on too few rows: use a larger holdout.")
ABSENT_NOTE = ("**Groups missing from the holdout**: {groups}. The schema or the real train data hold them, "
               "so their rows are NaN (`absent_in_holdout`) and the gaps between groups leave them out: use a "
               "holdout stratified on these groups.")
SERIES_CHANNEL_METRICS = ("wasserstein", "ks", "acf_distance", "psd_distance")
SERIES_FIDELITY_NOTE = (
    "Synthetic vs real train windows, each channel scaled to [0, 1] by its public bounds: Wasserstein-1 and "
    "Kolmogorov–Smirnov of the sample values, mean |difference| of the autocorrelation functions (lags 1 to "
    "window/4, at most 64), total variation distance of the mean normalised power spectra. 0 = identical.")
MEMORISATION_CAVEAT = (
    "Memorisation signals, **not privacy evidence**: distance-to-closest-record and exact-match "
    "checks catch crude copying only, and published membership-inference attacks succeed against "
    "synthetic data that passes them. The privacy guarantee is the privacy card's ε{eps}."
)


class _Lookup:
    """Rows of the tidy table by (validator, model, source, metric, attribute, group, feature)."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.table = table
        self.rows = {
            (r.validator, r.model, r.source, r.metric, r.attribute, r.group, r.feature): r
            for r in table.itertuples(index=False)
        }

    def get(self, validator: str, metric: str, *, model: str = "", source: str = "",
            attribute: str = "overall", group: str = "", feature: str = "") -> Any:
        return self.rows.get((validator, model, source, metric, attribute, group, feature))

    def models(self, validator: str) -> list[str]:
        sel = self.table[(self.table.validator == validator) & (self.table.model != "")]
        return list(pd.unique(sel.model))


def render(report: AuditReport, *, plots: dict[str, str]) -> str:
    """Markdown text of ``report``; ``plots`` maps plot names to links relative to report.md.

    The verdict's thresholds are the shipped ones overridden by ``metadata["verdict_thresholds"]``,
    so a report rebuilt from audit.json gives the same verdict."""
    from dpsynth.validators import report_membership

    look = _Lookup(report.table)
    meta = report.metadata
    thresholds = Thresholds.from_dict(meta.get("verdict_thresholds") or {})
    title = meta.get("synthetic_name") or "synthetic data"
    detail: list[str] = []
    for attribute in attributes(report.table):
        detail += _attribute_section(look, attribute, plots)
    detail += _small_groups(report.table)
    detail += _fidelity_section(look, plots)
    detail += _memorisation_section(look, meta)
    detail += _rules_section(look)
    detail += report_membership.section(report.table, meta)
    lines = [FIRST_LINE, "", f"# Audit of {title}", ""]
    lines += _verdict_section(report, thresholds, detail)
    lines += _headline(look, meta, thresholds)
    lines += _about(meta)
    lines += _holdout_checks(report.table, meta)
    lines += detail
    lines += _reading_notes(meta)
    return "\n".join(lines).rstrip() + "\n"


def anchor(heading: str) -> str:
    """The ``#anchor`` a Markdown renderer (GitHub's rule) gives a heading's text."""
    return "#" + re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _verdict_section(report: AuditReport, thresholds: Thresholds, detail: list[str]) -> list[str]:
    """The overall status, the checklist (each check linked to its detail section) and the
    thresholds used."""
    meta = report.metadata
    verdict: Verdict = evaluate(report.table, meta, thresholds)
    headings = [line[3:] for line in detail if line.startswith("## ")] + ["Headline"]

    def section_of(*candidates: str | None) -> str | None:
        return next((anchor(h) for h in candidates if h in headings), None)

    def subgroups(findings: list[Finding]) -> str | None:
        top = worst(findings)
        return section_of(f"Subgroups by {top.candidate.row.attribute}") if top is not None else None

    links = {
        "utility": section_of("Headline"),
        "fairness": subgroups(fairness_findings(report.table, thresholds)),
        "representation": subgroups(representation_findings(report.table, meta, thresholds)),
        "fidelity": section_of("Fidelity per column (overall)", "Fidelity per channel (overall)", "Headline"),
        "rules": section_of("Declared rules"),
        "memorisation": section_of("Membership inference (empirical privacy)", "Memorisation signals"),
        "small_groups": section_of("Small or missing groups"),
    }
    overrides = meta.get("verdict_thresholds") or {}
    used = f"the shipped defaults (`dpsynth/{THRESHOLDS_RESOURCE}`)"
    if overrides:
        source = f" from `{meta['verdict_thresholds_file']}`" if meta.get("verdict_thresholds_file") else ""
        used += f" with overrides{source}: " + ", ".join(f"{k}={v}" for k, v in overrides.items())
    return ["## Verdict", "", verdict.to_markdown(links={k: v for k, v in links.items() if v}),
            f"{VERDICT_RULE} Thresholds: {used}.", ""]


def _epsilon_text(meta: dict[str, Any]) -> str:
    """"ε = 1" for a DP card; "ε = ∞ (NOT PRIVATE reference)" for a reference's card."""
    eps = meta.get("epsilon")
    if meta.get("private") is False or str(eps) == "inf":
        return "ε = ∞ (NOT PRIVATE reference)"
    return f"ε = {float(eps):g}"


def _about(meta: dict[str, Any]) -> list[str]:
    eps = meta.get("epsilon")
    private = meta.get("private") is not False and str(eps) != "inf"
    privacy = DASH if eps is None else _epsilon_text(meta) + (
        f", δ = {meta['delta']:g}" if meta.get("delta") and private else "")
    if meta.get("accountant"):
        privacy += f" ({meta['accountant']} accountant)"
    words = modality_named(meta.get("modality")).report
    unit = words.unit
    rows = [
        ["generator", str(meta.get("generator") or meta.get("card_generator") or DASH)],
        ["privacy card", privacy if eps is not None else "not given (the synthetic data's ε is unknown to this report)"],
        ["real train / holdout", f"{meta.get('train_name') or 'train'} ({meta.get('n_train', DASH)} {unit}) / "
                                 f"{meta.get('holdout_name') or 'holdout'} ({meta.get('n_holdout', DASH)} {unit})"],
        ["synthetic", f"{meta.get('synthetic_name') or 'synthetic'} ({meta.get('n_synthetic', DASH)} {unit})"],
    ]
    about = words.about(meta)
    if about:
        rows.insert(0, ["modality", about])
    cfg = meta.get("config") or {}
    if cfg:
        rows.append(["settings", ", ".join(f"{k}={v}" for k, v in cfg.items())])
    if meta.get("schema_fingerprint"):
        rows.append(["schema fingerprint", f"`{str(meta['schema_fingerprint'])[:16]}`"])
    return ["## What was audited", ""] + table_lines(["", ""], rows)


def _holdout_checks(table: pd.DataFrame, meta: dict[str, Any]) -> list[str]:
    """A holdout below its minimum sizes, and groups it lacks, said before any number."""
    out = []
    overall = table[(table.validator == "utility") & (table.attribute == "overall")]
    flags = [f for f in HOLDOUT_FLAGS if f in flag_names(overall.flag)]
    if flags:
        m = int((meta.get("config") or {}).get("min_group_size", 0))
        n, pos = meta.get("n_holdout"), meta.get("n_holdout_positive")
        out += [TOO_SMALL.format(flags=", ".join(flags), n=n if n is not None else DASH,
                                 pos=pos if pos is not None else DASH,
                                 neg=n - pos if n is not None and pos is not None else DASH,
                                 min_n=meta.get("min_holdout_size", 2 * m), min_class=m), ""]
    absent = table[(table.validator == "fairness") & (table.group != "")
                   & table.flag.map(lambda f: ABSENT_IN_HOLDOUT in str(f).split(";"))]
    if len(absent):
        groups = ", ".join(f"{a}={g}" for a, g in dict.fromkeys(zip(absent.attribute, absent.group)))
        out += [ABSENT_NOTE.format(groups=groups), ""]
    return out


def _headline_flags(*rows: Any) -> str:
    """The `HEADLINE_FLAGS` of the rows a headline line shows (a listed group named by its flag)."""
    names = flag_names(r.flag for r in rows if r is not None)
    return ", ".join(dict.fromkeys(f.split(":")[0] for f in names if f.split(":")[0] in HEADLINE_FLAGS))


def _headline(look: _Lookup, meta: dict[str, Any], thresholds: Thresholds) -> list[str]:
    """At most `MAX_HEADLINE_ROWS` rows: utility per model, the worst fairness change per
    attribute (when they do not all fit, the attributes whose worst change is least severe are
    left out), fidelity, detection, memorisation signals, membership inference."""
    rows: list[list[str]] = []
    for model in look.models("utility"):
        tstr = look.get("utility", "auroc", model=model, source="TSTR")
        if tstr is None:
            continue
        trtr = look.get("utility", "auroc", model=model, source="TRTR")
        ratio = look.get("utility", "auroc", model=model, source="ratio")
        rows.append(["AUROC", model, cell(tstr), cell(trtr), f"ratio {cell(ratio, ci=False)}",
                     "1 = synthetic as useful as real", _headline_flags(tstr, trtr, ratio)])
        accuracy = [look.get("utility", "class_accuracy", model=model, source=s) for s in ("TSTR", "TRTR", "ratio")]
        if accuracy[0] is not None:
            rows.append(["Class accuracy (all classes)", model, cell(accuracy[0]), cell(accuracy[1]),
                         f"ratio {cell(accuracy[2], ci=False)}", "1 = synthetic as useful as real",
                         _headline_flags(*accuracy)])
    fairness = _worst_fairness_rows(look, thresholds)
    rest = _fidelity_and_privacy_rows(look, meta)
    budget = max(MAX_HEADLINE_ROWS - len(rows) - len(rest), 0)
    kept = sorted(sorted(range(len(fairness)), key=lambda i: fairness[i][0], reverse=True)[:budget])
    rows += [fairness[i][1] for i in kept] + rest
    if not rows:
        return []
    out = ["## Headline", ""]
    out += table_lines(["Measure", "Scope", "Synthetic (TSTR)", "Real (TRTR / holdout)", "Ratio / change", "Reading",
                        "Flags"], rows)
    if fairness:
        left_out = len(fairness) - len(kept)
        out += ["Fairness rows: per attribute, the change furthest beyond its threshold over the models and the two "
                "measures (equalized-odds difference, worst-group AUROC)"
                + (f"; {left_out} attribute(s) left out to fit one screen" if left_out else "")
                + ". Every change is in the subgroup sections below.", ""]
    if look.get("memorisation", "dcr_ratio") is not None or look.get(
            "memorisation", "exact_match_share", source="synthetic") is not None:
        out += ["\\* " + _caveat(meta), ""]
    return out


def _worst_fairness_rows(look: _Lookup, thresholds: Thresholds) -> list[tuple[tuple[int, float], list[str]]]:
    """One headline row per attribute: its worst judged fairness change, with its severity."""
    by_attribute: dict[str, list[Finding]] = {}
    for finding in fairness_findings(look.table, thresholds):
        by_attribute.setdefault(finding.candidate.row.attribute, []).append(finding)
    out = []
    for attribute, findings in by_attribute.items():
        top = worst(findings)
        r = top.candidate.row
        tstr, trtr, change = (look.get("fairness", r.metric, model=r.model, source=s, attribute=attribute)
                              for s in ("TSTR", "TRTR", "change"))
        eod = r.metric == "equalized_odds_difference"
        reading = "> 0: synthesis widens the gap" if eod else "< 0: the worst-served group loses AUROC"
        out.append(((SEVERITY[top.status], top.margin), [
            "Equalized-odds difference" if eod else "Worst-group AUROC", f"{r.model}, {attribute}",
            cell(tstr, ci=eod), cell(trtr, ci=eod), f"change {cell(change, signed=True)}", reading,
            _headline_flags(tstr, trtr, change)]))
    return out


def _fidelity_and_privacy_rows(look: _Lookup, meta: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    words = modality_named(meta.get("modality")).report
    for metric, label, reading in words.fidelity_headline:
        row = look.get("fidelity", metric) or look.get("fidelity", metric, model="feature_network")
        if row is not None:
            rows.append([label, "overall", cell(row), "", "", reading, _headline_flags(row)])
    det = look.get("fidelity", "detection_auc", model="detector")
    if det is not None:
        rows.append(["Detection AUC", "real train vs synthetic" + words.detection_scope, cell(det), "", "",
                     "0.5 = indistinguishable, 1 = fully separable", _headline_flags(det)])
    ratio = look.get("memorisation", "dcr_ratio")
    if ratio is not None:
        syn = look.get("memorisation", "dcr_median", source="synthetic")
        hold = look.get("memorisation", "dcr_median", source="holdout")
        rows.append(["DCR median (to train)*", "synthetic vs holdout rows", cell(syn), cell(hold),
                     f"ratio {cell(ratio)}", "≈ 1 expected; ≪ 1 signals memorisation",
                     _headline_flags(syn, hold, ratio)])
    exact = look.get("memorisation", "exact_match_share", source="synthetic")
    if exact is not None:
        base = look.get("memorisation", "exact_match_share", source="holdout")
        rows.append(["Exact-match share*", "rows equal to a train row", cell(exact), cell(base), "",
                     "holdout column = base rate of fresh real rows", _headline_flags(exact, base)])
    from dpsynth.validators.report_membership import headline_row

    membership = headline_row(look.table)
    if membership is not None:
        overall = look.table[(look.table.validator == "membership") & (look.table.attribute == "overall")
                             & (look.table.source == "synthetic") & (look.table.metric == "auc")
                             & (look.table.model == membership[1])]
        rows.append([*membership, _headline_flags(*overall.itertuples(index=False))])
    return rows


def _caveat(meta: dict[str, Any]) -> str:
    eps = meta.get("epsilon")
    return MEMORISATION_CAVEAT.format(eps=f" ({_epsilon_text(meta)})" if eps is not None else "")


def _attribute_section(look: _Lookup, attribute: str, plots: dict[str, str]) -> list[str]:
    from dpsynth.validators.report_plots import slug

    table = look.table[(look.table.attribute == attribute) & (look.table.group != "")
                       & (look.table.validator != "membership")]  # membership: its own section
    groups = list(pd.unique(table.group))
    if not groups:
        return []
    models = look.models("fairness")
    header = ["Group", "n holdout", "n train", "share real", "share synthetic"]
    for model in models:
        header += [f"{model} AUROC (TSTR / TRTR)", f"{model} TPR", f"{model} FPR"]
    header += ["detection AUC", "mean TVD", "mean PSD distance", "flags"]
    rows = []
    for group in groups:
        fair = [look.get("fairness", "auroc", model=m, source="TRTR", attribute=attribute, group=group)
                for m in models]
        n_hold = next((r.n for r in fair if r is not None and math.isfinite(r.n)), None)
        real = look.get("representation", "share_real", attribute=attribute, group=group)
        syn = look.get("representation", "share_synthetic", attribute=attribute, group=group)
        row = [group, number(n_hold, 0), number(real.n if real is not None else None, 0),
               cell(real, 3, ci=False), cell(syn, 3, ci=False)]
        for model in models:
            for metric in ("auroc", "tpr", "fpr"):
                pair = [look.get("fairness", metric, model=model, source=s, attribute=attribute, group=group)
                        for s in ("TSTR", "TRTR")]
                row.append(" / ".join(cell(r, 2, ci=metric == "auroc") for r in pair))
        row += [cell(look.get("fidelity", "detection_auc", model="detector", attribute=attribute, group=group), 2),
                cell(look.get("fidelity", "mean_tvd", attribute=attribute, group=group), 3),
                cell(look.get("fidelity", "mean_psd_distance", attribute=attribute, group=group), 3)]
        row.append(", ".join(flag_names(table[table.group == group].flag)))
        rows.append(row)
    header, rows = _drop_empty_columns(header, rows)
    out = [f"## Subgroups by {attribute}", ""] + table_lines(header, rows)
    for model in models:
        parts = []
        for metric, label in (("equalized_odds_difference", "equalized-odds difference"),
                              ("demographic_parity_difference", "demographic-parity difference"),
                              ("auroc_gap", "AUROC gap"), ("worst_group_auroc", "worst-group AUROC")):
            r = {s: look.get("fairness", metric, model=model, source=s, attribute=attribute)
                 for s in ("TSTR", "TRTR", "change")}
            if any(v is not None for v in r.values()):
                parts.append(f"{label} TSTR {cell(r['TSTR'])} vs TRTR {cell(r['TRTR'])} "
                             f"(change {cell(r['change'], ci=False, signed=True)})")
        if parts:
            out += [f"- **{model}**: " + "; ".join(parts)]
    if models:
        out.append("")
    key = slug(attribute)
    for name, alt in ((f"fairness_{key}", f"per-group AUROC, TPR, FPR by {attribute}"),
                      (f"representation_{key}", f"group shares by {attribute}"),
                      (f"series_examples_{key}", f"real (patient data) vs synthetic example windows by {attribute}"),
                      (f"series_spectra_{key}", f"mean power spectra, real vs synthetic, by {attribute}")):
        if name in plots:
            out += [f"![{alt}]({plots[name]})", ""]
    return out


def _drop_empty_columns(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """Drop data columns that are empty for every row (validators that did not run)."""
    def empty(cell: str) -> bool:
        return not cell.replace(DASH, "").replace("/", "").strip()

    keep = [j for j, name in enumerate(header)
            if j == 0 or name == "flags" or not all(empty(row[j]) for row in rows)]
    return [header[j] for j in keep], [[row[j] for j in keep] for row in rows]


def _small_groups(table: pd.DataFrame) -> list[str]:
    is_small = table.flag.map(lambda f: any(part in SMALL_FLAGS for part in str(f).split(";")))
    sel = table[is_small & (table.group != "")]
    if sel.empty:
        return []
    rows = []
    for (attribute, group), part in sel.groupby(["attribute", "group"], sort=False):
        flags = ", ".join(f for f in flag_names(part.flag) if f in SMALL_FLAGS)
        where = ", ".join(pd.unique(part.validator))
        rows.append([attribute, group, flags, where])
    return (["## Small or missing groups", "",
             "Results for these groups rest on few rows (or none): read their intervals, and do not "
             "treat a missing difference as evidence of fairness.", ""]
            + table_lines(["Attribute", "Group", "Flags", "Validators"], rows))


def _fidelity_section(look: _Lookup, plots: dict[str, str]) -> list[str]:
    t = look.table
    if (t.metric.isin(SERIES_CHANNEL_METRICS[1:]) & (t.validator == "fidelity")).any():  # not "wasserstein"
        return _series_fidelity_section(look, plots)
    sel = t[(t.validator == "fidelity") & (t.attribute == "overall") & (t.feature != "")
            & t.metric.isin(["tvd", "wasserstein"])]
    if sel.empty:
        return []
    rows = []
    for r in sel.itertuples(index=False):
        miss = look.get("fidelity", "missing_rate_difference", feature=r.feature)
        rows.append([r.feature, "TVD" if r.metric == "tvd" else "Wasserstein-1 / range", number(r.value),
                     cell(miss, 3, ci=False, signed=True)])
    out = ["## Fidelity per column (overall)", ""]
    out += table_lines(["Column", "Distance", "Value", "Missing-rate difference (synthetic − real)"], rows)
    for name in ("fidelity_columns", "equalized_odds"):
        if name in plots:
            out += [f"![{name.replace('_', ' ')}]({plots[name]})", ""]
    return out


def _series_fidelity_section(look: _Lookup, plots: dict[str, str]) -> list[str]:
    t = look.table
    sel = t[(t.validator == "fidelity") & (t.attribute == "overall") & (t.feature != "")]
    rows = []
    for channel in pd.unique(sel.feature):
        cells = [cell(look.get("fidelity", m, feature=channel), 3, ci=False) for m in SERIES_CHANNEL_METRICS]
        miss = look.get("fidelity", "missing_rate_difference", feature=channel)
        rows.append([channel, *cells, cell(miss, 3, ci=False, signed=True)])
    out = ["## Fidelity per channel (overall)", "", SERIES_FIDELITY_NOTE, ""]
    out += table_lines(["Channel", "Wasserstein-1 / range", "KS", "ACF difference", "PSD distance",
                   "Missing-rate difference (synthetic − real)"], rows)
    for name, alt in (("series_examples_overall", "real (patient data) vs synthetic example windows"),
                      ("series_spectra_overall", "mean power spectra, real vs synthetic"),
                      ("fidelity_columns", "fidelity columns"), ("equalized_odds", "equalized odds")):
        if name in plots:
            out += [f"![{alt}]({plots[name]})", ""]
    return out


def _memorisation_section(look: _Lookup, meta: dict[str, Any]) -> list[str]:
    t = look.table[look.table.validator == "memorisation"]
    if t.empty:
        return []
    rows = [[r.metric, r.source or DASH, number(r.value), number(r.n, 0)] for r in t.itertuples(index=False)]
    return (["## Memorisation signals", "", _caveat(meta), ""]
            + table_lines(["Metric", "Rows", "Value", "n"], rows))


RULES_NOTE = ("Share of rows that keep each rule the schema declares (public knowledge: a mapping, a range "
              "per category, a sum). dpsynth's generators keep every rule by construction; **rule_broken**: "
              "the synthetic share is below the real train share.")


def _rules_section(look: _Lookup) -> list[str]:
    t = look.table[look.table.validator == "rules"]
    if t.empty:
        return []
    rows = []
    for rule in pd.unique(t.feature):
        part = t[t.feature == rule].set_index("source")
        shares = [number(part.value.get(s)) if s in part.index else DASH for s in ("train", "holdout", "synthetic")]
        flag = part.flag.get("synthetic", "") if "synthetic" in part.index else ""
        rows.append([rule, *shares, f"**{flag}**" if flag else ""])
    return (["## Declared rules", "", RULES_NOTE, ""]
            + table_lines(["Rule", "Real train", "Real holdout", "Synthetic", "Flag"], rows))


def _reading_notes(meta: dict[str, Any]) -> list[str]:
    m = (meta.get("config") or {}).get("min_group_size", "min_group_size")
    minimum = meta.get("min_holdout_size", f"2 × {m}")
    return [
        "## How to read this report", "",
        "- TSTR: model trained on the synthetic data; TRTR: trained on the real train data; both are "
        "tested on the real holdout. Intervals are bootstrap percentile intervals over holdout rows, "
        "resampled within each outcome class (and group); one that excluded its estimate (gaps and worst "
        "cases near 0 are biased upward on resamples) is extended to it and flagged `interval_widened`.",
        f"- Minimum holdout sizes: {m} rows per group (`small_group`), {m} rows of each outcome class "
        f"(`few_holdout_positives`, `few_holdout_negatives`), {minimum} rows overall (`small_holdout`); "
        "a flagged value rests on too few rows to judge. A group with no holdout row is `absent_in_holdout`.",
        "- change = TSTR − TRTR; for gaps (equalized odds, demographic parity) a positive change "
        "means synthesis widened the gap between groups.",
        "- Fidelity compares synthetic with real train rows, overall and within each group.",
        "- Every number here was computed on real data; this report is not differentially private.",
        "",
    ]

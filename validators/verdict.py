"""The release verdict: pass / warn / fail per check, read from an audit's tidy table.

Seven checks (utility, fairness, representation, fidelity, rules, memorisation, small_groups) judge
numbers of the table (`context.RESULT_COLUMNS`) against the thresholds shipped in
``dpsynth/data/verdict.yaml``, where each one's meaning and default are documented; a user file
overrides any subset. Checks select rows by validator, source and metric only, so one rule
serves tables, series and images, one audit or any slice of a sweep's results; a check whose
rows are absent is "n/a" and says what was missing.

How one number is judged (`judge`): FAIL when its whole bootstrap interval lies beyond the fail
level (a number without an interval: the number itself), WARN when the number lies beyond the
fail level but its interval does not, or beyond the warn level; else PASS. A row flagged as
resting on too few rows, or as carrying no signal (`CANNOT_FAIL`), never decides a fail on its
own: it warns and says so. The check's worst number decides it; the verdict is the worst check.

The numbers were computed on real data: the verdict is not differentially private either.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from dpsynth.errors import DpsynthError
from dpsynth.validators.context import (
    ABSENT_IN_HOLDOUT, FEW_NEGATIVES, FEW_POSITIVES, HOLDOUT_MIN_FACTOR, RESULT_COLUMNS, SMALL_HOLDOUT, AuditConfig)
from dpsynth.validators.membership import CONTRADICTS_CARD, FEW_NONMEMBERS, SMALL_GROUP, TOO_FEW_ROWS

STATUSES = ("pass", "warn", "fail", "n/a")  # n/a: the audit has no number for it
CHECK_NAMES = ("utility", "fairness", "representation", "fidelity", "rules", "memorisation", "small_groups")
SEVERITY = {"n/a": -1, "pass": 0, "warn": 1, "fail": 2}
THRESHOLDS_RESOURCE = "data/verdict.yaml"  # inside the dpsynth package
ABSENT_IN_SYNTHETIC = "absent_in_synthetic"  # representation: a group with no synthetic row
#: Flags of a row that rests on too few rows, or on a model that learned nothing (fairness'
#: constant / chance-level predictors, named here to keep fairlearn out of this import).
CANNOT_FAIL = (SMALL_GROUP, SMALL_HOLDOUT, FEW_POSITIVES, FEW_NEGATIVES, ABSENT_IN_HOLDOUT, FEW_NONMEMBERS,
               TOO_FEW_ROWS, "empty", "constant_predictor", "chance_level_predictor")
#: Flags naming a group too small to judge (small_groups check), and the holdout's own size flags.
SMALL_GROUP_FLAGS = (SMALL_GROUP, ABSENT_IN_HOLDOUT)
FEW_CLASS_FLAGS = (FEW_POSITIVES, FEW_NEGATIVES)
#: Overall marginal distances on a 0 (identical) to 1 scale, whichever modality wrote them.
MARGINAL_METRICS = {"mean_tvd": "mean TVD", "mean_wasserstein": "mean Wasserstein-1 / range",
                    "mean_ks": "mean KS statistic", "mean_pixel_tvd": "mean pixel TVD",
                    "mean_pixel_wasserstein": "mean pixel Wasserstein-1"}
SIGNAL_NOTE = " (a memorisation signal, not privacy evidence: it can warn, never fail)"
SHOWN_GROUPS = 6  # groups named in the small_groups line before "and N more"

UNKNOWN_THRESHOLD = "unknown verdict threshold {keys}; {hint}the thresholds are: {known}"
BAD_THRESHOLD = "verdict threshold {key!r} must be a number or null (level off); got {value!r}"
OUT_OF_ORDER = ("verdict thresholds {warn}={w:g} and {fail}={f:g} are out of order: a value must reach the warn "
                "level before the fail level ({direction}); swap or change them")
NOT_A_MAPPING = "the thresholds file '{path}' must hold a mapping of threshold names to numbers; got {kind}"
NO_FILE = "thresholds file '{path}' not found; give an existing YAML file, or none for the shipped defaults"
BAD_YAML = "thresholds file '{path}' is not valid YAML: {problem}"
MISSING_COLUMNS = "an audit table needs the columns {expected}; missing: {missing}"
BELOW_CHANCE_NOTE = (" (below chance: the synthetic data teach the inverted outcome association; "
                     "do not release them)")
BAD_STATUS = "a check's status must be one of {choices}; got {status!r}"


class ThresholdError(DpsynthError, ValueError):
    """A thresholds file or override is unknown, not a number, or out of order."""


# ---------------------------------------------------------------------------- thresholds
@dataclass(frozen=True)
class Thresholds:
    """Every level the verdict judges against (None: that level is off). Meaning and reason of
    each default: ``dpsynth/data/verdict.yaml``. ``*_warn`` is reached before ``*_fail``."""

    utility_ratio_warn: float | None             # TSTR/TRTR AUROC ratio below: warn
    utility_ratio_fail: float | None             # ... interval wholly below: fail
    utility_tstr_auroc_warn: float | None        # TSTR AUROC below: warn
    utility_tstr_auroc_fail: float | None        # ... interval wholly below (below chance): fail
    fairness_eod_change_warn: float | None       # equalized-odds difference change above: warn
    fairness_eod_change_fail: float | None       # ... interval wholly above: fail
    fairness_auroc_gap_change_warn: float | None  # between-group AUROC gap change (TSTR - TRTR) above: warn
    fairness_auroc_gap_change_fail: float | None  # ... interval wholly above: fail
    representation_share_ratio_warn: float | None  # a group's synthetic / real share below: warn
    representation_share_ratio_fail: float | None  # ... below: fail
    fidelity_marginal_warn: float | None         # mean marginal distance above: warn
    fidelity_marginal_fail: float | None         # ... above: fail
    fidelity_detection_auc_warn: float | None    # detection AUC above: warn
    fidelity_detection_auc_fail: float | None    # ... interval wholly above: fail
    rules_shortfall_warn: float | None           # a declared rule's share, real train minus synthetic, above: warn
    rules_shortfall_fail: float | None           # ... above: fail
    membership_auc_warn: float | None            # membership-inference AUC above: warn
    membership_auc_fail: float | None            # ... interval wholly above: fail
    memorisation_exact_match_excess_warn: float | None  # exact-match share minus holdout base rate above: warn
    memorisation_dcr_ratio_warn: float | None    # DCR median ratio (synthetic / holdout) below: warn
    memorisation_closer_than_holdout_p5_warn: float | None  # share closer than the holdout's 5th pct above: warn

    @classmethod
    def from_dict(cls, overrides: Mapping[str, Any]) -> Thresholds:
        """The shipped defaults with ``overrides`` (any subset of keys) applied. An unknown key
        (with the closest known one), a value that is not a number, or a warn level beyond its
        fail level is a `ThresholdError`."""
        values = {**shipped_defaults(), **checked(overrides)}
        for warn, fail, higher_is_worse in LEVEL_PAIRS:
            w, f = values[warn], values[fail]
            if w is not None and f is not None and (w > f if higher_is_worse else w < f):
                direction = "higher is worse" if higher_is_worse else "lower is worse"
                raise ThresholdError(OUT_OF_ORDER.format(warn=warn, w=w, fail=fail, f=f, direction=direction))
        return cls(**values)

    def to_dict(self) -> dict[str, float | None]:
        return dataclasses.asdict(self)


#: (warn key, fail key, higher is worse) for every pair of levels.
LEVEL_PAIRS = (
    ("utility_ratio_warn", "utility_ratio_fail", False),
    ("utility_tstr_auroc_warn", "utility_tstr_auroc_fail", False),
    ("fairness_eod_change_warn", "fairness_eod_change_fail", True),
    ("fairness_auroc_gap_change_warn", "fairness_auroc_gap_change_fail", True),
    ("representation_share_ratio_warn", "representation_share_ratio_fail", False),
    ("fidelity_marginal_warn", "fidelity_marginal_fail", True),
    ("fidelity_detection_auc_warn", "fidelity_detection_auc_fail", True),
    ("rules_shortfall_warn", "rules_shortfall_fail", True),
    ("membership_auc_warn", "membership_auc_fail", True),
)


def checked(overrides: Mapping[str, Any]) -> dict[str, float | None]:
    """``overrides`` with every key known and every value a finite number (as float) or None."""
    known = [f.name for f in dataclasses.fields(Thresholds)]
    unknown = [str(k) for k in overrides if k not in known]
    if unknown:
        close = [m for k in unknown for m in difflib.get_close_matches(k, known, n=1)]
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        raise ThresholdError(UNKNOWN_THRESHOLD.format(keys=", ".join(map(repr, unknown)), hint=hint,
                                                      known=", ".join(known)))
    out: dict[str, float | None] = {}
    for key, value in overrides.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if value is not None and not (number and math.isfinite(value)):
            raise ThresholdError(BAD_THRESHOLD.format(key=key, value=value))
        out[key] = None if value is None else float(value)
    return out


@functools.lru_cache(maxsize=1)
def shipped_defaults() -> dict[str, float | None]:
    """The levels of the shipped ``dpsynth/data/verdict.yaml``."""
    text = resources.files("dpsynth").joinpath(THRESHOLDS_RESOURCE).read_text(encoding="utf-8")
    return checked(yaml.safe_load(text))


def load_thresholds(path: str | Path | None = None) -> Thresholds:
    """The thresholds of a YAML file overriding any subset of the shipped ones (None: the
    shipped defaults). Errors name the file and the fix."""
    return Thresholds.from_dict({} if path is None else threshold_overrides(path))


def threshold_overrides(path: str | Path) -> dict[str, float | None]:
    """The levels a user's YAML file sets, checked (what a report keeps in its metadata as
    ``verdict_thresholds``, so that the verdict can be rebuilt from audit.json)."""
    path = Path(path)
    if not path.is_file():
        raise ThresholdError(NO_FILE.format(path=path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ThresholdError(BAD_YAML.format(path=path, problem=str(error).splitlines()[0])) from None
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ThresholdError(NOT_A_MAPPING.format(path=path, kind=type(data).__name__))
    overrides = checked(data)
    Thresholds.from_dict(overrides)  # the order of the levels, with the shipped ones
    return overrides


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Check:
    """One line of the verdict: its status and the number that decided it."""

    name: str        # one of CHECK_NAMES
    status: str      # one of STATUSES
    decided_by: str  # one line naming the number that decided it
    value: float | None = None  # that number (NaN / None when n/a)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(BAD_STATUS.format(choices=STATUSES, status=self.status))


@dataclass(frozen=True)
class Verdict:
    """The checks of one audit table (or slice) and the thresholds they were judged against."""

    checks: tuple[Check, ...]
    thresholds: Thresholds

    @property
    def status(self) -> str:
        """The worst status ("fail" > "warn" > "pass"); "n/a" when no check has a number."""
        judged = [c.status for c in self.checks if c.status != "n/a"]
        return max(judged, key=SEVERITY.__getitem__) if judged else "n/a"

    def check(self, name: str) -> Check:
        """The check called ``name`` (KeyError if absent)."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        checks = [{"name": c.name, "status": c.status, "decided_by": c.decided_by,
                   "value": c.value if c.value is not None and math.isfinite(c.value) else None}
                  for c in self.checks]
        return {"status": self.status, "checks": checks, "thresholds": self.thresholds.to_dict()}

    def to_markdown(self, *, links: Mapping[str, str] | None = None) -> str:
        """The overall status and a checklist table (check | status | decided by); ``links``
        maps a check name to a URL or ``#anchor`` for its detail."""
        links = links or {}
        lines = [f"Overall: {status_text(self.status)} (the worst of the checks below)", "",
                 "| Check | Status | Decided by |", "|---|---|---|"]
        for c in self.checks:
            name = f"[{c.name}]({links[c.name]})" if c.name in links else c.name
            decided_by = c.decided_by.replace("|", "\\|")
            lines.append(f"| {name} | {status_text(c.status)} | {decided_by} |")
        return "\n".join(lines) + "\n"


def status_text(status: str) -> str:
    """"**FAIL**" / "**WARN**" in bold capitals, "pass" and "n/a" plain."""
    return f"**{status.upper()}**" if status in ("fail", "warn") else status


# ---------------------------------------------------------------------------- judging
@dataclass(frozen=True)
class Candidate:
    """One number a check judges, with its interval, flags and levels."""

    label: str                 # what the number is, e.g. "gboost equalized-odds change, age_band"
    value: float
    warn: float | None
    fail: float | None
    higher_is_worse: bool = True
    ci_low: float = math.nan
    ci_high: float = math.nan
    flag: str = ""
    signed: bool = False       # show the sign (changes)
    note: str = ""             # appended to the decided_by line
    row: Any = None            # the table row it came from (None for a derived number)


@dataclass(frozen=True)
class Finding:
    """A judged `Candidate`: status, how far beyond its level (relative, > 0 = beyond), the words."""

    candidate: Candidate
    status: str
    margin: float
    text: str

    @property
    def line(self) -> str:
        return f"{self.candidate.label}: {self.text}{self.candidate.note}"


def judge(c: Candidate) -> Finding:
    """The status of one number against its warn and fail levels (see the module docstring)."""
    sign = 1.0 if c.higher_is_worse else -1.0
    beyond_word = "above" if c.higher_is_worse else "below"
    interval = (c.ci_low, c.ci_high) if math.isfinite(c.ci_low) and math.isfinite(c.ci_high) else (c.value, c.value)
    nearest = min(*interval, c.value) if c.higher_is_worse else max(*interval, c.value)  # nearest to "good"
    shown = fmt(c.value, c.signed) + (f" [{fmt(c.ci_low)}, {fmt(c.ci_high)}]" if interval != (c.value, c.value) else "")
    reference = c.fail if c.fail is not None else c.warn
    margin = 0.0 if reference is None else sign * (c.value - reference) / (abs(reference) or 1.0)

    def beyond(x: float, level: float | None) -> bool:
        return level is not None and sign * (x - level) > 0

    flags = [f for f in c.flag.split(";") if f in CANNOT_FAIL]
    if beyond(nearest, c.fail):
        if flags:
            return Finding(c, "warn", margin, f"{shown} lies {beyond_word} {level(c.fail)}, but the row is flagged "
                                              f"{', '.join(flags)} (too few rows or no signal): not a fail on its own")
        return Finding(c, "fail", margin, f"{shown} lies {beyond_word} {level(c.fail)}")
    if beyond(c.value, c.fail):
        return Finding(c, "warn", margin, f"{shown} is {beyond_word} {level(c.fail)}, but not its whole interval")
    if beyond(c.value, c.warn):
        return Finding(c, "warn", margin, f"{shown} is {beyond_word} {level(c.warn)}")
    first = c.warn if c.warn is not None else c.fail
    limit = f", not {beyond_word} {level(first)}" if first is not None else " (no level set)"
    return Finding(c, "pass", margin, shown + limit)


def fmt(value: float, signed: bool = False) -> str:
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def level(value: float) -> str:
    """A threshold as written: two decimals when it has at most two ("0.10"), else in full."""
    return f"{value:.2f}" if round(value, 2) == value else f"{value:g}"


def worst(findings: list[Finding]) -> Finding | None:
    """The finding that decides a check: the highest status, then the farthest beyond its level."""
    return max(findings, key=lambda f: (SEVERITY[f.status], f.margin), default=None)


def decide(name: str, findings: list[Finding], missing: str) -> Check:
    """The check ``name`` decided by its worst finding; n/a with ``missing`` when there is none."""
    top = worst(findings)
    if top is None:
        return Check(name, "n/a", missing, math.nan)
    return Check(name, top.status, top.line, top.candidate.value)


# ---------------------------------------------------------------------------- the table
def tidy(table: pd.DataFrame) -> pd.DataFrame:
    """The table's `RESULT_COLUMNS` with text columns as str ("" for missing) and numbers as float."""
    missing = [c for c in RESULT_COLUMNS if c not in table.columns]
    if missing:
        raise DpsynthError(MISSING_COLUMNS.format(expected=RESULT_COLUMNS, missing=missing))
    t = table[RESULT_COLUMNS].copy()
    for col in RESULT_COLUMNS:
        if col in ("value", "ci_low", "ci_high", "n"):
            t[col] = pd.to_numeric(t[col], errors="coerce").astype(float)
        else:
            t[col] = t[col].fillna("").astype(str)
    return t.reset_index(drop=True)


def rows(t: pd.DataFrame, **equals: str) -> pd.DataFrame:
    mask = pd.Series(True, index=t.index)
    for col, value in equals.items():
        mask &= t[col] == value
    return t[mask]


def has_flag(flag: str, names: tuple[str, ...]) -> bool:
    """Whether a row's ``flag`` ("a;b:detail") holds one of ``names`` as a whole flag."""
    return any(part in names for part in str(flag).split(";"))


def candidate(row: Any, label: str, warn: float | None, fail: float | None, **kw: Any) -> Candidate:
    return Candidate(label=label, value=float(row.value), warn=warn, fail=fail, ci_low=float(row.ci_low),
                     ci_high=float(row.ci_high), flag=row.flag, row=row, **kw)


def judged(candidates: list[Candidate]) -> list[Finding]:
    return [judge(c) for c in candidates if math.isfinite(c.value)]


def nan_note(sel: pd.DataFrame) -> str:
    flags = sorted({f.split(":")[0] for f in ";".join(sel.flag).split(";") if f})
    return f" (their values are NaN{'; flags: ' + ', '.join(flags) if flags else ''})" if len(sel) else ""


# ---------------------------------------------------------------------------- the checks
def utility_check(t: pd.DataFrame, th: Thresholds, meta: Mapping[str, Any]) -> Check:
    """The worst TSTR/TRTR AUROC ratio decides, unless a model trained on synthetic data ranks the
    holdout below chance: that failure (the synthetic data invert the outcome association) is
    named on its own, whatever the ratio says."""
    sel = rows(t, validator="utility", source="ratio", metric="auroc", attribute="overall", group="")
    found = judged([candidate(r, f"{r.model} TSTR/TRTR AUROC ratio", th.utility_ratio_warn, th.utility_ratio_fail,
                              higher_is_worse=False) for r in sel.itertuples(index=False)])
    tstr = rows(t, validator="utility", source="tstr", metric="auroc", attribute="overall", group="")
    chance = [f if f.status == "pass" else named_below_chance(f) for f in judged(
        [candidate(r, f"{r.model} TSTR AUROC", th.utility_tstr_auroc_warn, th.utility_tstr_auroc_fail,
                   higher_is_worse=False) for r in tstr.itertuples(index=False)])]
    inverted = [f for f in chance if f.status == "fail"]
    return decide("utility", inverted or found + chance,
                  "no TSTR/TRTR AUROC ratio rows (utility did not run)" + nan_note(sel))


def named_below_chance(finding: Finding) -> Finding:
    return dataclasses.replace(finding, candidate=dataclasses.replace(finding.candidate, note=BELOW_CHANCE_NOTE))


def fairness_findings(table: pd.DataFrame, thresholds: Thresholds | None = None) -> list[Finding]:
    """Every equalized-odds-difference change and between-group AUROC gap change (per model and
    attribute), judged; the report's headline shows the worst per attribute. Both measure how
    synthesis widened a gap between groups, not the loss every group shares (utility)."""
    th = thresholds or load_thresholds()
    t = tidy(table)
    sel = rows(t, validator="fairness", source="change", group="")
    out = []
    for r in sel.itertuples(index=False):
        if r.metric == "equalized_odds_difference":
            out.append(candidate(r, f"{r.model} equalized-odds change, {r.attribute}", th.fairness_eod_change_warn,
                                 th.fairness_eod_change_fail, signed=True))
        elif r.metric == "auroc_gap":
            out.append(candidate(r, f"{r.model} between-group AUROC gap change, {r.attribute}",
                                 th.fairness_auroc_gap_change_warn, th.fairness_auroc_gap_change_fail, signed=True))
    return judged(out)


def fairness_check(t: pd.DataFrame, th: Thresholds, meta: Mapping[str, Any]) -> Check:
    sel = rows(t, validator="fairness", source="change", group="")
    sel = sel[sel.metric.isin(["equalized_odds_difference", "auroc_gap"])]
    return decide("fairness", fairness_findings(t, th),
                  "no equalized-odds or AUROC gap change rows (fairness did not run)" + nan_note(sel))


def representation_findings(table: pd.DataFrame, metadata: Mapping[str, Any] | None = None,
                            thresholds: Thresholds | None = None) -> list[Finding]:
    """Every group's synthetic / real share ratio (attributes, intersections, target classes),
    judged for under-representation. A group with no synthetic row is a finding unless it
    also had fewer than ``min_group_size`` real rows."""
    th = thresholds or load_thresholds()
    t = tidy(table)
    min_group = int(((metadata or {}).get("config") or {}).get("min_group_size", AuditConfig().min_group_size))
    rep = t[(t.validator == "representation") & (t.group != "")]
    shares = {(r.attribute, r.group, r.metric): r.value for r in rep.itertuples(index=False)}
    out = []
    for r in rows(rep, metric="share_ratio").itertuples(index=False):
        real = shares.get((r.attribute, r.group, "share_real"))
        syn = shares.get((r.attribute, r.group, "share_synthetic"))
        shown = f" ({fmt(syn)} / {fmt(real)})" if real is not None and syn is not None else ""
        flag = r.flag + (f";{SMALL_GROUP}" if has_flag(r.flag, (ABSENT_IN_SYNTHETIC,)) and r.n < min_group else "")
        out.append(dataclasses.replace(
            candidate(r, f"{r.attribute} = {r.group}, synthetic / real share{shown}",
                      th.representation_share_ratio_warn, th.representation_share_ratio_fail, higher_is_worse=False),
            flag=flag))
    return judged(out)


def representation_check(t: pd.DataFrame, th: Thresholds, meta: Mapping[str, Any]) -> Check:
    return decide("representation", representation_findings(t, meta, th),
                  "no share_ratio rows (representation did not run)")


def fidelity_check(t: pd.DataFrame, th: Thresholds, meta: Mapping[str, Any]) -> Check:
    overall = rows(t, validator="fidelity", attribute="overall", group="", feature="")
    out = [candidate(r, f"{MARGINAL_METRICS[r.metric]} (overall)", th.fidelity_marginal_warn, th.fidelity_marginal_fail)
           for r in overall.itertuples(index=False) if r.metric in MARGINAL_METRICS]
    out += [candidate(r, "detection AUC, real train vs synthetic", th.fidelity_detection_auc_warn,
                      th.fidelity_detection_auc_fail)
            for r in rows(overall, metric="detection_auc").itertuples(index=False)]
    return decide("fidelity", judged(out), "no marginal-distance or detection-AUC rows (fidelity did not run)")


def rules_check(t: pd.DataFrame, th: Thresholds, meta: Mapping[str, Any]) -> Check:
    """Each declared rule's shortfall: the share of real train rows that keep it minus the share
    of synthetic rows that do (0 when the synthetic data keep it as often as the real ones)."""
    sel = rows(t, validator="rules", metric="rule_share", attribute="overall")
    shares = {(r.feature, r.source): r for r in sel.itertuples(index=False)}
    out = []
    for rule in dict.fromkeys(sel.feature):
        real, syn = shares.get((rule, "train")), shares.get((rule, "synthetic"))
        if real is None or syn is None:
            continue
        out.append(Candidate(f"rule {rule}: real train minus synthetic share of rows keeping it "
                             f"({fmt(real.value)} − {fmt(syn.value)})", real.value - syn.value,
                             th.rules_shortfall_warn, th.rules_shortfall_fail, flag=syn.flag, signed=True))
    return decide("rules", judged(out), "no rule_share rows (the schema declares no rules, or the data are not a table)")


def memorisation_check(t: pd.DataFrame, th: Thresholds, meta: Mapping[str, Any]) -> Check:
    membership = t[t.validator == "membership"]
    for r in membership.itertuples(index=False):
        if has_flag(r.flag, (CONTRADICTS_CARD,)):
            scope = "" if r.attribute == "overall" else f", {r.attribute} = {r.group}"
            return Check("memorisation", "fail", f"{r.model} {r.metric}{scope}: {fmt(r.value)} "
                         f"[{fmt(r.ci_low)}, {fmt(r.ci_high)}] lies above the privacy card's DP bound "
                         f"({CONTRADICTS_CARD}): stop the release, the evidence contradicts the card", r.value)
    out = [candidate(r, f"{r.model} membership-inference AUC", th.membership_auc_warn, th.membership_auc_fail)
           for r in rows(membership, source="synthetic", metric="auc", attribute="overall", group="")
           .itertuples(index=False)]
    mem = rows(t, validator="memorisation", attribute="overall", group="")
    exact = {r.source: r for r in rows(mem, metric="exact_match_share").itertuples(index=False)}
    if "synthetic" in exact and "holdout" in exact:
        syn, base = exact["synthetic"], exact["holdout"]
        out.append(Candidate(f"exact-match share minus holdout base rate ({fmt(syn.value)} − {fmt(base.value)})",
                             syn.value - base.value, th.memorisation_exact_match_excess_warn, None,
                             flag=f"{syn.flag};{base.flag}", note=SIGNAL_NOTE))
    for metric, label, warn, higher in (
            ("dcr_ratio", "DCR median ratio, synthetic / holdout", th.memorisation_dcr_ratio_warn, False),
            ("share_closer_than_holdout_p5", "share of synthetic rows closer than the holdout's 5th percentile",
             th.memorisation_closer_than_holdout_p5_warn, True)):
        out += [candidate(r, label, warn, None, higher_is_worse=higher, note=SIGNAL_NOTE)
                for r in rows(mem, metric=metric).itertuples(index=False)]
    return decide("memorisation", judged(out), "no membership-inference or memorisation rows (neither ran)")


def small_groups_check(t: pd.DataFrame, th: Thresholds, meta: Mapping[str, Any]) -> Check:
    config = meta.get("config") or {}
    m = int(config.get("min_group_size", AuditConfig().min_group_size))
    min_holdout = meta.get("min_holdout_size", HOLDOUT_MIN_FACTOR * m)
    n_holdout = meta.get("n_holdout")
    flags = {part for f in t.flag for part in str(f).split(";")}
    if SMALL_HOLDOUT in flags or (n_holdout is not None and n_holdout < min_holdout):
        size = f"{n_holdout} rows" if n_holdout is not None else "too few rows"
        return Check("small_groups", "fail", f"{SMALL_HOLDOUT}: the holdout has {size}, fewer than {min_holdout} "
                     "(min_holdout_size): too few to judge any number; use a larger holdout",
                     math.nan if n_holdout is None else float(n_holdout))
    small = t[(t.group != "") & t.flag.map(lambda f: has_flag(f, SMALL_GROUP_FLAGS))]
    groups = list(dict.fromkeys(f"{a} = {g}" for a, g in zip(small.attribute, small.group)))
    few = [f for f in FEW_CLASS_FLAGS if f in flags]
    if not groups and not few:
        if not (t.group != "").any():
            return Check("small_groups", "n/a", "no per-group rows to check (no sensitive attribute was audited)",
                         math.nan)
        return Check("small_groups", "pass", f"no group flagged {' or '.join(SMALL_GROUP_FLAGS)} "
                     f"(min_group_size {m})", 0.0)
    parts = []
    if few:
        parts.append(f"the holdout has fewer than {m} rows of an outcome class ({', '.join(few)})")
    if groups:
        named = ", ".join(groups[:SHOWN_GROUPS]) + (f" and {len(groups) - SHOWN_GROUPS} more"
                                                    if len(groups) > SHOWN_GROUPS else "")
        parts.append(f"{len(groups)} group(s) too small to judge (fewer than {m} rows, or none): {named}")
    return Check("small_groups", "warn", "; ".join(parts), float(len(groups)))


CHECKS = (utility_check, fairness_check, representation_check, fidelity_check, rules_check, memorisation_check,
          small_groups_check)  # in CHECK_NAMES order


def evaluate(table: pd.DataFrame, metadata: Mapping[str, Any] | None = None,
             thresholds: Thresholds | None = None) -> Verdict:
    """The verdict of an audit table (one audit, or any slice of a sweep's results).

    ``metadata`` (the report's) gives ``config.min_group_size``, ``n_holdout`` and
    ``min_holdout_size`` when present; ``thresholds`` default to the shipped ones.
    """
    th = thresholds or load_thresholds()
    t = tidy(table)
    meta = metadata or {}
    return Verdict(tuple(check(t, th, meta) for check in CHECKS), th)

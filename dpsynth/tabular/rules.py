"""Declared schema rules: public relations between columns that every synthetic row keeps.

A tabular schema may list ``rules:`` — facts about the data that are public knowledge (a data
dictionary, a trial protocol), never read from the private rows:

- `MappingRule` (``kind: mapping``): a categorical ``target`` determined by a categorical
  ``source`` (SUPPORT2: each ``dzgroup`` belongs to one ``dzclass``);
- `RangeRule` (``kind: range``): a numeric ``column``'s bounds per category of a categorical
  ``by`` column (categories not listed keep the column's public bounds);
- `SumRule` (``kind: sum``): a numeric ``target`` equal to the sum of numeric ``terms``.

Rules are checked against the columns when the schema loads (`check_rules`): each error names
the rule, the key and the fix. Generators honour them by construction — a derived column
(mapping or sum target) is not modelled but computed from its sources, and a range restricts
the value drawn — and the audit reports the share of rows that keep each rule (`holds`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from dpsynth.errors import SchemaError
from dpsynth.schema import (
    CategoricalColumn,
    Column,
    NumericColumn,
    canonical_category,
    format_bound,
    is_number,
    rounded_bounds,
)

RULE_KINDS = ("mapping", "range", "sum")
KEYS = {"mapping": ("source", "target", "map"), "range": ("column", "by", "ranges"), "sum": ("target", "terms")}
SUM_TOLERANCE = 1e-9  # relative and absolute: a sum read back from a CSV may differ in the last bits

WRONG_KEY = "rule {rule}: key '{key}' belongs to {other} rules; a {kind} rule takes {keys} (and name)"
UNKNOWN_COLUMN = "rule {rule}: {key} '{column}' is not a column of the schema; use one of {names} or drop the rule"
WRONG_KIND = "rule {rule}: {key} '{column}' is {actual}; a {kind} rule's {key} must be a {expected} column"
NOT_PUBLIC = ("rule {rule}: column '{column}' has no public {what}; rules are checked against the public "
              "schema: set its {what} and public: true")
NULLABLE_SOURCE = ("rule {rule}: source '{column}' is nullable, so a row may have no value to map; "
                   "declare it nullable: false or drop the rule")
MAP_MISSES = ("rule {rule}: map has no entry for {missing} (categories of source '{source}'); give every "
              "category of '{source}' its '{target}' value")
MAP_EXTRA = "rule {rule}: map lists {extra}, which are not categories of source '{source}' ({domain})"
MAP_BAD_VALUE = ("rule {rule}: map sends {pairs} to value(s) that are not categories of target '{target}' "
                 "({domain}); use one of its categories")
SAME_COLUMN = "rule {rule}: {a} and {b} are the same column '{column}'; a rule relates two different columns"
RANGE_BAD_CATEGORY = "rule {rule}: ranges list {extra}, which are not categories of '{by}' ({domain})"
RANGE_NOT_PAIR = "rule {rule}: ranges.{category} must be [lower, upper] (two numbers), not {value!r}"
RANGE_REVERSED = "rule {rule}: ranges.{category} is [{lower}, {upper}]; write the lower bound first"
RANGE_OUTSIDE = ("rule {rule}: ranges.{category} [{lower}, {upper}] leaves the public bounds [{col_lower}, "
                 "{col_upper}] of column '{column}'; keep it inside them (or widen the column's bounds)")
RANGE_NO_VALUE = ("rule {rule}: ranges.{category} [{lower}, {upper}] holds no value written with column "
                  "'{column}''s precision ({what}); widen the range")
SUM_FEW_TERMS = "rule {rule}: terms must list at least two different columns, not {terms!r}"
SUM_TARGET_IS_TERM = "rule {rule}: target '{target}' is also one of its terms; a sum derives a column from others"
SUM_BOUNDS = ("rule {rule}: the terms can add up to [{low}, {high}], outside the public bounds [{lower}, {upper}] "
              "of target '{target}'; widen the target's bounds to cover [{low}, {high}]")
SUM_INTEGER = ("rule {rule}: target '{target}' is integer but term(s) {terms} are not; declare the terms "
               "integer: true or the target integer: false")
SUM_PRECISION = ("rule {rule}: term(s) {terms} are written with more decimals than target '{target}' "
                 "(decimals: {places}); give the terms at most {places} decimals or drop the target's decimals")
SUM_NULLABLE = ("rule {rule}: term(s) {terms} are nullable, so the sum may be missing; declare target "
                "'{target}' nullable: true")
DERIVED_TWICE = "rules {first} and {second} both derive column '{column}'; keep one"
DERIVED_CONDITION = ("rule {rule} derives '{column}', which is the schema's {role}; generators draw it from the "
                     "condition cell, so it cannot also be derived: drop the rule or derive another column")
RANGE_ON_DERIVED = ("rule {rule} bounds '{column}', which rule {other} derives; a derived value cannot be "
                    "restricted as well: drop one of the two rules")
RANGE_TWICE = "rules {first} and {second} both bound column '{column}'; merge them into one range rule"
CYCLE = "rules {rules} derive their columns from each other ({path}); break the cycle"
DUPLICATE_NAME = "two rules are named '{name}'; give each rule its own name"
BROKEN_BY_DATA = ("data break rule {rule} in {count} row(s) (e.g. {example}); the rule is declared as public "
                  "knowledge that holds in every row: fix those rows or drop the rule from the schema")


@dataclass
class Rule:
    """What every rule kind shares: its optional ``name`` and the label errors and the audit use."""

    name: str | None = field(default=None, kw_only=True)
    kind: ClassVar[str] = ""

    @property
    def label(self) -> str:
        return self.name or self.default_label()

    @property
    def quoted(self) -> str:
        return f"'{self.label}'"

    def default_label(self) -> str:
        raise NotImplementedError

    @property
    def derives(self) -> str | None:
        """The column this rule computes from others (None: it derives nothing)."""
        return None

    @property
    def inputs(self) -> list[str]:
        """The columns a derived value is computed from."""
        return []

    def holds(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean per row of a conformed frame: does the row keep the rule?"""
        raise NotImplementedError

    def example(self, frame: pd.DataFrame, broken: np.ndarray) -> str:
        """A broken row, in words, for error messages."""
        cols = [*self.inputs, self.derives] if self.derives else self.columns()
        row = frame.loc[broken, cols].iloc[0]
        return ", ".join(f"{c}={row[c]!r}" for c in cols)

    def columns(self) -> list[str]:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.name is not None:
            out["name"] = self.name
        return out


@dataclass
class MappingRule(Rule):
    """``target`` = ``map[source]``: a categorical column determined by another."""

    source: str
    target: str
    map: dict[str, str]
    kind: ClassVar[str] = "mapping"

    def __post_init__(self) -> None:
        self.map = {canonical_category(k): canonical_category(v) for k, v in dict(self.map).items()}

    def default_label(self) -> str:
        return f"{self.source} -> {self.target}"

    @property
    def derives(self) -> str:
        return self.target

    @property
    def inputs(self) -> list[str]:
        return [self.source]

    def columns(self) -> list[str]:
        return [self.source, self.target]

    def derive(self, frame: pd.DataFrame) -> np.ndarray:
        """The target of every row, from its source."""
        return frame[self.source].map(self.map).to_numpy(object)

    def holds(self, frame: pd.DataFrame) -> np.ndarray:
        want = frame[self.source].map(self.map)
        return (want.notna() & (frame[self.target].astype(object) == want)).to_numpy(bool)

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"source": self.source, "target": self.target, "map": dict(self.map)}


@dataclass
class RangeRule(Rule):
    """A numeric ``column`` inside ``ranges[category]`` (inclusive) for each category of ``by``;
    categories not listed, and a missing ``by``, keep the column's public bounds."""

    column: str
    by: str
    ranges: dict[str, list[float]]
    kind: ClassVar[str] = "range"

    def __post_init__(self) -> None:
        self.ranges = {canonical_category(k): v for k, v in dict(self.ranges).items()}

    def default_label(self) -> str:
        return f"{self.column} range by {self.by}"

    def columns(self) -> list[str]:
        return [self.by, self.column]

    def limits(self, by: np.ndarray, lower: float, upper: float) -> tuple[np.ndarray, np.ndarray]:
        """The lower and upper limit of each row, from its ``by`` value (``lower``/``upper``, the
        column's public bounds, where none is declared)."""
        lookup = {c: (float(lo), float(hi)) for c, (lo, hi) in self.ranges.items()}
        pairs = [lookup.get(v, (lower, upper)) for v in by]
        lo = np.array([p[0] for p in pairs], dtype=float).reshape(len(by))
        hi = np.array([p[1] for p in pairs], dtype=float).reshape(len(by))
        return lo, hi

    def holds(self, frame: pd.DataFrame) -> np.ndarray:
        values = frame[self.column].to_numpy(float)
        lo, hi = self.limits(frame[self.by].to_numpy(object), -np.inf, np.inf)
        tol = SUM_TOLERANCE * np.maximum(1.0, np.abs(values))
        with np.errstate(invalid="ignore"):
            inside = (values >= lo - tol) & (values <= hi + tol)
        return inside | np.isnan(values)

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"column": self.column, "by": self.by,
                                    "ranges": {k: [v[0], v[1]] for k, v in self.ranges.items()}}


@dataclass
class SumRule(Rule):
    """``target`` = the sum of ``terms`` (missing when a term is missing)."""

    target: str
    terms: list[str]
    kind: ClassVar[str] = "sum"

    def __post_init__(self) -> None:
        self.terms = list(self.terms)

    def default_label(self) -> str:
        return f"{self.target} = {' + '.join(self.terms)}"

    @property
    def derives(self) -> str:
        return self.target

    @property
    def inputs(self) -> list[str]:
        return list(self.terms)

    def columns(self) -> list[str]:
        return [*self.terms, self.target]

    def derive(self, frame: pd.DataFrame) -> np.ndarray:
        return frame[self.terms].to_numpy(float).sum(axis=1)  # NaN when a term is missing

    def holds(self, frame: pd.DataFrame) -> np.ndarray:
        want = self.derive(frame)
        got = frame[self.target].to_numpy(float)
        both_missing = np.isnan(want) & np.isnan(got)
        close = np.isclose(got, want, rtol=SUM_TOLERANCE, atol=SUM_TOLERANCE)
        return both_missing | close

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"target": self.target, "terms": list(self.terms)}


RULE_TYPES: dict[str, type[Rule]] = {"mapping": MappingRule, "range": RangeRule, "sum": SumRule}


def parse_rules(raw: list[dict[str, Any]] | None) -> list[Rule]:
    """Rules from a schema file's ``rules:`` list (its types already checked by the JSON Schema)."""
    rules: list[Rule] = []
    for i, spec in enumerate(raw or []):
        spec = dict(spec)
        kind = spec.pop("kind")
        name = spec.get("name")
        where = f"'{name}'" if name else f"#{i + 1} ({kind})"
        for key in spec:
            if key != "name" and key not in KEYS[kind]:
                other = next((k for k, keys in KEYS.items() if key in keys and k != kind), "no")
                raise SchemaError(WRONG_KEY.format(rule=where, key=key, other=other, kind=kind,
                                                   keys=", ".join(KEYS[kind])))
        rules.append(RULE_TYPES[kind](**spec))
    return rules


def check_rules(rules: list[Rule], columns: list[Column], *, target: str, sensitive_columns: list[str]) -> None:
    """Raise a `SchemaError` for the first rule that does not fit the schema's columns (see the
    module docstring); ``target`` and ``sensitive_columns`` are the condition columns, which a
    rule may read but never derive."""
    by_name = {c.name: c for c in columns}
    names = [r.name for r in rules if r.name is not None]
    for name in names:
        if names.count(name) > 1:
            raise SchemaError(DUPLICATE_NAME.format(name=name))
    for rule in rules:
        _CHECKS[rule.kind](rule, by_name)
    derived: dict[str, Rule] = {}
    for rule in rules:
        column = rule.derives
        if column is None:
            continue
        if column in derived:
            raise SchemaError(DERIVED_TWICE.format(first=derived[column].quoted, second=rule.quoted, column=column))
        if column == target or column in sensitive_columns:
            role = "prediction target" if column == target else "sensitive attribute column"
            raise SchemaError(DERIVED_CONDITION.format(rule=rule.quoted, column=column, role=role))
        derived[column] = rule
    bounded: dict[str, Rule] = {}
    for rule in rules:
        if isinstance(rule, RangeRule):
            if rule.column in derived:
                raise SchemaError(RANGE_ON_DERIVED.format(rule=rule.quoted, column=rule.column,
                                                          other=derived[rule.column].quoted))
            if rule.column in bounded:
                raise SchemaError(RANGE_TWICE.format(first=bounded[rule.column].quoted, second=rule.quoted,
                                                     column=rule.column))
            bounded[rule.column] = rule
    derivation_order(rules)  # raises on a cycle


def derivation_order(rules: list[Rule]) -> list[Rule]:
    """The deriving rules, each after the rules that derive its inputs; a cycle is an error."""
    deriving = {r.derives: r for r in rules if r.derives is not None}
    order: list[Rule] = []
    state: dict[str, str] = {}

    def visit(column: str, path: list[str]) -> None:
        if state.get(column) == "done" or column not in deriving:
            return
        if state.get(column) == "active":
            loop = path[path.index(column):] + [column]
            involved = sorted({deriving[c].quoted for c in loop[:-1]})
            raise SchemaError(CYCLE.format(rules=", ".join(involved), path=" <- ".join(loop)))
        state[column] = "active"
        for source in deriving[column].inputs:
            visit(source, [*path, column])
        state[column] = "done"
        order.append(deriving[column])

    for column in deriving:
        visit(column, [])
    return order


def derived_columns(rules: list[Rule]) -> list[str]:
    """The columns the rules derive (not modelled by a generator)."""
    return [r.derives for r in rules if r.derives is not None]


def broken_rows(rules: list[Rule], frame: pd.DataFrame) -> None:
    """Raise if a conformed ``frame`` breaks a rule: how many rows and one example."""
    for rule in rules:
        broken = ~rule.holds(frame)
        if broken.any():
            raise SchemaError(BROKEN_BY_DATA.format(rule=rule.quoted, count=int(broken.sum()),
                                                    example=rule.example(frame, broken)))


def restrict_ranges(rules: list[Rule], frame: pd.DataFrame, columns: list[Column]) -> pd.DataFrame:
    """``frame`` with every range-ruled value clipped into its row's range and rounded to its
    column's precision inside it (post-processing of a synthetic table)."""
    out = frame.copy()
    by_name = {c.name: c for c in columns}
    for rule in rules:
        if isinstance(rule, RangeRule):
            col = by_name[rule.column]
            lo, hi = rule.limits(out[rule.by].to_numpy(object), col.lower, col.upper)
            out[rule.column] = clip_to_range(col, out[rule.column].to_numpy(float), lo, hi)
    return out


def clip_to_range(col: NumericColumn, values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``values`` inside each row's range [``lo``, ``hi``] (`RangeRule.limits`), at the column's
    precision (missing stays missing)."""
    out = np.clip(values, lo, hi)
    places = col.places
    if places is not None:
        scale = 10.0 ** places
        low = np.ceil(np.round(lo * scale, 6)) / scale
        high = np.floor(np.round(hi * scale, 6)) / scale
        out = np.clip(col.rounded(out), low, high)
    return out


def derive(rules: list[Rule], frame: pd.DataFrame, columns: list[Column]) -> pd.DataFrame:
    """``frame`` with every derived column computed from its inputs, in `derivation_order`
    (a sum rounded to its column's precision)."""
    out = frame.copy()
    by_name = {c.name: c for c in columns}
    for rule in derivation_order(rules):
        values = rule.derive(out)  # type: ignore[attr-defined]
        col = by_name[rule.derives]
        if isinstance(col, NumericColumn):
            values = col.rounded(np.asarray(values, dtype=float))
        out[rule.derives] = values
    return out


def enforce(rules: list[Rule], frame: pd.DataFrame, columns: list[Column]) -> pd.DataFrame:
    """A table from any sampler made to keep every rule: derived columns computed, then ranges
    clipped (used where our codec is not, e.g. the SDV references)."""
    return restrict_ranges(rules, derive(rules, frame, columns), columns)


# ---------------------------------------------------------------------- checks per kind
def _column(rule: Rule, key: str, name: str, by_name: dict[str, Column], kind: type) -> Column:
    if name not in by_name:
        raise SchemaError(UNKNOWN_COLUMN.format(rule=rule.quoted, key=key, column=name, names=list(by_name)))
    col = by_name[name]
    if not isinstance(col, kind):
        expected = "categorical" if kind is CategoricalColumn else "numeric"
        raise SchemaError(WRONG_KIND.format(rule=rule.quoted, key=key, column=name, actual=col.kind,
                                            kind=rule.kind, expected=expected))
    missing = col.missing_public_values()
    if missing:
        what = "categories" if isinstance(col, CategoricalColumn) else "bounds"
        raise SchemaError(NOT_PUBLIC.format(rule=rule.quoted, column=name, what=what))
    return col


def _check_mapping(rule: MappingRule, by_name: dict[str, Column]) -> None:
    source = _column(rule, "source", rule.source, by_name, CategoricalColumn)
    target = _column(rule, "target", rule.target, by_name, CategoricalColumn)
    if source.name == target.name:
        raise SchemaError(SAME_COLUMN.format(rule=rule.quoted, a="source", b="target", column=source.name))
    if source.nullable:
        raise SchemaError(NULLABLE_SOURCE.format(rule=rule.quoted, column=source.name))
    domain = list(source.categories or [])
    missing = [c for c in domain if c not in rule.map]
    if missing:
        raise SchemaError(MAP_MISSES.format(rule=rule.quoted, missing=missing, source=source.name, target=target.name))
    extra = [c for c in rule.map if c not in domain]
    if extra:
        raise SchemaError(MAP_EXTRA.format(rule=rule.quoted, extra=extra, source=source.name, domain=domain))
    bad = {k: v for k, v in rule.map.items() if v not in (target.categories or [])}
    if bad:
        raise SchemaError(MAP_BAD_VALUE.format(rule=rule.quoted, pairs=bad, target=target.name,
                                               domain=target.categories))


def _check_range(rule: RangeRule, by_name: dict[str, Column]) -> None:
    by = _column(rule, "by", rule.by, by_name, CategoricalColumn)
    col = _column(rule, "column", rule.column, by_name, NumericColumn)
    domain = list(by.categories or [])
    extra = [c for c in rule.ranges if c not in domain]
    if extra:
        raise SchemaError(RANGE_BAD_CATEGORY.format(rule=rule.quoted, extra=extra, by=by.name, domain=domain))
    for category, pair in rule.ranges.items():
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(is_number(v) for v in pair):
            raise SchemaError(RANGE_NOT_PAIR.format(rule=rule.quoted, category=category, value=pair))
        lower, upper = float(pair[0]), float(pair[1])
        words = dict(rule=rule.quoted, category=category, lower=format_bound(lower), upper=format_bound(upper))
        if lower > upper:
            raise SchemaError(RANGE_REVERSED.format(**words))
        if lower < col.lower or upper > col.upper:
            raise SchemaError(RANGE_OUTSIDE.format(**words, col_lower=format_bound(col.lower),
                                                   col_upper=format_bound(col.upper), column=col.name))
        if col.places is not None:
            low, high = rounded_bounds(lower, upper, col.places)
            if low > high:
                what = "whole numbers" if col.integer else f"{col.places} decimal(s)"
                raise SchemaError(RANGE_NO_VALUE.format(**words, column=col.name, what=what))


def _check_sum(rule: SumRule, by_name: dict[str, Column]) -> None:
    target = _column(rule, "target", rule.target, by_name, NumericColumn)
    if len(set(rule.terms)) < 2 or len(set(rule.terms)) != len(rule.terms):
        raise SchemaError(SUM_FEW_TERMS.format(rule=rule.quoted, terms=rule.terms))
    if rule.target in rule.terms:
        raise SchemaError(SUM_TARGET_IS_TERM.format(rule=rule.quoted, target=rule.target))
    terms = [_column(rule, "terms", name, by_name, NumericColumn) for name in rule.terms]
    low, high = sum(t.lower for t in terms), sum(t.upper for t in terms)
    if low < target.lower or high > target.upper:
        raise SchemaError(SUM_BOUNDS.format(rule=rule.quoted, low=format_bound(low), high=format_bound(high),
                                            lower=format_bound(target.lower), upper=format_bound(target.upper),
                                            target=target.name))
    if target.integer and not all(t.integer for t in terms):
        raise SchemaError(SUM_INTEGER.format(rule=rule.quoted, target=target.name,
                                             terms=[t.name for t in terms if not t.integer]))
    if target.places is not None:
        finer = [t.name for t in terms if t.places is None or t.places > target.places]
        if finer:
            raise SchemaError(SUM_PRECISION.format(rule=rule.quoted, terms=finer, target=target.name,
                                                   places=target.places))
    nullable = [t.name for t in terms if t.nullable]
    if nullable and not target.nullable:
        raise SchemaError(SUM_NULLABLE.format(rule=rule.quoted, terms=nullable, target=target.name))


_CHECKS: dict[str, Any] = {"mapping": _check_mapping, "range": _check_range, "sum": _check_sum}

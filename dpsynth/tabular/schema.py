"""The public schema of a tabular dataset: what may be known without reading private data.

A `TabularSchema` names every column with its kind, its *public* bounds (numeric) or
category domain (categorical), whether missing values may occur, the prediction target and
the sensitive attributes used for subgroup audits (optionally coarsened: age bands, merged
race groups). The target has two or more classes; ``positive`` names the class that binary
metrics (AUROC, equalized odds, ...) score one-vs-rest. Every fitted transform in dpsynth
is driven by the schema alone, never by `min()`/`max()`/`unique()` of the private data
(docs/privacy.md, rule 2).

A schema written by `draft_schema` from data marks each data-derived value
`public: false`; generators refuse such a schema until the user confirms public values or
pays for DP estimates (see `dpsynth.tabular.domain`). Series and image schemas keep their
per-subject or per-image attributes in a `TabularSchema` (`StaticAttributes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from dpsynth import errors
from dpsynth.errors import SchemaError
from dpsynth.schema_spec import check_spec
from dpsynth.schema import (
    SCHEMA_VERSION,
    CategoricalColumn,
    Column,
    NumericColumn,
    SchemaFile,
    SensitiveAttribute,
    canonical_category,
    format_bound,
)
from dpsynth.tabular.rules import Rule, broken_rows, check_rules as check_rule_columns, parse_rules


@dataclass
class ValidationReport:
    """What `TabularSchema.conform` changed: counted clips and unseen-to-missing mappings."""

    n_rows: int = 0
    clipped: dict[str, int] = field(default_factory=dict)
    unseen_to_missing: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"n_rows": self.n_rows, "clipped": dict(self.clipped),
                "unseen_to_missing": dict(self.unseen_to_missing)}

    def merged(self, other: ValidationReport) -> ValidationReport:
        """The report of two parts of one table (chunks read one after the other)."""
        def add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
            return {k: a.get(k, 0) + b.get(k, 0) for k in dict.fromkeys([*a, *b])}

        return ValidationReport(self.n_rows + other.n_rows, add(self.clipped, other.clipped),
                                add(self.unseen_to_missing, other.unseen_to_missing))



@dataclass
class TabularSchema(SchemaFile):
    """Public description of a tabular EHR dataset (see module docstring)."""

    columns: list[Column]
    target: str
    positive: str
    sensitive: list[SensitiveAttribute] = field(default_factory=list)
    subject_id: str | None = None
    version: int = SCHEMA_VERSION
    rules: list[Rule] = field(default_factory=list)
    modality: ClassVar[str] = "tabular"

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise SchemaError(f"schema declares a column twice: {names!r}")
        if self.target not in names:
            raise SchemaError(f"target '{self.target}' is not a column of the schema")
        target = self.column(self.target)
        if not isinstance(target, CategoricalColumn) or target.nullable:
            raise SchemaError(f"target '{self.target}' must be a categorical, non-nullable column")
        self.positive = canonical_category(self.positive)
        if target.categories is not None and self.positive not in target.categories:
            raise SchemaError(
                f"positive label {self.positive!r} is not a category of target '{self.target}' "
                f"({target.categories!r})"
            )
        if target.categories is not None and len(target.categories) < 2:
            raise SchemaError(f"target '{self.target}' needs at least two categories; it has {target.categories!r}")
        seen = set()
        for attr in self.sensitive:
            if attr.column not in names:
                raise SchemaError(f"sensitive attribute '{attr.name}' refers to unknown column '{attr.column}'")
            column = self.column(attr.column)
            if (attr.bins is not None and isinstance(column, NumericColumn) and column.lower is not None
                    and column.upper is not None and not attr.bins[0] <= column.lower <= column.upper <= attr.bins[-1]):
                raise SchemaError(
                    f"sensitive attribute '{attr.name}': bands [{format_bound(attr.bins[0])}, {format_bound(attr.bins[-1])}] must "
                    f"cover the bounds [{format_bound(column.lower)}, {format_bound(column.upper)}] of column '{column.name}'")
            if attr.groups and isinstance(column, CategoricalColumn) and column.categories is not None:
                unknown = [c for cs in attr.groups.values() for c in cs if c not in column.categories]
                if unknown:
                    raise SchemaError(f"sensitive attribute '{attr.name}': groups list {unknown!r}, which are "
                                      f"not categories of column '{column.name}' ({column.categories!r})")
            if attr.name in seen or attr.name == self.target:
                raise SchemaError(f"sensitive attribute name '{attr.name}' is used twice")
            seen.add(attr.name)
        if self.subject_id is not None and self.subject_id in names:
            raise SchemaError(
                f"subject id '{self.subject_id}' must not be a modelled column; it only groups rows"
            )
        if self.version != SCHEMA_VERSION:
            raise SchemaError(f"schema version {self.version} is not supported (expected {SCHEMA_VERSION})")
        self.rules = list(self.rules)
        check_rule_columns(self.rules, self.columns, target=self.target,
                           sensitive_columns=[a.column for a in self.sensitive])

    # ----------------------------------------------------------------- lookup
    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise SchemaError(f"no column '{name}' in the schema")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def condition_names(self) -> list[str]:
        """Target first, then the sensitive attributes: what generators condition on."""
        return [self.target] + [a.name for a in self.sensitive]

    def condition_domains(self) -> dict[str, list[str]]:
        domains = {self.target: list(self.column(self.target).categories or [])}
        for attr in self.sensitive:
            domains[attr.name] = attr.domain(self.column(attr.column))
        return domains

    def not_public(self) -> list[str]:
        """Names of every value that is data-derived or missing rather than public."""
        out = [item for col in self.columns for item in col.missing_public_values()]
        out += [f"sensitive.{a.name}" for a in self.sensitive if not a.public]
        return out

    def require_public(self) -> None:
        missing = self.not_public()
        if missing:
            raise SchemaError(errors.NOT_PUBLIC.format(fields=", ".join(missing)))

    # -------------------------------------------------------------- data checks
    def conform(self, data: pd.DataFrame, *, check_rules: bool = True) -> tuple[pd.DataFrame, ValidationReport]:
        """Check `data` against the schema and return it in canonical form.

        Numeric columns become float, categorical ones strings (NaN for missing). Every
        problem raises a `SchemaError` naming the column and the fix; the only changes made
        are those the schema allows (``out_of_bounds: clip``, ``unseen: missing``), and
        they are counted in the returned report. The input frame is not modified. Data that
        break a declared rule are refused (the rule, the count of rows and an example), after
        the clips: a rule is public knowledge that holds in every row. The audit passes
        ``check_rules=False``: it measures how many rows keep each rule instead.
        """
        expected = self.check_columns(data)
        report = ValidationReport(n_rows=len(data))
        out = pd.DataFrame(index=data.index)
        if self.subject_id:
            if data[self.subject_id].isna().any():
                raise SchemaError(f"subject id column '{self.subject_id}' has missing values")
            out[self.subject_id] = data[self.subject_id].map(canonical_category)
        for col in self.columns:
            if isinstance(col, NumericColumn):
                out[col.name] = self._conform_numeric(data[col.name], col, report)
            else:
                out[col.name] = self._conform_categorical(data[col.name], col, report)
        if check_rules:
            broken_rows(self.rules, out)
        return out[expected], report

    def count_units(self, data: pd.DataFrame) -> int:
        """Number of privacy units in ``data``: distinct subjects, or rows without a subject id."""
        if self.subject_id is None:
            return len(data)
        if self.subject_id not in data.columns:
            raise SchemaError(errors.MISSING_COLUMNS.format(columns=[self.subject_id]))
        return int(data[self.subject_id].nunique())

    def check_columns(self, data: pd.DataFrame) -> list[str]:
        """Raise if columns are missing or undeclared; return the expected column order."""
        expected = self.names + ([self.subject_id] if self.subject_id else [])
        missing = [c for c in expected if c not in data.columns]
        if missing:
            raise SchemaError(errors.MISSING_COLUMNS.format(columns=missing))
        extra = [c for c in data.columns if c not in expected]
        if extra:
            raise SchemaError(errors.EXTRA_COLUMNS.format(columns=extra))
        return expected

    @staticmethod
    def _conform_numeric(raw: pd.Series, col: NumericColumn, report: ValidationReport) -> pd.Series:
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() & raw.notna()
        if bad.any():
            raise SchemaError(errors.NOT_NUMERIC.format(column=col.name, examples=list(raw[bad].unique()[:3])))
        values = values.astype(float)
        if np.isinf(values).any():
            raise SchemaError(errors.NOT_NUMERIC.format(column=col.name, examples=["inf"]))
        n_missing = int(values.isna().sum())
        if n_missing and not col.nullable:
            raise SchemaError(errors.UNEXPECTED_MISSING.format(column=col.name, count=n_missing))
        present = values.dropna()
        if col.integer and not np.all(np.isclose(present, np.round(present))):
            examples = list(present[~np.isclose(present, np.round(present))].unique()[:3])
            raise SchemaError(errors.NOT_INTEGER.format(column=col.name, examples=examples))
        if col.lower is not None and col.upper is not None:
            outside = (values < col.lower) | (values > col.upper)
            if outside.any():
                if col.out_of_bounds != "clip":
                    raise SchemaError(errors.OUT_OF_BOUNDS.format(
                        column=col.name, count=int(outside.sum()), lower=col.lower, upper=col.upper,
                        examples=[float(v) for v in values[outside].unique()[:3]]))
                report.clipped[col.name] = int(outside.sum())
                values = values.clip(col.lower, col.upper)
        return values

    @staticmethod
    def _conform_categorical(raw: pd.Series, col: CategoricalColumn, report: ValidationReport) -> pd.Series:
        values = raw.astype(object).map(canonical_category)
        if col.categories is not None:
            unseen = values.notna() & ~values.isin(col.categories)
            if unseen.any():
                if col.unseen == "missing" and col.nullable:
                    report.unseen_to_missing[col.name] = int(unseen.sum())
                    values = values.where(~unseen, np.nan)
                else:
                    raise SchemaError(errors.UNSEEN_CATEGORIES.format(
                        column=col.name, examples=sorted(values[unseen].unique())[:3], domain=col.categories))
        n_missing = int(values.isna().sum())
        if n_missing and not col.nullable:
            raise SchemaError(errors.UNEXPECTED_MISSING.format(column=col.name, count=n_missing))
        return values.astype(object)

    def group_labels(self, data: pd.DataFrame) -> pd.DataFrame:
        """One column per condition (target + sensitive attributes) with its group label."""
        out = pd.DataFrame(index=data.index)
        out[self.target] = data[self.target].astype(object)
        for attr in self.sensitive:
            out[attr.name] = attr.label(data[attr.column], self.column(attr.column))
        return out

    # ------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        spec = {
            "version": self.version,
            "modality": self.modality,
            "target": self.target,
            "positive": self.positive,
            "subject_id": self.subject_id,
            "sensitive": [a.to_dict() for a in self.sensitive],
            "columns": [c.to_dict() for c in self.columns],
        }
        if self.rules:  # absent when none: schemas without rules keep their fingerprint
            spec["rules"] = [r.to_dict() for r in self.rules]
        return spec

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> TabularSchema:
        """A schema from a file's mapping, checked against the published JSON Schema first
        (`dpsynth.schema_spec.check_spec`: unknown keys, types, choices), then for meaning."""
        if not isinstance(spec, dict):
            raise SchemaError("a schema must be a mapping with keys version, modality, target, columns, ...")
        if spec.get("modality", "tabular") != "tabular":
            raise SchemaError(f"modality {spec.get('modality')!r} is not supported by TabularSchema")
        check_spec(spec, "tabularSchema", "schema")
        return cls.from_checked(spec)

    @classmethod
    def from_checked(cls, spec: dict[str, Any]) -> TabularSchema:
        """A schema from a mapping that `check_spec` accepted (the ``static`` part of a series or
        image schema, already checked with its file)."""
        columns: list[Column] = []
        for raw in spec["columns"]:
            raw = dict(raw)
            kind = raw.pop("kind")
            columns.append(NumericColumn(**raw) if kind == "numeric" else CategoricalColumn(**raw))
        sensitive = [SensitiveAttribute(**a) for a in spec.get("sensitive") or []]
        return cls(columns=columns, target=spec["target"], positive=spec["positive"],
                   sensitive=sensitive, subject_id=spec.get("subject_id"),
                   version=int(spec.get("version", SCHEMA_VERSION)), rules=parse_rules(spec.get("rules")))


class StaticAttributes(SchemaFile):
    """What a series or image schema answers through its ``static`` `TabularSchema` (the
    per-subject or per-image attributes): the target, the positive label, the sensitive
    attributes, the condition domains and the public-value checks."""

    static: TabularSchema

    @property
    def target(self) -> str:
        return self.static.target

    @property
    def positive(self) -> str:
        return self.static.positive

    @property
    def sensitive(self) -> list[SensitiveAttribute]:
        return self.static.sensitive

    @property
    def condition_names(self) -> list[str]:
        return self.static.condition_names

    def condition_domains(self) -> dict[str, list[str]]:
        return self.static.condition_domains()

    def not_public(self) -> list[str]:
        return self.static.not_public()

    def require_public(self) -> None:
        self.static.require_public()


def static_schema_from_spec(spec: dict[str, Any]) -> TabularSchema:
    """The per-subject or per-image `TabularSchema` of a series or image schema file (checked
    with `check_spec` already): its top-level ``target``, ``positive``, ``subject_id`` (may be
    absent), ``sensitive`` and ``static`` (the columns) keys."""
    return TabularSchema.from_checked({
        "version": spec.get("version", SCHEMA_VERSION), "target": spec["target"], "positive": spec["positive"],
        "subject_id": spec.get("subject_id"), "sensitive": spec.get("sensitive"), "columns": spec["static"]})


def draft_schema(
    data: pd.DataFrame,
    *,
    target: str,
    sensitive: list[str],
    positive: str | None = None,
    subject_id: str | None = None,
    max_categories: int = 30,
) -> TabularSchema:
    """Draft a schema from data: a starting point for a person to edit.

    A column's kind follows its storage type alone (numeric dtype: numeric; otherwise, and for
    the target: categorical) — the file's format, not its values. Everything read from the
    values — bounds, categories, ``nullable``, ``integer`` and the sensitive bands — is
    data-derived, so each column is marked ``public: false``: dpsynth refuses to train until
    the user confirms it (``public: true``) or learns it with a DP mechanism, which also sets
    the drafted flags without reading the data (`dpsynth.tabular.domain`).
    """
    if target not in data.columns:
        raise SchemaError(f"target '{target}' is not a column of the data (columns: {list(data.columns)})")
    for name in sensitive:
        if name not in data.columns:
            raise SchemaError(f"sensitive attribute '{name}' is not a column of the data")
    columns: list[Column] = []
    for name in data.columns:
        if name == subject_id:
            continue
        series = data[name]
        nullable = bool(series.isna().any())
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if numeric and name != target:
            present = series.dropna().astype(float)
            integer = bool(np.all(np.isclose(present, np.round(present))))
            lower, upper = (float(present.min()), float(present.max())) if len(present) else (None, None)
            columns.append(NumericColumn(
                name=name, lower=lower, upper=upper, integer=integer, nullable=nullable, public=False))
        else:
            cats = sorted({canonical_category(v) for v in series.dropna().unique()})
            if len(cats) > max_categories and name != target:
                raise SchemaError(
                    f"column '{name}' has {len(cats)} distinct values (> {max_categories}); it looks like "
                    "an identifier or free text: drop it, or pass it as the subject id")
            columns.append(CategoricalColumn(name=name, categories=cats, nullable=nullable, public=False))
    target_col = next(c for c in columns if c.name == target)
    cats = target_col.categories or []
    if len(cats) != 2:
        raise SchemaError(f"target '{target}' must be binary; it has values {cats!r}")
    attrs = []
    for name in sensitive:
        col = next(c for c in columns if c.name == name)
        if isinstance(col, NumericColumn):
            if col.upper is None:
                raise SchemaError(f"sensitive attribute '{name}' has no value in the data; it cannot form subgroups")
            edges = np.unique(np.round(np.nanquantile(data[name].astype(float), [0, 0.25, 0.5, 0.75]), 0))
            bins = [float(e) for e in edges] + [float(np.ceil(col.upper)) + 1]
            attrs.append(SensitiveAttribute(column=name, name=f"{name}_band", bins=bins, public=False))
        else:
            attrs.append(SensitiveAttribute(column=name))
    return TabularSchema(
        columns=columns, target=target, positive=positive if positive is not None else cats[-1],
        sensitive=attrs, subject_id=subject_id)

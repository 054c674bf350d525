"""The public schema of a tabular dataset: what may be known without reading private data.

A schema names every column with its kind, its *public* bounds (numeric) or category
domain (categorical), whether missing values may occur, the prediction target and the
sensitive attributes used for subgroup audits (optionally coarsened: age bands, merged
race groups). The target has two or more classes; ``positive`` names the class that
binary metrics (AUROC, equalized odds, ...) score one-vs-rest, e.g. one digit of ten. Every fitted transform in dpsynth is driven by the schema alone, never by
`min()`/`max()`/`unique()` of the private data (privacy contract, rule 2).

A schema written by `draft` from data marks each data-derived value `public: false`;
generators refuse such a schema until the user confirms public values or pays for DP
estimates (see `dpsynth.privacy.domain`).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import pandas as pd
import yaml

from dpsynth import errors
from dpsynth.errors import DataReadError, SchemaError

SCHEMA_VERSION = 1
MISSING_GROUP = "missing"


def canonical_category(value: Any) -> Any:
    """Map a raw cell to the string used for categories (``1.0`` and ``1`` both give ``"1"``).

    Missing cells stay ``NaN`` so that nullability can be checked.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return np.nan
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


@dataclass
class NumericColumn:
    """A numeric column with public bounds ``[lower, upper]``."""

    name: str
    lower: float | None = None
    upper: float | None = None
    integer: bool = False
    nullable: bool = False
    public: bool = True
    out_of_bounds: Literal["error", "clip"] = "error"
    kind: ClassVar[str] = "numeric"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "lower": self.lower, "upper": self.upper,
            "integer": self.integer, "nullable": self.nullable, "public": self.public,
            "out_of_bounds": self.out_of_bounds,
        }

    def missing_public_values(self) -> list[str]:
        if self.lower is None or self.upper is None:
            return [f"{self.name}.bounds (not set)"]
        return [] if self.public else [f"{self.name}.bounds"]


@dataclass
class CategoricalColumn:
    """A categorical column with a public category domain (stored as strings)."""

    name: str
    categories: list[str] | None = None
    nullable: bool = False
    public: bool = True
    unseen: Literal["error", "missing"] = "error"
    kind: ClassVar[str] = "categorical"

    def __post_init__(self) -> None:
        if self.categories is not None:
            self.categories = [canonical_category(c) for c in self.categories]
            if len(set(self.categories)) != len(self.categories):
                raise SchemaError(f"column '{self.name}' lists a category twice: {self.categories!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "categories": self.categories,
            "nullable": self.nullable, "public": self.public, "unseen": self.unseen,
        }

    def missing_public_values(self) -> list[str]:
        if not self.categories:
            return [f"{self.name}.categories (not set)"]
        return [] if self.public else [f"{self.name}.categories"]


Column = NumericColumn | CategoricalColumn


@dataclass
class SensitiveAttribute:
    """A sensitive attribute for subgroup audits and conditional sampling.

    ``bins`` (numeric columns) are band edges covering the column's public bounds, e.g.
    ``[18, 50, 65, 80, 120]`` with ``labels`` such as ``["18-49", ...]``; bands are
    right-open except the last, which includes its upper edge; ``groups`` (categorical columns) merge
    categories, e.g. ``{"other": ["asian", "hispanic", "other"]}`` (unlisted categories
    keep their own group). Missing values form the group ``"missing"``.
    """

    column: str
    name: str | None = None
    bins: list[float] | None = None
    labels: list[str] | None = None
    groups: dict[str, list[str]] | None = None
    public: bool = True

    def __post_init__(self) -> None:
        self.name = self.name or self.column
        if self.bins is not None:
            if len(self.bins) < 2 or list(self.bins) != sorted(self.bins):
                raise SchemaError(f"sensitive attribute '{self.name}': bins must be >= 2 increasing edges")
            self.labels = self.labels or [
                f"{_fmt(a)}-{_fmt(b)}" for a, b in zip(self.bins[:-1], self.bins[1:])
            ]
            if len(self.labels) != len(self.bins) - 1:
                raise SchemaError(f"sensitive attribute '{self.name}': need {len(self.bins) - 1} labels")
        if self.groups is not None:
            self.groups = {str(g): [canonical_category(c) for c in cs] for g, cs in self.groups.items()}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"column": self.column, "name": self.name}
        if self.bins is not None:
            out.update(bins=list(self.bins), labels=list(self.labels or []))
        if self.groups is not None:
            out["groups"] = self.groups
        out["public"] = self.public
        return out

    def domain(self, column: Column) -> list[str]:
        """The public list of group labels, in a fixed order."""
        if isinstance(column, NumericColumn):
            if self.bins is None:
                raise SchemaError(
                    f"sensitive attribute '{self.name}' is numeric column '{column.name}': give "
                    "public band edges (bins: [...]) so that it can form subgroups"
                )
            out = list(self.labels or [])
        else:
            merged = {c for cs in (self.groups or {}).values() for c in cs}
            out = [c for c in column.categories or [] if c not in merged]
            out += list((self.groups or {}).keys())
        if column.nullable and MISSING_GROUP not in out:
            out.append(MISSING_GROUP)
        return out

    def label(self, values: pd.Series, column: Column) -> pd.Series:
        """Group label of every row (a public, data-independent mapping)."""
        if isinstance(column, NumericColumn):
            self.domain(column)
            codes = pd.cut(values.astype(float), bins=self.bins, labels=self.labels, right=False)
            out = codes.astype(object)
            out[values.astype(float) == self.bins[-1]] = self.labels[-1]  # the last band is closed
            out[values.isna()] = MISSING_GROUP
            out[out.isna()] = MISSING_GROUP  # outside the bands: only possible for out-of-band values
            return out
        lookup = {c: g for g, cs in (self.groups or {}).items() for c in cs}
        out = values.map(lambda v: lookup.get(v, v) if isinstance(v, str) else MISSING_GROUP)
        return out.astype(object)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass
class ValidationReport:
    """What `TabularSchema.conform` changed: counted clips and unseen-to-missing mappings."""

    n_rows: int = 0
    clipped: dict[str, int] = field(default_factory=dict)
    unseen_to_missing: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"n_rows": self.n_rows, "clipped": dict(self.clipped),
                "unseen_to_missing": dict(self.unseen_to_missing)}


def read_schema_spec(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML/JSON schema file; clear errors for unreadable or invalid files."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise DataReadError(f"cannot read schema file '{path}': {exc.strerror or exc}") from None
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SchemaError(f"schema file '{path}' is not valid JSON/YAML: {exc}") from None


class SchemaFile:
    """The file round trip every schema shares (tabular, series, image): `save` as YAML (JSON
    for a ``.json`` path), `load` through the class's ``from_dict``, and `fingerprint`."""

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".json":
            path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        else:
            path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Self:
        return cls.from_dict(read_schema_spec(path))

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON form; written on every privacy card."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class TabularSchema(SchemaFile):
    """Public description of a tabular EHR dataset (see module docstring)."""

    columns: list[Column]
    target: str
    positive: str
    sensitive: list[SensitiveAttribute] = field(default_factory=list)
    subject_id: str | None = None
    version: int = SCHEMA_VERSION
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
                    f"sensitive attribute '{attr.name}': bands [{_fmt(attr.bins[0])}, {_fmt(attr.bins[-1])}] must "
                    f"cover the bounds [{_fmt(column.lower)}, {_fmt(column.upper)}] of column '{column.name}'")
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
    def conform(self, data: pd.DataFrame) -> tuple[pd.DataFrame, ValidationReport]:
        """Check `data` against the schema and return it in canonical form.

        Numeric columns become float, categorical ones strings (NaN for missing). Every
        problem raises a `SchemaError` naming the column and the fix; the only changes made
        are those the schema allows (``out_of_bounds: clip``, ``unseen: missing``), and
        they are counted in the returned report. The input frame is not modified.
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
        return {
            "version": self.version,
            "modality": self.modality,
            "target": self.target,
            "positive": self.positive,
            "subject_id": self.subject_id,
            "sensitive": [a.to_dict() for a in self.sensitive],
            "columns": [c.to_dict() for c in self.columns],
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> TabularSchema:
        if not isinstance(spec, dict):
            raise SchemaError("a schema must be a mapping with keys version, modality, target, columns, ...")
        if spec.get("modality", "tabular") != "tabular":
            raise SchemaError(f"modality {spec.get('modality')!r} is not supported by TabularSchema")
        for key in ("target", "positive", "columns"):
            if key not in spec:
                raise SchemaError(f"schema is missing the key '{key}'")
        columns: list[Column] = []
        for raw in spec["columns"]:
            raw = dict(raw)
            kind = raw.pop("kind", None)
            try:
                if kind == "numeric":
                    columns.append(NumericColumn(**raw))
                elif kind == "categorical":
                    columns.append(CategoricalColumn(**raw))
                else:
                    raise SchemaError(f"column '{raw.get('name')}': kind must be numeric or categorical, not {kind!r}")
            except TypeError as exc:
                raise SchemaError(f"column '{raw.get('name')}': {exc}") from None
        sensitive = [SensitiveAttribute(**a) for a in spec.get("sensitive") or []]
        return cls(columns=columns, target=spec["target"], positive=spec["positive"],
                   sensitive=sensitive, subject_id=spec.get("subject_id"),
                   version=int(spec.get("version", SCHEMA_VERSION)))



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
    """The per-subject or per-image `TabularSchema` of a series or image schema file: its
    top-level ``target``, ``positive``, ``subject_id`` (may be absent), ``sensitive`` and
    ``static`` (the columns) keys."""
    return TabularSchema.from_dict({
        "version": spec.get("version", SCHEMA_VERSION), "modality": "tabular", "target": spec["target"],
        "positive": spec["positive"], "subject_id": spec.get("subject_id"), "sensitive": spec.get("sensitive"),
        "columns": spec["static"] or []})


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
    the drafted flags without reading the data (`dpsynth.privacy.domain`).
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
            columns.append(NumericColumn(
                name=name, lower=float(present.min()), upper=float(present.max()),
                integer=integer, nullable=nullable, public=False))
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
            edges = np.unique(np.round(np.nanquantile(data[name].astype(float), [0, 0.25, 0.5, 0.75]), 0))
            bins = [float(e) for e in edges] + [float(np.ceil(col.upper)) + 1]
            attrs.append(SensitiveAttribute(column=name, name=f"{name}_band", bins=bins, public=False))
        else:
            attrs.append(SensitiveAttribute(column=name))
    return TabularSchema(
        columns=columns, target=target, positive=positive if positive is not None else cats[-1],
        sensitive=attrs, subject_id=subject_id)

"""The schema machinery every modality shares: columns, sensitive attributes, the file round trip.

A schema is the public description of a dataset: what may be known without reading private
data. This module holds its building blocks — `NumericColumn` (public bounds),
`CategoricalColumn` (public domain), `SensitiveAttribute` (the subgroups an audit reports,
optionally coarsened into bands or merged groups), `canonical_category`, and `SchemaFile`
(YAML/JSON save and load, the SHA-256 fingerprint on every privacy card). The modality
schemas build on them: `dpsynth.tabular.schema.TabularSchema`,
`dpsynth.series.schema.SeriesSchema`, `dpsynth.images.schema.ImageSchema`. Every fitted
transform is driven by the schema alone, never by `min()`/`max()`/`unique()` of the private
data (docs/privacy.md, rule 2).

A schema file's keys, types and choices are checked first against the published JSON
Schema (`dpsynth.schema_spec.check_spec`); the meaning (bounds in order, names that exist)
here and in the modality schemas.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import pandas as pd
import yaml

from dpsynth.errors import BOUND_NOT_FINITE, BOUNDS_EQUAL, BOUNDS_REVERSED, DataReadError, SchemaError

SCHEMA_VERSION = 1
MAX_DECIMALS = 12
BAD_DECIMALS = ("column '{column}': decimals must be a whole number from 0 to {most}, not {value!r}; "
                "write e.g. decimals: 1 for one digit after the point, or drop the key to keep full precision")
INTEGER_DECIMALS = ("column '{column}' is integer but declares decimals: {value}; "
                    "drop decimals (integers are written without decimals) or set integer: false")
NO_VALUE_AT_PRECISION = ("column '{column}': no {what} lies inside the public bounds [{lower}, {upper}]; "
                         "widen the bounds or allow more decimals")
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
    """A numeric column with public bounds ``[lower, upper]``.

    ``decimals`` (optional): the precision synthetic values are written with, e.g. 1 for a
    temperature in 0.1 °C; integer columns have 0. Rounding is post-processing of the public
    output and stays inside the bounds (`rounded`).
    """

    name: str
    lower: float | None = None
    upper: float | None = None
    integer: bool = False
    nullable: bool = False
    public: bool = True
    out_of_bounds: Literal["error", "clip"] = "error"
    decimals: int | None = None
    kind: ClassVar[str] = "numeric"

    def __post_init__(self) -> None:
        check_bounds(f"column '{self.name}'", self.lower, self.upper, optional=True, equal_ok=not self.public)
        if self.decimals is not None:
            if isinstance(self.decimals, bool) or not isinstance(self.decimals, numbers.Integral) \
                    or not 0 <= self.decimals <= MAX_DECIMALS:
                raise SchemaError(BAD_DECIMALS.format(column=self.name, value=self.decimals, most=MAX_DECIMALS))
            self.decimals = int(self.decimals)
            if self.integer and self.decimals:
                raise SchemaError(INTEGER_DECIMALS.format(column=self.name, value=self.decimals))
        places = self.places
        if places is not None and self.public and self.lower is not None and self.upper is not None:
            low, high = rounded_bounds(self.lower, self.upper, places)
            if low > high:
                raise SchemaError(NO_VALUE_AT_PRECISION.format(
                    column=self.name, lower=format_bound(self.lower), upper=format_bound(self.upper),
                    what="whole number" if self.integer else f"number with {places} decimal(s)"))

    @property
    def places(self) -> int | None:
        """Decimal places of written values: 0 for integers, ``decimals`` if set, else None (all)."""
        return 0 if self.integer else self.decimals

    def rounded(self, values: np.ndarray) -> np.ndarray:
        """``values`` (inside the bounds) rounded to `places`, staying inside the bounds: a value
        that would round past a bound takes the nearest representable value inside it."""
        if self.places is None:
            return values
        out = np.round(values, self.places)
        if self.lower is None or self.upper is None:
            return out
        low, high = rounded_bounds(self.lower, self.upper, self.places)
        return np.clip(out, low, high)

    def to_dict(self) -> dict[str, Any]:
        spec = {
            "name": self.name, "kind": self.kind, "lower": self.lower, "upper": self.upper,
            "integer": self.integer, "nullable": self.nullable, "public": self.public,
            "out_of_bounds": self.out_of_bounds,
        }
        if self.decimals is not None:  # absent when unset: older schemas keep their fingerprint
            spec["decimals"] = self.decimals
        return spec

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
                f"{format_bound(a)}-{format_bound(b)}" for a, b in zip(self.bins[:-1], self.bins[1:])
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


def format_bound(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def is_number(x: Any) -> bool:
    """A real number, not a bool (YAML's true/false are not numbers here)."""
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def rounded_bounds(lower: float, upper: float, places: int) -> tuple[float, float]:
    """The smallest and largest numbers with ``places`` decimals inside ``[lower, upper]``."""
    scale = 10.0 ** places
    # rounding the scaled bounds first keeps 0.1 * 10 from becoming 1.0000000000000002 → 2
    return (float(np.ceil(np.round(lower * scale, 6)) / scale), float(np.floor(np.round(upper * scale, 6)) / scale))


def check_bounds(where: str, lower: Any, upper: Any, *, optional: bool = False, equal_ok: bool = False) -> None:
    """Public bounds are finite numbers with lower < upper (``None`` when ``optional``: not set yet).

    ``equal_ok`` lets drafted (``public: false``) bounds of a constant column through: they
    are replaced by public or DP values before training.
    """
    alternative = " (or null: not set yet)" if optional else ""
    for bound, value in (("lower", lower), ("upper", upper)):
        if value is None and optional:
            continue
        if not is_number(value) or not math.isfinite(value):
            raise SchemaError(BOUND_NOT_FINITE.format(where=where, bound=bound, value=value, alternative=alternative))
    if lower is None or upper is None:
        return
    if lower > upper:
        raise SchemaError(BOUNDS_REVERSED.format(where=where, lower=format_bound(lower), upper=format_bound(upper)))
    if lower == upper and not equal_ok:
        alternative = ", or drop the column if it holds one value" if where.startswith("column") else ""
        raise SchemaError(BOUNDS_EQUAL.format(where=where, value=format_bound(lower), alternative=alternative))


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

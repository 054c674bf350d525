"""One description per data modality, registered once: what the pipeline, the CLI, the audit
and the report need to know about tables, series or images.

A `Modality` names its schema and data types, how its files are read and written, the
default name of synthetic data and the ``--format`` choices, how `schema check` and the
operator's notes describe it, which audit plan runs on it (a ``"module:attribute"``
reference into ``dpsynth.validators``, resolved by the audit so that this core layer never
imports the validators) and the words the report uses for it. Code that differs by
modality asks `modality_of(schema)` instead of testing schema types.

Adding a modality: a package with its schema, I/O and generator hooks, a ``modality.py``
that builds its `Modality`, one line in `BUILTIN`, an audit plan in ``validators/`` and its
generators in ``generators/``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpsynth.errors import SchemaError

# The modules whose `MODALITY` is registered, in the order `dpsynth generators` lists them.
BUILTIN = ("dpsynth.tabular.modality", "dpsynth.series.modality", "dpsynth.images.modality")
UNKNOWN_MODALITY = "schema modality {name!r} is not known; use one of: {names}"
NOT_A_SCHEMA = "expected a schema ({names}); got {kind}"


@dataclass(frozen=True)
class ReportWords:
    """How the audit report speaks of a modality (no numbers: those come from the audit)."""

    unit: str  # what n_train / n_holdout / n_synthetic count: "rows", "subjects", "images"
    detection_scope: str = ""  # appended to "real train vs synthetic" on the detection row
    about: Callable[[Mapping[str, Any]], str | None] = lambda meta: None  # the report's "modality" row
    # (fidelity metric, headline label, how to read it), in the order the headline shows them
    fidelity_headline: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Modality:
    """Everything modality-specific that the shared layers dispatch on."""

    name: str  # the schema file's ``modality`` key: "tabular" | "series" | "image"
    schema_type: type
    data_type: type
    default_synthetic_name: str
    formats: Mapping[str, str]  # --format value -> synthetic file name ("" suffix: a folder)
    read: Callable[..., Any]  # (path, schema, *, static) -> data
    write: Callable[[Any, Path, Any], Path]  # (data, path, schema) -> the path written
    check_synthetic_name: Callable[[str], None]  # raise before training on a name it cannot write
    describe_schema: Callable[[Any], str]  # one line for `dpsynth schema check`
    describe_data: Callable[[Any], str]  # one line on what conform() read and changed
    data_notes: Callable[[Any], list[str]]  # what the schema's rules changed (console only)
    audit_plan: str  # "dpsynth.validators.<module>:<PLAN>"
    report: ReportWords = field(default_factory=lambda: ReportWords(unit="rows"))
    # (path, schema) -> data a DP fit reads a chunk at a time, or None: read it whole with `read`
    lazy_read: Callable[[Any, Any], Any] = lambda data, schema: None
    # (parts, path, schema) -> (path, records): write parts of data one after another, holding
    # one at a time (tables); None: the parts are joined and written with `write`
    write_parts: Callable[[Iterable[Any], Path, Any], tuple[Path, int]] | None = None


_REGISTRY: dict[str, Modality] = {}


def register(modality: Modality) -> Modality:
    """Add ``modality`` under its name (a modality's ``modality.py`` calls this once)."""
    _REGISTRY[modality.name] = modality
    return modality


def _ensure_loaded() -> None:
    for module in BUILTIN:
        importlib.import_module(module)


def modalities() -> list[Modality]:
    _ensure_loaded()
    return list(_REGISTRY.values())


def modality_named(name: str | None) -> Modality:
    """The modality a schema file's ``modality`` key names (tabular when absent)."""
    _ensure_loaded()
    key = name or "tabular"
    if key not in _REGISTRY:
        raise SchemaError(UNKNOWN_MODALITY.format(name=key, names=", ".join(_REGISTRY)))
    return _REGISTRY[key]


def modality_of(schema: Any) -> Modality:
    """The modality of a loaded schema object."""
    _ensure_loaded()
    for modality in _REGISTRY.values():
        if isinstance(schema, modality.schema_type):
            return modality
    names = ", ".join(m.schema_type.__name__ for m in _REGISTRY.values())
    raise SchemaError(NOT_A_SCHEMA.format(names=names, kind=type(schema).__name__))


def is_schema(value: Any) -> bool:
    _ensure_loaded()
    return any(isinstance(value, m.schema_type) for m in _REGISTRY.values())


def column_notes(clipped: Mapping[str, int], unseen: Mapping[str, int]) -> list[str]:
    """The operator's notes on counted clips and unseen categories, per column."""
    notes = [f"note: clipped {count} value(s) of '{column}' to its public bounds (out_of_bounds: clip)"
             for column, count in clipped.items()]
    notes += [f"note: {count} unseen categor(y/ies) of '{column}' treated as missing (unseen: missing)"
              for column, count in unseen.items()]
    return notes

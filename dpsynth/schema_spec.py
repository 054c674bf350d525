"""The schema file's published JSON Schema, and its violations as one-line errors.

``dpsynth/data/schemas/dpsynth-schema.json`` is the one definition of a schema file's keys,
types and choices (editors can use it to complete and check a file). `check_spec` validates
a file's mapping with it and reports the first violation in file order, naming the place
and the fix — a misspelt key (with "did you mean"), a quoted ``"false"`` or ``"18"``, a
choice out of its enumeration — because each would otherwise change what is trained,
silently.
"""

from __future__ import annotations

import difflib
import functools
import json
import numbers
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import numpy as np
import yaml

from dpsynth.errors import SchemaError
from dpsynth.schema import SCHEMA_VERSION, is_number

JSON_SCHEMA_RESOURCE = "data/schemas/dpsynth-schema.json"  # inside the dpsynth package

# ------------------------------------------------------- schema-file messages (check_spec)
UNKNOWN_KEY = "{where} {keys} not known{note}; {hint}valid keys: {valid}"
MISSING_KEY = "{where} is missing the key '{key}'; add it{example}"
BAD_VALUE = "{what} must be {expected}, not {value}{fix}"
UNSUPPORTED_VERSION = "schema version {value} is not supported (expected {expected}); write version: {expected}"


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of schema files (a fresh copy; `check_spec` validates with it)."""
    return json.loads(_json_schema_text())


@functools.cache
def _json_schema_text() -> str:
    return resources.files("dpsynth").joinpath(JSON_SCHEMA_RESOURCE).read_text(encoding="utf-8")


def check_spec(spec: Any, definition: str, label: str) -> None:
    """Check a schema file's mapping against the JSON Schema's ``definitions[definition]``
    (``tabularSchema``, ``seriesSchema``, ``imageSchema``) and raise its first violation, in the
    order of the file, as one `SchemaError` line: ``label`` ("schema", "series schema", ...)
    names the file's top level; columns, channels and sensitive attributes are named by name."""
    validator, document = _validator(definition)
    problems = list(validator.iter_errors(spec))
    if problems:
        first = min(problems, key=lambda e: (_positions(spec, e.absolute_path), _PRIORITY.get(e.validator, 3)))
        raise SchemaError(_message(first, spec, label, document))


_PRIORITY = {"additionalProperties": 0, "required": 1, "type": 2}  # several problems at one place
_ITEMS = {"columns": "column", "static": "static column", "sensitive": "sensitive attribute", "channels": "channel",
          "rules": "rule"}
_BOOLEAN_WORDS = {"true": True, "yes": True, "on": True, "y": True, "1": True,
                  "false": False, "no": False, "off": False, "n": False, "0": False}


@functools.cache
def _validator(definition: str) -> tuple[Any, dict[str, Any]]:
    from jsonschema import Draft7Validator, validators  # imported on first use: import dpsynth stays light
    from referencing import Registry, Resource

    document = json_schema()
    checker = Draft7Validator.TYPE_CHECKER.redefine_many({  # numpy scalars and tuples, as the dataclasses hold
        "number": lambda _, x: is_number(x),
        "integer": lambda _, x: is_number(x) and (isinstance(x, numbers.Integral) or float(x).is_integer()),
        "boolean": lambda _, x: isinstance(x, (bool, np.bool_)),
        "array": lambda _, x: isinstance(x, (list, tuple)),
        "object": lambda _, x: isinstance(x, Mapping),
    })
    cls = validators.extend(Draft7Validator, type_checker=checker)
    registry = Registry().with_resource(document["$id"], Resource.from_contents(document))
    return cls({"$ref": f"{document['$id']}#/definitions/{definition}"}, registry=registry), document


def _positions(spec: Any, path: Sequence[Any]) -> tuple[int, ...]:
    """Where ``path`` lies in the file: the index of each key (in file order) or item on the way."""
    out, node = [], spec
    for step in path:
        if isinstance(node, Mapping):
            keys = list(node)
            out.append(keys.index(step) if step in keys else len(keys))
        else:
            out.append(step if isinstance(step, int) else 0)
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
    return tuple(out)


def _locate(spec: Any, path: list[Any], label: str) -> tuple[str, list[Any], bool]:
    """(the place's name, the path left inside it, whether it is an item such as a column)."""
    if len(path) >= 2 and path[0] in _ITEMS and isinstance(path[1], int) and isinstance(spec, Mapping):
        items = spec.get(path[0])
        if isinstance(items, (list, tuple)) and path[1] < len(items) and isinstance(items[path[1]], Mapping):
            item = items[path[1]]
            name = (item.get("name") or item.get("column")) if path[0] == "sensitive" else item.get("name")
            named = _quoted(name) if isinstance(name, str) and name.strip() else f"#{path[1] + 1}"
            return f"{_ITEMS[path[0]]} {named}", path[2:], True
    return label, path, False


def _render(path: list[Any]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else ("." if out else "") + str(step)
    return out


def _deref(schema: Any, document: dict[str, Any]) -> dict[str, Any]:
    while isinstance(schema, dict) and "$ref" in schema:
        schema = document["definitions"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema if isinstance(schema, dict) else {}


def _types(schema: dict[str, Any]) -> list[str]:
    types = schema.get("type", [])
    return [types] if isinstance(types, str) else list(types)


def _literal(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def _or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _plural(noun: str) -> str:
    return noun[:-1] + "ies" if noun.endswith("y") else noun + "s"


def _expected(schema: dict[str, Any], document: dict[str, Any]) -> str:
    """What a value must be, in words, from its JSON Schema (``'error' or 'clip'``, ``a number or null``)."""
    if "enum" in schema:
        notes = schema.get("enumDescriptions", [])  # short ones only ("grey"), not sentences
        if len(notes) != len(schema["enum"]) or any(len(n) > 12 for n in notes):
            notes = [""] * len(schema["enum"])
        return _or([_literal(v) + (f" ({n})" if n else "") for v, n in zip(schema["enum"], notes)])
    if "const" in schema:
        return _literal(schema["const"])
    words = []
    for kind in _types(schema):
        if kind == "number":
            words.append("a positive number" if schema.get("exclusiveMinimum") == 0 else "a number")
        elif kind == "integer":
            words.append("a positive whole number" if schema.get("minimum") == 1 else "a whole number")
        elif kind == "boolean":
            words.append("true or false")
        elif kind == "string":
            words.append("non-empty text" if schema.get("minLength") else "text")
        elif kind == "array":
            items = _deref(schema.get("items", {}), document)
            noun = _plural(items.get("title") or {"number": "number", "integer": "whole number"}.get(
                (_types(items) or ["item"])[0], "item"))
            low, high = schema.get("minItems", 0), schema.get("maxItems")
            words.append(f"a list of {low} {noun}" if low == high else f"a list of at least {low} {noun}"
                         if low > 1 else f"a non-empty list of {noun}" if low == 1 else f"a list of {noun}")
        elif kind == "object":
            words.append("a mapping")
    words = [w for w in words if w] + (["null"] if "null" in _types(schema) else [])
    return _or(words) if words else "valid"


def _describe(value: Any) -> str:
    if value is None:
        return "null (empty)"
    if isinstance(value, (bool, np.bool_)):
        return _literal(value)
    if isinstance(value, str):
        return f"the text {_short(repr(value))}"
    if isinstance(value, (list, tuple)):
        return _short(repr(list(value))) if value else "an empty list"
    if isinstance(value, Mapping):
        return f"a mapping {_short(repr(dict(value)))}"
    return _short(str(value))


def _quoted(name: Any) -> str:
    """A key or a name in quotes, on one line."""
    return "'" + _short(str(name), 40) + "'"


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())  # one line
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _fix(key: Any, schema: dict[str, Any], value: Any, *, in_sensitive: bool) -> str:
    """The way out of a wrong value: drop quotes, add quotes, the closest choice."""
    types = set(_types(schema))
    write = f"{key}: " if isinstance(key, str) else ""
    if isinstance(value, str):
        text = value.strip()
        if types & {"number", "integer"} and _parses_as_number(text):
            return f"; write it without quotes: {write}{text}"
        if "boolean" in types and text.lower() in _BOOLEAN_WORDS:
            return f"; write it without quotes: {write}{_literal(_BOOLEAN_WORDS[text.lower()])}"
        for choice in schema.get("enum", []):
            if not isinstance(choice, str) and text == str(choice):
                return f"; write it without quotes: {write}{choice}"
        if "object" in types and in_sensitive:
            return f"; write {{column: {value}}}"
    if isinstance(value, (bool, np.bool_)) and "string" in types:
        return (f"; YAML reads unquoted yes/no/true/false/on/off as true/false: quote the value, "
                f"e.g. {write}\"yes\"")
    if is_number(value) and "string" in types and not types & {"number", "integer"}:
        return f'; quote it: {write}"{value}"'
    choices = [str(c) for c in schema.get("enum", [])]
    close = difflib.get_close_matches(str(value), choices, n=1) if choices and value is not None else []
    return f"; did you mean '{close[0]}'?" if close else ""


def _parses_as_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _message(error: Any, spec: Any, label: str, document: dict[str, Any]) -> str:
    where, rest, is_item = _locate(spec, list(error.absolute_path), label)
    inside = _render(rest)
    if is_item:  # "column 'age'", "column 'age': categories[2]"
        place = f"{where}: {inside}" if inside else where
    else:  # "window", "pixel_range[1]", or the label ("schema") for the top level itself
        place = inside or where
    if error.validator == "additionalProperties":
        known = [k for k in error.schema.get("properties", {}) if not k.startswith("$")]  # "$schema": for editors
        unknown = [k for k in error.instance if k not in error.schema.get("properties", {})]
        guess = {k: difflib.get_close_matches(str(k), known, n=1) for k in unknown}
        if len(unknown) == 1:
            keys = f"key {_quoted(unknown[0])} is"
            hint = f"did you mean '{guess[unknown[0]][0]}'? " if guess[unknown[0]] else ""
        else:
            keys = "keys " + ", ".join(_quoted(k) + (f" (did you mean '{guess[k][0]}'?)" if guess[k] else "")
                                       for k in unknown) + " are"
            hint = ""
        return UNKNOWN_KEY.format(where=f"{place}:" if is_item else place, keys=keys, hint=hint,
                                  note=_other_kind_note(error.schema, unknown, document), valid=", ".join(known))
    if error.validator == "required":
        key = next(k for k in error.validator_value if k not in error.instance)  # the instance is a mapping
        prop = _deref(error.schema.get("properties", {}).get(key, {}), document)
        if prop.get("examples"):
            example = f", e.g. {key}: {_yaml_value(prop['examples'][0])}"
        else:
            example = f" ({key}: {_expected(prop, document)})" if prop else ""
        return MISSING_KEY.format(where=place, key=key, example=example)
    path = list(error.absolute_path)
    if path == ["version"] and error.validator == "enum":
        return UNSUPPORTED_VERSION.format(value=_describe(error.instance), expected=SCHEMA_VERSION)
    if error.validator in ("type", "enum", "const", "minimum", "exclusiveMinimum", "maximum", "minItems",
                           "maxItems", "minLength"):
        key = path[-1] if path else None
        fix = _fix(key, error.schema, error.instance, in_sensitive=bool(path) and path[0] == "sensitive")
        value = error.instance
        described = _short(repr(value)) if error.validator == "enum" and isinstance(value, str) else _describe(value)
        return BAD_VALUE.format(what=place, expected=_expected(error.schema, document), value=described, fix=fix)
    return f"{place}: {_short(error.message, 200)}"


def _other_kind_note(schema: dict[str, Any], unknown: list[Any], document: dict[str, Any]) -> str:
    """For a column: name the kind that takes a key given to the other kind (``categories`` on a numeric column)."""
    kind = schema.get("properties", {}).get("kind", {}).get("const")
    if kind not in ("numeric", "categorical"):
        return ""
    other = "categorical" if kind == "numeric" else "numeric"
    takes = [k for k in unknown if k in document["definitions"][f"{other}Column"]["properties"]]
    return f" for a {kind} column ({other} columns take {', '.join(map(repr, takes))})" if takes else ""


def _yaml_value(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("...").strip()

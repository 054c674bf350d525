"""Registry ``name -> generator class``; the CLI and configs refer to generators by name.

Generators register themselves with `@register(...)` when `dpsynth.generators` is
imported. There is no plugin loader that swallows import errors: a generator that fails
to import fails loudly.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from dpsynth.errors import DpsynthError
from dpsynth.params import ParamInfo

UNKNOWN_GENERATOR = "unknown generator {name!r}; registered: {names}. `dpsynth generators` lists them"


@dataclass(frozen=True)
class GeneratorInfo:
    name: str
    family: str  # "vae" | "gan" | "diffusion" | "marginal" | "reference"
    modality: str  # "tabular" | "series" | "image"
    private: bool
    description: str
    cls: type


_REGISTRY: dict[str, GeneratorInfo] = {}


def register(name: str, *, family: str, modality: str, description: str, private: bool = True):
    """Class decorator adding a generator to the registry under ``name``."""

    def decorate(cls: type) -> type:
        if name in _REGISTRY and _REGISTRY[name].cls is not cls:
            raise DpsynthError(f"generator name {name!r} is registered twice")
        _REGISTRY[name] = GeneratorInfo(name, family, modality, private, description, cls)
        cls.registered_name = name
        return cls

    return decorate


def _ensure_loaded() -> None:
    import dpsynth.generators  # noqa: F401  (registers the built-in generators)


def available(modality: str | None = None) -> list[GeneratorInfo]:
    _ensure_loaded()
    return [info for info in _REGISTRY.values() if modality is None or info.modality == modality]


def get(name: str) -> GeneratorInfo:
    _ensure_loaded()
    if name not in _REGISTRY:
        raise DpsynthError(UNKNOWN_GENERATOR.format(name=name, names=sorted(_REGISTRY)))
    return _REGISTRY[name]


def create(name: str, schema: Any, **params: Any):
    """Instantiate a registered generator for ``schema``."""
    return get(name).cls(schema, **params)


def parameters(name: str) -> list[ParamInfo]:
    """The parameters ``name`` takes, with their defaults for it and one line of help each
    (what ``dpsynth generators --params NAME`` lists). A DP generator declares them
    (``param_specs``, `dpsynth.params`); another generator is read from its signature, with
    help from its ``param_help`` mapping where it has one."""
    cls = get(name).cls
    specs = getattr(cls, "param_specs", None)
    if specs:
        return [ParamInfo(s.name, s.default, s.help, s.rule.allowed) for s in specs.values()]
    helps = getattr(cls, "param_help", {})
    rows = []
    for p in list(inspect.signature(cls).parameters.values())[1:]:  # the first is the schema
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            rows.append(ParamInfo(f"**{p.name}", "", helps.get(p.name, "other keyword parameters")))
        elif p.default is not inspect.Parameter.empty:
            rows.append(ParamInfo(p.name, p.default, helps.get(p.name, "")))
    return rows

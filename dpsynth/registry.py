"""Registry ``name -> generator class``; the CLI and configs refer to generators by name.

Generators register themselves with `@register(...)` when `dpsynth.generators` is
imported. There is no plugin loader that swallows import errors: a generator that fails
to import fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dpsynth.errors import DpsynthError

UNKNOWN_GENERATOR = "unknown generator {name!r}; registered: {names}. `dpsynth generators` lists them"


@dataclass(frozen=True)
class GeneratorInfo:
    name: str
    family: str  # "vae" | "gan" | "diffusion" | "reference"
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

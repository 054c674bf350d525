"""Generator parameters, declared once: a dataclass field with a default, a one-line help and a rule.

Who declares what:

- `TrainingSettings` (below): the DP-SGD settings every DP generator shares;
- `ModelParams` (below): the codec's and networks' shape (``n_bins``, ``hidden``); series and
  images extend it with ``sigma`` (`SeriesParams`, `ImageParams`);
- each family its own dataclass (`dpsynth.families.vae.VAEParams`, `~.gan.GANParams`,
  `~.diffusion.DiffusionParams`, and the convolutional variants that add a backbone's widths).

A generator class names its family's dataclass (``family_params``) and refines defaults in
one mapping, ``param_defaults``, merged down the class hierarchy (modality, then generator):
that is the only place a default differs from its declaration. From these `DPGenerator`
builds the keyword signature ``help()`` shows, checks every value at construction (one
line: `ParameterError`), and offers ``get_params`` / ``set_params``; ``dpsynth generators
--params NAME`` lists them.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import math
import numbers
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dpsynth.errors import ParameterError

UNKNOWN_PARAMETER = "unknown {parameters} for {owner}; {hint}valid: {valid}"
BAD_VALUE = "parameter '{name}' of {owner} must be {allowed} (got {value!r})"
BAD_COMBINATION = "parameters of {owner}: {problem}"
SET_AFTER_FIT = ("{owner} is fitted: set_params changes parameters before fit only; "
                 "create a new generator with the parameters you want")
BAD_DEFAULT = "{owner}.param_defaults: {problem}"


# ------------------------------------------------------------------------------------ rules
@dataclass(frozen=True)
class Rule:
    """What a parameter accepts: ``allowed`` in words (for errors and listings), ``test`` on
    the value, and ``convert`` to the stored form (e.g. a list of widths -> a tuple)."""

    allowed: str
    test: Callable[[Any], bool]
    convert: Callable[[Any], Any] = lambda value: value


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_whole(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def whole(at_least: int = 1, *, odd: bool = False, even: bool = False) -> Rule:
    kind = "an odd " if odd else "an even " if even else "a "
    return Rule(f"{kind}whole number >= {at_least}",
                lambda v: _is_whole(v) and v >= at_least and (not odd or v % 2 == 1) and (not even or v % 2 == 0),
                int)


def number(*, above: float | None = None, at_least: float | None = None, below: float | None = None) -> Rule:
    """A finite number over a lower bound (``above``: strict, ``at_least``: inclusive), and under ``below``."""
    low, strict = (above, True) if above is not None else (at_least, False)
    words = (f"in {'(' if strict else '['}{low:g}, {below:g})" if below is not None
             else f"{'>' if strict else '>='} {low:g}")
    return Rule(f"a number {words}", lambda v: (_is_number(v) and (v > low if strict else v >= low)
                                                and (below is None or v < below)))


def choice(*options: str) -> Rule:
    return Rule("one of " + ", ".join(repr(o) for o in options), lambda v: v in options)


def widths(*, empty: bool = True) -> Rule:
    """A sequence of layer widths, stored as a tuple."""
    return Rule("a list of whole numbers >= 1, e.g. [256, 256]" + ("" if empty else " (at least one)"),
                lambda v: (isinstance(v, Sequence) and not isinstance(v, str) and (empty or len(v) > 0)
                           and all(_is_whole(w) and w >= 1 for w in v)),
                lambda v: tuple(int(w) for w in v))


def names() -> Rule:
    """A sequence of names (e.g. columns), stored as a tuple."""
    return Rule("a list of names, e.g. ['sex', 'race']",
                lambda v: (isinstance(v, Sequence) and not isinstance(v, str)
                           and all(isinstance(name, str) and name for name in v)),
                lambda v: tuple(v))


def optional(rule: Rule, none_means: str) -> Rule:
    return Rule(f"None ({none_means}) or {rule.allowed}", lambda v: v is None or rule.test(v),
                lambda v: None if v is None else rule.convert(v))


FLAG = Rule("true or false", lambda v: isinstance(v, bool))
TEXT = Rule("a text", lambda v: isinstance(v, str))


def param(default: Any, help: str, rule: Rule) -> Any:
    """A dataclass field for a generator parameter: its default, one line of help, its rule."""
    return field(default=default, metadata={"help": help, "rule": rule})


# ----------------------------------------------------------------------- shared declarations
@dataclass
class TrainingSettings:
    """DP-SGD settings shared by the families; defaults fixed a priori (docs/privacy.md, rule 4)."""

    epochs: float | None = param(30.0, "passes over the data (expected); with the budget it fixes the DP-SGD noise "
                                 "(None: 30, or more to make 400 steps)", optional(number(above=0), "by cohort size"))
    batch_size: int | None = param(512, "expected privacy units per DP-SGD step, Poisson sampling (None: the "
                                   "largest of 512, 256, 128 giving 8 batches an epoch)",
                                   optional(whole(1), "by cohort size"))
    lr: float = param(5e-3, "learning rate of the private network's Adam (a GAN's discriminator)", number(above=0))
    max_grad_norm: float = param(1.0, "clip norm of each privacy unit's gradient", number(above=0))
    accountant: str = param("prv", "privacy accountant of DP-SGD: PRV (tighter) or RDP", choice("prv", "rdp"))
    grad_sample_mode: str = param("ghost", "opacus per-unit clipping: ghost (fast) or hooks",
                                  choice("ghost", "hooks"))
    condition_share: float = param(0.05, "share of ε for the noisy condition counts (0: the mix a generator "
                                         "measures itself, as dp-marginal and an anchored dp-vae do, else uniform)",
                                   number(at_least=0, below=1))
    max_rows_per_unit: int = param(16, "rows kept per privacy unit (a secret random subsample beyond)", whole(1))
    rows_per_step: int | None = param(None, "rows of a sampled unit each private step uses (None: all)",
                                      optional(whole(1), "all rows"))
    secure_mode: bool = param(False, "opacus secure_mode (needs torchcsprng)", FLAG)
    device: str = param("auto", "where to train and sample: auto (a CUDA GPU when present), cpu, cuda, cuda:N",
                        TEXT)
    devices: int = param(1, "processes that train data-parallel with opacus DPDDP: CPU processes, or one GPU "
                         "each with device cuda (same ε and card as one process)", whole(1))
    ema_decay: float | None = param(None, "end with the moving average of the weights at this decay (None: off)",
                                    optional(number(above=0, below=1), "no weight average"))


@dataclass
class ModelParams:
    """The codec's and networks' shape, shared by every DP generator."""

    n_bins: int = param(16, "bins per numeric column in the one-hot encoding (and fine bins within each)",
                        whole(1))
    hidden: tuple[int, ...] = param((256, 256), "widths of the hidden layers of the MLPs", widths())


# ------------------------------------------------------------------------------------ specs
@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a generator: where it is declared (``group``: "family", "model" or
    "training"), its type in words, its default for this generator, help and rule."""

    name: str
    group: str
    type: Any  # the annotation, e.g. int or tuple[int, ...]
    default: Any
    help: str
    rule: Rule


def collect_specs(owner: str, groups: Mapping[str, type | None], defaults: Mapping[str, Any]) -> dict[str, ParamSpec]:
    """Every parameter of a generator class, in declaration order, ``defaults`` applied.

    ``groups`` maps a group name to its dataclass (None: none); a name declared twice or a
    default for an unknown name or of the wrong kind is a bug in the class, raised at import."""
    specs: dict[str, ParamSpec] = {}
    for group, declared in groups.items():
        if declared is None:
            continue
        types = typing.get_type_hints(declared)
        for f in dataclasses.fields(declared):
            if f.name in specs:
                raise TypeError(BAD_DEFAULT.format(owner=owner, problem=f"'{f.name}' is declared twice"))
            specs[f.name] = ParamSpec(f.name, group, types[f.name], f.default, f.metadata["help"],
                                      f.metadata["rule"])
    for name, value in defaults.items():
        if name not in specs:
            raise TypeError(BAD_DEFAULT.format(owner=owner, problem=f"'{name}' is not a parameter"))
        spec = specs[name]
        if not spec.rule.test(value):
            raise TypeError(BAD_DEFAULT.format(owner=owner, problem=f"{name}={value!r} is not {spec.rule.allowed}"))
        specs[name] = dataclasses.replace(spec, default=spec.rule.convert(value))
    return specs


def check_params(owner: str, specs: Mapping[str, ParamSpec], given: Mapping[str, Any], *,
                 base: Mapping[str, Any], combined: Callable[[dict[str, Any]], str | None] | None = None
                 ) -> dict[str, Any]:
    """``base`` updated with ``given``, each value checked and converted; a `ParameterError`
    (one line) for an unknown name, with the closest valid name, or for a value its rule refuses.
    ``combined(values)`` returns a problem between parameters, if any."""
    unknown = [name for name in given if name not in specs]
    if unknown:
        close = [m for name in unknown for m in difflib.get_close_matches(name, list(specs), n=1)]
        hint = f"did you mean {', '.join(repr(m) for m in close)}? " if close else ""
        parameters = ("parameter " if len(unknown) == 1 else "parameters ") + ", ".join(map(repr, unknown))
        raise ParameterError(UNKNOWN_PARAMETER.format(parameters=parameters, owner=owner, hint=hint,
                                                      valid=", ".join(sorted(specs))))
    values = dict(base)
    for name, value in given.items():
        rule = specs[name].rule
        if not rule.test(value):
            raise ParameterError(BAD_VALUE.format(name=name, owner=owner, allowed=rule.allowed, value=value))
        values[name] = rule.convert(value)
    problem = combined(values) if combined is not None else None
    if problem:
        raise ParameterError(BAD_COMBINATION.format(owner=owner, problem=problem))
    return values


def json_ready(value: Any) -> Any:
    """A parameter value as the bundle config and listings write it (tuples as lists)."""
    return list(value) if isinstance(value, tuple) else value


def shown(value: Any) -> str:
    """A default as a user types it after ``--param name=``: JSON, strings bare."""
    return value if isinstance(value, str) else json.dumps(json_ready(value))


def signature(specs: Mapping[str, ParamSpec]) -> inspect.Signature:
    """``(schema, *, name: type = default, ...)``: what ``help(cls)`` and ``inspect.signature`` show."""
    schema = inspect.Parameter("schema", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return inspect.Signature([schema, *(inspect.Parameter(s.name, inspect.Parameter.KEYWORD_ONLY, default=s.default,
                                                          annotation=s.type) for s in specs.values())])


def docstring(doc: str | None, specs: Mapping[str, ParamSpec]) -> str:
    """``doc`` followed by a Parameters section: each name, type, default, what is allowed and its help."""
    lines = [inspect.cleandoc(doc or ""), "", "Parameters (keyword-only; ``get_params()`` / ``set_params()``; "
             "CLI: ``--param name=value``, ``dpsynth generators --params NAME``)", ""]
    for s in specs.values():
        lines += [f"{s.name} : {inspect.formatannotation(s.type)} = {s.default!r}  ({s.rule.allowed})",
                  f"    {s.help}"]
    return "\n".join(lines).lstrip("\n") + "\n"


@dataclass(frozen=True)
class ParamInfo:
    """One row of a generator's parameter listing (`dpsynth.registry.parameters`)."""

    name: str
    default: Any
    help: str
    allowed: str = ""

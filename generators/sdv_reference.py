"""NOT PRIVATE references through SDV: CTGAN, TVAE and GaussianCopula (ε = ∞).

These generators are trained WITHOUT differential privacy. They exist for one purpose:
to show the price of privacy on the user's own data (fit a reference and a DP generator
with the same schema and seed, audit both). Their privacy card says ``"private": false``
and ``"epsilon": "inf"``; the CLI prints NOT PRIVATE; their output must not be released.

How they differ from the DP generators, and why:

- SDV is imported lazily, when a reference is fitted; without it the error says
  ``pip install 'dpsynth[reference]'``.
- SDV's metadata is built from the PUBLIC schema (sdtypes, bounds, category domains,
  nullability, integer columns as ``decimal_places: 0``), never detected from the data.
  Samples are returned in schema column order, inside the public bounds and domains.
- SDV does not use dpsynth's codec, so the schema's declared rules are enforced after
  sampling (`dpsynth.tabular.rules.enforce`): derived columns (mapping and sum targets) are
  recomputed from their inputs and range-ruled values clipped to their row's range.
- SDV's own usage log (a CSV of synthesizer events with row and column counts, off by
  default, switched on by a user config file) is disabled for its loggers. SDV makes no
  network calls while fitting or sampling; it only downloads when asked for its demo data.
- ``save`` refuses: SDV can only save by pickle, dpsynth bundles never hold pickles, and a
  reference is never part of a release. Refit it with the same seed to get the same model.
"""

from __future__ import annotations

import json
import logging
import math
import random
import warnings
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar, Iterator

import numpy as np
import pandas as pd
import torch

from dpsynth import errors
from dpsynth.errors import BudgetError, DpsynthError, NotFittedError, ParameterError, SchemaError
from dpsynth.generator import Generator
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.card import PrivacyCard, non_private_card
from dpsynth.privacy.conditions import check_conditions
from dpsynth.registry import register
from dpsynth.schema import MISSING_GROUP, CategoricalColumn, NumericColumn, canonical_category
from dpsynth.tabular.rules import enforce
from dpsynth.tabular.schema import TabularSchema

SDV_MISSING = ("the reference generators ({name}) need SDV, which is not installed: "
               "pip install 'dpsynth[reference]' ({reason})")
BUDGET_IGNORED = ("'{name}' is a NOT PRIVATE reference (ε = ∞): the privacy budget "
                  "epsilon={epsilon:g}, delta={delta:g} is ignored")
DOMAIN_SHARE_IGNORED = "'{name}' is a NOT PRIVATE reference: learn_domain_share is ignored (no DP budget to spend)"
NOT_SAVED = ("'{name}' is a NOT PRIVATE reference model and is not saved: it is never part of a release, and "
             "SDV can only save by pickle, which dpsynth bundles never hold. Refit it with the same "
             "data, parameters and seed (random_state) to get the same model")
NEEDS_DOMAINS = ("'{name}' needs the schema's bounds and categories to shape its output; not set: {fields}. "
                 "Fill them in the schema (they need not be marked public for a non-private reference)")
BAD_PARAMS = "'{name}': SDV's {synthesizer} rejects the parameter(s) given: {reason}"
BAD_CTGAN_BATCH = "'{name}': batch_size must be a multiple of 2 and of pac={pac} (got batch_size={batch_size})"
CONDITION_SHORTFALL = ("'{name}' produced only {got} of {n} rows matching {conditions} after {rounds} rounds of "
                       "sampling: the reference model rarely generates that group. Ask for fewer rows, or "
                       "condition on fewer attributes")
NO_REBALANCE = "'{name}': rebalance is not supported by the reference generators; use conditions=... per group"

TABLE = "data"  # the single table's name in SDV's metadata
MAX_ROUNDS = 50  # sampling rounds for conditions that SDV cannot express (bands, merged groups)
_MIN_ASK = 256
_SDV_LOGGERS = ("SingleTableSynthesizer", "MultiTableSynthesizer", "Metadata", "SingleTableMetadata")
_SDV_PACKAGES = ("sdv", "ctgan", "rdt", "copulas")
_RANGE_WARNING = "The training data does not cover the full range"
_RESERVED = {"metadata", "enforce_min_max_values", "verbose", "epochs", "batch_size", "enable_gpu"}


def _import_sdv(name: str) -> SimpleNamespace:
    """Import SDV (lazily), silence its usage log, and return what the references use."""
    try:
        from sdv import single_table
        from sdv.metadata import Metadata
        from sdv.sampling import Condition
    except ImportError as exc:
        raise DpsynthError(SDV_MISSING.format(name=name, reason=exc)) from None
    _disable_usage_log()
    return SimpleNamespace(Metadata=Metadata, Condition=Condition, single_table=single_table)


def _disable_usage_log() -> None:
    """SDV's usage loggers write synthesizer events (with row/column counts) to a CSV file
    when a user config enables them; drop their handlers and records."""
    for logger_name in _SDV_LOGGERS:
        logger = logging.getLogger(logger_name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
        logger.propagate = False
        logger.disabled = True


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed Python, NumPy and torch's global generators; restore them afterwards."""
    py_state, np_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)


def sdv_metadata_dict(schema: TabularSchema) -> dict[str, Any]:
    """SDV (V2) metadata for the schema's columns, from the public schema alone."""
    columns: dict[str, dict[str, Any]] = {}
    for col in schema.columns:
        if isinstance(col, NumericColumn):
            spec: dict[str, Any] = {"sdtype": "numerical", "range_is_nullable": col.nullable}
            if col.lower is not None and col.upper is not None:
                spec.update(range_min=float(col.lower), range_max=float(col.upper))
            if col.integer:
                spec["decimal_places"] = 0
        else:
            spec = {"sdtype": "categorical", "range_is_nullable": col.nullable}
            if col.categories is not None:
                spec["range_values"] = list(col.categories)
        columns[col.name] = spec
    return {"METADATA_SPEC_VERSION": "V2", "tables": {TABLE: {"columns": columns}}, "relationships": []}


class SDVReference(Generator):
    """A NOT PRIVATE SDV single-table synthesizer behind dpsynth's generator interface.

    Subclasses name the SDV synthesizer and translate their parameters (`_sdv_kwargs`).
    ``sdv_params`` are passed to the SDV synthesizer as given (e.g. ``embedding_dim``,
    ``pac``, ``default_distribution``). Parameters are stored only; SDV is imported and
    the synthesizer built in `fit`.
    """

    synthesizer: ClassVar[str]
    param_help: ClassVar[dict[str, str]] = {  # for `dpsynth generators --params` (dpsynth.registry.parameters)
        "enforce_min_max_values": "SDV's own: keep synthetic numeric values within the range it saw in training",
        "sdv_params": "any other keyword goes to the SDV synthesizer as given (e.g. embedding_dim, pac)",
    }

    def __init__(self, schema: TabularSchema, *, enforce_min_max_values: bool = True, **sdv_params: Any):
        reserved = sorted(set(sdv_params) & _RESERVED)
        if reserved:
            raise ParameterError(f"{type(self).__name__} does not take {reserved} (set by dpsynth or not applicable)")
        self.schema = schema
        self.enforce_min_max_values = enforce_min_max_values
        self.sdv_params = dict(sdv_params)

    def _sdv_kwargs(self, *, progress: bool) -> dict[str, Any]:
        """The subclass's own parameters in SDV's names."""
        return {}

    def get_params(self) -> dict[str, Any]:
        return {"enforce_min_max_values": self.enforce_min_max_values, **self.sdv_params}

    # ----------------------------------------------------------------------- fit
    def fit(self, data: pd.DataFrame, *, budget: PrivacyBudget | None = None,
            learn_domain_share: float | None = None, random_state: int | None = 0,
            progress: bool = True) -> SDVReference:
        """Fit SDV's synthesizer on ``data`` WITHOUT differential privacy.

        ``budget`` and ``learn_domain_share`` are accepted for a uniform call and ignored
        with a warning. The data is conformed to the schema first (the same clear errors
        as the DP generators); a subject id column is not modelled.
        """
        name = self.registered_name
        if budget is not None:
            if not isinstance(budget, PrivacyBudget):
                raise BudgetError("budget must be a dpsynth.PrivacyBudget(epsilon, delta) or None")
            warnings.warn(BUDGET_IGNORED.format(name=name, epsilon=budget.epsilon, delta=budget.delta),
                          UserWarning, stacklevel=2)
        if learn_domain_share is not None:
            warnings.warn(DOMAIN_SHARE_IGNORED.format(name=name), UserWarning, stacklevel=2)
        schema = self.schema
        unset = [f for f in schema.not_public() if f.endswith("(not set)")]
        if unset:
            raise SchemaError(NEEDS_DOMAINS.format(name=name, fields=", ".join(unset)))
        frame, report = schema.conform(data)
        frame = frame[schema.names].reset_index(drop=True)
        sdv = _import_sdv(name)
        kwargs = self._sdv_kwargs(progress=progress) | self.sdv_params
        metadata = sdv.Metadata.load_from_dict(sdv_metadata_dict(schema))
        try:
            synthesizer = getattr(sdv.single_table, self.synthesizer)(
                metadata, enforce_min_max_values=self.enforce_min_max_values, **kwargs)
        except (TypeError, ValueError) as exc:
            raise DpsynthError(BAD_PARAMS.format(name=name, synthesizer=self.synthesizer, reason=exc)) from None
        seed = 0 if random_state is None else int(random_state)
        with _seeded(seed), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_RANGE_WARNING)  # public bounds are wider than the data
            synthesizer.fit({TABLE: frame})
        self.synthesizer_ = synthesizer
        self.seed_ = seed
        self.n_rows_ = len(frame)  # not private: the exact training row count (the default --rows)
        self.data_report_ = report
        return self

    def _require_fitted(self) -> None:
        if not hasattr(self, "synthesizer_"):
            raise NotFittedError(errors.NOT_FITTED.format(name=type(self).__name__))

    # -------------------------------------------------------------------- sample
    def sample(self, n: int, *, conditions: dict[str, Any] | None = None,
               rebalance: dict[Any, Any] | None = None, random_state: int | None = None) -> pd.DataFrame:
        """``n`` rows in schema column order, inside the public bounds and domains.

        ``conditions`` on the target or on a sensitive attribute that is a plain category
        go to SDV (``sample_from_conditions``); bands (``age_band``), merged groups and the
        ``missing`` group are drawn by keeping the matching synthetic rows (fine here: the
        reference is not private). Same fitted model and ``random_state``, same rows.
        """
        self._require_fitted()
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer (got {n!r})")
        if rebalance:
            raise DpsynthError(NO_REBALANCE.format(name=self.registered_name))
        wanted = check_conditions(conditions or {}, self.schema.condition_domains())
        exact, grouped = self._split_conditions(wanted)
        seed = self.seed_ + 1 if random_state is None else int(random_state)
        synthesizer = self.synthesizer_
        synthesizer.reset_sampling()
        synthesizer._set_random_state(seed)  # SDV's own per-model generators (numpy and torch)
        with _seeded(seed), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*(Only able to sample|Unable to sample).*")
            out = self._draw(int(n), exact, grouped, wanted)
        return out

    def _split_conditions(self, wanted: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """Conditions SDV can take as column values, and the rest (bands, merged groups, missing)."""
        schema = self.schema
        exact: dict[str, str] = {}
        grouped: dict[str, str] = {}
        for name, value in wanted.items():
            if name == schema.target:
                column = name
            else:
                attr = next(a for a in schema.sensitive if a.name == name)
                plain = (isinstance(schema.column(attr.column), CategoricalColumn) and value != MISSING_GROUP
                         and value not in (attr.groups or {}))
                column = attr.column if plain else None
            if column is None or column in exact:
                grouped[name] = value
            else:
                exact[column] = value
        return exact, grouped

    def _draw(self, n: int, exact: dict[str, str], grouped: dict[str, str], wanted: dict[str, str]) -> pd.DataFrame:
        if n == 0:
            return self._to_schema(pd.DataFrame(columns=self.schema.names))
        kept: list[pd.DataFrame] = []
        have, asked = 0, 0
        for _ in range(MAX_ROUNDS):
            rate = have / asked if asked else 1.0
            ask = n - have if not grouped else max(_MIN_ASK, math.ceil(1.2 * (n - have) / max(rate, 0.02)))
            out = self._to_schema(self._sdv_sample(ask, exact))
            asked += ask
            if grouped:
                labels = self.schema.group_labels(out)
                keep = np.logical_and.reduce([(labels[k] == v).to_numpy() for k, v in grouped.items()])
                out = out[keep]
            kept.append(out)
            have += len(out)
            if have >= n:
                return pd.concat(kept, ignore_index=True).iloc[:n].reset_index(drop=True)
        raise DpsynthError(CONDITION_SHORTFALL.format(name=self.registered_name, got=have, n=n,
                                                      conditions=wanted, rounds=MAX_ROUNDS))

    def _sdv_sample(self, k: int, exact: dict[str, str]) -> pd.DataFrame:
        synthesizer = self.synthesizer_
        if not exact:
            return synthesizer.sample(k)[TABLE]
        condition = _import_sdv(self.registered_name).Condition(num_rows=k, column_values=exact)
        try:
            return synthesizer.sample_from_conditions([condition])[TABLE]
        except ValueError as exc:  # SDV: "Unable to sample any rows for the given conditions"
            if "Unable to sample any rows" not in str(exc):
                raise
            return pd.DataFrame(columns=self.schema.names)

    def _to_schema(self, raw: pd.DataFrame) -> pd.DataFrame:
        """Schema column order; numeric columns float, rounded (integer) and inside the public
        bounds; categories as the schema's strings (NaN for missing); the declared rules kept
        (derived columns recomputed, ranges clipped)."""
        out = pd.DataFrame(index=raw.index)
        for col in self.schema.columns:
            if isinstance(col, NumericColumn):
                values = pd.to_numeric(raw[col.name], errors="coerce").astype(float)
                lower, upper = col.lower, col.upper
                if col.integer:
                    values = values.round()
                    lower, upper = math.ceil(lower), math.floor(upper)
                out[col.name] = values.clip(lower, upper)
            else:
                out[col.name] = raw[col.name].astype(object).map(canonical_category).astype(object)
        return enforce(self.schema.rules, out, self.schema.columns).reset_index(drop=True)

    # ------------------------------------------------------------------- privacy
    def privacy_spent(self) -> tuple[float, float]:
        """(ε, δ) = (∞, 1): no privacy guarantee at all."""
        return float("inf"), 1.0

    def privacy_card(self) -> PrivacyCard:
        self._require_fitted()
        return non_private_card(
            generator=self.registered_name, schema_fingerprint=self.schema.fingerprint(), seed=self.seed_,
            packages=_SDV_PACKAGES,
            reference={"library": "sdv", "synthesizer": self.synthesizer, "params": self.get_params(),
                       "sdv_parameters": self._sdv_parameters()})

    def _sdv_parameters(self) -> dict[str, Any]:
        """Every parameter SDV used (its defaults included), as JSON values."""
        used = {k: v for k, v in self.synthesizer_.get_parameters().items() if k != "verbose"}
        return json.loads(json.dumps(used, default=str))

    # --------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        raise DpsynthError(NOT_SAVED.format(name=self.registered_name))

    @classmethod
    def load(cls, path: str | Path) -> SDVReference:
        raise DpsynthError(NOT_SAVED.format(name=cls.registered_name))


class _NeuralReference(SDVReference):
    """CTGAN and TVAE: torch models trained for ``epochs`` (SDV's default 300) in batches of
    ``batch_size`` (SDV's default 500). ``hidden`` (default: SDV's) sets the layer widths of
    both networks, as for dpsynth's own generators. CPU unless ``enable_gpu=True``, so that a
    seed gives the same model on every machine."""

    param_help = SDVReference.param_help | {
        "epochs": "training epochs (SDV's default)", "batch_size": "rows per batch (None: SDV's default, 500)",
        "hidden": "layer widths of both networks (None: SDV's)",
        "enable_gpu": "train on a GPU (default: the CPU, so that a seed gives the same model everywhere)"}

    def __init__(self, schema: TabularSchema, *, epochs: int = 300, batch_size: int | None = None,
                 hidden: tuple[int, ...] | None = None, enable_gpu: bool = False,
                 enforce_min_max_values: bool = True, **sdv_params: Any):
        super().__init__(schema, enforce_min_max_values=enforce_min_max_values, **sdv_params)
        self.epochs = epochs
        self.batch_size = batch_size
        self.hidden = None if hidden is None else tuple(hidden)
        self.enable_gpu = enable_gpu

    _hidden_names: ClassVar[tuple[str, str]]

    def _sdv_kwargs(self, *, progress: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"epochs": self.epochs, "enable_gpu": self.enable_gpu, "verbose": progress}
        if self.batch_size is not None:
            out["batch_size"] = self.batch_size
        if self.hidden is not None:
            out.update(dict.fromkeys(self._hidden_names, self.hidden))
        return out

    def get_params(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "batch_size": self.batch_size,
                "hidden": None if self.hidden is None else list(self.hidden), "enable_gpu": self.enable_gpu,
                **super().get_params()}


@register("sdv-ctgan", family="reference", modality="tabular", private=False,
          description="NOT PRIVATE reference: SDV's CTGAN (conditional tabular GAN), ε = ∞; for comparison only")
class SDVCTGAN(_NeuralReference):
    synthesizer = "CTGANSynthesizer"
    _hidden_names = ("generator_dim", "discriminator_dim")

    def fit(self, data: pd.DataFrame, **kwargs: Any) -> SDVCTGAN:
        batch_size, pac = self.batch_size or 500, self.sdv_params.get("pac", 10)
        if batch_size % 2 or batch_size % pac:
            raise DpsynthError(BAD_CTGAN_BATCH.format(name=self.registered_name, pac=pac, batch_size=batch_size))
        return super().fit(data, **kwargs)


@register("sdv-tvae", family="reference", modality="tabular", private=False,
          description="NOT PRIVATE reference: SDV's TVAE (tabular variational autoencoder), ε = ∞; "
                      "for comparison only")
class SDVTVAE(_NeuralReference):
    synthesizer = "TVAESynthesizer"
    _hidden_names = ("compress_dims", "decompress_dims")


@register("sdv-gaussiancopula", family="reference", modality="tabular", private=False,
          description="NOT PRIVATE reference: SDV's Gaussian copula (fitted marginals + correlations), ε = ∞; "
                      "for comparison only")
class SDVGaussianCopula(SDVReference):
    synthesizer = "GaussianCopulaSynthesizer"

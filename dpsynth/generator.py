"""The `Generator` interface and the fit/sample/save pipeline every family and modality shares.

`DPGenerator.fit` is where private data enters, and it is written once:

1. check the budget, count the units and plan DP-SGD for its share (σ fixed before
   training; an impossible budget fails here, before any mechanism);
2. if the schema has non-public values: learn them with DP mechanisms (opt-in share of ε)
   or refuse;
3. charge the condition counts, then one pass over the records (`_prepare`): conform to the
   public schema (clear errors), count the condition cells (target × sensitive groups) and
   encode the units — in memory, or a chunk at a time into a `UnitFile`; noise the counts;
4. charge the DP-SGD plan;
5. train the family's module with the shared DP-SGD loop, one clipped gradient per unit.

The seed sets only public randomness (initial weights, sampling); every draw in steps 2–5
comes from OS entropy and is never stored (`dpsynth.privacy.randomness`).

Modalities (`dpsynth.tabular.generator.TabularGenerator`, `dpsynth.series.generator.SeriesGenerator`,
`dpsynth.images.generator.ImageGenerator`) say
how data is checked, encoded per privacy unit and decoded; families only say how to build
their module (`_build_module`; `_generate` defaults to the module's own ``generate``).
Saved models are a JSON config + a
``state_dict`` loaded with ``weights_only=True`` — never pickle — and hold only DP outputs.

For the one-run privacy audit (`dpsynth.privacy_audit`) every generator makes canaries
inside the public schema (`canary_units`), adds them to data (`with_units`) and scores units
under the fitted model (`membership_scores`), through three small modality hooks
(`_as_units`, `_select`, `_concat`) and one family hook (`_unit_scores`).
"""

from __future__ import annotations

import copy
import functools
import json
import operator
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from dpsynth import errors
from dpsynth.bundle import BundleError, staged_folder, verify_manifest
from dpsynth.errors import BudgetError, DataReadError, NotFittedError, ParameterError, SchemaError
from dpsynth.families.data_parallel import check_devices, train_on_devices
from dpsynth.families.pretraining import Pretraining
from dpsynth.families.training import TrainingLog, check_ema_decay, check_rows_per_step, train_dpsgd
from dpsynth.devices import module_device, resolve_device
from dpsynth.params import (
    SET_AFTER_FIT,
    ModelParams,
    ParamSpec,
    TrainingSettings,
    check_params,
    collect_specs,
    docstring,
    json_ready,
    signature,
)
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.card import PrivacyCard, privacy_card
from dpsynth.privacy.conditions import (
    charge_condition_counts,
    check_conditions,
    exact_condition_counts,
    indistinguishable_from_empty,
    release_condition_counts,
    sample_condition_cells,
    uniform_condition_table,
)
from dpsynth.privacy.dpsgd import DPSGDPlan, batch_setting_matches, plan_dpsgd
from dpsynth.privacy.ledger import PrivacyLedger
from dpsynth.privacy.recheck import recheck_ledger
from dpsynth.privacy.randomness import public_torch_rng, secret_numpy_generator, secret_torch_rng
from dpsynth.privacy.rebalance import ShareSpec, check_no_conflict, rebalance_table

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.pt"
BUNDLE_FORMAT = 2  # 2: a manifest.json with each file's SHA-256 (format 1 had none and is refused)
OLD_BUNDLE = ("'{path}' was written by an older dpsynth (bundle format {found}, without a manifest) and cannot "
              "be verified; fit and save it again with this version")
UNKNOWN_BUNDLE = "'{path}' has bundle format {found!r}; this dpsynth reads format {expected}: upgrade dpsynth"
BAD_LEDGER = "'{path}' fails its privacy check: {problem}; do not use or release this model"
BAD_WEIGHTS = ("'{path}' cannot be loaded as this generator's weights ({reason}); the bundle is damaged: "
               "fit and save it again")
CANARY_ID = "canary-{:06d}"
CANARY_ID_CLASH = ("the data already has privacy units named like the audit's canaries ('canary-000001', ...); "
                   "rename those subject/image ids in the data")
SCORE_BATCH = 256  # units per forward pass when scoring
GENERATE_BATCH = 4096  # records per forward pass when sampling
SAMPLE_CHUNK = 65_536  # records decoded at once when sampling (a bar shows the chunks)


@dataclass(frozen=True)
class Prepared:
    """What one pass over the private records gives `DPGenerator.fit` (`DPGenerator._prepare`)."""

    units: Any  # (x [U, R, width], c [U, R, C], row mask [U, R]) tensors, or a `UnitFile` of them
    exact_counts: np.ndarray  # per public condition cell; private: only noised counts leave fit
    report: Any  # the modality's conform report (counted clips): for the operator, never released


class Generator(ABC):
    """What every dpsynth generator offers: fit within a budget, sample, privacy_spent, save."""

    registered_name: ClassVar[str] = "unregistered"

    @abstractmethod
    def fit(self, data: pd.DataFrame, *, budget: PrivacyBudget, **kwargs: Any) -> Generator: ...

    @abstractmethod
    def sample(self, n: int, *, conditions: dict[str, Any] | None = None,
               rebalance: dict[Any, Any] | None = None,
               random_state: int | None = None) -> pd.DataFrame: ...

    @abstractmethod
    def privacy_spent(self) -> tuple[float, float]: ...

    @abstractmethod
    def save(self, path: str | Path) -> Path: ...


class DPGenerator(Generator):
    """The fit/sample/save pipeline every DP generator shares, for every modality.

    A modality subclass (`dpsynth.tabular.generator.TabularGenerator`, `dpsynth.series.generator.SeriesGenerator`)
    says how its data is checked, conformed, encoded into per-unit tensors and decoded
    (the ``_modality`` hooks below); a family subclass says how to build and train its
    module (`_build_module`, optionally `_generate` and `_train`).
    """

    schema_type: ClassVar[type]  # the modality's schema class (bundles load through it)
    training_mechanism: ClassVar[str] = "dp-sgd"  # the ledger entry of this generator's training

    # Parameters (`dpsynth.params`): declared once as dataclass fields, refined per class.
    family_params: ClassVar[type | None] = None
    """The family's parameter dataclass, set by each generator: `VAEParams`, `GANParams`,
    `DiffusionParams`, or a variant adding its backbone's widths (e.g. `ConvVAEParams`)."""
    model_params: ClassVar[type] = ModelParams
    """The codec's and networks' shape: ``n_bins``, ``hidden`` (series and images add ``sigma``)."""
    param_defaults: ClassVar[Mapping[str, Any]] = {}
    """This class's defaults where they differ from the declarations, for any parameter
    (family, model or `TrainingSettings`), e.g. ``{"lr": 1e-3, "aux_weight": 3.0}``; merged
    down the class hierarchy (a modality's, then a generator's). The only place a default is
    refined: the signature, ``get_params`` and ``dpsynth generators --params`` follow it."""
    param_specs: ClassVar[dict[str, ParamSpec]] = {}  # every parameter of the class (`__init_subclass__`)
    params_before_added: ClassVar[Mapping[str, Any]] = {}
    """For a parameter added after bundles were saved, the value those bundles were trained with
    (e.g. dp-vae's ``anchor_share`` 0): `load` reads a config that lacks it with this value, not
    with today's default."""
    pretrainable: ClassVar[bool] = True
    """False for a family whose training loop `_pretrain`'s single-loss loop cannot stand in for (a GAN)."""

    @property
    def own_condition_mix(self) -> bool:
        """True where this generator's private stage yields the condition mix itself
        (`_fitted_condition_table`): it spends no ``condition_share`` on the separate Laplace table."""
        return False

    def __init_subclass__(cls, **kwargs: Any):
        """Resolve the class's parameters once: specs, keyword signature, Parameters section of the docstring."""
        super().__init_subclass__(**kwargs)
        defaults: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            defaults |= klass.__dict__.get("param_defaults", {})
        cls.param_specs = collect_specs(cls.__name__, {"family": cls.family_params, "model": cls.model_params,
                                                       "training": TrainingSettings}, defaults)
        cls.__signature__ = signature(cls.param_specs)
        cls.__doc__ = docstring(cls.__doc__, cls.param_specs)

    def __init__(self, schema: Any, **params: Any):
        """Store ``schema`` and the parameters (keyword-only; the class signature and docstring list
        them), each checked here, before any data is read: a `ParameterError` (one line) names an
        unknown parameter (and the closest valid one) or a value that is not allowed."""
        self.schema = schema
        self._store(self._checked(params, base={name: s.default for name, s in self.param_specs.items()}))

    def _owner(self) -> str:
        return self.registered_name if self.registered_name != "unregistered" else type(self).__name__

    def _checked(self, params: Mapping[str, Any], *, base: Mapping[str, Any]) -> dict[str, Any]:
        combined = getattr(self.family_params, "combined", None)
        return check_params(self._owner(), self.param_specs, params, base=base, combined=combined)

    def _store(self, values: Mapping[str, Any]) -> None:
        """`TrainingSettings` as ``self.training``, every other parameter as an attribute."""
        groups = {name: spec.group for name, spec in self.param_specs.items()}
        self.training = TrainingSettings(**{n: v for n, v in values.items() if groups[n] == "training"})
        for name, value in values.items():
            if groups[name] != "training":
                setattr(self, name, value)

    def _param_values(self) -> dict[str, Any]:
        return {name: getattr(self.training if spec.group == "training" else self, name)
                for name, spec in self.param_specs.items()}

    # -------------------------------------------------------------- modality API
    @abstractmethod
    def _count_units(self, data: Any, schema: Any) -> int:
        """Structural checks that need no privacy budget; the number of privacy units."""

    @abstractmethod
    def _unit_label(self, schema: Any) -> str:
        """What one privacy unit is, in words (on the ledger and the card)."""

    @abstractmethod
    def _conform(self, data: Any, schema: Any) -> tuple[Any, Any]:
        """(conformed data, report of counted clips/mappings)."""

    @abstractmethod
    def _make_codec(self, schema: Any) -> Any:
        """The modality codec, built from the public schema only."""

    @abstractmethod
    def _condition_groups(self, data: Any, schema: Any) -> tuple[pd.DataFrame, pd.Series | None]:
        """(condition labels per record, privacy-unit id per record or None if one record per unit)."""

    @abstractmethod
    def _unit_tensors(self, data: Any, codec: Any, groups: pd.DataFrame, schema: Any,
                      rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """x [U, R, input width], c [U, R, C], row mask [U, R]: records grouped by privacy unit.
        ``rng`` is secret (OS entropy): it draws which records of a large unit are kept."""

    def _unit_members(self, units: Sequence[Any], rng: np.random.Generator) -> list[np.ndarray]:
        """The record indices of each privacy unit (``units``: the unit of every record), in order
        of first appearance; a unit with more than ``max_rows_per_unit`` records keeps a random
        subset drawn with ``rng`` (secret at fit time), in record order."""
        codes, _ = pd.factorize(pd.Series(units))
        order = np.argsort(codes, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
        cap = self.training.max_rows_per_unit
        return [m if len(m) <= cap else np.sort(rng.choice(m, cap, replace=False))
                for m in np.split(order, starts[1:])]

    @abstractmethod
    def _decode(self, output: np.ndarray, cells: pd.DataFrame, rng: np.random.Generator, *, first: int = 0) -> Any:
        """Synthetic data from decoder outputs [n, codec.width] and their condition cells;
        ``first`` is the position of the first record in the whole sample (ids count from it)."""

    @abstractmethod
    def _as_units(self, records: Any, ids: list[str]) -> Any:
        """Decoded ``records`` (from `_decode`), record i made its own privacy unit named ``ids[i]``."""

    @abstractmethod
    def _select(self, data: Any, index: np.ndarray) -> Any:
        """The records of ``data`` at positions ``index`` (rows; series: subjects; images: images)."""

    @abstractmethod
    def _concat(self, data: Any, other: Any) -> Any:
        """``data`` followed by the records of ``other`` (same modality)."""

    def _learn_public_values(self, data: Any, schema: Any, *, epsilon: float, delta: float,
                             ledger: PrivacyLedger) -> Any:
        """A schema whose non-public values are learned with charged DP mechanisms.

        Only tabular data supports this so far; other modalities need a public schema."""
        schema.require_public()
        return schema

    # ---------------------------------------------------------------- family API
    @abstractmethod
    def _build_module(self, codec: Any) -> nn.Module:
        """The family's trainable module; forward(x, c, row_mask) -> per-unit loss."""

    def _generate(self, module: nn.Module, c: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Decoder outputs [n, codec.width] for condition one-hots ``c``: every family module
        (VAE, GAN, diffusion) offers ``generate(c, generator=...)``; override for one that does not."""
        return module.generate(c, generator=generator)

    def _plan_training(self, *, n_units: int, epsilon: float, delta: float) -> Any:
        """The private training's plan for its share of the budget, made before any data is read
        (an infeasible budget fails here). The default plans DP-SGD (`plan_dpsgd`, settings from
        `TrainingSettings`); a family that measures instead (`dpsynth.families.marginal`) plans its
        measurements. A plan gives ``parts`` (itself, after any plan that runs first), and each part
        ``label``, ``ledger_entry(purpose)`` and ``check_spent(log)``."""
        settings = self.training
        return plan_dpsgd(n_units=n_units, epsilon=epsilon, delta=delta, batch_size=settings.batch_size,
                          epochs=settings.epochs, max_grad_norm=settings.max_grad_norm, accountant=settings.accountant)

    def _pretrain(self, module: nn.Module, codec: Any, *, seed: int, progress: bool) -> Any:
        """Non-private training of ``module`` on public data before DP-SGD (no ε; the public seed
        holds). None by default; the image modality pretrains on public tiles on request
        (`dpsynth.families.pretraining`). Returns what ran, with ``card_entry()``, or None."""
        return None

    def _fitted_condition_table(self, module: nn.Module, log: Any, table: pd.DataFrame) -> pd.DataFrame:
        """The condition mix to sample from after training: the DP ``table`` by default; a family
        with ``own_condition_mix`` derives it from its own measurements (post-processing)."""
        return table

    def _train(self, module: nn.Module, tensors: tuple[torch.Tensor, ...], plan: DPSGDPlan, *,
               progress: bool) -> TrainingLog:
        """Run DP-SGD under ``plan``. The default trains ``module`` (forward -> per-unit loss)
        with the shared loop; a family with several networks (a GAN) overrides this and
        must still run exactly ``plan.steps`` private steps through opacus."""
        settings = self.training
        return train_on_devices(train_dpsgd, module, tensors, plan, devices=settings.devices, progress=progress,
                                lr=settings.lr, grad_sample_mode=settings.grad_sample_mode,
                                secure_mode=settings.secure_mode, rows_per_step=settings.rows_per_step,
                                ema_decay=settings.ema_decay, desc=f"fit {self.registered_name}")

    def _unit_scores(self, module: nn.Module, x: torch.Tensor, c: torch.Tensor, row_mask: torch.Tensor, *,
                     draws: int) -> torch.Tensor:
        """Membership score per unit [B] (higher: more like a training unit): minus the family's
        per-unit training loss, averaged over ``draws`` draws of its randomness (a VAE's latents,
        a diffusion model's time steps and noise). A GAN scores with its discriminator instead."""
        return -torch.stack([module(x, c, row_mask) for _ in range(draws)]).mean(0)

    # ----------------------------------------------------------------------- fit
    def fit(
        self,
        data: pd.DataFrame,
        *,
        budget: PrivacyBudget,
        learn_domain_share: float | None = None,
        random_state: int | None = 0,
        progress: bool = True,
    ) -> DPGenerator:
        """Train on private ``data`` within ``budget`` (see module docstring for the steps).

        ``random_state`` is public: it sets the initial weights and the default sampling seed.
        Every draw that touches ``data`` comes from OS entropy (`dpsynth.privacy.randomness`),
        so two fits with the same seed differ (docs/privacy.md, rule 9)."""
        if not isinstance(budget, PrivacyBudget):
            raise BudgetError("budget must be a dpsynth.PrivacyBudget(epsilon, delta)")
        settings = self.training
        if not 0.0 <= settings.condition_share < 1.0:
            raise BudgetError(f"condition_share must be in [0, 1) (got {settings.condition_share})")
        check_rows_per_step(settings.rows_per_step)  # before any private data is read
        check_ema_decay(settings.ema_decay)
        device = resolve_device(settings.device)
        check_devices(settings.devices, device, secure_mode=settings.secure_mode)
        if learn_domain_share is not None and not 0.0 < learn_domain_share < 1.0 - settings.condition_share:
            raise BudgetError(f"learn_domain_share must be in (0, {1 - settings.condition_share:g}) "
                              f"(got {learn_domain_share})")
        seed = 0 if random_state is None else int(random_state)  # public randomness only (docs/privacy.md, rule 9)
        schema = self.schema

        n_units = self._count_units(data, schema)  # structural errors before any mechanism runs
        budget.check_against(n_units)
        ledger = PrivacyLedger(budget, privacy_unit=self._unit_label(schema))
        learn = schema.not_public()
        if learn and learn_domain_share is None:
            schema.require_public()  # raises the error with both ways out
        learn_epsilon, learn_delta = (learn_domain_share * budget.epsilon, budget.delta * 0.1) if learn else (0, 0)
        # The training plan first: an infeasible budget is refused before any mechanism reads the data.
        plan = self._plan_training(n_units=n_units, epsilon=budget.epsilon - learn_epsilon
                                   - settings.condition_share * budget.epsilon, delta=budget.delta - learn_delta)

        if learn:
            schema = self._learn_public_values(data, schema, epsilon=learn_epsilon, delta=learn_delta, ledger=ledger)
        codec = self._make_codec(schema)
        counts_epsilon = settings.condition_share * budget.epsilon
        if counts_epsilon > 0:
            charge_condition_counts(codec.condition_domains, epsilon=counts_epsilon, ledger=ledger)  # before counting
        prepared = self._prepare(data, schema, codec, secret_numpy_generator())
        if counts_epsilon > 0:
            table = release_condition_counts(prepared.exact_counts, codec.condition_domains, epsilon=counts_epsilon)
            self._warn_sparse_groups(table, codec.condition_domains, counts_epsilon)
        else:
            table = uniform_condition_table(codec.condition_domains)

        for part in plan.parts:  # one entry per part: an anchored decoder's measurements, then DP-SGD
            ledger.charge(part.ledger_entry(f"train {self.registered_name} ({part.label})"))

        tensors = prepared.units
        with public_torch_rng(seed, device):  # the initial weights are public: the seed sets them
            module = self._build_module(codec).to(device)  # tensors stay on the CPU: opacus samples there
            pretraining = self._pretrain(module, codec, seed=seed, progress=progress)  # public data only
        # Set before training: a family's `_train` may draw conditions from the DP table (a GAN's fakes).
        self.codec_ = codec
        self.condition_table_ = table
        with secret_torch_rng(device):  # every draw while training comes from OS entropy
            log = self._train(module, tensors, plan, progress=progress)
        plan.check_spent(log)
        self.condition_table_ = self._fitted_condition_table(module, log, table)

        self.schema_ = schema
        self.module_ = module
        self.ledger_ = ledger
        self.plan_ = plan
        self.log_ = log
        self.seed_ = seed
        self.pretraining_ = pretraining
        self.n_units_ = n_units  # operator-only: exact counts stay in memory, never in a release
        self.data_report_ = prepared.report
        return self

    def _prepare(self, data: Any, schema: Any, codec: Any, rng: np.random.Generator) -> Prepared:
        """Conform ``data``, count its condition cells exactly and encode its units: one pass
        over the private records, before the counts are noised and training starts. A modality
        may override it to read its data in chunks (`dpsynth.tabular.generator`)."""
        frame, report = self._conform(data, schema)
        groups, unit_ids = self._condition_groups(frame, schema)
        exact = exact_condition_counts(groups, codec.condition_domains, unit_ids=unit_ids)
        return Prepared(self._unit_tensors(frame, codec, groups, schema, rng), exact, report)

    @staticmethod
    def _warn_sparse_groups(table: pd.DataFrame, domains: dict[str, list[str]], epsilon: float) -> None:
        """Warn about groups the DP counts cannot tell from empty (post-processing only)."""
        for name in domains:
            empty = indistinguishable_from_empty(table, name, epsilon=epsilon)
            if empty:
                warnings.warn(f"'{name}': group(s) {empty} look empty under the DP counts; conditional "
                              "samples for them rely on what the model learned from other groups",
                              UserWarning, stacklevel=3)

    # -------------------------------------------------------------------- sample
    def _require_fitted(self) -> None:
        if not hasattr(self, "module_"):
            raise NotFittedError(errors.NOT_FITTED.format(name=type(self).__name__))

    def sample(self, n: int, *, conditions: dict[str, Any] | None = None,
               rebalance: dict[Any, ShareSpec] | None = None,
               random_state: int | None = None, progress: bool = False) -> Any:
        """``n`` synthetic records; ``conditions`` (e.g. ``{"sex": "female"}``) fix condition values.

        Without conditions the mix follows the DP condition table. ``rebalance`` (e.g.
        ``{"race": "equal"}``, see `dpsynth.privacy.rebalance`) gives subgroups chosen
        shares — post-processing of the DP table. Same fitted model and same
        ``random_state`` give the same rows.
        """
        return functools.reduce(self._concat, self.sample_parts(n, conditions=conditions, rebalance=rebalance,
                                                                random_state=random_state, progress=progress))

    def concat_records(self, data: Any, other: Any) -> Any:
        """``data`` followed by the records of ``other``: joins the parts of `sample_parts`."""
        return self._concat(data, other)

    def sample_parts(self, n: int, *, conditions: dict[str, Any] | None = None,
                     rebalance: dict[Any, ShareSpec] | None = None,
                     random_state: int | None = None, progress: bool = False) -> Iterator[Any]:
        """`sample`'s records a chunk (`SAMPLE_CHUNK`) at a time, for a writer that appends them:
        memory stays flat in ``n``. The arguments are checked before the first chunk."""
        self._require_fitted()
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer (got {n!r})")
        domains = self.codec_.condition_domains
        wanted = check_conditions(conditions or {}, domains)
        table = self.condition_table_
        if rebalance:
            check_no_conflict(rebalance, wanted)
            table = rebalance_table(table, rebalance, domains)
        seed = self.seed_ + 1 if random_state is None else int(random_state)
        rng = np.random.default_rng(seed)
        cells = sample_condition_cells(table, int(n), conditions=wanted, rng=rng)
        device = module_device(self.module_)
        torch_gen = torch.Generator(device=device).manual_seed(seed)
        return self._decoded_chunks(int(n), cells, rng, torch_gen, device, progress)

    def _decoded_chunks(self, n: int, cells: pd.DataFrame, rng: np.random.Generator, torch_gen: torch.Generator,
                        device: torch.device, progress: bool) -> Iterator[Any]:
        if not n:
            yield self._decode(np.zeros((0, self.codec_.width), np.float32), cells, rng)
            return
        starts = range(0, n, SAMPLE_CHUNK)
        for start in tqdm(starts, desc=f"sample {self.registered_name}", unit="chunk",
                          disable=not progress or len(starts) < 2, leave=False):
            chunk = cells.iloc[start:start + SAMPLE_CHUNK].reset_index(drop=True)
            c = torch.from_numpy(self.codec_.encode_conditions(chunk)).to(device)
            outputs = [self._generate(self.module_, c[i:i + GENERATE_BATCH], torch_gen).cpu().numpy()
                       for i in range(0, len(chunk), GENERATE_BATCH)]
            yield self._decode(np.concatenate(outputs), chunk, rng, first=start)

    # -------------------------------------------------------------- privacy audit
    def canary_units(self, n: int, *, random_state: int = 0) -> Any:
        """``n`` records of random content inside the public schema, each its own privacy unit
        (ids ``canary-000001``, ...): condition cells drawn uniformly from the public domains and
        standard-normal decoder outputs, decoded by the modality's codec. Built from the schema and
        ``random_state`` only (no data, no fit needed); the canaries of the one-run privacy audit
        (`dpsynth.privacy_audit`)."""
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer (got {n!r})")
        self.schema.require_public()  # canaries live inside public domains only
        rng = np.random.default_rng(random_state)
        decoder = copy.copy(self)  # `_decode` reads the fitted schema and codec; the public ones serve
        decoder.schema_, decoder.codec_ = self.schema, self._make_codec(self.schema)
        cells = pd.DataFrame({name: rng.choice(np.asarray(domain, dtype=object), int(n))
                              for name, domain in decoder.codec_.condition_domains.items()})
        outputs = rng.standard_normal((int(n), decoder.codec_.width)).astype(np.float32)
        return decoder._as_units(decoder._decode(outputs, cells, rng), [CANARY_ID.format(i + 1) for i in range(n)])

    def with_units(self, data: Any, extra: Any, *, keep: np.ndarray) -> Any:
        """``data`` followed by the records of ``extra`` where ``keep`` is true (e.g. the included
        canaries). A clear error if a kept unit's id is already a unit of ``data``."""
        keep = np.asarray(keep, dtype=bool)
        added = self._select(extra, np.flatnonzero(keep))
        combined = self._concat(data, added)
        expected = self.schema.count_units(data) + self.schema.count_units(added)
        if self.schema.count_units(combined) != expected:
            raise SchemaError(CANARY_ID_CLASH)
        return combined

    def membership_scores(self, units: Any, *, draws: int = 16, random_state: int = 0) -> np.ndarray:
        """One membership score per privacy unit of ``units`` (in their order), higher meaning
        "looks more like a training unit" under the fitted model (`_unit_scores`: minus the
        family's per-unit loss, or a GAN discriminator's realness). For auditing only: the scores
        of real records are not DP and must not be released."""
        self._require_fitted()
        if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
            raise ValueError(f"draws must be a whole number >= 1 (got {draws!r})")
        frame, _ = self._conform(units, self.schema_)
        groups, _ = self._condition_groups(frame, self.schema_)
        tensors = self._unit_tensors(frame, self.codec_, groups, self.schema_, np.random.default_rng(random_state))
        device = module_device(self.module_)
        self.module_.eval()
        scores = []
        with public_torch_rng(int(random_state), device), torch.no_grad():
            for i in range(0, len(tensors[0]), SCORE_BATCH):
                x, c, row_mask = (t[i:i + SCORE_BATCH].to(device) for t in tensors)
                scores.append(self._unit_scores(self.module_, x, c, row_mask, draws=draws).float().cpu())
        return torch.cat(scores).numpy().astype(float)

    # ------------------------------------------------------------------- privacy
    def privacy_spent(self) -> tuple[float, float]:
        self._require_fitted()
        return self.ledger_.spent()

    def privacy_card(self) -> PrivacyCard:
        """The typed privacy card of this fit (`PrivacyCard.to_dict` is its JSON)."""
        self._require_fitted()
        return privacy_card(
            ledger=self.ledger_, generator=self.registered_name, schema_fingerprint=self.schema_.fingerprint(),
            seed=self.seed_, secure_mode=self.training.secure_mode, training=asdict(self.training),
            public_pretraining=None if self.pretraining_ is None else self.pretraining_.card_entry())

    # --------------------------------------------------------------- persistence
    def get_params(self) -> dict[str, Any]:
        """Every parameter's value, JSON-ready (sequences as lists): what the bundle config saves;
        ``type(self)(schema, **get_params())`` builds the same generator again."""
        return {name: json_ready(value) for name, value in self._param_values().items()}

    def set_params(self, **params: Any) -> DPGenerator:
        """Change parameters before `fit`, checked as in the constructor; returns ``self``."""
        if hasattr(self, "module_"):
            raise ParameterError(SET_AFTER_FIT.format(owner=self._owner()))
        self._store(self._checked(params, base=self._param_values()))
        return self

    def save(self, path: str | Path, *, force: bool = False) -> Path:
        """Write ``config.json`` (schema, params, DP condition table, ledger), ``weights.pt`` and
        ``manifest.json`` into a new folder ``path``, atomically (`dpsynth.bundle.staged_folder`);
        ``force`` replaces an earlier saved folder whole.

        Only public and DP values: no exact row count, no count of clipped values."""
        self._require_fitted()
        path = Path(path)
        config = {
            "bundle_format": BUNDLE_FORMAT,
            "generator": self.registered_name,
            "params": self.get_params(),
            "schema": self.schema_.to_dict(),
            "condition_table": self.condition_table_.to_dict(orient="list"),
            "ledger": self.ledger_.to_dict(),
            "seed": self.seed_,
            "public_pretraining": None if self.pretraining_ is None else asdict(self.pretraining_),
        }
        with staged_folder(path, kind="model", force=force) as staging:
            (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
            torch.save(self.module_.state_dict(), staging / WEIGHTS_FILE)
        return path

    @classmethod
    def load(cls, path: str | Path, *, device: str | None = None) -> DPGenerator:
        """Load a folder written by `save` onto ``device`` (default: the bundle's own setting,
        normally "auto"), after `check_saved` (manifest, format, ledger); weights are read with
        ``weights_only=True``, never as pickle."""
        from dpsynth import registry

        path = Path(path)
        config = cls.check_saved(path)
        target_cls = registry.get(config["generator"]).cls
        schema = target_cls.schema_type.from_dict(config["schema"])
        params = dict(target_cls.params_before_added) | dict(config["params"])
        if device is not None:
            params["device"] = device
        model = target_cls(schema, **params)
        model.schema_ = schema
        model.codec_ = model._make_codec(schema)
        model.module_ = model._build_module(model.codec_)
        try:
            state = torch.load(path / WEIGHTS_FILE, weights_only=True, map_location="cpu")
            model.module_.load_state_dict(state)
        except (OSError, RuntimeError, ValueError, KeyError, TypeError, EOFError) as exc:
            reason = " ".join(str(exc).split("\n")[0].split())[:160]
            raise DataReadError(BAD_WEIGHTS.format(path=path / WEIGHTS_FILE, reason=reason)) from None
        model.module_.to(resolve_device(model.training.device))
        model.module_.eval()
        model.condition_table_ = pd.DataFrame(config["condition_table"])
        model.ledger_ = PrivacyLedger.from_dict(config["ledger"])
        model.seed_ = int(config["seed"])
        pretraining = config.get("public_pretraining")
        try:
            model.pretraining_ = None if pretraining is None else Pretraining(**pretraining)
        except TypeError:
            raise BundleError(BAD_LEDGER.format(path=path / CONFIG_FILE, problem="its public_pretraining entry "
                                                f"is not one dpsynth writes: {pretraining!r}"[:200])) from None
        model.n_units_ = model.data_report_ = None  # exact counts are never saved (operator-only)
        return model

    @staticmethod
    def check_saved(path: str | Path) -> dict[str, Any]:
        """Check a saved model folder and return its config: the format is this version's, every
        file matches the manifest, and the ledger re-derives its own ε (one DP-SGD entry whose
        settings are the config's). `BundleError` / `DataReadError` name the file at fault."""
        from dpsynth import registry

        path = Path(path)
        config_path = path / CONFIG_FILE
        try:
            config = json.loads(config_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataReadError(f"cannot read model bundle '{path}': {exc}") from None
        found = config.get("bundle_format") if isinstance(config, dict) else None
        if found == 1:
            raise BundleError(OLD_BUNDLE.format(path=path, found=found))
        if found != BUNDLE_FORMAT or isinstance(found, bool):
            raise BundleError(UNKNOWN_BUNDLE.format(path=config_path, found=found, expected=BUNDLE_FORMAT))
        verify_manifest(path, kind="model")
        info = registry.get(config.get("generator"))  # a clear error for an unknown name
        ledger = config.get("ledger") if isinstance(config.get("ledger"), dict) else {}
        problems = recheck_ledger(ledger)
        mechanisms = [e.get("mechanism") for e in ledger.get("entries") or [] if isinstance(e, dict)]
        training = getattr(info.cls, "training_mechanism", None)
        if training is not None and training not in mechanisms:
            problems.append(f"the ledger has no {training!r} entry, but {info.name} trains with it")
        training = next((e.get("params", {}) for e in ledger.get("entries") or []
                         if isinstance(e, dict) and e.get("mechanism") == "dp-sgd"), None)
        settings = config.get("params") or {}
        if training is not None:
            agrees = {"max_grad_norm": operator.eq, "accountant": operator.eq, "batch_size": batch_setting_matches}
            problems += [f"the DP-SGD entry records {key} = {training.get(key)!r} but the model's parameters say "
                         f"{settings.get(key)!r}" for key, same in agrees.items()
                         if not same(training.get(key), settings.get(key))]
        if problems:
            raise BundleError(BAD_LEDGER.format(path=config_path, problem=problems[0]))
        return config

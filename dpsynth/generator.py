"""The `Generator` interface and the fit/sample/save pipeline every family and modality shares.

`DPGenerator.fit` is where private data enters, and it is written once:

1. check the budget and conform the data to the public schema (clear errors);
2. if the schema has non-public values: learn them with DP mechanisms (opt-in share of ε)
   or refuse;
3. noisy counts of the condition cells (target × sensitive groups), charged to the ledger;
4. plan DP-SGD for the remaining budget (σ fixed before training) and charge it;
5. train the family's module with the shared DP-SGD loop, one clipped gradient per unit.

The seed sets only public randomness (initial weights, sampling); every draw in steps 2–5
comes from OS entropy and is never stored (`dpsynth.privacy.randomness`).

Modalities (`TabularGenerator` here, `SeriesGenerator` in `dpsynth.series.generator`) say
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
import json
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import nn

from dpsynth import errors
from dpsynth.codecs.tabular import TabularCodec
from dpsynth.errors import BudgetError, DataReadError, NotFittedError, SchemaError
from dpsynth.families.training import TrainingLog, check_ema_decay, check_rows_per_step, train_dpsgd
from dpsynth.devices import module_device, resolve_device
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.card import privacy_card
from dpsynth.privacy.conditions import (
    check_conditions,
    indistinguishable_from_empty,
    noisy_condition_table,
    sample_condition_cells,
    uniform_condition_table,
)
from dpsynth.privacy.domain import learn_public_values
from dpsynth.privacy.dpsgd import DPSGDPlan, plan_dpsgd
from dpsynth.privacy.ledger import PrivacyLedger
from dpsynth.privacy.randomness import public_torch_rng, secret_numpy_generator, secret_torch_rng
from dpsynth.privacy.rebalance import ShareSpec, check_no_conflict, rebalance_table
from dpsynth.schema import TabularSchema

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.pt"
BUNDLE_FORMAT = 1
CANARY_ID = "canary-{:06d}"
CANARY_ID_CLASH = ("the data already has privacy units named like the audit's canaries ('canary-000001', ...); "
                   "rename those subject/image ids in the data")
SCORE_BATCH = 256  # units per forward pass when scoring


@dataclass
class TrainingSettings:
    """DP-SGD settings shared by the families; defaults fixed a priori (rule 4)."""

    epochs: float = 30.0
    batch_size: int = 512
    lr: float = 5e-3
    max_grad_norm: float = 1.0
    accountant: str = "prv"
    grad_sample_mode: str = "ghost"
    condition_share: float = 0.05  # share of ε for the noisy condition counts (0 = uniform mix)
    max_rows_per_unit: int = 16  # rows kept per privacy unit (a secret random subsample beyond)
    rows_per_step: int | None = None  # rows of a sampled unit each private step uses (None: all)
    secure_mode: bool = False
    device: str = "auto"  # where to train and sample: a CUDA GPU when present (dpsynth.devices)
    ema_decay: float | None = None  # end with the moving average of the weights (training.WeightAverage)


class Generator(ABC):
    """What every dpsynth generator offers (see DESIGN.md, "Core interfaces")."""

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

    A modality subclass (`TabularGenerator`, `dpsynth.series.generator.SeriesGenerator`)
    says how its data is checked, conformed, encoded into per-unit tensors and decoded
    (the ``_modality`` hooks below); a family subclass says how to build and train its
    module (`_build_module`, optionally `_generate` and `_train`).
    """

    schema_type: ClassVar[type]  # the modality's schema class (bundles load through it)
    family_defaults: ClassVar[Mapping[str, Any]] = {}
    """The family's own parameters and their defaults. Declared once per family
    (`VAE_DEFAULTS`, `GAN_DEFAULTS`, `DIFFUSION_DEFAULTS`) and refined per generator, e.g.
    ``GAN_DEFAULTS | {"conv_channels": (16, 32)}``: the constructor takes each as a keyword
    and keeps it as an attribute (a tuple default keeps sequences as tuples), and the
    bundle config saves them — so no generator repeats them in a constructor of its own."""
    training_defaults: ClassVar[Mapping[str, Any]] = {}  # a generator's own `TrainingSettings` defaults
    default_hidden: ClassVar[tuple[int, ...]] = (256, 256)  # the MLP widths when ``hidden`` is not given

    def __init__(self, schema: Any, *, n_bins: int = 16, hidden: Sequence[int] | None = None, **params: Any):
        self.schema = schema
        self.n_bins = n_bins
        self.hidden = tuple(self.default_hidden if hidden is None else hidden)
        for name, default in self.family_defaults.items():
            value = params.pop(name, default)
            setattr(self, name, tuple(value) if isinstance(default, tuple) else value)
        unknown = sorted(set(params) - set(TrainingSettings.__dataclass_fields__))
        if unknown:
            known = sorted([*TrainingSettings.__dataclass_fields__, *self.family_defaults, "hidden", "n_bins"])
            raise TypeError(f"unknown generator parameter(s) {unknown} for {self.registered_name}; known: {known}")
        self.training = TrainingSettings(**(dict(self.training_defaults) | params))

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

    @abstractmethod
    def _decode(self, output: np.ndarray, cells: pd.DataFrame, rng: np.random.Generator) -> Any:
        """Synthetic data from decoder outputs [n, codec.width] and their condition cells."""

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

    def _train(self, module: nn.Module, tensors: tuple[torch.Tensor, ...], plan: DPSGDPlan, *,
               progress: bool) -> TrainingLog:
        """Run DP-SGD under ``plan``. The default trains ``module`` (forward -> per-unit loss)
        with the shared loop; a family with several networks (a GAN) overrides this and
        must still run exactly ``plan.steps`` private steps through opacus."""
        settings = self.training
        return train_dpsgd(module, tensors, plan, lr=settings.lr, grad_sample_mode=settings.grad_sample_mode,
                           secure_mode=settings.secure_mode, rows_per_step=settings.rows_per_step,
                           ema_decay=settings.ema_decay, progress=progress, desc=f"fit {self.registered_name}")

    def _unit_scores(self, module: nn.Module, x: torch.Tensor, c: torch.Tensor, row_mask: torch.Tensor, *,
                     draws: int) -> torch.Tensor:
        """Membership score per unit [B] (higher: more like a training unit): minus the family's
        per-unit training loss, averaged over ``draws`` draws of its randomness (a VAE's latents,
        a diffusion model's time steps and noise). A GAN scores with its discriminator instead."""
        return -torch.stack([module(x, c, row_mask) for _ in range(draws)]).mean(0)

    def _family_params(self) -> dict[str, Any]:
        """The family's parameters (`family_defaults`) as set, JSON-ready for the bundle config."""
        values = {name: getattr(self, name) for name in self.family_defaults}
        return {name: list(v) if isinstance(v, tuple) else v for name, v in values.items()}

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
        so two fits with the same seed differ (privacy contract, rule 9)."""
        if not isinstance(budget, PrivacyBudget):
            raise BudgetError("budget must be a dpsynth.PrivacyBudget(epsilon, delta)")
        settings = self.training
        if not 0.0 <= settings.condition_share < 1.0:
            raise BudgetError(f"condition_share must be in [0, 1) (got {settings.condition_share})")
        check_rows_per_step(settings.rows_per_step)  # before any private data is read
        check_ema_decay(settings.ema_decay)
        device = resolve_device(settings.device)
        if learn_domain_share is not None and not 0.0 < learn_domain_share < 1.0 - settings.condition_share:
            raise BudgetError(f"learn_domain_share must be in (0, {1 - settings.condition_share:g}) "
                              f"(got {learn_domain_share})")
        seed = 0 if random_state is None else int(random_state)  # public randomness only (rule 9)
        schema = self.schema

        n_units = self._count_units(data, schema)  # structural errors before any mechanism runs
        budget.check_against(n_units)
        ledger = PrivacyLedger(budget, privacy_unit=self._unit_label(schema))

        if schema.not_public():
            if learn_domain_share is None:
                schema.require_public()  # raises the error with both ways out
            schema = self._learn_public_values(data, schema, epsilon=learn_domain_share * budget.epsilon,
                                               delta=budget.delta * 0.1, ledger=ledger)
        frame, report = self._conform(data, schema)
        codec = self._make_codec(schema)
        groups, unit_ids = self._condition_groups(frame, schema)

        if settings.condition_share > 0:
            table = noisy_condition_table(groups, codec.condition_domains, unit_ids=unit_ids,
                                          epsilon=settings.condition_share * budget.epsilon, ledger=ledger)
            self._warn_sparse_groups(table, codec.condition_domains, settings.condition_share * budget.epsilon)
        else:
            table = uniform_condition_table(codec.condition_domains)

        eps_left, delta_left = ledger.remaining()
        plan = plan_dpsgd(n_units=n_units, epsilon=eps_left, delta=delta_left, batch_size=settings.batch_size,
                          epochs=settings.epochs, max_grad_norm=settings.max_grad_norm,
                          accountant=settings.accountant)
        ledger.charge(plan.ledger_entry(f"train {self.registered_name} (DP-SGD)"))

        tensors = self._unit_tensors(frame, codec, groups, schema, secret_numpy_generator())
        with public_torch_rng(seed, device):  # the initial weights are public: the seed sets them
            module = self._build_module(codec).to(device)  # tensors stay on the CPU: opacus samples there
        # Set before training: a family's `_train` may draw conditions from the DP table (a GAN's fakes).
        self.codec_ = codec
        self.condition_table_ = table
        with secret_torch_rng(device):  # every draw while training comes from OS entropy
            log = self._train(module, tensors, plan, progress=progress)
        self._check_spent(log, plan)

        self.schema_ = schema
        self.module_ = module
        self.ledger_ = ledger
        self.plan_ = plan
        self.log_ = log
        self.seed_ = seed
        self.n_units_ = n_units  # operator-only: exact counts stay in memory, never in a release
        self.data_report_ = report
        return self

    @staticmethod
    def _warn_sparse_groups(table: pd.DataFrame, domains: dict[str, list[str]], epsilon: float) -> None:
        """Warn about groups the DP counts cannot tell from empty (post-processing only)."""
        for name in domains:
            empty = indistinguishable_from_empty(table, name, epsilon=epsilon)
            if empty:
                warnings.warn(f"'{name}': group(s) {empty} look empty under the DP counts; conditional "
                              "samples for them rely on what the model learned from other groups",
                              UserWarning, stacklevel=3)

    @staticmethod
    def _check_spent(log: TrainingLog, plan: DPSGDPlan) -> None:
        """The accountant's history and ε after training must equal the plan's (a bug otherwise)."""
        if [tuple(map(float, h)) for h in log.history] != [tuple(map(float, h)) for h in plan.history]:
            raise RuntimeError(f"DP-SGD ran {log.history} but the ledger charged {plan.history}")
        if log.epsilon > plan.epsilon * (1 + 1e-6) + 1e-9:
            raise RuntimeError(f"DP-SGD spent epsilon={log.epsilon} > charged {plan.epsilon}")

    # -------------------------------------------------------------------- sample
    def _require_fitted(self) -> None:
        if not hasattr(self, "module_"):
            raise NotFittedError(errors.NOT_FITTED.format(name=type(self).__name__))

    def sample(self, n: int, *, conditions: dict[str, Any] | None = None,
               rebalance: dict[Any, ShareSpec] | None = None,
               random_state: int | None = None) -> Any:
        """``n`` synthetic records; ``conditions`` (e.g. ``{"sex": "female"}``) fix condition values.

        Without conditions the mix follows the DP condition table. ``rebalance`` (e.g.
        ``{"race": "equal"}``, see `dpsynth.privacy.rebalance`) gives subgroups chosen
        shares — post-processing of the DP table. Same fitted model and same
        ``random_state`` give the same rows.
        """
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
        c = torch.from_numpy(self.codec_.encode_conditions(cells)).to(device)
        torch_gen = torch.Generator(device=device).manual_seed(seed)
        outputs = [self._generate(self.module_, c[i:i + 4096], torch_gen).cpu().numpy()
                   for i in range(0, max(int(n), 1), 4096)]
        out = np.concatenate(outputs)[: int(n)] if n else np.zeros((0, self.codec_.width), np.float32)
        return self._decode(out, cells, rng)

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

    def privacy_card(self) -> dict[str, Any]:
        self._require_fitted()
        return privacy_card(
            ledger=self.ledger_, generator=self.registered_name, schema_fingerprint=self.schema_.fingerprint(),
            seed=self.seed_, secure_mode=self.training.secure_mode, extra={"training": asdict(self.training)})

    # --------------------------------------------------------------- persistence
    def get_params(self) -> dict[str, Any]:
        return {"n_bins": self.n_bins, "hidden": list(self.hidden), **asdict(self.training),
                **self._family_params()}

    def save(self, path: str | Path) -> Path:
        """Write ``config.json`` (schema, params, DP condition table, ledger) and ``weights.pt``.

        Only public and DP values: no exact row count, no count of clipped values."""
        self._require_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        config = {
            "bundle_format": BUNDLE_FORMAT,
            "generator": self.registered_name,
            "params": self.get_params(),
            "schema": self.schema_.to_dict(),
            "condition_table": self.condition_table_.to_dict(orient="list"),
            "ledger": self.ledger_.to_dict(),
            "seed": self.seed_,
        }
        (path / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        torch.save(self.module_.state_dict(), path / WEIGHTS_FILE)
        return path

    @classmethod
    def load(cls, path: str | Path, *, device: str | None = None) -> DPGenerator:
        """Load a bundle written by `save` (weights with ``weights_only=True``) onto ``device``
        (default: the bundle's own setting, normally "auto")."""
        from dpsynth import registry

        path = Path(path)
        try:
            config = json.loads((path / CONFIG_FILE).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DataReadError(f"cannot read model bundle '{path}': {exc}") from None
        target_cls = registry.get(config["generator"]).cls
        schema = target_cls.schema_type.from_dict(config["schema"])
        params = dict(config["params"])
        if device is not None:
            params["device"] = device
        model = target_cls(schema, **params)
        model.schema_ = schema
        model.codec_ = model._make_codec(schema)
        model.module_ = model._build_module(model.codec_)
        state = torch.load(path / WEIGHTS_FILE, weights_only=True, map_location="cpu")
        model.module_.load_state_dict(state)
        model.module_.to(resolve_device(model.training.device))
        model.module_.eval()
        model.condition_table_ = pd.DataFrame(config["condition_table"])
        model.ledger_ = PrivacyLedger.from_dict(config["ledger"])
        model.seed_ = int(config["seed"])
        model.n_units_ = model.data_report_ = None  # exact counts are never saved (operator-only)
        return model



class TabularGenerator(DPGenerator):
    """DP generators for tabular EHR: rows of a conformed table, grouped per patient."""

    schema_type = TabularSchema

    def _count_units(self, data: pd.DataFrame, schema: TabularSchema) -> int:
        schema.check_columns(data)
        return schema.count_units(data)

    def _unit_label(self, schema: TabularSchema) -> str:
        return (f"subject ('{schema.subject_id}'): all rows of a subject are one unit"
                if schema.subject_id else "row (one row = one patient)")

    def _learn_public_values(self, data: pd.DataFrame, schema: TabularSchema, *, epsilon: float, delta: float,
                             ledger: PrivacyLedger) -> TabularSchema:
        return learn_public_values(data, schema, epsilon=epsilon, delta=delta, ledger=ledger)

    def _conform(self, data: pd.DataFrame, schema: TabularSchema) -> tuple[pd.DataFrame, Any]:
        return schema.conform(data)

    def _make_codec(self, schema: TabularSchema) -> TabularCodec:
        return TabularCodec(schema, n_bins=self.n_bins)

    def _condition_groups(self, frame: pd.DataFrame, schema: TabularSchema) -> tuple[pd.DataFrame, pd.Series | None]:
        return schema.group_labels(frame), (frame[schema.subject_id] if schema.subject_id else None)

    def _decode(self, output: np.ndarray, cells: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        return self.codec_.decode(output, cells, rng=rng)

    def _as_units(self, records: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
        if self.schema_.subject_id is None:  # one row is one patient already
            return records
        return records.assign(**{self.schema_.subject_id: ids})

    def _select(self, frame: pd.DataFrame, index: np.ndarray) -> pd.DataFrame:
        return frame.iloc[index]

    def _concat(self, frame: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([frame, other], ignore_index=True)

    def _unit_tensors(self, frame: pd.DataFrame, codec: TabularCodec, groups: pd.DataFrame,
                      schema: TabularSchema, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """x [U, R, width], c [U, R, C], row mask [U, R]: rows grouped by privacy unit."""
        x = codec.encode(frame)
        c = codec.encode_conditions(groups)
        if schema.subject_id is None:
            return (torch.from_numpy(x[:, None, :]), torch.from_numpy(c[:, None, :]),
                    torch.ones(len(x), 1))
        codes, _ = pd.factorize(frame[schema.subject_id])
        order = np.argsort(codes, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
        members = np.split(order, starts[1:])
        cap = self.training.max_rows_per_unit
        members = [m if len(m) <= cap else np.sort(rng.choice(m, cap, replace=False)) for m in members]
        width = max(len(m) for m in members)
        xs = np.zeros((len(members), width, codec.width), np.float32)
        cs = np.zeros((len(members), width, codec.condition_width), np.float32)
        mask = np.zeros((len(members), width), np.float32)
        for u, m in enumerate(members):
            xs[u, : len(m)], cs[u, : len(m)], mask[u, : len(m)] = x[m], c[m], 1.0
        return torch.from_numpy(xs), torch.from_numpy(cs), torch.from_numpy(mask)

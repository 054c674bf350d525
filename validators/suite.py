"""`audit`: run every validator on real train, real holdout and synthetic data, for any modality.

One orchestrator, with the steps of each modality in its `AuditPlan` (``tabular_suite``,
``series_suite``, ``image_suite``), found through the schema's `dpsynth.modality.Modality`:

1. check and conform the three datasets to the schema (errors name the dataset) and label
   subgroups once (the plan's ``context``: an `AuditContext` on the per-record attributes);
2. train the downstream models (TSTR and TRTR, scored on the holdout: the plan's ``models``);
3. the plan's validators in order (utility, fairness, fidelity, representation, ...), each
   returning a tidy table;
4. membership inference (`membership`) on the plan's ``membership_features``;
5. the plan's plots, written with the report.

The tidy tables are concatenated into one `AuditReport`. The audit reads real data and is
**not differentially private** (docs/privacy.md, rule 7): write its report apart from the
release bundle.

Small or degenerate inputs never stop the audit once the holdout holds both outcome classes:
what cannot be computed is NaN with a flag naming why. The holdout is judged against minimum
sizes derived from ``config.min_group_size`` (m, default 30; `context`): m rows per group
(``small_group``), m rows of each outcome class (``few_holdout_positives`` /
``few_holdout_negatives``) and 2 x m rows overall (``small_holdout``); the overall rows below
them carry those flags and the report says the holdout is too small to judge. A group that the
schema or the real train rows hold but the holdout does not is named in a `UserWarning`
(`ABSENT_GROUPS`) and its rows are flagged ``absent_in_holdout``.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

import dpsynth
from dpsynth.errors import DpsynthError, SchemaError
from dpsynth.modality import is_schema, modality_named, modality_of
from dpsynth.validators.context import (
    ABSENT_IN_HOLDOUT, RESULT_COLUMNS, AuditConfig, AuditContext, min_holdout_size,
)
from dpsynth.validators.report import AuditReport, privacy_summary

SINGLE_CLASS_HOLDOUT = (
    "the holdout has only one target class ({target}={value!r} in all {n} rows); AUROC and the "
    "fairness rates need both classes: use a larger or stratified holdout"
)
EMPTY_TABLE = "the {name} table has no rows; the audit needs real train, real holdout and synthetic rows"
CONFORM_FAILED = "{name} table does not fit the schema: {error}"
ABSENT_GROUPS = (
    "the holdout has no rows of group(s) {groups} that the schema or the real train data hold: their "
    "fairness rows are NaN with flag '" + ABSENT_IN_HOLDOUT + "'; use a larger holdout stratified on these groups"
)


class AuditInputError(DpsynthError, ValueError):
    """The audit's inputs cannot be evaluated (empty table, single-class holdout, ...)."""


@dataclass(frozen=True)
class Step:
    """``dpsynth.validators.<module>.<function>(ctx, *inputs)``; ``inputs`` names outputs of the
    plan's models (e.g. "predictions") passed after the context."""

    module: str
    function: str = "evaluate"
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditPlan:
    """One modality's audit: how its context is built and which steps run on it."""

    label: str  # the progress bar's name
    context: Callable[..., AuditContext]  # (train=, holdout=, synthetic=, schema=, config=, **options)
    models: Step  # the downstream models; returns the outputs named in ``model_outputs``
    model_outputs: tuple[str, ...]
    steps: tuple[Step, ...]
    membership_features: Callable[[Any], Any]  # ctx -> MembershipFeatures
    metadata: Callable[[Any, Any], dict[str, Any]]  # (ctx, schema) -> what the report states about the data
    plot_data: Step | None = None  # computed inside the progress bar; passed to ``plot_writer``
    plot_writer: Step | None = None  # (plot data or ctx, plot_dir) -> plots, written with the report
    options: tuple[str, ...] = ()  # audit keyword options the context takes (e.g. "device")


def audit(
    *,
    train: Any,
    holdout: Any,
    synthetic: Any,
    schema: Any,
    config: AuditConfig | None = None,
    metadata: dict[str, Any] | None = None,
    progress: bool = True,
    modality: str | None = None,
    **options: Any,
) -> AuditReport:
    """Audit ``synthetic`` against real ``train`` (what the generator saw) and ``holdout``.

    Any modality: tables (`pandas.DataFrame`), series (`SeriesData`) or images (`ImageData`),
    with their schema. ``metadata`` may carry ``train_name``, ``holdout_name``,
    ``synthetic_name``, ``generator`` and ``privacy_card`` (a `PrivacyCard`, a card dict or the
    path of its JSON file; its ε/δ/accountant are copied into the report). ``modality`` insists
    on one modality (its schema type is then checked); ``options`` go to the modality's
    context (images: ``device``, where the audit's CNNs train). Returns an `AuditReport`;
    ``report.write(out_dir)`` writes it. ``progress=False`` silences the progress bar.
    """
    plan = audit_plan(schema, modality)
    unknown = sorted(set(options) - set(plan.options))
    if unknown:
        raise TypeError(f"audit() got unexpected keyword argument(s) {unknown} for this modality")
    config = config or AuditConfig()
    ctx = plan.context(train=train, holdout=holdout, synthetic=synthetic, schema=schema, config=config, **options)
    warn_absent_groups(ctx)
    metadata = metadata or {}
    privacy = privacy_summary(metadata.get("privacy_card"))
    tables: list[pd.DataFrame] = []
    total = len(plan.steps) + 2 + (plan.plot_data is not None)
    plot_data = ctx
    with tqdm(total=total, desc=plan.label, unit="step", disable=not progress, leave=False) as bar:
        bar.set_postfix_str("models")
        result = _run(plan.models, ctx)
        outputs = dict(zip(plan.model_outputs, result if len(plan.model_outputs) > 1 else (result,)))
        bar.update(1)
        for step in plan.steps:
            bar.set_postfix_str(step.module)
            tables.append(_run(step, ctx, *(outputs[name] for name in step.inputs)))
            bar.update(1)
        bar.set_postfix_str("membership")
        tables.append(_validator("membership", "evaluate")(ctx, plan.membership_features(ctx), privacy=privacy))
        bar.update(1)
        if plan.plot_data is not None:
            bar.set_postfix_str("plots")
            plot_data = _run(plan.plot_data, ctx)
            bar.update(1)
    tables = [t for t in tables if len(t)]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=RESULT_COLUMNS)
    extra_plots = None
    if plan.plot_writer is not None:
        extra_plots = partial(_validator(plan.plot_writer.module, plan.plot_writer.function), plot_data)
    meta = {k: v for k, v in metadata.items() if k != "privacy_card"}
    meta.update(privacy)
    meta.update(plan.metadata(ctx, schema))
    meta.update(n_train=len(ctx.train), n_holdout=len(ctx.holdout), n_synthetic=len(ctx.synthetic),
                n_holdout_positive=int(ctx.labels(ctx.holdout).sum()), min_holdout_size=min_holdout_size(ctx.config),
                config=asdict(ctx.config), dpsynth_version=dpsynth.__version__)
    return AuditReport(table=table, metadata=meta, extra_plots=extra_plots)


def warn_absent_groups(ctx: AuditContext) -> dict[str, list[str]]:
    """Warn (`UserWarning`, `ABSENT_GROUPS`) naming every group the holdout lacks
    (`AuditContext.absent_from_holdout`) and return them."""
    absent = ctx.absent_from_holdout()
    if absent:
        names = ", ".join(f"{attribute}={group}" for attribute, groups in absent.items() for group in groups)
        warnings.warn(ABSENT_GROUPS.format(groups=names), UserWarning, stacklevel=3)
    return absent


def audit_plan(schema: Any, modality: str | None = None) -> AuditPlan:
    """The `AuditPlan` of ``schema``'s modality (or of the named ``modality``); an object that is
    no schema gets the tabular plan, whose context names the schema type it expects."""
    if modality is None and not is_schema(schema):
        modality = "tabular"
    reference = (modality_named(modality) if modality else modality_of(schema)).audit_plan
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


def _run(step: Step, ctx: Any, *inputs: Any) -> Any:
    return _validator(step.module, step.function)(ctx, *inputs)


def _validator(module: str, function: str) -> Callable:
    """``dpsynth.validators.<module>.<function>``, looked up at call time."""
    return getattr(importlib.import_module(f"dpsynth.validators.{module}"), function)


def check_schema(schema: Any, schema_type: type, message: str) -> None:
    """A plan's context takes only its own schema type (``message`` has ``{kind}``)."""
    if not isinstance(schema, schema_type):
        raise AuditInputError(message.format(kind=type(schema).__name__))


def conform_tables(given: dict[str, Any], schema: Any, *, data_type: type, not_data: str,
                   options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every table of ``given`` (name -> data: real train, real holdout, synthetic) checked to be a
    non-empty ``data_type`` and conformed to ``schema`` (any modality; ``options`` go to its
    ``conform``); each error names its table (``not_data`` is the message for the wrong type, with
    ``{name}`` and ``{kind}``)."""
    conformed = {}
    for name, data in given.items():
        if not isinstance(data, data_type):
            raise AuditInputError(not_data.format(name=name, kind=type(data).__name__))
        if len(data) == 0:
            raise AuditInputError(EMPTY_TABLE.format(name=name))
        try:
            conformed[name] = schema.conform(data, **(options or {}))[0]
        except SchemaError as exc:
            raise SchemaError(CONFORM_FAILED.format(name=name, error=exc)) from exc
    return conformed


def check_holdout_classes(holdout: pd.DataFrame, schema: Any) -> None:
    """The conformed holdout (its attribute table) must hold the positive class and another one:
    AUROC, TPR and FPR score the positive class against the rest."""
    target = holdout[schema.target].astype(str)
    if (target == str(schema.positive)).nunique() < 2:
        raise AuditInputError(SINGLE_CLASS_HOLDOUT.format(target=schema.target, value=target.iloc[0],
                                                          n=len(target)))

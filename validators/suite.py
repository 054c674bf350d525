"""`audit`: run every validator on real train, real holdout and synthetic data.

Steps: conform the three tables to the schema (only the schema's columns are required, so a
synthetic table written by another tool works), label subgroups once (`AuditContext`), train
the downstream models (TSTR and TRTR, scored on the holdout), then utility, fairness,
fidelity, representation, memorisation and membership inference (`membership`, on the
features of `membership_features`); the tidy tables are concatenated into one `AuditReport`.

The audit reads real data and is **not differentially private** (privacy contract, rule 7):
write its report apart from the release bundle.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict
from typing import Any, Callable

import pandas as pd
from tqdm.auto import tqdm

import dpsynth
from dpsynth.errors import DpsynthError, SchemaError
from dpsynth.schema import TabularSchema
from dpsynth.validators.context import RESULT_COLUMNS, AuditConfig, AuditContext
from dpsynth.validators.membership import MembershipFeatures
from dpsynth.validators.report import AuditReport, privacy_summary
from dpsynth.validators.tabular_encoding import encode

SINGLE_CLASS_HOLDOUT = (
    "the holdout has only one target class ({target}={value!r} in all {n} rows); AUROC and the "
    "fairness rates need both classes: use a larger or stratified holdout"
)
EMPTY_TABLE = "the {name} table has no rows; the audit needs real train, real holdout and synthetic rows"
NOT_A_FRAME = "{name} must be a pandas DataFrame (got {kind})"
NOT_A_SCHEMA = "schema must be a TabularSchema (got {kind}); load one with TabularSchema.load(path)"
CONFORM_FAILED = "{name} table does not fit the schema: {error}"
MEMBERSHIP_FEATURES = ("every schema column (target included): numeric scaled by its public range, a missing "
                       "value as mid-range plus an is-missing column; categorical one-hot (`tabular_encoding`)")

# (validator module under dpsynth.validators, whether its `evaluate` takes the predictions)
STEPS: list[tuple[str, bool]] = [
    ("utility", True),
    ("fairness", True),
    ("fidelity", False),
    ("representation", False),
    ("memorisation", False),
]


class AuditInputError(DpsynthError, ValueError):
    """The audit's inputs cannot be evaluated (empty table, single-class holdout, ...)."""


def audit(
    *,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: TabularSchema,
    config: AuditConfig | None = None,
    metadata: dict[str, Any] | None = None,
    progress: bool = True,
) -> AuditReport:
    """Audit ``synthetic`` against real ``train`` (what the generator saw) and ``holdout``.

    ``metadata`` may carry ``train_name``, ``holdout_name``, ``synthetic_name``, ``generator``
    and ``privacy_card`` (a card dict or the path of its JSON file; its ε/δ/accountant are
    copied into the report). Returns an `AuditReport`; ``report.write(out_dir)`` writes it.
    Set ``progress=False`` to silence the progress bar.
    """
    config = config or AuditConfig()
    ctx = _context(train=train, holdout=holdout, synthetic=synthetic, schema=schema, config=config)
    metadata = metadata or {}
    privacy = privacy_summary(metadata.get("privacy_card"))
    tables: list[pd.DataFrame] = []
    with tqdm(total=len(STEPS) + 2, desc="audit", unit="step", disable=not progress, leave=False) as bar:
        bar.set_postfix_str("models")
        predictions = _validator("models", "downstream_predictions")(ctx)
        bar.update(1)
        for name, takes_predictions in STEPS:
            bar.set_postfix_str(name)
            evaluate = _validator(name, "evaluate")
            tables.append(evaluate(ctx, predictions) if takes_predictions else evaluate(ctx))
            bar.update(1)
        bar.set_postfix_str("membership")
        tables.append(_validator("membership", "evaluate")(ctx, membership_features(ctx), privacy=privacy))
        bar.update(1)
    tables = [t for t in tables if len(t)]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=RESULT_COLUMNS)
    return AuditReport(table=table, metadata=_metadata(ctx, metadata, privacy))


def membership_features(ctx: AuditContext) -> MembershipFeatures:
    """The tabular features of the membership attacks (`MEMBERSHIP_FEATURES`); the holdout's
    privacy units are the schema's subject ids when it names them, else its rows."""
    train, holdout, synthetic = encode([ctx.train, ctx.holdout, ctx.synthetic], schema=ctx.schema,
                                       missing="indicator")
    subject = ctx.schema.subject_id
    units = ctx.holdout[subject].to_numpy(dtype=object) if subject and subject in ctx.holdout else None
    return MembershipFeatures(train, holdout, synthetic, holdout_units=units)


def _validator(module: str, function: str) -> Callable:
    """``dpsynth.validators.<module>.<function>``, looked up at call time."""
    return getattr(importlib.import_module(f"dpsynth.validators.{module}"), function)


def _context(*, train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
             schema: TabularSchema, config: AuditConfig) -> AuditContext:
    """Check and conform the three tables; build the shared context."""
    if not isinstance(schema, TabularSchema):
        raise AuditInputError(NOT_A_SCHEMA.format(kind=type(schema).__name__))
    conformed = conform_tables({"train": train, "holdout": holdout, "synthetic": synthetic}, schema,
                               data_type=pd.DataFrame, not_data=NOT_A_FRAME)
    check_holdout_classes(conformed["holdout"], schema)
    return AuditContext(schema=schema, train=conformed["train"], holdout=conformed["holdout"],
                        synthetic=conformed["synthetic"], config=config)


def conform_tables(given: dict[str, Any], schema: Any, *, data_type: type, not_data: str) -> dict[str, Any]:
    """Every table of ``given`` (name -> data: real train, real holdout, synthetic) checked to be a
    non-empty ``data_type`` and conformed to ``schema`` (any modality); each error names its
    table (``not_data`` is the message for the wrong type, with ``{name}`` and ``{kind}``)."""
    conformed = {}
    for name, data in given.items():
        if not isinstance(data, data_type):
            raise AuditInputError(not_data.format(name=name, kind=type(data).__name__))
        if len(data) == 0:
            raise AuditInputError(EMPTY_TABLE.format(name=name))
        try:
            conformed[name] = schema.conform(data)[0]
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


def _metadata(ctx: AuditContext, given: dict[str, Any], privacy: dict[str, Any]) -> dict[str, Any]:
    """Report metadata: what was given (minus the raw card), the card's ε/δ (``privacy``), sizes,
    settings."""
    meta = {k: v for k, v in given.items() if k != "privacy_card"}
    meta.update(privacy)
    meta.update(
        membership_features=MEMBERSHIP_FEATURES,
        n_train=len(ctx.train), n_holdout=len(ctx.holdout), n_synthetic=len(ctx.synthetic),
        schema_fingerprint=ctx.schema.fingerprint(), config=asdict(ctx.config),
        dpsynth_version=dpsynth.__version__,
    )
    return meta

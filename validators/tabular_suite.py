"""The tabular audit plan: the steps `suite.audit` runs on tables.

Conform the three tables to the `TabularSchema` (only the schema's columns are required, so
a synthetic table written by another tool works) and label subgroups once (`AuditContext`);
downstream models ``logreg`` and ``gboost`` (`tabular_models`); then utility, fairness, fidelity
(`tabular_fidelity`), representation, memorisation (`tabular_memorisation`), the share of rows
keeping each declared rule (`tabular_rules`; the tables are conformed without refusing rows that
break one, so that it can be measured), and membership inference on the features of
`membership_features`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from dpsynth.tabular.schema import TabularSchema
from dpsynth.validators.context import AuditConfig, AuditContext
from dpsynth.validators.membership import MembershipFeatures
from dpsynth.validators.suite import AuditPlan, Step, check_holdout_classes, check_schema, conform_tables
from dpsynth.validators.tabular_encoding import encode

NOT_A_FRAME = "{name} must be a pandas DataFrame (got {kind})"
NOT_A_SCHEMA = "schema must be a TabularSchema (got {kind}); load one with TabularSchema.load(path)"
MEMBERSHIP_FEATURES = ("every schema column (target included): numeric scaled by its public range, a missing "
                       "value as mid-range plus an is-missing column; categorical one-hot (`tabular_encoding`)")


def build_context(*, train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                  schema: TabularSchema, config: AuditConfig) -> AuditContext:
    """Check and conform the three tables; build the shared context."""
    check_schema(schema, TabularSchema, NOT_A_SCHEMA)
    conformed = conform_tables({"train": train, "holdout": holdout, "synthetic": synthetic}, schema,
                               data_type=pd.DataFrame, not_data=NOT_A_FRAME, options={"check_rules": False})
    check_holdout_classes(conformed["holdout"], schema)
    return AuditContext(schema=schema, train=conformed["train"], holdout=conformed["holdout"],
                        synthetic=conformed["synthetic"], config=config)


def membership_features(ctx: AuditContext) -> MembershipFeatures:
    """The tabular features of the membership attacks (`MEMBERSHIP_FEATURES`); the holdout's
    privacy units are the schema's subject ids when it names them, else its rows."""
    train, holdout, synthetic = encode([ctx.train, ctx.holdout, ctx.synthetic], schema=ctx.schema,
                                       missing="indicator")
    subject = ctx.schema.subject_id
    units = ctx.holdout[subject].to_numpy(dtype=object) if subject and subject in ctx.holdout else None
    return MembershipFeatures(train, holdout, synthetic, holdout_units=units)


def metadata(ctx: AuditContext, schema: TabularSchema) -> dict[str, Any]:
    return {"membership_features": MEMBERSHIP_FEATURES, "schema_fingerprint": schema.fingerprint()}


PLAN = AuditPlan(
    label="audit",
    context=build_context,
    models=Step("tabular_models", "downstream_predictions"),
    model_outputs=("predictions",),
    steps=(Step("utility", inputs=("predictions",)), Step("fairness", inputs=("predictions",)),
           Step("tabular_fidelity"), Step("representation"), Step("tabular_memorisation"), Step("tabular_rules")),
    membership_features=membership_features,
    metadata=metadata,
)

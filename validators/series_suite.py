"""The series audit plan: the steps `suite.audit` runs on synthetic time series.

Conform the three `SeriesData` to the `SeriesSchema` (errors name the table), build the
tabular `AuditContext` on their *static* tables (one row per subject), so group labels,
intersections, flags and small-group handling are exactly the tabular ones, plus the
signals (`series_models.SeriesAuditContext`); train the downstream series models (``cnn``
and ``features``, TSTR and TRTR, one score per holdout subject); then the tabular
``utility``, ``fairness`` and ``representation`` validators unchanged (same tables, same
report) and the series ``fidelity`` (per channel and a detector, overall and per
subgroup); the report carries the series plots (example traces and spectra per group).

Not run for series: the tabular memorisation signals (DCR / exact matches on the static
rows alone would say nothing about copied signals).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dpsynth.series.schema import SeriesData, SeriesSchema
from dpsynth.validators.context import AuditConfig
from dpsynth.validators.membership import MembershipFeatures
from dpsynth.validators.report import AuditReport
from dpsynth.validators.series_models import FRAMES, SeriesAuditContext, subject_means
from dpsynth.validators.tabular_encoding import encode
from dpsynth.validators.suite import AuditPlan, Step, audit, check_holdout_classes, check_schema, conform_tables

MODALITY = "series"
NOT_SERIES_DATA = (
    "{name} must be dpsynth.series.schema.SeriesData (a static table + one signal per subject; got {kind}); "
    "read files with dpsynth.series.io.read_series"
)
NOT_A_SERIES_SCHEMA = "schema must be a SeriesSchema (got {kind}); load one with SeriesSchema.load(path)"
AUDIT_NOT_DP = "the audit reads real data and is not differentially private; keep it apart from the release"
MEMBERSHIP_FEATURES = ("one row per subject: every static column (target included; encoded as for tables, missing "
                       "as mid-range plus an is-missing column) and the subject's mean over its windows of the "
                       "summary statistics of `series_models.window_statistics` (quantiles, autocorrelation, band "
                       "powers, ...; undefined ones NaN)")


def audit_series(*, train: SeriesData, holdout: SeriesData, synthetic: SeriesData, schema: SeriesSchema,
                 config: AuditConfig | None = None, metadata: dict[str, Any] | None = None,
                 progress: bool = True) -> AuditReport:
    """`suite.audit` for series (``n_*`` count subjects); the schema must be a `SeriesSchema`."""
    return audit(train=train, holdout=holdout, synthetic=synthetic, schema=schema, config=config,
                 metadata=metadata, progress=progress, modality=MODALITY)


def membership_features(ctx: SeriesAuditContext) -> MembershipFeatures:
    """The series features of the membership attacks (`MEMBERSHIP_FEATURES`), one row per
    subject, so the holdout needs no unit keys."""
    static = encode([ctx.train, ctx.holdout, ctx.synthetic], schema=ctx.schema, missing="indicator")
    signal = [subject_means(ctx.statistics(frame).features, ctx.windows(frame)) for frame in FRAMES]
    return MembershipFeatures(*(np.hstack([s, x]) for s, x in zip(static, signal)))


def build_context(*, train: SeriesData, holdout: SeriesData, synthetic: SeriesData, schema: SeriesSchema,
             config: AuditConfig) -> SeriesAuditContext:
    """Check and conform the three tables; build the shared context on their static tables."""
    check_schema(schema, SeriesSchema, NOT_A_SERIES_SCHEMA)
    given = {"train": train, "holdout": holdout, "synthetic": synthetic}
    conformed = conform_tables({name: given[name] for name in FRAMES}, schema, data_type=SeriesData,
                               not_data=NOT_SERIES_DATA)
    check_holdout_classes(conformed["holdout"].static, schema)
    return SeriesAuditContext(schema.static, conformed["train"].static, conformed["holdout"].static,
                              conformed["synthetic"].static, config=config, series_schema=schema,
                              signals={name: conformed[name].signals for name in FRAMES})


def metadata(ctx: SeriesAuditContext, schema: SeriesSchema) -> dict[str, Any]:
    """What the report states about the series: unit, windows, channels, the schema's hash."""
    return dict(
        modality=MODALITY, unit="subject", audit_differentially_private=False, audit_notice=AUDIT_NOT_DP,
        membership_features=MEMBERSHIP_FEATURES,
        **{f"n_{name}_windows": int(len(ctx.windows(name).owner)) for name in FRAMES},
        window=schema.window, sampling_rate=schema.sampling_rate, channels=schema.channel_names,
        schema_fingerprint=schema.fingerprint(),
    )


PLAN = AuditPlan(
    label="series audit",
    context=build_context,
    models=Step("series_models", "downstream_predictions"),
    model_outputs=("predictions",),
    steps=(Step("utility", inputs=("predictions",)), Step("fairness", inputs=("predictions",)),
           Step("series_fidelity"), Step("representation")),
    membership_features=membership_features,
    metadata=metadata,
    plot_data=Step("series_plots", "plot_data"),
    plot_writer=Step("series_plots", "write_plots"),
)

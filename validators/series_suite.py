"""`audit_series`: the audit of synthetic time series against real train and holdout series.

Steps: conform the three `SeriesData` to the `SeriesSchema` (errors name the table), build
the tabular `AuditContext` on their *static* tables (one row per subject), so group labels,
intersections, flags and small-group handling are exactly the tabular ones, plus the
signals (`series_models.SeriesAuditContext`); train the downstream series models (``cnn``
and ``features``, TSTR and TRTR, one score per holdout subject); then the tabular
``utility``, ``fairness`` and ``representation`` validators unchanged (same tables, same
report) and the series ``fidelity`` (per channel and a detector, overall and per
subgroup). The tidy tables are concatenated into one `AuditReport`, which also carries the
series plots (example traces and spectra per group) for ``report.write``.

Not run for series: the tabular memorisation signals (DCR / exact matches on the static
rows alone would say nothing about copied signals).

The audit reads real data and is **not differentially private** (privacy contract, rule
7): write its report apart from the release bundle.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict
from functools import partial
from typing import Any, Callable

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

import dpsynth
from dpsynth.series.schema import SeriesData, SeriesSchema
from dpsynth.validators.context import RESULT_COLUMNS, AuditConfig
from dpsynth.validators.membership import MembershipFeatures
from dpsynth.validators.report import AuditReport, privacy_summary
from dpsynth.validators.series_models import FRAMES, SeriesAuditContext, subject_means
from dpsynth.validators.tabular_encoding import encode
from dpsynth.validators.suite import AuditInputError, check_holdout_classes, conform_tables

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

# (validator module under dpsynth.validators, whether its `evaluate` takes the predictions)
STEPS: list[tuple[str, bool]] = [
    ("utility", True),
    ("fairness", True),
    ("series_fidelity", False),
    ("representation", False),
]


def audit_series(
    *,
    train: SeriesData,
    holdout: SeriesData,
    synthetic: SeriesData,
    schema: SeriesSchema,
    config: AuditConfig | None = None,
    metadata: dict[str, Any] | None = None,
    progress: bool = True,
) -> AuditReport:
    """Audit ``synthetic`` series against real ``train`` (what the generator saw) and ``holdout``.

    ``metadata`` may carry ``train_name``, ``holdout_name``, ``synthetic_name``, ``generator``
    and ``privacy_card`` (a card dict or the path of its JSON file), as for `audit`. Returns
    an `AuditReport` (``n_*`` count subjects); ``report.write(out_dir)`` writes JSON, CSV,
    Markdown and the plots, including the series example traces and spectra.
    """
    config = config or AuditConfig()
    ctx = build_context(train=train, holdout=holdout, synthetic=synthetic, schema=schema, config=config)
    metadata = metadata or {}
    privacy = privacy_summary(metadata.get("privacy_card"))
    tables: list[pd.DataFrame] = []
    with tqdm(total=len(STEPS) + 3, desc="series audit", unit="step", disable=not progress, leave=False) as bar:
        bar.set_postfix_str("models")
        predictions = _validator("series_models", "downstream_predictions")(ctx)
        bar.update(1)
        for name, takes_predictions in STEPS:
            bar.set_postfix_str(name)
            evaluate = _validator(name, "evaluate")
            tables.append(evaluate(ctx, predictions) if takes_predictions else evaluate(ctx))
            bar.update(1)
        bar.set_postfix_str("membership")
        tables.append(_validator("membership", "evaluate")(ctx, membership_features(ctx), privacy=privacy))
        bar.update(1)
        bar.set_postfix_str("plots")
        plots = _validator("series_plots", "plot_data")(ctx)
        bar.update(1)
    tables = [t for t in tables if len(t)]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=RESULT_COLUMNS)
    write_plots = _validator("series_plots", "write_plots")
    return AuditReport(table=table, metadata=_metadata(ctx, metadata, privacy), extra_plots=partial(write_plots, plots))


def _validator(module: str, function: str) -> Callable:
    """``dpsynth.validators.<module>.<function>``, looked up at call time."""
    return getattr(importlib.import_module(f"dpsynth.validators.{module}"), function)


def membership_features(ctx: SeriesAuditContext) -> MembershipFeatures:
    """The series features of the membership attacks (`MEMBERSHIP_FEATURES`), one row per
    subject, so the holdout needs no unit keys."""
    static = encode([ctx.train, ctx.holdout, ctx.synthetic], schema=ctx.schema, missing="indicator")
    signal = [subject_means(ctx.statistics(frame).features, ctx.windows(frame)) for frame in FRAMES]
    return MembershipFeatures(*(np.hstack([s, x]) for s, x in zip(static, signal)))


def build_context(*, train: SeriesData, holdout: SeriesData, synthetic: SeriesData, schema: SeriesSchema,
             config: AuditConfig) -> SeriesAuditContext:
    """Check and conform the three tables; build the shared context on their static tables."""
    if not isinstance(schema, SeriesSchema):
        raise AuditInputError(NOT_A_SERIES_SCHEMA.format(kind=type(schema).__name__))
    given = {"train": train, "holdout": holdout, "synthetic": synthetic}
    conformed = conform_tables({name: given[name] for name in FRAMES}, schema, data_type=SeriesData,
                               not_data=NOT_SERIES_DATA)
    check_holdout_classes(conformed["holdout"].static, schema)
    return SeriesAuditContext(schema.static, conformed["train"].static, conformed["holdout"].static,
                              conformed["synthetic"].static, config=config, series_schema=schema,
                              signals={name: conformed[name].signals for name in FRAMES})


def _metadata(ctx: SeriesAuditContext, given: dict[str, Any], privacy: dict[str, Any]) -> dict[str, Any]:
    """Report metadata: what was given (minus the raw card), the card's ε/δ (``privacy``), sizes,
    settings."""
    meta = {k: v for k, v in given.items() if k != "privacy_card"}
    meta.update(privacy)
    meta.update(
        modality=MODALITY, unit="subject", audit_differentially_private=False, audit_notice=AUDIT_NOT_DP,
        membership_features=MEMBERSHIP_FEATURES,
        n_train=len(ctx.train), n_holdout=len(ctx.holdout), n_synthetic=len(ctx.synthetic),
        **{f"n_{name}_windows": int(len(ctx.windows(name).owner)) for name in FRAMES},
        window=ctx.series_schema.window, sampling_rate=ctx.series_schema.sampling_rate,
        channels=ctx.series_schema.channel_names,
        schema_fingerprint=ctx.series_schema.fingerprint(), config=asdict(ctx.config),
        dpsynth_version=dpsynth.__version__,
    )
    return meta

"""What the tabular benchmarks read from one audit: the same keys for dpsynth and the peers.

Shared by `benchmarks/tabular.py` and `benchmarks/peers/compare.py`, so a dpsynth run and a
synthcity run on the same split are summarised by exactly the same code.
"""

from __future__ import annotations

import statistics
from typing import Any

import pandas as pd

from dpsynth.validators import audit
from dpsynth.validators.context import AuditConfig

FAIRNESS_ATTRIBUTES = ("sex", "race", "age_band")
MODELS = ("logreg", "gboost")


def metric(report, **where) -> float:
    return round(report.value(**where), 4)


def audit_summary(report) -> dict[str, Any]:
    """TSTR/TRTR AUROC, equalized-odds difference (TSTR, TRTR, change), per-group TSTR AUROC
    of gradient boosting, mean TVD, association difference (``correlation_difference``: mean
    |association(real) − association(synthetic)| over column pairs) and detection AUC from one
    `AuditReport`."""
    out: dict[str, Any] = {}
    for model in MODELS:
        for source in ("TSTR", "TRTR"):
            out[f"{source.lower()}_auroc_{model}"] = metric(
                report, validator="utility", source=source, model=model, metric="auroc", attribute="overall")
    for attribute in FAIRNESS_ATTRIBUTES:
        for model in MODELS:
            for source in ("TSTR", "TRTR", "change"):
                out[f"eod_{source.lower()}_{attribute}_{model}"] = metric(
                    report, validator="fairness", source=source, model=model,
                    metric="equalized_odds_difference", attribute=attribute, group="")
        rows = report.select(validator="fairness", source="TSTR", model="gboost", metric="auroc",
                             attribute=attribute)
        for group, value in zip(rows["group"], rows["value"]):
            if group:
                out[f"tstr_auroc_gboost_{attribute}={group}"] = round(float(value), 4)
    out["mean_tvd"] = metric(report, validator="fidelity", metric="mean_tvd", attribute="overall", feature="")
    out["correlation_difference"] = metric(report, validator="fidelity", metric="correlation_difference",
                                           attribute="overall", feature="")
    out["detection_auc"] = metric(report, validator="fidelity", metric="detection_auc", attribute="overall")
    return out


def audit_and_summarise(*, train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, schema,
                        seed: int) -> dict[str, Any]:
    report = audit(train=train, holdout=holdout, synthetic=synthetic, schema=schema,
                   config=AuditConfig(n_bootstrap=50, random_state=seed), progress=False)
    return audit_summary(report)


def median(values: list[Any]) -> int | float:
    """The median, rounded to 4 places; an integer where every value is one and the median is whole
    (a count such as the train rows stays a count over an even number of seeds). NaN, a metric a
    seed could not compute (TSTR on synthetic rows of one outcome class), ranks lowest."""
    ordered = sorted(values, key=lambda v: (v == v, v if v == v else 0))  # NaN first
    middle = statistics.mean(ordered[(len(ordered) - 1) // 2:len(ordered) // 2 + 1])
    whole = all(isinstance(v, int) for v in values) and float(middle).is_integer()
    return int(middle) if whole else round(middle, 4)


def medians(runs: list[dict[str, Any]], keys: tuple[str, ...], *,
            below_chance: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Median of every numeric field over the runs that share ``keys`` (seeds pooled); per AUROC
    field in ``below_chance`` also ``<field>_below_chance``: how many of those runs scored below
    0.5 or had no score (NaN). A median hides a seed whose synthetic data teach the inverted
    association; the count shows how often that happens."""
    out = []
    for labels in dict.fromkeys(tuple(r[k] for k in keys) for r in runs):
        group = [r for r in runs if tuple(r[k] for k in keys) == labels]
        fields = [k for k, v in group[0].items()
                  if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in keys + ("seed",)]
        out.append(dict(zip(keys, labels)) | {"seeds": len(group)}
                   | {k: median([r[k] for r in group if k in r]) for k in fields}
                   | {f"{k}_below_chance": sum(not r[k] >= 0.5 for r in group) for k in below_chance})
    return out

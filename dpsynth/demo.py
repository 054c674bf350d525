"""The embedded default job: SUPPORT2 → DP-VAE at ε=1 → synthetic release → subgroup audit.

Outcome: death within 180 days; sensitive attributes: sex, race (white / black / other),
age band. The split is fixed by seed; nothing is downloaded; real rows are kept in
memory (no scratch files of patient data). The release bundle and the audit are written
to separate folders, because the audit is not DP; a rerun replaces the demo's own earlier
folders whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dpsynth.bundle import check_output
from dpsynth.data.support2 import load_support2, split_support2, support2_schema
from dpsynth.pipeline import GenerateResult, generate, run_audit
from dpsynth.validators.report import AuditReport

DEMO_GENERATOR = "dp-vae"
DEMO_EPSILON = 1.0
DEMO_DELTA = 1e-5


@dataclass
class DemoResult:
    release: GenerateResult
    audit_dir: Path
    report_path: Path
    headline: dict
    report: AuditReport


def run_demo(out_dir: str | Path = "runs/demo", *, epsilon: float = DEMO_EPSILON, seed: int = 0,
             generator: str = DEMO_GENERATOR, progress: bool = True, params: dict | None = None) -> DemoResult:
    """Run the whole job and return where everything is."""
    out = Path(out_dir)
    check_output(out / "audit", force=True, what="an audit folder")  # before the fit, not after it
    train, holdout = split_support2(load_support2(), seed=seed)
    schema = support2_schema()
    release = generate(data=train, schema=schema, generator=generator, epsilon=epsilon, delta=DEMO_DELTA,
                       seed=seed, out_dir=out / "release", params=params, progress=progress, force=True)
    report = run_audit(train=train, holdout=holdout, synthetic=release.synthetic, schema=schema,
                       out_dir=out / "audit", card=release.card, progress=progress, force=True)
    return DemoResult(release=release, audit_dir=out / "audit", report_path=out / "audit" / "report.html",
                      headline=headline(report), report=report)


def headline(report) -> dict[str, float]:
    """The few numbers the demo prints (all from the audit table)."""
    out = {}
    for source in ("TSTR", "TRTR"):
        out[f"{source} AUROC (gradient boosting)"] = report.value(
            validator="utility", source=source, model="gboost", metric="auroc", attribute="overall")
    for attribute in ("sex", "race", "age_band"):
        out[f"equalized-odds difference change TSTR-TRTR, {attribute}"] = report.value(
            validator="fairness", source="change", model="gboost", metric="equalized_odds_difference",
            attribute=attribute, group="")
    out["mean TVD"] = report.value(validator="fidelity", metric="mean_tvd", attribute="overall", feature="")
    out["detection AUC (0.5 = indistinguishable)"] = report.value(
        validator="fidelity", metric="detection_auc", attribute="overall")
    return {k: round(v, 3) for k, v in out.items()}

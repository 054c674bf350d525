"""The embedded default job: SUPPORT2 → DP-VAE at ε=1 → synthetic release → subgroup audit.

Outcome: death within 180 days; sensitive attributes: sex, race (white / black / other),
age band. The split is fixed by seed; nothing is downloaded; real rows are kept in
memory (no scratch files of patient data). The release bundle and the audit are written
to separate folders, because the audit is not DP.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dpsynth.data.support2 import load_support2, split_support2, support2_schema
from dpsynth.pipeline import GenerateResult, generate, run_audit

DEMO_GENERATOR = "dp-vae"
DEMO_EPSILON = 1.0
DEMO_DELTA = 1e-5


@dataclass
class DemoResult:
    release: GenerateResult
    audit_dir: Path
    report_path: Path
    headline: dict


def run_demo(out_dir: str | Path = "runs/demo", *, epsilon: float = DEMO_EPSILON, seed: int = 0,
             generator: str = DEMO_GENERATOR, progress: bool = True, params: dict | None = None) -> DemoResult:
    """Run the whole job and return where everything is."""
    out = Path(out_dir)
    train, holdout = split_support2(load_support2(), seed=seed)
    schema = support2_schema()
    release = generate(data=train, schema=schema, generator=generator, epsilon=epsilon, delta=DEMO_DELTA,
                       seed=seed, out_dir=out / "release", params=params, progress=progress)
    report = run_audit(train=train, holdout=holdout, synthetic=release.synthetic, schema=schema,
                       out_dir=out / "audit", card=release.card, progress=progress)
    return DemoResult(release=release, audit_dir=out / "audit", report_path=out / "audit" / "report.md",
                      headline=report.headline() if hasattr(report, "headline") else {})

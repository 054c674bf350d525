"""dpsynth-side glue for the smartnoise peers AIM and MST: codes out, the peer venv in a subprocess, a table back.

The private train rows become category codes by `marginal_codec` (public schema only), go to
`run_smartnoise.py` in ``.venv-smartnoise`` as a CSV in a temporary folder, and the sampled
codes come back decoded into the schema's columns. Made by `benchmarks/peers/setup_smartnoise.sh`.

What the peers' ε covers: the Gaussian measurements of marginals and the exponential-mechanism
selections of AIM/MST, on the binned table. What it does not: MST fits its model with the exact
record count (``known_total = len(data)``), and both sample from numpy's global Mersenne
Twister (seeded from OS entropy per fit here, not a cryptographic generator) for their
selection steps; the binning is public, so it costs nothing and needs no cover.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pandas as pd

import marginal_codec  # noqa: E402  (benchmarks/peers/, on sys.path beside this file)

HERE = Path(__file__).resolve().parent
PEER_PYTHON = HERE / ".venv-smartnoise" / "bin" / "python"
SYNTHS = ("aim", "mst")
EPSILON_NOT_COVERED = (
    "MST's model uses the exact record count (known_total); AIM's and MST's selections and mbi's sampling "
    "draw from numpy's global Mersenne Twister (seeded from OS entropy for each fit, not a cryptographic "
    "generator); numeric columns are binned on public bounds (no ε needed)")


def require_peer_venv() -> None:
    if not PEER_PYTHON.exists():
        raise SystemExit(f"{PEER_PYTHON} is missing: run benchmarks/peers/setup_smartnoise.sh first")


def fit_sample(synth: str, train: pd.DataFrame, schema, *, epsilon: float, delta: float, seed: int, rows: int,
               timeout: int = 7200, params: list[str] = ()) -> tuple[pd.DataFrame, dict]:
    """Fit ``synth`` (aim or mst) on ``train`` in the peer venv; ``rows`` decoded synthetic rows and
    the peer's JSON line (settings, fit seconds, versions). Raises RuntimeError on a failed fit."""
    if synth not in SYNTHS:
        raise ValueError(f"unknown smartnoise synthesizer {synth!r}; choose from {', '.join(SYNTHS)}")
    require_peer_venv()
    with tempfile.TemporaryDirectory(prefix="dpsynth-smartnoise-") as tmp:
        work = Path(tmp)
        marginal_codec.encode(train, schema).to_csv(work / "codes.csv", index=False)
        (work / "domain.json").write_text(json.dumps(marginal_codec.domain_sizes(schema)))
        command = [str(PEER_PYTHON), str(HERE / "run_smartnoise.py"), "--synth", synth,
                   "--train", str(work / "codes.csv"), "--domain", str(work / "domain.json"),
                   "--epsilon", str(epsilon), "--delta", str(delta), "--seed", str(seed), "--rows", str(rows),
                   "--out", str(work / "synthetic.csv")] + [f"--param={p}" for p in params]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"smartnoise {synth}: no result within {timeout} s") from None
        if done.returncode != 0:
            last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
            raise RuntimeError(f"smartnoise {synth}: {last}")
        info = json.loads(done.stdout.strip().splitlines()[-1])
        codes = pd.read_csv(work / "synthetic.csv")
    info["epsilon_not_covered"] = EPSILON_NOT_COVERED
    info["codec"] = {"numeric_bins": marginal_codec.N_BINS, "binning": "equal width on the schema's public bounds"}
    return marginal_codec.decode(codes, schema, seed=seed + 1), info

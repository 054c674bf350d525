"""The smartnoise glue end to end (benchmarks/peers/smartnoise_peer.py + run_smartnoise.py): MST fits
on the public domain with no preprocessor ε and every sampled code decodes inside the schema.
Needs benchmarks/peers/.venv-smartnoise (setup_smartnoise.sh); skipped without it."""

from pathlib import Path

import pytest

from tests.benchmarks.scripts import load_script
from tests.conftest import make_toy_frame, make_toy_schema

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "benchmarks" / "peers"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (PEERS / ".venv-smartnoise" / "bin" / "python").exists(),
                                 reason="benchmarks/peers/setup_smartnoise.sh has not been run")]


def load_peer():
    return load_script("peers/smartnoise_peer.py")


def test_mst_spends_its_epsilon_on_the_mechanism_only_and_decodes_inside_the_schema():
    peer = load_peer()
    schema, frame = make_toy_schema(), make_toy_frame(n=300)
    frame = frame[frame["race"] != "other"]  # a public category absent from the private rows
    synthetic, info = peer.fit_sample("mst", frame, schema, epsilon=1.0, delta=1e-5, seed=0, rows=200, timeout=600)
    assert info["epsilon_after_preprocessing"] == 1.0  # nothing went to a preprocessor
    assert info["versions"]["smartnoise-synth"] == "1.0.8"
    assert len(synthetic) == 200 and list(synthetic.columns) == schema.names
    report = schema.conform(synthetic)[1]
    assert report.clipped == {} and report.unseen_to_missing == {}

"""A `dpsynth generate` killed at any point leaves the old release intact or the new one complete.

Each case runs the real command in a subprocess that pauses at one point of the write
(announced on stdout), kills it there with a signal, and then checks the target folder
with `dpsynth.verify`: it is exactly the old bundle, or a complete new one; never a mix.
"""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from dpsynth.bundle import MANIFEST_FILE
from dpsynth.verify import verify
from tests.conftest import make_toy_frame, make_toy_schema

# Runs the CLI with a pause at KILL_POINT; the points are the steps of a release write.
DRIVER = textwrap.dedent("""
    import os, sys, time
    import dpsynth.bundle as bundle
    import dpsynth.pipeline as pipeline

    point = os.environ["KILL_POINT"]

    def pause(name):
        if name == point:
            print("AT", name, flush=True)
            time.sleep(120)

    def wrap(module, attr, before=None, after=None, when=lambda *a, **k: True):
        original = getattr(module, attr)
        def wrapped(*args, **kwargs):
            if before and when(*args, **kwargs):
                pause(before)
            out = original(*args, **kwargs)
            if after and when(*args, **kwargs):
                pause(after)
            return out
        setattr(module, attr, wrapped)

    wrap(pipeline, "write_synthetic", before="before-synthetic", after="synthetic-written")
    wrap(bundle, "write_manifest", after="manifest-written", when=lambda *a, **k: k.get("kind") == "release")
    wrap(bundle, "_exchange", after="exchanged")
    from dpsynth.cli import app
    app(sys.argv[1:], prog_name="dpsynth")
""")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    make_toy_frame(n=200).to_csv(root / "train.csv", index=False)
    make_toy_schema().save(root / "schema.yaml")
    return root


def generate(files, out, *, point="none", extra=()):
    args = ["generate", "--data", str(files / "train.csv"), "--schema", str(files / "schema.yaml"),
            "--out", str(out), "--epsilon", "1", "--param", "epochs=1", "--param", "batch_size=64", *extra]
    env = {**os.environ, "KILL_POINT": point, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", DRIVER, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def run_and_kill(files, out, point, sig, *, extra=("--force",)):
    process = generate(files, out, point=point, extra=extra)
    for line in process.stdout:
        if line.startswith("AT "):
            break
    else:
        pytest.fail(f"never reached {point}: {process.stderr.read()[-2000:]}")
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr


@pytest.fixture(scope="module")
def old_release(files):
    out = files / "old"
    process = generate(files, out)
    assert process.wait(timeout=300) == 0, process.stderr.read()
    return out


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(folder):
    return [p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name]


@pytest.mark.parametrize("point, sig", [
    ("before-synthetic", signal.SIGKILL),
    ("synthetic-written", signal.SIGKILL),
    ("manifest-written", signal.SIGKILL),
    ("exchanged", signal.SIGKILL),
])
def test_a_killed_replace_leaves_the_old_bundle_or_the_new_one_whole(files, old_release, tmp_path, point, sig):
    import shutil

    target = tmp_path / "release"
    shutil.copytree(old_release, target)
    before = snapshot(target)
    code, _ = run_and_kill(files, target, point, sig)
    assert code == -sig
    after = snapshot(target)
    verify(target)  # a complete bundle either way: manifest, checksums, card against the ledger
    if point == "exchanged":
        assert after != before  # the swap happened: the new bundle is in place, complete
    else:
        assert after == before  # the old bundle, byte for byte


@pytest.mark.parametrize("sig, code, name", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")])
def test_an_interrupt_says_so_in_one_line_and_leaves_nothing(files, tmp_path, sig, code, name):
    target = tmp_path / "release"
    returncode, stderr = run_and_kill(files, target, "synthetic-written", sig, extra=())
    assert returncode == code
    assert f"interrupted ({name}): stopped before finishing; nothing was written" in stderr
    assert "Traceback" not in stderr
    assert not target.exists() and leftovers(tmp_path) == []


def test_a_new_bundle_is_complete_and_verifies(old_release):
    result = verify(old_release)
    assert result.kind == "release" and result.private and (old_release / MANIFEST_FILE).is_file()

"""`dpsynth.bundle`: folders written whole or not at all, refused targets, manifests that catch edits."""

import json
import os

import pytest

from dpsynth import bundle
from dpsynth.bundle import (
    MANIFEST_FILE,
    BundleError,
    check_output,
    staged_folder,
    verify_manifest,
    write_file_atomically,
)
from dpsynth.errors import DpsynthError


def write_bundle(target, text="new", *, force=False):
    with staged_folder(target, kind="release", force=force) as staging:
        (staging / "synthetic.csv").write_text(text)
        (staging / "model").mkdir()
        (staging / "model" / "weights.pt").write_bytes(b"\x00\x01")
    return target


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if bundle.PARTIAL in p.name or ".old-" in p.name)


def test_a_finished_folder_has_a_manifest_of_every_file(tmp_path):
    target = write_bundle(tmp_path / "rel")
    manifest = json.loads((target / MANIFEST_FILE).read_text())
    assert manifest["complete"] is True and manifest["kind"] == "release"
    assert set(manifest["files"]) == {"synthetic.csv", "model/weights.pt"}
    assert verify_manifest(target)["files"]["synthetic.csv"]["bytes"] == 3
    assert leftovers(tmp_path) == []


def test_an_error_while_writing_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with staged_folder(tmp_path / "rel", kind="release") as staging:
            (staging / "synthetic.csv").write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_an_interrupt_while_writing_keeps_the_old_folder(tmp_path):
    target = write_bundle(tmp_path / "rel", "old")
    with pytest.raises(KeyboardInterrupt):
        with staged_folder(target, kind="release", force=True) as staging:
            (staging / "synthetic.csv").write_text("half")
            raise KeyboardInterrupt
    assert (target / "synthetic.csv").read_text() == "old"
    verify_manifest(target)
    assert leftovers(tmp_path) == []


def test_an_existing_folder_is_refused_without_force_and_replaced_whole_with_it(tmp_path):
    target = write_bundle(tmp_path / "rel", "old")
    (target / "stale.parquet").write_text("x")  # a file the new output does not write
    with pytest.raises(DpsynthError, match="already exists and is not empty.*--force"):
        write_bundle(target)
    write_bundle(target, force=True)
    assert not (target / "stale.parquet").exists() and (target / "synthetic.csv").read_text() == "new"
    verify_manifest(target)
    assert leftovers(tmp_path) == []


def test_replacing_works_without_an_atomic_exchange_too(tmp_path, monkeypatch):
    monkeypatch.setattr(bundle, "_exchange", lambda a, b: False)
    target = write_bundle(tmp_path / "rel", "old")
    write_bundle(target, force=True)
    assert (target / "synthetic.csv").read_text() == "new" and leftovers(tmp_path) == []


def test_an_empty_folder_is_a_fine_target(tmp_path):
    (tmp_path / "rel").mkdir()
    write_bundle(tmp_path / "rel")
    verify_manifest(tmp_path / "rel")


@pytest.mark.parametrize("make, match", [
    (lambda p: p.write_text("x"), "is a file"),
    (lambda p: (p.mkdir(), (p / "notes.txt").write_text("mine")), "already exists and is not empty"),
])
def test_bad_targets_are_refused_before_any_work(tmp_path, make, match):
    make(tmp_path / "out")
    with pytest.raises(DpsynthError, match=match):
        check_output(tmp_path / "out")


def test_force_never_deletes_a_folder_dpsynth_did_not_write(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "thesis.tex").write_text("years of work")
    with pytest.raises(DpsynthError, match="replaces only a folder dpsynth wrote"):
        check_output(tmp_path / "home", force=True)


def test_force_never_replaces_a_folder_that_holds_the_input(tmp_path):
    target = write_bundle(tmp_path / "rel")
    with pytest.raises(DpsynthError, match="holds the input"):
        check_output(target, force=True, inputs=[target / "synthetic.csv"])


def test_nothing_is_written_inside_another_dpsynth_folder(tmp_path):
    target = write_bundle(tmp_path / "rel")
    with pytest.raises(DpsynthError, match="inside .*a release folder dpsynth wrote"):
        check_output(target / "audit")


def test_a_path_below_a_file_is_refused(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DpsynthError, match="cannot write to .*is a file"):
        check_output(tmp_path / "afile" / "sub" / "rel")


def test_an_unwritable_place_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("this user (root) can write anywhere")
        with pytest.raises(DpsynthError, match="cannot write to .*permission denied"):
            check_output(locked / "rel")
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("tamper, match", [
    (lambda t: (t / "synthetic.csv").write_text("edited"), "synthetic.csv' does not match its SHA-256"),
    (lambda t: (t / "model" / "weights.pt").unlink(), "weights.pt' is listed in the manifest but missing"),
    (lambda t: (t / "synthetic.parquet").write_text("x"), "synthetic.parquet' is not in the manifest"),
    (lambda t: (t / MANIFEST_FILE).unlink(), "manifest.json' is missing"),
    (lambda t: (t / MANIFEST_FILE).write_text("{"), "is not readable JSON"),
    (lambda t: (t / MANIFEST_FILE).write_text(
        (t / MANIFEST_FILE).read_text().replace('"complete": true', '"complete": false')), "not finished"),
])
def test_the_manifest_catches_every_change(tmp_path, tamper, match):
    target = write_bundle(tmp_path / "rel")
    tamper(target)
    with pytest.raises(BundleError, match=match):
        verify_manifest(target)


def test_single_files_are_replaced_atomically_and_never_silently(tmp_path):
    path = tmp_path / "schema.yaml"
    write_file_atomically(path, lambda tmp: tmp.write_text("curated"))
    with pytest.raises(DpsynthError, match="already exists; pass --force"):
        write_file_atomically(path, lambda tmp: tmp.write_text("draft"))
    def killed_halfway(tmp):
        tmp.write_text("half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_file_atomically(path, killed_halfway, force=True)
    assert path.read_text() == "curated" and leftovers(tmp_path) == []
    write_file_atomically(path, lambda tmp: tmp.write_text("draft"), force=True)
    assert path.read_text() == "draft"

"""Output folders that are complete or absent: staged writing, an atomic swap, a manifest.

Every folder dpsynth writes (a release bundle, a model folder, an audit folder) is written
into a hidden staging folder beside its target (``.<name>.partial-XXXX``), closed with
``manifest.json`` (each file's SHA-256 and size, then ``"complete": true``) and only then
renamed into place. A killed or interrupted writer therefore leaves the target as it was:
the old folder intact, or no folder. An existing non-empty target is refused unless
``force=True``, which replaces it whole (an atomic exchange where the OS offers one), never
file by file; ``force`` only ever replaces a folder dpsynth wrote (one with a manifest).

`verify_manifest` checks a folder against its manifest: every listed file present with its
checksum, nothing unlisted. Single files (a schema draft, a JSON result) go through
`write_file_atomically`.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from dpsynth.errors import DpsynthError

MANIFEST_FILE = "manifest.json"
MANIFEST_VERSION = 1
PARTIAL = ".partial-"

OUT_IS_FILE = "--out '{path}' is a file; {what} is a folder: give a folder path that does not exist yet"
OUT_NOT_EMPTY = ("--out '{path}' already exists and is not empty; dpsynth never mixes two outputs: choose a new "
                 "folder, or pass --force to replace it whole")
FORCE_FOREIGN = ("--force replaces only a folder dpsynth wrote, and '{path}' has no {manifest}; move it away "
                 "or choose a new --out")
FORCE_HOLDS_INPUT = "--force would replace '{path}', which holds the input '{input}'; choose another --out"
NOT_WRITABLE = "cannot write to '{path}': {reason}; choose a folder you can write to"
FILE_EXISTS = "'{path}' already exists; pass --force to replace it, or choose another path"
INSIDE_OUTPUT = ("--out '{path}' is inside '{folder}', a {kind} folder dpsynth wrote; writing there would break its "
                 "manifest (and an audit holds real data that must never travel with a release): choose a "
                 "folder outside it")


class BundleError(DpsynthError, ValueError):
    """A folder is not what its manifest says (missing, changed or extra files)."""


# ------------------------------------------------------------------------- checks first
def check_output(target: str | Path, *, force: bool = False, what: str = "the output",
                 inputs: Iterable[str | Path | None] = ()) -> Path:
    """Refuse, before any work, a target that is a file, not empty (without ``force``), or in
    a place that cannot be written; with ``force``, one that is not a dpsynth folder or that
    holds one of ``inputs``."""
    target = Path(target)
    if target.is_file():
        raise DpsynthError(OUT_IS_FILE.format(path=target, what=what))
    outer = enclosing_folder(target.parent)
    if outer is not None:
        raise DpsynthError(INSIDE_OUTPUT.format(path=target, folder=outer[0], kind=outer[1]))
    if target.is_dir() and any(target.iterdir()):
        if not force:
            raise DpsynthError(OUT_NOT_EMPTY.format(path=target))
        if not (target / MANIFEST_FILE).is_file():
            raise DpsynthError(FORCE_FOREIGN.format(path=target, manifest=MANIFEST_FILE))
        for source in inputs:
            if source is not None and Path(source).resolve().is_relative_to(target.resolve()):
                raise DpsynthError(FORCE_HOLDS_INPUT.format(path=target, input=source))
    _check_writable(target.parent)
    return target


def check_new_file(path: str | Path, *, force: bool = False) -> Path:
    """Refuse an existing file (without ``force``) or a folder in its place, before any work."""
    path = Path(path)
    if path.is_dir():
        raise DpsynthError(f"'{path}' is a folder; give a file path")
    if path.exists() and not force:
        raise DpsynthError(FILE_EXISTS.format(path=path))
    _check_writable(path.parent)
    return path


def _check_writable(folder: Path) -> None:
    existing = folder
    while not existing.exists():  # the nearest existing ancestor is where folders get created
        existing = existing.parent
    if not existing.is_dir():
        raise DpsynthError(NOT_WRITABLE.format(path=folder, reason=f"'{existing}' is a file"))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DpsynthError(NOT_WRITABLE.format(path=folder, reason="permission denied"))


# ------------------------------------------------------------------------- writing
@contextlib.contextmanager
def staged_folder(target: str | Path, *, kind: str, force: bool = False,
                  inputs: Iterable[str | Path | None] = ()) -> Iterator[Path]:
    """Yield an empty staging folder; on a clean exit write its manifest and move it to
    ``target`` in one step; on any exception (an interrupt too) delete it, leaving
    ``target`` untouched."""
    target = check_output(target, force=force, inputs=inputs)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}{PARTIAL}", dir=target.parent))
    try:
        yield staging
        write_manifest(staging, kind=kind)
        _publish(staging, target, force=force)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_file_atomically(path: str | Path, write: Callable[[Path], Any], *, force: bool = False) -> Path:
    """Call ``write(tmp)`` on a hidden file beside ``path``, then rename it over ``path``."""
    path = check_new_file(path, force=force)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}{PARTIAL}", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        if path.exists() and not force:  # appeared while we wrote: still never overwrite
            raise DpsynthError(FILE_EXISTS.format(path=path))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _publish(staging: Path, target: Path, *, force: bool) -> None:
    """Move the finished ``staging`` folder to ``target``: a rename, or with ``force`` an
    exchange of the two folders, after which ``staging`` holds the old one (then deleted)."""
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    if not target.exists():
        os.rename(staging, target)
        return
    check_output(target, force=force)  # appeared or changed while we worked
    if not _exchange(staging, target):
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.rename(target, old / target.name)  # a kill here leaves the old folder in `old`, intact
        os.rename(staging, target)
        shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def enclosing_folder(path: str | Path) -> tuple[Path, str] | None:
    """(folder, kind) of the nearest folder at or above ``path`` that dpsynth wrote (has a manifest)."""
    for folder in (Path(path).resolve(), *Path(path).resolve().parents):
        try:
            manifest = json.loads((folder / MANIFEST_FILE).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict) and manifest.get("manifest_version") == MANIFEST_VERSION and "kind" in manifest:
            return folder, str(manifest["kind"])
    return None


# ------------------------------------------------------------------------- manifest
def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and p.relative_to(folder).as_posix() != MANIFEST_FILE)


def write_manifest(folder: str | Path, *, kind: str) -> Path:
    """Write ``manifest.json`` for every file under ``folder`` (the completion marker: last)."""
    from dpsynth import __version__

    folder = Path(folder)
    files = {name: {"sha256": sha256_of(folder / name), "bytes": (folder / name).stat().st_size}
             for name in _files(folder)}
    manifest = {"manifest_version": MANIFEST_VERSION, "kind": kind, "dpsynth": __version__, "files": files,
                "complete": True}
    path = folder / MANIFEST_FILE
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of ``folder``, checked for shape; `BundleError` naming the file otherwise."""
    path = Path(folder) / MANIFEST_FILE
    if not path.is_file():
        raise BundleError(f"'{path}' is missing: '{folder}' was not written completely by dpsynth, or was "
                          "edited; write it again")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"'{path}' is not readable JSON ({exc}); the folder cannot be verified") from None
    if (not isinstance(manifest, dict) or manifest.get("manifest_version") != MANIFEST_VERSION
            or not isinstance(manifest.get("files"), dict)):
        raise BundleError(f"'{path}' is not a dpsynth manifest of version {MANIFEST_VERSION}")
    if manifest.get("complete") is not True:
        raise BundleError(f"'{path}' does not mark the folder complete: it was not finished")
    return manifest


def verify_manifest(folder: str | Path, *, kind: str | None = None) -> dict[str, Any]:
    """Check every file of ``folder`` against its manifest; `BundleError` naming the first
    file that is missing, changed or not listed. Returns the manifest."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if kind is not None and manifest.get("kind") != kind:
        raise BundleError(f"'{folder / MANIFEST_FILE}' describes a {manifest.get('kind')!r} folder, not a {kind!r}")
    listed = manifest["files"]
    for name, entry in listed.items():
        path = folder / name
        if not path.is_file():
            raise BundleError(f"'{path}' is listed in the manifest but missing; the folder is incomplete")
        if not isinstance(entry, dict) or sha256_of(path) != entry.get("sha256"):
            raise BundleError(f"'{path}' does not match its SHA-256 in the manifest: it was changed or corrupted "
                              "after it was written")
    extra = [name for name in _files(folder) if name not in listed]
    if extra:
        raise BundleError(f"'{folder / extra[0]}' is not in the manifest: it was added after the folder was "
                          f"written ({len(extra)} such file(s)); remove it or write the folder again")
    return manifest

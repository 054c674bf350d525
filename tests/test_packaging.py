"""The wheel holds every subpackage (incl. the mapped generators/ and validators/) and imports.

`generators/` and `validators/` are installed as `dpsynth.generators` / `dpsynth.validators`
through `[tool.setuptools.package-dir]`, and subpackages are listed by hand in
pyproject.toml (auto-discovery does not follow a custom package-dir). These tests catch a
forgotten `__init__.py` or a subpackage missing from that list, which an editable install
would hide.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
PACKAGES: list[str] = SETUPTOOLS["packages"]
PACKAGE_DIR: dict[str, str] = SETUPTOOLS.get("package-dir", {})
SOURCE_ROOTS = {"dpsynth": "dpsynth", **PACKAGE_DIR}  # dotted package -> folder
REQUIRED_IN_WHEEL = [
    "dpsynth/__init__.py",
    "dpsynth/generators/__init__.py",
    "dpsynth/validators/__init__.py",
    "dpsynth/validators/context.py",
    "dpsynth/data/schemas/support2.yaml",
]
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}


def _source_dirs() -> dict[str, Path]:
    """Every folder under the package roots, as dotted package name -> folder."""
    out: dict[str, Path] = {}
    for package, folder in SOURCE_ROOTS.items():
        base = ROOT / folder
        for path in [base, *sorted(p for p in base.rglob("*") if p.is_dir())]:
            rel = path.relative_to(base)
            if any(part in SKIP_DIRS or part.startswith(".") for part in rel.parts):
                continue
            out[".".join([package, *rel.parts])] = path
    return out


def _package_of(wheel_path: str) -> str | None:
    """`dpsynth/validators/context.py` -> `dpsynth.validators`."""
    return ".".join(wheel_path.split("/")[:-1]) or None


def test_mapped_folders_exist():
    assert set(PACKAGE_DIR) == {"dpsynth.generators", "dpsynth.validators"}
    for package, folder in SOURCE_ROOTS.items():
        assert package in PACKAGES
        assert (ROOT / folder / "__init__.py").is_file(), f"{folder}/ needs an __init__.py"


def test_every_subpackage_is_listed_in_pyproject():
    dirs = _source_dirs()
    with_init = {name for name, path in dirs.items() if (path / "__init__.py").is_file()}
    forgotten = sorted(with_init - set(PACKAGES))
    assert not forgotten, f"add {forgotten} to [tool.setuptools] packages in pyproject.toml"
    stale = sorted(p for p in PACKAGES if p not in with_init)
    assert not stale, f"pyproject.toml lists {stale} but no such folder with __init__.py exists"
    no_init = sorted(name for name, path in dirs.items()
                     if name not in with_init and any(path.glob("*.py")))
    assert not no_init, f"folders with Python modules but no __init__.py (not installed): {no_init}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel offline from a clean copy of the sources (no stale build/ folder)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns(*SKIP_DIRS, "*.pyc", "*.egg-info")
    for folder in set(SOURCE_ROOTS.values()):
        shutil.copytree(ROOT / folder, src / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE", "LICENSE.txt", "NOTICE"):
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, src / name)
    dist = tmp / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--skip-dependency-check",
         "--outdir", str(dist), str(src)],
        cwd=tmp, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )
    assert proc.returncode == 0, f"wheel build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    wheels = list(dist.glob("dpsynth-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_contains_every_module_and_the_schema_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [n for n in REQUIRED_IN_WHEEL if n not in names]
    assert not missing, f"wheel lacks {missing}"
    expected = set()
    for package, path in _source_dirs().items():
        if package in PACKAGES:
            prefix = package.replace(".", "/")
            expected |= {f"{prefix}/{f.name}" for f in path.glob("*.py")}
    assert not expected - names, f"wheel lacks source modules {sorted(expected - names)}"
    for name in (ROOT / "dpsynth" / "data" / "schemas").glob("*.yaml"):
        assert f"dpsynth/data/schemas/{name.name}" in names
    # nothing but the dpsynth package and its metadata at the top level
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"dpsynth"}
    assert not any("/tests/" in n or n.startswith("tests/") for n in names)


def test_wheel_imports_from_its_own_files(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import dpsynth, dpsynth.validators.context, dpsynth.generators, dpsynth.schema; "
        "from dpsynth.data.support2 import support2_schema; "
        "assert support2_schema().target == 'death_180d'; "
        "print(dpsynth.__file__); print(dpsynth.generators.__file__); "
        "print(dpsynth.validators.context.__file__)"
    )
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = [Path(line).resolve() for line in proc.stdout.split()]
    assert len(files) == 3
    for file in files:
        assert file.is_relative_to(site.resolve()), f"{file} was imported from outside the wheel"

"""The wheel holds every subpackage (incl. the mapped generators/ and validators/) and imports;
its metadata keeps the file formats and SDV optional; installed alone it fits a table.

`generators/` and `validators/` are installed as `dpsynth.generators` / `dpsynth.validators`
through `[tool.setuptools.package-dir]`, and subpackages are listed by hand in
pyproject.toml (auto-discovery does not follow a custom package-dir). These tests catch a
forgotten `__init__.py` or a subpackage missing from that list, which an editable install
would hide. The slow test installs the wheel into a fresh virtual environment with the base
dependencies only and runs a tiny fit through the CLI there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import dpsynth

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
PACKAGES: list[str] = SETUPTOOLS["packages"]
PACKAGE_DIR: dict[str, str] = SETUPTOOLS.get("package-dir", {})
SOURCE_ROOTS = {"dpsynth": "dpsynth", **PACKAGE_DIR}  # dotted package -> folder
REQUIRED_IN_WHEEL = [
    "dpsynth/__init__.py",
    "dpsynth/__main__.py",
    "dpsynth/py.typed",
    "dpsynth/generators/__init__.py",
    "dpsynth/validators/__init__.py",
    "dpsynth/validators/context.py",
    "dpsynth/data/schemas/support2.yaml",
]
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
OPTIONAL = {"wfdb", "pydicom", "pyarrow", "sdv"}  # never in the base dependencies


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
    # setuptools warns (and would drop the files) when a data folder is not a listed package
    assert "absent from the `packages` configuration" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
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


def _metadata(wheel: Path):
    name = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".dist-info/METADATA"))
    return Parser().parsestr(zipfile.ZipFile(wheel).read(name).decode())


def _requirements(metadata, extra: str | None = None) -> dict[str, str]:
    """{distribution name: requirement} of the base dependencies (``extra=None``) or of one extra."""
    out = {}
    for line in metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        if extra is None:
            wanted = requirement.marker is None
        else:
            wanted = requirement.marker is not None and requirement.marker.evaluate({"extra": extra})
        if wanted:
            out[requirement.name.lower()] = str(requirement)
    return out


def test_the_version_has_one_source(wheel):
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert SETUPTOOLS["dynamic"]["version"] == {"attr": "dpsynth.__version__"}
    assert _metadata(wheel)["Version"] == dpsynth.__version__ == "0.2.0"


def test_formats_and_references_are_optional_and_torch_is_a_range(wheel):
    metadata = _metadata(wheel)
    base = _requirements(metadata)
    assert not OPTIONAL & set(base), f"base dependencies must not hold {sorted(OPTIONAL & set(base))}"
    assert base["torch"] == "torch>=2.13"
    assert set(_requirements(metadata, "series")) == {"wfdb", "pydicom"}
    assert set(_requirements(metadata, "images")) == {"pydicom"}
    assert set(_requirements(metadata, "parquet")) == {"pyarrow"}
    assert set(_requirements(metadata, "reference")) == {"sdv"}
    assert "sdv" not in str(_requirements(metadata, "test"))  # the test extra does not pull SDV
    extras = set(metadata.get_all("Provides-Extra"))
    assert {"demo", "reference", "series", "images", "parquet", "all", "test"} <= extras
    pinned = (ROOT / "constraints.txt").read_text()
    assert "\ntorch==2.13.0\n" in pinned  # make and CI keep the exact, tested torch


def test_python_m_dpsynth_prints_the_version(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "dpsynth", "--version"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == f"dpsynth {dpsynth.__version__}"


def _run(args: list, *, cwd: Path, timeout: int = 600, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env={**env, "OMP_NUM_THREADS": "1"},
                          capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"{args}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.slow
def test_the_wheel_alone_installs_into_a_fresh_venv_and_fits_a_table(wheel, tmp_path):
    """Base dependencies only (no extra): a tiny tabular fit and a resample through the CLI work,
    `--version` answers, and wfdb / pydicom / pyarrow / sdv are absent. Pinned by constraints.txt,
    so torch resolves to the tested 2.13.0 (the local CPU build here)."""
    from tests.conftest import make_toy_frame, make_toy_schema

    started = time.monotonic()
    venv, run = tmp_path / "venv", tmp_path / "run"
    run.mkdir()
    _run([sys.executable, "-m", "venv", venv], cwd=tmp_path)  # fresh: no system or repo site-packages
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    python, cli = venv / "bin" / "python", venv / "bin" / "dpsynth"
    _run([python, "-m", "pip", "install", "--quiet", "-c", ROOT / "constraints.txt", wheel], cwd=tmp_path,
         timeout=1200)
    installed = time.monotonic()

    where = _run([python, "-c", "import dpsynth; print(dpsynth.__file__)"], cwd=run).stdout.strip()
    assert Path(where).resolve().is_relative_to(venv.resolve()), f"dpsynth imported from {where}, not the venv"
    for module in sorted(OPTIONAL):
        missing = _run([python, "-c", f"import {module}"], cwd=run, check=False)
        assert missing.returncode != 0 and "ModuleNotFoundError" in missing.stderr, f"{module} is installed"
    assert _run([cli, "--version"], cwd=run).stdout.strip() == f"dpsynth {dpsynth.__version__}"
    assert "sdv-ctgan" in _run([cli, "generators"], cwd=run).stdout  # listed without SDV installed

    make_toy_frame(n=200).to_csv(run / "train.csv", index=False)
    make_toy_schema().save(run / "schema.yaml")
    _run([cli, "generate", "--data", "train.csv", "--schema", "schema.yaml", "--out", "release", "--epsilon", "1",
          "--rows", "50", "--seed", "0", "--param", "epochs=1", "--param", "batch_size=64",
          "--param", "hidden=[16]", "--param", "latent_dim=4"], cwd=run)
    assert len((run / "release" / "synthetic.csv").read_text().splitlines()) == 51
    assert '"private": true' in (run / "release" / "privacy_card.json").read_text()
    _run([cli, "sample", "--model", "release/model", "--rows", "20", "--out", "more.csv"], cwd=run)
    assert len((run / "more.csv").read_text().splitlines()) == 21

    (run / "train.parquet").write_bytes(b"PAR1")
    parquet = _run([cli, "generate", "--data", "train.parquet", "--schema", "schema.yaml", "--out", "r2",
                    "--epsilon", "1"], cwd=run, check=False)
    assert parquet.returncode == 2 and "pip install 'dpsynth[parquet]'" in parquet.stderr + parquet.stdout
    print(f"\nwheel install {installed - started:.0f} s, then fit + sample {time.monotonic() - installed:.0f} s")

"""The optional file-format packages (pyarrow, wfdb, pydicom): a missing one is one clear error naming
the extra that installs it, raised by every reader that needs it, and nothing else needs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dpsynth.data import image_sets, series_sets
from dpsynth.errors import DpsynthError
from dpsynth.images.io import read_image_file
from dpsynth.optional import MISSING_EXTRA, MissingExtraError, require
from dpsynth.series.formats.dicom import read_dicom_waveforms
from dpsynth.series.formats.wfdb import read_wfdb
from dpsynth.table_io import read_table, write_table
from tests.conftest import make_toy_frame, make_toy_image_schema, make_toy_series_schema

ROOT = Path(__file__).resolve().parents[2]


def hide(monkeypatch, *names: str) -> None:
    """Make ``import name`` fail as if the package were not installed."""
    for name in names:
        for loaded in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            monkeypatch.delitem(sys.modules, loaded)
        monkeypatch.setitem(sys.modules, name, None)


def test_require_returns_the_module_when_installed():
    assert require("json", extra="none", purpose="testing").dumps([1]) == "[1]"


def test_require_names_the_extra_when_missing(monkeypatch):
    hide(monkeypatch, "pydicom")
    with pytest.raises(MissingExtraError) as info:
        require("pydicom.data", extra="images", purpose="reading DICOM images")
    assert str(info.value) == "reading DICOM images needs pydicom: pip install 'dpsynth[images]'"
    assert isinstance(info.value, DpsynthError) and isinstance(info.value, ImportError)


def test_a_broken_dependency_of_an_installed_package_is_not_blamed_on_the_extra(tmp_path, monkeypatch):
    (tmp_path / "fakepkg").mkdir()
    (tmp_path / "fakepkg" / "__init__.py").write_text("import no_such_module_dpsynth_test\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="no_such_module_dpsynth_test"):
        require("fakepkg", extra="parquet", purpose="testing")


@pytest.mark.parametrize("action", ["reading", "writing"])
def test_parquet_without_pyarrow_names_the_parquet_extra(tmp_path, monkeypatch, action):
    path = tmp_path / "t.parquet"
    write_table(make_toy_frame(n=5), path)
    hide(monkeypatch, "pyarrow")
    expected = MISSING_EXTRA.format(purpose=f"{action} Parquet", package="pyarrow", extra="parquet")
    assert expected == f"{action} Parquet needs pyarrow: pip install 'dpsynth[parquet]'"
    with pytest.raises(MissingExtraError) as info:
        read_table(path) if action == "reading" else write_table(make_toy_frame(n=5), path)
    assert str(info.value) == expected


def test_csv_needs_no_pyarrow_even_for_its_errors(tmp_path, monkeypatch):
    hide(monkeypatch, "pyarrow")
    path = write_table(make_toy_frame(n=5), tmp_path / "t.csv")
    assert len(read_table(path)) == 5
    (tmp_path / "bad.csv").write_bytes(b"\xff\xfe\x00 not utf-8")
    with pytest.raises(DpsynthError, match="bad.csv") as info:
        read_table(tmp_path / "bad.csv")
    assert not isinstance(info.value, MissingExtraError)


def test_wfdb_records_without_wfdb_name_the_series_extra(tmp_path, monkeypatch):
    hide(monkeypatch, "wfdb")
    with pytest.raises(MissingExtraError, match=r"^reading WFDB records needs wfdb: pip install 'dpsynth\[series\]'$"):
        read_wfdb(tmp_path, tmp_path / "static.csv", make_toy_series_schema())


def test_dicom_waveforms_without_pydicom_name_the_series_extra(tmp_path, monkeypatch):
    (tmp_path / "s1.dcm").write_bytes(b"not read")
    hide(monkeypatch, "pydicom")
    with pytest.raises(MissingExtraError, match=r"pip install 'dpsynth\[series\]'$"):
        read_dicom_waveforms(tmp_path, tmp_path / "static.csv", make_toy_series_schema())


def test_dicom_images_without_pydicom_name_the_images_extra(tmp_path, monkeypatch):
    (tmp_path / "i1.dcm").write_bytes(b"not read")
    hide(monkeypatch, "pydicom")
    message = r"^reading DICOM images needs pydicom: pip install 'dpsynth\[images\]'$"
    with pytest.raises(MissingExtraError, match=message):
        read_image_file(tmp_path / "i1.dcm", make_toy_image_schema())


@pytest.mark.parametrize("load, extra", [
    (lambda tmp: image_sets.write_dicom_tiles(tmp / "tiles"), "images"),
    (lambda tmp: image_sets.dicom_test_files(), "images"),
    (lambda tmp: series_sets._ecg_base.__wrapped__(), "series"),
])
def test_shipped_dicom_data_without_pydicom_names_the_extra(tmp_path, monkeypatch, load, extra):
    hide(monkeypatch, "pydicom")
    with pytest.raises(MissingExtraError, match=rf"needs pydicom: pip install 'dpsynth\[{extra}\]'$"):
        load(tmp_path)


def test_the_tabular_path_imports_no_optional_format_package():
    # pyarrow is left out: pandas itself tries to import it (and does without it)
    code = ("import sys; import dpsynth.cli, dpsynth.pipeline, dpsynth.generators, dpsynth.validators; "
            "from dpsynth import registry; registry.available(); "
            "loaded = sorted(m for m in ('wfdb', 'pydicom', 'sdv') if m in sys.modules); "
            "assert not loaded, loaded")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_missing_extra_is_a_one_line_cli_error(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from dpsynth.cli import app
    from tests.conftest import make_toy_schema

    make_toy_schema().save(tmp_path / "schema.yaml")
    (tmp_path / "train.parquet").write_bytes(b"PAR1")
    hide(monkeypatch, "pyarrow")
    result = CliRunner().invoke(app, ["generate", "--data", str(tmp_path / "train.parquet"), "--schema",
                                      str(tmp_path / "schema.yaml"), "--out", str(tmp_path / "r"), "--epsilon", "1"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "reading Parquet needs pyarrow: pip install 'dpsynth[parquet]'" in result.output

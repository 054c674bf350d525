"""Lazy imports of the packages that live in dpsynth's extras (Parquet, WFDB, DICOM, Ray).

The base install fits and samples tabular CSV data; reading Parquet needs ``pyarrow``
(extra ``parquet``), WFDB records ``wfdb`` (extra ``series``), DICOM files ``pydicom``
(extras ``series`` and ``images``) and ``dpsynth sweep`` ``ray`` (extra ``sweep``). Every
reader imports them through `require`, so a missing package is one clear `MissingExtraError`
naming the extra to install, never a bare ``ModuleNotFoundError`` from deep inside a reader.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from dpsynth.errors import DpsynthError

MISSING_EXTRA = "{purpose} needs {package}: pip install 'dpsynth[{extra}]'"


class MissingExtraError(DpsynthError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def require(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import and return ``module`` (e.g. ``"pydicom"`` or ``"pydicom.waveforms"``).

    ``purpose`` says what needs it ("reading Parquet"), ``extra`` which ``dpsynth[...]``
    extra installs it. Raises `MissingExtraError` if the package cannot be imported.
    """
    top = module.partition(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name not in (None, top, module) and not str(exc.name or "").startswith(f"{top}."):
            raise  # the package is there but one of *its* dependencies is broken: show that
        raise MissingExtraError(MISSING_EXTRA.format(purpose=purpose, package=top, extra=extra)) from None

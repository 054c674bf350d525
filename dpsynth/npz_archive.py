"""NumPy ``.npz`` archives read without pickle: the file layer of the series and image readers.

`load_npz` returns every array of an archive or one clear `DataReadError` (missing file, not
an archive, a key that only pickle can load, a corrupt key); `npz_column` reads one
per-record column (text as objects, an empty string as missing); `column_array` is its
inverse for writing.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from dpsynth.errors import DataReadError

NPZ_UNREADABLE = "cannot read npz file '{path}': {reason}"
NPZ_PICKLED = (
    "npz file '{path}': key '{key}' holds Python objects, which only pickle can load (refused: unsafe); "
    "save text as unicode arrays, e.g. np.asarray(values, dtype=str)"
)
NPZ_MISSING_KEY = "npz file '{path}' has no key '{key}' ({what}); keys found: {found!r}"
NPZ_LENGTH = (
    "npz file '{path}': key '{key}' has shape {shape}; expected a 1-D array with one entry per subject "
    "({n} subjects in 'signals')"
)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of the archive, loaded without pickle; clear errors otherwise."""
    if not path.is_file():
        reason = "it is a directory, not a file" if path.is_dir() else "no such file"
        raise DataReadError(NPZ_UNREADABLE.format(path=path, reason=reason))
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        reason = f"not a NumPy .npz archive ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
        raise DataReadError(NPZ_UNREADABLE.format(path=path, reason=reason)) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataReadError(NPZ_UNREADABLE.format(
            path=path, reason="it is a single .npy array, not an .npz archive (save with np.savez)"))
    with archive:
        arrays = {}
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except ValueError:
                raise DataReadError(NPZ_PICKLED.format(path=path, key=key)) from None
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                reason = f"key '{key}' is corrupt ({type(exc).__name__})"
                raise DataReadError(NPZ_UNREADABLE.format(path=path, reason=reason)) from None
    return arrays


def npz_column(arrays: dict[str, np.ndarray], key: str, path: Path, n: int) -> np.ndarray:
    """A 1-D per-record array; unicode text becomes object, an empty string NaN."""
    column = arrays[key]
    if column.ndim != 1 or len(column) != n:
        raise DataReadError(NPZ_LENGTH.format(path=path, key=key, shape=column.shape, n=n))
    if column.dtype.kind in "US":
        text = column.astype(str).astype(object)
        text[text == ""] = np.nan
        return text
    return column


def column_array(column: pd.Series) -> np.ndarray:
    """A static column as an array that np.savez stores without pickle."""
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        if column.isna().any():
            return column.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.asarray(column.tolist())
    return np.asarray(["" if pd.isna(v) else str(v) for v in column], dtype=str).reshape(-1)

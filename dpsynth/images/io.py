"""Read and write image data in the forms users have: MedMNIST-style ``.npz`` archives,
folders of PNG or DICOM files with a CSV manifest, and dpsynth's own ``.npz``.

Every reader returns an `ImageData`: the static table (image id column, subject id
column when the schema names one, per-image attributes and the target) and the images
``[N, height, width, channels]`` as float32 in stored pixel units. Readers *assemble*
and check what only the file can tell (shape, channels, the label values); the static
columns, id uniqueness and the pixel range are checked by `ImageSchema.conform`.
Nothing is resized or converted silently, and nothing is downloaded.

Failures are a `DataReadError` (the file cannot be read or is malformed) or a
`SchemaError` (the file is fine but does not fit the schema); each names the file, the
key, column or image at fault and the fix.

Formats:

* **MedMNIST npz**: ``<split>_images`` ``[N, H, W]`` or ``[N, H, W, C]`` (uint8) and
  ``<split>_labels`` ``[N, 1]`` or ``[N]`` for split ``train``, ``val``, ``test``; labels
  are the target's categories (``3`` -> ``"3"``); per-image attributes from an optional
  manifest aligned by order or by image id; image ids are ``"<split>-000000"``, ...
* **image folder**: PNG (or any format Pillow reads) or DICOM (``*.dcm``, pydicom;
  Rescale Slope/Intercept applied; MONOCHROME1 values are kept as stored, not inverted)
  files named, relative to the folder, in a CSV manifest with one row per image: the
  file, the image id, the subject id, attributes and target.
* **dpsynth npz** (`write_images_npz`): ``images`` ``[N, H, W, C]`` float32, the image
  id, the subject id and the static columns as 1-D arrays (text as unicode, no pickle).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from dpsynth.errors import DataReadError, SchemaError
from dpsynth.optional import require
from dpsynth.images.schema import ImageData, ImageSchema
from dpsynth.table_io import DataWriteError, read_table, write_table
from dpsynth.schema import canonical_category
from dpsynth.npz_archive import NPZ_MISSING_KEY, column_array, load_npz, npz_column

PathLike = str | os.PathLike[str]

#: Key of the images in a dpsynth ``.npz``; no static column may use it.
IMAGES_KEY = "images"
DICOM_SUFFIXES = (".dcm", ".dicom")

# ------------------------------------------------------------------ messages
NPZ_NOT_IMAGES = (
    "npz file '{path}': '{key}' has shape {shape} and dtype {dtype}; expected numeric images [N, {height}, "
    "{width}, {channels}]{grey} (the schema's height, width, channels). dpsynth never resizes: resize the "
    "images first or fix the schema"
)
NPZ_LABELS = (
    "npz file '{path}': '{key}' has shape {shape}; expected one integer label per image, [{n}] or [{n}, 1] "
    "(multi-label arrays such as ChestMNIST's are not supported: pick one label column first)"
)
UNSEEN_LABEL = (
    "npz file '{path}': label value {value!r} ({count} image(s), e.g. {image!r}) is not a category of the "
    "target '{target}' {categories!r}; add it to the target's categories in the schema"
)
ATTRIBUTES_LENGTH = (
    "attributes {source} have {found} row(s) but split '{split}' has {n} image(s); give one row per image in "
    "the archive's order, or add the image id column '{column}' (ids '{split}-000000', ...) to align by id"
)
ATTRIBUTES_MISSING_IDS = (
    "attributes {source} have no row for {count} image(s) of split '{split}', e.g. {examples!r}; add them "
    "(image id column '{column}')"
)
ATTRIBUTES_DUPLICATE_IDS = "attributes {source} have more than one row for image id(s) {examples!r}; keep one"
ATTRIBUTES_TARGET = (
    "attributes {source} have a column '{target}', the target, which the archive's labels already give; "
    "drop it from the attributes"
)
NEEDS_SUBJECT = (
    "the schema names the subject id '{column}' but {source} has none; add a '{column}' column to the "
    "{where} (or remove subject_id from the schema: each image is then its own privacy unit)"
)
NOT_A_FOLDER = "cannot read images from '{path}': {reason}"
NO_MANIFEST = (
    "cannot read image folder '{folder}': no manifest '{manifest}'. Write a CSV with one row per image: "
    "the file name relative to the folder ('{file_column}'), the image id ('{image_id}'), {subject}"
    "the attributes and the target"
)
MANIFEST_NO_FILE_COLUMN = (
    "manifest '{manifest}' has no file column '{file_column}' (columns: {found!r}); add it or pass "
    "file_column= naming the column of file names"
)
MANIFEST_EMPTY_FILE = "manifest '{manifest}', row {row}: the file name ('{file_column}') is empty"
IMAGE_FILE_MISSING = "image file '{path}' (manifest '{manifest}', row {row}) does not exist"
IMAGE_UNREADABLE = "cannot read image file '{path}': {reason}"
IMAGE_WRONG_SIZE = (
    "image file '{path}' is {found} (height × width) but the schema expects {height} × {width}; dpsynth "
    "never resizes silently: resize the images first, or fix height/width in the schema"
)
IMAGE_WRONG_CHANNELS = (
    "image file '{path}' has {found}, but the schema expects {expected}; convert the image first, or set "
    "channels: {suggest} in the schema"
)
DICOM_NO_PIXELS = "DICOM file '{path}' holds no image (no Pixel Data); keep only image files there"
DICOM_FRAMES = (
    "DICOM file '{path}' holds {frames} frames; one file is one image here: split the frames into files first"
)
WRITE_FAILED = "cannot write '{path}': {reason}"
UNSUPPORTED_IMAGES = (
    "cannot read images from '{path}': {reason}. Supported: a MedMNIST .npz (train_images, ...), a dpsynth "
    ".npz (images, ...), or a folder of PNG/DICOM files with a CSV manifest"
)


# ================================================================== MedMNIST npz
def read_medmnist_npz(path: PathLike, schema: ImageSchema, *, split: str = "train",
                      attributes: PathLike | pd.DataFrame | None = None) -> ImageData:
    """Read one split of a MedMNIST-style archive (``<split>_images``, ``<split>_labels``).

    Labels become the target column (ints as category strings, checked against the
    target's categories); image ids are ``f"{split}-{i:06d}"``. ``attributes`` (a CSV or
    Parquet file, or a DataFrame) adds per-image columns (sex, age, site, the subject
    id, ...): aligned by the schema's image id column when it has one, else by order.
    """
    path = Path(path)
    arrays = load_npz(path)
    images_key, labels_key = f"{split}_images", f"{split}_labels"
    for key, what in ((images_key, f"the {split} images"), (labels_key, f"the {split} labels")):
        if key not in arrays:
            raise DataReadError(NPZ_MISSING_KEY.format(path=path, key=key, what=what, found=sorted(arrays)))
    images = _images_array(arrays[images_key], path, images_key, schema)
    ids = [f"{split}-{i:06d}" for i in range(len(images))]
    static = pd.DataFrame({schema.image_id: pd.Series(ids, dtype=object)})
    if attributes is not None:
        static = _align_attributes(attributes, static, schema, split)
    static[schema.target] = _labels(arrays[labels_key], path, labels_key, schema, ids)
    if schema.subject_id and schema.subject_id not in static.columns:
        raise SchemaError(NEEDS_SUBJECT.format(column=schema.subject_id, source=f"npz file '{path}'",
                                               where="attributes (attributes=)"))
    return ImageData(static, images)


def _images_array(raw: np.ndarray, path: Path, key: str, schema: ImageSchema) -> np.ndarray:
    array = raw[..., None] if raw.ndim == 3 and schema.channels == 1 else raw
    if array.ndim != 4 or array.shape[1:] != schema.shape or not (
            np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        grey = " (or [N, H, W] for grey)" if schema.channels == 1 else ""
        raise SchemaError(NPZ_NOT_IMAGES.format(path=path, key=key, shape=raw.shape, dtype=raw.dtype,
                                                height=schema.height, width=schema.width,
                                                channels=schema.channels, grey=grey))
    return array.astype(np.float32)


def _labels(raw: np.ndarray, path: Path, key: str, schema: ImageSchema, ids: list[str]) -> pd.Series:
    labels = raw[:, 0] if raw.ndim == 2 and raw.shape[1:] == (1,) else raw
    if labels.ndim != 1 or len(labels) != len(ids) or not np.issubdtype(labels.dtype, np.number):
        raise DataReadError(NPZ_LABELS.format(path=path, key=key, shape=raw.shape, n=len(ids)))
    values = pd.Series([canonical_category(v) for v in labels.tolist()], dtype=object)
    categories = schema.static.column(schema.target).categories or []
    unseen = ~values.isin(categories)
    if unseen.any():
        value = values[unseen].iloc[0]
        first = int(np.flatnonzero(unseen.to_numpy())[0])
        raise SchemaError(UNSEEN_LABEL.format(path=path, value=value, count=int((values == value).sum()),
                                              image=ids[first], target=schema.target, categories=categories))
    return values


def _align_attributes(attributes: PathLike | pd.DataFrame, static: pd.DataFrame, schema: ImageSchema,
                      split: str) -> pd.DataFrame:
    """The per-image attributes joined to ``static`` (the generated image ids): by id when the
    attributes carry the image id column, else row by row."""
    if isinstance(attributes, pd.DataFrame):
        source, frame = "(DataFrame)", attributes.reset_index(drop=True)
    else:
        source = f"'{attributes}'"
        frame = read_table(attributes, text_columns=tuple(c for c in (schema.image_id, schema.subject_id) if c))
    if schema.target in frame.columns:
        raise SchemaError(ATTRIBUTES_TARGET.format(source=source, target=schema.target))
    column = schema.image_id
    if column in frame.columns:
        keyed = frame.assign(**{column: frame[column].map(canonical_category)})
        duplicated = keyed[column][keyed[column].duplicated()].unique().tolist()
        if duplicated:
            raise SchemaError(ATTRIBUTES_DUPLICATE_IDS.format(source=source, examples=duplicated[:3]))
        keyed = keyed.set_index(column)
        missing = [i for i in static[column] if i not in keyed.index]
        if missing:
            raise SchemaError(ATTRIBUTES_MISSING_IDS.format(source=source, count=len(missing), split=split,
                                                            examples=missing[:3], column=column))
        rows = keyed.loc[static[column].tolist()].reset_index(drop=True)
    else:
        if len(frame) != len(static):
            raise SchemaError(ATTRIBUTES_LENGTH.format(source=source, found=len(frame), split=split,
                                                       n=len(static), column=column))
        rows = frame
    return pd.concat([static, rows], axis=1)


# ================================================================== image folder
def read_image_folder(folder: PathLike, schema: ImageSchema, *, manifest: PathLike = "manifest.csv",
                      file_column: str = "file") -> ImageData:
    """Read the images listed in ``manifest`` (CSV/Parquet; relative to ``folder`` unless absolute).

    One manifest row per image: ``file_column`` (path relative to ``folder``), the image
    id (when the manifest has no image id column, the file name is the id), the subject
    id, the attributes and the target. PNG and other Pillow formats give grey (L, I;16,
    ...) or RGB pixels as stored (an alpha channel is dropped only when fully opaque);
    DICOM files (``.dcm``) give ``pixel_array`` with Rescale Slope/Intercept applied.
    """
    folder = Path(folder)
    if not folder.is_dir():
        reason = "no such directory" if not folder.exists() else "it is a file, not a directory"
        raise DataReadError(NOT_A_FOLDER.format(path=folder, reason=reason))
    manifest_path = Path(manifest) if Path(manifest).is_absolute() else folder / manifest
    if not manifest_path.exists():
        subject = f"the subject id ('{schema.subject_id}'), " if schema.subject_id else ""
        raise DataReadError(NO_MANIFEST.format(folder=folder, manifest=manifest_path, file_column=file_column,
                                               image_id=schema.image_id, subject=subject))
    text = tuple(c for c in (file_column, schema.image_id, schema.subject_id) if c)
    table = read_table(manifest_path, text_columns=text)
    if file_column not in table.columns:
        raise SchemaError(MANIFEST_NO_FILE_COLUMN.format(manifest=manifest_path, file_column=file_column,
                                                         found=list(table.columns)))
    images = []
    for row, name in enumerate(table[file_column], start=1):
        if not isinstance(name, str) or not name.strip():
            raise DataReadError(MANIFEST_EMPTY_FILE.format(manifest=manifest_path, row=row, file_column=file_column))
        path = folder / name
        if not path.is_file():
            raise DataReadError(IMAGE_FILE_MISSING.format(path=path, manifest=manifest_path, row=row))
        images.append(read_image_file(path, schema))
    static = table.drop(columns=[file_column])
    if schema.image_id not in static.columns:
        static.insert(0, schema.image_id, table[file_column].astype(object))
    if schema.subject_id and schema.subject_id not in static.columns:
        raise SchemaError(NEEDS_SUBJECT.format(column=schema.subject_id, source=f"manifest '{manifest_path}'",
                                               where="manifest"))
    stacked = np.stack(images) if images else np.zeros((0, *schema.shape), dtype=np.float32)
    return ImageData(static, stacked)


def read_image_file(path: PathLike, schema: ImageSchema) -> np.ndarray:
    """One image file as float32 ``[height, width, channels]``, checked against the schema's shape."""
    path = Path(path)
    if path.suffix.lower() in DICOM_SUFFIXES:
        array, found = _read_dicom_pixels(path)
    else:
        array, found = _read_pillow_pixels(path, schema)
    if array.ndim == 3 and array.shape[2] != schema.channels:
        expected = "1 channel (grey)" if schema.channels == 1 else "3 channels (RGB)"
        raise SchemaError(IMAGE_WRONG_CHANNELS.format(path=path, found=found, expected=expected,
                                                      suggest=array.shape[2] if array.shape[2] in (1, 3) else 3))
    if array.ndim == 2 and schema.channels != 1:
        raise SchemaError(IMAGE_WRONG_CHANNELS.format(path=path, found=found, expected="3 channels (RGB)",
                                                      suggest=1))
    if array.shape[:2] != (schema.height, schema.width):
        raise SchemaError(IMAGE_WRONG_SIZE.format(path=path, found=f"{array.shape[0]} × {array.shape[1]}",
                                                  height=schema.height, width=schema.width))
    return array.reshape(schema.shape).astype(np.float32)


def _read_pillow_pixels(path: Path, schema: ImageSchema) -> tuple[np.ndarray, str]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            if mode == "P":  # a palette is a lossless colour table
                image = image.convert("RGBA" if "transparency" in image.info else "RGB")
            array = np.asarray(image)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        reason = f"not a readable image ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
        raise DataReadError(IMAGE_UNREADABLE.format(path=path, reason=reason)) from None
    if array.ndim == 3 and array.shape[2] in (2, 4):  # LA / RGBA: drop the alpha only when it hides nothing
        alpha = array[..., -1]
        if alpha.min() != alpha.max() or alpha.min() != np.iinfo(array.dtype).max:
            raise SchemaError(IMAGE_WRONG_CHANNELS.format(
                path=path, found=f"a transparent alpha channel (mode {mode})",
                expected="opaque pixels", suggest=schema.channels))
        array = array[..., :-1]
    found = f"mode {mode}" + (f" ({array.shape[2]} channels)" if array.ndim == 3 else " (grey)")
    return array, found


def _read_dicom_pixels(path: Path) -> tuple[np.ndarray, str]:
    pydicom = require("pydicom", extra="images", purpose="reading DICOM images")
    try:
        dataset = pydicom.dcmread(path)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for bad files
        reason = f"not a readable DICOM file ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
        raise DataReadError(IMAGE_UNREADABLE.format(path=path, reason=reason)) from None
    if "PixelData" not in dataset:
        raise DataReadError(DICOM_NO_PIXELS.format(path=path))
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise DataReadError(DICOM_FRAMES.format(path=path, frames=frames))
    try:
        array = np.asarray(dataset.pixel_array, dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - decoding errors vary (compressed syntaxes need plugins)
        reason = f"cannot decode the pixel data ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
        raise DataReadError(IMAGE_UNREADABLE.format(path=path, reason=reason)) from None
    slope, intercept = dataset.get("RescaleSlope"), dataset.get("RescaleIntercept")
    array = array * (1.0 if slope is None else float(slope)) + (0.0 if intercept is None else float(intercept))
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    found = f"{samples} sample(s) per pixel ({dataset.get('PhotometricInterpretation', 'unknown')})"
    return array, found


# ================================================================== writers
def write_image_folder(data: ImageData, folder: PathLike, schema: ImageSchema, *,
                       format: Literal["png"] = "png") -> Path:
    """Write ``data`` as PNG files ``000000.png``, ... and ``manifest.csv`` into a new ``folder``.

    PNG holds whole numbers: pixels are rounded and clipped to ``pixel_range`` and stored
    as uint8 when the range lies within [0, 255], else as uint16 (grey only, range within
    [0, 65535]). For other ranges, or to keep fractional values, use `write_images_npz`.
    `read_image_folder` with the same schema reads the folder back. The folder must be new
    or empty, so that a release never mixes with older files.
    """
    folder = Path(folder)
    if format != "png":
        raise DataWriteError(WRITE_FAILED.format(path=folder, reason=f"format must be 'png', not {format!r} "
                                                 "(write_images_npz keeps exact values)"))
    dtype = _png_dtype(schema, folder)
    images = _images_to_write(data, folder, schema)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise DataWriteError(WRITE_FAILED.format(path=folder, reason="it exists and is not an empty folder; "
                                                 "choose a new folder"))
    if "file" in data.static.columns:
        raise DataWriteError(WRITE_FAILED.format(path=folder, reason="the static table has a column 'file', "
                                                 "which the manifest uses for file names; rename it"))
    from PIL import Image

    low, high = np.ceil(schema.lower), np.floor(schema.upper)
    names = [f"{i:06d}.png" for i in range(len(images))]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, image in zip(names, images):
            pixels = np.clip(np.rint(image), low, high).astype(dtype)
            Image.fromarray(pixels[..., 0] if schema.channels == 1 else pixels).save(folder / name)
    except OSError as exc:
        raise DataWriteError(WRITE_FAILED.format(path=folder, reason=exc.strerror or exc)) from None
    manifest = data.static.reset_index(drop=True).copy()
    manifest.insert(0, "file", names)
    write_table(manifest, folder / "manifest.csv")
    return folder


def _png_dtype(schema: ImageSchema, folder: Path) -> type:
    if schema.lower >= 0 and schema.upper <= 255:
        return np.uint8
    if schema.lower >= 0 and schema.upper <= 65535 and schema.channels == 1:
        return np.uint16
    reason = (f"PNG holds whole numbers in [0, 255] (or [0, 65535] for grey), but pixel_range is "
              f"[{schema.lower:g}, {schema.upper:g}] with {schema.channels} channel(s); use write_images_npz")
    raise DataWriteError(WRITE_FAILED.format(path=folder, reason=reason))


def _images_to_write(data: ImageData, path: Path, schema: ImageSchema) -> np.ndarray:
    images = np.asarray(data.images)
    if images.ndim == 3 and schema.channels == 1:
        images = images[..., None]
    if images.ndim != 4 or images.shape[1:] != schema.shape or not np.issubdtype(images.dtype, np.number):
        raise DataWriteError(WRITE_FAILED.format(path=path, reason=f"images have shape {images.shape} "
                                                 f"({images.dtype}); expected numbers [N, {schema.height}, "
                                                 f"{schema.width}, {schema.channels}]"))
    if len(images) != len(data.static):
        raise DataWriteError(WRITE_FAILED.format(path=path, reason=f"{len(images)} image(s) for "
                                                 f"{len(data.static)} static row(s); give one row per image"))
    if schema.image_id not in data.static.columns:
        raise DataWriteError(WRITE_FAILED.format(path=path, reason=f"the static table has no image id column "
                                                 f"'{schema.image_id}'"))
    return images


def write_images_npz(data: ImageData, path: PathLike, schema: ImageSchema) -> Path:
    """Write ``data`` as an ``.npz`` archive that `read_images_npz` reads back exactly (no pickle).

    ``images`` is float32 ``[N, H, W, C]``; the image id, subject id and static columns
    are 1-D arrays (numbers keep their dtype; text is unicode, a missing value an empty
    string).
    """
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise DataWriteError(WRITE_FAILED.format(path=path, reason="the file name must end in .npz"))
    images = _images_to_write(data, path, schema)
    arrays = {IMAGES_KEY: images.astype(np.float32)}
    for name in data.static.columns:
        if str(name) in arrays:
            raise DataWriteError(WRITE_FAILED.format(
                path=path, reason=f"static column '{name}' clashes with the npz key '{name}'; rename it"))
        column = data.static[name]
        if name in (schema.image_id, schema.subject_id):
            column = column.map(canonical_category)
        arrays[str(name)] = column_array(column)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    except OSError as exc:
        raise DataWriteError(WRITE_FAILED.format(path=path, reason=exc.strerror or exc)) from None
    return path


def read_images_npz(path: PathLike, schema: ImageSchema) -> ImageData:
    """Read an archive written by `write_images_npz`: ``images`` plus the image id, the subject
    id (when the schema names one) and the schema's static columns; other keys are ignored."""
    path = Path(path)
    arrays = load_npz(path)
    if IMAGES_KEY not in arrays:
        raise DataReadError(NPZ_MISSING_KEY.format(path=path, key=IMAGES_KEY, what="the images [N, H, W, C]",
                                                   found=sorted(arrays)))
    images = _images_array(arrays[IMAGES_KEY], path, IMAGES_KEY, schema)
    names = [schema.image_id] + ([schema.subject_id] if schema.subject_id else []) + schema.static.names
    missing = [c for c in names if c not in arrays]
    if missing:
        raise SchemaError(NPZ_MISSING_KEY.format(path=path, key=missing[0], what="a column of the schema: the "
                                                 "image id, subject id or a static column", found=sorted(arrays)))
    static = pd.DataFrame({name: npz_column(arrays, name, path, len(images)) for name in names})
    return ImageData(static, images)


# ================================================================== dispatch
def read_images(path: PathLike, schema: ImageSchema, **kwargs: Any) -> ImageData:
    """Read images from whatever ``path`` is: a folder (PNG/DICOM + manifest), a dpsynth ``.npz``
    (key ``images``) or a MedMNIST ``.npz`` (``<split>_images``). Keyword arguments go to that reader."""
    path = Path(path)
    if not path.exists():
        raise DataReadError(UNSUPPORTED_IMAGES.format(path=path, reason="no such file or directory"))
    if path.is_dir():
        return read_image_folder(path, schema, **kwargs)
    if path.suffix.lower() != ".npz":
        reason = f"unsupported file extension {path.suffix.lower() or '(none)'!r}"
        raise DataReadError(UNSUPPORTED_IMAGES.format(path=path, reason=reason))
    keys = _npz_keys(path)
    if IMAGES_KEY in keys:
        return read_images_npz(path, schema, **kwargs)
    if any(k.endswith("_images") for k in keys):
        return read_medmnist_npz(path, schema, **kwargs)
    reason = f"the archive has neither 'images' nor '<split>_images' (keys: {sorted(keys)!r})"
    raise DataReadError(UNSUPPORTED_IMAGES.format(path=path, reason=reason))


def _npz_keys(path: Path) -> list[str]:
    """The archive's keys, without loading its arrays (`load_npz` gives the errors for bad files)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return [n[:-4] if n.endswith(".npy") else n for n in archive.namelist()]
    except (OSError, zipfile.BadZipFile):
        return list(load_npz(path))  # raises the reader's error


__all__ = ["read_medmnist_npz", "read_image_folder", "read_image_file", "write_image_folder",
           "write_images_npz", "read_images_npz", "read_images"]

"""The public schema of an image dataset, and the in-memory form of such data.

An image dataset is a set of images of one public shape ``height × width × channels``
(1 = grey, 3 = RGB), each with a row of per-image attributes (the label, sex, age,
site, ...) described by ordinary tabular columns with public domains. Each image has a
unique id; a subject id, when the schema names one, groups the images of one patient
into one privacy unit (DP-SGD samples and clips per subject, never per image). Without
a subject id every image is its own unit.

The pixel range is public and comes from the schema (e.g. ``[0, 255]`` for 8-bit
images), never from the private pixels (docs/privacy.md, rule 2). Images have no
missing pixels: NaN or ±inf raise. Pixels outside the range raise, or are clipped and
counted when the schema says ``out_of_bounds: clip``. Nothing is resized silently.

```yaml
version: 1
modality: image
image_id: image            # column of the static table naming each image (unique)
subject_id: patient        # optional: the privacy unit; absent -> every image is its own unit
height: 8
width: 8
channels: 1                # 1 (grey) or 3 (RGB)
pixel_range: [0, 16]       # public range of stored pixel values
out_of_bounds: error       # or clip (clips counted in the report)
target: label
positive: "1"
sensitive: [{column: sex}]
static:                    # per-image columns, exactly as in a tabular schema
  - {name: sex, kind: categorical, categories: [female, male]}
  - {name: label, kind: categorical, categories: ["0", "1"]}
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from dpsynth.errors import SchemaError
from dpsynth.schema_spec import check_spec
from dpsynth.schema import SCHEMA_VERSION, canonical_category, check_bounds
from dpsynth.tabular.schema import StaticAttributes, TabularSchema, static_schema_from_spec

# ------------------------------------------------------------------ messages
BAD_SIZE = "{key} must be a positive whole number of pixels, not {value!r}"
BAD_CHANNELS = "channels must be 1 (grey) or 3 (RGB), not {value!r}"
BAD_PIXEL_RANGE = (
    "pixel_range must be two finite numbers [lower, upper] with lower < upper (the public range of stored "
    "pixel values, e.g. [0, 255] for 8-bit images), not {value!r}"
)
BAD_OUT_OF_BOUNDS = "out_of_bounds must be 'error' or 'clip', not {value!r}"
BAD_IMAGE_ID = "image_id must name the column of the static table that identifies each image, not {value!r}"
IMAGE_ID_CLASH = (
    "image_id '{column}' is also {what}; the image id only names images: give it a column of its own"
)
NO_IMAGE_ID_COLUMN = (
    "the static table has no image id column '{column}' (columns: {found!r}); add it (one unique id per "
    "image) or set 'image_id' in the schema to the column that names each image"
)
MISSING_IMAGE_IDS = "image id column '{column}' has {count} missing value(s); every image needs an id"
DUPLICATE_IMAGES = (
    "image id(s) {examples!r} appear on more than one row of the static table; each image has one row "
    "(use the subject id '{subject}' to group several images of one patient)"
)
IMAGE_COUNT = (
    "there are {n_images} image(s) but {n_rows} row(s) in the static table; give one static row per image, "
    "in the same order as the images"
)
BAD_IMAGE_SHAPE = (
    "images have shape {shape}; the schema expects [N, {height}, {width}, {channels}] (N images of height "
    "{height}, width {width}, {channels} channel(s), channels last). dpsynth never resizes or converts "
    "silently: resize/convert the images first, or fix height/width/channels in the schema"
)
IMAGES_NOT_NUMERIC = "images are not numeric ({dtype}); pixels must hold numbers"
IMAGE_NOT_FINITE = (
    "image {image!r} holds {what} pixel(s); images have no missing pixels: fix or drop that image"
)
PIXELS_OUT_OF_RANGE = (
    "{count} pixel(s) lie outside the public pixel_range [{lower}, {upper}] (e.g. image {image!r}: "
    "{example}); widen pixel_range in the schema if it is wrong, or set 'out_of_bounds: clip' to clip "
    "them (clips are counted)"
)
MISSING_UNIT_COLUMN = (
    "the static table has no column '{column}' ({what}); pass a table with the image id and subject id columns"
)


@dataclass
class ImageData:
    """Image data in memory: one static row per image and the images, row-aligned.

    ``static`` holds the image id column, the subject id column (when the schema names
    one) and the static columns; ``images`` is ``[N, height, width, channels]`` in the
    schema's stored pixel units (float32 once conformed).
    """

    static: pd.DataFrame
    images: np.ndarray

    def __len__(self) -> int:
        return len(self.static)


@dataclass
class ImageReport:
    """What `ImageSchema.conform` counted: images, privacy units, clipped pixels and static cells."""

    n_images: int = 0
    n_units: int = 0
    clipped_pixels: int = 0
    static_clipped: dict[str, int] = field(default_factory=dict)
    static_unseen_to_missing: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"n_images": self.n_images, "n_units": self.n_units, "clipped_pixels": self.clipped_pixels,
                "static_clipped": dict(self.static_clipped),
                "static_unseen_to_missing": dict(self.static_unseen_to_missing)}


@dataclass
class ImageSchema(StaticAttributes):
    """Public description of an image dataset (see the module docstring)."""

    height: int
    width: int
    channels: int
    pixel_range: tuple[float, float]
    static: TabularSchema
    image_id: str
    out_of_bounds: Literal["error", "clip"] = "error"
    version: int = SCHEMA_VERSION
    modality: ClassVar[str] = "image"

    def __post_init__(self) -> None:
        for key in ("height", "width"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise SchemaError(BAD_SIZE.format(key=key, value=value))
            setattr(self, key, int(value))
        if isinstance(self.channels, bool) or self.channels not in (1, 3):
            raise SchemaError(BAD_CHANNELS.format(value=self.channels))
        self.channels = int(self.channels)
        self.pixel_range = _pixel_range(self.pixel_range)
        if self.out_of_bounds not in ("error", "clip"):
            raise SchemaError(BAD_OUT_OF_BOUNDS.format(value=self.out_of_bounds))
        if not isinstance(self.image_id, str) or not self.image_id:
            raise SchemaError(BAD_IMAGE_ID.format(value=self.image_id))
        if self.image_id in self.static.names:
            raise SchemaError(IMAGE_ID_CLASH.format(column=self.image_id, what="a static column"))
        if self.image_id == self.static.subject_id:
            raise SchemaError(IMAGE_ID_CLASH.format(column=self.image_id, what="the subject id"))
        if self.version != SCHEMA_VERSION:
            raise SchemaError(f"schema version {self.version} is not supported (expected {SCHEMA_VERSION})")

    # ----------------------------------------------------------------- lookup
    @property
    def shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of every image."""
        return (self.height, self.width, self.channels)

    @property
    def lower(self) -> float:
        return self.pixel_range[0]

    @property
    def upper(self) -> float:
        return self.pixel_range[1]

    @property
    def subject_id(self) -> str | None:
        return self.static.subject_id

    def units(self, static: pd.DataFrame) -> np.ndarray:
        """The privacy-unit key of every image: its subject id if the schema names one, else its image id."""
        column = self.subject_id or self.image_id
        if column not in static.columns:
            what = "the subject id" if self.subject_id else "the image id (no subject id declared)"
            raise SchemaError(MISSING_UNIT_COLUMN.format(column=column, what=what))
        return static[column].map(canonical_category).to_numpy(dtype=object)

    def count_units(self, data: ImageData) -> int:
        """Number of privacy units: distinct subjects, or images when no subject id is declared."""
        return int(pd.unique(self.units(data.static)).size)

    # -------------------------------------------------------------- data checks
    def conform(self, data: ImageData) -> tuple[ImageData, ImageReport]:
        """Check ``data`` against the schema and return it in canonical form.

        The static table (without the image id) is conformed like a tabular one (errors
        name the column); image ids must be present and unique; ``images`` must be
        ``[N, H, W, C]`` (``[N, H, W]`` is accepted for grey schemas) with N = rows of the
        static table, numeric and finite; pixels outside ``pixel_range`` raise or are
        clipped and counted. Returns the static table with the image id first and the
        images as float32. Nothing in ``data`` is modified.
        """
        raw = data.static
        if self.image_id not in raw.columns:
            raise SchemaError(NO_IMAGE_ID_COLUMN.format(column=self.image_id, found=list(raw.columns)))
        ids = raw[self.image_id].map(canonical_category)
        if ids.isna().any():
            raise SchemaError(MISSING_IMAGE_IDS.format(column=self.image_id, count=int(ids.isna().sum())))
        duplicated = ids[ids.duplicated()].unique().tolist()
        if duplicated:
            raise SchemaError(DUPLICATE_IMAGES.format(examples=duplicated[:3], subject=self.subject_id or "..."))
        static, static_report = self.static.conform(raw.drop(columns=[self.image_id]))
        static.insert(0, self.image_id, ids.astype(object))
        static = static.reset_index(drop=True)
        static.attrs = dict(raw.attrs)  # markers such as "simulated" travel with the data
        ids = static[self.image_id].tolist()
        images, clipped = self._conform_images(data.images, ids)
        report = ImageReport(n_images=len(static), n_units=int(pd.unique(self.units(static)).size),
                             clipped_pixels=clipped, static_clipped=dict(static_report.clipped),
                             static_unseen_to_missing=dict(static_report.unseen_to_missing))
        return ImageData(static, images), report

    def _conform_images(self, raw: Any, ids: list[str]) -> tuple[np.ndarray, int]:
        array = np.asarray(raw)
        if array.ndim == 3 and self.channels == 1:
            array = array[..., None]
        if array.ndim != 4 or array.shape[1:] != self.shape:
            raise SchemaError(BAD_IMAGE_SHAPE.format(shape=array.shape, height=self.height, width=self.width,
                                                     channels=self.channels))
        if len(array) != len(ids):
            raise SchemaError(IMAGE_COUNT.format(n_images=len(array), n_rows=len(ids)))
        if array.dtype == object:
            try:
                array = array.astype(np.float64)
            except (TypeError, ValueError):
                raise SchemaError(IMAGES_NOT_NUMERIC.format(dtype="text or mixed")) from None
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) or np.iscomplexobj(array):
            raise SchemaError(IMAGES_NOT_NUMERIC.format(dtype=array.dtype))
        if np.issubdtype(array.dtype, np.floating):
            bad = ~np.isfinite(array)
            if bad.any():
                first = int(bad.reshape(len(array), -1).any(axis=1).argmax())
                what = "NaN" if np.isnan(array[first]).any() else "infinite"
                raise SchemaError(IMAGE_NOT_FINITE.format(image=ids[first], what=what))
        outside = (array < self.lower) | (array > self.upper)
        count = int(outside.sum())
        if count and self.out_of_bounds == "error":
            first = int(outside.reshape(len(array), -1).any(axis=1).argmax())
            example = float(array[first][outside[first]][0])
            raise SchemaError(PIXELS_OUT_OF_RANGE.format(count=count, lower=_fmt(self.lower),
                                                         upper=_fmt(self.upper), image=ids[first],
                                                         example=_fmt(example)))
        out = array.astype(np.float32)  # always a copy: the caller's array is never modified
        if count:
            np.clip(out, self.lower, self.upper, out=out)
        return out, count

    # ------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        static = self.static.to_dict()
        return {
            "version": self.version,
            "modality": self.modality,
            "image_id": self.image_id,
            "subject_id": self.subject_id,
            "height": self.height,
            "width": self.width,
            "channels": self.channels,
            "pixel_range": [self.lower, self.upper],
            "out_of_bounds": self.out_of_bounds,
            "target": static["target"],
            "positive": static["positive"],
            "sensitive": static["sensitive"],
            "static": static["columns"],
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> ImageSchema:
        if not isinstance(spec, dict):
            raise SchemaError("an image schema must be a mapping with keys version, modality, height, width, ...")
        if spec.get("modality") != "image":
            raise SchemaError(f"modality {spec.get('modality')!r} is not 'image'")
        check_spec(spec, "imageSchema", "image schema")
        return cls(height=spec["height"], width=spec["width"], channels=spec["channels"],
                   pixel_range=spec["pixel_range"], static=static_schema_from_spec(spec), image_id=spec["image_id"],
                   out_of_bounds=spec.get("out_of_bounds", "error"), version=int(spec.get("version", SCHEMA_VERSION)))



def _pixel_range(value: Any) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise SchemaError(BAD_PIXEL_RANGE.format(value=value))
    for bound in value:
        if isinstance(bound, bool) or not isinstance(bound, (int, float, np.integer, np.floating)) \
                or not math.isfinite(bound):
            raise SchemaError(BAD_PIXEL_RANGE.format(value=value))
    lower, upper = float(value[0]), float(value[1])  # [0, 255] and [0.0, 255.0] are one schema (fingerprint)
    check_bounds("pixel_range", lower, upper)
    return (lower, upper)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


__all__ = ["ImageData", "ImageReport", "ImageSchema"]

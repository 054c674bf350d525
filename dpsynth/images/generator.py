"""The image modality of the shared DP pipeline: images with per-image attributes.

`ImageGenerator` fills `DPGenerator`'s modality hooks. The privacy unit is the subject
when the schema names a subject id (all of a patient's images are one unit: sampled and
clipped together) and the image otherwise; a unit's images are its rows, each carrying
its own attributes and condition cell. Sampling gives one image per synthetic record, and
each synthetic image is its own synthetic patient (image id = subject id).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from dpsynth.images.codec import ImageCodec
from dpsynth.errors import SchemaError
from dpsynth.generator import DPGenerator
from dpsynth.errors import ParameterError
from dpsynth.families.pretraining import Pretraining, pretrain
from dpsynth.images.public import SOURCE, public_file_images, public_tiles
from dpsynth.params import TEXT, ModelParams, number, optional, param, whole
from dpsynth.images.schema import ImageData, ImageReport, ImageSchema

NOT_IMAGE_DATA = (
    "image generators train on dpsynth.images.ImageData (a table of per-image attributes + an image array); "
    "got {kind}. Read files with dpsynth.images.io.read_images(path, schema)"
)
SYNTHETIC_ID = "synthetic-{:06d}"
SOURCE_UNUSED = "pretrain_source={path!r} is set but pretrain_images is 0; set how many images to pretrain on"
PRETRAIN_UNSUPPORTED = ("{name} cannot pretrain on public images (pretrain_images={count}): its loop trains two "
                        "networks; use dp-image-vae or dp-image-diffusion, or pretrain_images=0")


@dataclass
class ImageParams(ModelParams):
    """`ModelParams`, the image codec's noise scale, and public pretraining (`dpsynth.images.public`)."""

    sigma: float = param(0.1, "noise scale of the pixel likelihood, in the codec's scaled [-1, 1] units (public)",
                         number(above=0))
    pretrain_images: int = param(0, "public image tiles (scikit-image's photographs) to pretrain on before DP-SGD, "
                                 "no ε (0: no pretraining)", whole(0))
    pretrain_steps: int = param(1000, "non-private Adam steps of the public pretraining", whole(1))
    pretrain_source: str | None = param(None, "public images to pretrain on: a .npz file ('images' array in the "
                                        "schema's shape and pixel range) (None: scikit-image's photographs)",
                                        optional(TEXT, "scikit-image's photographs"))


class ImageGenerator(DPGenerator):
    """DP generators for images with per-image attributes (label, sex, age band, site, ...).

    ``sigma`` is the codec's public noise scale of the pixel likelihood (in the scaled
    [-1, 1] units). A unit with more images than ``max_rows_per_unit`` (16) keeps a secret (OS-entropy)
    subsample of them; ``rows_per_step`` (default: all of a sampled unit's images) works
    as for series (`dpsynth.families.training.keep_rows`).
    """

    schema_type = ImageSchema
    model_params = ImageParams
    param_defaults = {"hidden": (256,)}  # the MLP heads of the image bodies (the convolutions carry the width)

    # -------------------------------------------------------------- modality hooks
    def _count_units(self, data: ImageData, schema: ImageSchema) -> int:
        if not isinstance(data, ImageData):
            raise SchemaError(NOT_IMAGE_DATA.format(kind=type(data).__name__))
        return schema.count_units(data)

    def _unit_label(self, schema: ImageSchema) -> str:
        if schema.subject_id is None:
            return "image: one image is one patient (the schema names no subject id)"
        return f"subject ('{schema.subject_id}'): all images of a subject are one unit"

    def _conform(self, data: ImageData, schema: ImageSchema) -> tuple[ImageData, ImageReport]:
        return schema.conform(data)

    def _make_codec(self, schema: ImageSchema) -> ImageCodec:
        return ImageCodec(schema, n_bins=self.n_bins, sigma=self.sigma)

    def _condition_groups(self, data: ImageData, schema: ImageSchema) -> tuple[pd.DataFrame, pd.Series | None]:
        units = None if schema.subject_id is None else pd.Series(schema.units(data.static), index=data.static.index)
        return schema.static.group_labels(data.static), units

    def _unit_tensors(self, data: ImageData, codec: ImageCodec, groups: pd.DataFrame, schema: ImageSchema,
                      rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """x [U, R, width], c [U, R, C], row mask [U, R]: a unit's images are its rows."""
        static = codec.encode_static(data.static)
        conditions = codec.encode_conditions(groups)
        members = self._unit_members(schema.units(data.static), rng)
        rows = max(len(m) for m in members)
        x = np.zeros((len(members), rows, codec.input_width), np.float32)
        c = np.zeros((len(members), rows, codec.condition_width), np.float32)
        mask = np.zeros((len(members), rows), np.float32)
        for u, m in enumerate(members):
            k = len(m)
            x[u, :k, :codec.static_width] = static[m]
            x[u, :k, codec.static_width:] = codec.encode_images(data.images[m])
            c[u, :k], mask[u, :k] = conditions[m], 1.0
        return torch.from_numpy(x), torch.from_numpy(c), torch.from_numpy(mask)

    def _plan_training(self, *, n_units: int, epsilon: float, delta: float) -> Any:
        # the pretraining settings and the user's public file are checked before any private data is read
        if self.pretrain_images and not self.pretrainable:
            raise ParameterError(PRETRAIN_UNSUPPORTED.format(name=self.registered_name, count=self.pretrain_images))
        if self.pretrain_source is not None and not self.pretrain_images:
            raise ParameterError(SOURCE_UNUSED.format(path=self.pretrain_source))
        self._public_file = None
        if self.pretrain_source is not None:
            height, width, channels = self.schema.shape
            self._public_file = public_file_images(self.pretrain_source, height=height, width=width,
                                                   channels=channels, pixel_range=self.schema.pixel_range)
        return super()._plan_training(n_units=n_units, epsilon=epsilon, delta=delta)

    def _pretrain(self, module: torch.nn.Module, codec: ImageCodec, *, seed: int,
                  progress: bool) -> Pretraining | None:
        """``pretrain_images`` public images — scikit-image tiles, or drawn from the user's public
        file — with no attributes (the static part is all zero and adds no loss), then
        ``pretrain_steps`` non-private steps; the caller holds the public seed."""
        public_file, self._public_file = self._public_file, None  # read once: the model keeps no copy
        if not self.pretrain_images:
            return None
        if public_file is None:
            height, width, channels = self.schema.shape
            tiles = public_tiles(self.pretrain_images, height=height, width=width, channels=channels,
                                 pixel_range=self.schema.pixel_range, seed=seed)
            source = SOURCE
        else:  # the user's public file (read by `_plan_training`): its images drawn with the public seed
            images, digest = public_file
            pick = np.random.default_rng(seed).choice(len(images), self.pretrain_images,
                                                      replace=self.pretrain_images > len(images))
            tiles, source = images[pick], f"{Path(self.pretrain_source).name} (sha256 {digest}), named by the user"
        x = np.zeros((len(tiles), codec.input_width), np.float32)
        x[:, codec.static_width:] = codec.encode_images(tiles)
        return pretrain(module, torch.from_numpy(x), codec.condition_width, steps=self.pretrain_steps,
                        source=source, generator=torch.Generator().manual_seed(seed), progress=progress)

    def _decode(self, output: np.ndarray, cells: pd.DataFrame, rng: np.random.Generator, *,
                first: int = 0) -> ImageData:
        static, images = self.codec_.decode(output, cells, rng=rng)
        ids = [SYNTHETIC_ID.format(first + i + 1) for i in range(len(static))]
        if self.schema_.subject_id is not None:  # each synthetic image is its own synthetic patient
            static.insert(0, self.schema_.subject_id, ids)
        static.insert(0, self.schema_.image_id, ids)
        return ImageData(static.reset_index(drop=True), images.astype(np.float32))

    def _as_units(self, records: ImageData, ids: list[str]) -> ImageData:
        names = [self.schema_.image_id] + ([self.schema_.subject_id] if self.schema_.subject_id else [])
        return ImageData(records.static.assign(**{name: ids for name in names}), records.images)

    def _select(self, data: ImageData, index: np.ndarray) -> ImageData:
        return ImageData(data.static.iloc[index], data.images[index])

    def _concat(self, data: ImageData, other: ImageData) -> ImageData:
        images = np.concatenate([data.images.astype(np.float32), other.images.astype(np.float32)])
        return ImageData(pd.concat([data.static, other.static], ignore_index=True), images)

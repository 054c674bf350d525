"""Image codec: an image's static record + pixels <-> fixed-width float rows.

Driven only by the public schema (docs/privacy.md, rule 2): the public ``pixel_range`` scales the pixels,
the static columns use the tabular codec. One *row* is one image with its static record;
when the schema names a subject id, a subject's rows form one privacy unit (the
generator groups them).

Row layout (model input and decoder output alike, width ``width``; images have no
missing pixels, so there is no mask):

    [ static encoding (tabular codec, softmax blocks) | pixels H·W·C, channels last ]

- pixels: scaled from ``pixel_range`` to [-1, 1];
- the decoder's output is [static logits | pixel means].

The loss per row is the static part's cross-entropy (tabular codec) plus a Gaussian
negative log-likelihood of the pixels with a fixed, public noise scale ``sigma`` (in
scaled units). `decode` samples the static record consistent with the condition cell
(as tabular rows) and returns the mean image, unscaled and clipped to ``pixel_range``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from dpsynth.families.moments import MomentsLayout
from dpsynth.images.basis import dct_basis
from dpsynth.tabular.codec import TabularCodec
from dpsynth.images.schema import ImageSchema


class ImageCodec:
    """Schema-driven encoder/decoder for images (see module docstring)."""

    def __init__(self, schema: ImageSchema, *, n_bins: int = 16, sigma: float = 0.1):
        schema.require_public()
        if not sigma > 0:
            raise ValueError(f"sigma must be positive (got {sigma})")
        self.schema = schema
        self.static_codec = TabularCodec(schema.static, n_bins=n_bins)
        self.sigma = sigma
        self.height, self.width_px, self.channels = schema.shape
        self.static_width = self.static_codec.width
        self.pixel_width = self.height * self.width_px * self.channels
        self.width = self.static_width + self.pixel_width
        self.input_width = self.width  # no mask: images have no missing pixels
        self.condition_domains = self.static_codec.condition_domains
        self.condition_width = self.static_codec.condition_width
        self.lower, self.upper = schema.pixel_range

    # ------------------------------------------------------------------ encode
    def backbone_shape(self) -> dict[str, int]:
        """The keyword arguments every image backbone takes from the codec."""
        return dict(static_width=self.static_width, height=self.height, width=self.width_px,
                    channels=self.channels)

    def moments_layout(self, components: int) -> MomentsLayout:
        """Where the moments family finds the attribute blocks (the coarse ones; the target's
        among them) and the pixels, with the first ``components`` of the public 2-D DCT basis."""
        blocks = [b for b in self.static_codec.blocks if b.role != "fine"]
        target = next(i for i, b in enumerate(blocks) if b.column == self.schema.static.target)
        return MomentsLayout.scaled(blocks=[slice(b.start, b.stop) for b in blocks], target=target,
                                    values=slice(self.static_width, self.width),
                                    basis=dct_basis(self.height, self.width_px, self.channels, components))

    def scale(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels in stored units -> [-1, 1] by the public pixel_range."""
        return 2.0 * (np.asarray(pixels, dtype=np.float64) - self.lower) / (self.upper - self.lower) - 1.0

    def unscale(self, scaled: np.ndarray) -> np.ndarray:
        return self.lower + (np.asarray(scaled, dtype=np.float64) + 1.0) / 2.0 * (self.upper - self.lower)

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        """Images [n, H, W, C] -> [n, H·W·C] scaled pixels (float32, channels last)."""
        images = np.asarray(images)
        if images.shape[1:] != self.schema.shape:
            raise ValueError(f"images have shape {images.shape}; expected [n, {self.height}, {self.width_px}, "
                             f"{self.channels}] (conform them with the schema first)")
        return self.scale(images).reshape(len(images), -1).astype(np.float32)

    def encode_static(self, static: pd.DataFrame) -> np.ndarray:
        return self.static_codec.encode(static)

    def encode_conditions(self, groups: pd.DataFrame) -> np.ndarray:
        return self.static_codec.encode_conditions(groups)

    # -------------------------------------------------------------------- loss
    def row_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per row (leading dims kept): static cross-entropy + Gaussian NLL of the pixels."""
        s = self.static_width
        static_loss = self.static_codec.row_loss(output[..., :s], target[..., :s])
        squared = (output[..., s:self.width] - target[..., s:self.width]).pow(2)
        return static_loss + squared.sum(-1) / (2 * self.sigma ** 2)

    # ------------------------------------------------------------------ decode
    def decode(self, output: np.ndarray, cells: pd.DataFrame, *,
               rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
        """(static table [n rows], images [n, H, W, C]) from decoder outputs [n, width].

        The static record is sampled consistent with each row's condition cell; the image
        is the decoder's mean, unscaled and clipped to the public pixel_range.
        """
        s = self.static_width
        static = self.static_codec.decode(output[:, :s], cells, rng=rng)
        images = self.unscale(output[:, s:self.width]).reshape(len(output), *self.schema.shape)
        return static, np.clip(images, self.lower, self.upper).astype(np.float32)

"""Public images for non-private pretraining: tiles of the natural photographs that
scikit-image ships inside its wheel (they load offline; ``pip install 'dpsynth[demo]'``).

Pretraining on public data costs no ε (it reads no private record) and teaches a network
what images look like — edges, textures, smooth regions — so DP fine-tuning on the private
set spends its few noisy steps on what is specific to it (PDP-Diffusion, PrivImage and
DPImageBench's "public pretraining" setting). The source must not overlap the private data:
scikit-image's medical images (``retina``, ``immunohistochemistry``, ``microaneurysms``,
``cell``), from which dpsynth's own benchmark sets are cut, are never used, nor are its
face crops (``lfw_subset``) or synthetic patterns.

A tile is a square crop at a random position and one of four scales (1, 2, 4 or 8 times
the target size), averaged down to the schema's height × width, in grey (luminance) for
one channel or RGB for three (a grey source repeated), and mapped from [0, 255] to the
schema's public pixel range. The crops are drawn with the user's public seed.

A user with public images closer to their own (a published data set of the same kind)
names a ``.npz`` file instead (`public_file_images`): its ``images`` array (or MedMNIST's
``train_images``) in the schema's shape and pixel range. Its SHA-256 goes on the card, so a
reader can check which file it was; that it is public, and shares no patient with the
private data, is the user's statement.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from dpsynth.errors import DpsynthError
from dpsynth.images.skimage_data import skimage_image

# scikit-image's natural photographs (uint8), all in its wheel: no download, no medical image.
SOURCE_IMAGES = ("astronaut", "brick", "camera", "chelsea", "clock", "coffee", "coins", "grass", "gravel",
                 "hubble_deep_field", "moon", "page", "rocket", "text")
SOURCE = ("scikit-image data (in its wheel): tiles of the natural photographs " + ", ".join(SOURCE_IMAGES)
          + "; no medical image, no overlap with private data")
SCALES = (1, 2, 4, 8)
TOO_SMALL = "the public images are too small for {height} x {width} tiles; pretraining needs tiles of at most 64 px"
NOT_A_FILE = "pretrain_source {path!r}: {reason}; name a .npz file with an 'images' array (or MedMNIST's 'train_images')"
WRONG_SHAPE = ("pretrain_source {path!r}: its images have shape {found}; the schema's images are "
               "{height} x {width} x {channels}")
OUT_OF_RANGE = ("pretrain_source {path!r}: pixel values span [{low:g}, {high:g}], outside the schema's pixel_range "
                "[{lower:g}, {upper:g}]; rescale the file to the schema's range")
BAD_CHANNELS = "public pretraining makes grey (1 channel) or RGB (3 channel) tiles, not {channels} channels"


def public_tiles(count: int, *, height: int, width: int, channels: int, pixel_range: tuple[float, float],
                 seed: int) -> np.ndarray:
    """``count`` public tiles [count, height, width, channels] (float32, in ``pixel_range``)."""
    if channels not in (1, 3):
        raise DpsynthError(BAD_CHANNELS.format(channels=channels))
    if max(height, width) > 64:
        raise DpsynthError(TOO_SMALL.format(height=height, width=width))
    rng = np.random.default_rng(seed)
    sources = [_as_channels(skimage_image(name), channels) for name in SOURCE_IMAGES]
    tiles = np.empty((count, height, width, channels), np.float32)
    for i in range(count):
        image = sources[rng.integers(len(sources))]
        fits = [s for s in SCALES if s * height <= image.shape[0] and s * width <= image.shape[1]]
        scale = fits[rng.integers(len(fits))]
        top = rng.integers(image.shape[0] - scale * height + 1)
        left = rng.integers(image.shape[1] - scale * width + 1)
        crop = image[top:top + scale * height, left:left + scale * width]
        tiles[i] = crop.reshape(height, scale, width, scale, channels).mean(axis=(1, 3))
    lower, upper = pixel_range
    return (lower + tiles / 255.0 * (upper - lower)).astype(np.float32)


def _as_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """A uint8 image [H, W] or [H, W, 3] as float [H, W, channels]: luminance, or grey repeated."""
    image = image[..., :3].astype(np.float32) if image.ndim == 3 else image.astype(np.float32)
    if image.ndim == 3 and channels == 1:
        return (image @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    if image.ndim == 2:
        image = image[..., None]
    return np.repeat(image, channels // image.shape[-1], axis=-1)


def public_file_images(path: str | Path, *, height: int, width: int, channels: int,
                       pixel_range: tuple[float, float]) -> tuple[np.ndarray, str]:
    """(images [N, height, width, channels] float32, the file's SHA-256) from a public .npz:
    its ``images`` (or ``train_images``) array; a grey [N, H, W] array gets its channel axis.
    Clear errors for a missing file, a missing array, another shape or pixels outside the range."""
    path = Path(path)
    try:
        data = path.read_bytes()
        with np.load(path, allow_pickle=False) as archive:
            key = next((k for k in ("images", "train_images") if k in archive.files), None)
            if key is None:
                raise ValueError(f"it has no 'images' or 'train_images' array (found {sorted(archive.files)})")
            images = np.asarray(archive[key], dtype=np.float32)
    except (OSError, ValueError) as exc:
        raise DpsynthError(NOT_A_FILE.format(path=str(path), reason=str(exc))) from None
    if images.ndim == 3 and channels == 1:
        images = images[..., None]
    if images.ndim != 4 or images.shape[1:] != (height, width, channels) or not len(images):
        raise DpsynthError(WRONG_SHAPE.format(path=str(path), found=images.shape, height=height, width=width,
                                              channels=channels))
    lower, upper = pixel_range
    low, high = float(np.nanmin(images)), float(np.nanmax(images))
    if not (np.isfinite(images).all() and lower <= low and high <= upper):
        raise DpsynthError(OUT_OF_RANGE.format(path=str(path), low=low, high=high, lower=lower, upper=upper))
    return images, hashlib.sha256(data).hexdigest()

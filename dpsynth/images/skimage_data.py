"""scikit-image's bundled sample images, loaded offline: the one loader behind the real medical
tiles (`dpsynth.data.image_sets`) and the public pretraining tiles (`dpsynth.images.public`).

scikit-image is optional (``pip install 'dpsynth[demo]'``); an image its wheel does not ship
(it would be fetched by pooch) is an error, never a download.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from dpsynth.errors import DpsynthError

SKIMAGE_MISSING = ("these images ship inside the optional package scikit-image, which is not installed: "
                   "pip install 'dpsynth[demo]' (or pip install scikit-image)")
SKIMAGE_FAILED = ("scikit-image could not load its bundled image {name!r} ({error}); dpsynth never downloads "
                  "data: install a scikit-image wheel that ships it (0.19 or later)")
SKIMAGE_CHANGED = "scikit-image's {name!r} does not have the expected layout ({problem})"


@lru_cache(maxsize=32)
def skimage_image(name: str) -> np.ndarray:
    """A scikit-image sample image (uint8, read-only, cached); a clear error if scikit-image or the
    file is missing."""
    try:
        import skimage.data
    except ImportError:
        raise DpsynthError(SKIMAGE_MISSING) from None
    try:
        image = np.asarray(getattr(skimage.data, name)())
    except Exception as exc:  # e.g. pooch missing or URLError: the file is not in this wheel
        raise DpsynthError(SKIMAGE_FAILED.format(name=name, error=f"{type(exc).__name__}: {exc}")) from None
    if image.dtype != np.uint8:
        raise DpsynthError(SKIMAGE_CHANGED.format(name=name, problem=f"dtype {image.dtype}, expected uint8"))
    image.flags.writeable = False
    return image

"""Public orthonormal bases: the DCT-II, fixed by a length alone (no data).

A modality builds its basis from it (images: 2-D, `dpsynth.images.basis`; series: per channel
along time, `dpsynth.series.basis`), so a generator may measure coefficients in it at no
privacy cost for the basis itself.
"""

from __future__ import annotations

import numpy as np


def dct_matrix(n: int) -> np.ndarray:
    """The orthonormal DCT-II [n frequencies, n samples]."""
    u, x = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    matrix = np.cos(np.pi * (2 * x + 1) * u / (2 * n)) * np.sqrt(2.0 / n)
    matrix[0] /= np.sqrt(2.0)
    return matrix

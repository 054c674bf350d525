"""A public basis for images: the orthonormal 2-D DCT-II, lowest spatial frequencies first.

Fixed by the image shape alone (no data). Channels-last like the codec's pixel rows.
"""

from __future__ import annotations

import numpy as np

from dpsynth.basis import dct_matrix


def dct_basis(height: int, width: int, channels: int, components: int) -> np.ndarray:
    """The first ``components`` (at most H·W·C) basis images [components, H·W·C], ordered by
    spatial frequency (row + column index), then row, then channel; rows are orthonormal."""
    rows, cols = dct_matrix(height), dct_matrix(width)
    order = sorted((i + j, i, j, ch) for i in range(height) for j in range(width) for ch in range(channels))
    basis = np.zeros((min(components, len(order)), height, width, channels))
    for n, (_, i, j, ch) in enumerate(order[:len(basis)]):
        basis[n, :, :, ch] = np.outer(rows[i], cols[j])
    return basis.reshape(len(basis), -1)

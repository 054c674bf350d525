"""A public basis for series windows: the orthonormal DCT-II along time, per signal, lowest
frequencies first.

Fixed by the window length and the channels alone (no data). A *signal* is a channel's
values or, for a channel with missing samples, its observation flags; each basis function
lights one signal. The flattened layout is the codec's: a window's values time-major
[L·C], then the flags of its ``missing`` channels time-major [L·M].
"""

from __future__ import annotations

import numpy as np

from dpsynth.basis import dct_matrix


def series_positions(window: int, channels: int, flagged: list[int]) -> list[np.ndarray]:
    """Per signal, the flat positions of its L samples: each channel's values, then the flags of
    the channels in ``flagged`` (their indices), in the layout of the module docstring."""
    time = np.arange(window)
    values = [time * channels + c for c in range(channels)]
    flags = [window * channels + time * len(flagged) + i for i in range(len(flagged))]
    return values + flags


def dct_series_basis(window: int, channels: int, flagged: list[int], components: int) -> np.ndarray:
    """The first ``components`` (at most L·(C + M)) basis functions [components, L·(C + M)],
    ordered by frequency, then signal; rows are orthonormal."""
    positions = series_positions(window, channels, flagged)
    matrix = dct_matrix(window)
    order = [(k, j) for k in range(window) for j in range(len(positions))]
    basis = np.zeros((min(components, len(order)), window * (channels + len(flagged))))
    for n, (k, j) in enumerate(order[:len(basis)]):
        basis[n, positions[j]] = matrix[k]
    return basis

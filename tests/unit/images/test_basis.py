"""The public DCT basis: orthonormal rows, lowest frequencies first, channels-last."""

import numpy as np
import pytest

from dpsynth.images.basis import dct_basis


def test_the_basis_starts_with_the_constant_image_of_each_channel_and_keeps_rows_orthonormal():
    basis = dct_basis(4, 6, 3, 10)
    assert basis.shape == (10, 4 * 6 * 3)
    assert np.allclose(basis @ basis.T, np.eye(10))
    first = basis[:3].reshape(3, 4, 6, 3)
    for channel in range(3):  # channels last: the constant image lights one channel only
        assert np.allclose(first[channel, :, :, channel], 1 / np.sqrt(24))
        assert np.allclose(np.delete(first[channel], channel, axis=-1), 0)


def test_all_components_reconstruct_an_image_exactly_and_more_are_capped():
    image = np.random.default_rng(0).random(5 * 5)
    full = dct_basis(5, 5, 1, 1000)
    assert full.shape == (25, 25)
    assert np.allclose(full.T @ (full @ image), image)

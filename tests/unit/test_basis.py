"""The shared public basis: the DCT-II matrix is orthonormal."""

import numpy as np
import pytest

from dpsynth.basis import dct_matrix


@pytest.mark.parametrize("n", [1, 5, 8])
def test_the_dct_matrix_is_orthonormal(n):
    matrix = dct_matrix(n)
    assert np.allclose(matrix @ matrix.T, np.eye(n))

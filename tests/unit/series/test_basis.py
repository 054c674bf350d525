"""The public series basis: orthonormal, lowest frequencies first, one signal per function, in
the layout the moments layout reads (values time-major, then the flags of missing channels)."""

import numpy as np

from dpsynth.series.basis import dct_series_basis, series_positions


def test_the_first_functions_are_each_signals_constant_and_rows_are_orthonormal():
    basis = dct_series_basis(window=8, channels=2, flagged=[1], components=7)
    assert basis.shape == (7, 8 * 3)
    assert np.allclose(basis @ basis.T, np.eye(7))
    positions = series_positions(8, 2, [1])
    for signal in range(3):  # values of channel 0, of channel 1, flags of channel 1
        assert np.allclose(basis[signal, positions[signal]], 1 / np.sqrt(8))
        assert np.allclose(np.delete(basis[signal], positions[signal]), 0)
    assert np.allclose(basis[3, positions[0]], np.cos(np.pi * (2 * np.arange(8) + 1) / 16) / 2)


def test_positions_follow_the_time_major_layout():
    values_0, values_1, flags_1 = series_positions(3, 2, [1])
    assert values_0.tolist() == [0, 2, 4] and values_1.tolist() == [1, 3, 5]
    assert flags_1.tolist() == [6, 7, 8]


def test_all_components_reconstruct_a_window_exactly_and_more_are_capped():
    window = np.random.default_rng(0).random(6 * 2)
    full = dct_series_basis(window=6, channels=2, flagged=[], components=1000)
    assert full.shape == (12, 12) and np.allclose(full.T @ (full @ window), window)

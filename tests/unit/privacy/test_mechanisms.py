import numpy as np
import pytest

from dpsynth.privacy.mechanisms import (
    SecureRandom,
    approximate_bounds,
    dp_bounds,
    exponential_quantile,
    laplace_histogram,
    partition_threshold,
    select_partitions,
)


def test_laplace_histogram_noise_has_the_calibrated_scale():
    rng = np.random.default_rng(0)
    noisy = laplace_histogram(np.zeros(200_000), epsilon=0.5, rng=rng)
    assert np.mean(np.abs(noisy)) == pytest.approx(2.0, rel=0.02)  # E|Laplace(b)| = b = 1/ε


def test_partition_selection_drops_singletons_and_keeps_frequent_keys():
    rng = np.random.default_rng(0)
    kept = select_partitions({"common": 500.0, "rare": 1.0}, epsilon=1.0, delta=1e-6, rng=rng)
    assert kept == ["common"]
    assert partition_threshold(1.0, 1e-6) == pytest.approx(1 + np.log(1 / 2e-6))


def test_exponential_quantile_is_close_on_plenty_of_data():
    rng = np.random.default_rng(1)
    values = rng.normal(50, 10, 5000)
    q = exponential_quantile(values, quantile=0.5, lower=0, upper=100, epsilon=1.0, rng=rng)
    assert abs(q - np.median(values)) < 1.0


def test_dp_bounds_bracket_the_bulk_of_the_data():
    rng = np.random.default_rng(2)
    values = rng.uniform(20, 90, 5000)
    low, high = dp_bounds(values, epsilon=1.0, rng=rng)
    coarse = approximate_bounds(values, epsilon=1.0, rng=np.random.default_rng(3))
    assert coarse == (16.0, 128.0)  # the power-of-two bins around [20, 90]
    # The exponential mechanism is exact in rank, loose in value next to wide empty gaps.
    assert 15 < low < 25 and 85 < high <= 128


def test_secure_random_draws_laplace():
    draws = SecureRandom().laplace(0.0, 1.0, size=2000)
    assert draws.shape == (2000,)
    assert np.mean(np.abs(draws)) == pytest.approx(1.0, rel=0.15)

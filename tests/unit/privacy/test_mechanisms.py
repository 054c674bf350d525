import inspect
import math

import numpy as np
import pytest

from dpsynth.privacy import mechanisms
from dpsynth.privacy.mechanisms import (
    approximate_bounds,
    dp_bounds,
    exponential_quantile,
    laplace_histogram,
    partition_threshold,
    select_partitions,
)


def test_laplace_histogram_noise_has_the_calibrated_scale():
    noisy = laplace_histogram(np.zeros(50_000), epsilon=0.5)
    assert np.mean(np.abs(noisy)) == pytest.approx(2.0, rel=0.03)  # E|Laplace(b)| = b = 1/ε
    assert laplace_histogram(np.zeros((2, 3)), epsilon=1.0).shape == (2, 3)


def test_rule_9_mechanisms_take_no_seed_and_never_repeat_their_noise():
    """Our mechanisms draw from OpenDP's OS CSPRNG: no rng or seed argument exists to replay."""
    for fn in (laplace_histogram, select_partitions, approximate_bounds, exponential_quantile, dp_bounds):
        assert not {"rng", "seed", "random_state"} & set(inspect.signature(fn).parameters), fn.__name__
    first, second = laplace_histogram(np.zeros(20), epsilon=1.0), laplace_histogram(np.zeros(20), epsilon=1.0)
    assert not np.allclose(first, second)


def test_partition_selection_drops_singletons_and_keeps_frequent_keys():
    kept = select_partitions({"common": 500, "rare": 1}, epsilon=1.0, delta=1e-6)
    assert kept == ["common"]
    # OpenDP's smallest threshold that keeps δ: the textbook 1 + ln(1/(2δ))/ε, rounded down.
    assert partition_threshold(1.0, 1e-6) == math.floor(1 + np.log(1 / 2e-6))


def test_a_mechanism_whose_privacy_map_exceeds_the_charge_is_refused(monkeypatch):
    real = mechanisms.dp.m.make_laplace

    def leaky(*args, scale, **kwargs):  # twice the ε that was asked for
        return real(*args, scale=scale / 2, **kwargs)

    monkeypatch.setattr(mechanisms.dp.m, "make_laplace", leaky)
    with pytest.raises(mechanisms.DpsynthError, match="was charged"):
        laplace_histogram(np.zeros(3), epsilon=1.0)


def test_exponential_quantile_is_close_on_plenty_of_data():
    values = np.random.default_rng(1).normal(50, 10, 5000)
    q = exponential_quantile(values, quantile=0.5, lower=0, upper=100, epsilon=1.0)
    assert abs(q - np.median(values)) < 1.0


def test_dp_bounds_bracket_the_bulk_of_the_data():
    values = np.random.default_rng(2).uniform(20, 90, 5000)
    low, high = dp_bounds(values, epsilon=1.0)
    coarse = approximate_bounds(values, epsilon=1.0)  # the power-of-two bins around [20, 90], one more each side
    assert (coarse.lower, coarse.upper) == (8.0, 256.0) and coarse.noisy_total == pytest.approx(5000, abs=200)
    # The 0.5 % quantile lies 25 ranks from the extreme value: the exponential mechanism finds the
    # bulk's edge, and may land anywhere in the empty stretch up to the coarse bound beyond it.
    assert 8 <= low < 25 and 85 < high <= 256


def test_coarse_bounds_ignore_empty_bins_and_keep_sparse_tails():
    """A bin of noise alone must pass at most 0.1 % of runs over all bins; a tail too sparse
    to pass sits in the extra bin on each side."""
    values = np.concatenate([np.random.default_rng(3).uniform(20, 90, 3000), [200.0] * 5])
    runs = [approximate_bounds(values, epsilon=0.5) for _ in range(200)]
    assert sum((b.lower, b.upper) != (8.0, 256.0) for b in runs) <= 3  # expected 0.2 runs


def test_dp_bounds_fall_back_to_coarse_bounds_when_quantiles_would_be_noise():
    values = np.random.default_rng(4).uniform(20, 90, 3000)
    assert mechanisms.quantile_rank_error(0.02 / 4) > 0.05 * 3000  # the quantiles would miss by > 5 % of n
    bounds = dp_bounds(values, epsilon=0.02)  # coarse bounds (powers of two around the bulk), or None
    assert bounds is None or (math.log2(bounds[0]).is_integer() and math.log2(bounds[1]).is_integer()
                              and bounds[0] <= 32 and bounds[1] >= 128)
    assert approximate_bounds(np.zeros(0), epsilon=1.0) is None

"""The moments family: how much one unit moves each measurement (the sensitivity its noise is
calibrated to), the ρ it spends, and that the Gaussian it fits follows the class means."""

import math

import numpy as np
import pytest
import torch

from dpsynth.families import moments
from dpsynth.families.moments import (CENTRE, CLIP, COUNTS, COVARIANCE, MEANS, REFERENCE_CLIP, SHARES, GaussianMoments,
                                     MomentsLayout, measure_moments, resolve_covariance)
from dpsynth.images.basis import dct_basis
from dpsynth.privacy.marginals import plan_marginals

PIXELS = 16  # 4 × 4 grey images
BLOCKS = [slice(0, 2)]  # the target's own block is the only attribute


def units(n: int, rng: np.random.Generator, rows: int = 1, spreads: tuple[float, float] = (0.2, 0.2)):
    """x [n, rows, 2 + 16]: a one-hot target, then pixels in [-1, 1] whose mean and spread depend on it."""
    y = rng.integers(0, 2, n)
    x = np.zeros((n, rows, 2 + PIXELS), np.float32)
    x[np.arange(n), :, y] = 1.0
    level = np.where(y == 1, 0.6, -0.6)[:, None, None]
    spread = np.asarray(spreads)[y][:, None, None]
    x[:, :, 2:] = np.clip(level + spread * rng.normal(0, 1, (n, rows, PIXELS)), -1, 1)
    c = np.zeros((n, rows, 2), np.float32)
    c[np.arange(n), :, y] = 1.0
    return torch.from_numpy(x), torch.from_numpy(c), torch.ones(n, rows)


def module(components: int = PIXELS) -> GaussianMoments:
    layout = MomentsLayout.scaled(blocks=BLOCKS, target=0, values=slice(2, 2 + PIXELS),
                                  basis=dct_basis(4, 4, 1, components))
    return GaussianMoments(layout, width=2 + PIXELS, n_targets=2)


def plan(epsilon: float = 4.0):
    return plan_marginals(epsilon=epsilon, delta=1e-5, shares=SHARES, label="noisy moments")


@pytest.mark.parametrize("covariance", ["shared", "per-class", "diagonal"])
@pytest.mark.parametrize("rows", [1, 3])
def test_one_unit_moves_each_measurement_by_at_most_its_sensitivity(rows, covariance, monkeypatch):
    """Adjacent data (one unit removed, an extreme one: all pixels white): each measured vector
    differs by at most the sensitivity its noise is calibrated to (counts √blocks, centre C₀,
    class means C, covariance C² for the clips the private quantiles released), and each
    quantile reads one value per unit over a public grid."""
    x, c, mask = units(200, np.random.default_rng(1), rows=rows)
    x[0, :, 2:] = 1.0
    seen, quantiles = [], []
    bound = 0.8

    def quantile(values, *, candidates, alpha, rho):
        quantiles.append((len(values), tuple(candidates), alpha))
        return bound

    def capture(values, *, sensitivity, rho):
        """No noise; the counts and centre of both runs are the first run's (the later stages are
        compared given the same earlier DP outputs, as adaptive composition does)."""
        seen.append((np.asarray(values, float).copy(), sensitivity, rho))
        return seen[len(seen) - 5][0] if len(seen) in (5, 6) else np.asarray(values, float)

    monkeypatch.setattr(moments, "gaussian_counts", capture)
    monkeypatch.setattr(moments, "private_quantile", quantile)
    for data in ((x, c, mask), (x[1:], c[1:], mask[1:])):
        measure_moments(module(), data, plan(), blocks=BLOCKS, target=0, clip_quantile=0.5, covariance=covariance,
                        progress=False)
    full, less = seen[:4], seen[4:]
    assert [q[0] for q in quantiles] == [200, 200, 199, 199] and len({q[1:] for q in quantiles}) == 1
    expected = [math.sqrt(len(BLOCKS)), bound, bound, bound ** 2]
    for (a, sensitivity, _), (b, _, _), limit in zip(full, less, expected):
        assert sensitivity == pytest.approx(limit)
        assert np.linalg.norm(a - b) <= sensitivity + 1e-9
    assert np.linalg.norm(full[1][0] - less[1][0]) > 0.5 * bound  # the bounds are reached, not loose
    assert np.linalg.norm(full[2][0] - less[2][0]) > 0.5 * bound
    assert full[3][0].shape == {"shared": (1, 136), "per-class": (2, 136), "diagonal": (2, 16)}[covariance]


def test_the_stages_spend_the_planned_rho_and_nothing_else(monkeypatch):
    spent = []
    gaussian, quantile = moments.gaussian_counts, moments.private_quantile

    def spy_gaussian(values, *, sensitivity, rho):
        spent.append(rho)
        return gaussian(values, sensitivity=sensitivity, rho=rho)

    def spy_quantile(values, **kwargs):
        spent.append(kwargs["rho"])
        return quantile(values, **kwargs)

    monkeypatch.setattr(moments, "gaussian_counts", spy_gaussian)
    monkeypatch.setattr(moments, "private_quantile", spy_quantile)
    the_plan = plan()
    log = measure_moments(module(), units(100, np.random.default_rng(0)), the_plan, blocks=BLOCKS, target=0,
                          clip_quantile=0.5, progress=False)
    the_plan.check_spent()
    assert sum(spent) == pytest.approx(the_plan.rho)
    assert [stage for stage, _ in the_plan.spent] == [COUNTS, REFERENCE_CLIP, CENTRE, CLIP, MEANS, COVARIANCE]
    assert set(log.noise_sd) == {COUNTS, CENTRE, MEANS, COVARIANCE} and log.clip > 0


def test_at_a_large_budget_the_class_means_and_samples_follow_the_classes():
    fitted = module()
    log = measure_moments(fitted, units(3000, np.random.default_rng(2)), plan(epsilon=200.0), blocks=BLOCKS, target=0,
                          clip_quantile=0.95, progress=False)
    assert log.n_hat == pytest.approx(3000, rel=0.01) and log.steps == 0
    c = torch.zeros(400, 2)
    c[:200, 0], c[200:, 1] = 1.0, 1.0
    out = fitted.generate(c, generator=torch.Generator().manual_seed(0))
    pixels = out[:, 2:]
    assert pixels[:200].mean() == pytest.approx(-0.6, abs=0.05) and pixels[200:].mean() == pytest.approx(0.6, abs=0.05)
    assert pixels[:200].std(0).mean() == pytest.approx(0.2, abs=0.05)  # varied images, not one template
    assert (out[:200, :2].argmax(1) == 0).all() and (out[200:, :2].argmax(1) == 1).all()


def test_a_per_class_covariance_keeps_each_class_spread_and_a_shared_one_pools_them():
    data = units(4000, np.random.default_rng(5), spreads=(0.1, 0.3))
    c = torch.zeros(400, 2)
    c[:200, 0], c[200:, 1] = 1.0, 1.0
    spreads = {}
    for covariance in ("shared", "per-class", "diagonal"):
        fitted = module()
        measure_moments(fitted, data, plan(epsilon=200.0), blocks=BLOCKS, target=0, clip_quantile=0.95,
                        covariance=covariance, progress=False)
        pixels = fitted.generate(c, generator=torch.Generator().manual_seed(0))[:, 2:]
        spreads[covariance] = (pixels[:200].std(0).mean().item(), pixels[200:].std(0).mean().item())
        if covariance == "diagonal":  # variances only: the off-diagonal of each Σ_y is 0
            sigma = fitted.factor @ fitted.factor.transpose(1, 2)
            assert torch.allclose(sigma, torch.diag_embed(torch.diagonal(sigma, dim1=1, dim2=2)), atol=1e-6)
    for own in ("per-class", "diagonal"):
        assert spreads[own][0] == pytest.approx(0.1, abs=0.03) and spreads[own][1] == pytest.approx(0.3, abs=0.05)
    assert abs(spreads["shared"][0] - spreads["shared"][1]) < 0.03  # one covariance for both classes


@pytest.mark.parametrize("covariance", ["shared", "per-class", "diagonal"])
def test_a_named_covariance_is_measured_whatever_the_counts(covariance):
    assert resolve_covariance(covariance, np.array([1.0, 1e6]), rho=1.0, components=64) == covariance


def test_auto_measures_per_class_only_when_every_class_has_enough_units_for_the_budget():
    """n_y·√(2ρ)/k ≥ 1 for every class: 64 components, ρ = 0.5 -> 64 units per class."""
    assert resolve_covariance("auto", np.array([64.0, 500.0]), rho=0.5, components=64) == "per-class"
    assert resolve_covariance("auto", np.array([63.0, 500.0]), rho=0.5, components=64) == "shared"
    assert resolve_covariance("auto", np.array([64.0, 500.0]), rho=0.1, components=64) == "shared"
    assert resolve_covariance("auto", np.array([64.0, 500.0]), rho=0.5, components=128) == "shared"


def test_auto_decides_on_the_noisy_class_counts_not_the_exact_ones(monkeypatch):
    """The choice is post-processing of stage 1's DP counts: it must read those, never the
    exact class counts (which would make the covariance's shape itself leak them)."""
    counts = []

    def spy(covariance, class_counts, *, rho, components):
        counts.append(np.asarray(class_counts, float).copy())
        return resolve_covariance(covariance, class_counts, rho=rho, components=components)

    monkeypatch.setattr(moments, "resolve_covariance", spy)
    data = units(400, np.random.default_rng(3))
    exact = data[1][:, 0].sum(0).numpy()
    log = measure_moments(module(), data, plan(epsilon=1.0), blocks=BLOCKS, target=0, clip_quantile=0.5,
                          covariance="auto", progress=False)
    assert len(counts) == 1 and not np.allclose(counts[0], exact)
    assert np.abs(counts[0] - exact).max() < 100  # the noisy counts, near the exact ones
    assert log.covariance in {"shared", "per-class"}


def test_auto_at_a_large_budget_keeps_each_class_spread():
    fitted = module()
    log = measure_moments(fitted, units(4000, np.random.default_rng(5), spreads=(0.1, 0.3)), plan(epsilon=200.0),
                          blocks=BLOCKS, target=0, clip_quantile=0.95, covariance="auto", progress=False)
    assert log.covariance == "per-class"
    c = torch.zeros(400, 2)
    c[:200, 0], c[200:, 1] = 1.0, 1.0
    pixels = fitted.generate(c, generator=torch.Generator().manual_seed(0))[:, 2:]
    assert pixels[:200].std(0).mean().item() == pytest.approx(0.1, abs=0.03)


def test_units_at_nearly_one_distance_still_get_a_clip_at_that_distance():
    """Every image about ±0.5 around mid-grey with random signs: all distances from the centre
    between 1.00 and 1.04; the private quantile must find them, not draw a candidate at random (the
    exponential mechanism scores alike every candidate on one side of all the data)."""
    rng = np.random.default_rng(6)
    x, c, mask = units(1000, rng)
    signs = rng.choice([-0.5, 0.5], (1000, 1, PIXELS)) * rng.uniform(1.0, 1.04, (1000, 1, 1))
    x[:, :, 2:] = torch.from_numpy(signs.astype(np.float32))
    clips = [measure_moments(module(), (x, c, mask), plan(epsilon=10.0), blocks=BLOCKS, target=0, clip_quantile=0.5,
                             progress=False).clip for _ in range(5)]
    assert np.allclose(clips, 1.02, rtol=0.03), clips  # ‖v − centre‖ ≈ 0.25 · √16 · U(1, 1.04) in [0, 1] units


def test_the_membership_loss_is_lower_for_a_typical_image_than_for_an_outlier():
    fitted = module()
    measure_moments(fitted, units(2000, np.random.default_rng(3)), plan(epsilon=100.0), blocks=BLOCKS, target=0,
                    clip_quantile=0.95, progress=False)
    x, c, mask = units(2, np.random.default_rng(4))
    outlier = x.clone()
    outlier[:, :, 2:] = -x[:, :, 2:]
    assert (fitted(x, c, mask) < fitted(outlier, c, mask)).all()

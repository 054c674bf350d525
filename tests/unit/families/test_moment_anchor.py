"""A diffusion model anchored on measured moments: the anchor is the exact denoiser of the
measured Gaussian, DP-SGD moves only the network, and the untrained model samples the Gaussian."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from dpsynth.families.diffusion import OneHotDiffusion
from dpsynth.families.anchor import zero_output
from dpsynth.families.moment_anchor import MOMENT_ANCHOR_LABEL, MomentAnchor, measure_moment_anchor, plan_moment_anchor
from dpsynth.families.moments import SHARES, GaussianMoments, MomentsLayout
from dpsynth.images.basis import dct_basis

PIXELS, TARGETS = 16, 2  # 4 × 4 grey images; the target's one-hot is the only attribute


def gaussian(components: int, seed: int = 0, spread: float = 0.2) -> GaussianMoments:
    """A GaussianMoments over ``components`` DCT coefficients with set (not measured) buffers:
    per-class means and covariances whose factors have orthogonal columns, as measured ones do."""
    layout = MomentsLayout.scaled(blocks=[slice(0, TARGETS)], target=0, values=slice(TARGETS, TARGETS + PIXELS),
                                  basis=dct_basis(4, 4, 1, components))
    moments = GaussianMoments(layout, width=TARGETS + PIXELS, n_targets=TARGETS)
    g = torch.Generator().manual_seed(seed)
    k = components
    moments.centre.copy_(moments.reference().float() + 0.5 * spread * torch.randn(k, generator=g))
    moments.means.copy_(1.5 * spread * torch.randn(TARGETS, k, generator=g))
    for y in range(TARGETS):
        a = spread * torch.randn(k, k, generator=g, dtype=torch.float64)
        eigenvalues, vectors = torch.linalg.eigh(a @ a.T)
        moments.factor[y] = (vectors * eigenvalues.clamp_min(0).sqrt()).float()
    return moments


def exact_posterior_mean(moments: GaussianMoments, y: int, x_t: torch.Tensor, a: float, tau: float,
                         scale: float) -> torch.Tensor:
    """E[x0 | x_t] by the textbook formula in pixel space (float64), x0 = scale·(diffused x0)."""
    basis = moments.basis.double()
    mean = 2 * ((moments.centre + moments.means[y]).double() @ basis) - 1
    cov_z = moments.factor[y].double() @ moments.factor[y].double().T
    cov = 4 * basis.T @ cov_z @ basis + tau * (torch.eye(PIXELS, dtype=torch.float64) - basis.T @ basis)
    mean_d, cov_d = mean / scale, cov / scale ** 2
    gain = math.sqrt(a) * cov_d @ torch.linalg.inv(a * cov_d + (1 - a) * torch.eye(PIXELS, dtype=torch.float64))
    return scale * (mean_d + (x_t.double() - math.sqrt(a) * mean_d) @ gain.T)


@pytest.mark.parametrize("components", [PIXELS, 6])
@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_the_posterior_mean_is_the_measured_gaussians_exact_denoiser(components, scale):
    moments = gaussian(components)
    tau = 0.01
    for y in range(TARGETS):
        c = torch.zeros(5, TARGETS)
        c[:, y] = 1.0
        for a in (0.999, 0.5, 0.02):
            x_t = torch.randn(5, PIXELS)
            got = moments.posterior_mean(x_t, c, torch.full((5, 1), a), complement_variance=tau, scale=scale)
            torch.testing.assert_close(got.double(), exact_posterior_mean(moments, y, x_t, a, tau, scale),
                                       atol=2e-4, rtol=1e-4)


def anchored_model(components: int = PIXELS, spread: float = 0.2) -> OneHotDiffusion:
    class Network(nn.Module):
        """Any denoiser: a linear map of [x_t, c, t-embedding] with its output zeroed, as the generator does."""

        def __init__(self):
            super().__init__()
            self.out = nn.Linear(PIXELS + TARGETS + 1, PIXELS)

        def forward(self, x_t, c, t):
            return self.out(torch.cat([x_t, c, t[..., None].float() / 1000], -1))

    network = Network()
    zero_output(network.out)
    return OneHotDiffusion(network, blocks=[], continuous_width=PIXELS, to_x0=lambda x: x,
                           reconstruction_loss=lambda output, x: ((output - x) ** 2).sum(-1),
                           condition_dropout=0.1, guidance=2.0, sampling_steps=50,
                           tail_anchor=MomentAnchor(gaussian(components, spread=spread), complement_variance=0.01))


def test_before_any_step_the_prediction_is_the_anchors_whatever_the_guidance():
    model = anchored_model()
    c = torch.eye(TARGETS)[[0, 1, 1]]
    x_t, t = torch.randn(3, PIXELS), torch.tensor([10, 500, 990])
    expected = model.tail_anchor.posterior_mean(x_t, c, model.alpha_bar[t][:, None])
    for guidance in (0.0, 2.0):
        torch.testing.assert_close(model.model_logits(x_t, c, t, guidance), expected)
    # the network's condition can be dropped while the anchor keeps the row's class
    torch.testing.assert_close(model.model_logits(x_t, c, t, network_c=torch.zeros_like(c)), expected)


def test_dp_sgd_can_move_the_network_but_never_the_measured_gaussian():
    model = anchored_model()
    trainable = {id(p) for p in model.parameters()}
    assert list(model.tail_anchor.parameters()) == []
    assert all(id(b) not in trainable for b in model.tail_anchor.buffers())
    assert {name for name, _ in model.named_buffers()} >= {"tail_anchor.moments.means", "tail_anchor.moments.factor"}


def test_the_untrained_model_samples_each_classs_measured_gaussian():
    """DDIM with the exact posterior mean carries noise to the Gaussian: per class, the samples'
    mean and spread are the measured ones (the anchor alone decides them before DP-SGD)."""
    model = anchored_model(spread=0.03)  # narrow enough that the [-1, 1] clamp of x0 almost never acts
    moments = model.tail_anchor.moments
    n = 4000
    for y in range(TARGETS):
        c = torch.zeros(n, TARGETS)
        c[:, y] = 1.0
        out = model.generate(c, generator=torch.Generator().manual_seed(y))
        mean = 2 * ((moments.centre + moments.means[y]) @ moments.basis) - 1
        cov = 4 * moments.basis.T @ moments.factor[y] @ moments.factor[y].T @ moments.basis
        assert (out.abs() < 1).float().mean() > 0.99
        torch.testing.assert_close(out.mean(0), mean, atol=0.02, rtol=0)
        torch.testing.assert_close(out.var(0), cov.diagonal(), atol=2e-3, rtol=0.2)


def test_the_anchor_plan_splits_rho_as_the_moments_family_does_and_names_itself():
    plan = plan_moment_anchor(epsilon=0.6, delta=5e-6)
    assert plan.epsilon <= 0.6 and plan.delta == 5e-6
    for stage, share in SHARES.items():
        assert math.isclose(plan.stages[stage], share * plan.rho)
    assert plan.label == MOMENT_ANCHOR_LABEL and plan.parts == (plan,)


def test_measuring_fills_the_anchor_within_its_plan():
    rng = np.random.default_rng(0)
    n = 600
    y = rng.integers(0, TARGETS, n)
    x = np.zeros((n, 1, TARGETS + PIXELS), np.float32)
    x[np.arange(n), 0, y] = 1.0
    x[:, 0, TARGETS:] = np.clip(np.where(y == 1, 0.5, -0.5)[:, None] + 0.1 * rng.normal(size=(n, PIXELS)), -1, 1)
    c = x[:, :, :TARGETS].copy()
    anchor = MomentAnchor(gaussian(PIXELS), complement_variance=0.01)
    anchor.moments.means.zero_()
    plan = plan_moment_anchor(epsilon=8.0, delta=1e-5)
    layout = MomentsLayout.scaled(blocks=[slice(0, TARGETS)], target=0, values=slice(TARGETS, TARGETS + PIXELS),
                                  basis=dct_basis(4, 4, 1, PIXELS))
    measure_moment_anchor(anchor, (torch.from_numpy(x), torch.from_numpy(c), torch.ones(n, 1)), plan, layout,
                          progress=False)
    plan.check_spent()
    means = 2 * ((anchor.moments.centre + anchor.moments.means) @ anchor.moments.basis) - 1
    assert means[0].mean() == pytest.approx(-0.5, abs=0.1) and means[1].mean() == pytest.approx(0.5, abs=0.1)


def test_an_anchor_needs_a_continuous_tail_and_a_positive_outside_variance():
    with pytest.raises(ValueError, match="continuous tail"):
        OneHotDiffusion(nn.Identity(), blocks=[(0, 2)], reconstruction_loss=lambda o, x: o.sum(-1),
                        tail_anchor=MomentAnchor(gaussian(PIXELS), complement_variance=0.01))
    with pytest.raises(ValueError, match="complement_variance"):
        MomentAnchor(gaussian(PIXELS), complement_variance=0.0)


def test_an_anchored_model_clamps_its_x0_estimate_only_at_the_last_step():
    """The anchor's Gaussian reaches beyond [-1, 1]: clamping every step would shrink what it samples."""
    output = 3 * torch.ones(2, PIXELS)
    anchored = anchored_model()
    assert anchored.x0_estimate(output, last=False).max() == 3.0
    assert anchored.x0_estimate(output, last=True).max() == 1.0
    anchored.tail_anchor = None  # the plain diffusion model clamps every step, as before
    assert anchored.x0_estimate(output, last=False).max() == 1.0

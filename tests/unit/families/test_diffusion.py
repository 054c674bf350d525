"""The diffusion family: schedule, q_sample, per-unit loss with K draws, deterministic sampler."""

import pytest
import torch

from dpsynth.backbones import MLP
from dpsynth.families.diffusion import (
    Denoiser,
    OneHotDiffusion,
    SinusoidalEmbedding,
    cosine_alpha_bar,
    cosine_schedule,
)

BLOCKS = [(0, 3), (3, 5), (5, 9)]
WIDTH, COND = 9, 4


def row_loss(logits, target):
    loss = logits.new_zeros(logits.shape[:-1])
    for a, b in BLOCKS:
        loss = loss - (target[..., a:b] * logits[..., a:b].log_softmax(-1)).sum(-1)
    return loss


def make_module(multiplicity=4, sampling_steps=10, seed=0, timesteps=100):
    torch.manual_seed(seed)
    body = MLP(WIDTH + COND + 16, WIDTH, (32,))
    return OneHotDiffusion(Denoiser(body, time_dim=16), blocks=BLOCKS, reconstruction_loss=row_loss,
                           timesteps=timesteps, sampling_steps=sampling_steps, multiplicity=multiplicity)


def make_batch(units=6, rows=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(units, rows, WIDTH)
    for a, b in BLOCKS:
        idx = torch.randint(a, b, (units, rows), generator=g)
        x.scatter_(-1, idx[..., None], 1.0)
    c = torch.zeros(units, rows, COND)
    c.scatter_(-1, torch.randint(0, COND, (units, rows, 1), generator=g), 1.0)
    mask = torch.ones(units, rows)
    mask[0, 2] = 0.0
    return x, c, mask


def test_cosine_schedule_is_decreasing_and_inside_the_unit_interval():
    alpha_bar = cosine_schedule(1000)
    assert alpha_bar.shape == (1000,)
    assert torch.all(alpha_bar > 0) and torch.all(alpha_bar < 1)
    assert torch.all(alpha_bar[1:] < alpha_bar[:-1])
    assert alpha_bar[0] > 0.999 and alpha_bar[-1] < 1e-3
    t = torch.linspace(0, 1, 11)
    assert torch.all(cosine_alpha_bar(t)[1:] <= cosine_alpha_bar(t)[:-1])


def test_q_sample_is_data_at_t0_and_noise_at_T():
    module = make_module(timesteps=1000)
    x0 = 2 * make_batch()[0] - 1
    noise = torch.randn_like(x0)
    first = torch.zeros(x0.shape[:-1], dtype=torch.long)
    last = torch.full(x0.shape[:-1], module.timesteps - 1, dtype=torch.long)
    assert torch.allclose(module.q_sample(x0, first, noise), x0, atol=0.05)
    assert torch.allclose(module.q_sample(x0, last, noise), noise, atol=0.05)


def test_sinusoidal_embedding_keeps_leading_dims():
    assert SinusoidalEmbedding(16)(torch.arange(12).reshape(3, 4)).shape == (3, 4, 16)


@pytest.mark.parametrize("k", [1, 4])
def test_forward_returns_one_finite_loss_per_unit(k):
    module = make_module(multiplicity=k)
    x, c, mask = make_batch()
    loss = module(x, c, mask)
    assert loss.shape == (6,) and torch.isfinite(loss).all() and (loss > 0).all()


def test_forward_averages_the_k_draws_inside_each_unit():
    module = make_module(multiplicity=4)
    x, c, mask = make_batch()
    torch.manual_seed(3)
    loss = module(x, c, mask)
    torch.manual_seed(3)  # redo the same draws by hand: [B, R·K] layout, mean over K then rows
    xk, ck = x.repeat_interleave(4, dim=1), c.repeat_interleave(4, dim=1)
    t = torch.randint(0, module.timesteps, xk.shape[:-1])
    per_draw = module.p_losses(xk, ck, t, torch.randn_like(xk)).reshape(6, 3, 4)
    expected = (per_draw.mean(-1) * mask).sum(-1) / mask.sum(-1)
    torch.testing.assert_close(loss, expected)


def test_a_units_loss_does_not_depend_on_the_other_units():
    module = make_module()
    x, c, mask = make_batch()
    t = torch.randint(0, module.timesteps, x.shape[:-1])
    noise = torch.randn_like(x)
    full = module.p_losses(x, c, t, noise)
    alone = module.p_losses(x[2:3], c[2:3], t[2:3], noise[2:3])
    torch.testing.assert_close(full[2:3], alone)
    masked = make_batch()[2]  # an absent row adds nothing to its unit's loss
    x_changed = x.clone()
    x_changed[0, 2] = 0.0
    torch.manual_seed(5)
    a = module(x, c, masked)
    torch.manual_seed(5)
    b = module(x_changed, c, masked)
    torch.testing.assert_close(a[0], b[0])


def test_sampler_is_deterministic_given_the_generator_and_returns_logits():
    module = make_module().eval()
    c = make_batch()[1][:, 0]
    a = module.generate(c, generator=torch.Generator().manual_seed(0))
    b = module.generate(c, generator=torch.Generator().manual_seed(0))
    d = module.generate(c, generator=torch.Generator().manual_seed(1))
    assert a.shape == (6, WIDTH) and torch.isfinite(a).all()
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, d)


def test_rejects_bad_settings():
    with pytest.raises(ValueError):
        make_module(multiplicity=0)
    with pytest.raises(ValueError):
        make_module(sampling_steps=500)


def test_likelihood_logits_are_the_exact_block_posterior_under_a_flat_prior():
    module = make_module(timesteps=1000)
    x_t = torch.randn(5, WIDTH)
    t = torch.full((5,), 700)
    a = module.alpha_bar[700]
    a_block, b_block = BLOCKS[2]
    choices = 2 * torch.eye(b_block - a_block) - 1  # the block's possible x0 values
    log_density = -((x_t[:, None, a_block:b_block] - a.sqrt() * choices) ** 2).sum(-1) / (2 * (1 - a))
    expected = log_density.softmax(-1)
    got = module.likelihood_logits(x_t, t)[:, a_block:b_block].softmax(-1)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_at_low_noise_the_predicted_x0_is_the_data():
    module = make_module(timesteps=1000)
    x = make_batch()[0]
    t = torch.zeros(x.shape[:-1], dtype=torch.long)
    logits = module.model_logits(module.q_sample(2 * x - 1, t, torch.randn_like(x)), make_batch()[1], t)
    for a, b in BLOCKS:
        assert torch.equal(logits[..., a:b].argmax(-1), x[..., a:b].argmax(-1))


def test_guidance_needs_condition_dropout_and_mixes_conditional_and_null_predictions():
    with pytest.raises(ValueError, match="condition_dropout"):
        OneHotDiffusion(Denoiser(MLP(WIDTH + COND + 16, WIDTH, (8,)), time_dim=16), blocks=BLOCKS,
                        reconstruction_loss=row_loss, guidance=1.0)
    module = make_module()
    x, c = torch.randn(5, WIDTH), torch.eye(COND)[torch.tensor([0, 1, 2, 3, 0])]
    t = torch.full((5,), 40)
    base = module.likelihood_logits(x, t)
    conditional, null = module.denoiser(x, c, t), module.denoiser(x, torch.zeros_like(c), t)
    torch.testing.assert_close(module.model_logits(x, c, t), base + conditional)
    torch.testing.assert_close(module.model_logits(x, c, t, guidance=2.0), base + 3 * conditional - 2 * null)


def test_condition_dropout_trains_the_null_condition_on_some_draws():
    """With dropout p the denoiser sees the all-zero condition on about a share p of the draws."""
    module = make_module(multiplicity=1)
    module.condition_dropout = 0.3
    seen = []
    original = module.denoiser.forward
    module.denoiser.forward = lambda x_t, c, t: (seen.append(c.detach().clone()), original(x_t, c, t))[1]
    x, c, mask = make_batch(units=200, rows=5)
    module(x, c, mask)
    dropped = (seen[0].sum(-1) == 0).float().mean().item()
    assert 0.25 < dropped < 0.35


# ------------------------------------------------------------------ a continuous tail (series)
TAIL = 4  # continuous x0 values after the blocks; input rows carry [one-hot | values | observed mask]


def tail_loss(output, target):
    """Block cross-entropy + squared error of the observed tail values (a codec's masked loss)."""
    values, observed = target[..., WIDTH:WIDTH + TAIL], target[..., WIDTH + TAIL:]
    return row_loss(output[..., :WIDTH], target[..., :WIDTH]) + ((output[..., WIDTH:] - values) ** 2 * observed).sum(-1)


def tail_x0(x):
    return torch.cat([2 * x[..., :WIDTH] - 1, x[..., WIDTH:WIDTH + TAIL]], dim=-1)


def make_tail_module(seed=0, **kwargs):
    torch.manual_seed(seed)
    body = MLP(WIDTH + TAIL + COND + 16, WIDTH + TAIL, (32,))
    return OneHotDiffusion(Denoiser(body, time_dim=16), blocks=BLOCKS, reconstruction_loss=tail_loss,
                           continuous_width=TAIL, to_x0=tail_x0, timesteps=100, sampling_steps=10, **kwargs)


def make_tail_batch(units=6, rows=3):
    x, c, mask = make_batch(units, rows)
    g = torch.Generator().manual_seed(7)
    observed = (torch.rand(units, rows, TAIL, generator=g) > 0.3).float()
    values = (torch.rand(units, rows, TAIL, generator=g) * 2 - 1) * observed
    return torch.cat([x, values, observed], dim=-1), c, mask


def test_default_x0_is_the_one_hot_map_and_widths_add_up():
    module, tail = make_module(), make_tail_module()
    x = make_batch()[0]
    torch.testing.assert_close(module.to_x0(x), 2 * x - 1)
    assert (module.onehot_width, module.continuous_width, module.width) == (WIDTH, 0, WIDTH)
    assert (tail.onehot_width, tail.continuous_width, tail.width) == (WIDTH, TAIL, WIDTH + TAIL)


def test_tail_output_is_the_x0_prediction_and_blocks_keep_their_likelihood_term():
    module = make_tail_module(condition_dropout=0.1)
    x_t, c, t = torch.randn(5, WIDTH + TAIL), torch.eye(COND)[torch.tensor([0, 1, 2, 3, 0])], torch.full((5,), 40)
    f, null = module.denoiser(x_t, c, t), module.denoiser(x_t, torch.zeros_like(c), t)
    out = module.model_logits(x_t, c, t)
    assert out.shape == (5, WIDTH + TAIL)
    assert module.likelihood_logits(x_t, t).shape == (5, WIDTH)
    torch.testing.assert_close(out[:, :WIDTH], module.likelihood_logits(x_t, t) + f[:, :WIDTH])
    torch.testing.assert_close(out[:, WIDTH:], f[:, WIDTH:])
    guided = module.model_logits(x_t, c, t, guidance=2.0)
    torch.testing.assert_close(guided[:, WIDTH:], 3 * f[:, WIDTH:] - 2 * null[:, WIDTH:])


def test_tail_loss_is_per_unit_averages_k_draws_and_ignores_unobserved_values():
    module = make_tail_module(multiplicity=3)
    x, c, mask = make_tail_batch()
    torch.manual_seed(3)
    loss = module(x, c, mask)
    torch.manual_seed(3)
    xk, ck = x.repeat_interleave(3, dim=1), c.repeat_interleave(3, dim=1)
    t = torch.randint(0, module.timesteps, xk.shape[:-1])
    per_draw = module.p_losses(xk, ck, t, torch.randn(*xk.shape[:-1], module.width)).reshape(6, 3, 3)
    torch.testing.assert_close(loss, (per_draw.mean(-1) * mask).sum(-1) / mask.sum(-1))
    t = torch.randint(0, module.timesteps, x.shape[:-1])
    noise = torch.randn(*x.shape[:-1], module.width)
    base = module.p_losses(x, c, t, noise)
    observed = x[..., WIDTH + TAIL:]
    original = module.denoiser.forward
    module.denoiser.forward = lambda x_t, c_, t_: original(x_t, c_, t_) + torch.cat(
        [torch.zeros(*x.shape[:-1], WIDTH), 5.0 * (1 - observed)], dim=-1)
    torch.testing.assert_close(module.p_losses(x, c, t, noise), base)


def test_tail_sampler_is_deterministic_and_returns_logits_and_values_in_range():
    module = make_tail_module().eval()
    c = make_batch()[1][:, 0]
    a = module.generate(c, generator=torch.Generator().manual_seed(0))
    b = module.generate(c, generator=torch.Generator().manual_seed(0))
    assert a.shape == (6, WIDTH + TAIL)
    torch.testing.assert_close(a, b)
    assert (a[:, WIDTH:].abs() <= 1).all()
    x0 = module.x0_estimate(torch.cat([torch.randn(6, WIDTH), 3 * torch.ones(6, TAIL)], dim=-1))
    assert (x0[:, WIDTH:] == 1).all()
    for lo, hi in BLOCKS:
        torch.testing.assert_close((x0[:, lo:hi] + 1).sum(-1) / 2, torch.ones(6))


def test_continuous_scale_diffuses_the_tail_divided_and_reports_it_in_data_units():
    module = make_tail_module(continuous_scale=0.1)
    x = make_tail_batch()[0]
    x0 = tail_x0(x)
    torch.testing.assert_close(module.diffused(x0)[..., :WIDTH], x0[..., :WIDTH])
    torch.testing.assert_close(module.diffused(x0)[..., WIDTH:], x0[..., WIDTH:] / 0.1)
    x_t, c, t = torch.randn(5, WIDTH + TAIL), torch.eye(COND)[torch.tensor([0, 1, 2, 3, 0])], torch.full((5,), 40)
    torch.testing.assert_close(module.model_logits(x_t, c, t)[:, WIDTH:], 0.1 * module.denoiser(x_t, c, t)[:, WIDTH:])
    out = module.eval().generate(c, generator=torch.Generator().manual_seed(0))
    assert (out[:, WIDTH:].abs() <= 1).all()
    with pytest.raises(ValueError, match="continuous_scale"):
        make_tail_module(continuous_scale=0.0)

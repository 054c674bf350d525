"""dp-series-diffusion: the one-hot diffusion family with a continuous signal tail, a 1-D U-Net
denoiser of temporal convolutions, one clipped gradient per subject."""

import numpy as np
import pytest
import torch
from opacus.grad_sample import GradSampleModuleFastGradientClipping
from opacus.validators import ModuleValidator

from dpsynth import registry
from dpsynth.backbones import SeriesDenoiser, TemporalConv
from dpsynth.families import training
from dpsynth.families.diffusion import OneHotDiffusion
from dpsynth.generators.series_diffusion import SeriesX0
from dpsynth.generators.series_diffusion import DPSeriesDiffusion
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.series.generator import SeriesGenerator
from tests.conftest import make_toy_series, make_toy_series_schema, pinned_private_randomness

BUDGET = PrivacyBudget(1.0, 1e-5)
TINY = dict(epochs=1, batch_size=16, hidden=(16,), n_bins=8, timesteps=100, sampling_steps=5, time_dim=8,
            base_channels=4)


def fit_tiny(**params):
    model = registry.create("dp-series-diffusion", make_toy_series_schema(), **(TINY | params))
    return model.fit(make_toy_series(), budget=BUDGET, random_state=0, progress=False)


@pytest.fixture(scope="module")
def spied():
    seen: dict = {}
    original = training.PrivacyEngine.make_private

    def spy(self, **kwargs):
        seen.update(kwargs)
        return original(self, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training.PrivacyEngine, "make_private", spy)
        model = fit_tiny()
    return model, seen


@pytest.fixture(scope="module")
def batch(spied):
    """Unit tensors of the toy data: x [U, R, input width], c, window mask; some samples missing."""
    model, _ = spied
    schema = make_toy_series_schema()
    conformed, _ = schema.conform(make_toy_series())
    groups, _ = model._condition_groups(conformed, schema)
    return model._unit_tensors(conformed, model.codec_, groups, schema, np.random.default_rng(0))


def test_is_registered_as_a_series_diffusion():
    info = registry.get("dp-series-diffusion")
    assert (info.family, info.modality, info.private) == ("diffusion", "series", True)
    assert issubclass(info.cls, SeriesGenerator) and info.cls is DPSeriesDiffusion


def test_defaults_are_documented_and_saved():
    params = registry.create("dp-series-diffusion", make_toy_series_schema()).get_params()
    expected = dict(timesteps=1000, sampling_steps=50, multiplicity=1, time_dim=64, base_channels=16, kernel=3,
                    mid_kernel=9, condition_dropout=0.1, guidance=2.0, signal_scale=0.1, batch_size=256,
                    rows_per_step=2, hidden=[64])
    assert {k: params[k] for k in expected} == expected
    assert all(f"\n{name} : " in DPSeriesDiffusion.__doc__ for name in expected)


def test_module_is_the_family_with_the_static_blocks_and_a_signal_tail(spied):
    model, _ = spied
    codec, module = model.codec_, model.module_
    assert isinstance(module, OneHotDiffusion)
    assert module.blocks == [(b.start, b.stop) for b in codec.static_codec.blocks]
    assert module.onehot_width == codec.static_width and module.continuous_width == 2 * codec.signal_width
    assert module.width == codec.width and module.continuous_scale == model.signal_scale


def test_dp_sgd_wiring_and_the_subject_is_the_privacy_unit(spied, batch):
    model, seen = spied
    data = make_toy_series()
    assert seen["module"] is model.module_  # the whole denoiser is private: it reads the data
    assert seen["poisson_sampling"] is True and seen["grad_sample_mode"] == "ghost"
    assert model.plan_.n_units == len(data.static) and model.log_.steps == model.plan_.steps
    assert model.plan_.sample_rate == pytest.approx(1 / -(-len(data.static) // TINY["batch_size"]))
    x, _, mask = batch
    assert x.shape[0] == len(data.static) and mask.sum(1).max() > 1
    torch.testing.assert_close(seen["data_loader"].dataset.tensors[0], x)


def test_x0_mapping(spied, batch):
    model, _ = spied
    codec = model.codec_
    s, w = codec.static_width, codec.signal_width
    x = batch[0]
    x0 = SeriesX0(codec)(x)
    assert x0.shape == (*x.shape[:-1], codec.width)
    torch.testing.assert_close(x0[..., :s], 2 * x[..., :s] - 1)
    _, values, scores = codec.split_output(x0)  # the tail is laid out as the codec's output
    torch.testing.assert_close(values, x[..., s:s + w])
    torch.testing.assert_close(scores, 2 * x[..., s + w:] - 1)
    assert set(x0[..., :s].unique().tolist()) <= {-1.0, 1.0}


def test_the_signal_loss_ignores_missing_samples(spied, batch):
    """Whatever the model predicts where a sample is missing adds nothing to the loss; observed
    samples do count."""
    model, _ = spied
    module, codec = model.module_, model.codec_
    s, w = codec.static_width, codec.signal_width
    x, c, _ = batch
    observed = x[..., s + w:]
    assert (observed == 0).any() and (observed == 1).any()  # the toy data has gaps
    t = torch.randint(0, module.timesteps, x.shape[:-1], generator=torch.Generator().manual_seed(0))
    noise = torch.randn(*x.shape[:-1], module.width, generator=torch.Generator().manual_seed(1))
    base = module.p_losses(x, c, t, noise)
    original = module.denoiser.forward

    def shifted(where):
        def forward(x_t, c_, t_):
            out = original(x_t, c_, t_)
            static, values, scores = codec.split_output(out)
            values = values + 10.0 / module.continuous_scale * where  # 10 in the data's units
            return torch.cat([static, codec.join_signal(values, scores)], dim=-1)
        return forward

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(module.denoiser, "forward", shifted(1 - observed))
        torch.testing.assert_close(module.p_losses(x, c, t, noise), base)
        mp.setattr(module.denoiser, "forward", shifted(observed))
        assert (module.p_losses(x, c, t, noise) > base)[observed.sum(-1) > 0].all()


def test_multiplicity_is_averaged_inside_each_unit(spied, batch):
    model, _ = spied
    module = model._build_module(model.codec_)
    module.multiplicity, module.condition_dropout = 3, 0.0
    x, c, mask = (t[:5] for t in batch)
    torch.manual_seed(3)
    loss = module(x, c, mask)
    torch.manual_seed(3)
    xk, ck = x.repeat_interleave(3, dim=1), c.repeat_interleave(3, dim=1)
    t = torch.randint(0, module.timesteps, xk.shape[:-1])
    noise = torch.randn(*xk.shape[:-1], module.width)
    per_draw = module.p_losses(xk, ck, t, noise).reshape(*mask.shape, 3)
    expected = (per_draw.mean(-1) * mask).sum(-1) / mask.sum(-1)
    assert loss.shape == (5,)
    torch.testing.assert_close(loss, expected)


def test_a_subjects_loss_depends_on_its_own_windows_only(spied, batch):
    model, _ = spied
    module = model.module_
    x, c, _ = (t[:4] for t in batch)
    t = torch.randint(0, module.timesteps, x.shape[:-1], generator=torch.Generator().manual_seed(2))
    noise = torch.randn(*x.shape[:-1], module.width, generator=torch.Generator().manual_seed(3))
    full = module.p_losses(x, c, t, noise)
    torch.testing.assert_close(full[1:2], module.p_losses(x[1:2], c[1:2], t[1:2], noise[1:2]))


def test_sampler_is_deterministic_given_a_generator_and_returns_the_output_layout(spied):
    model, _ = spied
    module, codec = model.module_, model.codec_
    c = torch.eye(codec.condition_width)[:6]
    a = module.generate(c, generator=torch.Generator().manual_seed(0))
    b = module.generate(c, generator=torch.Generator().manual_seed(0))
    d = module.generate(c, generator=torch.Generator().manual_seed(1))
    assert a.shape == (6, codec.width) and torch.isfinite(a).all()
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, d)
    assert (a[:, codec.static_width:].abs() <= 1).all()


@pytest.mark.parametrize("window", [32, 30, 17, 15, 9, 6])
def test_series_denoiser_shapes(window):
    torch.manual_seed(0)
    net = SeriesDenoiser(static_width=5, window=window, channels=3, extra_width=4, base=4, hidden=(8,))
    width = 5 + window * 3
    rows = torch.randn(2, 3, width + 4)
    out = net(rows)
    assert out.shape == (2, 3, width)
    assert net(torch.randn(7, width + 4)).shape == (7, width)
    torch.testing.assert_close(out, net(rows.reshape(6, -1)).reshape(2, 3, -1), rtol=1e-5, atol=1e-6)
    assert net(torch.zeros(0, 3, width + 4)).shape == (0, 3, width)


def test_series_denoiser_reads_every_input_part():
    torch.manual_seed(0)
    net = SeriesDenoiser(static_width=5, window=16, channels=2, extra_width=3, base=4, hidden=(8,))
    rows = torch.randn(1, 5 + 32 + 3)
    base = net(rows)
    for name, index in [("static", 1), ("value", 5 + 7), ("extra", 5 + 32 + 1)]:
        changed = rows.clone()
        changed[0, index] += 1.0
        out = net(changed)
        assert not torch.allclose(out[:, :5], base[:, :5]), name  # static logits
        assert not torch.allclose(out[:, 5:], base[:, 5:]), name  # values


def test_series_denoiser_is_temporal_convolutions_only_and_passes_opacus(spied):
    model, _ = spied
    module = model._build_module(model.codec_).train()
    assert ModuleValidator.validate(module, strict=False) == []
    assert not any(isinstance(m, (torch.nn.Conv1d, torch.nn.modules.batchnorm._BatchNorm, torch.nn.GroupNorm))
                   for m in module.modules())
    convs = [m for m in module.modules() if isinstance(m, TemporalConv)]
    assert len(convs) == 8 and all(type(m) in GradSampleModuleFastGradientClipping.NORM_SAMPLERS for m in convs)
    with pytest.raises(ValueError, match="odd"):
        SeriesDenoiser(static_width=2, window=8, channels=1, extra_width=1, kernel=4)


def test_ghost_norms_of_the_denoiser_are_per_unit_gradient_norms():
    torch.manual_seed(0)
    net = SeriesDenoiser(static_width=3, window=12, channels=2, extra_width=2, base=4, hidden=(8,))
    x = torch.randn(4, 3, 3 + 24 + 2)
    gsm = GradSampleModuleFastGradientClipping(net, loss_reduction="sum", max_grad_norm=1.0, use_ghost_clipping=True)
    gsm.train()
    gsm(x).pow(2).sum((1, 2)).sum().backward()
    ghost = gsm.get_norm_sample().detach()
    gsm._close()
    params = [p for p in net.parameters() if p.requires_grad]
    exact = [torch.sqrt(sum(g.pow(2).sum() for g in torch.autograd.grad(net(x[u:u + 1]).pow(2).sum(), params)))
             for u in range(4)]
    torch.testing.assert_close(ghost, torch.stack(exact), rtol=1e-3, atol=1e-5)


def test_hooks_mode_trains_the_same_model_as_ghost_mode():
    with pinned_private_randomness():
        ghost = fit_tiny()
    with pinned_private_randomness():
        hooks = fit_tiny(grad_sample_mode="hooks")
    for (name, a), b in zip(ghost.module_.state_dict().items(), hooks.module_.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)

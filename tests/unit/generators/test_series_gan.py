"""dp-series-gan: only the discriminator (with its classifier) is private, one clipped gradient per
subject; D sees real windows with their gaps filled by the paired fakes; the classifier cannot
see the condition columns."""

import pytest
import torch
from opacus.grad_sample import GradSampleModuleFastGradientClipping
from opacus.validators import ModuleValidator

from dpsynth import registry
from dpsynth.backbones import TemporalConv
from dpsynth.families import gan, training
from dpsynth.families.gan import DiscriminatorLoss
from dpsynth.generators.series_gan import DPSeriesGAN, SeriesRealView, SeriesSoftener
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.series.codec import SeriesCodec
from dpsynth.series.generator import SeriesGenerator
from dpsynth.series.schema import SeriesSchema
from tests.conftest import make_toy_series, make_toy_series_schema, pinned_private_randomness

BUDGET = PrivacyBudget(1.0, 1e-5)
TINY = dict(epochs=1, batch_size=16, hidden=(16,), n_bins=8, latent_dim=8, conv_channels=(4, 8), disc_hidden=(16,),
            aux_weight=1.0)  # the classifier is off by default; these tests exercise it
HIDDEN_COLUMNS = {"label", "sex", "age"}  # the target and the sensitive attributes' source columns


def fit_tiny(**params):
    model = registry.create("dp-series-gan", make_toy_series_schema(), **(TINY | params))
    return model.fit(make_toy_series(), budget=BUDGET, random_state=0, progress=False)


@pytest.fixture(scope="module")
def spied():
    """A fitted model, what opacus was given, and the real batches D saw."""
    seen: dict = {"d_calls": 0, "real_shapes": []}
    original = training.PrivacyEngine.make_private
    original_forward = gan.DiscriminatorLoss.forward

    def spy(self, **kwargs):
        seen.update(kwargs)
        return original(self, **kwargs)

    def counting_forward(self, real_x, *args):
        seen["d_calls"] += 1
        seen["real_shapes"].append(tuple(real_x.shape))
        return original_forward(self, real_x, *args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training.PrivacyEngine, "make_private", spy)
        mp.setattr(gan.DiscriminatorLoss, "forward", counting_forward)
        model = fit_tiny()
    return model, seen


def test_is_registered_as_a_series_gan():
    info = registry.get("dp-series-gan")
    assert (info.family, info.modality, info.private) == ("gan", "series", True)
    assert issubclass(info.cls, SeriesGenerator) and info.cls is DPSeriesGAN


def test_defaults_are_documented_and_saved():
    params = registry.create("dp-series-gan", make_toy_series_schema()).get_params()
    assert (params["latent_dim"], params["generator_lr"], params["tau"], params["aux_weight"]) == (64, 2e-4, 0.2, 0.0)
    assert params["conv_channels"] == [8, 16, 16, 16] and params["disc_hidden"] == [64]
    assert (params["lr"], params["batch_size"], params["rows_per_step"], params["generator_steps"]) == (
        5e-3, 256, 2, 1)
    doc = DPSeriesGAN.__doc__
    assert all(f"\n{name} : " in doc for name in ("latent_dim", "generator_lr", "generator_steps", "tau",
                                                  "aux_weight", "conv_channels", "disc_hidden", "batch_size"))


def test_default_is_a_plain_conditional_gan():
    model = registry.create("dp-series-gan", make_toy_series_schema(), hidden=(16,))
    module = model._build_module(model._make_codec(make_toy_series_schema()))
    assert module.discriminator.classifier is None
    assert module.discriminator.real_view is not None


def test_only_the_discriminator_and_its_classifier_are_private(spied):
    model, seen = spied
    private = {id(p) for p in seen["module"].parameters()}
    d = model.module_.discriminator
    assert private == {id(p) for p in d.parameters()}
    assert {id(p) for p in d.classifier.parameters()} <= private
    assert not private & {id(p) for p in model.module_.generator.parameters()}
    assert {id(p) for g in seen["optimizer"].param_groups for p in g["params"]} == private
    assert seen["poisson_sampling"] is True and seen["grad_sample_mode"] == "ghost"
    assert seen["noise_multiplier"] == model.plan_.noise_multiplier
    assert seen["d_calls"] == model.log_.steps == model.plan_.steps
    assert not any(m._forward_hooks or m._backward_hooks for m in model.module_.modules())


def test_the_subject_is_the_privacy_unit(spied):
    """Poisson sampling over subjects; D gets [subjects, windows, ...]: a subject's windows in one unit
    (``rows_per_step`` of them, drawn afresh each step)."""
    model, seen = spied
    data = make_toy_series()
    assert model.plan_.n_units == len(data.static)
    assert model.plan_.sample_rate == pytest.approx(1 / -(-len(data.static) // TINY["batch_size"]))
    windows = seen["data_loader"].dataset.tensors[2].sum(1)
    assert len(windows) == len(data.static) and windows.max() > 1
    rows = min(model.training.rows_per_step, seen["data_loader"].dataset.tensors[0].shape[1])
    assert {s[1] for s in seen["real_shapes"]} == {rows}  # `rows_per_step` windows of each sampled subject
    assert "subject" in model.privacy_card().privacy_unit


def test_real_view_fills_missing_samples_with_the_fakes_values_and_keeps_observed_ones(spied):
    model, _ = spied
    codec = model.codec_
    s, w = codec.static_width, codec.signal_width
    g = torch.Generator().manual_seed(0)
    real = torch.zeros(3, 2, codec.input_width)
    real[..., :s] = torch.rand(3, 2, s, generator=g)
    observed = (torch.rand(3, 2, w, generator=g) > 0.3).float()
    real[..., s:s + w] = (torch.rand(3, 2, w, generator=g) * 2 - 1) * observed
    real[..., s + w:] = observed
    fake = model.module_.fake(torch.zeros(3, 2, codec.condition_width))
    view = SeriesRealView(codec)(real, fake)
    assert view.shape == real.shape
    torch.testing.assert_close(view[..., :s], real[..., :s])
    values = view[..., s:s + w]
    keep = observed.bool()
    torch.testing.assert_close(values[keep], real[..., s:s + w][keep])
    torch.testing.assert_close(values[~keep], fake[..., s:s + w][~keep])
    assert (view[..., s + w:] == 1).all()
    assert model.module_.discriminator.real_view is not None


def test_discriminator_cannot_tell_reals_by_their_gaps(spied):
    """Through DiscriminatorLoss, a real row's missing samples count only through the fake's values."""
    model, _ = spied
    codec, d = model.codec_, model.module_.discriminator
    s, w = codec.static_width, codec.signal_width
    real = torch.zeros(2, 3, codec.input_width)
    real[..., s + w:] = 1.0
    real[..., s + w:s + w + 5] = 0.0  # 5 missing samples per window
    changed = real.clone()
    changed[..., s:s + 5] = 0.7  # garbage under the gaps must not matter
    c = torch.zeros(2, 3, codec.condition_width)
    fake = model.module_.fake(c)
    mask = torch.ones(2, 3)
    torch.testing.assert_close(d(real, c, fake, c, mask), d(changed, c, fake, c, mask))


def test_default_real_view_is_the_identity():
    net = torch.nn.Linear(5, 1)
    loss = DiscriminatorLoss(net)
    assert loss.real_view is None
    x, c, m = torch.randn(2, 3, 3), torch.randn(2, 3, 2), torch.ones(2, 3)
    logit = net(torch.cat([torch.cat([x, x + 1], 1), torch.cat([c, c], 1)], -1)).squeeze(-1)
    expected = (torch.nn.functional.softplus(-logit[:, :3]) + torch.nn.functional.softplus(logit[:, 3:])).mean(-1)
    torch.testing.assert_close(loss(x, c, x + 1, c, m), expected)


def test_classifier_cannot_see_the_condition_columns_but_sees_the_signal(spied):
    model, _ = spied
    codec, d = model.codec_, model.module_.discriminator
    static = codec.static_codec
    for block in static.blocks:
        expected = 0.0 if block.column in HIDDEN_COLUMNS else 1.0
        assert (d.feature_mask[block.start:block.stop] == expected).all(), block
    assert (d.feature_mask[codec.static_width:] == 1).all() and len(d.feature_mask) == codec.input_width
    x = torch.rand(4, codec.input_width)
    changed = x.clone()
    for column in HIDDEN_COLUMNS:
        for block in static.blocks_of(column).values():
            changed[:, block.start:block.stop] = torch.rand(4, block.size)
    c = torch.eye(codec.condition_width)[:4]
    torch.testing.assert_close(d.aux_loss(x, c), d.aux_loss(changed, c))
    signal = x.clone()
    signal[:, codec.static_width:codec.static_width + codec.signal_width] += 0.5
    assert not torch.allclose(d.aux_loss(x, c), d.aux_loss(signal, c))


def test_soft_fakes_are_in_the_input_layout_and_generate_in_the_output_layout(spied):
    model, _ = spied
    codec = model.codec_
    s, w = codec.static_width, codec.signal_width
    soft = model.module_.fake(torch.zeros(5, 3, codec.condition_width))
    assert soft.shape == (5, 3, codec.input_width)
    for block in codec.static_codec.blocks:
        torch.testing.assert_close(soft[..., block.start:block.stop].sum(-1), torch.ones(5, 3))
    assert (soft[..., s:s + w].abs() <= 1).all() and (soft[..., s + w:] == 1).all()
    out = model.module_.generate(torch.zeros(7, codec.condition_width), generator=torch.Generator().manual_seed(0))
    assert out.shape == (7, codec.width) and (out[:, s:].abs() <= 1).all()


def test_discriminator_passes_opacus_validation_and_uses_patch_norms(spied):
    model, _ = spied
    module = model._build_module(model.codec_).train()
    assert ModuleValidator.validate(module.discriminator, strict=False) == []
    convs = [m for m in module.discriminator.modules() if isinstance(m, TemporalConv)]
    assert convs and all(type(m) in GradSampleModuleFastGradientClipping.NORM_SAMPLERS for m in convs)
    assert not any(isinstance(m, (torch.nn.Conv1d, torch.nn.modules.batchnorm._BatchNorm))
                   for m in module.modules())


def test_hooks_mode_trains_the_same_discriminator_as_ghost_mode():
    with pinned_private_randomness():  # the same draws in both fits; the uniform mix needs no noisy counts
        ghost = fit_tiny(condition_share=0.0)
    with pinned_private_randomness():
        hooks = fit_tiny(grad_sample_mode="hooks", condition_share=0.0)
    for (name, a), b in zip(ghost.module_.state_dict().items(), hooks.module_.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def test_fakes_use_dp_conditions(spied):
    model, _ = spied
    sample = model._condition_sampler()
    c = sample(200)
    cells = torch.from_numpy(model.codec_.encode_conditions(
        model.condition_table_.drop(columns=["_weight", "_noisy"])))
    assert c.shape == (200, model.codec_.condition_width) and sample(0).shape[0] == 0
    assert all((cells == row).all(-1).any() for row in c[:50])


def test_on_a_missing_channel_fakes_draw_their_own_gaps_and_d_sees_the_real_ones():
    spec = make_toy_series_schema().to_dict()
    spec["channels"][0]["missing"] = True  # the first channel may be missing, the second not
    codec = SeriesCodec(SeriesSchema.from_dict(spec), n_bins=8)
    s, w = codec.static_width, codec.signal_width
    softener = SeriesSoftener(codec, tau=0.2)
    torch.manual_seed(0)
    static, values, scores = codec.split_output(torch.zeros(2000, codec.width))
    output = torch.cat([static, codec.join_signal(values, torch.full_like(scores, 0.5))], dim=-1)
    mask = softener(output)[:, s + w:].unflatten(-1, (codec.window, 2))
    assert abs(float((mask[..., 0] > 0.5).float().mean()) - 0.75) < 0.01  # P(observed) = (0.5 + 1) / 2
    assert (mask[..., 1] == 1).all()
    real = torch.zeros(1, codec.input_width)
    real[:, s + w:] = (torch.arange(w) % 3 != 0).float()  # gaps on both channels
    view = SeriesRealView(codec)(real, softener(output[:1]))[:, s + w:].unflatten(-1, (codec.window, 2))
    real_mask = real[:, s + w:].unflatten(-1, (codec.window, 2))
    torch.testing.assert_close(view[..., 0], real_mask[..., 0])  # D compares observation patterns
    assert (view[..., 1] == 1).all()  # padding gaps of a whole channel stay hidden

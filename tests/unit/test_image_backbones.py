"""Image backbones: Conv2dPatch is a Conv2d, GroupNorm has no parameters, bodies keep the
[units, rows] leading dims, and opacus' ghost norms and hooks gradients are exact per unit
of several images."""

import re

import pytest
import torch
from opacus.grad_sample import GradSampleModuleFastGradientClipping
from opacus.validators import ModuleValidator
from torch import nn
from torch.nn import functional as F

from dpsynth import convolutions
from dpsynth.families.training import train_dpsgd
from dpsynth.image_backbones import (
    GROUPS_MUST_DIVIDE,
    IMAGE_TOO_SMALL,
    Conv2dPatch,
    GroupNorm,
    ImageDecoder,
    ImageDenoiser,
    ImageEncoder,
)
from dpsynth.privacy.dpsgd import DPSGDPlan

SIZES = [(8, 8, 1), (28, 28, 1), (32, 32, 3), (7, 9, 1), (64, 64, 3)]


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def conv2d_reference(conv: Conv2dPatch, x):
    """F.conv2d with the Conv2dPatch's weights, applied to channels-last inputs [*lead, H, W, C]."""
    k, c_in = conv.kernel, conv.in_channels
    weight = conv.weight.reshape(conv.out_channels, k, k, c_in).permute(0, 3, 1, 2)  # [out, in, k, k]
    lead = x.shape[:-3]
    flat = x.reshape(-1, *x.shape[-3:]).permute(0, 3, 1, 2)
    out = F.conv2d(flat, weight, conv.bias, stride=conv.stride, padding=conv.padding).permute(0, 2, 3, 1)
    return out.reshape(*lead, *out.shape[-3:])


@pytest.mark.parametrize("kernel, stride, padding", [(3, 1, 1), (3, 2, 1), (4, 2, 1), (3, 1, 0), (5, 2, 2), (1, 1, 0)])
@pytest.mark.parametrize("height, width", [(8, 8), (7, 9)])
def test_conv2d_patch_equals_conv2d(kernel, stride, padding, height, width):
    torch.manual_seed(0)
    conv = Conv2dPatch(3, 5, kernel, stride=stride, padding=padding)
    x = randn(4, height, width, 3, seed=1)
    out = conv(x)
    assert out.shape == (4, *conv.output_size(height, width), 5)
    torch.testing.assert_close(out, conv2d_reference(conv, x), rtol=1e-5, atol=1e-5)
    # the layout matches nn.Conv2d's own weight, too
    torch_conv = nn.Conv2d(3, 5, kernel, stride=stride, padding=padding)
    with torch.no_grad():
        torch_conv.weight.copy_(conv.weight.reshape(5, kernel, kernel, 3).permute(0, 3, 1, 2))
        torch_conv.bias.copy_(conv.bias)
    torch.testing.assert_close(out, torch_conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1), rtol=1e-5, atol=1e-5)


def test_conv2d_patch_on_units_of_several_images():
    torch.manual_seed(0)
    conv = Conv2dPatch(2, 6, 4, stride=2, padding=1)
    x = randn(3, 5, 8, 8, 2, seed=2)  # [units, images, H, W, C]
    out = conv(x)
    assert out.shape == (3, 5, 4, 4, 6)
    torch.testing.assert_close(out, conv2d_reference(conv, x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out, conv(x.reshape(15, 8, 8, 2)).reshape(3, 5, 4, 4, 6))
    torch.testing.assert_close(conv(x[1, 2]), out[1, 2])  # a bare [H, W, C] image


def test_conv2d_patch_lays_a_unit_out_as_one_3d_input():
    # the patches the norm samplers see: [units, images·positions, k·k·C_in], and a Linear
    # with the conv's weight on them gives the conv's output
    conv = Conv2dPatch(2, 3, 3, padding=1)
    x = randn(4, 2, 5, 6, 2, seed=6)
    patches = conv.patches(x)
    assert patches.shape == (4, 2 * 5 * 6, 3 * 3 * 2)
    torch.testing.assert_close(F.linear(patches, conv.weight, conv.bias).reshape(4, 2, 5, 6, 3), conv(x),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(0, 8, 8, 3), (0, 2, 8, 8, 3)])
def test_conv2d_patch_accepts_an_empty_batch(shape):
    # opacus' Poisson sampling yields empty batches; the module must give an empty output
    conv = Conv2dPatch(3, 5, 4, stride=2, padding=1)
    assert conv(torch.zeros(shape)).shape == (*shape[:-3], 4, 4, 5)


@pytest.mark.parametrize("channels, groups", [(32, None), (6, None), (3, None), (1, None), (12, 3)])
def test_group_norm_equals_torch_group_norm_without_affine(channels, groups):
    norm = GroupNorm(channels, groups)
    expected_groups = groups or {32: 8, 6: 6, 3: 3, 1: 1}[channels]
    assert norm.groups == expected_groups and list(norm.parameters()) == []
    x = 3 * randn(2, 3, 5, 7, channels, seed=3) + 1
    out = norm(x)
    flat = x.reshape(6, 5, 7, channels).permute(0, 3, 1, 2)
    expected = F.group_norm(flat, expected_groups, eps=1e-5).permute(0, 2, 3, 1).reshape(x.shape)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
    assert norm(torch.zeros(0, 2, 5, 7, channels)).shape == (0, 2, 5, 7, channels)


def test_group_norm_refuses_groups_that_do_not_divide_the_channels():
    with pytest.raises(ValueError, match=re.escape(GROUPS_MUST_DIVIDE.format(groups=3, channels=8))):
        GroupNorm(8, 3)


def rows(*lead, shape=(8, 8, 1), static=5, extra=3, seed=4):
    h, w, c = shape
    return randn(*lead, static + h * w * c + extra, seed=seed)


def encoder(shape=(8, 8, 1), static=5, extra=3, out=7, conv_channels=(4, 8)):
    torch.manual_seed(0)
    h, w, c = shape
    return ImageEncoder(static_width=static, height=h, width=w, channels=c, extra_width=extra, out_dim=out,
                        conv_channels=conv_channels, hidden=(16,))


def decoder(shape=(8, 8, 1), in_dim=9, static=5, conv_channels=(8, 4)):
    torch.manual_seed(0)
    h, w, c = shape
    return ImageDecoder(in_dim=in_dim, static_width=static, height=h, width=w, channels=c,
                        conv_channels=conv_channels, hidden=(16,))


def denoiser(shape=(8, 8, 1), static=5, extra=3, base=8):
    torch.manual_seed(0)
    h, w, c = shape
    return ImageDenoiser(static_width=static, height=h, width=w, channels=c, extra_width=extra, base=base,
                         hidden=(16,))


def check_leading_dims(module, inputs, out_width):
    """[B, D], [B, R, D] and an empty [0, R, D] batch; a unit's images don't mix."""
    b, r = inputs.shape[:2]
    assert module(inputs[:, 0]).shape == (b, out_width)
    out = module(inputs)
    assert out.shape == (b, r, out_width)
    torch.testing.assert_close(out, module(inputs.reshape(b * r, -1)).reshape(b, r, -1), rtol=1e-4, atol=1e-5)
    assert module(inputs[:0]).shape == (0, r, out_width)
    changed = inputs.clone()
    changed[0, 1] += 1.0
    after = module(changed)
    assert not torch.allclose(after[0, 1], out[0, 1])
    torch.testing.assert_close(after[0, 0], out[0, 0], rtol=0, atol=0)
    torch.testing.assert_close(after[1:], out[1:], rtol=0, atol=0)


@pytest.mark.parametrize("shape", SIZES)
def test_image_encoder_shapes(shape):
    enc = encoder(shape)
    h, w, _ = shape
    assert enc.feature_size == (h // 4, w // 4, 8)
    check_leading_dims(enc, rows(2, 3, shape=shape), 7)


@pytest.mark.parametrize("shape, halvings", [((3, 8, 1), 2), ((8, 7, 1), 3), ((1, 1, 3), 1)])
def test_image_encoder_refuses_an_image_too_small_for_its_convolutions(shape, halvings):
    h, w, _ = shape
    message = IMAGE_TOO_SMALL.format(height=h, width=w, halvings=halvings, need=2 ** halvings)
    with pytest.raises(ValueError, match=re.escape(message)):
        encoder(shape, conv_channels=(4,) * halvings)


def test_image_encoder_reads_every_part_of_the_row():
    enc = encoder()
    row = rows(1)
    base = enc(row)
    for name, index in [("static", 0), ("first pixel", 5), ("last pixel", 5 + 63), ("extra", 5 + 64 + 2)]:
        changed = row.clone()
        changed[0, index] += 1.0
        assert not torch.allclose(enc(changed), base), name


@pytest.mark.parametrize("shape", SIZES)
@pytest.mark.parametrize("stages", [1, 2, 3])
def test_image_decoder_shapes_and_crop(shape, stages):
    h, w, c = shape
    dec = decoder(shape, conv_channels=(8,) * stages)
    sh, sw, _ = dec.start_size
    assert sh * 2 ** stages >= h > (sh - 1) * 2 ** stages and sw * 2 ** stages >= w > (sw - 1) * 2 ** stages
    check_leading_dims(dec, randn(2, 3, 9, seed=5), 5 + h * w * c)


@pytest.mark.parametrize("shape", SIZES + [(1, 1, 1), (5, 3, 3)])
def test_image_denoiser_shapes(shape):
    h, w, c = shape
    check_leading_dims(denoiser(shape), rows(2, 3, shape=shape), 5 + h * w * c)


def test_image_denoiser_reads_every_part_of_the_row_and_sees_the_whole_image():
    den = denoiser((8, 8, 1))
    row = rows(1)
    base = den(row)
    for name, index in [("static", 0), ("pixel", 5 + 27), ("extra", 5 + 64 + 2)]:
        changed = row.clone()
        changed[0, index] += 1.0
        after = den(changed)
        assert not torch.allclose(after[:, :5], base[:, :5]), name  # static logits
        assert not torch.allclose(after[:, 5:], base[:, 5:]), name  # pixels
    changed = row.clone()
    changed[0, 5] += 1.0  # the top-left pixel reaches the bottom-right output (receptive field)
    assert not torch.allclose(den(changed)[0, -1], base[0, -1])


def test_default_sizes_follow_the_contract():
    enc = ImageEncoder(static_width=5, height=28, width=28, channels=1, extra_width=3, out_dim=16)
    dec = ImageDecoder(in_dim=16, static_width=5, height=28, width=28, channels=1)
    den = ImageDenoiser(static_width=5, height=28, width=28, channels=1, extra_width=3)
    assert enc.feature_size == (7, 7, 64) and dec.start_size == (7, 7, 64)
    assert den.conv_in.out_channels == 32 and den.down1.out_channels == 64
    assert [m.out_features for m in den.embed if isinstance(m, nn.Linear)] == [256, sum(den.stage_widths)]


def test_bodies_pass_the_opacus_validator_and_keep_every_parameter_in_a_linear_or_conv():
    modules = [encoder(), decoder(), denoiser(), Conv2dPatch(2, 3, 3), GroupNorm(4),
               ImageDenoiser(static_width=5, height=8, width=8, channels=1, extra_width=3)]
    for module in modules:
        assert ModuleValidator.validate(module, strict=True) == []
        assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())
        owned = {id(p) for m in module.modules() if isinstance(m, (nn.Linear, Conv2dPatch)) for p in m.parameters()}
        assert all(id(p) in owned for p in module.parameters())


class UnitLoss(nn.Module):
    """A backbone under a per-unit loss: squared error to a target summed over the unit's images."""

    def __init__(self, body, target_width, *, head=None):
        super().__init__()
        self.head, self.body, self.target_width = head, body, target_width

    def forward(self, x):  # [units, images, width]
        out = self.body(x if self.head is None else self.head(x))
        return (out - x[..., :self.target_width]).pow(2).sum(-1).sum(-1)


def unit_losses(shape=(8, 8, 1), static=5, extra=3):
    h, w, c = shape
    width = static + h * w * c
    return {
        "denoiser": UnitLoss(denoiser(shape, static, extra), width),
        "encoder-decoder": UnitLoss(decoder(shape, in_dim=6, static=static),
                                    width, head=encoder(shape, static, extra, out=6)),
    }


def exact_unit_norms(model, x):
    params = [p for p in model.parameters() if p.requires_grad]
    norms = []
    for unit in range(len(x)):
        grads = torch.autograd.grad(model(x[unit:unit + 1]).sum(), params)
        norms.append(torch.sqrt(sum(g.pow(2).sum() for g in grads)))
    return torch.stack(norms)


@pytest.mark.parametrize("name", ["denoiser", "encoder-decoder"])
@pytest.mark.parametrize("shape", [(8, 8, 1), (7, 9, 3)])
def test_ghost_norms_are_per_unit_gradient_norms_with_two_images_per_unit(name, shape):
    model = unit_losses(shape)[name]
    x = rows(5, 2, shape=shape)  # 5 units of 2 images each
    exact = exact_unit_norms(model, x)
    gsm = GradSampleModuleFastGradientClipping(model, loss_reduction="sum", max_grad_norm=1.0,
                                               use_ghost_clipping=True)
    gsm.train()
    gsm(x).sum().backward()
    ghost = gsm.get_norm_sample().detach()
    gsm._close()
    torch.testing.assert_close(ghost, exact, rtol=1e-3, atol=1e-5)
    # and a unit's norm is not the sum of its images' norms taken one by one (they do interact)
    alone = torch.stack([exact_unit_norms(model, x[:, i:i + 1]) for i in range(2)])
    assert not torch.allclose(alone.pow(2).sum(0), exact.pow(2), rtol=1e-3)


def test_ghost_norms_are_exact_when_the_patches_are_built_in_chunks(monkeypatch):
    model = unit_losses((8, 8, 1))["encoder-decoder"]
    x = rows(5, 2, shape=(8, 8, 1))
    exact = exact_unit_norms(model, x)
    monkeypatch.setattr(convolutions, "PATCH_CHUNK_ELEMENTS", 1)  # one unit per chunk
    gsm = GradSampleModuleFastGradientClipping(model, loss_reduction="sum", max_grad_norm=1.0,
                                               use_ghost_clipping=True)
    gsm.train()
    gsm(x).sum().backward()
    torch.testing.assert_close(gsm.get_norm_sample().detach(), exact, rtol=1e-3, atol=1e-5)
    gsm._close()


def test_hooks_mode_gives_each_unit_its_own_conv_gradient():
    conv = Conv2dPatch(2, 3, 3, stride=2, padding=1)
    x = randn(4, 2, 7, 6, 2, seed=7)  # 4 units of 2 images
    target = randn(4, 2, 4, 3, 3, seed=8)
    output_grad = 2 * (conv(x) - target).detach()  # d/d(output) of the squared error
    grads = convolutions.conv_grad_sample(conv, [x], output_grad)
    for unit in range(4):
        exact = torch.autograd.grad((conv(x[unit:unit + 1]) - target[unit:unit + 1]).pow(2).sum(),
                                    [conv.weight, conv.bias])
        torch.testing.assert_close(grads[conv.weight][unit], exact[0], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(grads[conv.bias][unit], exact[1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["ghost", "hooks"])
def test_dpsgd_trains_image_bodies_per_unit(mode):
    torch.manual_seed(0)
    model = unit_losses()["denoiser"]
    x = rows(16, 2)  # 16 units of 2 images each
    plan = DPSGDPlan(noise_multiplier=1.0, sample_rate=1 / 8, steps=4, max_grad_norm=1.0, accountant="rdp",
                     delta=1e-5, epsilon=0.0, batch_size=2, n_units=16)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    log = train_dpsgd(model, (x,), plan, lr=1e-2, grad_sample_mode=mode, progress=False)
    assert log.steps == 4 and 0 < log.epsilon < float("inf")
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert len(changed) == len(before)  # noise reaches every parameter
    assert model(x).shape == (16,)

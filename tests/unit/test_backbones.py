"""Series backbones: TemporalConv is a Conv1d, bodies keep [units, rows] leading dims, opacus works."""

import pytest
import torch
from opacus.grad_sample import GradSampleModuleFastGradientClipping
from opacus.validators import ModuleValidator
from torch import nn

from dpsynth.backbones import SeriesDecoder, SeriesEncoder, TemporalConv
from dpsynth.families.training import train_dpsgd
from dpsynth.privacy.dpsgd import DPSGDPlan
from tests.conftest import pinned_private_randomness


def conv_twin(c_in, c_out, kernel, stride, padding, seed=0):
    """A TemporalConv and a torch Conv1d holding the same weights."""
    torch.manual_seed(seed)
    conv = nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=padding)
    tc = TemporalConv(c_in, c_out, kernel, stride=stride, padding=padding)
    with torch.no_grad():
        # Linear input index = k_index * c_in + channel; Conv1d weight is [out, in, k]
        tc.weight.copy_(conv.weight.permute(0, 2, 1).reshape(c_out, kernel * c_in))
        tc.bias.copy_(conv.bias)
    return tc, conv


def conv1d_reference(conv, x):
    """Conv1d applied to channel-last inputs [*lead, L, C]."""
    lead, (length, c) = x.shape[:-2], x.shape[-2:]
    out = conv(x.reshape(-1, length, c).transpose(1, 2)).transpose(1, 2)
    return out.reshape(*lead, *out.shape[-2:])


@pytest.mark.parametrize("kernel, stride, padding", [(3, 1, 0), (3, 2, 0), (4, 2, 1), (5, 1, 2), (5, 2, 2), (1, 1, 0)])
@pytest.mark.parametrize("length", [16, 17])
def test_temporal_conv_equals_conv1d(kernel, stride, padding, length):
    tc, conv = conv_twin(3, 5, kernel, stride, padding)
    x = torch.randn(4, length, 3, generator=torch.Generator().manual_seed(1))
    out = tc(x)
    expected = conv1d_reference(conv, x)
    assert out.shape == expected.shape == (4, tc.output_length(length), 5)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_temporal_conv_on_units_of_several_windows():
    tc, conv = conv_twin(2, 6, 4, 2, 1)
    x = torch.randn(3, 5, 16, 2, generator=torch.Generator().manual_seed(2))  # [units, windows, L, C]
    out = tc(x)
    assert out.shape == (3, 5, 8, 6)
    torch.testing.assert_close(out, conv1d_reference(conv, x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out, tc(x.reshape(15, 16, 2)).reshape(3, 5, 8, 6))
    torch.testing.assert_close(tc(x[1, 2]), out[1, 2])  # a bare [L, C] window


def test_windows_of_a_unit_stay_independent():
    tc, _ = conv_twin(2, 4, 5, 1, 2)
    x = torch.randn(2, 4, 12, 2, generator=torch.Generator().manual_seed(3))
    before = tc(x)
    changed = x.clone()
    changed[0, 1] += 10.0
    after = tc(changed)
    assert not torch.allclose(after[0, 1], before[0, 1])
    others = [(b, r) for b in range(2) for r in range(4) if (b, r) != (0, 1)]
    for b, r in others:
        torch.testing.assert_close(after[b, r], before[b, r], rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(0, 16, 3), (0, 4, 16, 3)])
def test_temporal_conv_accepts_an_empty_batch(shape):
    # opacus' Poisson sampling yields empty batches; the module must give an empty output
    tc, _ = conv_twin(3, 5, 4, 2, 1)
    assert tc(torch.zeros(shape)).shape == (*shape[:-2], 8, 5)


def encoder(window=16, channels=2, static=5, extra=3, out=7):
    torch.manual_seed(0)
    return SeriesEncoder(static_width=static, window=window, channels=channels, extra_width=extra, out_dim=out,
                         conv_channels=(4, 8), hidden=(16,))


def encoder_rows(*lead, window=16, channels=2, static=5, extra=3):
    return torch.randn(*lead, static + 2 * window * channels + extra, generator=torch.Generator().manual_seed(4))


@pytest.mark.parametrize("window", [16, 15, 30, 4])
def test_series_encoder_shapes(window):
    enc = encoder(window=window)
    flat = encoder_rows(6, window=window)
    assert enc(flat).shape == (6, 7)
    units = encoder_rows(2, 3, window=window)
    out = enc(units)
    assert out.shape == (2, 3, 7)
    torch.testing.assert_close(out, enc(units.reshape(6, -1)).reshape(2, 3, 7), rtol=1e-5, atol=1e-6)
    assert enc(encoder_rows(0, 3, window=window)).shape == (0, 3, 7)


def test_series_encoder_refuses_a_window_too_short_for_its_convolutions():
    with pytest.raises(ValueError, match="window"):
        encoder(window=3)  # two stride-2 convolutions need at least 4 samples


def test_series_encoder_reads_every_part_of_the_row():
    enc = encoder()
    rows = encoder_rows(1)
    base = enc(rows)
    s, w = 5, 16 * 2
    for name, index in [("static", 0), ("value", s + 3), ("mask", s + w + 3), ("extra", s + 2 * w + 1)]:
        changed = rows.clone()
        changed[0, index] += 1.0
        assert not torch.allclose(enc(changed), base), name


@pytest.mark.parametrize("window, stages", [(16, 2), (30, 2), (7, 2), (10, 3), (33, 1)])
def test_series_decoder_shapes_and_crop(window, stages):
    torch.manual_seed(0)
    dec = SeriesDecoder(in_dim=9, static_width=5, window=window, channels=3, conv_channels=(8,) * stages,
                        hidden=(16,))
    assert dec.start_length * 2 ** stages >= window > (dec.start_length - 1) * 2 ** stages
    assert dec(torch.randn(4, 9)).shape == (4, 5 + window * 3)
    x = torch.randn(2, 3, 9)
    out = dec(x)
    assert out.shape == (2, 3, 5 + window * 3)
    torch.testing.assert_close(out, dec(x.reshape(6, 9)).reshape(2, 3, -1), rtol=1e-5, atol=1e-6)


def test_bodies_pass_the_opacus_validator():
    dec = SeriesDecoder(in_dim=9, static_width=5, window=16, channels=2, conv_channels=(8, 8), hidden=(16,))
    for module in (encoder(), dec, TemporalConv(2, 3, 4)):
        assert ModuleValidator.validate(module, strict=False) == []


class UnitLoss(nn.Module):
    """Encoder, then decoder; per-unit loss = squared error summed over the unit's windows."""

    def __init__(self, window=16, channels=2, static=5):
        super().__init__()
        self.width = static + window * channels
        self.enc = SeriesEncoder(static_width=static, window=window, channels=channels, extra_width=0, out_dim=6,
                                 conv_channels=(4, 4), hidden=(16,))
        self.dec = SeriesDecoder(in_dim=6, static_width=static, window=window, channels=channels,
                                 conv_channels=(4, 4), hidden=(16,))

    def forward(self, rows):  # [units, windows, static + 2·L·C]
        out = self.dec(self.enc(rows))
        return (out - rows[..., :self.width]).pow(2).sum(-1).sum(-1)


def test_ghost_norms_are_per_unit_gradient_norms():
    torch.manual_seed(0)
    model = UnitLoss()
    x = encoder_rows(5, 3, extra=0)
    gsm = GradSampleModuleFastGradientClipping(model, loss_reduction="sum", max_grad_norm=1.0,
                                               use_ghost_clipping=True)
    gsm.train()
    gsm(x).sum().backward()
    ghost = gsm.get_norm_sample().detach()
    gsm._close()
    params = [p for p in model.parameters() if p.requires_grad]
    exact = []
    for unit in range(len(x)):
        grads = torch.autograd.grad(model(x[unit:unit + 1]).sum(), params)
        exact.append(torch.sqrt(sum(g.pow(2).sum() for g in grads)))
    torch.testing.assert_close(ghost, torch.stack(exact), rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("mode", ["ghost", "hooks"])
def test_dpsgd_trains_series_bodies_per_unit(mode):
    torch.manual_seed(0)
    model = UnitLoss()
    assert ModuleValidator.validate(model, strict=False) == []
    x = encoder_rows(16, 3, extra=0)  # 16 units of 3 windows each
    plan = DPSGDPlan(noise_multiplier=1.0, sample_rate=1 / 8, steps=6, max_grad_norm=1.0, accountant="rdp",
                     delta=1e-5, epsilon=0.0, batch_size=2, n_units=16)  # q·n = 2 units per batch
    sizes = []
    model.enc.register_forward_pre_hook(lambda module, args: sizes.append(args[0].shape[0]))
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    with pinned_private_randomness(4):  # secret draws pinned for the test: this sequence gives an empty batch
        log = train_dpsgd(model, (x,), plan, lr=1e-2, grad_sample_mode=mode, progress=False)
    assert log.steps == 6 and log.history == [(1.0, 1 / 8, 6)]
    assert 0 < log.epsilon < float("inf")
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert len(changed) == len(before)  # noise reaches every parameter
    assert 0 in sizes and len(sizes) == 6  # Poisson sampling gave an empty batch; it ran
    assert model(x).shape == (16,)

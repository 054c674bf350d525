"""Network bodies shared by the families. No BatchNorm anywhere: private modules can't use it.

Tabular rows use `MLP`; series windows use `SeriesEncoder` / `SeriesDecoder` /
`SeriesDenoiser`, built on `TemporalConv` (dpsynth/convolutions.py: exact per-unit
norms under opacus when a unit holds several windows). Every body acts on the last
dimension(s) and keeps the leading [units, rows] dimensions, so one privacy unit can hold
several rows (windows).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from dpsynth.convolutions import TemporalConv


class MLP(nn.Sequential):
    """Linear → SiLU stacks for tabular rows (acts on the last dimension, so [B, R, D] works)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: Sequence[int] = (256, 256)):
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.SiLU()]
            width = h
        layers.append(nn.Linear(width, out_dim))
        super().__init__(*layers)


class SeriesEncoder(nn.Module):
    """[static | values L×C | mask L×C | extra] rows -> ``out_dim`` features.

    The signal (values and mask as 2·C channels) goes through strided temporal
    convolutions (each halves the length); the flattened feature map, the static encoding
    and the extra inputs (e.g. the condition one-hot) then go through an MLP.
    """

    def __init__(self, *, static_width: int, window: int, channels: int, extra_width: int, out_dim: int,
                 conv_channels: Sequence[int] = (32, 64), hidden: Sequence[int] = (256,)):
        super().__init__()
        self.static_width, self.window, self.channels = static_width, window, channels
        convs: list[nn.Module] = []
        width, length = 2 * channels, window
        if window < 2 ** len(conv_channels):
            raise ValueError(f"a window of {window} samples is too short for {len(conv_channels)} halving "
                             f"convolution(s); use a window of at least {2 ** len(conv_channels)} samples "
                             "or fewer conv_channels")
        for c in conv_channels:
            conv = TemporalConv(width, c, 4, stride=2, padding=1)
            convs += [conv, nn.SiLU()]
            width, length = c, conv.output_length(length)
        self.convs = nn.Sequential(*convs)
        self.head = MLP(static_width + width * length + extra_width, out_dim, hidden)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        s, w = self.static_width, self.window * self.channels
        signal = rows[..., s:s + 2 * w]
        values = signal[..., :w].unflatten(-1, (self.window, self.channels))
        mask = signal[..., w:].unflatten(-1, (self.window, self.channels))
        features = self.convs(torch.cat([values, mask], dim=-1)).flatten(-2)
        return self.head(torch.cat([rows[..., :s], features, rows[..., s + 2 * w:]], dim=-1))


class SeriesDecoder(nn.Module):
    """Inputs [..., in_dim] -> [static logits | values L×C].

    An MLP gives the static logits and a short feature map (length L / 2^k); each of k
    stages doubles its length (nearest neighbour) and applies a temporal convolution; a
    last convolution maps to the C channels, cropped to L samples.
    """

    def __init__(self, *, in_dim: int, static_width: int, window: int, channels: int,
                 conv_channels: Sequence[int] = (64, 32), hidden: Sequence[int] = (256,)):
        super().__init__()
        self.static_width, self.window, self.channels = static_width, window, channels
        self.start_length = -(-window // 2 ** len(conv_channels))
        self.start_channels = conv_channels[0]
        self.stem = MLP(in_dim, static_width + self.start_length * self.start_channels, hidden)
        self.stages = nn.ModuleList()
        width = conv_channels[0]
        for c in conv_channels:
            self.stages.append(TemporalConv(width, c, 5, padding=2))
            width = c
        self.out = TemporalConv(width, channels, 5, padding=2)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        stem = self.stem(inputs)
        static = stem[..., :self.static_width]
        h = stem[..., self.static_width:].unflatten(-1, (self.start_length, self.start_channels))
        for stage in self.stages:
            h = F.silu(stage(h.repeat_interleave(2, dim=-2)))
        signal = self.out(h)[..., :self.window, :]
        return torch.cat([static, signal.flatten(-2)], dim=-1)


class SeriesDenoiser(nn.Module):
    """A small 1-D U-Net: [static x_t | values x_t L×C | extra] -> [static logits | values L×C].

    Built from `TemporalConv` only (exact per-unit norms under opacus), no
    normalisation layers, so opacus ghost clipping handles every layer and the leading
    [units, rows] dimensions are kept. ``extra`` is e.g. [condition one-hot | time embedding].

    Signal path (channels ``base`` at full length L, ``2·base`` below): conv in (L) →
    stride-2 conv (⌈L/2⌉) → stride-2 conv (⌈L/4⌉) → middle block (two convolutions of
    kernel ``mid_kernel``, for a receptive field that spans heart beats) → nearest ×2,
    crop to the skip's length, concatenate the skip, conv (⌈L/2⌉) → the same to L → conv
    out to C channels. Each stage adds a per-stage embedding of [static x_t | extra] (one
    MLP, output split per stage). The static logits come from an MLP on [static x_t |
    extra | middle features averaged over time].
    """

    def __init__(self, *, static_width: int, window: int, channels: int, extra_width: int, base: int = 32,
                 kernel: int = 3, mid_kernel: int = 9, hidden: Sequence[int] = (256,)):
        super().__init__()
        if kernel % 2 == 0 or mid_kernel % 2 == 0:
            raise ValueError("kernel and mid_kernel must be odd (same-length convolutions)")
        self.static_width, self.window, self.channels = static_width, window, channels
        wide = 2 * base
        pad, mid_pad = kernel // 2, mid_kernel // 2
        self.conv_in = TemporalConv(channels, base, kernel, padding=pad)
        self.down1 = TemporalConv(base, wide, kernel, stride=2, padding=pad)
        self.down2 = TemporalConv(wide, wide, kernel, stride=2, padding=pad)
        self.mid = nn.ModuleList([TemporalConv(wide, wide, mid_kernel, padding=mid_pad) for _ in range(2)])
        self.up1 = TemporalConv(2 * wide, wide, kernel, padding=pad)
        self.up2 = TemporalConv(wide + base, base, kernel, padding=pad)
        self.conv_out = TemporalConv(base, channels, kernel, padding=pad)
        self.stage_widths = [base, wide, wide, wide, wide, wide, base]  # in, down1, down2, mid×2, up1, up2
        self.embed = MLP(static_width + extra_width, sum(self.stage_widths), hidden)
        self.static_head = MLP(static_width + extra_width + wide, static_width, hidden)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        s, w = self.static_width, self.window * self.channels
        context = torch.cat([rows[..., :s], rows[..., s + w:]], dim=-1)
        emb = self.embed(context).split(self.stage_widths, dim=-1)
        emb = [e.unsqueeze(-2) for e in emb]  # broadcast over time
        values = rows[..., s:s + w].unflatten(-1, (self.window, self.channels))
        h0 = F.silu(self.conv_in(values) + emb[0])
        h1 = F.silu(self.down1(h0) + emb[1])
        h2 = F.silu(self.down2(h1) + emb[2])
        m = h2
        for conv, e in zip(self.mid, emb[3:5]):
            m = F.silu(conv(m) + e)
        u1 = _upsample_to(m, h1.shape[-2])
        u1 = F.silu(self.up1(torch.cat([u1, h1], dim=-1)) + emb[5])
        u0 = _upsample_to(u1, h0.shape[-2])
        u0 = F.silu(self.up2(torch.cat([u0, h0], dim=-1)) + emb[6])
        signal = self.conv_out(u0)
        static = self.static_head(torch.cat([context, m.mean(-2)], dim=-1))
        return torch.cat([static, signal.flatten(-2)], dim=-1)


def _upsample_to(h: torch.Tensor, length: int) -> torch.Tensor:
    """Nearest-neighbour ×2 along time ([*lead, L, C]), cropped to ``length`` samples."""
    return h.repeat_interleave(2, dim=-2)[..., :length, :]

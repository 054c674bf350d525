"""Network bodies for image rows. No BatchNorm; every parameter has an exact per-unit norm in opacus.

Image rows are flat, ``[static | pixels H·W·C (channels last) | extra]``, like the series
rows ``[static | values | mask | extra]``; `ImageEncoder` / `ImageDecoder` /
`ImageDenoiser` mirror `SeriesEncoder` / `SeriesDecoder` / `SeriesDenoiser`
(dpsynth/backbones.py). Every layer acts on the last dimension(s) and keeps the leading
[units, rows] dimensions, so one privacy unit (a subject) can hold several images and
opacus' ghost clipping still gives one exact gradient norm per unit:

* convolutions are `Conv2dPatch` (dpsynth/convolutions.py: ``F.conv2d`` in the passes;
  for the norms, the patches of all of a unit's images lie along one axis);
* the only normalisation is `GroupNorm` *without* affine parameters: per image, no
  statistics across images or units, and no parameters outside a Linear or a Conv2dPatch;
* the MLPs see [units, rows, features], which opacus' Linear norm sampler handles (it
  silently skips 4-D inputs, so nothing here feeds a Linear more than three dimensions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from dpsynth.backbones import MLP
from dpsynth.convolutions import Conv2dPatch, channels_first

IMAGE_TOO_SMALL = ("a {height}×{width} image is too small for {halvings} halving convolution(s): "
                   "each halves the height and the width, so use images of at least {need}×{need} pixels "
                   "or fewer conv_channels")
GROUPS_MUST_DIVIDE = "GroupNorm: {groups} group(s) do not divide {channels} channel(s)"
BAD_IMAGE_SHAPE = "image height, width and channels must be whole numbers >= 1 (got {height}×{width}×{channels})"


def default_groups(channels: int, most: int = 8) -> int:
    """The largest divisor of ``channels`` that is at most ``most`` (8 groups for the usual widths)."""
    return max(g for g in range(1, min(most, channels) + 1) if channels % g == 0)


class GroupNorm(nn.Module):
    """Group normalisation of channels-last maps [*lead, H, W, C], *without* affine parameters.

    Each image's channels are split into ``groups`` groups (default: the largest divisor of
    C up to 8) and each group is standardised over its pixels and channels, so no
    statistic crosses images or units (unlike BatchNorm, which DP-SGD can't use).
    Why no scale and shift: every parameter must live in a (Patch)Linear, so that opacus'
    ghost clipping computes exact per-unit norms for all of them (opacus has no ghost norm
    for a channels-last affine GroupNorm); the next convolution or Linear absorbs a
    per-channel scale and shift anyway.
    """

    def __init__(self, channels: int, groups: int | None = None, *, eps: float = 1e-5):
        super().__init__()
        groups = default_groups(channels) if groups is None else groups
        if groups < 1 or channels % groups:
            raise ValueError(GROUPS_MUST_DIVIDE.format(groups=groups, channels=channels))
        self.channels, self.groups, self.eps = channels, groups, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channels_first(lambda images: F.group_norm(images, self.groups, eps=self.eps), x)

    def extra_repr(self) -> str:
        return f"{self.channels}, groups={self.groups}, affine=False"


def upsample(h: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Nearest-neighbour ×2 of a map [*lead, h, w, C], cropped to ``height`` × ``width``."""
    doubled = channels_first(lambda images: F.interpolate(images, scale_factor=2, mode="nearest"), h)
    return doubled[..., :height, :width, :]


def check_image_shape(height: int, width: int, channels: int) -> None:
    if min(height, width, channels) < 1:
        raise ValueError(BAD_IMAGE_SHAPE.format(height=height, width=width, channels=channels))


class ImageEncoder(nn.Module):
    """[static | pixels H·W·C | extra] rows -> ``out_dim`` features.

    The pixels go through stride-2 convolutions (kernel 4, padding 1: each halves H and W,
    rounding down), each followed by `GroupNorm` and SiLU; the flattened feature map, the
    static encoding and the extra inputs (e.g. the condition one-hot) then go through an MLP.
    """

    def __init__(self, *, static_width: int, height: int, width: int, channels: int, extra_width: int,
                 out_dim: int, conv_channels: Sequence[int] = (32, 64), hidden: Sequence[int] = (256,)):
        super().__init__()
        check_image_shape(height, width, channels)
        need = 2 ** len(conv_channels)
        if min(height, width) < need:
            raise ValueError(IMAGE_TOO_SMALL.format(height=height, width=width, halvings=len(conv_channels),
                                                    need=need))
        self.static_width, self.height, self.width, self.channels = static_width, height, width, channels
        layers: list[nn.Module] = []
        c_in, h, w = channels, height, width
        for c in conv_channels:
            conv = Conv2dPatch(c_in, c, 4, stride=2, padding=1)
            layers += [conv, GroupNorm(c), nn.SiLU()]
            c_in, (h, w) = c, conv.output_size(h, w)
        self.convs = nn.Sequential(*layers)
        self.feature_size = (h, w, c_in)
        self.head = MLP(static_width + h * w * c_in + extra_width, out_dim, hidden)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        s, p = self.static_width, self.height * self.width * self.channels
        pixels = rows[..., s:s + p].unflatten(-1, (self.height, self.width, self.channels))
        features = self.convs(pixels).flatten(-3)
        return self.head(torch.cat([rows[..., :s], features, rows[..., s + p:]], dim=-1))


class ImageDecoder(nn.Module):
    """Inputs [..., in_dim] -> [static logits | pixels H·W·C].

    An MLP gives the static logits and a small map (⌈H/2^k⌉ × ⌈W/2^k⌉ × conv_channels[0]);
    each of the k stages doubles its size (nearest neighbour) and applies a 3×3
    convolution, `GroupNorm` and SiLU; a last 3×3 convolution maps to the C channels,
    cropped to H × W.
    """

    def __init__(self, *, in_dim: int, static_width: int, height: int, width: int, channels: int,
                 conv_channels: Sequence[int] = (64, 32), hidden: Sequence[int] = (256,)):
        super().__init__()
        check_image_shape(height, width, channels)
        self.static_width, self.height, self.width, self.channels = static_width, height, width, channels
        scale = 2 ** len(conv_channels)
        self.start_size = (-(-height // scale), -(-width // scale), conv_channels[0])
        self.stem = MLP(in_dim, static_width + math.prod(self.start_size), hidden)
        self.stages = nn.ModuleList()
        self.norms = nn.ModuleList()
        c_in = conv_channels[0]
        for c in conv_channels:
            self.stages.append(Conv2dPatch(c_in, c, 3, padding=1))
            self.norms.append(GroupNorm(c))
            c_in = c
        self.out = Conv2dPatch(c_in, channels, 3, padding=1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        stem = self.stem(inputs)
        static = stem[..., :self.static_width]
        h = stem[..., self.static_width:].unflatten(-1, self.start_size)
        for conv, norm in zip(self.stages, self.norms):
            h = F.silu(norm(conv(upsample(h, 2 * h.shape[-3], 2 * h.shape[-2]))))
        pixels = self.out(h)[..., :self.height, :self.width, :]
        return torch.cat([static, pixels.flatten(-3)], dim=-1)


class ImageDenoiser(nn.Module):
    """A small 2-D U-Net (after DPDM, Dockhorn et al. 2023): [static x_t | pixels x_t H·W·C | extra]
    -> [static logits | pixels H·W·C]; the same contract as `SeriesDenoiser`.

    Built from `Conv2dPatch` (3×3, exact per-unit norms under opacus)
    and affine-free `GroupNorm`, so opacus ghost clipping handles every layer and the
    leading [units, rows] dimensions are kept. ``extra`` is e.g. [condition one-hot | time
    embedding].

    Maps (channels ``base`` at H×W, ``2·base`` below): conv in (H×W) → stride-2 conv
    (⌈H/2⌉×⌈W/2⌉) → stride-2 conv (⌈H/4⌉×⌈W/4⌉) → middle block (two convolutions) →
    nearest ×2, crop to the skip's size, concatenate the skip, conv (⌈H/2⌉×⌈W/2⌉) → the
    same to H×W → conv out to C channels. Each stage is conv → GroupNorm → + its
    embedding → SiLU, the embeddings being one MLP of [static x_t | extra], split per stage
    (the embedding is the conditional shift GroupNorm has not). The static logits come
    from an MLP on [static x_t | extra | middle features averaged over the pixels]. Any
    H, W ≥ 1 works (odd sizes are rounded up on the way down and cropped on the way up).
    """

    def __init__(self, *, static_width: int, height: int, width: int, channels: int, extra_width: int,
                 base: int = 32, hidden: Sequence[int] = (256,)):
        super().__init__()
        check_image_shape(height, width, channels)
        self.static_width, self.height, self.width, self.channels = static_width, height, width, channels
        wide = 2 * base
        self.conv_in = Conv2dPatch(channels, base, 3, padding=1)
        self.down1 = Conv2dPatch(base, wide, 3, stride=2, padding=1)
        self.down2 = Conv2dPatch(wide, wide, 3, stride=2, padding=1)
        self.mid = nn.ModuleList([Conv2dPatch(wide, wide, 3, padding=1) for _ in range(2)])
        self.up1 = Conv2dPatch(2 * wide, wide, 3, padding=1)
        self.up2 = Conv2dPatch(wide + base, base, 3, padding=1)
        self.conv_out = Conv2dPatch(base, channels, 3, padding=1)
        self.stage_widths = [base, wide, wide, wide, wide, wide, base]  # in, down1, down2, mid×2, up1, up2
        self.norms = nn.ModuleList([GroupNorm(c) for c in self.stage_widths])
        self.embed = MLP(static_width + extra_width, sum(self.stage_widths), hidden)
        self.static_head = MLP(static_width + extra_width + wide, static_width, hidden)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        s, p = self.static_width, self.height * self.width * self.channels
        context = torch.cat([rows[..., :s], rows[..., s + p:]], dim=-1)
        emb = [e[..., None, None, :] for e in self.embed(context).split(self.stage_widths, dim=-1)]
        norms = iter(zip(self.norms, emb))

        def stage(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
            norm, e = next(norms)
            return F.silu(norm(conv(x)) + e)

        pixels = rows[..., s:s + p].unflatten(-1, (self.height, self.width, self.channels))
        h0 = stage(self.conv_in, pixels)
        h1 = stage(self.down1, h0)
        h2 = stage(self.down2, h1)
        m = h2
        for conv in self.mid:
            m = stage(conv, m)
        u1 = stage(self.up1, torch.cat([upsample(m, *h1.shape[-3:-1]), h1], dim=-1))
        u0 = stage(self.up2, torch.cat([upsample(u1, *h0.shape[-3:-1]), h0], dim=-1))
        out = self.conv_out(u0)
        static = self.static_head(torch.cat([context, m.mean(dim=(-3, -2))], dim=-1))
        return torch.cat([static, out.flatten(-3)], dim=-1)

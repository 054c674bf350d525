"""Network bodies for image rows. No BatchNorm; every parameter has an exact per-unit norm in opacus.

Image rows are flat, ``[static | pixels H·W·C (channels last) | extra]``, like the series
rows ``[static | values | mask | extra]``; `ImageEncoder` / `ImageDecoder` /
`ImageDenoiser` mirror `SeriesEncoder` / `SeriesDecoder` / `SeriesDenoiser`
(dpsynth/backbones.py). Every layer acts on the last dimension(s) and keeps the leading
[units, rows] dimensions, so one privacy unit (a subject) can hold several images and
opacus' ghost clipping still gives one exact gradient norm per unit:

* convolutions are `Conv2dPatch` (``F.conv2d`` in the passes; for the norms, the patches
  of all of a unit's images lie along one axis, [units, images·positions, k·k·C_in]);
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

from opacus.grad_sample import register_grad_sampler, register_norm_sampler

from dpsynth.backbones import MLP, unit_linear_norms

IMAGE_TOO_SMALL = ("a {height}×{width} image is too small for {halvings} halving convolution(s): "
                   "each halves the height and the width, so use images of at least {need}×{need} pixels "
                   "or fewer conv_channels")
GROUPS_MUST_DIVIDE = "GroupNorm: {groups} group(s) do not divide {channels} channel(s)"
BAD_IMAGE_SHAPE = "image height, width and channels must be whole numbers >= 1 (got {height}×{width}×{channels})"


class Conv2dPatch(nn.Module):
    """A 2-D convolution on channels-last inputs [*lead, H, W, C_in] with exact per-unit norms.

    Same arithmetic as ``nn.Conv2d(in_channels, out_channels, kernel, stride=stride,
    padding=padding)`` with zero padding, run by ``F.conv2d`` (fast native kernels for the
    forward and backward passes). Its parameters are those of a Linear on the k×k patches
    — ``weight`` [out, k·k·C_in], input index ``(row·k + column)·C_in + channel``, i.e. the
    Conv2d weight [out, in, k, k] permuted to [out, k, k, in] and flattened — and opacus
    computes its per-unit gradient norms through `conv2d_patch_norm_sample`, which lays the
    patches of all of a unit's images (lead[0] is the unit) along one axis. So the norm is
    exact per unit even when a unit holds several images, which ``nn.Conv2d`` (one image
    per sample in opacus) can't give.

    Why not unfold + Linear in the forward pass (as `TemporalConv`): the unfolded patches of
    a 32×32 batch are gigabytes, and their backward (a scatter) dominated the step; here
    they exist only inside the norm computation, a chunk of units at a time.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, stride: int = 1, padding: int = 0):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel, self.stride, self.padding = kernel, stride, padding
        reference = nn.Linear(kernel * kernel * in_channels, out_channels)  # nn.Conv2d's default initialisation
        self.weight = nn.Parameter(reference.weight.detach().clone())
        self.bias = nn.Parameter(reference.bias.detach().clone())

    def output_length(self, length: int) -> int:
        """The output size along one spatial axis of input size ``length``."""
        return (length + 2 * self.padding - self.kernel) // self.stride + 1

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return self.output_length(height), self.output_length(width)

    def conv_weight(self) -> torch.Tensor:
        """The weight in nn.Conv2d's layout [out, in, k, k]."""
        k = self.kernel
        return self.weight.unflatten(1, (k, k, self.in_channels)).permute(0, 3, 1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead, (height, width, channels) = x.shape[:-3], x.shape[-3:]
        images = x.reshape(-1, height, width, channels).permute(0, 3, 1, 2)  # [N, C, H, W], channels-last memory
        out = F.conv2d(images, self.conv_weight(), self.bias, stride=self.stride, padding=self.padding)
        return out.permute(0, 2, 3, 1).reshape(*lead, *out.shape[-2:], self.out_channels)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """The k×k patches of inputs [units, *rest, H, W, C_in] as [units, rest·H'·W', k·k·C_in]."""
        if self.padding:
            p = self.padding
            x = F.pad(x, (0, 0, p, p, p, p))
        patches = x.unfold(-3, self.kernel, self.stride).unfold(-3, self.kernel, self.stride)  # [.., C, k_h, k_w]
        patches = patches.permute(*range(x.dim() - 1), -2, -1, -3).flatten(-3)  # [units, *rest, H', W', k·k·C]
        return patches.reshape(len(x), math.prod(patches.shape[1:-1]), patches.shape[-1])


PATCH_CHUNK_ELEMENTS = 2 ** 25  # about 128 MB of float32 patches at a time inside the norm sampler


@register_norm_sampler(Conv2dPatch)
def conv2d_patch_norm_sample(layer: Conv2dPatch, activations: list[torch.Tensor],
                             backprops: torch.Tensor) -> dict[nn.Parameter, torch.Tensor]:
    """Exact per-unit gradient norms of a `Conv2dPatch` (opacus ghost mode).

    A unit's gradient is that of a Linear on its patches, so `unit_linear_norms` gives it
    (whichever of the per-unit gradient or the Gram-matrix form is cheaper). The patches
    are built a chunk of units at a time, so memory stays bounded for large images.
    """
    x, g = activations[0].to(backprops.dtype), backprops
    per_unit = max(1, math.prod(x.shape[1:-3]) * math.prod(g.shape[-3:-1])) * layer.weight.shape[1]
    chunk = max(1, PATCH_CHUNK_ELEMENTS // per_unit)
    weight_norms, bias_norms = [], []
    for start in range(0, max(len(x), 1), chunk):  # one pass even for opacus' empty Poisson batches
        a = layer.patches(x[start:start + chunk])
        w, b = unit_linear_norms(a, g[start:start + chunk].reshape(*a.shape[:2], g.shape[-1]))
        weight_norms.append(w)
        bias_norms.append(b)
    norms = {}
    if layer.weight.requires_grad:
        norms[layer.weight] = torch.cat(weight_norms)
    if layer.bias.requires_grad:
        norms[layer.bias] = torch.cat(bias_norms)
    return norms


@register_grad_sampler(Conv2dPatch)
def conv2d_patch_grad_sample(layer: Conv2dPatch, activations: list[torch.Tensor],
                             backprops: torch.Tensor) -> dict[nn.Parameter, torch.Tensor]:
    """Per-unit gradients of a `Conv2dPatch` (opacus hooks mode): [units, out, k·k·C_in] and [units, out]."""
    a = layer.patches(activations[0].to(backprops.dtype))
    g = backprops.reshape(*a.shape[:2], backprops.shape[-1])
    grads = {}
    if layer.weight.requires_grad:
        grads[layer.weight] = torch.einsum("nto,nti->noi", g, a)
    if layer.bias.requires_grad:
        grads[layer.bias] = g.sum(1)
    return grads


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
        images = x.reshape(-1, *x.shape[-3:]).permute(0, 3, 1, 2)  # [N, C, H, W], channels-last memory
        return F.group_norm(images, self.groups, eps=self.eps).permute(0, 2, 3, 1).reshape(x.shape)

    def extra_repr(self) -> str:
        return f"{self.channels}, groups={self.groups}, affine=False"


def upsample(h: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Nearest-neighbour ×2 of a map [*lead, h, w, C], cropped to ``height`` × ``width``."""
    lead, (h_in, w_in, channels) = h.shape[:-3], h.shape[-3:]
    images = h.reshape(-1, h_in, w_in, channels).permute(0, 3, 1, 2)  # [N, C, h, w], channels-last memory
    doubled = F.interpolate(images, scale_factor=2, mode="nearest").permute(0, 2, 3, 1)
    return doubled.reshape(*lead, 2 * h_in, 2 * w_in, channels)[..., :height, :width, :]


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

    Built from `Conv2dPatch` (3×3, whose `PatchLinear` gives exact, cheap per-unit norms)
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

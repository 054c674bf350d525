"""Network bodies shared by the families. No BatchNorm anywhere: private modules can't use it.

Tabular rows use `MLP`; series windows use `SeriesEncoder` / `SeriesDecoder` /
`SeriesDenoiser`, built on `TemporalConv` (its `PatchLinear` makes opacus' per-unit
norms of long convolutions cheap). Every body acts on the last dimension(s) and keeps the
leading [units, rows] dimensions, so one privacy unit can hold several rows (windows).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from opacus.grad_sample import register_grad_sampler, register_norm_sampler
from opacus.grad_sample.linear import compute_linear_grad_sample, compute_linear_norm_sample
from torch import nn
from torch.nn import functional as F


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


class TemporalConv(nn.Module):
    """A 1-D convolution over time written as unfold + Linear, for inputs [*lead, L, C_in].

    opacus' ghost clipping handles Linear layers on [batch, T, d] inputs, where one
    privacy unit (the batch index) may hold several windows; a Conv1d would need the unit
    and the window in one batch axis. So the patches of every window are laid out along
    one axis of a 3-D tensor [lead[0], windows·positions, kernel·C_in] and one Linear maps
    them: the same arithmetic as a Conv1d with ``padding`` zeros on both sides.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, stride: int = 1, padding: int = 0):
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.linear = PatchLinear(kernel * in_channels, out_channels)  # exact, cheap per-unit norms

    def output_length(self, length: int) -> int:
        return (length + 2 * self.padding - self.kernel) // self.stride + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-2]
        if self.padding:
            x = F.pad(x, (0, 0, self.padding, self.padding))
        patches = x.unfold(-2, self.kernel, self.stride)  # [*lead, L', C_in, k]
        patches = patches.transpose(-1, -2).flatten(-2)  # [*lead, L', k·C_in]
        positions = patches.shape[-2]
        first, rest = (lead[0], math.prod(lead[1:])) if lead else (1, 1)
        out = self.linear(patches.reshape(first, rest * positions, patches.shape[-1]))
        return out.reshape(*lead, positions, out.shape[-1])


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


# ----------------------------------------------------------------- cheaper per-unit norms
class PatchLinear(nn.Linear):
    """An ``nn.Linear`` whose per-unit gradient norm (opacus ghost mode) is computed the cheaper way.

    Same parameters and arithmetic as ``nn.Linear``; only opacus treats it differently. For
    an input [units, T, d] → [units, T, p], opacus' ghost norm of a Linear builds two T×T
    Gram matrices per unit (cost ∝ T²·(d + p), memory ∝ T²). A temporal convolution's
    patches have T = windows × positions in the thousands, so that is gigabytes per batch;
    the per-unit gradient itself (cost ∝ T·d·p, memory d·p per unit) is far cheaper there.
    `patch_linear_norm_sample` takes whichever is cheaper for the shapes at hand; both give
    the exact per-unit norm (Bu et al. 2023, "mixed ghost clipping"). Hooks mode computes
    per-unit gradients as for ``nn.Linear``.
    """


@register_norm_sampler(PatchLinear)
def patch_linear_norm_sample(layer: nn.Linear, activations: list[torch.Tensor],
                             backprops: torch.Tensor) -> dict[nn.Parameter, torch.Tensor]:
    """Exact per-unit gradient norms of a `PatchLinear` (see there for the choice of method)."""
    if backprops.dim() != 3:
        return compute_linear_norm_sample(layer, activations, backprops)
    weight_norm, bias_norm = unit_linear_norms(activations[0].to(backprops.dtype), backprops)
    norms: dict[nn.Parameter, torch.Tensor] = {}
    if layer.weight.requires_grad:
        norms[layer.weight] = weight_norm
    if layer.bias is not None and layer.bias.requires_grad:
        norms[layer.bias] = bias_norm
    return norms


def unit_linear_norms(a: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-unit gradient norms of a Linear's weight and bias from its inputs ``a`` [units, T, d]
    and output gradients ``g`` [units, T, p], the cheaper exact way for the shapes at hand.

    The per-unit gradient Σ_t g_t a_tᵀ costs T·d·p and d·p memory per unit; the Gram form
    ⟨a aᵀ, g gᵀ⟩ (opacus' ghost norm) costs T²·(d + p). Both are exact.
    """
    t, d, p = a.shape[1], a.shape[-1], g.shape[-1]
    if t * (d + p) <= d * p:
        weight = torch.einsum("nij,nij->n", torch.bmm(a, a.transpose(1, 2)),
                              torch.bmm(g, g.transpose(1, 2))).clamp(min=0).sqrt()
    else:
        weight = torch.bmm(g.transpose(1, 2), a).flatten(1).norm(dim=1)
    return weight, g.sum(1).norm(dim=1)


register_grad_sampler(PatchLinear)(compute_linear_grad_sample)


class SeriesDenoiser(nn.Module):
    """A small 1-D U-Net: [static x_t | values x_t L×C | extra] -> [static logits | values L×C].

    Built from `TemporalConv` only (whose `PatchLinear` gives cheap per-unit norms), no
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

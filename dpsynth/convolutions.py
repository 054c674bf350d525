"""Convolutions whose per-unit gradient norms opacus computes exactly when a unit holds several rows.

DP-SGD clips one gradient per privacy unit. A unit (a subject) may hold several windows
or images, so the networks keep a leading [units, rows] layout; ``nn.Conv1d`` /
``nn.Conv2d`` can't — opacus would see one sample per window or image. `TemporalConv`
(1-D, inputs [*lead, L, C]) and `Conv2dPatch` (2-D, inputs [*lead, H, W, C]; channels
last in both) run ``F.conv1d`` / ``F.conv2d`` in the forward and backward passes (native
kernels) and hold their parameters as a Linear on the patches: ``weight`` [out,
k^d·C_in], input index ``(offset along each axis)·C_in + channel``. Their own opacus
samplers (`conv_norm_sample`, `conv_grad_sample`) lay the patches of all of a unit's rows
along one axis, [units, rows·positions, k^d·C_in], and take the per-unit gradient of
that Linear — exact, a chunk of units at a time, so memory stays bounded.

Unfolding patches in the forward pass would take gigabytes for 32×32 batches (and their
backward, a scatter, would dominate the step); here they are laid out only inside the opacus
samplers.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from opacus.grad_sample import register_grad_sampler, register_norm_sampler
from torch import nn
from torch.nn import functional as F

PATCH_CHUNK_ELEMENTS = 2 ** 25  # about 128 MB of float32 patches at a time inside the norm sampler


def channels_first(op: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, dims: int = 2) -> torch.Tensor:
    """Apply a torch op on [N, C, *spatial] rows to channels-last inputs [*lead, *spatial, C]
    (``dims`` spatial axes): one reshape each way, channels-last memory, no copy in between."""
    lead = x.shape[:-1 - dims]
    out = op(x.reshape(-1, *x.shape[-1 - dims:]).movedim(-1, 1))
    return out.movedim(1, -1).reshape(*lead, *out.shape[2:], out.shape[1])


class PatchConv(nn.Module):
    """A channels-last convolution over the last ``dims`` spatial axes (1 or 2), square
    kernel, zero padding; the arithmetic of ``nn.Conv1d`` / ``nn.Conv2d``."""

    dims: int

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, stride: int = 1, padding: int = 0):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel, self.stride, self.padding = kernel, stride, padding
        reference = nn.Linear(kernel ** self.dims * in_channels, out_channels)  # the Conv's default init
        self.weight = nn.Parameter(reference.weight.detach().clone())
        self.bias = nn.Parameter(reference.bias.detach().clone())

    def output_length(self, length: int) -> int:
        """The output size along one spatial axis of input size ``length``."""
        return (length + 2 * self.padding - self.kernel) // self.stride + 1

    def conv_weight(self) -> torch.Tensor:
        """The weight in torch's convolution layout [out, in, k(, k)]."""
        return self.weight.unflatten(1, (self.kernel,) * self.dims + (self.in_channels,)).movedim(-1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        convolve = F.conv1d if self.dims == 1 else F.conv2d
        return channels_first(lambda rows: convolve(rows, self.conv_weight(), self.bias, stride=self.stride,
                                                    padding=self.padding), x, dims=self.dims)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """The patches of inputs [units, *rest, *spatial, C_in] as [units, rest·positions, k^d·C_in]."""
        if self.padding:
            x = F.pad(x, (0, 0) + (self.padding, self.padding) * self.dims)
        for _ in range(self.dims):  # each unfold appends a kernel axis: [..., *positions, C, k(, k)]
            x = x.unfold(-1 - self.dims, self.kernel, self.stride)
        x = x.movedim(-1 - self.dims, -1).flatten(-1 - self.dims)  # [units, *rest, *positions, k^d·C]
        return x.reshape(len(x), math.prod(x.shape[1:-1]), x.shape[-1])


class TemporalConv(PatchConv):
    """A 1-D convolution over time for inputs [*lead, L, C_in] (see the module docstring)."""

    dims = 1


class Conv2dPatch(PatchConv):
    """A 2-D convolution for images [*lead, H, W, C_in] (see the module docstring)."""

    dims = 2

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return self.output_length(height), self.output_length(width)


def unit_linear_norms(a: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-unit gradient norms of a Linear's weight and bias from its inputs ``a`` [units, T, d]
    and output gradients ``g`` [units, T, p], the cheaper exact way for the shapes at hand.

    The per-unit gradient Σ_t g_t a_tᵀ costs T·d·p and d·p memory per unit; the Gram form
    ⟨a aᵀ, g gᵀ⟩ (opacus' ghost norm) costs T²·(d + p) ("mixed ghost clipping", Bu et al.
    2023). Both are exact.
    """
    t, d, p = a.shape[1], a.shape[-1], g.shape[-1]
    if t * (d + p) <= d * p:
        weight = torch.einsum("nij,nij->n", torch.bmm(a, a.transpose(1, 2)),
                              torch.bmm(g, g.transpose(1, 2))).clamp(min=0).sqrt()
    else:
        weight = torch.bmm(g.transpose(1, 2), a).flatten(1).norm(dim=1)
    return weight, g.sum(1).norm(dim=1)


def conv_norm_sample(layer: PatchConv, activations: list[torch.Tensor],
                     backprops: torch.Tensor) -> dict[nn.Parameter, torch.Tensor]:
    """Exact per-unit gradient norms of a `PatchConv` (opacus ghost mode), a chunk of units at a time."""
    x, g = activations[0].to(backprops.dtype), backprops
    per_unit = max(1, math.prod(g.shape[1:-1])) * layer.weight.shape[1]  # patch elements per unit
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


def conv_grad_sample(layer: PatchConv, activations: list[torch.Tensor],
                     backprops: torch.Tensor) -> dict[nn.Parameter, torch.Tensor]:
    """Per-unit gradients of a `PatchConv` (opacus hooks mode): [units, out, k^d·C_in] and [units, out]."""
    a = layer.patches(activations[0].to(backprops.dtype))
    g = backprops.reshape(*a.shape[:2], backprops.shape[-1])
    grads = {}
    if layer.weight.requires_grad:
        grads[layer.weight] = torch.einsum("nto,nti->noi", g, a)
    if layer.bias.requires_grad:
        grads[layer.bias] = g.sum(1)
    return grads


for _conv in (TemporalConv, Conv2dPatch):  # opacus looks samplers up by the exact module type
    register_norm_sampler(_conv)(conv_norm_sample)
    register_grad_sampler(_conv)(conv_grad_sample)

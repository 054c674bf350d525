"""Network bodies shared by the families. No BatchNorm anywhere: private modules can't use it."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


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

"""Building blocks the DP-GAN family's generators share across modalities.

`BlockSoftener` turns generator logits into a differentiable sample of a tabular encoding
(a table row, or the static record of a series subject or an image); `CellRestriction`
keeps a fake inside its condition cell; `condition_free_mask`
and `condition_blocks` tell the auxiliary condition classifier what it may see and where
each condition's one-hot block lies; `TanhValues` bounds a decoder's values to the
codec's scaled range [-1, 1]. They read only the codec's public layout: the ``blocks``,
``width``, ``schema`` and ``condition_domains`` of a tabular codec
(`dpsynth.tabular.codec.TabularCodec`, or the static part of a series or image codec), so
the family never imports a modality.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn


class BlockSoftener:
    """Generator logits -> a soft row in the codec's encoding, differentiable in the logits.

    Each softmax block becomes a Gumbel-softmax sample (temperature ``tau``), the relaxation
    of the Gumbel-max sampling the codec's ``decode`` does. Real rows of a missing numeric
    have all-zero bin blocks, so a nullable column's bin blocks are scaled by the soft
    "present" probability: otherwise "missing but with a bin" would give fakes away.
    """

    def __init__(self, codec: Any, *, tau: float):
        self.tau = tau
        size = max(b.size for b in codec.blocks)
        index = torch.zeros(len(codec.blocks), size, dtype=torch.long)
        self.pad = torch.ones(len(codec.blocks), size, dtype=torch.bool)
        for i, b in enumerate(codec.blocks):
            index[i, : b.size] = torch.arange(b.start, b.stop)
            self.pad[i, : b.size] = False
        self.index = index.flatten()
        self.keep = torch.nonzero(~self.pad.flatten()).squeeze(1)  # padded layout -> encoding order
        self.scale_index = torch.arange(codec.width)  # position of each slot's scale factor
        self.scaled = torch.zeros(codec.width, dtype=torch.bool)
        for b in codec.blocks:
            missing = codec.blocks_of(b.column).get("missing")
            if b.role in ("bin", "fine") and missing is not None:
                self.scale_index[b.start:b.stop] = missing.start  # the "present" probability
                self.scaled[b.start:b.stop] = True

    def _to(self, device: torch.device) -> None:
        """Keep the index tensors on the logits' device (the generator may train on a GPU)."""
        if self.index.device != device:
            for name in ("index", "pad", "keep", "scale_index", "scaled"):
                setattr(self, name, getattr(self, name).to(device))

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        self._to(logits.device)
        # All blocks at once: gather into [..., blocks, max size] with -inf padding, one softmax.
        padded = logits[..., self.index].unflatten(-1, self.pad.shape).masked_fill(self.pad, float("-inf"))
        gumbel = -torch.empty_like(padded).exponential_().log()
        soft = torch.softmax((padded + gumbel) / self.tau, dim=-1)
        out = soft.flatten(-2)[..., self.keep]
        return torch.where(self.scaled, out * out[..., self.scale_index], out)


class CellRestriction(nn.Module):
    """Generator logits -> the same logits with every choice that a row's condition cell rules
    out set to -inf: the fake's target block *is* its condition, a sensitive group's column
    stays in its group (an age band's bins, a merged race group's categories).

    ``decode`` applies the same restriction at sampling; applied in training too, the fakes
    the discriminator judges are the rows that will be sampled. Without it the generator may
    give a row conditioned on one outcome the other outcome's block (and that class's
    features); decoding then writes the condition's label on them — the label relationship
    inverts. Built from the public layout only (`condition_masks` over every condition cell).
    """

    def __init__(self, codec: Any):
        super().__init__()
        names = list(codec.condition_domains)
        cells = pd.DataFrame(list(itertools.product(*codec.condition_domains.values())), columns=names)
        allowed = torch.ones(len(cells), codec.width, dtype=torch.bool)
        for (column, role), mask in codec.condition_masks(cells).items():
            block = codec.blocks_of(column)[role]
            allowed[:, block.start:block.stop] = torch.from_numpy(np.asarray(mask, dtype=bool))
        self.register_buffer("cells", torch.from_numpy(codec.encode_conditions(cells)).float(), persistent=False)
        self.register_buffer("allowed", allowed, persistent=False)

    def forward(self, logits: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        cell = (c @ self.cells.T).argmax(-1)  # the one cell whose one-hots all match c's
        return logits.masked_fill(~self.allowed[cell], float("-inf"))


def condition_free_mask(codec: Any) -> torch.Tensor:
    """1 for the encoding slots the auxiliary classifier may see, 0 for the columns the
    conditions are made of (the target and each sensitive attribute's source column)."""
    hidden = {codec.schema.target} | {a.column for a in codec.schema.sensitive}
    mask = torch.ones(codec.width)
    for b in codec.blocks:
        if b.column in hidden:
            mask[b.start:b.stop] = 0.0
    return mask


def condition_blocks(codec: Any) -> list[tuple[int, int]]:
    """(start, stop) of each condition attribute's one-hot block in the condition vector."""
    blocks, start = [], 0
    for domain in codec.condition_domains.values():
        blocks.append((start, start + len(domain)))
        start += len(domain)
    return blocks


class TanhValues(nn.Module):
    """Wraps a decoder (series or image): [static logits | values] with tanh on the values, so they lie in
    the codec's scaled range [-1, 1] (the output `generate` returns and the codec decodes)."""

    def __init__(self, decoder: nn.Module):
        super().__init__()
        self.decoder = decoder
        self.static_width = decoder.static_width

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        out = self.decoder(inputs)
        s = self.static_width
        return torch.cat([out[..., :s], torch.tanh(out[..., s:])], dim=-1)

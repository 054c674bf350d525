"""Series codec: a subject's static record + signal windows <-> fixed-width float rows.

Driven only by the public schema (docs/privacy.md, rule 2): channel bounds scale the signal, the static
columns use the tabular codec. One *row* is one window together with its subject's static
record; a subject's rows form one privacy unit (the generator groups them).

Row layout (model input, width ``input_width``):

    [ static encoding (tabular codec, softmax blocks) | values L×C | observed mask L×C ]

- values: each channel scaled from its public bounds to [-1, 1]; a missing sample is 0
  and its mask entry 0, so it adds nothing to the loss and is never invented silently;
- the decoder's output (width ``width``) is [static logits | value means L×C].

The loss per row is the static part's cross-entropy (tabular codec) plus a Gaussian
negative log-likelihood of the observed values with a fixed, public noise scale
``sigma`` (in scaled units). `decode` samples the static record consistent with the
condition cell (as tabular rows) and returns the mean signal, unscaled and clipped to the
channel bounds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from dpsynth.tabular.codec import TabularCodec
from dpsynth.series.schema import SeriesSchema


class SeriesCodec:
    """Schema-driven encoder/decoder for series windows (see module docstring)."""

    def __init__(self, schema: SeriesSchema, *, n_bins: int = 16, sigma: float = 0.1):
        schema.require_public()
        if not sigma > 0:
            raise ValueError(f"sigma must be positive (got {sigma})")
        self.schema = schema
        self.static_codec = TabularCodec(schema.static, n_bins=n_bins)
        self.sigma = sigma
        self.window = schema.window
        self.n_channels = len(schema.channels)
        self.static_width = self.static_codec.width
        self.signal_width = self.window * self.n_channels
        self.width = self.static_width + self.signal_width  # decoder output
        self.input_width = self.static_width + 2 * self.signal_width  # with the observed mask
        self.condition_domains = self.static_codec.condition_domains
        self.condition_width = self.static_codec.condition_width
        self.lower = np.array([c.lower for c in schema.channels], dtype=np.float64)
        self.upper = np.array([c.upper for c in schema.channels], dtype=np.float64)

    # ------------------------------------------------------------------ encode
    def scale(self, values: np.ndarray) -> np.ndarray:
        """Channel values (last axis = channels) -> [-1, 1] by the public bounds."""
        return 2.0 * (values - self.lower) / (self.upper - self.lower) - 1.0

    def unscale(self, scaled: np.ndarray) -> np.ndarray:
        return self.lower + (np.asarray(scaled, dtype=np.float64) + 1.0) / 2.0 * (self.upper - self.lower)

    def encode_signal(self, windows: np.ndarray) -> np.ndarray:
        """Windows [n, L, C] (NaN = missing) -> [n, 2·L·C]: scaled values (0 where missing), mask."""
        observed = ~np.isnan(windows)
        values = np.where(observed, self.scale(np.nan_to_num(windows)), 0.0)
        n = len(windows)
        return np.concatenate([values.reshape(n, -1), observed.reshape(n, -1)], axis=1).astype(np.float32)

    def encode_static(self, static: pd.DataFrame) -> np.ndarray:
        return self.static_codec.encode(static)

    def encode_conditions(self, groups: pd.DataFrame) -> np.ndarray:
        return self.static_codec.encode_conditions(groups)

    # -------------------------------------------------------------------- loss
    def row_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per row (leading dims kept): static cross-entropy + masked Gaussian NLL of the values."""
        s, w = self.static_width, self.signal_width
        static_loss = self.static_codec.row_loss(output[..., :s], target[..., :s])
        values, observed = target[..., s:s + w], target[..., s + w:]
        squared = (output[..., s:s + w] - values).pow(2) * observed
        return static_loss + squared.sum(-1) / (2 * self.sigma ** 2)

    # ------------------------------------------------------------------ decode
    def decode(self, output: np.ndarray, cells: pd.DataFrame, *,
               rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
        """(static table [n rows], signals [n, L, C]) from decoder outputs [n, width].

        The static record is sampled consistent with each row's condition cell; the signal
        is the decoder's mean, unscaled and clipped to the channel bounds.
        """
        s = self.static_width
        static = self.static_codec.decode(output[:, :s], cells, rng=rng)
        signal = self.unscale(output[:, s:].reshape(len(output), self.window, self.n_channels))
        return static, np.clip(signal, self.lower, self.upper)

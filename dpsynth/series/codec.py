"""Series codec: a subject's static record + signal windows <-> fixed-width float rows.

Driven only by the public schema (docs/privacy.md, rule 2): channel bounds scale the signal, the static
columns use the tabular codec. One *row* is one window together with its subject's static
record; a subject's rows form one privacy unit (the generator groups them).

Row layout (model input, width ``input_width``):

    [ static encoding (tabular codec, softmax blocks) | values L×C | observed mask L×C ]

- values: each channel scaled from its public bounds to [-1, 1]; a missing sample is 0
  and its mask entry 0, so it adds nothing to the value loss and is never invented silently;
- the decoder's output (width ``width``) is [static logits | L × 2C], each time step
  holding the C value means, then C *observation scores* in [-1, 1] (2·P(observed) − 1).

The loss per row is the static part's cross-entropy (tabular codec), a Gaussian negative
log-likelihood of the observed values with a fixed, public noise scale ``sigma`` (in
scaled units) and the squared error of the observation scores against ±1 (observed / missing; its minimiser is 2·P − 1, so
the score is a calibrated probability, and a diffusion model can treat it as one more
continuous x0 channel). `decode` samples the static record consistent with the condition
cell (as tabular rows), returns the mean signal, unscaled and clipped to the channel
bounds, and for ``missing`` channels draws which samples are observed (the others NaN)
from the scores with the sampling generator — at least one per window, as every real
window has one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from dpsynth.tabular.codec import TabularCodec
from dpsynth.series.schema import SeriesSchema

# Public scale of the observation scores' squared error: the loss of a score is
# (score − (±1))² / (2 · 0.5²), so a coin-flip score (0) costs 2 per sample, of the order of
# a value's Gaussian term at typical errors (sigma 0.1).
OBSERVATION_SCALE = 0.5


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
        self.output_channels = 2 * self.n_channels  # per time step: C values, C observation scores
        self.width = self.static_width + 2 * self.signal_width  # decoder output
        self.input_width = self.static_width + 2 * self.signal_width  # with the observed mask
        self.condition_domains = self.static_codec.condition_domains
        self.condition_width = self.static_codec.condition_width
        self.lower = np.array([c.lower for c in schema.channels], dtype=np.float64)
        self.upper = np.array([c.upper for c in schema.channels], dtype=np.float64)
        self.missing = np.array([c.missing for c in schema.channels], dtype=bool)
        # the same per flattened sample [L·C] (time-major, as the values and the mask are laid out)
        self.missing_samples = torch.from_numpy(np.tile(self.missing, self.window))

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

    def sample_columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where each modelled sample lives, values time-major [L·C] then the observation flags
        of the ``missing`` channels time-major [L·M]: its input column (`encode_signal`, after
        the static part), the input's lower end (-1 for a scaled value, 0 for a 0/1 flag) and
        its output column (`split_output`'s layout, the flag's being its observation score)."""
        c, s = self.n_channels, self.static_width
        flagged = np.flatnonzero(self.missing)
        time, channel = np.repeat(np.arange(self.window), c), np.tile(np.arange(c), self.window)
        flag_time, flag_channel = np.repeat(np.arange(self.window), len(flagged)), np.tile(flagged, self.window)
        inputs = np.concatenate([s + time * c + channel, s + self.signal_width + flag_time * c + flag_channel])
        outputs = np.concatenate([s + time * 2 * c + channel, s + flag_time * 2 * c + c + flag_channel])
        floor = np.concatenate([np.full(len(time), -1.0), np.zeros(len(flag_time))])
        return inputs, floor, outputs

    # -------------------------------------------------------------------- loss
    def split_output(self, output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A decoder output -> (static logits, values [..., L·C], observation scores [..., L·C])."""
        s, c = self.static_width, self.n_channels
        steps = output[..., s:].unflatten(-1, (self.window, 2 * c))
        return output[..., :s], steps[..., :c].flatten(-2), steps[..., c:].flatten(-2)

    def join_signal(self, values: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """Values and scores [..., L·C] each -> the output's signal part [..., L × 2C] (inverse of
        `split_output` after the static part)."""
        shape = (self.window, self.n_channels)
        return torch.cat([values.unflatten(-1, shape), scores.unflatten(-1, shape)], dim=-1).flatten(-2)

    def row_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per row (leading dims kept): static cross-entropy + masked Gaussian NLL of the values
        + the observation scores' squared error against ±1 (every channel: a channel without
        ``missing`` learns its padding gaps too, and a diffusion model's score inputs stay trained)."""
        s, w = self.static_width, self.signal_width
        static_logits, predicted, scores = self.split_output(output)
        static_loss = self.static_codec.row_loss(static_logits, target[..., :s])
        values, observed = target[..., s:s + w], target[..., s + w:]
        squared = (predicted - values).pow(2) * observed
        miss = (scores - (2 * observed - 1)).pow(2)
        return static_loss + squared.sum(-1) / (2 * self.sigma ** 2) + miss.sum(-1) / (2 * OBSERVATION_SCALE ** 2)

    # ------------------------------------------------------------------ decode
    def decode(self, output: np.ndarray, cells: pd.DataFrame, *,
               rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
        """(static table [n rows], signals [n, L, C], NaN = missing) from decoder outputs [n, width].

        The static record is sampled consistent with each row's condition cell; the signal
        is the decoder's mean, unscaled and clipped to the channel bounds; a ``missing``
        channel's samples are observed with probability (score + 1) / 2, drawn from ``rng``.
        """
        s = self.static_width
        static = self.static_codec.decode(output[:, :s], cells, rng=rng)
        steps = np.asarray(output[:, s:], dtype=np.float64).reshape(len(output), self.window, 2 * self.n_channels)
        signal = np.clip(self.unscale(steps[..., :self.n_channels]), self.lower, self.upper)
        if self.missing.any():
            signal = np.where(self.observed(steps[..., self.n_channels:], rng), signal, np.nan)
        return static, signal

    def observed(self, scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Which samples are observed [n, L, C] for observation scores [n, L, C]: drawn with
        P = (clipped score + 1) / 2 on ``missing`` channels, all on the others; a window with
        none gets its likeliest sample (a real window always has one)."""
        probability = (np.clip(scores, -1.0, 1.0) + 1.0) / 2.0
        drawn = rng.random(scores.shape) < probability
        observed = np.where(self.missing, drawn, True)
        empty = ~observed.any(axis=(1, 2))
        if empty.any():
            flat = np.where(self.missing, probability, -1.0)[empty].reshape(int(empty.sum()), -1)
            rows = observed[empty].reshape(len(flat), -1)
            rows[np.arange(len(flat)), flat.argmax(1)] = True
            observed[empty] = rows.reshape(-1, self.window, self.n_channels)
        return observed

"""Downstream models for the series audit, and the per-window statistics they share with the
fidelity validator.

TSTR trains on the synthetic subjects, TRTR on the real training subjects; both score the
same real holdout subjects (one probability per holdout subject, in the order of the
holdout's static table). The two models and every setting are fixed a priori (no tuning,
no early stopping, nothing chosen by looking at real data), and seeded from
``config.random_state``:

- ``cnn``: a small 1-D CNN (torch) on the windows the schema cuts from each signal. Input:
  each channel scaled from its *public* bounds to [-1, 1], a missing sample set to 0, plus
  one observed-mask channel per signal channel. Body: `cnn_depth` (2 to 6, from the window
  length: enough stride-2 layers for a receptive field of about half the window)
  ``Conv1d`` + BatchNorm + ReLU layers (16, 32, 32, ... filters, kernels 7, 5, 5, ...,
  stride 2), global average pooling over time, one linear output. Trained non-privately
  with Adam (lr ``CNN_LR``) on the binary cross-entropy for a fixed number of steps,
  ``CNN_STEPS`` batches of ``CNN_BATCH`` windows, each window labelled with its subject's
  target. A batch draws subjects
  uniformly (then one of the subject's windows), so every training subject weighs the
  same whatever its number of windows. The number of *steps*, not of epochs, is fixed:
  generators emit one window per synthetic subject while real subjects give up to
  ``max_windows_per_subject``, and a fixed epoch count would give TSTR a fraction of
  TRTR's optimisation, measuring the training budget instead of the data. A holdout
  subject's score is the mean of its windows' probabilities.
- ``features``: per window and channel the summary statistics of `window_statistics`
  (observed share, mean, standard deviation, min, max, 5/25/50/75/95 % quantiles, mean
  absolute first difference, autocorrelation at lags 1, 2, 4, ... up to half the window,
  dominant frequency and relative power in octave bands of the rFFT), averaged over the
  subject's windows, plus the static columns (every static schema column except the
  target, encoded from the public schema: numeric scaled by its bounds, categorical
  one-hot; missing left as NaN), then scikit-learn's ``HistGradientBoostingClassifier``
  with defaults except ``early_stopping=False`` (as the tabular ``gboost``); a feature with no
  observed value in the training subjects is left out (`detection.observed_columns`).

When a training table holds only one target class the source's predictions are NaN with
the flag of `models.training_flag`, exactly as for tabular data.

`SeriesAuditContext` is the tabular `AuditContext` built on the three *static* tables (so
subgroup labels, intersections, flags and small-group rules are the tabular ones) plus the
series schema and the signals. The audit reads real data and is NOT differentially private.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits
from torch import nn

from dpsynth.series.schema import SeriesSchema
from dpsynth.validators.context import AuditContext
from dpsynth.validators.detection import observed_columns
from dpsynth.validators.tabular_models import UNKNOWN_MODEL
from dpsynth.validators.predictions import SINGLE_CLASS, SOURCES, TRAINING_FRAME, training_flag
from dpsynth.validators.tabular_encoding import encode

SERIES_MODELS: tuple[str, ...] = ("cnn", "features")
FRAMES = ("train", "holdout", "synthetic")

# Fixed a priori (see the module docstring).
CNN_FILTERS = (16, 32, 32)
CNN_KERNELS = (7, 5, 5)
CNN_MIN_LENGTH = 8        # see `cnn_depth`
CNN_MAX_DEPTH = 6
CNN_STEPS = 300
CNN_BATCH = 128
CNN_LR = 3e-3
# torch threads for the CNN. One: on CPU cores shared with another job, threads spin-wait and
# a fit slows many times over (as for the single-threaded gradient boosting in models.py and
# fidelity.py; docs/benchmarks.md).
CNN_THREADS = 1
PREDICT_BATCH = 2048
FEATURE_LAGS = (1, 2, 4, 8, 16, 32)   # autocorrelation lags used as features (those <= window / 2)
ACF_MAX_LAG = 64           # fidelity compares the ACF at lags 1..min(window // 4, ACF_MAX_LAG)
CHUNK = 1024               # windows per block in `window_statistics` (bounds memory)
_SALT = 11                 # seeds the CNN's initialisation and batches

NO_SIGNALS = "the series audit context has no signals for the {name} table"


# ---------------------------------------------------------------------------- context
@dataclass
class SubjectWindows:
    """The windows of one table: ``values`` [n_windows, window, channels] (float32, raw units,
    NaN = missing), ``owner`` (position of each window's subject in the static table) and
    ``offsets`` (subject i owns windows ``offsets[i]:offsets[i + 1]``)."""

    values: np.ndarray
    owner: np.ndarray
    offsets: np.ndarray

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)


@dataclass
class WindowStatistics:
    """Per-window statistics of one table (see `window_statistics`)."""

    features: np.ndarray      # [n_windows, n_features]
    names: list[str]
    acf: np.ndarray           # [n_windows, channels, max_lag]: lags 1..max_lag
    spectrum: np.ndarray      # [n_windows, channels, window // 2]: normalised power, DC excluded
    frequencies: np.ndarray   # [window // 2] in Hz


@dataclass
class SeriesAuditContext(AuditContext):
    """`AuditContext` on the static tables plus the series schema and the conformed signals
    (``signals[frame][subject_id]``, frame in train / holdout / synthetic). Windows and their
    statistics are computed once per table and cached."""

    series_schema: SeriesSchema | None = None
    signals: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._windows: dict[str, SubjectWindows] = {}
        self._stats: dict[str, WindowStatistics] = {}

    def windows(self, frame: str) -> SubjectWindows:
        if frame not in self._windows:
            if frame not in self.signals:
                raise ValueError(NO_SIGNALS.format(name=frame))
            self._windows[frame] = cut_windows(self.series_schema, getattr(self, frame), self.signals[frame])
        return self._windows[frame]

    def statistics(self, frame: str) -> WindowStatistics:
        if frame not in self._stats:
            self._stats[frame] = window_statistics(self.series_schema, self.windows(frame).values)
        return self._stats[frame]


def cut_windows(schema: SeriesSchema, static, signals: dict[str, np.ndarray]) -> SubjectWindows:
    """Windows of every subject of ``static`` (in row order), cut by ``schema.windows``."""
    pieces = [schema.windows(signals[subject]).astype(np.float32) for subject in static[schema.subject_id]]
    counts = np.array([len(p) for p in pieces], dtype=int)
    values = np.concatenate(pieces) if pieces else np.zeros((0, schema.window, len(schema.channels)), np.float32)
    return SubjectWindows(values=values, owner=np.repeat(np.arange(len(pieces)), counts),
                          offsets=np.r_[0, np.cumsum(counts)])


def scale_unit(schema: SeriesSchema, values: np.ndarray) -> np.ndarray:
    """Values [..., channels] scaled from each channel's public bounds to [0, 1] (NaN kept)."""
    lower = np.array([c.lower for c in schema.channels], dtype=np.float32)
    upper = np.array([c.upper for c in schema.channels], dtype=np.float32)
    return (values - lower) / (upper - lower)


# ------------------------------------------------------------------ window statistics
def acf_lags(window: int) -> tuple[int, ...]:
    """Lags 1..K compared by the fidelity validator, K = min(window // 4, ACF_MAX_LAG) (≥ 1)."""
    return tuple(range(1, max(1, min(window // 4, ACF_MAX_LAG)) + 1))


def feature_lags(window: int) -> tuple[int, ...]:
    return tuple(k for k in FEATURE_LAGS if k <= max(1, window // 2))


def octave_bands(window: int) -> list[tuple[int, int]]:
    """rFFT bin ranges [lo, hi) of the octave bands 1, 2–3, 4–7, ... (the last one includes
    the Nyquist bin); bin k is the frequency k · sampling_rate / window."""
    top = window // 2
    bands, lo = [], 1
    while lo <= top:
        hi = min(2 * lo, top + 1)
        if hi == top and top > lo:  # never leave the Nyquist bin alone
            hi = top + 1
        bands.append((lo, hi))
        lo = hi
    return bands


def feature_names(schema: SeriesSchema) -> list[str]:
    window = schema.window
    stats = (["observed", "mean", "std", "min", "max", "q05", "q25", "q50", "q75", "q95", "mean_abs_diff"]
             + [f"acf{k}" for k in feature_lags(window)] + ["dominant_frequency"]
             + [f"band{lo}-{hi - 1}" for lo, hi in octave_bands(window)])
    return [f"{c}:{s}" for c in schema.channel_names for s in stats]


def window_statistics(schema: SeriesSchema, values: np.ndarray) -> WindowStatistics:
    """Summary features, autocorrelation and normalised power spectrum of every window.

    Computed on the values scaled to [0, 1] by the public bounds, per window and channel,
    from the observed samples only:

    - quantiles by linear interpolation; ``mean_abs_diff`` over consecutive observed pairs;
    - autocorrelation at lag k: the mean product of centred samples k apart (pairs with
      both observed) over the variance; NaN for a constant or nearly empty window;
    - spectrum: mean removed, missing samples set to the window mean, Hann taper, rFFT
      power without the DC bin, normalised to sum 1 (NaN for a constant window); the
      dominant frequency is its peak (Hz, from ``schema.sampling_rate``) and the band
      powers its sums over `octave_bands`.
    """
    n, length, n_ch = values.shape
    lags, f_lags, bands = acf_lags(length), feature_lags(length), octave_bands(length)
    max_lag = max(max(lags), max(f_lags))
    freqs = np.fft.rfftfreq(length, d=1.0 / schema.sampling_rate)[1:]
    n_stats = 11 + len(f_lags) + 1 + len(bands)
    features = np.full((n, n_ch, n_stats), np.nan, dtype=np.float32)
    acf = np.full((n, n_ch, len(lags)), np.nan, dtype=np.float32)
    spectrum = np.full((n, n_ch, len(freqs)), np.nan, dtype=np.float32)
    taper = np.hanning(length + 2)[1:-1]  # no zero end points: every sample counts
    nfft = 1 << int(np.ceil(np.log2(2 * length)))
    quantiles = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    with np.errstate(invalid="ignore", divide="ignore"):
        for start in range(0, n, CHUNK):
            block = scale_unit(schema, values[start:start + CHUNK]).astype(np.float64)
            x = np.moveaxis(block, 2, 1).reshape(-1, length)          # [rows = windows × channels, L]
            observed = ~np.isnan(x)
            count = observed.sum(1)
            some = count > 0
            mean = np.where(some, np.nansum(x, 1) / np.maximum(count, 1), np.nan)
            centred = np.where(observed, x - mean[:, None], 0.0)
            var = (centred ** 2).sum(1) / np.maximum(count, 1)
            ordered = np.sort(x, axis=1)                                 # NaN last
            pos = quantiles[None, :] * np.maximum(count - 1, 0)[:, None]
            lo = np.floor(pos).astype(int)
            hi = np.minimum(lo + 1, np.maximum(count - 1, 0)[:, None])
            frac = pos - lo
            qv = (np.take_along_axis(ordered, lo, 1) * (1 - frac) + np.take_along_axis(ordered, hi, 1) * frac)
            last = np.take_along_axis(ordered, np.maximum(count - 1, 0)[:, None], 1)[:, 0]
            diffs = np.abs(np.diff(x, axis=1))
            n_diffs = (~np.isnan(diffs)).sum(1)
            mad = np.where(n_diffs > 0, np.nansum(diffs, 1) / np.maximum(n_diffs, 1), np.nan)
            # autocorrelation, pairs of observed samples only (FFT of values and of the mask)
            cov = np.fft.irfft(np.abs(np.fft.rfft(centred, nfft)) ** 2, nfft)[:, :max_lag + 1]
            pairs = np.rint(np.fft.irfft(np.abs(np.fft.rfft(observed.astype(float), nfft)) ** 2, nfft)[:, :max_lag + 1])
            ac = (cov / np.where(pairs > 0, pairs, np.nan)) / (cov[:, :1] / np.maximum(pairs[:, :1], 1))
            ac[(var <= 1e-12) | (count < 3)] = np.nan
            ac = np.clip(ac, -1.0, 1.0)
            # spectrum
            power = np.abs(np.fft.rfft(centred * taper, axis=1)) ** 2
            power = power[:, 1:]
            total = power.sum(1, keepdims=True)
            norm = np.where(total > 1e-20, power / total, np.nan)
            norm[count < 2] = np.nan
            if len(freqs):
                peak = np.where(np.isnan(norm).any(1), np.nan, freqs[np.argmax(np.nan_to_num(norm, nan=-1.0), 1)])
            else:  # a one-sample window has no spectrum
                peak = np.full(len(x), np.nan)
            band_power = np.zeros((len(x), len(bands)))
            for j, (lo_, hi_) in enumerate(bands):
                band_power[:, j] = norm[:, lo_ - 1:hi_ - 1].sum(1)
            band_power[np.isnan(norm).any(1)] = np.nan
            stats = np.column_stack([
                count / length, mean, np.sqrt(var), ordered[:, 0], last, qv, mad,
                ac[:, list(f_lags)], peak, band_power,
            ])
            stats[~some] = np.nan
            stats[~some, 0] = 0.0
            rows = len(block)
            features[start:start + rows] = stats.reshape(rows, n_ch, n_stats)
            acf[start:start + rows] = ac[:, 1:len(lags) + 1].reshape(rows, n_ch, len(lags))
            spectrum[start:start + rows] = norm.reshape(rows, n_ch, len(freqs))
    return WindowStatistics(features=features.reshape(n, -1), names=feature_names(schema), acf=acf,
                            spectrum=spectrum, frequencies=freqs)


def subject_means(values: np.ndarray, windows: SubjectWindows) -> np.ndarray:
    """Per-subject mean over its windows of per-window rows ``values`` [n_windows, ...] (NaN ignored)."""
    finite = np.isfinite(values)
    sums = np.add.reduceat(np.where(finite, values, 0.0), windows.offsets[:-1], axis=0)
    counts = np.add.reduceat(finite.astype(float), windows.offsets[:-1], axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


# --------------------------------------------------------------------------- the CNN
def cnn_depth(window: int) -> int:
    """Stride-2 layers: enough to bring the window down to ~``CNN_MIN_LENGTH`` samples, so the
    receptive field spans about half the window (2 to ``CNN_MAX_DEPTH``; from the schema only)."""
    return int(np.clip(np.ceil(np.log2(max(window, 1) / CNN_MIN_LENGTH)), 2, CNN_MAX_DEPTH))


class SeriesCNN(nn.Module):
    """Conv1d + BatchNorm + ReLU layers (stride 2), global average pooling, linear: one logit per
    window. BatchNorm is allowed here: this model is never trained under DP (without it,
    training can stall on a plateau on slow waves)."""

    def __init__(self, in_channels: int, window: int):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_channels
        for i in range(cnn_depth(window)):
            filters, kernel = CNN_FILTERS[min(i, len(CNN_FILTERS) - 1)], CNN_KERNELS[min(i, len(CNN_KERNELS) - 1)]
            layers += [nn.Conv1d(width, filters, kernel, stride=2, padding=kernel // 2), nn.BatchNorm1d(filters),
                       nn.ReLU()]
            width = filters
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [batch, 2 × channels, window]
        return self.head(self.body(x).mean(-1)).squeeze(-1)


def cnn_inputs(schema: SeriesSchema, values: np.ndarray) -> torch.Tensor:
    """Windows [n, L, C] -> [n, 2C, L]: values scaled to [-1, 1] by the public bounds (0 where
    missing), then the observed masks."""
    observed = ~np.isnan(values)
    scaled = np.where(observed, 2.0 * scale_unit(schema, values) - 1.0, 0.0)
    stacked = np.concatenate([scaled, observed], axis=2).astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(stacked, 2, 1)))


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run torch on ``count`` intra-op threads, restoring the caller's setting afterwards."""
    old = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def fit_cnn(schema: SeriesSchema, train: SubjectWindows, y_subject: np.ndarray, *, seed: int) -> SeriesCNN:
    """Train `SeriesCNN` for ``CNN_STEPS`` steps (see the module docstring)."""
    inputs = cnn_inputs(schema, train.values)
    y = torch.from_numpy(y_subject[train.owner].astype(np.float32))
    rng = np.random.default_rng(seed)
    weights = 1.0 / train.counts[train.owner]   # each subject equally likely per draw
    batches = rng.choice(len(inputs), size=(CNN_STEPS, min(CNN_BATCH, max(len(inputs), 1))),
                         p=weights / weights.sum())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = SeriesCNN(inputs.shape[1], inputs.shape[2])
    optimiser = torch.optim.Adam(net.parameters(), lr=CNN_LR)
    loss_fn = nn.BCEWithLogitsLoss()
    net.train()
    for batch in batches:
        index = torch.from_numpy(batch)
        optimiser.zero_grad(set_to_none=True)
        loss_fn(net(inputs[index]), y[index]).backward()
        optimiser.step()
    return net.eval()


def predict_cnn(net: SeriesCNN, schema: SeriesSchema, windows: SubjectWindows) -> np.ndarray:
    """One probability per subject: the mean of its windows' probabilities."""
    inputs = cnn_inputs(schema, windows.values)
    out = []
    with torch.inference_mode():
        for start in range(0, len(inputs), PREDICT_BATCH):
            out.append(torch.sigmoid(net(inputs[start:start + PREDICT_BATCH])).numpy())
    probs = np.concatenate(out).astype(np.float64) if out else np.zeros(0)
    return subject_means(probs[:, None], windows)[:, 0]


# ---------------------------------------------------------------------- the features
def subject_features(ctx: SeriesAuditContext, frame: str) -> np.ndarray:
    """[n subjects, static encoding | per-subject mean of the window features]."""
    static = encode([getattr(ctx, frame), ctx.holdout, ctx.train], schema=ctx.schema,
                    columns=ctx.feature_names(), missing="native")[0]
    signal = subject_means(ctx.statistics(frame).features, ctx.windows(frame))
    return np.hstack([static, signal])


# ----------------------------------------------------------------------------- public
def fit_predict(ctx: SeriesAuditContext, source: str, model: str) -> np.ndarray:
    """Train ``model`` on the source's table (TSTR: synthetic, TRTR: real train) and return
    P(y = positive) for every holdout subject, in order."""
    if model not in SERIES_MODELS:
        raise ValueError(UNKNOWN_MODEL.format(model=model, choices=SERIES_MODELS))
    frame = TRAINING_FRAME[source]
    y = ctx.labels(getattr(ctx, frame))
    seed = int(ctx.rng(_SALT).integers(2**31 - 1))
    if model == "cnn":
        with torch_threads(CNN_THREADS):
            net = fit_cnn(ctx.series_schema, ctx.windows(frame), y, seed=seed)
            return predict_cnn(net, ctx.series_schema, ctx.windows("holdout"))
    classifier = HistGradientBoostingClassifier(early_stopping=False, random_state=ctx.config.random_state)
    # OpenMP threads spin-wait when the CPUs are shared (see models.py): single-threaded.
    features = subject_features(ctx, frame)
    keep = observed_columns(features)  # an all-NaN column breaks the histogram binning
    with threadpool_limits(limits=1, user_api="openmp"):
        classifier.fit(features[:, keep], y)
        positive = list(classifier.classes_).index(1)
        return classifier.predict_proba(subject_features(ctx, "holdout")[:, keep])[:, positive]


def downstream_predictions(ctx: SeriesAuditContext) -> dict[tuple[str, str], np.ndarray]:
    """P(y = positive) per holdout subject (in order), keyed by ``(source, model)`` for the
    sources TSTR / TRTR and the models ``cnn`` / ``features``. A source whose training table
    holds one class gets all-NaN predictions and a warning (see `models.training_flag`)."""
    out: dict[tuple[str, str], np.ndarray] = {}
    n = len(ctx.holdout)
    for source in SOURCES:
        flag = training_flag(ctx, source)
        if flag:
            frame = getattr(ctx, TRAINING_FRAME[source])
            values = sorted(frame[ctx.schema.target].astype(str).unique())
            warnings.warn(SINGLE_CLASS.format(
                source=source, frame=TRAINING_FRAME[source], count=len(frame), values=values,
                target=ctx.schema.target, flag=flag), stacklevel=2)
        for model in SERIES_MODELS:
            out[(source, model)] = np.full(n, np.nan) if flag else fit_predict(ctx, source, model)
    return out

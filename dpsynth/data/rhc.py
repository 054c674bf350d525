"""RHC, the second real tabular data set of the benchmarks (right heart catheterisation).

RHC (Connors et al., "The effectiveness of right heart catheterization in the initial
care of critically ill patients", JAMA 1996;276:889-897) describes 5,735 adults in the
intensive care units of five US teaching hospitals (SUPPORT, 1989-1994), in nine disease
categories, and whether they received a right heart catheter (Swan-Ganz) in the first
24 hours. The data are published by Vanderbilt Biostatistics
(https://hbiostat.org/data/, data set "rhc", with its data dictionary). The rows ship
inside the optional package SurvSet (GPL-3), which dpsynth imports only in
`dpsynth.data.survset`, lazily: ``pip install 'dpsynth[demo]'``. The library itself never
needs it.

`load_rhc` returns one row per patient (the privacy unit) with:

- the binary outcome ``death_30d`` = ``"yes"`` when the patient died within 30 days of
  study admission (``event == 1 and time <= 30``, SurvSet's ``time`` being days from
  study admission to death or last contact), else ``"no"``: 1,918 "yes" / 3,817 "no" of
  5,735 (33.4 %). 8 patients were last seen alive before day 30 (censored); like
  SUPPORT2's outcome they count as "no";
- the RHC data dictionary's own column names (``age``, ``sex``, ``race``, ``cat1``,
  ``aps1``, ``swang1``, ...) instead of SurvSet's ``num_``/``fac_`` prefixed ones; the
  suffix ``1`` marks a value recorded on day 1 (study entry);
- categorical columns as plain Python strings (``object`` dtype) in the release's own
  coding (``"Male"``/``"Female"``, ``"No"``/``"Yes"``, ``"No RHC"``/``"RHC"``; the
  comorbidity-history flags ``*hx`` are the integer codes ``"0"``/``"1"``); numeric
  columns keep ``NaN`` where the value was not measured (only ``urin1``).

Dropped (SurvSet columns): ``pid`` (identifier: SurvSet's row number); ``event`` and
``time`` (the survival outcome, replaced by ``death_30d``); ``surv2md1`` (the SUPPORT
model's estimate of 2-month survival on day 1: a prediction of the outcome, which leaks
it, like SUPPORT2's ``surv2m``); ``adld3p`` (activities of daily living two weeks before
admission, but asked in the day-3 interview: it is known for only 6 of the 315 patients
who died by day 3, and 30-day mortality is 8 % where it is known against 42 % where it is
missing, so its missingness encodes the outcome). SurvSet itself already left out the
release's identifier ``ptid``, its dates (study admission ``sadmdte``, discharge
``dschdte``, death ``dthdte``, last contact ``lstctdte``), its outcomes (``death``,
``dth30``, ``t3d30``) and the day-3 DASI score ``das2d3pc``; none of them is in the frame.

Recoded: ``wtkilo1`` (weight, kg) is ``0`` for 515 patients, the release's code for "not
recorded" (the smallest recorded weight is 19.5 kg); the loader turns that code into
``NaN`` so that missing weight is masked as missing, never modelled as a weight of 0 kg.
``swang1`` (RHC in the first 24 hours, the study's exposure) is a day-1 fact and is kept.

Missing categories: SurvSet has no ``NaN`` in its factor columns; it stores a missing
factor as the level ``"missing"``. In RHC that is only ``cat2`` (4,535 rows): the
secondary disease category, absent for most patients. As for SUPPORT2 we keep
``"missing"`` as a category of its own (here it means "no secondary category", a real
state), so the public schema lists it in ``cat2``'s domain and the column is not
nullable. ``race`` has no missing level in RHC (white / black / other).
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from dpsynth.data import survset
from dpsynth.data.survset import BAD_HOLDOUT_FRACTION, NO_OUTCOME  # noqa: F401  (public names)
from dpsynth.tabular.schema import TabularSchema

TABLE = "rhc"
OUTCOME = "death_30d"
POSITIVE = "yes"
HORIZON_DAYS = 30
SCHEMA_RESOURCE = "schemas/rhc.yaml"
SOURCE = "RHC (Connors et al. 1996) via SurvSet (GPL-3), https://hbiostat.org/data/repo/rhc.html"

SURVSET_MISSING = survset.SURVSET_MISSING.format(dataset="RHC")
SURVSET_CHANGED = survset.SURVSET_CHANGED.replace("{table}", TABLE)

# SurvSet column -> RHC data-dictionary name, in the order of the returned frame.
RENAME = {
    # demographics and insurance
    "num_age": "age",              # years (fractional)
    "fac_sex": "sex",
    "fac_race": "race",
    "num_edu": "edu",              # years of education
    "fac_income": "income",
    "fac_ninsclas": "ninsclas",    # medical insurance class
    # disease categories
    "fac_cat1": "cat1",            # primary disease category (9)
    "fac_cat2": "cat2",            # secondary disease category ("missing": none)
    "fac_ca": "ca",                # cancer: No / Yes / Metastatic
    # comorbidity history, 0 / 1
    "fac_cardiohx": "cardiohx",    # acute MI, peripheral vascular disease, severe cardiovascular
    "fac_chfhx": "chfhx",          # congestive heart failure
    "fac_dementhx": "dementhx",    # dementia, stroke or cerebral infarct, Parkinson's disease
    "fac_psychhx": "psychhx",      # psychiatric history, active psychosis or severe depression
    "fac_chrpulhx": "chrpulhx",    # chronic pulmonary disease
    "fac_renalhx": "renalhx",      # chronic renal disease, chronic haemodialysis
    "fac_liverhx": "liverhx",      # cirrhosis, hepatic failure
    "fac_gibledhx": "gibledhx",    # upper GI bleeding
    "fac_malighx": "malighx",      # solid tumour, metastatic disease, leukaemia, myeloma, lymphoma
    "fac_immunhx": "immunhx",      # immunosuppression, organ transplant, HIV, diabetes, ...
    "fac_transhx": "transhx",      # transfer (> 24 h) from another hospital
    "fac_amihx": "amihx",          # definite myocardial infarction
    # admission diagnosis, No / Yes
    "fac_resp": "resp",            # respiratory
    "fac_card": "card",            # cardiovascular
    "fac_neuro": "neuro",          # neurological
    "fac_gastr": "gastr",          # gastrointestinal
    "fac_renal": "renal",          # renal
    "fac_meta": "meta",            # metabolic
    "fac_hema": "hema",            # haematological
    "fac_seps": "seps",            # sepsis
    "fac_trauma": "trauma",        # trauma
    "fac_ortho": "ortho",          # orthopaedic
    # status and physiology on day 1
    "fac_dnr1": "dnr1",            # do-not-resuscitate order on day 1
    "num_aps1": "aps1",            # APACHE III acute physiology score
    "num_scoma1": "scoma1",        # Glasgow coma score, SUPPORT scale 0-100
    "num_wtkilo1": "wtkilo1",      # weight, kg (the release's 0 = not recorded -> NaN)
    "num_temp1": "temp1",          # temperature, deg C
    "num_meanbp1": "meanbp1",      # mean arterial blood pressure, mmHg
    "num_resp1": "resp1",          # respiration rate, /min
    "num_hrt1": "hrt1",            # heart rate, /min
    "num_pafi1": "pafi1",          # PaO2/FiO2 ratio, mmHg
    "num_paco21": "paco21",        # PaCO2, mmHg
    "num_ph1": "ph1",              # arterial blood pH
    "num_wblc1": "wblc1",          # white blood cells, 10^3/uL
    "num_hema1": "hema1",          # haematocrit, %
    "num_sod1": "sod1",            # serum sodium, mmol/L
    "num_pot1": "pot1",            # serum potassium, mmol/L
    "num_crea1": "crea1",          # serum creatinine, mg/dL
    "num_bili1": "bili1",          # bilirubin, mg/dL
    "num_alb1": "alb1",            # serum albumin, g/dL
    "num_urin1": "urin1",          # urine output, ml/day
    # the exposure of the original study
    "fac_swang1": "swang1",        # right heart catheter in the first 24 hours: RHC / No RHC
}
DROPPED = ("pid", "event", "time", "num_surv2md1", "num_adld3p")
COLUMNS = list(RENAME.values()) + [OUTCOME]


def load_rhc() -> pd.DataFrame:
    """RHC as one row per patient with the outcome ``death_30d`` (see module docstring).

    Needs the optional extra ``dpsynth[demo]`` (SurvSet). Returns a fresh copy each call.
    """
    return _build().copy()


@lru_cache(maxsize=1)
def _build() -> pd.DataFrame:
    frame = survset.survset_frame(TABLE, dataset="RHC", rename=RENAME, dropped=DROPPED,
                                  outcome=OUTCOME, horizon=HORIZON_DAYS, positive=POSITIVE)
    frame["wtkilo1"] = frame["wtkilo1"].mask(frame["wtkilo1"] == 0)  # 0 = "not recorded"
    return frame


def split_rhc(
    frame: pd.DataFrame, *, seed: int = 0, holdout_fraction: float = 0.3
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split into (train, holdout), stratified on ``death_30d`` and fixed by `seed`.

    Both parts keep the rows' original order and get a fresh 0..n-1 index. The holdout is
    the real data the audit evaluates on; it is never given to a generator.
    """
    return survset.split_stratified(frame, outcome=OUTCOME, seed=seed, holdout_fraction=holdout_fraction)


def rhc_schema() -> TabularSchema:
    """The shipped public schema of `load_rhc`'s frame (``dpsynth/data/schemas/rhc.yaml``)."""
    return survset.load_schema(SCHEMA_RESOURCE)

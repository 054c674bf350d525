"""SUPPORT2, the default tabular data set of the demo and the benchmarks.

SUPPORT2 (Study to Understand Prognoses Preferences Outcomes and Risks of Treatment,
Vanderbilt Biostatistics, https://hbiostat.org/data/) describes 9,105 seriously ill
hospitalised adults. The rows ship inside the optional package SurvSet (GPL-3), which
dpsynth imports only in `dpsynth.data.survset`, lazily: ``pip install 'dpsynth[demo]'``.
The library itself never needs it.

`load_support2` returns one row per patient (the privacy unit) with:

- the binary outcome ``death_180d`` = ``"yes"`` when the patient died within 180 days of
  study entry (``event == 1 and time <= 180``), else ``"no"`` (4,265 / 9,105 "yes");
- the SUPPORT2 data dictionary's own column names (``age``, ``sex``, ``race``,
  ``dzgroup``, ...) instead of SurvSet's ``num_``/``fac_`` prefixed ones;
- categorical columns as plain Python strings (``object`` dtype; integer codes such as
  ``diabetes`` become ``"0"``/``"1"``); numeric columns keep ``NaN`` where the value was
  not measured.

Dropped: ``pid`` (identifier), ``event`` and ``time`` (the survival outcome, replaced by
``death_180d``), ``surv2m``/``surv6m`` (the SUPPORT model's predicted 2- and 6-month
survival: they leak the outcome), ``sfdm2`` (functional disability at 2 months; its level
"<2 mo. follow-up" means the patient died before the 2-month interview, which leaks the
outcome) and ``fac_num_co`` (a categorical copy of ``num_co``).

Missing categories: SurvSet has no ``NaN`` in its factor columns; it stores a missing
factor as the level ``"missing"``. In SUPPORT2 that is ``race`` (42 rows), ``dnr`` (30)
and ``income`` (2,982) — exactly the counts of missing values in the Vanderbilt release.
We keep ``"missing"`` as a category of its own: "income not reported" is a real,
informative state (it is not missing at random), and a fixed category keeps the public
schema simple. The public schema therefore lists ``"missing"`` in those domains and the
columns are not nullable; ``race``'s ``"missing"`` joins the audit group ``"other"``.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from dpsynth.data import survset
from dpsynth.data.survset import BAD_HOLDOUT_FRACTION, NO_OUTCOME  # noqa: F401  (public names)
from dpsynth.tabular.schema import TabularSchema

TABLE = "support2"
OUTCOME = "death_180d"
POSITIVE = "yes"
HORIZON_DAYS = 180
SCHEMA_RESOURCE = "schemas/support2.yaml"
SOURCE = "SUPPORT2 via SurvSet (GPL-3), https://hbiostat.org/data/repo/supportdesc"

SURVSET_MISSING = survset.SURVSET_MISSING.format(dataset="SUPPORT2")
SURVSET_CHANGED = survset.SURVSET_CHANGED.replace("{table}", TABLE)

# SurvSet column -> SUPPORT2 data-dictionary name, in the order of the returned frame.
RENAME = {
    # demographics
    "num_age": "age",            # years (fractional)
    "fac_sex": "sex",
    "fac_race": "race",
    "num_edu": "edu",            # years of education
    "fac_income": "income",
    # disease and history
    "fac_dzgroup": "dzgroup",    # 8 disease groups
    "fac_dzclass": "dzclass",    # 4 disease classes
    "num_num_co": "num_co",      # number of comorbidities
    "fac_ca": "ca",              # cancer: no / yes / metastatic
    "fac_diabetes": "diabetes",  # 0 / 1
    "fac_dementia": "dementia",  # 0 / 1
    "fac_dnr": "dnr",            # do-not-resuscitate order
    "num_hday": "hday",          # day in hospital at study entry
    # physiology on day 3 of the study
    "num_scoma": "scoma",        # SUPPORT coma score (from the Glasgow coma scale)
    "num_sps": "sps",            # SUPPORT physiology score
    "num_meanbp": "meanbp",      # mean arterial blood pressure, mmHg
    "num_hrt": "hrt",            # heart rate, /min
    "num_resp": "resp",          # respiration rate, /min
    "num_temp": "temp",          # temperature, deg C
    "num_wblc": "wblc",          # white blood cells, 10^3/uL
    "num_pafi": "pafi",          # PaO2/FiO2 ratio, mmHg
    "num_alb": "alb",            # serum albumin, g/dL
    "num_bili": "bili",          # bilirubin, mg/dL
    "num_crea": "crea",          # serum creatinine, mg/dL
    "num_sod": "sod",            # serum sodium, mmol/L
    "num_ph": "ph",              # arterial blood pH
    "num_glucose": "glucose",    # mg/dL
    "num_bun": "bun",            # blood urea nitrogen, mg/dL
    "num_urine": "urine",        # urine output, ml/day
    "num_adlp": "adlp",          # activities of daily living (patient), 0-7
    "num_adls": "adls",          # activities of daily living (surrogate), 0-7
}
DROPPED = ("pid", "event", "time", "num_surv2m", "num_surv6m", "fac_sfdm2", "fac_num_co")
COLUMNS = list(RENAME.values()) + [OUTCOME]


def load_support2() -> pd.DataFrame:
    """SUPPORT2 as one row per patient with the outcome ``death_180d`` (see module docstring).

    Needs the optional extra ``dpsynth[demo]`` (SurvSet). Returns a fresh copy each call.
    """
    return _build().copy()


@lru_cache(maxsize=1)
def _build() -> pd.DataFrame:
    return survset.survset_frame(TABLE, dataset="SUPPORT2", rename=RENAME, dropped=DROPPED,
                                 outcome=OUTCOME, horizon=HORIZON_DAYS, positive=POSITIVE)


def split_support2(
    frame: pd.DataFrame, *, seed: int = 0, holdout_fraction: float = 0.3
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split into (train, holdout), stratified on ``death_180d`` and fixed by `seed`.

    Both parts keep the rows' original order and get a fresh 0..n-1 index. The holdout is
    the real data the audit evaluates on; it is never given to a generator.
    """
    return survset.split_stratified(frame, outcome=OUTCOME, seed=seed, holdout_fraction=holdout_fraction)


def support2_schema() -> TabularSchema:
    """The shipped public schema of `load_support2`'s frame (``dpsynth/data/schemas/support2.yaml``)."""
    return survset.load_schema(SCHEMA_RESOURCE)

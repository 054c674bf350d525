"""ACTG 175, the small randomised-trial data set of the benchmarks (2,139 HIV-infected patients).

ACTG 175 (AIDS Clinical Trials Group study 175; Hammer et al., "A trial comparing
nucleoside monotherapy with combination therapy in HIV-infected adults with CD4 cell
counts from 200 to 500 per cubic millimeter", N Engl J Med 1996;335:1081-1090) randomised
adults and adolescents (>= 12 years) to zidovudine, zidovudine + didanosine, zidovudine
+ zalcitabine or didanosine alone (enrolment 1991-1992). The rows ship inside the
optional package lifelines (MIT licence) as ``lifelines/datasets/ACTG175.csv``, the
release of the R package speff2trial; dpsynth reads that file from the installed
package, offline, and imports lifelines only when a loader runs:
``pip install 'dpsynth[demo]'``. The library itself never needs it.

`load_actg175` returns one row per patient (the privacy unit) with:

- the binary outcome ``cens`` = ``"yes"`` when the trial's primary event was observed
  during follow-up (a decline of the CD4 count by at least 50 %, an AIDS-defining event,
  or death, whichever came first), else ``"no"``: 521 "yes" / 1,618 "no" of 2,139
  (24.4 %). Patients censored early (lost to follow-up or still event-free at the end)
  count as "no", as in SUPPORT2 and RHC;
- the baseline covariates under the release's own names (data dictionary of speff2trial):
  ``age``, ``wtkg``, ``gender``, ``race``, ``hemo``, ``homo``, ``drugs``, ``karnof``,
  ``symptom``, ``oprior``, ``z30``, ``preanti``, ``str2``, ``strat``, ``cd40``, ``cd80``,
  and the randomised treatment ``arms`` with its coarser indicator ``treat``;
- categorical columns as plain Python strings (``object`` dtype): the 0/1 flags, ``strat``
  (1-3), ``arms`` (0-3) and ``treat`` keep the release's integer codes (``"0"``, ``"1"``,
  ...); the two sensitive attributes get the data dictionary's words so that the audit's
  fairness tables read plainly: ``gender`` 0/1 -> ``"female"``/``"male"``, ``race`` 0/1 ->
  ``"white"``/``"non-white"``. Nothing is missing in the kept columns.

Dropped: the CSV's unnamed row number and ``pidnum`` (identifiers); ``days`` (time to
the event or censoring: the survival outcome, summarised by ``cens``); the
post-randomisation measurements, which are taken during the follow-up that decides the
outcome: ``cd420``/``cd820`` (CD4/CD8 counts at week 20: a CD4 count halved by week 20
is itself the primary event, and ``cd420`` alone ranks ``cens`` with AUROC 0.75 against
0.63 for the baseline ``cd40``), ``offtrt`` (stopped treatment before week 96, often
because of progression or toxicity: event rate 30 % when 1, 21 % when 0), ``cd496``
(CD4 at week 96, missing for 797 patients) and ``r`` (its observed flag): a model fed
them would learn the outcome from its own aftermath. ``zprior`` (zidovudine before entry)
is 1 for every patient in the release, so it carries nothing.

Kept although determined by another column in this release: ``treat`` = ``arms != 0``
(zidovudine alone vs the rest) and ``str2`` = ``strat != 1`` (antiretroviral-naive vs
experienced), the coarser codings the trial's own analyses use, as SUPPORT2 keeps
``dzclass`` beside ``dzgroup``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from dpsynth.data import survset
from dpsynth.data.survset import BAD_HOLDOUT_FRACTION, NO_OUTCOME  # noqa: F401  (public names)
from dpsynth.errors import DpsynthError
from dpsynth.optional import MISSING_EXTRA, require
from dpsynth.schema import canonical_category
from dpsynth.tabular.schema import TabularSchema

OUTCOME = "cens"
POSITIVE = "yes"
CSV_FILE = "ACTG175.csv"
SCHEMA_RESOURCE = "schemas/actg175.yaml"
SOURCE = ("ACTG 175 (Hammer et al. 1996) via lifelines (MIT licence), lifelines/datasets/ACTG175.csv "
          "(the R package speff2trial's release)")

PURPOSE = "the ACTG 175 data set"
LIFELINES_MISSING = MISSING_EXTRA.format(purpose=PURPOSE, package="lifelines", extra="demo")
LIFELINES_CHANGED = (
    "lifelines' datasets/ACTG175.csv does not have the expected columns (missing: {missing}, "
    "unexpected: {extra}); this dpsynth version was written for lifelines 0.30.x"
)
LIFELINES_NO_FILE = (
    "the installed lifelines has no datasets/ACTG175.csv; this dpsynth version was written "
    "for lifelines 0.30.x: pip install -c constraints.txt 'dpsynth[demo]'"
)

# The release's columns kept, in the order of the returned frame (the outcome comes last).
KEPT = (
    # demographics
    "age",       # years at baseline (whole years)
    "wtkg",      # weight at baseline, kg
    "gender",    # 0 = female, 1 = male -> "female" / "male"
    "race",      # 0 = white, 1 = non-white -> "white" / "non-white"
    # risk factors and clinical state at entry, 0 / 1 unless noted
    "hemo",      # haemophilia
    "homo",      # homosexual activity
    "drugs",     # history of intravenous drug use
    "karnof",    # Karnofsky performance score, 0-100 (steps of 10)
    "symptom",   # symptomatic HIV infection
    # antiretroviral history
    "oprior",    # non-zidovudine antiretroviral therapy before entry
    "z30",       # zidovudine in the 30 days before entry
    "preanti",   # days of antiretroviral therapy before entry
    "str2",      # 0 = naive, 1 = experienced
    "strat",     # 1 = naive, 2 = > 1 and <= 52 weeks of prior therapy, 3 = > 52 weeks
    # immunology at baseline
    "cd40",      # CD4 T cells /mm^3
    "cd80",      # CD8 T cells /mm^3
    # the randomised treatment
    "arms",      # 0 = zidovudine, 1 = zidovudine + didanosine, 2 = zidovudine + zalcitabine, 3 = didanosine
    "treat",     # 0 = zidovudine only, 1 = other therapies
)
DROPPED = ("pidnum", "days", "cd420", "cd820", "offtrt", "cd496", "r", "zprior")
NUMERIC = ("age", "wtkg", "karnof", "preanti", "cd40", "cd80")
LABELS = {"gender": {0: "female", 1: "male"}, "race": {0: "white", 1: "non-white"}}
COLUMNS = list(KEPT) + [OUTCOME]


def load_actg175() -> pd.DataFrame:
    """ACTG 175 as one row per patient with the outcome ``cens`` (see module docstring).

    Needs the optional extra ``dpsynth[demo]`` (lifelines). Returns a fresh copy each call.
    """
    return _build().copy()


def read_release() -> pd.DataFrame:
    """lifelines' ``ACTG175.csv`` as published (27 columns; its unnamed row number is the index), offline."""
    package = require("lifelines.datasets", extra="demo", purpose=PURPOSE)
    path = resources.files(package).joinpath(CSV_FILE)
    if not path.is_file():
        raise DpsynthError(LIFELINES_NO_FILE)
    with resources.as_file(path) as local:
        return pd.read_csv(local, index_col=0)


@lru_cache(maxsize=1)
def _build() -> pd.DataFrame:
    raw = read_release()
    expected, present = set(KEPT) | set(DROPPED) | {OUTCOME}, set(raw.columns)
    if present != expected:
        raise DpsynthError(LIFELINES_CHANGED.format(
            missing=sorted(expected - present), extra=sorted(present - expected)))
    out = raw[list(KEPT)].copy()
    for name in KEPT:
        if name in LABELS:
            out[name] = out[name].map(LABELS[name]).astype(object)
        elif name not in NUMERIC:
            out[name] = out[name].map(canonical_category).astype(object)
    out[OUTCOME] = np.where(raw[OUTCOME].to_numpy() == 1, POSITIVE, survset.NEGATIVE).astype(object)
    return out.reset_index(drop=True)


def split_actg175(
    frame: pd.DataFrame, *, seed: int = 0, holdout_fraction: float = 0.3
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split into (train, holdout), stratified on ``cens`` and fixed by `seed`.

    Both parts keep the rows' original order and get a fresh 0..n-1 index. The holdout is
    the real data the audit evaluates on; it is never given to a generator.
    """
    return survset.split_stratified(frame, outcome=OUTCOME, seed=seed, holdout_fraction=holdout_fraction)


def actg175_schema() -> TabularSchema:
    """The shipped public schema of `load_actg175`'s frame (``dpsynth/data/schemas/actg175.yaml``)."""
    return survset.load_schema(SCHEMA_RESOURCE)

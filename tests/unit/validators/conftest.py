"""Small synthetic patient tables and audit contexts for the utility and fairness tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from dpsynth.schema import CategoricalColumn, NumericColumn, SensitiveAttribute
from dpsynth.tabular.schema import TabularSchema
from dpsynth.validators.context import AuditConfig, AuditContext
from dpsynth.validators.tabular_models import downstream_predictions


def patient_schema() -> TabularSchema:
    return TabularSchema(
        columns=[
            NumericColumn("age", lower=18, upper=95),
            CategoricalColumn("sex", categories=["F", "M"]),
            CategoricalColumn("race", categories=["white", "black", "asian"]),
            NumericColumn("lactate", lower=0, upper=30, nullable=True),
            CategoricalColumn("smoker", categories=["no", "yes"], nullable=True),
            CategoricalColumn("outcome", categories=["no", "yes"]),
        ],
        target="outcome",
        positive="yes",
        sensitive=[SensitiveAttribute("sex"), SensitiveAttribute("race")],
    )


def patients(n: int, seed: int, *, noise_for_women: bool = False) -> pd.DataFrame:
    """Patients whose outcome depends on age, lactate and smoking; ~3% are 'asian' (a small
    group in a 600-row holdout). ``noise_for_women`` replaces women's outcomes by coin flips,
    a crude stand-in for a generator that fails one subgroup."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(18, 95, n).round()
    sex = rng.choice(["F", "M"], n)
    race = rng.choice(["white", "black", "asian"], n, p=[0.67, 0.30, 0.03])
    lactate = rng.gamma(2.0, 1.2, n).clip(0, 30)
    smoker = rng.choice(["no", "yes"], n, p=[0.7, 0.3]).astype(object)
    logit = -4.0 + 0.05 * (age - 18) + 0.6 * lactate + 1.0 * (smoker == "yes")
    outcome = rng.random(n) < 1 / (1 + np.exp(-logit))
    if noise_for_women:
        outcome = np.where(sex == "F", rng.random(n) < 0.5, outcome)
    lactate[rng.random(n) < 0.1] = np.nan
    smoker[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({"age": age, "sex": sex, "race": race, "lactate": lactate,
                         "smoker": smoker, "outcome": np.where(outcome, "yes", "no")})


def make_context(*, synthetic: pd.DataFrame | None = None, n: int = 600, **config) -> AuditContext:
    schema = patient_schema()
    synthetic = patients(n, 3) if synthetic is None else synthetic
    frames = [schema.conform(frame)[0] for frame in (patients(n, 1), patients(n, 2), synthetic)]
    config = {"n_bootstrap": 50, **config}
    return AuditContext(schema, *frames, config=AuditConfig(**config))


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny tables: OpenMP threads only add start-up and contention cost on a shared machine."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(name="make_context", scope="session")
def _make_context_factory():
    """``make_context(synthetic=None, n=600, **config)``: a fresh context (test modules
    cannot import this conftest under --import-mode=importlib, so factories are fixtures)."""
    return make_context


@pytest.fixture(name="patients", scope="session")
def _patients_factory():
    """``patients(n, seed, noise_for_women=False)``: a raw patient table."""
    return patients


@pytest.fixture(scope="module")
def ctx() -> AuditContext:
    return make_context()


@pytest.fixture(scope="module")
def predictions(ctx: AuditContext) -> dict[tuple[str, str], np.ndarray]:
    return downstream_predictions(ctx)

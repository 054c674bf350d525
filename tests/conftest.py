"""Shared fixtures: a small, seeded EHR-like table and its public schema."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dpsynth.schema import CategoricalColumn, NumericColumn, SensitiveAttribute, TabularSchema


def make_toy_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.uniform(20, 90, n).round(1)
    sex = rng.choice(["female", "male"], n)
    race = rng.choice(["white", "black", "asian", "other"], n, p=[0.6, 0.25, 0.1, 0.05])
    hr = rng.normal(85, 15, n).clip(30, 200).round()
    lab = rng.lognormal(0, 0.5, n).round(2)
    lab[rng.random(n) < 0.2] = np.nan
    risk = 0.04 * (age - 55) + 0.03 * (hr - 85) + (sex == "male") * 0.5
    outcome = np.where(rng.random(n) < 1 / (1 + np.exp(-risk)), "yes", "no")
    return pd.DataFrame({"age": age, "sex": sex, "race": race, "heart_rate": hr, "lab": lab,
                         "outcome": outcome})


def make_toy_schema() -> TabularSchema:
    return TabularSchema(
        columns=[
            NumericColumn("age", lower=18, upper=110),
            CategoricalColumn("sex", categories=["female", "male"]),
            CategoricalColumn("race", categories=["white", "black", "asian", "other"]),
            NumericColumn("heart_rate", lower=0, upper=300, integer=True),
            NumericColumn("lab", lower=0, upper=50, nullable=True),
            CategoricalColumn("outcome", categories=["no", "yes"]),
        ],
        target="outcome",
        positive="yes",
        sensitive=[
            SensitiveAttribute("sex"),
            SensitiveAttribute("race", groups={"other": ["asian", "other"]}),
            SensitiveAttribute("age", name="age_band", bins=[18, 50, 70, 110], labels=["18-49", "50-69", "70+"]),
        ],
    )


# Tiny, fast training settings for tests (not the library defaults).
TINY = dict(epochs=2, batch_size=64, hidden=(32,), latent_dim=8, n_bins=8)


@pytest.fixture
def toy_frame() -> pd.DataFrame:
    return make_toy_frame()


@pytest.fixture
def toy_schema() -> TabularSchema:
    return make_toy_schema()

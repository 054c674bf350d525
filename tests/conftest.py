"""Shared fixtures: a small, seeded EHR-like table, a small series set, a small image set, and their public
schemas."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest

from dpsynth.privacy import randomness

from dpsynth.images.schema import ImageData, ImageSchema
from dpsynth.schema import CategoricalColumn, NumericColumn, SensitiveAttribute
from dpsynth.tabular.schema import TabularSchema
from dpsynth.series.schema import SeriesData, SeriesSchema


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


RACE_GROUPS = {"white": "white", "black": "black", "asian": "other", "other": "other"}
LAB_RANGES = {"other": [0, 2]}


def make_ruled_toy_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """The toy table with three columns that keep the rules of `make_ruled_toy_schema`:
    ``race_group`` from ``race``, ``lab`` at most 2 in race group "other", ``score`` = age + heart rate."""
    frame = make_toy_frame(n, seed)
    frame.insert(3, "race_group", frame["race"].map(RACE_GROUPS))
    other = frame["race_group"] == "other"
    frame.loc[other, "lab"] = frame.loc[other, "lab"].clip(upper=2)
    frame.insert(6, "score", frame["age"] + frame["heart_rate"])
    return frame


def make_ruled_toy_schema() -> TabularSchema:
    """The toy schema with one rule of each kind, the range rule reading the mapping's target."""
    spec = make_toy_schema().to_dict()
    spec["columns"].insert(3, {"name": "race_group", "kind": "categorical", "categories": ["white", "black", "other"]})
    spec["columns"].insert(6, {"name": "score", "kind": "numeric", "lower": 0, "upper": 500})
    spec["rules"] = [
        {"kind": "mapping", "source": "race", "target": "race_group", "map": dict(RACE_GROUPS)},
        {"kind": "range", "column": "lab", "by": "race_group", "ranges": dict(LAB_RANGES)},
        {"kind": "sum", "target": "score", "terms": ["age", "heart_rate"]},
    ]
    return TabularSchema.from_dict(spec)


# Tiny, fast training settings for tests (not the library defaults).
TINY = dict(epochs=2, batch_size=64, hidden=(32,), latent_dim=8, n_bins=8)


@pytest.fixture
def without_scikit_image(monkeypatch) -> Iterator[None]:
    """scikit-image cannot be imported (as when the optional package is not installed); the
    cached sample images are dropped before and after, so nothing loaded earlier hides it."""
    import builtins

    from dpsynth.images.skimage_data import skimage_image

    real_import = builtins.__import__

    def no_skimage(name, *args, **kwargs):
        if name.startswith("skimage"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    skimage_image.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_skimage)
    yield
    monkeypatch.undo()
    skimage_image.cache_clear()


@pytest.fixture
def toy_frame() -> pd.DataFrame:
    return make_toy_frame()


@pytest.fixture
def toy_schema() -> TabularSchema:
    return make_toy_schema()


def write_toy_files(root, *, n: int, n_train: int) -> object:
    """The toy table's first ``n_train`` of ``n`` rows as train.csv, the rest as holdout.csv, and
    its schema as schema.yaml, under ``root``."""
    frame = make_toy_frame(n=n)
    frame.iloc[:n_train].to_csv(root / "train.csv", index=False)
    frame.iloc[n_train:].to_csv(root / "holdout.csv", index=False)
    make_toy_schema().save(root / "schema.yaml")
    return root


def write_small_support2(root) -> object:
    """300 SUPPORT2 patients, 7 columns, sex the one sensitive attribute, as train.csv, holdout.csv
    and schema.yaml under ``root``: a sweep cell on them takes seconds. Needs the demo extra."""
    from dpsynth.data import support2

    keep = ["age", "sex", "race", "edu", "meanbp", "hrt", support2.OUTCOME]
    spec = support2.support2_schema().to_dict()
    spec["columns"] = [column for column in spec["columns"] if column["name"] in keep]
    spec.pop("rules", None)  # the dzgroup -> dzclass rule names columns left out here
    spec["sensitive"] = [attribute for attribute in spec["sensitive"] if attribute["name"] == "sex"]
    TabularSchema.from_dict(spec).save(root / "schema.yaml")
    train, holdout = support2.split_support2(support2.load_support2()[keep].sample(300, random_state=0), seed=0)
    train.to_csv(root / "train.csv", index=False)
    holdout.to_csv(root / "holdout.csv", index=False)
    return root


def make_toy_series_schema(window: int = 32) -> SeriesSchema:
    """Two channels at 50 Hz, windows of ``window`` samples, static sex / age (banded) / label."""
    return SeriesSchema.from_dict({
        "version": 1, "modality": "series", "subject_id": "subject", "sampling_rate": 50, "window": window,
        "max_windows_per_subject": 4,
        "channels": [{"name": "pressure", "unit": "mmHg", "lower": 0, "upper": 40},
                     {"name": "flow", "unit": "L/s", "lower": -2, "upper": 2, "out_of_bounds": "clip"}],
        "target": "label", "positive": "abnormal",
        "sensitive": [{"column": "sex"},
                      {"column": "age", "name": "age_band", "bins": [18, 60, 110], "labels": ["18-59", "60+"]}],
        "static": [{"name": "sex", "kind": "categorical", "categories": ["female", "male"]},
                   {"name": "age", "kind": "numeric", "lower": 18, "upper": 110},
                   {"name": "label", "kind": "categorical", "categories": ["normal", "abnormal"]}],
    })


def make_toy_series(n: int = 60, seed: int = 0) -> SeriesData:
    """``n`` subjects with signals of 20–150 samples (some NaN): the label changes the pressure
    wave's frequency and the flow's amplitude."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], n)
    age = rng.uniform(20, 90, n).round(1)
    label = np.where(rng.random(n) < 0.4 + 0.2 * (sex == "male"), "abnormal", "normal")
    ids = [f"s{i:03d}" for i in range(n)]
    signals = {}
    for i, s in enumerate(ids):
        t = np.arange(rng.integers(20, 150)) / 50
        freq = 2.0 if label[i] == "abnormal" else 1.0
        pressure = 20 + 8 * np.sin(2 * np.pi * freq * t + rng.uniform(0, 6)) + rng.normal(0, 0.5, len(t))
        flow = (1.5 if label[i] == "abnormal" else 0.8) * np.cos(2 * np.pi * freq * t) + rng.normal(0, 0.05, len(t))
        signal = np.stack([pressure, flow], axis=1)
        signal[rng.random(signal.shape) < 0.02] = np.nan
        signals[s] = signal
    static = pd.DataFrame({"subject": ids, "sex": sex, "age": age, "label": label})
    return SeriesData(static, signals)


def make_toy_image_schema(size: int = 8, channels: int = 1) -> ImageSchema:
    """``size``×``size`` images (pixels 0-255), one to three per patient; sex, age (banded), label."""
    return ImageSchema.from_dict({
        "version": 1, "modality": "image", "image_id": "image", "subject_id": "patient",
        "height": size, "width": size, "channels": channels, "pixel_range": [0, 255],
        "target": "label", "positive": "lesion",
        "sensitive": [{"column": "sex"},
                      {"column": "age", "name": "age_band", "bins": [18, 60, 110], "labels": ["18-59", "60+"]}],
        "static": [{"name": "sex", "kind": "categorical", "categories": ["female", "male"]},
                   {"name": "age", "kind": "numeric", "lower": 18, "upper": 110},
                   {"name": "label", "kind": "categorical", "categories": ["clear", "lesion"]}],
    })


def make_toy_images(n_patients: int = 40, seed: int = 0, size: int = 8, channels: int = 1) -> ImageData:
    """Patients with 1-3 images each: a bright blob marks a lesion; men's images are brighter."""
    rng = np.random.default_rng(seed)
    rows, images = [], []
    yy, xx = np.mgrid[:size, :size]
    for p in range(n_patients):
        sex = rng.choice(["female", "male"])
        age = round(float(rng.uniform(20, 90)), 1)
        for k in range(int(rng.integers(1, 4))):
            label = "lesion" if rng.random() < 0.4 else "clear"
            image = rng.normal(60 + 30 * (sex == "male"), 10, (size, size))
            if label == "lesion":
                cy, cx = rng.uniform(2, size - 2, 2)
                image += 150 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 2.0)
            images.append(np.repeat(np.clip(image, 0, 255)[..., None], channels, axis=-1))
            rows.append({"image": f"p{p:03d}-{k}", "patient": f"p{p:03d}", "sex": sex, "age": age, "label": label})
    return ImageData(pd.DataFrame(rows), np.stack(images).astype(np.float32))


@contextmanager
def pinned_private_randomness(start: int = 0) -> Iterator[None]:
    """Test-only: the secret generators (`dpsynth.privacy.randomness`) seeded from a fixed
    sequence instead of OS entropy, so two fits can be compared draw for draw (e.g. ghost vs
    hooks clipping). A fit under it is not private; the product has no such switch."""
    counter = itertools.count(start)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(randomness, "os_entropy_seed", lambda bits=randomness.SEED_BITS: next(counter))
        yield


@contextmanager
def dpsgd_noise_off() -> Iterator[None]:
    """Test-only: DP-SGD's Gaussian noise replaced by zeros in every opacus optimizer, while
    clipping, Poisson sampling and the accountant (so the card's ε) stay as they are — a broken
    mechanism that still claims its ε, for checking that the one-run audit can see it. The
    product has no such switch."""
    import importlib
    import pkgutil

    import opacus.optimizers
    import torch

    def no_noise(std, reference, generator=None, secure_mode=False):
        return torch.zeros_like(reference)

    with pytest.MonkeyPatch.context() as patch:
        for info in pkgutil.iter_modules(opacus.optimizers.__path__):
            module = importlib.import_module(f"opacus.optimizers.{info.name}")
            if hasattr(module, "_generate_noise"):
                patch.setattr(module, "_generate_noise", no_noise)
        yield

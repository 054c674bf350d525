"""Image fidelity: Fréchet distance, k-NN precision/recall, the CNN detector, pixel histograms
and the tidy rows per subgroup."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.datasets import load_digits

from dpsynth.validators.context import RESULT_COLUMNS
from dpsynth.validators.image_fidelity import (
    BAD_FEATURES, GROUP_KEYS, SHAPE_MISMATCH, detection_auc, evaluate_images, frechet_distance,
    pixel_tvd, pixel_wasserstein, precision_recall,
)
from dpsynth.validators.image_models import embed, feature_network

DATA = load_digits()
X = (DATA.images / 16.0)[..., None].astype(np.float32)
ORDER = np.random.default_rng(0).permutation(len(X))
HALF_A, HALF_B = X[ORDER[:898]], X[ORDER[898:]]
NOISE = np.random.default_rng(1).random(HALF_B.shape).astype(np.float32)
QUICK = 60  # detector steps for the tests (the audit uses CNN_STEPS)


@pytest.fixture(scope="module")
def net():
    return feature_network(HALF_A, DATA.target[ORDER[:898]], seed=0)


def gaussian(n: int, d: int, *, seed: int, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(shift, scale, size=(n, d))


# ---------------------------------------------------------------------------- Fréchet
def test_frechet_is_zero_for_identical_sets_and_symmetric():
    a, b = gaussian(500, 8, seed=0), gaussian(500, 8, seed=1, shift=0.5)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-8)


def test_frechet_matches_the_gaussian_formula_and_grows_with_the_shift():
    d = 4
    base = gaussian(4000, d, seed=0)
    # same covariance, mean shifted by s per dimension: |mu_a - mu_b|² = d s²
    assert frechet_distance(base, gaussian(4000, d, seed=1, shift=1.0)) == pytest.approx(d * 1.0, rel=0.1)
    # covariance I vs 4 I: tr(I + 4I - 2·2I) = d
    assert frechet_distance(base, gaussian(4000, d, seed=1, scale=2.0)) == pytest.approx(d, rel=0.1)
    values = [frechet_distance(base, gaussian(4000, d, seed=1, shift=s)) for s in (0.0, 0.5, 1.0, 2.0)]
    assert values == sorted(values)


def test_frechet_is_guarded_for_singular_covariances_and_tiny_sets():
    few = gaussian(5, 20, seed=0)                        # rank-4 covariances in 20 dimensions
    dead = np.hstack([gaussian(300, 3, seed=1), np.zeros((300, 2))])  # dead units: zero variance
    value = frechet_distance(few, gaussian(5, 20, seed=1))
    assert np.isfinite(value) and value >= 0
    assert frechet_distance(dead, dead) == pytest.approx(0.0, abs=1e-5)
    assert np.isnan(frechet_distance(few[:1], few))
    with pytest.raises(ValueError, match=re.escape(BAD_FEATURES.format(a=(5, 20), b=(5, 3)))):
        frechet_distance(few, few[:, :3])


def test_frechet_in_the_feature_network_space_separates_real_from_shifted_and_noise(net):
    real_a, real_b = embed(net, HALF_A), embed(net, HALF_B)
    brighter = embed(net, np.clip(HALF_B + 0.3, 0.0, 1.0))
    same, shifted, noise = (frechet_distance(real_a, other) for other in (real_b, brighter, embed(net, NOISE)))
    assert same < shifted and same < noise
    assert shifted > 5 * same


# ------------------------------------------------------------------ precision / recall
def test_precision_recall_identical_collapsed_and_disjoint():
    real = gaussian(400, 5, seed=0)
    assert precision_recall(real, real) == (1.0, 1.0)
    precision, recall = precision_recall(real, np.repeat(real[:1], 300, axis=0))
    assert precision == 1.0 and recall <= 1 / len(real)  # collapsed onto one real point: no coverage
    assert precision_recall(real, real + 100.0) == (0.0, 0.0)
    precision, recall = precision_recall(real, gaussian(400, 5, seed=1))
    assert 0.7 < precision <= 1 and 0.7 < recall <= 1


def test_precision_recall_needs_more_than_k_points():
    real = gaussian(10, 3, seed=0)
    precision, recall = precision_recall(real, real[:3], k=3)
    assert np.isnan(recall) and precision == 1.0
    with pytest.raises(ValueError, match="k must be"):
        precision_recall(real, real, k=0)


# ------------------------------------------------------------------------- detection
def test_detection_auc_is_chance_for_two_halves_of_the_real_set():
    assert detection_auc(HALF_A, HALF_B, seed=0, steps=QUICK) == pytest.approx(0.5, abs=0.08)


def test_detection_auc_is_near_one_for_noise():
    assert detection_auc(HALF_A, NOISE, seed=0, steps=QUICK) > 0.97


def test_detection_keeps_exact_copies_in_one_fold():
    # each copy is tested with its twin, so copying cannot push the AUC below chance
    assert detection_auc(HALF_A[:300], HALF_A[:300].copy(), seed=0, steps=10) == pytest.approx(0.5)


def test_detection_refuses_different_image_shapes_and_bad_keys():
    with pytest.raises(ValueError, match="synthetic images"):
        detection_auc(HALF_A, np.zeros((10, 4, 4, 1)), seed=0)
    with pytest.raises(ValueError, match="real_keys"):
        detection_auc(HALF_A, HALF_B, seed=0, real_keys=np.zeros(3))


# --------------------------------------------------------------------- pixel histograms
def test_pixel_distances():
    black, white = np.zeros((20, 4, 4, 3), np.float32), np.ones((20, 4, 4, 3), np.float32)
    np.testing.assert_allclose(pixel_tvd(HALF_A, HALF_A), [0.0])
    np.testing.assert_allclose(pixel_tvd(black, white), [1.0, 1.0, 1.0])
    shifted = np.clip(HALF_A * 0.5 + 0.25, 0, 1)
    np.testing.assert_allclose(pixel_wasserstein(HALF_A * 0.5, shifted), [0.25], atol=1e-6)
    assert pixel_tvd(HALF_A, NOISE)[0] > 0.3


# ---------------------------------------------------------------------------- the rows
def groups(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    site = np.where(rng.random(n) < 0.03, "rural", "city").astype(object)
    return {"sex": rng.choice(["F", "M"], n), "site": site}


@pytest.fixture(scope="module")
def table():
    real_groups, syn_groups = groups(len(HALF_A), 2), groups(len(HALF_B), 3)
    real_groups["scanner"] = np.where(np.arange(len(HALF_A)) < 5, "old", "new")  # "old": real only
    syn_groups["scanner"] = np.full(len(HALF_B), "new")
    net = feature_network(HALF_A, None, seed=0)   # random features: structure only, and fast
    return evaluate_images(HALF_A, HALF_B, real_groups=real_groups, syn_groups=syn_groups, feature_net=net,
                           min_group_size=30, seed=0, group_order={"sex": ["M", "F"]}, detector_steps=10)


def rows(table, attribute="overall", group=""):
    return table[(table.attribute == attribute) & (table.group == group)].set_index("metric")


def test_rows_are_tidy_and_cover_every_slice(table):
    assert list(table.columns) == RESULT_COLUMNS and set(table.validator) == {"fidelity"}
    slices = list(dict.fromkeys(zip(table.attribute, table.group)))
    assert slices == [("overall", ""), ("sex", "M"), ("sex", "F"), ("site", "city"), ("site", "rural"),
                      ("scanner", "new"), ("scanner", "old")]
    overall = rows(table)
    expected = {"frechet_distance", "precision", "recall", "detection_auc", "pixel_tvd", "pixel_wasserstein",
                "mean_pixel_tvd", "mean_pixel_wasserstein"}
    assert set(overall.index) == expected
    assert overall.loc["frechet_distance", "model"] == "feature_network"
    assert overall.loc["detection_auc", "model"] == "detector"
    assert overall.loc["pixel_tvd", "feature"] == "grey"
    assert overall.loc["frechet_distance", "n"] == len(HALF_A) + len(HALF_B)
    assert overall.loc["detection_auc", "n"] == 2 * min(len(HALF_A), len(HALF_B))
    assert (overall.flag == "").all() and overall.value.notna().all()
    assert 0 <= overall.loc["precision", "value"] <= 1 and 0 <= overall.loc["detection_auc", "value"] <= 1


def test_small_groups_are_flagged_not_dropped_and_empty_ones_are_nan(table):
    small = rows(table, "site", "rural")
    assert (small.flag == "small_group").all() and small.value.notna().all()
    assert (rows(table, "site", "city").flag == "").all()
    empty = rows(table, "scanner", "old")
    assert (empty.flag == "empty").all() and empty.value.isna().all()


def test_evaluate_refuses_mismatched_inputs():
    net = feature_network(HALF_A, None, seed=0)
    with pytest.raises(ValueError, match=GROUP_KEYS.split("{")[0]):
        evaluate_images(HALF_A, HALF_B, real_groups={"sex": groups(len(HALF_A), 0)["sex"]}, syn_groups={},
                        feature_net=net)
    with pytest.raises(ValueError, match="group label per real image"):
        evaluate_images(HALF_A, HALF_B, real_groups={"sex": np.zeros(3)}, syn_groups={"sex": np.zeros(3)},
                        feature_net=net)
    with pytest.raises(ValueError, match=SHAPE_MISMATCH.split("{")[0]):
        evaluate_images(HALF_A, np.zeros((5, 4, 4, 1)), real_groups={}, syn_groups={}, feature_net=net)

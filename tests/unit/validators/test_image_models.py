"""The image audit's small CNN: it learns digits, is seeded, checks its inputs, and embeds."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from dpsynth.validators import image_models
from dpsynth.validators.image_models import (
    BAD_CLASSES, CNN_HIDDEN, cnn_depth, embed, feature_network, fit_cnn, predict_proba,
)


def digits() -> tuple[np.ndarray, np.ndarray]:
    data = load_digits()
    return (data.images / 16.0)[..., None].astype(np.float32), data.target


X, Y = digits()
ORDER = np.random.default_rng(0).permutation(len(X))
TRAIN, TEST = ORDER[:1300], ORDER[1300:]


@pytest.fixture(scope="module")
def fitted() -> tuple[image_models.ImageCNN, float]:
    start = time.perf_counter()
    net = feature_network(X[TRAIN], Y[TRAIN], seed=0)   # = fit_cnn(..., n_classes=10)
    return net, time.perf_counter() - start


def test_cnn_learns_digits_on_held_out_images(fitted):
    net, seconds = fitted
    probs = predict_proba(net, X[TEST])
    assert probs.shape == (len(TEST), 10)
    assert np.all(probs >= 0) and np.allclose(probs.sum(1), 1.0)
    accuracy = float((probs.argmax(1) == Y[TEST]).mean())
    assert accuracy > 0.9, accuracy
    assert seconds < 60, seconds  # ~2-3 s on one shared core; a loose guard against a slow regression


def test_features_have_the_hidden_width_and_separate_classes(fitted):
    net, _ = fitted
    train, test = embed(net, X[TRAIN]), embed(net, X[TEST])
    assert train.shape == (len(TRAIN), CNN_HIDDEN) and np.isfinite(train).all()
    centroids = np.stack([train[Y[TRAIN] == k].mean(0) for k in range(10)])
    nearest = np.argmin(((test[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (nearest == Y[TEST]).mean() > 0.9  # a nearest-centroid rule in feature space works


def test_same_seed_same_network_other_seed_other_network(monkeypatch):
    monkeypatch.setattr(image_models, "_TRAINED", image_models.OrderedDict())
    x, y = X[:200], Y[:200]
    a = predict_proba(fit_cnn(x, y, n_classes=10, seed=3, steps=15), X[TEST])
    image_models._TRAINED.clear()  # train again: the memo rests on training being deterministic
    b = predict_proba(fit_cnn(x, y, n_classes=10, seed=3, steps=15), X[TEST])
    c = predict_proba(fit_cnn(x, y, n_classes=10, seed=4, steps=15), X[TEST])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.fixture
def counted(monkeypatch):
    """An empty memo and a count of the trainings `fit_cnn` really runs."""
    monkeypatch.setattr(image_models, "_TRAINED", image_models.OrderedDict())
    calls = []
    train = image_models._train_cnn

    def counting(*args, **kwargs):
        calls.append(kwargs["seed"])
        return train(*args, **kwargs)

    monkeypatch.setattr(image_models, "_train_cnn", counting)
    return calls


def test_a_repeated_fit_returns_a_copy_of_the_remembered_network(counted):
    x, y = X[:200], Y[:200]
    first = fit_cnn(x, y, n_classes=10, seed=3, steps=15)
    torch.manual_seed(11)
    state = torch.random.get_rng_state()
    second = fit_cnn(x.copy(), y.copy(), n_classes=10, seed=3, steps=15)  # equal arrays, not the same objects
    assert len(counted) == 1
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's RNG did not move
    np.testing.assert_array_equal(predict_proba(first, X[TEST]), predict_proba(second, X[TEST]))
    assert not second.training and second is not first
    with torch.no_grad():  # a copy: changing one network leaves the other (and the memo) alone
        second.head.bias.add_(100.0)
    third = fit_cnn(x, y, n_classes=10, seed=3, steps=15)
    np.testing.assert_array_equal(predict_proba(first, X[TEST]), predict_proba(third, X[TEST]))


@pytest.mark.parametrize("change", ["seed", "steps", "labels", "pixel", "classes"])
def test_anything_the_network_depends_on_trains_a_new_one(counted, change):
    x, y = X[:100].copy(), Y[:100] % 2
    settings = dict(n_classes=2, seed=3, steps=5)
    fit_cnn(x, y, **settings)
    if change == "pixel":
        x[7, 3, 3, 0] = 0.5 if x[7, 3, 3, 0] != 0.5 else 0.25
    elif change == "labels":
        y = y.copy()
        y[0] = 1 - y[0]
    else:
        settings[{"seed": "seed", "steps": "steps", "classes": "n_classes"}[change]] += 1
    fit_cnn(x, y, **settings)
    assert len(counted) == 2


def test_the_memo_keeps_the_most_recent_networks_only(counted):
    x, y = X[:60], Y[:60] % 2
    for seed in range(image_models.CNN_MEMO_SIZE + 1):
        fit_cnn(x, y, n_classes=2, seed=seed, steps=2)
    assert len(image_models._TRAINED) == image_models.CNN_MEMO_SIZE
    fit_cnn(x, y, n_classes=2, seed=image_models.CNN_MEMO_SIZE, steps=2)  # the newest: remembered
    fit_cnn(x, y, n_classes=2, seed=0, steps=2)                           # the oldest: dropped, trained again
    assert len(counted) == image_models.CNN_MEMO_SIZE + 2


def test_torch_thread_setting_is_restored():
    before = torch.get_num_threads()
    fit_cnn(X[:50], Y[:50], n_classes=10, seed=0, steps=2)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(("shape", "depth"), [((8, 8), 1), ((28, 28), 3), ((32, 32), 3), ((64, 48), 4)])
def test_depth_follows_the_public_image_size(shape, depth):
    assert cnn_depth(*shape) == depth


def test_rgb_images_and_a_single_training_image_work():
    rgb = np.random.default_rng(0).random((6, 32, 32, 3)).astype(np.float32)
    net = fit_cnn(rgb, np.array([0, 1, 2, 0, 1, 2]), n_classes=3, seed=0, steps=2)
    assert predict_proba(net, rgb).shape == (6, 3)
    assert embed(net, rgb[:0]).shape == (0, CNN_HIDDEN)
    fit_cnn(rgb[:1], np.array([1]), n_classes=3, seed=0, steps=2)  # BatchNorm needs 2 rows: repeated


def test_feature_network_without_labels_is_a_seeded_random_network():
    a, b = feature_network(X[:10], None, seed=1), feature_network(X[:10], None, seed=1)
    np.testing.assert_array_equal(embed(a, X[:20]), embed(b, X[:20]))
    assert not np.allclose(embed(a, X[:20]), embed(feature_network(X[:10], None, seed=2), X[:20]))


@pytest.mark.parametrize(("images", "match"), [
    (np.zeros((4, 8, 8)), "shape"),
    (np.full((4, 8, 8, 1), 2.0), "values in"),
    (np.full((4, 8, 8, 1), np.nan), "NaN"),
    (np.full((4, 8, 8, 1), "a"), "dtype"),
])
def test_bad_images_are_refused(images, match):
    with pytest.raises(ValueError, match=match):
        fit_cnn(images, np.zeros(4, int), n_classes=2, seed=0, steps=1)


@pytest.mark.parametrize(("labels", "match"), [
    (np.array([0, 1, 2, 5]), "values in"),
    (np.array([0, 1]), "shape"),
    (np.array([0.5, 1, 0, 1]), "non-integer"),
])
def test_bad_labels_are_refused(labels, match):
    with pytest.raises(ValueError, match=match):
        fit_cnn(np.zeros((4, 8, 8, 1)), labels, n_classes=3, seed=0, steps=1)


def test_bad_class_count_and_shape_mismatch_are_refused(fitted):
    with pytest.raises(ValueError, match=BAD_CLASSES.format(k=1)):
        fit_cnn(X[:4], np.zeros(4, int), n_classes=1, seed=0)
    with pytest.raises(ValueError, match="do not match"):
        predict_proba(fitted[0], np.zeros((2, 28, 28, 1)))

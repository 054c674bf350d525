"""Real-vs-synthetic image grids: valid PNG files per class and per subgroup."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread
from sklearn.datasets import load_digits

from dpsynth.validators.image_plots import NO_ROWS, image_grid, mosaic, real_vs_synthetic_grids

DATA = load_digits()
X = (DATA.images / 16.0)[..., None].astype(np.float32)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path) -> np.ndarray:
    assert path.is_file() and path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 50 and pixels.shape[1] > 50
    return pixels


def test_grids_per_class_and_per_subgroup_are_valid_pngs(tmp_path):
    rng = np.random.default_rng(0)
    real, syn = X[:300], rng.random((40, 8, 8, 1)).astype(np.float32)
    real_groups = {"sex": rng.choice(["F", "M"], 300), "sex×site": rng.choice(["F & a", "M & b"], 300)}
    syn_groups = {"sex": np.full(40, "F"), "sex×site": rng.choice(["F & a", "M & b"], 40)}  # no synthetic "M"
    made = real_vs_synthetic_grids(
        real, syn, real_labels=DATA.target[:300], syn_labels=rng.integers(0, 9, 40),  # no synthetic 9
        real_groups=real_groups, syn_groups=syn_groups, plot_dir=tmp_path / "plots",
        class_names=[f"digit {k}" for k in range(10)], group_order={"sex": ["M", "F"]})
    assert set(made) == {"images_overall", "images_by_class", "images_sex", "images_sex_x_site"}
    for name, path in made.items():
        assert path == tmp_path / "plots" / f"{name}.png"
        assert_png(path)
    # one row per class and side: the per-class grid is much taller than the overall one
    assert imread(made["images_by_class"]).shape[0] > 5 * imread(made["images_overall"]).shape[0] / 2


def test_grids_are_seeded_and_skip_classes_without_labels(tmp_path):
    first = real_vs_synthetic_grids(X[:50], X[50:90], real_labels=None, syn_labels=None, plot_dir=tmp_path / "a")
    second = real_vs_synthetic_grids(X[:50], X[50:90], real_labels=None, syn_labels=None, plot_dir=tmp_path / "b")
    assert set(first) == {"images_overall"}
    np.testing.assert_array_equal(imread(first["images_overall"]), imread(second["images_overall"]))


def test_rgb_grid_with_an_empty_row(tmp_path):
    rgb = np.random.default_rng(1).random((5, 32, 32, 3)).astype(np.float32)
    path = image_grid({"real": rgb, "synthetic": rgb[:0]}, tmp_path / "rgb.png", title="RGB")
    pixels = assert_png(path)
    assert pixels[..., :3].std(axis=-1).max() > 0.1  # drawn in colour, not grey


def test_mosaic_places_images_side_by_side():
    images = np.stack([np.zeros((2, 3, 1)), np.full((2, 3, 1), 0.5)]).astype(np.float32)
    out = mosaic(images, columns=3)
    assert out.shape == (2, 3 * 3 + 2, 1)
    assert (out[:, :3] == 0).all() and (out[:, 4:7] == 0.5).all() and (out[:, 3] == 1).all() and (out[:, 8:] == 1).all()


def test_bad_inputs_are_refused(tmp_path):
    with pytest.raises(ValueError, match=NO_ROWS):
        image_grid({}, tmp_path / "x.png", title="")
    with pytest.raises(ValueError, match="same image shape"):
        image_grid({"a": X[:2], "b": np.zeros((2, 4, 4, 1))}, tmp_path / "x.png", title="")
    with pytest.raises(ValueError, match="values in"):
        image_grid({"a": X[:2] * 16}, tmp_path / "x.png", title="")
    with pytest.raises(ValueError, match="one class label per real image"):
        real_vs_synthetic_grids(X[:5], X[:5], real_labels=np.zeros(3), syn_labels=np.zeros(5), plot_dir=tmp_path)


def test_rows_give_their_image_counts_and_small_groups_are_red(tmp_path, monkeypatch):
    from matplotlib.colors import to_hex

    from dpsynth.validators import image_plots
    from dpsynth.validators.plot_files import ALERT_COLOUR

    figures = []
    monkeypatch.setattr(image_plots, "save_figure", lambda fig, path: figures.append(fig) or path)
    groups = np.array(["F"] * 45 + ["M"] * 5)
    real_vs_synthetic_grids(X[:50], X[50:90], real_labels=None, syn_labels=None, plot_dir=tmp_path,
                            real_groups={"sex": groups}, syn_groups={"sex": groups[:40]}, min_group_size=30)
    labels = {ax.get_ylabel(): to_hex(ax.yaxis.label.get_color()) for ax in figures[1].axes}
    assert labels["real · F\n(n=45)"] != ALERT_COLOUR and labels["synthetic · F\n(n=40)"] != ALERT_COLOUR
    assert labels["real · M\n(n=5, small group)"] == ALERT_COLOUR
    assert labels["synthetic · M\n(n=0, small group)"] == ALERT_COLOUR

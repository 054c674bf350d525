"""save_figure: every audit plot is written with the not-for-release mark, seen and in its metadata."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.image import imread
from PIL import Image

from dpsynth.validators.notice import NOTICE, WATERMARK
from dpsynth.validators.plot_files import ALERT_COLOUR, save_figure


def drawn(tmp_path):
    fig = Figure(figsize=(3, 2))
    fig.subplots().plot([0, 1], [0, 1], color="black")
    return fig, save_figure(fig, tmp_path / "deep" / "folder" / "plot.png")


def test_the_figure_carries_the_visible_footer(tmp_path):
    fig, _ = drawn(tmp_path)
    footers = [t for t in fig.texts if t.get_text() == WATERMARK]
    assert len(footers) == 1 and footers[0].get_position()[1] == 0.0  # at the foot of the figure


def test_the_footer_is_in_the_pixels(tmp_path):
    _, path = drawn(tmp_path)
    pixels = imread(path)[..., :3]
    red = np.array([int(ALERT_COLOUR[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    near_red = np.abs(pixels - red).max(axis=-1) < 0.1
    rows = np.flatnonzero(near_red.any(axis=1))
    assert near_red.sum() > 200 and rows.min() > 0.8 * pixels.shape[0]  # a red line of text below the axes


def test_the_png_metadata_carries_the_notice(tmp_path):
    _, path = drawn(tmp_path)
    assert path == tmp_path / "deep" / "folder" / "plot.png"
    with Image.open(path) as image:
        assert image.text["Title"] == WATERMARK and image.text["Description"] == NOTICE

"""The image benchmark's grid (benchmarks/images.py --grid): the same number of images per class
in the schema's class order, scaled from the public pixel range, written as one PNG."""

import numpy as np
import pandas as pd
from PIL import Image

from dpsynth.data import image_sets
from dpsynth.images.schema import ImageData
from tests.benchmarks.scripts import load_script


def test_a_grid_row_takes_the_first_images_of_each_class_in_class_order():
    images_script = load_script("images.py")
    schema = image_sets.digits_schema()
    labels = ["3", "0", "3", "1", "0", "3"] + [str(c) for c in range(2, 10)]
    pixels = np.arange(len(labels), dtype=np.float32)[:, None, None, None] * np.ones((1, 8, 8, 1), np.float32)
    data = ImageData(static=pd.DataFrame({schema.static.target: labels}), images=pixels)

    row = images_script.class_row(data, schema, per_class=2)

    classes = list(schema.static.column(schema.static.target).categories)
    assert classes[:4] == ["0", "1", "2", "3"]
    picked = [1, 4, 3, 6, 0, 2] + list(range(8, 14))  # both 0s, the one 1, the one 2, the first two 3s, 4-9
    np.testing.assert_allclose(row[:, 0, 0, 0], np.asarray(picked, np.float32) / schema.upper)
    assert row.min() >= 0.0 and row.max() <= 1.0


def test_the_grid_is_a_png_with_a_row_per_source(tmp_path):
    images_script = load_script("images.py")
    schema = image_sets.digits_schema()
    train, _ = image_sets.split_digits(image_sets.load_digits_images(), seed=0)
    row = images_script.class_row(train, schema, per_class=2)
    path = tmp_path / "grid.png"

    images_script.write_grid(str(path), {"real (train)": row, "dp-image-vae\nε = 10": row[::-1]},
                             dataset="digits", per_class=2, seed=0)

    assert len(row) == 20
    with Image.open(path) as png:
        assert png.format == "PNG" and png.size[0] > png.size[1] > 0

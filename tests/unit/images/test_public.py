"""Public image tiles for pretraining (`dpsynth.images.public`): offline, seeded, in the schema's
shape and pixel range, and never cut from the medical images dpsynth's benchmark sets use."""

import numpy as np
import pytest

from dpsynth.data.image_sets import RETINA_SOURCE
from dpsynth.errors import DpsynthError
from dpsynth.images.public import SOURCE_IMAGES, public_tiles


def test_tiles_have_the_schema_shape_and_range_and_follow_the_public_seed():
    tiles = public_tiles(300, height=8, width=8, channels=1, pixel_range=(0.0, 16.0), seed=3)
    assert tiles.shape == (300, 8, 8, 1) and tiles.dtype == np.float32
    assert tiles.min() >= 0.0 and tiles.max() <= 16.0 and tiles.std() > 1.0  # varied, not flat
    np.testing.assert_array_equal(tiles, public_tiles(300, height=8, width=8, channels=1,
                                                      pixel_range=(0.0, 16.0), seed=3))
    assert not np.array_equal(tiles, public_tiles(300, height=8, width=8, channels=1,
                                                  pixel_range=(0.0, 16.0), seed=4))
    rgb = public_tiles(20, height=32, width=32, channels=3, pixel_range=(0.0, 255.0), seed=0)
    assert rgb.shape == (20, 32, 32, 3) and rgb.max() <= 255.0


def test_no_medical_or_benchmark_image_is_a_source():
    medical = {"retina", "immunohistochemistry", "microaneurysms", "cell", "lfw_subset"}
    assert not medical & set(SOURCE_IMAGES)
    assert "retina" in RETINA_SOURCE.lower()  # the benchmark sets' own source, kept out above


def test_impossible_shapes_are_clear_errors():
    with pytest.raises(DpsynthError, match="grey .* or RGB"):
        public_tiles(2, height=8, width=8, channels=2, pixel_range=(0.0, 1.0), seed=0)
    with pytest.raises(DpsynthError, match="at most 64 px"):
        public_tiles(2, height=128, width=128, channels=1, pixel_range=(0.0, 1.0), seed=0)


def test_without_scikit_image_the_error_names_the_extra(without_scikit_image):
    with pytest.raises(DpsynthError, match=r"dpsynth\[demo\]"):
        public_tiles(1, height=8, width=8, channels=1, pixel_range=(0.0, 1.0), seed=0)

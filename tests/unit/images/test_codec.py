"""ImageCodec: widths from the schema, scaling by the public pixel range, the row loss, decoding."""

import numpy as np
import pandas as pd
import pytest
import torch

from dpsynth.images.codec import ImageCodec
from dpsynth.errors import SchemaError
from dpsynth.images import ImageData, ImageSchema

H, W = 4, 3


def make_schema(*, channels=1, public=True, subject_id="patient") -> ImageSchema:
    return ImageSchema.from_dict({
        "version": 1, "modality": "image", "image_id": "image", "subject_id": subject_id,
        "height": H, "width": W, "channels": channels, "pixel_range": [0, 16],
        "target": "label", "positive": "1",
        "sensitive": [{"column": "sex"}, {"column": "age", "name": "age_band", "bins": [18, 60, 90],
                                          "labels": ["18-59", "60+"]}],
        "static": [{"name": "sex", "kind": "categorical", "categories": ["female", "male"], "public": public},
                   {"name": "age", "kind": "numeric", "lower": 18, "upper": 90},
                   {"name": "label", "kind": "categorical", "categories": ["0", "1"]}],
    })


def make_data(n=8, *, channels=1, seed=0) -> ImageData:
    rng = np.random.default_rng(seed)
    static = pd.DataFrame({"image": [f"i{k}" for k in range(n)], "patient": [f"p{k // 2}" for k in range(n)],
                           "sex": rng.choice(["female", "male"], n), "age": rng.uniform(20, 85, n).round(1),
                           "label": rng.choice(["0", "1"], n)})
    return ImageData(static, rng.integers(0, 17, size=(n, H, W, channels)).astype(np.float32))


def codec_and_data(channels=1, sigma=0.1):
    schema = make_schema(channels=channels)
    data, _ = schema.conform(make_data(channels=channels))
    return schema, data, ImageCodec(schema, n_bins=8, sigma=sigma)


def perfect_rows(codec, data):
    """Targets (model input rows) and decoder outputs that reconstruct them exactly."""
    static_rows = codec.encode_static(data.static)
    target = np.concatenate([static_rows, codec.encode_images(data.images)], axis=1)
    logits = np.where(static_rows > 0.5, 50.0, -50.0)
    output = np.concatenate([logits, target[:, codec.static_width:]], axis=1)
    return torch.tensor(output, dtype=torch.float32), torch.tensor(target, dtype=torch.float32)


@pytest.mark.parametrize("channels", [1, 3])
def test_widths_come_from_the_schema(channels):
    schema, data, codec = codec_and_data(channels)
    assert (codec.height, codec.width_px, codec.channels) == (H, W, channels)
    assert codec.pixel_width == H * W * channels
    assert codec.static_width == codec.static_codec.width
    assert codec.width == codec.input_width == codec.static_width + codec.pixel_width
    assert codec.condition_domains == schema.condition_domains()
    assert codec.condition_width == 2 + 2 + 2


def test_scale_maps_the_pixel_range_to_minus_one_one_and_back():
    _, data, codec = codec_and_data()
    np.testing.assert_allclose(codec.scale(np.array([0.0, 8.0, 16.0])), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(codec.unscale(codec.scale(data.images)), data.images, atol=1e-6)


def test_encode_images_is_flat_channels_last():
    _, data, codec = codec_and_data(channels=3)
    encoded = codec.encode_images(data.images)
    assert encoded.shape == (8, codec.pixel_width) and encoded.dtype == np.float32
    assert encoded.min() >= -1 and encoded.max() <= 1
    np.testing.assert_allclose(encoded[1].reshape(H, W, 3), codec.scale(data.images[1]), atol=1e-6)
    with pytest.raises(ValueError, match=r"expected \[n, 4, 3, 3\]"):
        codec.encode_images(data.images[..., :1])


def test_row_loss_keeps_leading_dims_and_is_minimal_for_a_perfect_output():
    _, data, codec = codec_and_data()
    output, target = perfect_rows(codec, data)
    loss = codec.row_loss(output, target)
    assert loss.shape == (8,) and float(loss.max()) < 1e-3
    units = codec.row_loss(output.reshape(4, 2, -1), target.reshape(4, 2, -1))
    assert units.shape == (4, 2)
    torch.testing.assert_close(units.reshape(-1), loss)
    shifted = output.clone()
    shifted[:, codec.static_width:] += 0.1
    expected = codec.pixel_width * 0.1 ** 2 / (2 * 0.1 ** 2)
    torch.testing.assert_close(codec.row_loss(shifted, target) - loss, torch.full((8,), expected), rtol=1e-3,
                               atol=1e-3)


def test_decode_round_trips_and_respects_the_condition_cells():
    schema, data, codec = codec_and_data(channels=3)
    output, _ = perfect_rows(codec, data)
    cells = schema.static.group_labels(data.static).reset_index(drop=True)
    static, images = codec.decode(output.numpy(), cells, rng=np.random.default_rng(0))
    assert images.shape == (8, H, W, 3)
    np.testing.assert_allclose(images, data.images, atol=1e-4)
    assert static["label"].tolist() == data.static["label"].tolist()
    assert static["sex"].tolist() == data.static["sex"].tolist()


def test_decode_clips_to_the_pixel_range():
    schema, data, codec = codec_and_data()
    output, _ = perfect_rows(codec, data)
    output[:, codec.static_width:] = 5.0
    output[0, codec.static_width:] = -5.0
    cells = schema.static.group_labels(data.static).reset_index(drop=True)
    _, images = codec.decode(output.numpy(), cells, rng=np.random.default_rng(0))
    assert images[0].max() == 0 and images[1:].min() == 16


def test_encode_conditions_uses_the_static_codec():
    schema, data, codec = codec_and_data()
    groups = schema.static.group_labels(data.static)
    np.testing.assert_array_equal(codec.encode_conditions(groups), codec.static_codec.encode_conditions(groups))


def test_codec_depends_only_on_the_schema():
    """Rule 2: changing one private image (or its record) does not change the codec."""
    schema = make_schema()
    first = ImageCodec(schema, n_bins=8)
    data, _ = schema.conform(make_data())
    extreme = make_data()
    extreme.images[0] = 16.0
    extreme.static.loc[0, "age"] = 89.9
    changed, _ = schema.conform(extreme)
    second = ImageCodec(schema, n_bins=8)
    assert (first.width, first.static_width, first.lower, first.upper) == \
        (second.width, second.static_width, second.lower, second.upper)
    np.testing.assert_array_equal(first.encode_images(data.images[1:]), second.encode_images(changed.images[1:]))
    np.testing.assert_array_equal(first.encode_static(data.static.iloc[1:]),
                                  second.encode_static(changed.static.iloc[1:]))
    # the scaling is a fixed map of the public range, whatever the data hold
    np.testing.assert_allclose(first.encode_images(changed.images[:1]), 1.0)


def test_refuses_non_public_schema_and_bad_sigma():
    with pytest.raises(SchemaError, match="sex.categories"):
        ImageCodec(make_schema(public=False))
    with pytest.raises(ValueError, match="sigma must be positive"):
        ImageCodec(make_schema(), sigma=0)


def test_rule_2_encoding_is_row_by_row():
    """Rule 2: an image's encoding depends on it and the public pixel range only."""
    _, data, codec = codec_and_data()
    brighter = np.concatenate([data.images[:3], np.full_like(data.images[3:], 16.0)])
    np.testing.assert_array_equal(codec.encode_images(brighter)[:3], codec.encode_images(data.images)[:3])
    np.testing.assert_array_equal(codec.encode_static(data.static.iloc[:3]), codec.encode_static(data.static)[:3])

"""Image readers and writers: MedMNIST npz, PNG/DICOM folders with a manifest, dpsynth npz."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dpsynth.errors import DataReadError, SchemaError
from dpsynth.images import ImageData, ImageSchema
from dpsynth.images.io import (
    read_image_file,
    read_image_folder,
    read_images,
    read_images_npz,
    read_medmnist_npz,
    write_image_folder,
    write_images_npz,
)
from dpsynth.table_io import DataWriteError

H, W = 4, 5


def make_schema(*, channels=1, pixel_range=(0, 16), subject_id="patient", out_of_bounds="error") -> ImageSchema:
    return ImageSchema.from_dict({
        "version": 1, "modality": "image", "image_id": "image", "subject_id": subject_id,
        "height": H, "width": W, "channels": channels, "pixel_range": list(pixel_range),
        "out_of_bounds": out_of_bounds, "target": "label", "positive": "1", "sensitive": [{"column": "sex"}],
        "static": [{"name": "sex", "kind": "categorical", "categories": ["female", "male"]},
                   {"name": "label", "kind": "categorical", "categories": ["0", "1"]}],
    })


def make_data(n=4, *, channels=1, high=16, seed=0) -> ImageData:
    rng = np.random.default_rng(seed)
    static = pd.DataFrame({"image": [f"i{k}" for k in range(n)], "patient": [f"p{k // 2}" for k in range(n)],
                           "sex": (["female", "male"] * n)[:n], "label": (["0", "1"] * n)[:n]})
    return ImageData(static, rng.integers(0, high + 1, size=(n, H, W, channels)).astype(np.float32))


def write_png(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)
    return path


def write_dicom(path, pixels, *, slope=None, intercept=None, photometric="MONOCHROME2", bits=16):
    """A minimal single-frame Secondary Capture DICOM file built with pydicom (nothing downloaded)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = SecondaryCaptureImageStorage
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.set_pixel_data(pixels, photometric, bits)
    if slope is not None:
        dataset.RescaleSlope = slope
    if intercept is not None:
        dataset.RescaleIntercept = intercept
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_as(path, enforce_file_format=True)
    return path


def write_manifest(folder, rows, columns=("file", "image", "patient", "sex", "label")):
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=list(columns)).to_csv(folder / "manifest.csv", index=False)


def medmnist(path, *, n=6, split="train", labels=None, shape=(H, W), extra=None):
    rng = np.random.default_rng(1)
    arrays = {f"{split}_images": rng.integers(0, 17, size=(n, *shape)).astype(np.uint8),
              f"{split}_labels": (np.arange(n) % 2).reshape(-1, 1) if labels is None else labels}
    arrays.update(extra or {})
    np.savez(path, **arrays)
    return arrays


# ================================================================== MedMNIST npz
def test_medmnist_split_with_attributes_by_order(tmp_path):
    arrays = medmnist(tmp_path / "m.npz", extra={"val_images": np.zeros((2, H, W), np.uint8),
                                                 "val_labels": np.array([1, 0])})
    attributes = pd.DataFrame({"patient": ["a", "a", "b", "b", "c", "c"], "sex": ["female", "male"] * 3})
    data = read_medmnist_npz(tmp_path / "m.npz", make_schema(), attributes=attributes)
    assert data.static["image"].tolist() == [f"train-{i:06d}" for i in range(6)]
    assert data.static["label"].tolist() == ["0", "1"] * 3
    assert data.images.dtype == np.float32 and data.images.shape == (6, H, W, 1)
    np.testing.assert_array_equal(data.images[..., 0], arrays["train_images"])
    out, report = make_schema().conform(data)
    assert report.n_units == 3 and out.static["patient"].tolist()[:2] == ["a", "a"]
    val = read_medmnist_npz(tmp_path / "m.npz", make_schema(subject_id=None), split="val",
                            attributes=pd.DataFrame({"sex": ["male", "male"]}))
    assert val.static["image"].tolist() == ["val-000000", "val-000001"] and val.static["label"].tolist() == ["1", "0"]


def test_medmnist_attributes_by_image_id_from_a_csv(tmp_path):
    medmnist(tmp_path / "m.npz", n=3, labels=np.array([1, 0, 1]))
    pd.DataFrame({"image": ["train-000002", "train-000000", "train-000001"], "sex": ["male", "female", "male"],
                  "patient": ["007", "008", "009"]}).to_csv(tmp_path / "attrs.csv", index=False)
    data = read_medmnist_npz(tmp_path / "m.npz", make_schema(), attributes=tmp_path / "attrs.csv")
    assert data.static["sex"].tolist() == ["female", "male", "male"]
    assert data.static["patient"].tolist() == ["008", "009", "007"]  # ids stay text (leading zeros)


def test_medmnist_rgb_images(tmp_path):
    medmnist(tmp_path / "m.npz", n=2, shape=(H, W, 3))
    data = read_medmnist_npz(tmp_path / "m.npz", make_schema(channels=3, subject_id=None),
                             attributes=pd.DataFrame({"sex": ["male", "female"]}))
    assert data.images.shape == (2, H, W, 3)


def test_medmnist_missing_split_lists_the_keys(tmp_path):
    medmnist(tmp_path / "m.npz")
    with pytest.raises(DataReadError, match=r"no key 'test_images' \(the test images\); keys found: "
                                            r"\['train_images', 'train_labels'\]"):
        read_medmnist_npz(tmp_path / "m.npz", make_schema(subject_id=None), split="test")


@pytest.mark.parametrize("shape", [(H + 1, W), (H, W, 3)])
def test_medmnist_wrong_image_shape_names_file_and_expected_shape(tmp_path, shape):
    medmnist(tmp_path / "m.npz", shape=shape)
    with pytest.raises(SchemaError, match=r"m.npz': 'train_images' has shape .*expected numeric images "
                                          r"\[N, 4, 5, 1\].*never resizes"):
        read_medmnist_npz(tmp_path / "m.npz", make_schema(subject_id=None))


@pytest.mark.parametrize("labels", [np.zeros((6, 14), int), np.zeros(5, int), np.array(["a"] * 6)])
def test_medmnist_labels_must_be_one_integer_per_image(tmp_path, labels):
    medmnist(tmp_path / "m.npz", labels=labels)
    with pytest.raises(DataReadError, match=r"'train_labels' has shape .*one integer label per image.*multi-label"):
        read_medmnist_npz(tmp_path / "m.npz", make_schema(subject_id=None))


def test_medmnist_unseen_label_value_is_named(tmp_path):
    medmnist(tmp_path / "m.npz", labels=np.array([[0], [1], [7], [7], [0], [1]]))
    with pytest.raises(SchemaError, match=r"label value '7' \(2 image\(s\), e.g. 'train-000002'\) is not a "
                                          r"category of the target 'label' \['0', '1'\]"):
        read_medmnist_npz(tmp_path / "m.npz", make_schema(subject_id=None))


def test_medmnist_attribute_errors(tmp_path):
    medmnist(tmp_path / "m.npz", n=2)
    schema = make_schema(subject_id=None)
    with pytest.raises(SchemaError, match=r"have 3 row\(s\) but split 'train' has 2 image\(s\)"):
        read_medmnist_npz(tmp_path / "m.npz", schema, attributes=pd.DataFrame({"sex": ["male"] * 3}))
    with pytest.raises(SchemaError, match=r"no row for 1 image\(s\) of split 'train', e.g. \['train-000001'\]"):
        read_medmnist_npz(tmp_path / "m.npz", schema,
                          attributes=pd.DataFrame({"image": ["train-000000"], "sex": ["male"]}))
    with pytest.raises(SchemaError, match=r"more than one row for image id\(s\) \['train-000000'\]"):
        read_medmnist_npz(tmp_path / "m.npz", schema, attributes=pd.DataFrame(
            {"image": ["train-000000", "train-000000", "train-000001"], "sex": ["male"] * 3}))
    with pytest.raises(SchemaError, match="column 'label', the target, which the archive's labels already give"):
        read_medmnist_npz(tmp_path / "m.npz", schema, attributes=pd.DataFrame({"label": [0, 1]}))
    with pytest.raises(SchemaError, match="names the subject id 'patient' but npz file .* has none"):
        read_medmnist_npz(tmp_path / "m.npz", make_schema(), attributes=pd.DataFrame({"sex": ["male"] * 2}))


def test_npz_that_needs_pickle_or_is_not_an_archive_is_refused(tmp_path):
    np.savez(tmp_path / "p.npz", train_images=np.array([{"a": 1}], dtype=object), train_labels=np.zeros(1))
    with pytest.raises(DataReadError, match="holds Python objects"):
        read_medmnist_npz(tmp_path / "p.npz", make_schema(subject_id=None))
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(DataReadError, match="not a NumPy .npz archive"):
        read_medmnist_npz(tmp_path / "x.npz", make_schema(subject_id=None))


# ================================================================== PNG folders
def test_png_folder_grey_with_manifest(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 17, size=(3, H, W)).astype(np.uint8)
    for k in range(3):
        write_png(tmp_path / "imgs" / "sub" / f"{k}.png", pixels[k])
    write_manifest(tmp_path / "imgs", [[f"sub/{k}.png", f"00{k}", "p1", "male", k % 2] for k in range(3)])
    data = read_image_folder(tmp_path / "imgs", make_schema())
    assert data.images.dtype == np.float32 and data.images.shape == (3, H, W, 1)
    np.testing.assert_array_equal(data.images[..., 0], pixels)
    assert "file" not in data.static.columns and data.static["image"].tolist() == ["000", "001", "002"]
    out, report = make_schema().conform(data)
    assert report.n_images == 3 and report.n_units == 1


def test_png_uint16_rgb_palette_and_opaque_alpha(tmp_path):
    grey16 = (np.arange(H * W).reshape(H, W) * 40).astype(np.uint16)
    write_png(tmp_path / "g16.png", grey16)
    np.testing.assert_array_equal(read_image_file(tmp_path / "g16.png", make_schema(pixel_range=(0, 1000)))[..., 0],
                                  grey16)
    rgb = np.random.default_rng(0).integers(0, 256, size=(H, W, 3)).astype(np.uint8)
    write_png(tmp_path / "rgb.png", rgb)
    rgb_schema = make_schema(channels=3, pixel_range=(0, 255))
    np.testing.assert_array_equal(read_image_file(tmp_path / "rgb.png", rgb_schema), rgb)
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=8).save(tmp_path / "pal.png")
    assert read_image_file(tmp_path / "pal.png", rgb_schema).shape == (H, W, 3)
    rgba = np.concatenate([rgb, np.full((H, W, 1), 255, np.uint8)], axis=2)
    write_png(tmp_path / "rgba.png", rgba)
    np.testing.assert_array_equal(read_image_file(tmp_path / "rgba.png", rgb_schema), rgb)


def test_png_transparent_alpha_is_refused(tmp_path):
    rgba = np.zeros((H, W, 4), np.uint8)
    write_png(tmp_path / "rgba.png", rgba)
    with pytest.raises(SchemaError, match=r"rgba.png' has a transparent alpha channel \(mode RGBA\)"):
        read_image_file(tmp_path / "rgba.png", make_schema(channels=3, pixel_range=(0, 255)))


def test_png_wrong_size_names_the_file_and_expected_size(tmp_path):
    write_png(tmp_path / "big.png", np.zeros((H + 2, W), np.uint8))
    with pytest.raises(SchemaError, match=r"big.png' is 6 × 5 \(height × width\) but the schema expects 4 × 5; "
                                          r"dpsynth never resizes"):
        read_image_file(tmp_path / "big.png", make_schema())


def test_png_channel_mismatch_names_mode_and_fix(tmp_path):
    write_png(tmp_path / "rgb.png", np.zeros((H, W, 3), np.uint8))
    with pytest.raises(SchemaError, match=r"rgb.png' has mode RGB \(3 channels\), but the schema expects 1 "
                                          r"channel \(grey\).*channels: 3"):
        read_image_file(tmp_path / "rgb.png", make_schema())
    write_png(tmp_path / "grey.png", np.zeros((H, W), np.uint8))
    with pytest.raises(SchemaError, match=r"grey.png' has mode L \(grey\), but the schema expects 3 channels "
                                          r"\(RGB\).*channels: 1"):
        read_image_file(tmp_path / "grey.png", make_schema(channels=3))


def test_unreadable_image_file(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(DataReadError, match=r"cannot read image file '.*bad.png': not a readable image"):
        read_image_file(tmp_path / "bad.png", make_schema())


def test_folder_and_manifest_errors(tmp_path):
    schema = make_schema()
    with pytest.raises(DataReadError, match="no such directory"):
        read_image_folder(tmp_path / "absent", schema)
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(DataReadError, match="it is a file, not a directory"):
        read_image_folder(tmp_path / "f.txt", schema)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataReadError, match=r"no manifest '.*manifest.csv'.*\('file'\).*\('image'\).*'patient'"):
        read_image_folder(tmp_path / "empty", schema)
    write_manifest(tmp_path / "nofile", [["a.png", "i", "p", "male", 0]],
                   columns=("path", "image", "patient", "sex", "label"))
    with pytest.raises(SchemaError, match=r"no file column 'file' \(columns: \['path'"):
        read_image_folder(tmp_path / "nofile", schema)
    write_manifest(tmp_path / "gone", [["a.png", "i", "p", "male", 0]])
    with pytest.raises(DataReadError,
                       match=r"image file '.*a.png' \(manifest '.*manifest.csv', row 1\) does not exist"):
        read_image_folder(tmp_path / "gone", schema)
    write_png(tmp_path / "blank" / "a.png", np.zeros((H, W), np.uint8))
    write_manifest(tmp_path / "blank", [["a.png", "i", "p", "male", 0], [None, "j", "p", "male", 0]])
    with pytest.raises(DataReadError, match=r"row 2: the file name \('file'\) is empty"):
        read_image_folder(tmp_path / "blank", schema)


def test_manifest_without_image_ids_uses_file_names_and_custom_manifest(tmp_path):
    write_png(tmp_path / "d" / "a.png", np.zeros((H, W), np.uint8))
    write_png(tmp_path / "d" / "b.png", np.ones((H, W), np.uint8))
    pd.DataFrame({"path": ["a.png", "b.png"], "sex": ["male", "female"], "label": [0, 1]}).to_csv(
        tmp_path / "labels.csv", index=False)
    schema = make_schema(subject_id=None)
    data = read_image_folder(tmp_path / "d", schema, manifest=tmp_path / "labels.csv", file_column="path")
    assert data.static["image"].tolist() == ["a.png", "b.png"]
    out, report = schema.conform(data)
    assert report.n_units == 2
    with pytest.raises(SchemaError, match="names the subject id 'patient' but manifest .* has none"):
        read_image_folder(tmp_path / "d", make_schema(), manifest=tmp_path / "labels.csv", file_column="path")


# ================================================================== DICOM
def test_dicom_folder_applies_rescale_slope_and_intercept(tmp_path):
    raw = (np.arange(H * W).reshape(H, W) * 3).astype(np.uint16)
    write_dicom(tmp_path / "d" / "a.dcm", raw, slope=2, intercept=-1000)
    write_dicom(tmp_path / "d" / "b.dcm", raw)
    write_manifest(tmp_path / "d", [["a.dcm", "a", "p1", "male", 1], ["b.dcm", "b", "p2", "female", 0]])
    schema = make_schema(pixel_range=(-1000, 1000))
    data = read_images(tmp_path / "d", schema)
    np.testing.assert_array_equal(data.images[0, ..., 0], raw * 2.0 - 1000)
    np.testing.assert_array_equal(data.images[1, ..., 0], raw)
    out, _ = schema.conform(data)
    assert out.static["image"].tolist() == ["a", "b"]


def test_dicom_rgb_and_wrong_size(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, size=(H, W, 3)).astype(np.uint8)
    write_dicom(tmp_path / "rgb.dcm", rgb, photometric="RGB", bits=8)
    np.testing.assert_array_equal(read_image_file(tmp_path / "rgb.dcm", make_schema(channels=3, pixel_range=(0, 255))),
                                  rgb)
    with pytest.raises(SchemaError, match=r"rgb.dcm' has 3 sample\(s\) per pixel \(RGB\), but the schema expects 1"):
        read_image_file(tmp_path / "rgb.dcm", make_schema(pixel_range=(0, 255)))
    write_dicom(tmp_path / "big.dcm", np.zeros((H, W + 1), np.uint16))
    with pytest.raises(SchemaError, match=r"big.dcm' is 4 × 6 .*expects 4 × 5"):
        read_image_file(tmp_path / "big.dcm", make_schema())


def test_dicom_errors(tmp_path):
    from pydicom import dcmread

    (tmp_path / "bad.dcm").write_bytes(b"not dicom at all")
    with pytest.raises(DataReadError, match=r"bad.dcm': not a readable DICOM file"):
        read_image_file(tmp_path / "bad.dcm", make_schema())
    write_dicom(tmp_path / "frames.dcm", np.zeros((3, H, W), np.uint16))
    with pytest.raises(DataReadError, match="holds 3 frames; one file is one image"):
        read_image_file(tmp_path / "frames.dcm", make_schema())
    dataset = dcmread(write_dicom(tmp_path / "nopix.dcm", np.zeros((H, W), np.uint16)))
    del dataset.PixelData
    dataset.save_as(tmp_path / "nopix.dcm")
    with pytest.raises(DataReadError, match="holds no image"):
        read_image_file(tmp_path / "nopix.dcm", make_schema())


# ================================================================== writers
def test_png_folder_round_trip_rounds_and_clips_to_the_pixel_range(tmp_path):
    schema = make_schema()
    data = make_data()
    data.images[0, 0, 0, 0] = 3.4
    data.images[1, 0, 0, 0] = 20  # outside the range: the writer clips
    folder = write_image_folder(data, tmp_path / "release", schema)
    assert sorted(p.name for p in folder.iterdir()) == ["000000.png", "000001.png", "000002.png", "000003.png",
                                                        "manifest.csv"]
    with Image.open(folder / "000000.png") as png:
        assert png.mode == "L"
    back = read_image_folder(folder, schema)
    expected = np.clip(np.rint(data.images), 0, 16)
    np.testing.assert_array_equal(back.images, expected)
    out, _ = schema.conform(back)
    pd.testing.assert_frame_equal(out.static, schema.conform(ImageData(data.static, expected))[0].static)


def test_png_writer_uses_uint16_and_rgb(tmp_path):
    schema16 = make_schema(pixel_range=(0, 4095))
    data = make_data(high=4095)
    folder = write_image_folder(data, tmp_path / "r16", schema16)
    with Image.open(folder / "000000.png") as png:
        assert png.mode.startswith("I")
    np.testing.assert_array_equal(read_image_folder(folder, schema16).images, data.images)
    schema_rgb = make_schema(channels=3, pixel_range=(0, 255))
    data = make_data(channels=3, high=255)
    folder = write_image_folder(data, tmp_path / "rgb", schema_rgb)
    np.testing.assert_array_equal(read_images(folder, schema_rgb).images, data.images)


def test_png_writer_errors(tmp_path):
    data = make_data()
    with pytest.raises(DataWriteError, match="PNG holds whole numbers .* pixel_range is \\[-1, 1\\].*write_images_npz"):
        write_image_folder(data, tmp_path / "a", make_schema(pixel_range=(-1, 1)))
    with pytest.raises(DataWriteError, match=r"\[0, 4095\] with 3 channel"):
        write_image_folder(make_data(channels=3), tmp_path / "a", make_schema(channels=3, pixel_range=(0, 4095)))
    with pytest.raises(DataWriteError, match="format must be 'png'"):
        write_image_folder(data, tmp_path / "a", make_schema(), format="jpeg")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.png").write_bytes(b"")
    with pytest.raises(DataWriteError, match="not an empty folder; choose a new folder"):
        write_image_folder(data, tmp_path / "full", make_schema())
    with pytest.raises(DataWriteError, match="has a column 'file'"):
        write_image_folder(ImageData(data.static.assign(file="x"), data.images), tmp_path / "b", make_schema())
    with pytest.raises(DataWriteError, match=r"3 image\(s\) for 4 static row\(s\)"):
        write_image_folder(ImageData(data.static, data.images[:3]), tmp_path / "c", make_schema())
    with pytest.raises(DataWriteError, match=r"expected numbers \[N, 4, 5, 1\]"):
        write_image_folder(ImageData(data.static, np.zeros((4, 2, 2, 1))), tmp_path / "d", make_schema())
    with pytest.raises(DataWriteError, match="no image id column 'image'"):
        write_image_folder(ImageData(data.static.drop(columns=["image"]), data.images), tmp_path / "e",
                           make_schema())
    assert not any((tmp_path / p).exists() for p in "abcde")


def test_npz_round_trip_is_exact(tmp_path):
    schema = make_schema(pixel_range=(-1, 1))
    data = make_data()
    data.images[:] = np.random.default_rng(3).uniform(-1, 1, size=data.images.shape)
    conformed, _ = schema.conform(data)
    path = write_images_npz(conformed, tmp_path / "out" / "release.npz", schema)
    back = read_images(path, schema)
    np.testing.assert_array_equal(back.images, conformed.images)
    out, _ = schema.conform(back)
    pd.testing.assert_frame_equal(out.static, conformed.static)
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["image", "images", "label", "patient", "sex"]


def test_npz_writer_and_reader_errors(tmp_path):
    schema = make_schema()
    data = make_data()
    with pytest.raises(DataWriteError, match="must end in .npz"):
        write_images_npz(data, tmp_path / "x.npy", schema)
    with pytest.raises(DataWriteError, match="static column 'images' clashes"):
        write_images_npz(ImageData(data.static.assign(images=1), data.images), tmp_path / "x.npz", schema)
    np.savez(tmp_path / "noid.npz", images=np.zeros((2, H, W, 1)), sex=np.array(["male", "female"]))
    with pytest.raises(SchemaError, match=r"no key 'image' \(a column of the schema"):
        read_images_npz(tmp_path / "noid.npz", schema)
    np.savez(tmp_path / "none.npz", pixels=np.zeros(2))
    with pytest.raises(DataReadError, match="no key 'images'"):
        read_images_npz(tmp_path / "none.npz", schema)


# ================================================================== dispatch
def test_read_images_dispatches_on_the_input(tmp_path):
    schema = make_schema(subject_id=None)
    medmnist(tmp_path / "m.npz", n=2)
    data = read_images(tmp_path / "m.npz", schema, split="train", attributes=pd.DataFrame({"sex": ["male"] * 2}))
    assert data.static["image"].tolist() == ["train-000000", "train-000001"]
    with pytest.raises(DataReadError, match="no such file or directory"):
        read_images(tmp_path / "absent.npz", schema)
    (tmp_path / "a.tiff").write_bytes(b"")
    with pytest.raises(DataReadError, match=r"unsupported file extension '.tiff'.*MedMNIST .npz"):
        read_images(tmp_path / "a.tiff", schema)
    np.savez(tmp_path / "other.npz", x=np.zeros(2))
    with pytest.raises(DataReadError, match=r"neither 'images' nor '<split>_images' \(keys: \['x'\]\)"):
        read_images(tmp_path / "other.npz", schema)
    (tmp_path / "broken.npz").write_bytes(b"junk")
    with pytest.raises(DataReadError, match="not a NumPy .npz archive"):
        read_images(tmp_path / "broken.npz", schema)


def test_medmnist_multiclass_labels_map_to_the_target_categories(tmp_path):
    schema = ImageSchema.from_dict({**make_schema(subject_id=None).to_dict(), "static": [
        {"name": "sex", "kind": "categorical", "categories": ["female", "male"]},
        {"name": "label", "kind": "categorical", "categories": [str(d) for d in range(10)]}]})
    medmnist(tmp_path / "m.npz", n=4, labels=np.array([[9], [0], [3], [3]], dtype=np.uint8))
    data = read_medmnist_npz(tmp_path / "m.npz", schema, attributes=pd.DataFrame({"sex": ["male"] * 4}))
    assert data.static["label"].tolist() == ["9", "0", "3", "3"]
    assert schema.conform(data)[1].n_images == 4

"""Image data sets: digits, real medical tiles, real DICOM slices and the SIMULATED fundus cohort."""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import gaussian_filter
from sklearn.metrics import roc_auc_score

from dpsynth.data import image_sets as mod
from dpsynth.data.image_sets import (
    AGE_BINS,
    AGE_LABELS,
    PREVALENCE_BY_AGE_BAND,
    REGIONS,
    SITE_B_EXTRA_PREVALENCE,
    digits_schema,
    dicom_test_files,
    dicom_tiles_schema,
    fundus_cohort_schema,
    ihc_tiles_schema,
    load_digits_images,
    load_fundus_cohort,
    load_ihc_tiles,
    load_retina_tiles,
    retina_tiles_schema,
    simulate_fundus_cohort,
    split_digits,
    split_fundus_cohort,
    split_images,
    split_tiles,
    tile_grid,
    write_dicom_tiles,
)
from dpsynth.errors import DpsynthError
from dpsynth.images.schema import ImageData, ImageSchema

N_SUBJECTS = 750


@pytest.fixture(scope="module", autouse=True)
def no_network():
    """Every data set here loads offline: any attempt to open a connection fails the test at once."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket, "create_connection", refuse)
        yield


@pytest.fixture(scope="module")
def digits() -> ImageData:
    return load_digits_images()


@pytest.fixture(scope="module")
def skimage():
    return pytest.importorskip("skimage.data", reason="scikit-image (the demo extra) ships the medical images")


@pytest.fixture(scope="module")
def cohort(skimage) -> tuple[ImageData, pd.DataFrame]:
    return simulate_fundus_cohort(N_SUBJECTS, seed=0)


@pytest.fixture(scope="module")
def fundus(cohort) -> ImageData:
    return cohort[0]


def _subjects(static: pd.DataFrame) -> pd.DataFrame:
    """One row per subject (its attributes and label are constant over its images)."""
    per = static.groupby("subject")[["sex", "age", "site", "lesion"]].nunique()
    assert (per == 1).all().all()
    return static.drop_duplicates("subject").reset_index(drop=True)


def _age_band(static: pd.DataFrame, schema: ImageSchema) -> pd.Series:
    attr = next(a for a in schema.sensitive if a.name == "age_band")
    return attr.label(static["age"], schema.static.column("age"))


def _by_id(data: ImageData, column: str = "image") -> dict[str, np.ndarray]:
    return dict(zip(data.static[column], data.images))


# ------------------------------------------------------------------------------ digits
def test_digits_counts_shape_and_values(digits):
    from sklearn.datasets import load_digits

    assert len(digits) == 1797 and digits.images.shape == (1797, 8, 8, 1) and digits.images.dtype == np.float32
    assert list(digits.static.columns) == ["image", "digit"] and digits.static["image"].is_unique
    assert digits.images.min() == 0 and digits.images.max() == 16
    assert np.array_equal(digits.images, np.rint(digits.images))  # whole counts 0..16
    counts = digits.static["digit"].value_counts()
    assert sorted(counts.index) == [str(d) for d in range(10)]
    truth = load_digits().target
    assert all(counts[str(d)] == (truth == d).sum() for d in range(10))  # 174..183 per digit
    assert counts.min() == 174 and counts.max() == 183
    assert np.array_equal(digits.images[5, ..., 0], load_digits().images[5])
    assert digits.static.attrs["simulated"] is False


def test_digits_schema_conforms_without_subjects_or_attributes(digits):
    schema = digits_schema()
    assert schema.shape == (8, 8, 1) and schema.pixel_range == (0.0, 16.0) and schema.out_of_bounds == "error"
    assert schema.target == "digit" and schema.positive == "8"
    assert schema.subject_id is None and schema.sensitive == [] and schema.not_public() == []
    conformed, report = schema.conform(digits)
    assert report.n_images == report.n_units == 1797 and report.clipped_pixels == 0
    assert np.array_equal(conformed.images, digits.images)
    assert np.array_equal(schema.units(conformed.static), conformed.static["image"].to_numpy(dtype=object))


def test_digits_loader_returns_fresh_arrays(digits):
    again = load_digits_images()
    again.images[:] = -1
    assert load_digits_images().images.max() == 16 and digits.images.max() == 16


def test_digits_split_is_stratified_disjoint_complete_and_aligned(digits):
    train, holdout = split_digits(digits, seed=0, holdout_fraction=0.3)
    assert len(holdout) == pytest.approx(0.3 * 1797, abs=1) and len(train) + len(holdout) == 1797
    assert not set(train.static["image"]) & set(holdout.static["image"])
    original = _by_id(digits)
    for part in (train, holdout):
        assert isinstance(part.static.index, pd.RangeIndex) and part.images.shape[1:] == (8, 8, 1)
        assert all(np.array_equal(image, original[i]) for i, image in _by_id(part).items())
        share = part.static["digit"].value_counts(normalize=True)
        assert (share - digits.static["digit"].value_counts(normalize=True)).abs().max() < 0.005
    assert split_digits(digits, seed=0)[1].static.equals(holdout.static)
    assert not split_digits(digits, seed=1)[1].static.equals(holdout.static)
    with pytest.raises(ValueError, match="holdout_fraction"):
        split_digits(digits, holdout_fraction=0)


# ------------------------------------------------------------------------------- tiles
def test_tile_grid_cuts_disjoint_cells_and_keeps_masked_ones():
    image = np.arange(10 * 13 * 2).reshape(10, 13, 2)
    tiles, corners = tile_grid(image, size=4, origin=(1, 0))
    assert tiles.shape == (6, 4, 4, 2) and corners.tolist() == [[1, 0], [1, 4], [1, 8], [5, 0], [5, 4], [5, 8]]
    for tile, (y, x) in zip(tiles, corners):
        assert np.array_equal(tile, image[y:y + 4, x:x + 4])
    keep = np.ones((10, 13), dtype=bool)
    keep[6, 5] = False  # one pixel outside drops the cell that holds it
    tiles, corners = tile_grid(image[..., 0], size=4, origin=(1, 0), keep=keep)
    assert tiles.shape == (5, 4, 4, 1) and [5, 4] not in corners.tolist()


def test_retina_tiles_are_distinct_fundus_regions(skimage):
    data = load_retina_tiles()
    source = skimage.retina()
    assert len(data) == 1401 and data.images.shape == (1401, 32, 32, 3) and data.images.dtype == np.float32
    ids = data.static["image"]
    assert ids.is_unique and ids.iloc[0].startswith("retina_y")
    corners = np.array([[int(i.split("_")[1][1:]), int(i.split("_")[2][1:])] for i in ids])
    assert set(corners[:, 0] % 32) == {1} and set(corners[:, 1] % 32) == {1}  # one grid, centred: no overlap
    for k in (0, 700, 1400):
        y, x = corners[k]
        assert np.array_equal(data.images[k], source[y:y + 32, x:x + 32])
    assert (data.images.sum(axis=3) > mod.FUNDUS_THRESHOLD).all()  # wholly inside the fundus
    counts = data.static["region"].value_counts()
    assert set(counts.index) == set(REGIONS) and counts.min() > 340
    schema = retina_tiles_schema()
    conformed, report = schema.conform(data)
    assert report.n_units == 1401 and report.clipped_pixels == 0 and schema.shape == (32, 32, 3)
    assert data.static.attrs["simulated"] is False


def test_ihc_tiles_rebuild_the_source_image(skimage):
    data = load_ihc_tiles()
    assert data.images.shape == (256, 32, 32, 3)
    rebuilt = data.images.reshape(16, 16, 32, 32, 3).transpose(0, 2, 1, 3, 4).reshape(512, 512, 3)
    assert np.array_equal(rebuilt, skimage.immunohistochemistry())
    assert data.static["region"].value_counts().to_dict() == {r: 64 for r in REGIONS}
    assert data.static.loc[0, "region"] == "upper-left" and data.static.loc[255, "region"] == "lower-right"
    conformed, report = ihc_tiles_schema().conform(data)
    assert report.n_images == 256 and report.clipped_pixels == 0
    train, holdout = split_tiles(data, seed=0)
    assert len(holdout) == pytest.approx(0.3 * 256, abs=1)
    assert holdout.static["region"].value_counts().max() - holdout.static["region"].value_counts().min() <= 1


def test_missing_scikit_image_is_a_clear_error(without_scikit_image):
    with pytest.raises(DpsynthError, match="scikit-image"):
        load_ihc_tiles()


# ------------------------------------------------------------------------------- DICOM
def test_dicom_tiles_folder_reads_back_through_the_folder_reader(tmp_path):
    import pydicom

    from dpsynth.images.io import read_image_folder

    files = dicom_test_files()
    assert set(files) == {"CT_small.dcm", "MR_small.dcm"}
    folder = write_dicom_tiles(tmp_path / "dicom")
    assert len(list(folder.glob("*.dcm"))) == 20 and (folder / "manifest.csv").is_file()
    schema = dicom_tiles_schema()
    data, report = schema.conform(read_image_folder(folder, schema))
    assert report.n_images == 20 and report.n_units == 2 and report.clipped_pixels == 0
    assert data.static["modality"].value_counts().to_dict() == {"CT": 16, "MR": 4}
    assert data.static.groupby("subject")["modality"].nunique().max() == 1
    ct = pydicom.dcmread(files["CT_small.dcm"])
    hu = ct.pixel_array * float(ct.RescaleSlope) + float(ct.RescaleIntercept)  # the reader applies the rescale
    images = _by_id(data)
    assert np.array_equal(images["CT_small_y0032_x0064"][..., 0], hu[32:64, 64:96])
    mr = pydicom.dcmread(files["MR_small.dcm"]).pixel_array
    assert np.array_equal(images["MR_small_y0032_x0000"][..., 0], mr[32:64, 0:32])
    assert data.images[data.static["modality"].to_numpy() == "CT"].min() < -800  # air in HU, not stored values
    uids = {str(pydicom.dcmread(p).SOPInstanceUID) for p in folder.glob("*.dcm")}
    assert len(uids) == 20
    with pytest.raises(DpsynthError, match="not an empty folder"):
        write_dicom_tiles(folder)


# --------------------------------------------------------------------- fundus_cohort
def test_cohort_conforms_to_schema_with_no_clips(fundus):
    schema = fundus_cohort_schema()
    conformed, report = schema.conform(fundus)
    assert report.n_units == N_SUBJECTS and 1400 < report.n_images < 1600 and report.clipped_pixels == 0
    assert list(fundus.static.columns) == ["image", "subject", "sex", "age", "site", "lesion"]
    assert fundus.images.shape[1:] == (32, 32, 1) and fundus.images.dtype == np.float32
    assert np.array_equal(fundus.images, np.rint(fundus.images))  # 8-bit grey levels
    assert 0 <= fundus.images.min() and fundus.images.max() <= 255
    per_subject = fundus.static["subject"].value_counts()
    assert per_subject.min() == 1 and per_subject.max() == 3
    assert set(conformed.static.columns) == set(fundus.static.columns)


def test_cohort_is_marked_simulated(fundus):
    assert fundus.static.attrs["simulated"] is True
    assert fundus.static.attrs["dataset"] == "fundus_cohort" and fundus.static.attrs["seed"] == 0
    assert "SIMULATED" in fundus.static.attrs["note"] and "SIMULATED" in mod.__doc__
    assert fundus.static["subject"].str.startswith("sim").all()
    text = (mod.resources.files("dpsynth.data") / mod.COHORT_SCHEMA_RESOURCE).read_text()
    assert text.startswith("# SIMULATED DATA.")


def test_cohort_is_deterministic_per_seed_and_differs_across_seeds(skimage):
    a, b, c = (load_fundus_cohort(40, seed=s) for s in (7, 7, 8))
    pd.testing.assert_frame_equal(a.static, b.static)
    assert np.array_equal(a.images, b.images)
    assert not a.static.equals(c.static)
    assert not np.array_equal(a.images[:1], c.images[:1])


def test_bad_n_subjects_is_a_clear_error(skimage):
    for bad in (0, 1, 2.5, True, "10", 1402):
        with pytest.raises(ValueError, match="n_subjects"):
            load_fundus_cohort(bad)


def test_subjects_have_their_own_background_and_distinct_views(cohort):
    data, latent = cohort
    cells = latent.groupby(data.static["subject"])["cell"]
    assert (cells.nunique() == 1).all() and cells.first().is_unique  # no two subjects share a pixel
    assert (latent.groupby(data.static["subject"])["symmetry"].nunique()
            == data.static["subject"].value_counts().sort_index()).all()
    rgb, corners = mod._retina_grid()
    row = latent.iloc[0]
    assert (corners[row["cell"]] == (row["cell_y"], row["cell_x"])).all()


def test_prevalence_depends_on_age_band_and_site_as_documented(fundus):
    schema = fundus_cohort_schema()
    subjects = _subjects(fundus.static)
    band = _age_band(subjects, schema)
    assert list(schema.sensitive[1].bins) == list(AGE_BINS) and list(schema.sensitive[1].labels) == list(AGE_LABELS)
    yes = subjects["lesion"] == "yes"
    expected = band.map(PREVALENCE_BY_AGE_BAND).astype(float) + SITE_B_EXTRA_PREVALENCE * (subjects["site"] == "B")
    for label in AGE_LABELS:
        for site in ("A", "B"):
            cell = (band == label) & (subjects["site"] == site)
            p = expected[cell].iloc[0]
            assert cell.sum() > 50
            assert abs(yes[cell].mean() - p) < 3.5 * np.sqrt(p * (1 - p) / cell.sum())  # binomial error
    for groups, high, low in ((band, "70+", "18-49"), (subjects["site"], "B", "A")):
        hi, lo = yes[groups == high], yes[groups == low]
        documented = expected[groups == high].mean() - expected[groups == low].mean()
        assert documented > 0.09  # 0.10 within each band (site), 0.25 (age band)
        assert abs(hi.mean() - lo.mean() - documented) < 3.5 * np.sqrt(hi.var() / len(hi) + lo.var() / len(lo))
    # sex is a null control: no simulated effect on the prevalence
    female, male = yes[subjects["sex"] == "female"], yes[subjects["sex"] == "male"]
    assert abs(female.mean() - male.mean()) < 3.5 * np.sqrt(female.var() / len(female) + male.var() / len(male))
    assert 0.33 < (subjects["site"] == "B").mean() < 0.47 and 0.43 < (subjects["sex"] == "female").mean() < 0.57


def _dot_score(images: np.ndarray) -> np.ndarray:
    """A difference-of-Gaussians dark-dot detector: the strongest dot response inside each image."""
    x = images[..., 0].astype(np.float64)
    dog = gaussian_filter(x, (0, 3, 3)) - gaussian_filter(x, (0, 1, 1))
    return dog[:, 3:-3, 3:-3].reshape(len(x), -1).max(axis=1)


def test_lesions_are_visible_and_fainter_at_site_b(cohort):
    data, latent = cohort
    positive = (data.static["lesion"] == "yes").to_numpy()
    assert latent.loc[positive, "n_lesions"].between(1, 3).all() and (latent.loc[~positive, "n_lesions"] == 0).all()
    score = _dot_score(data.images)
    auc = {}
    for site in ("A", "B"):
        rows = (data.static["site"] == site).to_numpy()
        auc[site] = roc_auc_score(positive[rows], score[rows])
    assert auc["A"] > 0.97 and auc["B"] > 0.8  # about 0.99 and 0.90
    assert auc["A"] - auc["B"] > 0.04


def test_site_b_has_a_measurable_acquisition_shift(fundus):
    x = fundus.images[..., 0].astype(np.float64)
    smooth = gaussian_filter(x, (0, 2, 2))
    contrast = smooth.std(axis=(1, 2))         # structure, noise smoothed away
    brightness = x.mean(axis=(1, 2))
    noise = (x - gaussian_filter(x, (0, 1, 1))).std(axis=(1, 2))
    static = fundus.static

    def median(values, column, group):
        return np.median(values[(static[column] == group).to_numpy()])

    assert median(contrast, "site", "B") < 0.7 * median(contrast, "site", "A")  # CONTRAST 0.6 (and blur)
    assert 0.78 < median(brightness, "site", "B") / median(brightness, "site", "A") < 0.92  # BRIGHTNESS 0.85
    assert median(noise, "site", "B") > 1.5 * median(noise, "site", "A")  # NOISE_SD 5 vs 2
    site_b = (static["site"] == "B").to_numpy()
    assert roc_auc_score(site_b, noise) > 0.95
    # sex has no simulated acquisition effect
    assert 0.95 < median(brightness, "sex", "female") / median(brightness, "sex", "male") < 1.05
    assert 0.85 < median(noise, "sex", "female") / median(noise, "sex", "male") < 1.15


# ------------------------------------------------------------------------------ split
def test_cohort_split_is_by_subject_stratified_disjoint_and_complete(fundus):
    train, holdout = split_fundus_cohort(fundus, seed=0, holdout_fraction=0.3)
    train_ids, holdout_ids = set(train.static["subject"]), set(holdout.static["subject"])
    assert not train_ids & holdout_ids and train_ids | holdout_ids == set(fundus.static["subject"])
    assert len(holdout_ids) == pytest.approx(0.3 * N_SUBJECTS, abs=1)
    assert len(train) + len(holdout) == len(fundus)
    original = _by_id(fundus)
    for part in (train, holdout):
        assert all(np.array_equal(image, original[i]) for i, image in _by_id(part).items())
        assert part.static.attrs["simulated"] is True and isinstance(part.static.index, pd.RangeIndex)
        order = fundus.static["image"][fundus.static["image"].isin(part.static["image"])].tolist()
        assert part.static["image"].tolist() == order  # the images' order is kept
    rate = (_subjects(fundus.static)["lesion"] == "yes").mean()
    for part in (train, holdout):
        assert abs((_subjects(part.static)["lesion"] == "yes").mean() - rate) < 0.005
    again, other = split_fundus_cohort(fundus, seed=0)[1], split_fundus_cohort(fundus, seed=1)[1]
    assert again.static.equals(holdout.static) and not other.static.equals(holdout.static)


def test_split_images_stratifies_subjects_by_their_most_frequent_label():
    static = pd.DataFrame({"image": [f"i{k}" for k in range(12)],
                           "patient": ["p1", "p1", "p1", "p2", "p2", "p3", "p4", "p4", "p5", "p6", "p6", "p6"],
                           "label": ["1", "1", "0", "0", "0", "1", "1", "0", "0", "1", "0", "0"]})
    data = ImageData(static, np.arange(12, dtype=np.float32).reshape(12, 1, 1, 1))
    train, holdout = split_images(data, outcome="label", subject_id="patient", seed=0, holdout_fraction=0.5)
    # subject strata: p1 "1", p2 "0", p3 "1", p4 "0" (tie -> first sorted), p5 "0", p6 "0"
    assert sorted(set(holdout.static["patient"]) | set(train.static["patient"])) == ["p1", "p2", "p3", "p4", "p5",
                                                                                      "p6"]
    for part in (train, holdout):
        assert part.images[:, 0, 0, 0].tolist() == [int(i[1:]) for i in part.static["image"]]
        assert len({"p1", "p3"} & set(part.static["patient"])) == 1  # the two "1" subjects are split
    with pytest.raises(ValueError, match="no target column 'outcome'"):
        split_images(data, outcome="outcome")
    with pytest.raises(ValueError, match="no subject id column 'subject'"):
        split_images(data, outcome="label", subject_id="subject")
    with pytest.raises(ValueError, match="2 static row"):
        split_images(ImageData(static.iloc[:2], data.images), outcome="label")


# ----------------------------------------------------------------------------- schemas
@pytest.mark.parametrize("load", [digits_schema, retina_tiles_schema, ihc_tiles_schema, fundus_cohort_schema,
                                  dicom_tiles_schema])
def test_schemas_are_public_and_round_trip(load, tmp_path):
    schema = load()
    assert schema.not_public() == [] and schema.image_id == "image"
    for name in ("copy.yaml", "copy.json"):
        again = ImageSchema.load(schema.save(tmp_path / name))
        assert again.to_dict() == schema.to_dict() and again.fingerprint() == schema.fingerprint()


def test_cohort_schema_content():
    schema = fundus_cohort_schema()
    assert schema.shape == (32, 32, 1) and schema.pixel_range == (0.0, 255.0) and schema.out_of_bounds == "clip"
    assert schema.target == "lesion" and schema.positive == "yes" and schema.subject_id == "subject"
    assert [a.name for a in schema.sensitive] == ["sex", "age_band", "site"]

"""Image data sets that install offline: digits, real medical tiles, real DICOM slices and a SIMULATED cohort.

No labelled medical image set ships in any package found (``../shared/DATA.md``), and
nothing may be downloaded at run time, so this module offers four things:

**digits (labelled, not medical).** `load_digits_images` returns scikit-learn's
``load_digits`` (BSD-3; the UCI "Optical Recognition of Handwritten Digits" test set):
1,797 grey 8 x 8 images with whole pixel values in [0, 16] (counts of set pixels in 4 x 4
blocks of a 32 x 32 bitmap), label ``digit`` "0".."9" (174-183 images each). It is the
offline stand-in for the MNIST benchmarks DP image papers report (TSTR accuracy is the
10-class headline). It has NO subject id (each image is its own privacy unit; the
release does not say which of its 13 writers drew which digit) and NO real attributes,
so it has no sensitive attributes and no fairness audit. The schema's ``positive`` is
"8": binary metrics (AUC, one-vs-rest) are computed for "8 vs the rest". Any digit is an
arbitrary choice; "8" is the one most often confused with others (with 1, 3 and 9) by a
linear classifier, so its one-vs-rest AUC (about 0.99) is the least saturated, while
"0 vs rest" is 0.9999 and would tell nothing.

**Real medical tiles (unlabelled, for fidelity).** `load_retina_tiles` and
`load_ihc_tiles` cut a fixed, non-overlapping grid of 32 x 32 RGB tiles (`TILE`) out of
two real medical images that scikit-image ships inside its wheel (so they load offline;
scikit-image is an optional package, ``pip install 'dpsynth[demo]'``):
``skimage.data.retina()`` (a fundus photograph of a normal left eye, 1411 x 1411 x 3,
CC0, Häggström 2014) and ``skimage.data.immunohistochemistry()`` (colonic glands, IHC
stain for FHL2 with haematoxylin counterstain, 512 x 512 x 3, CMMI, "no known copyright
restrictions"). Each tile is a distinct region of its source (no two tiles share a
pixel). The retina grid is centred on the image (44 x 44 cells, 1 pixel margin) and
keeps only the cells that lie wholly inside the fundus (every pixel's channel sum
> `FUNDUS_THRESHOLD`): 1,401 tiles. The IHC grid is the full 16 x 16: 256 tiles. Pixels
are whole numbers in [0, 255] (8-bit). These images carry no label; the schemas need a
target, so the target is the bookkeeping label ``region``: the quadrant of the source
image holding the tile's centre ("upper-left", "upper-right", "lower-left",
"lower-right"; positive "upper-left", arbitrary). It is a position, not a finding: use
these sets for fidelity (Fréchet distance, precision/recall, detection AUC) and
class-conditional sampling, not for a clinical utility claim. Tile ids name the source
and the tile's top-left pixel, e.g. ``retina_y0097_x0641``.

Also in the scikit-image wheel and loading offline: ``microaneurysms()`` (a 102 x 102
grey crop of a diabetic fundus, CC0: only 9 tiles of 32 x 32) and ``cell()`` (one cell
in a 660 x 550 quantitative phase image, CC0: mostly background banding). They are too
small or too uniform to tile into a set and are not loaded here. Every other
``skimage.data`` medical image (``human_mitosis``, ``kidney``, ``skin``, ``brain``,
``cells3d``, ...) is fetched by pooch at run time and fails offline.

**DICOM (real slices).** `dicom_test_files` locates pydicom's real ``CT_small.dcm``
(128 x 128 CT) and ``MR_small.dcm`` (64 x 64 MR), always with ``download=False``
(``download=True`` retries a network fetch for minutes here). `write_dicom_tiles` writes a
small folder of 20 DICOM files cut from them (32 x 32 tiles, original headers) with a CSV
manifest (``schemas/dicom_tiles.yaml``: target ``modality`` CT/MR, subject = the file's
Patient ID), which `dpsynth.images.io.read_image_folder` reads back (pixels in HU for the
CT after Rescale Slope/Intercept). It exercises the DICOM path; it is too small to train on.

**fundus_cohort (SIMULATED cohort on a real fundus photograph).** For the utility and
fairness paths. `load_fundus_cohort` builds a documented, seeded, **simulated** cohort of
``n_subjects`` (default 750, about 1,500 images) of grey 32 x 32 tiles (the green channel,
where retinal lesions show best) of the real retina photograph above:

- per subject: ``sex`` female/male (50/50), ``age`` a whole number uniform in 18-90
  (sensitive band ``age_band`` 18-49 / 50-69 / 70+), ``site`` A/B (the acquisition site;
  B with probability 0.4), and 1, 2 or 3 images (uniform): every image of a subject is
  one privacy unit (``subject_id: subject``);
- the label ``lesion`` ("yes"/"no", per subject: all of a subject's images carry it)
  with subgroup-dependent prevalence: `PREVALENCE_BY_AGE_BAND` (0.15 / 0.25 / 0.40) plus
  `SITE_B_EXTRA_PREVALENCE` (+0.10) at site B; sex changes neither prevalence nor
  acquisition (a null control for the audit);
- background: each subject gets its own fundus grid cell (drawn without replacement from
  the 1,401 cells of `load_retina_tiles`, green channel), so no two subjects share a
  pixel of the photograph and a subject-level split leaks no background; a subject's
  images are distinct rotations/flips of that cell (distinct elements of the 8
  symmetries of the square);
- the label VISIBLE in the image: a positive image holds 1-3 microaneurysm-like dark
  dots (`LESIONS_PER_IMAGE`), each a Gaussian darkening ``x *= 1 - depth exp(-r^2 /
  2 s^2)`` with ``s`` uniform in `LESION_SIGMA` (1.0-1.8 px) and ``depth`` uniform in
  `LESION_DEPTH` (0.25-0.5), its centre uniform at least `LESION_MARGIN` (4 px) from the
  border; negative images hold none (the photograph's own vessels, dark too, remain);
- the site-B ACQUISITION SHIFT, applied after the lesions: contrast reduced around the
  image mean (x `CONTRAST` 0.6), brightness scaled (x `BRIGHTNESS` 0.85), a Gaussian
  blur (sigma `BLUR_SIGMA` 1.0 px) and stronger sensor noise (sd `NOISE_SD` 5 vs 2 grey
  levels at site A); so lesions are fainter at site B and a classifier does worse there;
- finally pixels are rounded to whole grey levels and clipped to [0, 255] (8-bit), so
  ``conform`` clips nothing.

How visible the label is (seed 0, 750 subjects, 1,515 images): a fixed difference-of-
Gaussians dark-dot detector (no training) separates positive from negative images with
AUC about 0.99 at site A and 0.90 at site B; at site B the median image is about 0.84 x
as bright, its smoothed structure about half as contrasted, and its fine-scale noise about
2.2 x as strong as at site A (the tests check these with margins).

Every constant is at the top of this module. Generation is vectorised (well under a
second once the photograph is decoded) and deterministic for ``(n_subjects, seed)``. The
static table says it is simulated: ``data.static.attrs["simulated"] is True`` (with
``attrs["dataset"] == "fundus_cohort"``, ``attrs["seed"]`` and ``attrs["note"]`` =
`SIMULATED_NOTE`); subject ids start with "sim"; the split keeps the attrs and the
packaged schema (``schemas/fundus_cohort.yaml``) says so in its header.
`simulate_fundus_cohort` also returns the latent per-image values (grid cell, symmetry,
lesion count, noise sd) for tests and benchmarks; they are not part of the data set.

`split_images` splits any `ImageData` into (train, holdout), stratified on the target and,
when a subject id is given, by SUBJECT: every image of a subject lands in one part.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from dpsynth.data.survset import split_stratified
from dpsynth.errors import DpsynthError
from dpsynth.images.schema import ImageData, ImageSchema
from dpsynth.images.skimage_data import SKIMAGE_CHANGED, skimage_image
from dpsynth.optional import require
from dpsynth.schema import canonical_category

# --------------------------------------------------------------------------- digits
DIGITS_TARGET = "digit"
DIGITS_POSITIVE = "8"
DIGITS_IMAGE_ID = "image"
DIGITS_SOURCE = ("scikit-learn load_digits (BSD-3): UCI Optical Recognition of Handwritten Digits, test part "
                 "(1,797 images, 8 x 8, values 0-16); not medical")
DIGITS_SCHEMA_RESOURCE = "schemas/digits.yaml"

# ---------------------------------------------------------------------------- tiles
TILE = 32                                      # tile height and width (pixels)
IMAGE_ID = "image"
REGION = "region"                              # bookkeeping target of the tile sets
REGIONS = ("upper-left", "upper-right", "lower-left", "lower-right")
FUNDUS_THRESHOLD = 30                          # a retina pixel is fundus if R+G+B > this (the rest is black)
RETINA_SOURCE = ("scikit-image data.retina(): fundus photograph of a normal left eye (Häggström 2014, CC0), "
                 "1411 x 1411 RGB")
IHC_SOURCE = ("scikit-image data.immunohistochemistry(): colonic glands, IHC (FHL2, DAB) with haematoxylin, "
              "CMMI, no known copyright restrictions, 512 x 512 RGB")
RETINA_SCHEMA_RESOURCE = "schemas/retina_tiles.yaml"
IHC_SCHEMA_RESOURCE = "schemas/ihc_tiles.yaml"

# ---------------------------------------------------------------------------- DICOM
DICOM_FILES = ("CT_small.dcm", "MR_small.dcm")
DICOM_SCHEMA_RESOURCE = "schemas/dicom_tiles.yaml"
DICOM_FOLDER_IN_USE = "cannot write DICOM tiles into '{path}': it exists and is not an empty folder"
DICOM_PURPOSE = "the DICOM tiles (pydicom's real test slices)"
DICOM_MISSING = ("pydicom's test file {name!r} was not found in the installed pydicom (it is read with "
                 "download=False; dpsynth never downloads it); reinstall pydicom >= 3.0")

# ----------------------------------------------------------- fundus_cohort: simulation
N_SUBJECTS = 750
IMAGES_PER_SUBJECT = (1, 3)                    # whole number, uniform, both ends included
FEMALE_SHARE = 0.5
AGE_RANGE = (18, 90)                           # whole years, uniform, both ends included
AGE_BINS = (18, 50, 70, 90)                    # sensitive band edges (last band closed)
AGE_LABELS = ("18-49", "50-69", "70+")
SITE_B_SHARE = 0.4
PREVALENCE_BY_AGE_BAND = {"18-49": 0.15, "50-69": 0.25, "70+": 0.40}  # P(lesion) at site A
SITE_B_EXTRA_PREVALENCE = 0.10                 # added at site B
LESIONS_PER_IMAGE = (1, 3)                     # dots in a positive image, uniform, both ends included
LESION_SIGMA = (1.0, 1.8)                      # Gaussian radius (pixels), uniform
LESION_DEPTH = (0.25, 0.5)                    # fraction of the intensity removed at the centre, uniform
LESION_MARGIN = 4                              # dot centres keep this far from the border (pixels)
CONTRAST = {"A": 1.0, "B": 0.6}                # contrast around the image mean, by site
BRIGHTNESS = {"A": 1.0, "B": 0.85}             # brightness factor, by site
BLUR_SIGMA = {"A": 0.0, "B": 1.0}              # Gaussian blur (pixels), by site
NOISE_SD = {"A": 2.0, "B": 5.0}                # sensor noise (grey levels), by site
PIXEL_RANGE = (0.0, 255.0)

COHORT_OUTCOME = "lesion"
COHORT_POSITIVE = "yes"
SUBJECT = "subject"
COHORT_SCHEMA_RESOURCE = "schemas/fundus_cohort.yaml"
SIMULATED_NOTE = (
    "SIMULATED cohort (dpsynth.data.image_sets): demographics, sites, labels, lesions, acquisition shift and "
    "noise are simulated; the only real pixels are 32 x 32 tiles of one fundus photograph (scikit-image "
    "data.retina, green channel). Not patient data; report results on it as simulated."
)
BAD_N_SUBJECTS = "n_subjects must be a whole number from 2 to {most} (the fundus grid cells) (got {value!r})"

# ---------------------------------------------------------------------------- split
NO_OUTCOME_COLUMN = "the static table has no target column '{column}' (columns: {found!r})"
NO_SUBJECT_COLUMN = "the static table has no subject id column '{column}' (columns: {found!r})"
MISSING_SUBJECTS = "subject id column '{column}' has {count} missing value(s); every image needs its subject"
IMAGE_ROWS = "there are {n_images} image(s) but {n_rows} static row(s); give one row per image, in order"


# =========================================================================== digits
def load_digits_images() -> ImageData:
    """scikit-learn's digits as `ImageData`: static ``image`` ("digit0000".."digit1796") and
    ``digit`` ("0".."9"); images float32 ``[1797, 8, 8, 1]`` with whole values in [0, 16].

    No subject id and no attributes (see the module docstring). Fresh arrays each call.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float32)[..., None]
    static = pd.DataFrame({DIGITS_IMAGE_ID: [f"digit{i:04d}" for i in range(len(images))],
                           DIGITS_TARGET: np.asarray(bunch.target).astype(str).astype(object)})
    static.attrs.update(simulated=False, dataset="digits", source=DIGITS_SOURCE)
    return ImageData(static, images)


def digits_schema() -> ImageSchema:
    """The shipped public schema of `load_digits_images` (``dpsynth/data/schemas/digits.yaml``)."""
    return load_image_schema(DIGITS_SCHEMA_RESOURCE)


def split_digits(data: ImageData, *, seed: int = 0, holdout_fraction: float = 0.3) -> tuple[ImageData, ImageData]:
    """Split digits into (train, holdout), stratified on ``digit`` (each image is its own unit)."""
    return split_images(data, outcome=DIGITS_TARGET, seed=seed, holdout_fraction=holdout_fraction)


# ============================================================================ tiles
def tile_grid(image: np.ndarray, *, size: int = TILE, origin: tuple[int, int] = (0, 0),
              keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``image`` ``[H, W]`` or ``[H, W, C]`` into a non-overlapping grid of ``size x size`` tiles.

    The grid starts at pixel ``origin`` (row, column) and holds every whole cell that fits.
    ``keep`` (a boolean ``[H, W]`` mask) keeps only the cells whose pixels are all True.
    Returns ``(tiles [n, size, size, C], corners [n, 2])``: the tiles in row-major grid
    order and the (row, column) of each tile's top-left pixel. No two tiles share a pixel.
    """
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    y0, x0 = origin
    rows, cols = (array.shape[0] - y0) // size, (array.shape[1] - x0) // size
    block = array[y0:y0 + rows * size, x0:x0 + cols * size]
    tiles = block.reshape(rows, size, cols, size, -1).transpose(0, 2, 1, 3, 4)
    corners = np.stack(np.meshgrid(y0 + size * np.arange(rows), x0 + size * np.arange(cols), indexing="ij"), -1)
    if keep is None:
        inside = np.ones((rows, cols), dtype=bool)
    else:
        mask = np.asarray(keep, dtype=bool)[y0:y0 + rows * size, x0:x0 + cols * size]
        inside = mask.reshape(rows, size, cols, size).all(axis=(1, 3))
    return tiles[inside].copy(), corners[inside].copy()


def load_retina_tiles() -> ImageData:
    """1,401 RGB 32 x 32 tiles of the real fundus photograph (cells wholly inside the fundus).

    Static ``image`` (e.g. "retina_y0097_x0641": the tile's top-left pixel) and ``region``
    (the source quadrant; a bookkeeping target, see the module docstring); images float32
    ``[n, 32, 32, 3]`` with whole values in [0, 255]. Needs scikit-image.
    """
    tiles, corners = _retina_grid()
    return _tile_data("retina", tiles, corners, skimage_image("retina").shape, RETINA_SOURCE)


def load_ihc_tiles() -> ImageData:
    """256 RGB 32 x 32 tiles (the full 16 x 16 grid) of the real immunohistochemistry image.

    Same layout as `load_retina_tiles` (ids "ihc_y0000_x0032", target ``region``). Needs scikit-image.
    """
    image = skimage_image("immunohistochemistry")
    tiles, corners = tile_grid(image, size=TILE)
    return _tile_data("ihc", tiles, corners, image.shape, IHC_SOURCE)


def retina_tiles_schema() -> ImageSchema:
    """The shipped public schema of `load_retina_tiles` (``dpsynth/data/schemas/retina_tiles.yaml``)."""
    return load_image_schema(RETINA_SCHEMA_RESOURCE)


def ihc_tiles_schema() -> ImageSchema:
    """The shipped public schema of `load_ihc_tiles` (``dpsynth/data/schemas/ihc_tiles.yaml``)."""
    return load_image_schema(IHC_SCHEMA_RESOURCE)


def split_tiles(data: ImageData, *, seed: int = 0, holdout_fraction: float = 0.3) -> tuple[ImageData, ImageData]:
    """Split a tile set into (train, holdout), stratified on ``region`` (each tile is its own unit)."""
    return split_images(data, outcome=REGION, seed=seed, holdout_fraction=holdout_fraction)


def quadrant(corners: np.ndarray, image_shape: tuple[int, ...], *, size: int = TILE) -> np.ndarray:
    """The `REGIONS` label of each tile: the quadrant of the source image that holds its centre."""
    centre = np.asarray(corners, dtype=np.float64) + size / 2
    lower = centre[:, 0] >= image_shape[0] / 2
    right = centre[:, 1] >= image_shape[1] / 2
    return np.asarray(REGIONS, dtype=object)[2 * lower + right]


def _tile_data(source: str, tiles: np.ndarray, corners: np.ndarray, image_shape: tuple[int, ...],
               note: str) -> ImageData:
    static = pd.DataFrame({IMAGE_ID: [f"{source}_y{y:04d}_x{x:04d}" for y, x in corners],
                           REGION: quadrant(corners, image_shape)})
    static.attrs.update(simulated=False, dataset=f"{source}_tiles", source=note)
    return ImageData(static, tiles.astype(np.float32))


def _retina_grid() -> tuple[np.ndarray, np.ndarray]:
    """The retina's fundus grid: RGB tiles (uint8, read-only) and their top-left corners."""
    return _retina_grid_cached()


@lru_cache(maxsize=1)
def _retina_grid_cached() -> tuple[np.ndarray, np.ndarray]:
    image = skimage_image("retina")
    if image.ndim != 3 or image.shape[2] != 3:
        raise DpsynthError(SKIMAGE_CHANGED.format(name="retina", problem=f"shape {image.shape}"))
    margin = tuple((n % TILE) // 2 for n in image.shape[:2])  # centre the grid (1411 = 44 * 32 + 3)
    fundus = image.astype(np.int64).sum(axis=2) > FUNDUS_THRESHOLD
    tiles, corners = tile_grid(image, size=TILE, origin=margin, keep=fundus)
    tiles.flags.writeable = False
    corners.flags.writeable = False
    return tiles, corners


# ============================================================================ DICOM
def write_dicom_tiles(folder: str | Path, *, size: int = TILE) -> Path:
    """Write pydicom's two real slices, cut into ``size x size`` tiles, as DICOM files plus ``manifest.csv``.

    ``CT_small.dcm`` (128 x 128 CT) gives 16 tiles of 32 x 32, ``MR_small.dcm`` (64 x 64
    MR) 4. Each tile is a copy of its source file (same header: patient, modality, Rescale
    Slope/Intercept) with its own pixel data, size and a deterministic new SOP Instance
    UID. The manifest has one row per file: ``file`` (name in the folder), ``image``
    ("CT_small_y0000_x0032"), ``subject`` (the file's Patient ID: the tiles of one slice
    are one patient), ``sex`` (Patient Sex as recorded: "O" for the CT, "F" for the MR)
    and ``modality`` ("CT"/"MR", the target of ``schemas/dicom_tiles.yaml``). The folder
    is created; it must be new or empty. Returns the folder.
    """
    pydicom = require("pydicom", extra="images", purpose=DICOM_PURPOSE)
    generate_uid = require("pydicom.uid", extra="images", purpose=DICOM_PURPOSE).generate_uid

    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise DpsynthError(DICOM_FOLDER_IN_USE.format(path=folder))
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, path in dicom_test_files().items():
        source = pydicom.dcmread(path)
        stored = source.pixel_array  # stored values: the reader applies Rescale Slope/Intercept
        tiles, corners = tile_grid(stored, size=size)
        stem = name.removesuffix(".dcm")
        for tile, (y, x) in zip(tiles, corners):
            image_id = f"{stem}_y{y:04d}_x{x:04d}"
            ds = source.copy()
            ds.Rows, ds.Columns = size, size
            ds.PixelData = np.ascontiguousarray(tile[..., 0], dtype=stored.dtype).tobytes()
            for keyword in ("SmallestImagePixelValue", "LargestImagePixelValue"):
                if keyword in ds:
                    delattr(ds, keyword)
            uid = generate_uid(entropy_srcs=[str(source.SOPInstanceUID), image_id])
            ds.SOPInstanceUID = uid
            ds.file_meta.MediaStorageSOPInstanceUID = uid
            file = f"{image_id}.dcm"
            ds.save_as(folder / file)
            rows.append({"file": file, IMAGE_ID: image_id, SUBJECT: str(source.PatientID),
                         "sex": str(source.PatientSex), "modality": str(source.Modality)})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return folder


def dicom_tiles_schema() -> ImageSchema:
    """The shipped public schema of `write_dicom_tiles`' folder (``dpsynth/data/schemas/dicom_tiles.yaml``)."""
    return load_image_schema(DICOM_SCHEMA_RESOURCE)


def dicom_test_files() -> dict[str, str]:
    """Paths of pydicom's real test slices, ``{"CT_small.dcm": path, "MR_small.dcm": path}``.

    Looked up with ``download=False`` only (dpsynth never downloads them); a clear
    `DpsynthError` if the installed pydicom lacks one.
    """
    get_testdata_file = require("pydicom.data", extra="images", purpose=DICOM_PURPOSE).get_testdata_file

    out = {}
    for name in DICOM_FILES:
        path = get_testdata_file(name, download=False)  # never download=True: it hangs offline
        if not path:
            raise DpsynthError(DICOM_MISSING.format(name=name))
        out[name] = str(path)
    return out


# ==================================================================== fundus_cohort
@dataclass(frozen=True)
class _Site:
    contrast: np.ndarray
    brightness: np.ndarray
    blur: np.ndarray
    noise: np.ndarray


def simulate_fundus_cohort(n_subjects: int = N_SUBJECTS, *, seed: int = 0) -> tuple[ImageData, pd.DataFrame]:
    """The SIMULATED fundus cohort (see the module docstring) and its latent per-image values.

    Returns ``(data, latent)``: ``data`` as `load_fundus_cohort` returns it; ``latent`` one
    row per image (same order) with ``image``, ``cell`` (index of the fundus grid cell),
    ``cell_y``/``cell_x`` (its top-left pixel in the photograph), ``symmetry`` (0-7:
    ``k`` quarter turns, flipped if >= 4), ``n_lesions`` and ``noise_sd``. Deterministic
    for ``(n_subjects, seed)``. Needs scikit-image (the photograph).
    """
    rgb, corners = _retina_grid()
    most = len(rgb)
    if isinstance(n_subjects, bool) or not isinstance(n_subjects, numbers.Integral) or not 2 <= n_subjects <= most:
        raise ValueError(BAD_N_SUBJECTS.format(most=most, value=n_subjects))
    n = int(n_subjects)
    green = rgb[..., 1].astype(np.float64)  # [cells, 32, 32]
    rng = np.random.default_rng(seed)

    # per subject: attributes, label, background cell, number of images
    sex = np.where(rng.random(n) < FEMALE_SHARE, "female", "male").astype(object)
    age = rng.integers(AGE_RANGE[0], AGE_RANGE[1] + 1, n)
    site = np.where(rng.random(n) < SITE_B_SHARE, "B", "A").astype(object)
    band = np.clip(np.digitize(age, AGE_BINS[1:-1]), 0, len(AGE_LABELS) - 1)
    prevalence = np.asarray([PREVALENCE_BY_AGE_BAND[label] for label in AGE_LABELS])[band] \
        + SITE_B_EXTRA_PREVALENCE * (site == "B")
    lesion = rng.random(n) < prevalence
    cell = rng.choice(most, size=n, replace=False)
    counts = rng.integers(IMAGES_PER_SUBJECT[0], IMAGES_PER_SUBJECT[1] + 1, n)
    # distinct symmetries within a subject: the first counts[s] of a random permutation of 0..7
    symmetries = np.argsort(rng.random((n, 8)), axis=1)

    # per image
    owner = np.repeat(np.arange(n), counts)
    k = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)  # image number within subject
    symmetry = symmetries[owner, k]
    m = len(owner)
    images = green[cell[owner]]
    for s in range(8):  # rot90 k times, then a transpose-like flip for s >= 4
        rows = symmetry == s
        if rows.any():
            turned = np.rot90(images[rows], k=s % 4, axes=(1, 2))
            images[rows] = turned[:, :, ::-1] if s >= 4 else turned

    # lesions: up to LESIONS_PER_IMAGE[1] Gaussian dots per image, the unused ones with depth 0
    most_dots = LESIONS_PER_IMAGE[1]
    n_dots = np.where(lesion[owner], rng.integers(LESIONS_PER_IMAGE[0], most_dots + 1, m), 0)
    centre = rng.uniform(LESION_MARGIN, TILE - LESION_MARGIN, (m, most_dots, 2))
    sigma = rng.uniform(*LESION_SIGMA, (m, most_dots))
    depth = rng.uniform(*LESION_DEPTH, (m, most_dots)) * (np.arange(most_dots) < n_dots[:, None])
    grid = np.arange(TILE) + 0.5
    dy = grid[None, None, :, None] - centre[:, :, 0, None, None]
    dx = grid[None, None, None, :] - centre[:, :, 1, None, None]
    dots = depth[..., None, None] * np.exp(-(dy ** 2 + dx ** 2) / (2 * sigma[..., None, None] ** 2))
    images *= np.prod(1.0 - dots, axis=1)

    # the site's acquisition: contrast, brightness, blur, noise; then 8-bit
    acq = _site_params(site[owner])
    mean = images.mean(axis=(1, 2), keepdims=True)
    images = (mean + acq.contrast[:, None, None] * (images - mean)) * acq.brightness[:, None, None]
    blurred = acq.blur > 0
    if blurred.any():
        from scipy.ndimage import gaussian_filter
        for sd in np.unique(acq.blur[blurred]):
            rows = acq.blur == sd
            images[rows] = gaussian_filter(images[rows], sigma=(0, sd, sd), mode="reflect")
    images += acq.noise[:, None, None] * rng.standard_normal(images.shape)
    images = np.clip(np.rint(images), *PIXEL_RANGE).astype(np.float32)[..., None]

    subjects = np.asarray([f"sim{i:04d}" for i in range(n)], dtype=object)
    image_ids = [f"{subjects[s]}_{j + 1}" for s, j in zip(owner, k)]
    static = pd.DataFrame({IMAGE_ID: image_ids, SUBJECT: subjects[owner], "sex": sex[owner], "age": age[owner],
                           "site": site[owner],
                           COHORT_OUTCOME: np.where(lesion[owner], COHORT_POSITIVE, "no").astype(object)})
    static.attrs.update(simulated=True, dataset="fundus_cohort", seed=seed, note=SIMULATED_NOTE)
    latent = pd.DataFrame({IMAGE_ID: image_ids, "cell": cell[owner], "cell_y": corners[cell[owner], 0],
                           "cell_x": corners[cell[owner], 1], "symmetry": symmetry, "n_lesions": n_dots,
                           "noise_sd": acq.noise})
    return ImageData(static, images), latent


def _site_params(site: np.ndarray) -> _Site:
    def per(table: dict[str, float]) -> np.ndarray:
        return np.asarray([table[s] for s in site], dtype=np.float64)
    return _Site(per(CONTRAST), per(BRIGHTNESS), per(BLUR_SIGMA), per(NOISE_SD))


def load_fundus_cohort(n_subjects: int = N_SUBJECTS, *, seed: int = 0) -> ImageData:
    """The SIMULATED fundus cohort: static ``image, subject, sex, age, site, lesion``; images float32
    ``[n, 32, 32, 1]`` (green channel, whole grey levels in [0, 255]). See the module docstring.

    ``data.static.attrs["simulated"]`` is True. Deterministic for ``(n_subjects, seed)``.
    """
    return simulate_fundus_cohort(n_subjects, seed=seed)[0]


def fundus_cohort_schema() -> ImageSchema:
    """The shipped public schema of `load_fundus_cohort` (``dpsynth/data/schemas/fundus_cohort.yaml``)."""
    return load_image_schema(COHORT_SCHEMA_RESOURCE)


def split_fundus_cohort(data: ImageData, *, seed: int = 0,
                        holdout_fraction: float = 0.3) -> tuple[ImageData, ImageData]:
    """Split by subject into (train, holdout), stratified on ``lesion`` (see `split_images`)."""
    return split_images(data, outcome=COHORT_OUTCOME, subject_id=SUBJECT, seed=seed,
                        holdout_fraction=holdout_fraction)


# =========================================================================== shared
def split_images(data: ImageData, *, outcome: str, subject_id: str | None = None, seed: int = 0,
                 holdout_fraction: float = 0.3) -> tuple[ImageData, ImageData]:
    """Split image data into (train, holdout), stratified on `outcome`, by subject when given one.

    Without ``subject_id`` every image is its own unit and the images are split like
    rows (`split_stratified`). With it, the subjects are split, each stratified on its
    most frequent label (ties: the first in sorted order), and every image of a subject
    lands in that subject's part. Both parts keep the images' order, get a fresh
    0..n-1 index, keep the static table's ``attrs`` (e.g. the simulated marker), and hold
    copies of the selected images.
    """
    static = data.static
    images = np.asarray(data.images)
    if len(images) != len(static):
        raise ValueError(IMAGE_ROWS.format(n_images=len(images), n_rows=len(static)))
    if outcome not in static.columns:
        raise ValueError(NO_OUTCOME_COLUMN.format(column=outcome, found=list(static.columns)))
    label = static[outcome].map(canonical_category).to_numpy(dtype=object)
    if subject_id is None:
        units = np.arange(len(static))
        strata = label
    else:
        if subject_id not in static.columns:
            raise ValueError(NO_SUBJECT_COLUMN.format(column=subject_id, found=list(static.columns)))
        ids = static[subject_id].map(canonical_category)
        if ids.isna().any():
            raise ValueError(MISSING_SUBJECTS.format(column=subject_id, count=int(ids.isna().sum())))
        _, units = np.unique(ids.to_numpy(dtype=str), return_inverse=True)
        frame = pd.DataFrame({"unit": units, "label": label.astype(str)})
        counts = frame.groupby(["unit", "label"]).size().reset_index(name="n")
        counts = counts.sort_values(["unit", "n", "label"], ascending=[True, False, True])
        strata = counts.drop_duplicates("unit").set_index("unit")["label"].sort_index().to_numpy(dtype=object)
    frame = pd.DataFrame({"unit": np.arange(len(strata)), "stratum": strata})
    parts = []
    for chosen in split_stratified(frame, outcome="stratum", seed=seed, holdout_fraction=holdout_fraction):
        rows = np.flatnonzero(np.isin(units, chosen["unit"].to_numpy()))
        part = static.iloc[rows].reset_index(drop=True)
        part.attrs = dict(static.attrs)
        parts.append(ImageData(part, images[rows]))
    return parts[0], parts[1]


def load_image_schema(resource: str) -> ImageSchema:
    """A public image schema shipped with dpsynth, e.g. ``load_image_schema("schemas/digits.yaml")``."""
    with resources.as_file(resources.files("dpsynth.data").joinpath(resource)) as path:
        return ImageSchema.load(path)

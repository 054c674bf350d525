"""The image modality: images with a per-image attribute record.

Read from an ``.npz`` archive (dpsynth's or MedMNIST's) or a folder of PNG/DICOM files with
``manifest.csv``; written as ``.npz`` or (a name without extension) a folder of PNG files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from dpsynth.errors import SchemaError
from dpsynth.images.schema import ImageData, ImageReport, ImageSchema
from dpsynth.modality import Modality, ReportWords, column_notes, register

SUFFIXES = (".npz", "")  # an archive, or a folder of PNG files with a manifest
BAD_NAME = ("synthetic images are written as an .npz archive or a folder of PNG files "
            "(a name without extension), not '{name}'")
ABOUT = ("images: {shape} (height × width × channels), target classes {classes}; the audit's CNNs ran "
         "on {device}; {note}; the image grids show real patients' images")


def read(path: Any, schema: ImageSchema, *, static: Any = None) -> ImageData:
    from dpsynth.images.io import read_images

    return read_images(path, schema)


def write(data: ImageData, path: Path, schema: ImageSchema) -> Path:
    """An ``.npz`` archive, or (no extension) a folder of PNG files with ``manifest.csv``."""
    from dpsynth.images.io import write_image_folder, write_images_npz

    if path.suffix.lower() == ".npz":
        return write_images_npz(data, path, schema)
    return write_image_folder(data, path, schema)


def check_synthetic_name(name: str) -> None:
    if Path(name).suffix.lower() not in SUFFIXES:
        raise SchemaError(BAD_NAME.format(name=name))


def describe_schema(schema: ImageSchema) -> str:
    return (f"image schema ok: {schema.height}x{schema.width}x{schema.channels} pixels in "
            f"[{schema.lower:g}, {schema.upper:g}], target '{schema.target}', sensitive "
            f"{[a.name for a in schema.sensitive]}, unit: {schema.subject_id or 'the image'}, "
            f"sha256 {schema.fingerprint()[:12]}")


def describe_data(report: ImageReport) -> str:
    return (f"data ok: {report.n_images} images of {report.n_units} privacy units; clipped pixels "
            f"{report.clipped_pixels}")


def data_notes(report: ImageReport) -> list[str]:
    notes = []
    if report.clipped_pixels:
        notes.append(f"note: clipped {report.clipped_pixels} pixel(s) to the public pixel range "
                     "(out_of_bounds: clip)")
    return notes + column_notes(report.static_clipped, report.static_unseen_to_missing)


def about(meta: Mapping[str, Any]) -> str:
    return ABOUT.format(shape=" × ".join(str(v) for v in meta.get("image_shape", [])),
                        classes=meta.get("classes", "—"), device=meta.get("audit_device", "—"),
                        note=meta.get("feature_network_note", "—"))


MODALITY = register(Modality(
    name="image", schema_type=ImageSchema, data_type=ImageData,
    default_synthetic_name="synthetic.npz",
    formats={"npz": "synthetic.npz", "png": "synthetic_images"},
    read=read, write=write, check_synthetic_name=check_synthetic_name,
    describe_schema=describe_schema, describe_data=describe_data, data_notes=data_notes,
    audit_plan="dpsynth.validators.image_suite:PLAN",
    report=ReportWords(unit="images", detection_scope=" images", about=about, fidelity_headline=(
        ("frechet_distance", "Fréchet distance, CNN features (not FID)", "0 = same feature distribution"),
        ("precision", "Precision (k-NN manifold)", "share of synthetic images among real ones"),
        ("recall", "Recall (k-NN manifold)", "share of real images the synthetic ones cover"),
        ("mean_pixel_tvd", "Mean pixel-histogram TVD, channels", "0 = identical intensities"),
    )),
))

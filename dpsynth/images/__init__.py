"""The image modality: public schema, in-memory data and file formats (MedMNIST ``.npz``,
folders of PNG or DICOM files with a CSV manifest)."""

from dpsynth.images.schema import ImageData, ImageReport, ImageSchema

__all__ = ["ImageData", "ImageReport", "ImageSchema"]

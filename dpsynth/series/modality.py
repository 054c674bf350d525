"""The series modality: subjects with a static record and a multichannel signal.

Read from an ``.npz`` archive, WFDB or DICOM-waveform folders, or a long signal table with
its static table; written as ``.npz`` or as a long table plus ``<stem>_static<suffix>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from dpsynth.errors import SchemaError
from dpsynth.modality import Modality, ReportWords, column_notes, register
from dpsynth.series.schema import SeriesData, SeriesReport, SeriesSchema
from dpsynth.table_io import table_format

SUFFIXES = (".npz", ".csv", ".parquet", ".pq")
BAD_NAME = "series synthetic data is written as .npz, .csv or .parquet, not '{name}'"
ABOUT = ("series: one static record and one signal per subject; models and fidelity use the "
         "schema's windows ({n_train_windows} / {n_holdout_windows} / {n_synthetic_windows} windows in "
         "train / holdout / synthetic); the example-trace plots show real patients' signals")


def read(path: Any, schema: SeriesSchema, *, static: Any = None) -> SeriesData:
    from dpsynth.series.io import read_series

    return read_series(path, schema, static_path=static)


def write(data: SeriesData, path: Path, schema: SeriesSchema) -> Path:
    """An ``.npz`` archive, or a long signal table plus ``<stem>_static<suffix>`` beside it."""
    from dpsynth.series.io import write_long, write_npz

    if path.suffix.lower() == ".npz":
        return write_npz(data, path, schema)
    table_format(path, action="write")
    return write_long(data, path, path.with_name(f"{path.stem}_static{path.suffix}"), schema)[0]


def check_synthetic_name(name: str) -> None:
    if Path(name).suffix.lower() not in SUFFIXES:
        raise SchemaError(BAD_NAME.format(name=name))


def describe_schema(schema: SeriesSchema) -> str:
    return (f"series schema ok: channels {schema.channel_names} at {schema.sampling_rate:g} Hz, windows of "
            f"{schema.window} samples, target '{schema.target}', sensitive "
            f"{[a.name for a in schema.sensitive]}, sha256 {schema.fingerprint()[:12]}")


def describe_data(report: SeriesReport) -> str:
    return (f"data ok: {report.n_subjects} subjects, {report.n_samples} samples; clipped "
            f"{report.clipped or 'none'}; missing {report.missing}")


def data_notes(report: SeriesReport) -> list[str]:
    notes = column_notes({**report.static_clipped, **report.clipped}, report.static_unseen_to_missing)
    notes += [f"note: {count} missing sample(s) in channel '{channel}' (masked, not filled)"
              for channel, count in report.missing.items() if count]
    return notes


def about(meta: Mapping[str, Any]) -> str:
    return ABOUT.format(**{k: meta.get(k, "—") for k in (
        "n_train_windows", "n_holdout_windows", "n_synthetic_windows")})


MODALITY = register(Modality(
    name="series", schema_type=SeriesSchema, data_type=SeriesData,
    default_synthetic_name="synthetic.npz",
    formats={"npz": "synthetic.npz", "csv": "synthetic.csv", "parquet": "synthetic.parquet"},
    read=read, write=write, check_synthetic_name=check_synthetic_name,
    describe_schema=describe_schema, describe_data=describe_data, data_notes=data_notes,
    audit_plan="dpsynth.validators.series_suite:PLAN",
    report=ReportWords(unit="subjects", detection_scope=" windows", about=about, fidelity_headline=(
        ("mean_tvd", "Mean TVD, categorical columns", "0 = identical marginals"),
        ("mean_wasserstein", "Mean Wasserstein-1 / range, channels", "0 = identical marginals"),
        ("correlation_difference", "Association difference", "0 = same pairwise associations"),
        ("mean_ks", "Mean Kolmogorov–Smirnov statistic, channels", "0 = identical marginals"),
        ("mean_acf_distance", "Mean autocorrelation difference, channels", "0 = same temporal correlation"),
        ("mean_psd_distance", "Mean power-spectrum distance (TVD), channels", "0 = same spectral shape"),
    )),
))

"""Library functions behind the CLI: generate a release bundle, audit a synthetic table.

A *release bundle* (what may leave the hospital) is one folder::

    synthetic.csv | synthetic.parquet   the synthetic rows (tabular)
    synthetic.npz | synthetic.{csv,parquet} + synthetic_static.{csv,parquet}
                                        the synthetic subjects (series: NumPy archive, or a
                                        long signal table and a static table)
    synthetic.npz | synthetic/ (PNG files + manifest.csv)
                                        the synthetic images (images: NumPy archive, or a
                                        folder of PNG files with a manifest of attributes)
    privacy_card.json                   ε, δ, accountant, ledger, DP-SGD parameters, ...
    model/config.json, model/weights.pt the generator (DP post-processing; JSON + state_dict)
    model/manifest.json, manifest.json  each file's SHA-256: `dpsynth verify` checks them

Every output folder is written whole or not at all (`dpsynth.bundle.staged_folder`): into a
hidden folder beside ``out_dir``, renamed into place when complete. An existing non-empty
``out_dir`` is refused unless ``force=True``, which replaces it whole. Every check that needs
no private data (paths, parameters, budget, card) runs before the data is read.

A NOT PRIVATE reference generator (ε = ∞, e.g. ``sdv-ctgan``) writes the synthetic rows
and a card that says "private": false, and no model (references are never released;
refit them with the same seed). The audit reads real data, is not DP, and is written to
a separate folder (docs/privacy.md, rule 7).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dpsynth import registry
from dpsynth.bundle import check_output, staged_folder
from dpsynth.errors import BudgetError, SchemaError
from dpsynth.images.schema import ImageData, ImageSchema
from dpsynth.modality import is_schema, modality_named, modality_of
from dpsynth.privacy.budget import DEFAULT_DELTA, PrivacyBudget, default_delta
from dpsynth.privacy.card import CARD_FILE, PrivacyCard, SamplingNote, as_card
from dpsynth.privacy.conditions import NOISY, uniform_condition_table
from dpsynth.privacy.rebalance import describe, rebalance_table
from dpsynth.schema import read_schema_spec
from dpsynth.tabular.schema import TabularSchema
from dpsynth.series.schema import SeriesData, SeriesSchema

NO_ROWS = ("--rows is required when the condition mix is uniform (condition_share=0): the number "
           "of synthetic rows would otherwise come from the private row count")
EPSILON_REQUIRED = ("--epsilon (the privacy budget ε) is required for the private generator '{name}'; only the "
                    "NOT PRIVATE references (ε = ∞: {references}) run without one")
REBALANCE_REFERENCE = ("--rebalance re-weights a DP generator's noisy condition counts; the NOT PRIVATE "
                       "reference '{name}' has none. Use a dp-* generator, or sample the reference with conditions")
REFERENCE_ROWS = "number of training rows (exact; the reference is not private)"
WRONG_MODALITY = ("generator '{name}' is for {generator} data, but the schema describes {schema} data; "
                  "choose one of: {choices}")
SchemaType = TabularSchema | SeriesSchema | ImageSchema


@dataclass
class GenerateResult:
    synthetic_path: Path
    card_path: Path
    model_dir: Path | None  # None for NOT PRIVATE references (never saved)
    card: PrivacyCard
    synthetic: pd.DataFrame
    data_report: Any  # clips and unseen-to-missing counts: for the operator, not for release


def load_schema(path: str | Path) -> SchemaType:
    """A schema file of any modality (its ``modality`` key; tabular when absent)."""
    spec = read_schema_spec(path)
    name = spec.get("modality") if isinstance(spec, dict) else None
    return modality_named(name).schema_type.from_dict(spec)


def _as_schema(schema: SchemaType | str | Path) -> SchemaType:
    return schema if is_schema(schema) else load_schema(schema)


def load_data(data: Any, schema: SchemaType, *, static: str | Path | None = None,
              for_training: bool = False) -> Any:
    """The table (tabular), the subjects (series) or the images in ``data``: in memory already, or a path.

    ``for_training``: a path the modality can stream (`Modality.lazy_read`, e.g. a large CSV of
    one row per patient) stays on disk and a DP fit reads it a chunk at a time."""
    modality = modality_of(schema)
    if isinstance(data, modality.data_type):
        return data
    lazy = modality.lazy_read(data, schema) if for_training and static is None else None
    return lazy if lazy is not None else modality.read(data, schema, static=static)


def _check_modality(generator: str, schema: SchemaType) -> None:
    info = registry.get(generator)
    if info.modality != schema.modality:
        choices = ", ".join(i.name for i in registry.available(schema.modality)) or "none"
        raise SchemaError(WRONG_MODALITY.format(name=generator, generator=info.modality, schema=schema.modality,
                                                choices=choices))


def write_synthetic(synthetic: pd.DataFrame | SeriesData | ImageData, path: Path, schema: SchemaType) -> Path:
    """Write synthetic data in its modality's format, chosen by the file extension: a table
    (tabular); for series a ``.npz`` archive, or a long signal table plus
    ``<stem>_static<suffix>`` beside it; for images a ``.npz`` archive, or (no extension) a
    folder of PNG files with ``manifest.csv``."""
    return modality_of(schema).write(synthetic, path, schema)


def write_synthetic_parts(parts: Iterable[Any], path: Path, schema: SchemaType,
                          concat: Callable[[Any, Any], Any]) -> tuple[Path, int]:
    """Write the parts of synthetic data (`DPGenerator.sample_parts`) as one output, as
    `write_synthetic` would write them joined; tables are appended a part at a time (memory flat
    in the records), other modalities joined with ``concat`` first. Returns the path and the
    number of records."""
    modality = modality_of(schema)
    if modality.write_parts is not None:
        return modality.write_parts(parts, path, schema)
    data = functools.reduce(concat, parts)
    return modality.write(data, path, schema), len(data)


def generate(
    *,
    data: pd.DataFrame | SeriesData | ImageData | str | Path,
    schema: SchemaType | str | Path,
    generator: str,
    epsilon: float | None = None,
    delta: float | None = None,
    rows: int | None = None,
    seed: int = 0,
    out_dir: str | Path,
    synthetic_name: str | None = None,
    learn_domain_share: float | None = None,
    params: dict[str, Any] | None = None,
    rebalance: dict[Any, Any] | None = None,
    static: str | Path | None = None,
    progress: bool = True,
    force: bool = False,
    allow_large_delta: bool = False,
) -> GenerateResult:
    """Fit ``generator`` on private ``data`` within (ε, δ), sample, and write the release bundle.

    ``rebalance`` (e.g. ``{"race": "equal"}``; see `dpsynth.privacy.rebalance`) gives
    subgroups chosen shares of the synthetic rows: post-processing of the DP condition
    counts, recorded on the card. It is checked against the schema before any training.

    ``delta=None`` picks `default_delta` (1e-5, or a power of ten below 1/n^1.1): the card
    then shows the order of magnitude of the dataset size n, never n itself, and says so. ``rows=None`` samples as many rows as the (unclipped)
    DP condition counts add up to (post-processing), never the exact private count.

    ``force`` replaces an existing ``out_dir`` (a folder dpsynth wrote) whole; without it an
    existing non-empty folder is refused before any work. δ ≥ 1/n is refused unless
    ``allow_large_delta`` (the card then says the user allowed it).

    For a NOT PRIVATE reference generator (registered with ``private=False``) ``epsilon``
    may be left out (a budget given is ignored with a warning), ``rows=None`` means the
    number of training rows, and no model is saved (``model_dir`` is None).

    Series data (a series schema): ``data`` is a `SeriesData`, an ``.npz`` archive, a WFDB
    or DICOM-waveform folder, or a long signal table with its ``static`` table; "rows" are
    synthetic subjects; ``synthetic_name`` ending in ``.npz`` writes an archive, ``.csv``
    or ``.parquet`` a long table plus its static table.

    Image data (an image schema): ``data`` is an `ImageData`, an ``.npz`` archive
    (dpsynth's or MedMNIST's train split) or a folder of PNG/DICOM files with
    ``manifest.csv``; "rows" are synthetic images; ``synthetic_name`` ending in ``.npz``
    writes an archive, a name without extension a folder of PNG files and a manifest.
    """
    info = registry.get(generator)
    inputs = [p for p in (data, schema, static) if isinstance(p, (str, Path))]
    check_output(out_dir, force=force, what="a release bundle", inputs=inputs)  # before any work
    schema = _as_schema(schema)
    _check_modality(generator, schema)
    modality = modality_of(schema)
    synthetic_name = synthetic_name or modality.default_synthetic_name
    modality.check_synthetic_name(synthetic_name)  # fail on a name it cannot write before any training
    if info.private and epsilon is None:
        references = [i.name for i in registry.available() if not i.private]
        raise BudgetError(EPSILON_REQUIRED.format(name=generator, references=", ".join(references) or "none"))
    if rebalance:
        if not info.private:
            raise SchemaError(REBALANCE_REFERENCE.format(name=generator))
        domains = schema.condition_domains()
        rebalance_table(uniform_condition_table(domains), rebalance, domains)  # errors before training
    model = registry.create(generator, schema, **(params or {}))  # bad parameters fail before any data is read
    frame = load_data(data, schema, static=static, for_training=info.private)
    if len(frame) == 0:
        raise SchemaError("the data has no rows")
    if rows is not None and rows <= 0:
        raise SchemaError(f"--rows must be a positive integer (got {rows})")
    if not info.private:
        return _generate_reference(model, frame=frame, schema=schema, epsilon=epsilon, delta=delta, rows=rows,
                                   seed=seed, out_dir=out_dir, synthetic_name=synthetic_name,
                                   learn_domain_share=learn_domain_share, progress=progress, force=force,
                                   inputs=inputs)
    if rows is None and model.training.condition_share == 0 and not model.own_condition_mix:
        raise BudgetError(NO_ROWS)
    delta_source = "user"
    if delta is None:
        delta = default_delta(schema.count_units(frame))
        delta_source = f"default: {DEFAULT_DELTA} (a power of ten: no exact count)"
    budget = PrivacyBudget(epsilon, delta, allow_large_delta=allow_large_delta)
    model.fit(frame, budget=budget, learn_domain_share=learn_domain_share, random_state=seed, progress=progress)
    if rows is None:
        rows = max(1, int(round(float(model.condition_table_[NOISY].sum()))))
    synthetic = model.sample(rows, rebalance=rebalance, random_state=seed + 1, progress=progress)

    out = Path(out_dir)
    with staged_folder(out, kind="release", force=force, inputs=inputs) as staging:
        synthetic_path = write_synthetic(synthetic, staging / synthetic_name, schema)
        model.save(staging / "model")
        card = model.privacy_card().with_release(
            delta_source=delta_source, rows_released=rows, synthetic_file=synthetic_path.name,
            sampling=SamplingNote(rebalance=describe(rebalance)) if rebalance else None)
        card.write(staging / CARD_FILE)
    return GenerateResult(out / synthetic_path.name, out / CARD_FILE, out / "model", card, synthetic,
                          model.data_report_)


def _generate_reference(model: Any, *, frame: pd.DataFrame, schema: TabularSchema, epsilon: float | None,
                        delta: float | None, rows: int | None, seed: int, out_dir: str | Path,
                        synthetic_name: str, learn_domain_share: float | None, progress: bool,
                        force: bool, inputs: list[str | Path]) -> GenerateResult:
    """A NOT PRIVATE reference: fit, sample, write the rows and the not-private card; no model."""
    budget = None
    if epsilon is not None:  # checked as for a private run, then ignored (the model warns)
        budget = PrivacyBudget(epsilon, delta if delta is not None else default_delta(schema.count_units(frame)))
    model.fit(frame, budget=budget, learn_domain_share=learn_domain_share, random_state=seed, progress=progress)
    rows_source = "user"
    if rows is None:
        rows, rows_source = len(frame), REFERENCE_ROWS
    synthetic = model.sample(rows, random_state=seed + 1)
    out = Path(out_dir)
    with staged_folder(out, kind="release", force=force, inputs=inputs) as staging:
        synthetic_path = write_synthetic(synthetic, staging / synthetic_name, schema)
        card = model.privacy_card().with_release(rows_released=rows, rows_source=rows_source,
                                                 synthetic_file=synthetic_path.name, model="not saved (not private)")
        card.write(staging / CARD_FILE)
    return GenerateResult(out / synthetic_path.name, out / CARD_FILE, None, card, synthetic, model.data_report_)


def run_audit(
    *,
    train: pd.DataFrame | SeriesData | ImageData | str | Path,
    holdout: pd.DataFrame | SeriesData | ImageData | str | Path,
    synthetic: pd.DataFrame | SeriesData | ImageData | str | Path,
    schema: SchemaType | str | Path,
    out_dir: str | Path,
    card: PrivacyCard | dict[str, Any] | str | Path | None = None,
    config: Any = None,
    statics: dict[str, str | Path | None] | None = None,
    progress: bool = True,
    force: bool = False,
    thresholds: str | Path | None = None,
):
    """Audit any synthetic data with the schema's columns (or channels) against real train
    and holdout. For series given as long tables, ``statics`` maps "train"/"holdout"/
    "synthetic" to their static tables. The audit folder is written whole or not at all,
    never inside a release bundle (it holds real data), and an existing one only with ``force``.
    ``thresholds``: a YAML file overriding the verdict's thresholds (`dpsynth.validators.verdict`),
    checked before the data is read and kept in the report's metadata."""
    inputs = [p for p in (train, holdout, synthetic, schema, *(statics or {}).values()) if isinstance(p, (str, Path))]
    check_output(out_dir, force=force, what="an audit folder", inputs=inputs)  # never inside a release
    schema = _as_schema(schema)
    statics = statics or {}
    metadata: dict[str, Any] = {}
    if card is not None:
        metadata["privacy_card"] = as_card(card) if isinstance(card, (str, Path)) else card  # read before the data
    if thresholds is not None:
        from dpsynth.validators.verdict import threshold_overrides

        metadata["verdict_thresholds"] = threshold_overrides(thresholds)  # checked before the data
        metadata["verdict_thresholds_file"] = Path(thresholds).name
    tables = {}
    for name, value in (("train", train), ("holdout", holdout), ("synthetic", synthetic)):
        if isinstance(value, (str, Path)):
            metadata[f"{name}_name"] = Path(value).name
        tables[name] = load_data(value, schema, static=statics.get(name))
    from dpsynth.validators import audit

    report = audit(**tables, schema=schema, config=config, metadata=metadata, progress=progress)
    with staged_folder(out_dir, kind="audit", force=force, inputs=inputs) as staging:
        report.write(staging)
    return report

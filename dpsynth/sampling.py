"""Sample a saved model bundle (the ``model/`` folder `dpsynth generate` writes) again.

Sampling a released DP model is post-processing: it reads no private data and spends no
ε. The seed is public randomness (same bundle, seed, device and request: same output).
The model folder is only read; the output must be new, so an earlier release is never
overwritten. The ε reported is the release's: its privacy card beside the model folder
when that card belongs to this model, else the model's own ledger.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpsynth.errors import DataReadError, DpsynthError, SchemaError
from dpsynth.generator import CONFIG_FILE, DPGenerator
from dpsynth.modality import modality_of
from dpsynth.privacy.card import CARD_FILE, PrivacyCard

NOT_A_BUNDLE = ("'{path}' is not a model bundle (no {file}); pass the model/ folder that `dpsynth generate` "
                "wrote (NOT PRIVATE references are never saved)")
BAD_BUNDLE = "cannot load the model bundle '{path}': {reason}"
OUT_EXISTS = "'{path}' already exists; sampling never overwrites: choose a new --out, or move the old one away"
OUT_IN_MODEL = "--out '{path}' is inside the model folder '{model}'; sampling never writes there: choose another path"
BAD_ROWS = "--rows must be a positive integer (got {rows!r})"
BAD_FORMAT = "this model makes {name} data: --format must be one of {choices} (got {fmt!r})"
FORMAT_MISMATCH = ("--format {fmt} writes {what}, but --out is '{path}': give --out a matching extension, "
                   "or leave --format out (the extension picks the format)")
CARD_OF_ANOTHER_MODEL = ("note: the privacy card '{card}' is not this model's ({why}); the ε shown is the "
                         "model's own ledger")


@dataclass(frozen=True)
class SampleResult:
    synthetic_path: Path
    records: int  # written (the records themselves are on disk only: memory stays flat in their number)
    generator: str
    epsilon: float  # of the release the model came from: no new privacy cost
    delta: float
    epsilon_source: str  # the card's path, or "the model's ledger"
    notes: tuple[str, ...] = ()  # for the operator's console


def sample_bundle(*, model_dir: str | Path, rows: int, out: str | Path, conditions: dict[str, Any] | None = None,
                  rebalance: dict[Any, Any] | None = None, seed: int = 0, fmt: str | None = None,
                  device: str | None = None, progress: bool = True) -> SampleResult:
    """Load the bundle in ``model_dir``, sample ``rows`` records and write them to ``out``.

    ``out``'s extension picks the modality's format, as `generate`'s synthetic name does
    (tabular: .csv/.parquet; series: .npz or a long table plus ``<stem>_static<suffix>``;
    images: .npz or, without extension, a folder of PNG files); ``fmt`` (a ``--format`` value)
    adds its extension to an ``out`` without one, and must agree with one. ``conditions`` fix condition
    values (``{"sex": "female"}``), ``rebalance`` re-weights the DP condition counts (see
    `dpsynth.privacy.rebalance`). ``device`` defaults to the bundle's own setting.
    """
    model_dir, out = Path(model_dir), Path(out)
    if not (model_dir / CONFIG_FILE).is_file():
        raise DataReadError(NOT_A_BUNDLE.format(path=model_dir, file=CONFIG_FILE))
    if isinstance(rows, bool) or not isinstance(rows, int) or rows <= 0:
        raise SchemaError(BAD_ROWS.format(rows=rows))
    model = _load(model_dir, device)
    out = _output_path(out, fmt, model.schema_)
    if out.resolve().is_relative_to(model_dir.resolve()):
        raise SchemaError(OUT_IN_MODEL.format(path=out, model=model_dir))
    if out.exists():
        raise DpsynthError(OUT_EXISTS.format(path=out))
    epsilon, delta, source, notes = _release_budget(model, model_dir.parent / CARD_FILE)
    parts = model.sample_parts(rows, conditions=conditions, rebalance=rebalance, random_state=seed,
                               progress=progress)
    path, records = _write_new(parts, out, model)
    return SampleResult(path, records, model.registered_name, epsilon, delta, source, notes)


def _load(model_dir: Path, device: str | None) -> DPGenerator:
    try:
        return DPGenerator.load(model_dir, device=device)
    except DpsynthError:
        raise
    except (OSError, KeyError, TypeError, ValueError, RuntimeError) as exc:  # missing weights, edited config
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        raise DataReadError(BAD_BUNDLE.format(path=model_dir, reason=reason)) from None


def _output_path(out: Path, fmt: str | None, schema: Any) -> Path:
    """``out`` with ``fmt``'s extension (added when it has none), checked against the modality."""
    modality = modality_of(schema)
    if fmt is not None:
        if fmt not in modality.formats:
            raise SchemaError(BAD_FORMAT.format(name=modality.name, choices=", ".join(modality.formats), fmt=fmt))
        suffix = Path(modality.formats[fmt]).suffix  # "" for a folder (PNG images)
        if not out.suffix and suffix:
            out = out.with_suffix(suffix)
        elif out.suffix.lower() != suffix:
            what = f"'{suffix}' files" if suffix else "a folder (a name without extension)"
            raise SchemaError(FORMAT_MISMATCH.format(fmt=fmt, what=what, path=out))
    modality.check_synthetic_name(out.name)
    return out


def _write_new(parts: Any, out: Path, model: DPGenerator) -> tuple[Path, int]:
    """Write the sampled ``parts`` into a fresh folder beside ``out``, then move what was written
    (a series long table has a ``_static`` sibling, PNG images are a folder) into place only if
    none of it exists. Returns the path and the number of records."""
    from dpsynth.pipeline import write_synthetic_parts

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        written, records = write_synthetic_parts(parts, staging / out.name, model.schema_, model.concat_records)
        entries = sorted(staging.iterdir())
        clash = next((out.parent / e.name for e in entries if (out.parent / e.name).exists()), None)
        if clash is not None:
            raise DpsynthError(OUT_EXISTS.format(path=clash))
        for entry in entries:
            os.replace(entry, out.parent / entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out.parent / Path(written).name, records


def _release_budget(model: DPGenerator, card_path: Path) -> tuple[float, float, str, tuple[str, ...]]:
    """(ε, δ, where they come from, notes): the release's card if it is this model's, else the ledger."""
    epsilon, delta = model.privacy_spent()
    if not card_path.is_file():
        return epsilon, delta, "the model's ledger", ()
    card = PrivacyCard.read(card_path)
    why = None
    if card.generator != model.registered_name:
        why = f"generator {card.generator!r}, the model is {model.registered_name!r}"
    elif card.schema_sha256 != model.schema_.fingerprint():
        why = "its schema fingerprint differs"
    if why or not card.private:
        notes = (CARD_OF_ANOTHER_MODEL.format(card=card_path, why=why or "it is NOT PRIVATE"),)
        return epsilon, delta, "the model's ledger", notes
    return float(card.epsilon), float(card.delta), str(card_path), ()

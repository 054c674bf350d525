"""The image audit plan: the steps `suite.audit` runs on synthetic images.

Conform the three `ImageData` to the `ImageSchema` (errors name the table), build the
tabular `AuditContext` on their per-image attribute tables, so group labels,
intersections, flags and small-group handling are exactly the tabular ones, plus the
images scaled to [0, 1] by the *public* pixel range (`ImageAuditContext`). Then:

- downstream model ``cnn`` (`image_models.fit_cnn`), TSTR and TRTR, trained on every
  target class and scored on the real holdout; the tabular ``utility`` and ``fairness``
  validators read its P(target = positive) per holdout image, unchanged (same tables,
  same report); with more than two target classes, ``class_accuracy`` rows add the
  multi-class accuracy (TSTR, TRTR, their ratio and change, paired bootstrap intervals);
- fidelity (`image_fidelity.evaluate_images`): Fréchet distance and precision/recall in
  the features of a CNN trained on the REAL training images (no pretrained network can be
  downloaded here, so the values are not comparable with published FID), a detection
  classifier's AUC and pixel-histogram distances, overall and per subgroup;
- the tabular ``representation`` validator (group shares, synthetic vs real);
- membership inference (`membership`) on a fixed feature map that no real data shapes
  (`membership_features`: the attributes and the pixels averaged over an 8 × 8 grid);
- plots: real vs synthetic image grids overall, per class and per subgroup.

Not run for images: the tabular memorisation signals (DCR on attribute rows alone would
say nothing about copied images). The CNNs train on a GPU when one is present (the
report's metadata names the device).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dpsynth.devices import resolve_device
from dpsynth.images.schema import ImageData, ImageSchema
from dpsynth.validators import bootstrap as bs
from dpsynth.validators.bootstrap import Replicated
from dpsynth.validators.context import AuditConfig, AuditContext, result_frame
from dpsynth.validators.membership import MembershipFeatures
from dpsynth.validators.predictions import SINGLE_CLASS, SOURCES, TRAINING_FRAME, join_flags, training_flag
from dpsynth.validators.report import AuditReport
from dpsynth.validators.suite import AuditPlan, Step, audit, check_holdout_classes, check_schema, conform_tables
from dpsynth.validators.tabular_encoding import encode

MODALITY = "image"
MODEL = "cnn"
FRAMES = ("train", "holdout", "synthetic")
NOT_IMAGE_DATA = (
    "{name} must be dpsynth.images.ImageData (a table of per-image attributes + an image array; got {kind}); "
    "read files with dpsynth.images.io.read_images"
)
NOT_AN_IMAGE_SCHEMA = "schema must be an ImageSchema (got {kind}); load one with ImageSchema.load(path)"
AUDIT_NOT_DP = "the audit reads real data and is not differentially private; keep it apart from the release"
FEATURE_NOTE = ("Fréchet distance and precision/recall use the features of a small CNN trained on the real training "
                "images (no pretrained network can be downloaded here): compare generators on the same data, not "
                "with published FID values")
POOLED_GRID = 8  # membership features: pixels averaged over at most POOLED_GRID × POOLED_GRID cells per channel
MEMBERSHIP_FEATURES = (
    f"one row per image: its attributes (target included; encoded as for tables) and its pixels, scaled to [0, 1] by "
    f"the public range, averaged over a {POOLED_GRID} × {POOLED_GRID} grid of cells per channel (a fixed map: the "
    "audit's CNN features are not used, as that network was trained on the members)")
_SALT = 31  # seeds the downstream CNNs


@dataclass
class ImageAuditContext(AuditContext):
    """`AuditContext` on the per-image attribute tables, plus the image schema and the images of
    each table scaled to [0, 1] by the public pixel range (``images[frame]``, row-aligned)."""

    image_schema: ImageSchema | None = None
    images: dict[str, np.ndarray] = field(default_factory=dict)
    device: str = "cpu"

    @property
    def classes(self) -> list[str]:
        """The target's categories, in schema order (class index = position)."""
        return list(self.schema.column(self.schema.target).categories)

    def class_index(self, frame: str) -> np.ndarray:
        """Class index of every image of ``frame``."""
        codes = pd.Categorical(getattr(self, frame)[self.schema.target].astype(str), categories=self.classes).codes
        return np.asarray(codes, dtype=np.int64)

    def units(self, frame: str) -> np.ndarray:
        return self.image_schema.units(getattr(self, frame))


def audit_images(*, train: ImageData, holdout: ImageData, synthetic: ImageData, schema: ImageSchema,
                 config: AuditConfig | None = None, metadata: dict[str, Any] | None = None, device: str = "auto",
                 progress: bool = True) -> AuditReport:
    """`suite.audit` for images (``n_*`` count images); ``device`` is where the audit's CNNs train
    ("auto": a GPU when present)."""
    return audit(train=train, holdout=holdout, synthetic=synthetic, schema=schema, config=config,
                 metadata=metadata, progress=progress, modality=MODALITY, device=device)


def build_context(*, train: ImageData, holdout: ImageData, synthetic: ImageData, schema: ImageSchema,
                  config: AuditConfig, device: str = "cpu") -> ImageAuditContext:
    """Check and conform the three tables; build the shared context on their attribute tables
    (``device``: where the audit's CNNs train; "auto" picks a GPU when present)."""
    check_schema(schema, ImageSchema, NOT_AN_IMAGE_SCHEMA)
    device = str(resolve_device(device))
    given = {"train": train, "holdout": holdout, "synthetic": synthetic}
    conformed = conform_tables({name: given[name] for name in FRAMES}, schema, data_type=ImageData,
                               not_data=NOT_IMAGE_DATA)
    check_holdout_classes(conformed["holdout"].static, schema)
    lower, upper = schema.lower, schema.upper
    images = {name: ((conformed[name].images - lower) / (upper - lower)).astype(np.float32) for name in FRAMES}
    return ImageAuditContext(schema.static, conformed["train"].static, conformed["holdout"].static,
                             conformed["synthetic"].static, config=config, image_schema=schema, images=images,
                             device=device)


# ---------------------------------------------------------------------------- models
def downstream_predictions(ctx: ImageAuditContext) -> tuple[dict[tuple[str, str], np.ndarray],
                                                            dict[str, np.ndarray]]:
    """(P(target = positive) per holdout image keyed by ``(source, "cnn")``, class probabilities
    [n_holdout, classes] per source). The CNN trains on every target class of the source's
    images (`image_models.fit_cnn`, settings fixed a priori). A source without both binary
    classes gets NaN predictions and a warning, as for tabular data."""
    from dpsynth.validators.image_models import fit_cnn, predict_proba

    classes = ctx.classes
    positive = classes.index(str(ctx.schema.positive))
    scores: dict[tuple[str, str], np.ndarray] = {}
    probabilities: dict[str, np.ndarray] = {}
    n = len(ctx.holdout)
    for source in SOURCES:
        frame = TRAINING_FRAME[source]
        flag = training_flag(ctx, source)
        if flag:
            values = sorted(getattr(ctx, frame)[ctx.schema.target].astype(str).unique())
            warnings.warn(SINGLE_CLASS.format(source=source, frame=frame, count=len(getattr(ctx, frame)),
                                              values=values, target=ctx.schema.target, flag=flag), stacklevel=2)
            probabilities[source] = np.full((n, len(classes)), np.nan)
        else:
            seed = int(ctx.rng(_SALT).integers(2**31 - 1))
            net = fit_cnn(ctx.images[frame], ctx.class_index(frame), n_classes=len(classes), seed=seed,
                          device=ctx.device)
            probabilities[source] = predict_proba(net, ctx.images["holdout"])
        scores[(source, MODEL)] = probabilities[source][:, positive]
    return scores, probabilities


def class_accuracy(ctx: ImageAuditContext, probabilities: dict[str, np.ndarray]) -> pd.DataFrame:
    """Multi-class accuracy rows (metric ``class_accuracy``, model ``cnn``) for TSTR, TRTR, their
    ratio and change, with paired percentile bootstrap intervals over holdout images resampled
    within each class, and the holdout's size flags (as utility); none for a binary target (the
    utility validator's ``accuracy`` already is that)."""
    if len(ctx.classes) <= 2:
        return result_frame([])
    truth = ctx.class_index("holdout")
    weights = bs.resample_weights(len(truth), n_bootstrap=ctx.config.n_bootstrap, rng=ctx.rng(_SALT + 1),
                                  strata=truth)
    size_flag = ctx.holdout_flags()
    scored: dict[str, tuple[Replicated, str]] = {}
    for source in SOURCES:
        untrained = training_flag(ctx, source)
        correct = (np.nan_to_num(probabilities[source], nan=-1.0).argmax(1) == truth).astype(float)
        rep = Replicated.undefined(ctx.config.n_bootstrap) if untrained else bs.replicate(_share, correct,
                                                                                          weights=weights)
        scored[source] = (rep, join_flags(untrained, size_flag))
    (a, fa), (b, fb) = scored["TSTR"], scored["TRTR"]
    rows = [(s, rep, flag) for s, (rep, flag) in scored.items()]
    rows += [("ratio", a / b, join_flags(fa, fb)), ("change", a - b, join_flags(fa, fb))]
    return result_frame([
        dict(validator="utility", model=MODEL, source=source, metric="class_accuracy", attribute="overall",
             group="", feature="", n=len(truth), **rep.fields(confidence=ctx.config.confidence, flag=flag))
        for source, rep, flag in rows])


def _share(correct: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted share of correct predictions per resample (rows of ``weights``)."""
    return weights @ correct / weights.sum(axis=1)


# ------------------------------------------------------------------------ membership
def membership_features(ctx: ImageAuditContext) -> MembershipFeatures:
    """The image features of the membership attacks (`MEMBERSHIP_FEATURES`); a holdout image's
    privacy unit is its patient (`ImageSchema.units`)."""
    attributes = encode([ctx.train, ctx.holdout, ctx.synthetic], schema=ctx.schema, missing="indicator")
    train, holdout, synthetic = (np.hstack([a, pooled_pixels(ctx.images[frame])])
                                 for a, frame in zip(attributes, FRAMES))
    return MembershipFeatures(train, holdout, synthetic, holdout_units=ctx.units("holdout"))


def pooled_pixels(images: np.ndarray, *, grid: int = POOLED_GRID) -> np.ndarray:
    """[N, H, W, C] images -> [N, h · w · C] cell means over an h × w grid (h = min(grid, H),
    w = min(grid, W)); cell i spans rows ``floor(i·H/h)`` to ``ceil((i+1)·H/h)``, as torch's
    adaptive average pooling."""
    n, height, width, _ = images.shape
    rows, cols = _cells(height, min(grid, height)), _cells(width, min(grid, width))
    cells = [images[:, r0:r1, c0:c1].mean(axis=(1, 2)) for r0, r1 in rows for c0, c1 in cols]
    return np.stack(cells, axis=1).reshape(n, -1).astype(np.float64)


def _cells(length: int, count: int) -> list[tuple[int, int]]:
    return [(i * length // count, -(-(i + 1) * length // count)) for i in range(count)]


# -------------------------------------------------------------------------- fidelity
def _groups(ctx: ImageAuditContext, frame: str) -> dict[str, np.ndarray]:
    return {a: ctx.groups_of(frame, a).to_numpy(dtype=str) for a in ctx.attributes}


def _group_order(ctx: ImageAuditContext) -> dict[str, list[str]]:
    return {name: [str(v) for v in domain] for name, domain in ctx.schema.condition_domains().items()}


def fidelity(ctx: ImageAuditContext) -> pd.DataFrame:
    """Image fidelity rows overall and per subgroup (`image_fidelity.evaluate_images`), with
    the feature network trained on the real training images and their classes."""
    from dpsynth.validators.image_fidelity import evaluate_images
    from dpsynth.validators.image_models import feature_network

    seed = ctx.config.random_state
    net = feature_network(ctx.images["train"], ctx.class_index("train"), seed=seed, n_classes=len(ctx.classes),
                          device=ctx.device)
    return evaluate_images(ctx.images["train"], ctx.images["synthetic"], real_groups=_groups(ctx, "train"),
                           syn_groups=_groups(ctx, "synthetic"), feature_net=net,
                           min_group_size=ctx.config.min_group_size, seed=seed, real_keys=ctx.units("train"),
                           synthetic_keys=ctx.units("synthetic"), group_order=_group_order(ctx),
                           max_images=ctx.config.max_rows, device=ctx.device)


def write_grids(ctx: ImageAuditContext, plot_dir) -> dict[str, Any]:
    """Real vs synthetic image grids overall, per class and per subgroup (`image_plots`)."""
    from dpsynth.validators.image_plots import real_vs_synthetic_grids

    return real_vs_synthetic_grids(ctx.images["train"], ctx.images["synthetic"],
                                   real_labels=ctx.class_index("train"), syn_labels=ctx.class_index("synthetic"),
                                   plot_dir=plot_dir, real_groups=_groups(ctx, "train"),
                                   syn_groups=_groups(ctx, "synthetic"), class_names=ctx.classes,
                                   group_order=_group_order(ctx), seed=ctx.config.random_state,
                                   min_group_size=ctx.config.min_group_size)


def metadata(ctx: ImageAuditContext, schema: ImageSchema) -> dict[str, Any]:
    """What the report states about the images: unit, shape, classes, device, the schema's hash."""
    return dict(
        modality=MODALITY, unit="image" if schema.subject_id is None else "subject",
        audit_differentially_private=False, audit_notice=AUDIT_NOT_DP, feature_network_note=FEATURE_NOTE,
        membership_features=MEMBERSHIP_FEATURES,
        image_shape=list(schema.shape), classes=ctx.classes, audit_device=ctx.device,
        schema_fingerprint=schema.fingerprint(),
    )


PLAN = AuditPlan(
    label="image audit",
    context=build_context,
    models=Step("image_suite", "downstream_predictions"),
    model_outputs=("predictions", "probabilities"),
    steps=(Step("utility", inputs=("predictions",)), Step("fairness", inputs=("predictions",)),
           Step("image_suite", "class_accuracy", inputs=("probabilities",)), Step("image_suite", "fidelity"),
           Step("representation")),
    membership_features=membership_features,
    metadata=metadata,
    plot_writer=Step("image_suite", "write_grids"),
    options=("device",),
)

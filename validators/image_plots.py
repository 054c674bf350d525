"""PNG grids of real vs synthetic images for the image audit (matplotlib Agg canvas, headless,
pyplot state untouched, like `report_plots` and `series_plots`).

`image_grid` draws rows of images (one labelled row per entry, the images of a row side by
side on one axes); `real_vs_synthetic_grids` picks ``N_EXAMPLES`` images at random (seeded)
per row and writes:

- ``images_overall``: one real and one synthetic row over all images;
- ``images_by_class``: for each class, a real row and a synthetic row;
- ``images_<attribute>``: for each group of each attribute passed, a real row and a
  synthetic row.

Each row's label gives how many images it was drawn from; a class or group with fewer than
``min_group_size`` images is labelled "small group" in red (too few to judge). Every figure
is written by `plot_files.save_figure` (the not-for-release footer).

Images are float [N, H, W, C] in [0, 1] (the public pixel range scaled): one channel is
drawn in grey, three as RGB, any other count shows its first channel in grey. The real
examples are REAL patients' images: like the rest of the audit these plots are not
differentially private and must stay with the audit, never with the release.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from dpsynth.validators.image_models import check_images
from dpsynth.validators.plot_files import ALERT_COLOUR, save_figure
from dpsynth.validators.report_plots import slug

N_EXAMPLES = 8
PAD = 1                # pixels of white between images in a row
ROW_HEIGHT = 0.9       # inches per row
_SALT = 108            # seeds the choice of examples

ROW_LENGTH = "images_by_row[{row!r}] must be an array [k, H, W, C]; got shape {shape}"
ROW_SHAPES = "every row of an image grid needs the same image shape (H, W, C); got {shapes}"
NO_ROWS = "an image grid needs at least one row"
LABEL_LENGTH = "{side}_labels must hold one class label per {side} image ({n}); got shape {shape}"
GROUP_LENGTH = "{side}_groups[{attribute!r}] must hold one group label per {side} image ({n}); got shape {shape}"


def mosaic(images: np.ndarray, *, columns: int) -> np.ndarray:
    """``images`` [k, H, W, C] side by side in ``columns`` slots (empty slots and ``PAD``
    separators white) -> [H, columns·(W + PAD) - PAD, C]."""
    k, h, w, c = images.shape
    out = np.ones((h, columns * (w + PAD) - PAD, c), dtype=np.float32)
    for i in range(min(k, columns)):
        out[:, i * (w + PAD):i * (w + PAD) + w] = images[i]
    return out


def _display(row: np.ndarray):
    """What ``imshow`` takes: [H, W] grey or [H, W, 3] RGB, clipped to [0, 1]."""
    row = np.clip(row, 0.0, 1.0)
    return row if row.shape[2] == 3 else row[..., 0]


def image_grid(images_by_row: dict[str, np.ndarray], path: str | Path, *, title: str,
               columns: int | None = None, marked_rows: Collection[str] = ()) -> Path:
    """One labelled row per entry of ``images_by_row`` (``{label: images [k, H, W, C]}``),
    ``columns`` images per row (default: the longest row); an empty row reads "(none)"; the
    labels in ``marked_rows`` (small groups) are drawn in red."""
    if not images_by_row:
        raise ValueError(NO_ROWS)
    rows = {}
    for label, images in images_by_row.items():
        array = np.asarray(images)
        if array.ndim != 4:
            raise ValueError(ROW_LENGTH.format(row=label, shape=array.shape))
        rows[str(label)] = check_images(array) if len(array) else array.astype(np.float32)
    shapes = {r.shape[1:] for r in rows.values()}
    if len(shapes) > 1:
        raise ValueError(ROW_SHAPES.format(shapes=sorted(shapes)))
    h, w, _ = shapes.pop()
    columns = max(1, columns or max(len(r) for r in rows.values()))
    aspect = (columns * (w + PAD) - PAD) / h
    fig = Figure(figsize=(min(2.0 + ROW_HEIGHT * aspect, 16.0), ROW_HEIGHT * len(rows) + 0.7))
    axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
    for ax, (label, images) in zip(axes, rows.items()):
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8,
                      **({"color": ALERT_COLOUR} if label in marked_rows else {}))
        if len(images):
            ax.imshow(_display(mosaic(images, columns=columns)), cmap="gray", vmin=0.0, vmax=1.0,
                      interpolation="nearest")
        else:
            ax.imshow(np.ones((h, columns * (w + PAD) - PAD)), cmap="gray", vmin=0.0, vmax=1.0)
            ax.text(0.5, 0.5, "(none)", transform=ax.transAxes, ha="center", va="center", fontsize=8)
    axes[0].set_title(title, fontsize=9)  # an axes title, unlike suptitle, is kept clear by tight_layout
    return save_figure(fig, Path(path))


class _Rows:
    """The rows of one grid: ``{label: images}``, each label carrying its image count, and the
    labels of the small groups (fewer than ``min_group_size`` images)."""

    def __init__(self, rng: np.random.Generator, k: int, min_group_size: int) -> None:
        self.rng, self.k, self.min_group_size = rng, k, min_group_size
        self.images: dict[str, np.ndarray] = {}
        self.small: set[str] = set()

    def add(self, label: str, images: np.ndarray, mask: np.ndarray) -> None:
        count = int(mask.sum())
        small = count < self.min_group_size
        label = f"{label}\n(n={count}{', small group' if small else ''})"
        self.images[label] = _pick(images, mask, self.rng, self.k)
        if small:
            self.small.add(label)


def _pick(images: np.ndarray, mask: np.ndarray, rng: np.random.Generator, k: int) -> np.ndarray:
    where = np.flatnonzero(mask)
    chosen = np.sort(rng.choice(where, size=min(k, len(where)), replace=False)) if len(where) else where
    return images[chosen]


def _labels(values: np.ndarray | None, n: int, message: str, **fmt) -> np.ndarray | None:
    if values is None:
        return None
    array = np.asarray(values, dtype=object)
    if array.shape != (n,):
        raise ValueError(message.format(n=n, shape=array.shape, **fmt))
    return array.astype(str)


def _ordered(*labels: np.ndarray, order: list[str] = ()) -> list[str]:
    present = set().union(*(set(np.unique(v)) for v in labels))
    known = [str(g) for g in order if str(g) in present]
    return known + sorted(present - set(known))


def real_vs_synthetic_grids(real: np.ndarray, syn: np.ndarray, *, real_labels: np.ndarray | None,
                            syn_labels: np.ndarray | None, plot_dir: str | Path,
                            real_groups: dict[str, np.ndarray] | None = None,
                            syn_groups: dict[str, np.ndarray] | None = None,
                            class_names: list[str] | None = None,
                            group_order: dict[str, list[str]] | None = None,
                            n_examples: int = N_EXAMPLES, seed: int = 0,
                            min_group_size: int = 0) -> dict[str, Path]:
    """Write the real-vs-synthetic grids (see the module docstring) and return ``{name: path}``.

    ``*_labels``: class index per image (None: no per-class grid); ``class_names[i]`` names
    class i in the row labels. ``*_groups``: ``{attribute: group label per image}`` (same
    attributes on both sides; an attribute missing on the synthetic side is skipped).
    ``group_order[attribute]`` lists groups first in that order (e.g. the schema domain).
    A row drawn from fewer than ``min_group_size`` images is marked as a small group.
    """
    real, syn = check_images(real), check_images(syn)
    rng = np.random.default_rng([int(seed), _SALT])
    plot_dir = Path(plot_dir)
    made: dict[str, Path] = {}
    rows = _Rows(rng, n_examples, min_group_size)
    rows.add("real", real, np.ones(len(real), bool))
    rows.add("synthetic", syn, np.ones(len(syn), bool))
    made["images_overall"] = image_grid(rows.images, plot_dir / "images_overall.png", columns=n_examples,
                                        marked_rows=rows.small,
                                        title="Real train images (real patients) vs synthetic, all images")

    r_lab = _labels(real_labels, len(real), LABEL_LENGTH, side="real")
    s_lab = _labels(syn_labels, len(syn), LABEL_LENGTH, side="synthetic")
    if r_lab is not None and s_lab is not None:
        order = [str(i) for i in range(len(class_names))] if class_names else []
        rows = _Rows(rng, n_examples, min_group_size)
        for cls in _ordered(r_lab, s_lab, order=order):
            name = class_names[int(cls)] if class_names and cls.isdigit() and int(cls) < len(class_names) else cls
            rows.add(f"real · {name}", real, r_lab == cls)
            rows.add(f"synthetic · {name}", syn, s_lab == cls)
        made["images_by_class"] = image_grid(rows.images, plot_dir / "images_by_class.png", columns=n_examples,
                                             marked_rows=rows.small,
                                             title="Real train images (real patients) vs synthetic, per class")

    for attribute, labels in (real_groups or {}).items():
        if attribute not in (syn_groups or {}):
            continue
        g_real = _labels(labels, len(real), GROUP_LENGTH, side="real", attribute=attribute)
        g_syn = _labels(syn_groups[attribute], len(syn), GROUP_LENGTH, side="synthetic", attribute=attribute)
        rows = _Rows(rng, n_examples, min_group_size)
        for group in _ordered(g_real, g_syn, order=(group_order or {}).get(attribute, [])):
            rows.add(f"real · {group}", real, g_real == group)
            rows.add(f"synthetic · {group}", syn, g_syn == group)
        if rows.images:
            key = f"images_{slug(attribute)}"
            made[key] = image_grid(rows.images, plot_dir / f"{key}.png", columns=n_examples, marked_rows=rows.small,
                                   title=f"Real train images (real patients) vs synthetic, by {attribute}")
    return made

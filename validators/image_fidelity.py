"""Fidelity of synthetic images: how closely the synthetic images resemble the real training
images, overall and within every subgroup.

Array-level pieces; the image audit builds the arrays from its context. Images are float
[N, H, W, C] (channels last) scaled to [0, 1] by the schema's *public* pixel range.
Comparisons are synthetic vs real *train* (what the generator saw), first over all images
(attribute ``"overall"``), then within each group of each attribute the caller passes
(``real_groups[attribute][i]`` = the group label of real image i). Rows use the tidy
format of `context.RESULT_COLUMNS`, validator ``"fidelity"``:

- ``frechet_distance`` (model ``"feature_network"``): the Fréchet distance between Gaussians
  fitted to the real and the synthetic features of `image_models.embed` (the FID formula,
  Heusel et al. 2017). The feature network is the audit's small CNN trained on the real
  training images, NOT Inception-v3 (no pretrained weights can be downloaded here): values
  compare generators audited on the same data, never published FID numbers. Biased upwards
  for small sets (the covariance of ``CNN_HIDDEN`` features needs many images), so compare
  groups of similar size only;
- ``precision`` / ``recall`` (model ``"feature_network"``): the k-NN manifold precision and
  recall of Kynkäänniemi et al. (2019), k = ``PR_K`` = 3, in the same feature space:
  precision = share of synthetic images inside the real manifold (the union of balls
  around each real feature reaching its k-th nearest real neighbour), recall = share of
  real images inside the synthetic manifold. Precision measures quality, recall coverage
  (a mode-collapsed generator has recall near 0);
- ``detection_auc`` (model ``"detector"``): the audit CNN (`image_models.fit_cnn`, two
  classes) trained to tell real (0) from synthetic (1) images, balanced by subsampling the
  larger side (at most ``DETECTION_MAX_IMAGES`` per side), ``N_FOLDS``-fold stratified
  cross-validation; the AUROC of the pooled out-of-fold scores. The images of one privacy
  unit (``*_keys``), and identical images whichever table they come from, stay in one fold
  (see `fidelity.detection_auc` for why copies must not straddle folds). The detector is
  trained ONCE on all images; a group's value is the AUROC of the same out-of-fold scores
  restricted to its images (does the detector recognise this group's synthetic images?),
  which costs no extra fits and stays defined for small groups. 0.5 = indistinguishable,
  1 = every synthetic image recognisable;
- ``pixel_tvd`` (``feature`` = channel): total variation distance between the pixel
  intensity histograms (``HIST_BINS`` equal bins on [0, 1]); 0 = identical, 1 = disjoint;
- ``pixel_wasserstein`` (``feature`` = channel): Wasserstein-1 distance between the pixel
  values (at most ``MAX_SAMPLES`` per side and channel, seeded); in units of the public
  pixel range;
- ``mean_pixel_tvd`` / ``mean_pixel_wasserstein`` (``feature=""``): means over channels.

``n`` is the number of images compared (real + synthetic; for ``detection_auc`` the images
the detector scored). As for tabular data (`fidelity`), a group with fewer than
``min_group_size`` images in either table is flagged ``small_group`` (still computed, never
silently averaged into anything); with fewer than ``MIN_ROWS`` = 2 in either table its
values are NaN, flag ``empty``. Each table is subsampled to ``max_images`` (seeded) first.
The audit reads real data and is NOT differentially private.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.linalg import sqrtm
from scipy.stats import wasserstein_distance
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold

from dpsynth.validators.context import AuditConfig, result_frame
from dpsynth.validators.detection import MIN_ROWS, N_FOLDS
from dpsynth.validators.image_models import CNN_STEPS, ImageCNN, check_images, embed, fit_cnn, predict_proba
from dpsynth.validators.series_fidelity import MAX_SAMPLES, fold_groups
from dpsynth.validators.tabular_encoding import sample_positions

VALIDATOR = "fidelity"
DETECTOR = "detector"
FEATURE_MODEL = "feature_network"
PR_K = 3                        # k of the k-NN manifolds (Kynkäänniemi et al. 2019 use 3)
HIST_BINS = 32                  # pixel-intensity histogram bins on [0, 1]
DETECTION_MAX_IMAGES = 5_000    # images per side for the detector (seeded subsample)
FRECHET_EPS = 1e-6              # added to both covariance diagonals when sqrtm fails
IMAG_TOLERANCE = 1e-3           # relative imaginary part of sqrtm tolerated (then dropped)
ROOT_TOLERANCE = 1e-3           # relative residual |X X - A| / |A| above which sqrtm is retried with eps
DISTANCE_TOLERANCE = 1e-9       # relative slack on squared distances (rounding of |x|² + |y|² - 2 x·y)
DISTANCE_CHUNK = 1024           # rows per block of pairwise distances (bounds memory)
CHANNEL_NAMES = {1: ("grey",), 3: ("red", "green", "blue")}
_SALT = 107                     # seeds this validator's subsampling, folds and detector

SHAPE_MISMATCH = "real images have shape {real} per image but synthetic images {synthetic} (H, W, C)"
BAD_FEATURES = "features must be 2-D arrays [N, d] with the same d; got shapes {a} and {b}"
BAD_GROUPS = ("{side}_groups[{attribute!r}] must hold one group label per {side} image ({n}); "
              "got {problem}")
GROUP_KEYS = "real_groups and syn_groups must name the same attributes; got {real} and {synthetic}"
BAD_KEYS = "{side}_keys must hold one privacy-unit key per {side} image ({n}); got shape {shape}"
BAD_K = "k must be an integer >= 1; got {k!r}"
COMPLEX_SQRTM = ("the matrix square root in the Fréchet distance kept an imaginary part of {imag:.3g} "
                 "(relative) after adding {eps} to the covariance diagonals; its real part is used")


# -------------------------------------------------------------------- Fréchet distance
def frechet_distance(feat_a: np.ndarray, feat_b: np.ndarray, *, eps: float = FRECHET_EPS) -> float:
    """Fréchet distance ``|mu_a - mu_b|² + tr(S_a + S_b - 2 (S_a S_b)^½)`` between Gaussians
    fitted to two feature sets [n, d] (NaN when either has fewer than 2 rows).

    Numerical guards (as pytorch-fid): when ``scipy.linalg.sqrtm`` returns non-finite values
    or a poor root (singular covariances: fewer images than dimensions, dead units), ``eps``
    is added to both diagonals and the root recomputed; a tiny imaginary part (rounding) is
    dropped, a larger one is dropped with a warning (`COMPLEX_SQRTM`). Never below 0.
    """
    a, b = _features(feat_a, feat_b)
    if len(a) < 2 or len(b) < 2:
        return np.nan
    mu = a.mean(0) - b.mean(0)
    s_a = np.atleast_2d(np.cov(a, rowvar=False))
    s_b = np.atleast_2d(np.cov(b, rowvar=False))
    root = _sqrtm(s_a @ s_b)
    if root is None:
        offset = eps * np.eye(len(s_a))
        s_a, s_b = s_a + offset, s_b + offset
        root = _sqrtm(s_a @ s_b, force=True)
    scale = max(1.0, float(np.abs(root.real).max()) if root.size else 1.0)
    imag = float(np.abs(root.imag).max()) / scale if np.iscomplexobj(root) and root.size else 0.0
    if imag > IMAG_TOLERANCE:
        warnings.warn(COMPLEX_SQRTM.format(imag=imag, eps=eps), stacklevel=2)
    value = mu @ mu + np.trace(s_a) + np.trace(s_b) - 2.0 * np.trace(root.real)
    return float(max(value, 0.0))


def _sqrtm(matrix: np.ndarray, *, force: bool = False) -> np.ndarray | None:
    """``sqrtm(matrix)``, or None when it is non-finite, inaccurate or too complex (unless ``force``)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        root = np.asarray(sqrtm(matrix))
    if force:
        return np.nan_to_num(root)
    if not np.isfinite(root).all():
        return None
    norm = np.linalg.norm(matrix)
    residual = np.linalg.norm(root @ root - matrix) / norm if norm > 0 else 0.0
    scale = max(1.0, float(np.abs(root.real).max()) if root.size else 1.0)
    imag = float(np.abs(root.imag).max()) / scale if np.iscomplexobj(root) and root.size else 0.0
    return None if residual > ROOT_TOLERANCE or imag > IMAG_TOLERANCE else root


def _features(feat_a: np.ndarray, feat_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(feat_a, dtype=np.float64), np.asarray(feat_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(BAD_FEATURES.format(a=a.shape, b=b.shape))
    return a, b


# ----------------------------------------------------------------- precision / recall
def precision_recall(real_feat: np.ndarray, syn_feat: np.ndarray, *, k: int = PR_K) -> tuple[float, float]:
    """k-NN manifold ``(precision, recall)`` of Kynkäänniemi et al. (2019), see the module
    docstring. A point lies inside a manifold when its distance to some member is at most
    that member's distance to its own k-th nearest neighbour (itself excluded). NaN for a
    side with ``k`` images or fewer (its radii are undefined)."""
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(BAD_K.format(k=k))
    real, syn = _features(real_feat, syn_feat)
    precision = _coverage(syn, real, _kth_radius_sq(real, k)) if len(real) > k and len(syn) else np.nan
    recall = _coverage(real, syn, _kth_radius_sq(syn, k)) if len(syn) > k and len(real) else np.nan
    return precision, recall


def _squared_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    d = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * x @ y.T
    return np.maximum(d, 0.0)


def _kth_radius_sq(x: np.ndarray, k: int) -> np.ndarray:
    """Squared distance of each row to its k-th nearest other row (the zero to itself skipped)."""
    out = np.empty(len(x))
    for start in range(0, len(x), DISTANCE_CHUNK):
        d = _squared_distances(x[start:start + DISTANCE_CHUNK], x)
        out[start:start + DISTANCE_CHUNK] = np.partition(d, k, axis=1)[:, k]
    return out


def _coverage(points: np.ndarray, members: np.ndarray, radius_sq: np.ndarray) -> float:
    """Share of ``points`` within the ball of at least one of ``members``."""
    inside = 0
    scale = max(float((members * members).sum(1).max()), float((points * points).sum(1).max()), 1.0)
    slack = DISTANCE_TOLERANCE * scale
    for start in range(0, len(points), DISTANCE_CHUNK):
        d = _squared_distances(points[start:start + DISTANCE_CHUNK], members)
        inside += int((d <= radius_sq[None, :] + slack).any(axis=1).sum())
    return inside / len(points)


# ------------------------------------------------------------------------- detection
@dataclass
class DetectionScores:
    """Out-of-fold detector scores: ``real`` / ``synthetic`` are the positions (in the arrays
    passed to `detection_scores`) of the images the detector saw, ``*_scores`` their
    out-of-fold P(synthetic) (NaN for an image no fold scored)."""

    real: np.ndarray
    synthetic: np.ndarray
    real_scores: np.ndarray
    synthetic_scores: np.ndarray

    def auc(self, real_mask: np.ndarray | None = None, synthetic_mask: np.ndarray | None = None) -> float:
        """AUROC of the pooled out-of-fold scores, optionally restricted to the images whose
        entry of ``*_mask`` (boolean over the *input* positions) is True; NaN when a side is empty."""
        r = self.real_scores if real_mask is None else self.real_scores[np.asarray(real_mask)[self.real]]
        s = (self.synthetic_scores if synthetic_mask is None
             else self.synthetic_scores[np.asarray(synthetic_mask)[self.synthetic]])
        r, s = r[np.isfinite(r)], s[np.isfinite(s)]
        if len(r) == 0 or len(s) == 0:
            return np.nan
        return float(roc_auc_score(np.r_[np.zeros(len(r)), np.ones(len(s))], np.r_[r, s]))

    def count(self, real_mask: np.ndarray | None = None, synthetic_mask: np.ndarray | None = None) -> int:
        """Images scored (real + synthetic) within the masks."""
        r = np.isfinite(self.real_scores if real_mask is None else self.real_scores[np.asarray(real_mask)[self.real]])
        s = np.isfinite(self.synthetic_scores if synthetic_mask is None
                        else self.synthetic_scores[np.asarray(synthetic_mask)[self.synthetic]])
        return int(r.sum() + s.sum())


def detection_scores(real_images: np.ndarray, syn_images: np.ndarray, *, seed: int,
                     real_keys: np.ndarray | None = None, synthetic_keys: np.ndarray | None = None,
                     steps: int = CNN_STEPS, max_images: int = DETECTION_MAX_IMAGES,
                     device: str = "cpu") -> DetectionScores:
    """Cross-validated real-vs-synthetic detector (see the module docstring): balanced
    subsample, ``N_FOLDS`` stratified group folds (one privacy unit and identical images per
    fold, `series_fidelity.fold_groups`), one `fit_cnn` per fold (``steps`` for quick tests
    only), out-of-fold P(synthetic) per image. ``*_keys``: the privacy unit of each image
    (default: every image its own unit). ``device``: where the detector trains (CPU by default)."""
    real, syn = _pair(real_images, syn_images)
    real_keys = _keys(real_keys, len(real), "real")
    synthetic_keys = _keys(synthetic_keys, len(syn), "synthetic")
    rng = np.random.default_rng([int(seed), _SALT])
    n = min(len(real), len(syn), int(max_images))
    pick_real = np.sort(rng.choice(len(real), size=n, replace=False))
    pick_syn = np.sort(rng.choice(len(syn), size=n, replace=False))
    out = DetectionScores(pick_real, pick_syn, np.full(n, np.nan), np.full(n, np.nan))
    if n < MIN_ROWS:
        return out
    x = np.concatenate([real[pick_real], syn[pick_syn]])
    y = np.r_[np.zeros(n, int), np.ones(n, int)]
    keys = np.r_[np.array([f"real:{k}" for k in real_keys[pick_real]], dtype=object),
                 np.array([f"synthetic:{k}" for k in synthetic_keys[pick_syn]], dtype=object)]
    groups = fold_groups(keys, x.reshape(len(x), -1))
    folds = min(N_FOLDS, len(np.unique(groups[y == 0])), len(np.unique(groups[y == 1])))
    if folds < 2:
        return out
    scores = np.full(2 * n, np.nan)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=int(rng.integers(2**31 - 1)))
    fold_seed = int(rng.integers(2**31 - 1))
    for fold, (train_idx, test_idx) in enumerate(splitter.split(x, y, groups)):
        if len(np.unique(y[train_idx])) < 2:
            continue
        net = fit_cnn(x[train_idx], y[train_idx], n_classes=2, seed=fold_seed + fold, steps=steps, device=device)
        scores[test_idx] = predict_proba(net, x[test_idx])[:, 1]
    out.real_scores, out.synthetic_scores = scores[:n], scores[n:]
    return out


def detection_auc(real_images: np.ndarray, syn_images: np.ndarray, *, seed: int,
                  real_keys: np.ndarray | None = None, synthetic_keys: np.ndarray | None = None,
                  steps: int = CNN_STEPS, device: str = "cpu") -> float:
    """AUROC of the pooled out-of-fold scores of `detection_scores` (0.5 = indistinguishable)."""
    return detection_scores(real_images, syn_images, seed=seed, real_keys=real_keys,
                            synthetic_keys=synthetic_keys, steps=steps, device=device).auc()


def _pair(real_images: np.ndarray, syn_images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    real, syn = check_images(real_images), check_images(syn_images)
    if real.shape[1:] != syn.shape[1:]:
        raise ValueError(SHAPE_MISMATCH.format(real=real.shape[1:], synthetic=syn.shape[1:]))
    return real, syn


def _keys(keys: np.ndarray | None, n: int, side: str) -> np.ndarray:
    if keys is None:
        return np.arange(n).astype(str).astype(object)
    array = np.asarray(keys, dtype=object)
    if array.shape != (n,):
        raise ValueError(BAD_KEYS.format(side=side, n=n, shape=array.shape))
    return array.astype(str).astype(object)


# ----------------------------------------------------------------- pixel intensities
def channel_names(channels: int) -> tuple[str, ...]:
    """``grey`` / ``red, green, blue``, else ``channel0, channel1, ...``."""
    return CHANNEL_NAMES.get(channels, tuple(f"channel{c}" for c in range(channels)))


def pixel_histograms(images: np.ndarray, *, bins: int = HIST_BINS) -> np.ndarray:
    """Normalised pixel-intensity histograms [C, bins] on [0, 1] (NaN rows for no images)."""
    images = check_images(images)
    edges = np.linspace(0.0, 1.0, bins + 1)
    channels = images.shape[3]
    out = np.full((channels, bins), np.nan)
    if len(images):
        for c in range(channels):
            counts, _ = np.histogram(np.clip(images[..., c], 0.0, 1.0), bins=edges)
            out[c] = counts / counts.sum()
    return out


def pixel_tvd(real_images: np.ndarray, syn_images: np.ndarray, *, bins: int = HIST_BINS) -> np.ndarray:
    """Per channel, the total variation distance between the pixel-intensity histograms [C]."""
    real, syn = _pair(real_images, syn_images)
    return 0.5 * np.abs(pixel_histograms(real, bins=bins) - pixel_histograms(syn, bins=bins)).sum(1)


def pixel_wasserstein(real_images: np.ndarray, syn_images: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Per channel, the Wasserstein-1 distance between the pixel values [C] (at most
    ``MAX_SAMPLES`` values per side, seeded); NaN for a side without images."""
    real, syn = _pair(real_images, syn_images)
    rng = np.random.default_rng([int(seed), _SALT])
    out = np.full(real.shape[3], np.nan)
    if len(real) and len(syn):
        for c in range(real.shape[3]):
            a, b = (_subsample(side[..., c].ravel(), rng) for side in (real, syn))
            out[c] = wasserstein_distance(a, b)
    return out


def _subsample(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    values = values.astype(np.float64)
    return rng.choice(values, size=MAX_SAMPLES, replace=False) if len(values) > MAX_SAMPLES else values


# ------------------------------------------------------------------------ the rows
def evaluate_images(real_images: np.ndarray, syn_images: np.ndarray, *, real_groups: dict[str, np.ndarray],
                    syn_groups: dict[str, np.ndarray], feature_net: ImageCNN,
                    min_group_size: int = AuditConfig.min_group_size, seed: int = 0,
                    real_keys: np.ndarray | None = None, synthetic_keys: np.ndarray | None = None,
                    group_order: dict[str, list[str]] | None = None,
                    max_images: int | None = AuditConfig.max_rows,
                    detector_steps: int = CNN_STEPS, device: str = "cpu") -> pd.DataFrame:
    """Image fidelity rows overall and per group (see the module docstring).

    ``real_groups`` / ``syn_groups``: ``{attribute: group label per image}`` with the same
    attributes (intersections are the caller's: pass ``"a×b"`` with labels ``"x & y"`` as
    `AuditContext.groups_of` builds them). Groups are listed in ``group_order[attribute]``
    (e.g. the schema's domain order) first, then any other label sorted. ``feature_net``:
    from `image_models.feature_network` on the real training images. ``*_keys``: privacy
    unit per image for the detector's folds. ``detector_steps`` is for quick tests only;
    ``device`` is where the detector trains (the features run where ``feature_net`` lives).
    """
    real, syn = _pair(real_images, syn_images)
    real_groups, syn_groups = _check_groups(real_groups, len(real), "real"), _check_groups(syn_groups, len(syn), "syn")
    if list(real_groups) != list(syn_groups):
        raise ValueError(GROUP_KEYS.format(real=list(real_groups), synthetic=list(syn_groups)))
    real_keys, synthetic_keys = _keys(real_keys, len(real), "real"), _keys(synthetic_keys, len(syn), "synthetic")
    rng = np.random.default_rng([int(seed), _SALT])
    real_pos = sample_positions(len(real), max_rows=max_images, rng=rng)
    syn_pos = sample_positions(len(syn), max_rows=max_images, rng=rng)
    real, syn = real[real_pos], syn[syn_pos]
    real_groups = {a: g[real_pos] for a, g in real_groups.items()}
    syn_groups = {a: g[syn_pos] for a, g in syn_groups.items()}
    sub_seed = int(rng.integers(2**31 - 1))
    feat_real, feat_syn = embed(feature_net, real), embed(feature_net, syn)
    detection = detection_scores(real, syn, seed=sub_seed, real_keys=real_keys[real_pos],
                                 synthetic_keys=synthetic_keys[syn_pos], steps=detector_steps, device=device)
    names = channel_names(real.shape[3])

    def compare(m_real: np.ndarray, m_syn: np.ndarray, attribute: str, group: str) -> list[dict]:
        n_real, n_syn = int(m_real.sum()), int(m_syn.sum())
        empty = min(n_real, n_syn) < MIN_ROWS
        flag = "empty" if empty else "small_group" if min(n_real, n_syn) < min_group_size else ""
        base = {"validator": VALIDATOR, "model": "", "source": "", "attribute": attribute, "group": group,
                "feature": "", "n": n_real + n_syn, "flag": flag}

        def row(metric: str, value: float, **extra) -> dict:
            return {**base, "metric": metric, "value": np.nan if empty else float(value), **extra}

        if empty:
            fd = precision = recall = auc = np.nan
            tvds = wass = np.full(len(names), np.nan)
        else:
            fd = frechet_distance(feat_real[m_real], feat_syn[m_syn])
            precision, recall = precision_recall(feat_real[m_real], feat_syn[m_syn])
            auc = detection.auc(m_real, m_syn)
            tvds = pixel_tvd(real[m_real], syn[m_syn])
            wass = pixel_wasserstein(real[m_real], syn[m_syn], seed=sub_seed)
        rows = [row("frechet_distance", fd, model=FEATURE_MODEL), row("precision", precision, model=FEATURE_MODEL),
                row("recall", recall, model=FEATURE_MODEL),
                row("detection_auc", auc, model=DETECTOR, n=detection.count(m_real, m_syn))]
        for c, channel in enumerate(names):
            rows.append(row("pixel_tvd", tvds[c], feature=channel))
            rows.append(row("pixel_wasserstein", wass[c], feature=channel))
        rows.append(row("mean_pixel_tvd", _nanmean(tvds)))
        rows.append(row("mean_pixel_wasserstein", _nanmean(wass)))
        return rows

    rows = compare(np.ones(len(real), bool), np.ones(len(syn), bool), "overall", "")
    for attribute in real_groups:
        g_real, g_syn = real_groups[attribute], syn_groups[attribute]
        for group in _ordered(g_real, g_syn, (group_order or {}).get(attribute, [])):
            rows += compare(g_real == group, g_syn == group, attribute, group)
    return result_frame(rows)


def _check_groups(groups: dict[str, np.ndarray], n: int, side: str) -> dict[str, np.ndarray]:
    out = {}
    for attribute, labels in dict(groups).items():
        array = np.asarray(labels, dtype=object)
        if array.shape != (n,):
            raise ValueError(BAD_GROUPS.format(side=side, attribute=attribute, n=n, problem=f"shape {array.shape}"))
        out[str(attribute)] = array.astype(str).astype(object)
    return out


def _ordered(g_real: np.ndarray, g_syn: np.ndarray, order: list[str]) -> list[str]:
    """Groups present in either table: those of ``order`` first (in order), then the rest sorted."""
    present = set(pd.unique(g_real)) | set(pd.unique(g_syn))
    known = [str(g) for g in order if str(g) in present]
    return known + sorted(present - set(known))


def _nanmean(values: np.ndarray) -> float:
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    return float(finite.mean()) if len(finite) else np.nan

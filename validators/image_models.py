"""The small CNN of the image audit: the downstream classifier (TSTR / TRTR), the detector of
the fidelity validator and the feature network of the Fréchet distance and precision/recall.

Inputs are arrays, not tables: ``images`` float [N, H, W, C] (channels last) already scaled
to [0, 1] by the schema's *public* ``pixel_range``, and ``labels`` int class indices
0..K-1. The model and every setting are fixed a priori (no tuning, no early stopping,
nothing chosen by looking at real data) and seeded, so TSTR and TRTR are trained the same
way for every generator:

- `ImageCNN`: pixels scaled to [-1, 1]; one 3×3 ``Conv2d`` (``CNN_FILTERS[0]`` filters,
  stride 1) then stride-2 3×3 convs (``CNN_FILTERS[1:]``, the last repeated) until the map
  is at most ``CNN_MIN_SIZE`` pixels on its shorter side (8×8 → 4×4 with one, 28×28 and
  32×32 → 4×4 with three), each conv followed by BatchNorm and ReLU; the final map is
  flattened (digits are not translation invariant enough for global pooling at 4×4), then
  a linear layer to ``CNN_HIDDEN`` units + ReLU (the *features*, see `embed`) and one
  linear output per class. BatchNorm is allowed here: this model is never trained under
  DP and never sees the release, it only scores it.
- Training (`fit_cnn`): Adam (lr ``CNN_LR``) on the cross-entropy for a fixed number of
  *steps*, ``CNN_STEPS`` batches of ``CNN_BATCH`` images drawn uniformly with replacement
  (seeded). The number of steps, not of epochs, is fixed: a generator may emit ten times
  fewer or more images than the real training set holds, and a fixed epoch count would
  give TSTR a fraction (or a multiple) of TRTR's optimisation, measuring the training
  budget instead of the data (as for the series CNN in `series_models`).
- Trained networks are remembered (`fit_cnn`'s memo): training is seeded and deterministic,
  so a second call with the same images, labels, classes, seed, steps and device returns a
  copy of the network the first call trained instead of training it again. Audits of
  several generators against the same real data (a benchmark, a notebook comparing
  models) then train the TRTR CNN and the feature network once per seed, not once per
  generator. At most ``CNN_MEMO_SIZE`` networks are kept (least recently used dropped).
- Torch runs on ``CNN_THREADS`` intra-op threads (`series_models.torch_threads`: more
  threads spin-wait on shared CPU cores), on the CPU unless ``device`` says otherwise.

The **feature network** (`feature_network`) is the same CNN trained on the *real training*
images and their labels; `embed` returns its ``CNN_HIDDEN`` penultimate activations. No
pretrained network (Inception-v3 for FID, VGG-16 for precision/recall) can be downloaded
here, so Fréchet distances and precision/recall computed in this space are comparable
between generators audited on the same real data, but NOT with published FID values.
Without labels (``labels=None``) the network is left at its seeded random initialisation
(random-feature embeddings: still a valid two-sample comparison, but blind to what
distinguishes the classes); say so where it is used.

The audit reads real data and is NOT differentially private.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from contextlib import nullcontext

import numpy as np
import torch
from torch import nn

from dpsynth.validators.series_models import CNN_THREADS, torch_threads

# Fixed a priori (see the module docstring).
CNN_FILTERS = (16, 32, 64)
CNN_MIN_SIZE = 4          # stride-2 layers until the shorter side is at most this
CNN_HIDDEN = 64           # penultimate width = feature dimension of `embed`
CNN_STEPS = 300
CNN_BATCH = 128
CNN_LR = 2e-3
PREDICT_BATCH = 1024
CNN_MEMO_SIZE = 8         # trained networks `fit_cnn` remembers (least recently used dropped)
_SALT = 17                # mixed into the seed of the initialisation and the batches

BAD_IMAGES = ("images must be a finite float array [N, H, W, C] (channels last) scaled to [0, 1] by "
              "the public pixel_range; got {problem}")
BAD_LABELS = "labels must be {n} integer class indices in 0..{top} (n_classes={k}); got {problem}"
BAD_CLASSES = "n_classes must be an integer >= 2; got {k!r}"
NO_IMAGES = "cannot fit the image CNN on 0 images"
SHAPE_MISMATCH = "images of shape {got} do not match the network's input shape {expected} (H, W, C)"
RANGE_TOLERANCE = 1e-5    # pixels this far outside [0, 1] are still accepted (float rounding)


# ------------------------------------------------------------------------ checks
def check_images(images: np.ndarray) -> np.ndarray:
    """``images`` as a float32 [N, H, W, C] array in [0, 1]; ValueError (`BAD_IMAGES`) otherwise."""
    array = np.asarray(images)
    if array.ndim != 4:
        raise ValueError(BAD_IMAGES.format(problem=f"an array of shape {array.shape}"))
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(BAD_IMAGES.format(problem=f"dtype {array.dtype}"))
    array = array.astype(np.float32, copy=False)
    if array.size:
        if not np.isfinite(array).all():
            raise ValueError(BAD_IMAGES.format(problem="NaN or infinite pixels"))
        low, high = float(array.min()), float(array.max())
        if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
            raise ValueError(BAD_IMAGES.format(problem=f"values in [{low:.4g}, {high:.4g}]"))
    return array


def check_labels(labels: np.ndarray, *, n: int, n_classes: int) -> np.ndarray:
    """``labels`` as an int64 vector of ``n`` class indices in 0..n_classes-1 (`BAD_LABELS`)."""
    if not isinstance(n_classes, (int, np.integer)) or isinstance(n_classes, bool) or n_classes < 2:
        raise ValueError(BAD_CLASSES.format(k=n_classes))
    array = np.asarray(labels)

    def bad(problem: str) -> ValueError:
        return ValueError(BAD_LABELS.format(n=n, top=n_classes - 1, k=n_classes, problem=problem))

    if array.shape != (n,):
        raise bad(f"shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if not np.issubdtype(array.dtype, np.floating) or not np.all(np.mod(array, 1) == 0):
            raise bad(f"non-integer values of dtype {array.dtype}")
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= n_classes):
        raise bad(f"values in [{array.min()}, {array.max()}]")
    return array


# --------------------------------------------------------------------------- model
def cnn_depth(height: int, width: int) -> int:
    """Stride-2 layers that bring the shorter side to at most ``CNN_MIN_SIZE`` (at least 1)."""
    side = min(height, width)
    return max(1, int(np.ceil(np.log2(max(side, 1) / CNN_MIN_SIZE))))


class ImageCNN(nn.Module):
    """Conv + BatchNorm + ReLU stack, flatten, ``CNN_HIDDEN`` features, one logit per class
    (see the module docstring). Takes images [batch, H, W, C] in [0, 1]."""

    def __init__(self, height: int, width: int, channels: int, n_classes: int):
        super().__init__()
        self.input_shape = (int(height), int(width), int(channels))
        self.n_classes = int(n_classes)
        layers: list[nn.Module] = [nn.Conv2d(channels, CNN_FILTERS[0], 3, padding=1),
                                   nn.BatchNorm2d(CNN_FILTERS[0]), nn.ReLU()]
        width_in, h, w = CNN_FILTERS[0], height, width
        for i in range(cnn_depth(height, width)):
            filters = CNN_FILTERS[min(i + 1, len(CNN_FILTERS) - 1)]
            layers += [nn.Conv2d(width_in, filters, 3, stride=2, padding=1), nn.BatchNorm2d(filters), nn.ReLU()]
            width_in, h, w = filters, (h + 1) // 2, (w + 1) // 2
        self.body = nn.Sequential(*layers)
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(width_in * h * w, CNN_HIDDEN), nn.ReLU())
        self.head = nn.Linear(CNN_HIDDEN, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features [batch, CNN_HIDDEN] of images [batch, H, W, C] in [0, 1]."""
        return self.features(self.body(2.0 * x.permute(0, 3, 1, 2) - 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


def _seed(seed: int) -> int:
    return int(np.random.default_rng([int(seed), _SALT]).integers(2**31 - 1))


def _threads(device: str | torch.device):
    return torch_threads(CNN_THREADS) if torch.device(device).type == "cpu" else nullcontext()


def fit_cnn(images: np.ndarray, labels: np.ndarray, *, n_classes: int, seed: int, steps: int = CNN_STEPS,
            device: str | torch.device = "cpu") -> ImageCNN:
    """Train `ImageCNN` for ``steps`` (default ``CNN_STEPS``) steps on ``images`` [N, H, W, C] in
    [0, 1] and int ``labels`` 0..n_classes-1 (see the module docstring); returns the network in
    eval mode. The audit always uses the default; ``steps`` exists for quick tests.
    A repeated call returns a copy of the network trained the first time (see the module
    docstring): the result is the same, the training is not repeated.

    A class absent from ``labels`` simply gets no training signal (its probability stays
    low); callers that need both classes present flag that case themselves (as
    `models.training_flag` does for tabular data).
    """
    images = check_images(images)
    labels = check_labels(labels, n=len(images), n_classes=n_classes)
    if len(images) == 0:
        raise ValueError(NO_IMAGES)
    key = _memo_key(images, labels, n_classes=n_classes, seed=seed, steps=steps, device=device)
    if key in _TRAINED:
        _TRAINED.move_to_end(key)
        return _from_state(_TRAINED[key], images.shape[1:], n_classes, device)
    net = _train_cnn(images, labels, n_classes=n_classes, seed=_seed(seed), steps=steps, device=device)
    _TRAINED[key] = {name: value.detach().cpu().clone() for name, value in net.state_dict().items()}
    while len(_TRAINED) > CNN_MEMO_SIZE:
        _TRAINED.popitem(last=False)
    return net


def _train_cnn(images: np.ndarray, labels: np.ndarray, *, n_classes: int, seed: int, steps: int,
               device: str | torch.device) -> ImageCNN:
    rng = np.random.default_rng(seed)
    batches = rng.integers(len(images), size=(int(steps), min(CNN_BATCH, len(images))))
    x = torch.from_numpy(np.ascontiguousarray(images))
    y = torch.from_numpy(labels)
    with _threads(device):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = ImageCNN(*images.shape[1:], n_classes).to(device)
        x, y = x.to(device), y.to(device)
        optimiser = torch.optim.Adam(net.parameters(), lr=CNN_LR)
        loss_fn = nn.CrossEntropyLoss()
        net.train()
        for batch in batches:
            index = torch.from_numpy(batch).to(device)
            if len(index) == 1:  # BatchNorm needs two values per channel: repeat a lone image
                index = index.repeat(2)
            optimiser.zero_grad(set_to_none=True)
            loss_fn(net(x[index]), y[index]).backward()
            optimiser.step()
    return net.eval()


_TRAINED: OrderedDict[str, dict[str, torch.Tensor]] = OrderedDict()  # memo key -> state dict (on the CPU)


def _memo_key(images: np.ndarray, labels: np.ndarray, **settings) -> str:
    """A digest of everything `fit_cnn`'s result depends on: the arrays' bytes, shapes and
    dtypes, and the settings (the device by name: a GPU may train a different network)."""
    digest = hashlib.sha256()
    for array in (images, labels):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}{array.dtype}".encode())
        digest.update(array.tobytes())
    settings["device"] = str(torch.device(settings["device"]))
    digest.update(repr(sorted(settings.items())).encode())
    return digest.hexdigest()


def _from_state(state: dict[str, torch.Tensor], shape: tuple[int, ...], n_classes: int,
                device: str | torch.device) -> ImageCNN:
    """A fresh network holding a remembered state (a copy: callers may change theirs)."""
    with torch.random.fork_rng(devices=[]):  # building the layers must not move the caller's RNG
        net = ImageCNN(*shape, n_classes)
    net.load_state_dict(state)
    return net.to(device).eval()


def _apply(net: ImageCNN, images: np.ndarray, fn) -> np.ndarray:
    images = check_images(images)
    if images.shape[1:] != net.input_shape:
        raise ValueError(SHAPE_MISMATCH.format(got=images.shape[1:], expected=net.input_shape))
    device = next(net.parameters()).device
    out = []
    net.eval()
    with _threads(device), torch.inference_mode():
        for start in range(0, len(images), PREDICT_BATCH):
            chunk = torch.from_numpy(np.ascontiguousarray(images[start:start + PREDICT_BATCH])).to(device)
            out.append(fn(chunk).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def predict_proba(net: ImageCNN, images: np.ndarray) -> np.ndarray:
    """Class probabilities [N, n_classes] (float64, rows sum to 1) for ``images`` [N, H, W, C]."""
    probs = _apply(net, images, lambda x: torch.softmax(net(x), dim=1))
    return probs.reshape(len(probs), net.n_classes)


# ----------------------------------------------------------------- feature network
def feature_network(real_train_images: np.ndarray, labels: np.ndarray | None, *, seed: int,
                    n_classes: int | None = None, device: str | torch.device = "cpu") -> ImageCNN:
    """The network whose `embed` features the Fréchet distance and precision/recall compare:
    `fit_cnn` on the REAL training images and their class labels (``n_classes`` defaults to
    ``labels.max() + 1``, at least 2). No pretrained weights exist offline, so distances in
    this space are not comparable with published FID values (see the module docstring).
    ``labels=None``: the seeded, untrained network (random features)."""
    images = check_images(real_train_images)
    if labels is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_seed(seed))
            return ImageCNN(*images.shape[1:], n_classes or 2).to(device).eval()
    if n_classes is None:
        values = np.asarray(labels)
        n_classes = max(2, int(values.max()) + 1) if values.size and np.issubdtype(values.dtype, np.number) else 2
    return fit_cnn(images, labels, n_classes=n_classes, seed=seed, device=device)


def embed(net: ImageCNN, images: np.ndarray) -> np.ndarray:
    """Penultimate features [N, CNN_HIDDEN] (float64) of ``images`` [N, H, W, C] in [0, 1]."""
    feats = _apply(net, images, net.embed)
    return feats.reshape(len(feats), CNN_HIDDEN)

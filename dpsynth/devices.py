"""Where a generator trains and samples: ``device="auto"`` (a CUDA GPU when one is present,
else the CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

The device changes speed, not privacy: the units are Poisson-sampled on the CPU by opacus'
data loader whatever the device, each batch is then moved to the device, and the clipping
and noise are the same arithmetic there. Sampling a trained model is reproducible for a given
seed *on a given device*; a GPU and the CPU draw different random numbers. (A fit is never
reproducible: its private draws come from OS entropy, `dpsynth.privacy.randomness`.)
"""

from __future__ import annotations

import torch

from dpsynth.errors import DpsynthError

DEVICE_CHOICES = "'auto', 'cpu', 'cuda' or 'cuda:N'"
UNKNOWN_DEVICE = "device must be " + DEVICE_CHOICES + " (got {device!r})"
NO_CUDA = (
    "device {device!r} asks for a CUDA GPU, but torch sees none here (torch {version}, "
    "cuda available: no); use device='auto' or 'cpu' (CLI: --device cpu)"
)
NO_SUCH_GPU = "device {device!r}: this machine has {count} CUDA GPU(s) (cuda:0 .. cuda:{last}); pick one of them"


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """The torch device for a device setting, with a clear error if it cannot be used here."""
    name = "auto" if device is None else str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise DpsynthError(NO_CUDA.format(device=name, version=torch.__version__))
        index = int(name[5:]) if ":" in name else 0
        count = torch.cuda.device_count()
        if index >= count:
            raise DpsynthError(NO_SUCH_GPU.format(device=name, count=count, last=count - 1))
        return torch.device(name)
    raise DpsynthError(UNKNOWN_DEVICE.format(device=device))


def module_device(module: torch.nn.Module) -> torch.device:
    """The device of a module's parameters (the CPU for a module without any)."""
    parameter = next(module.parameters(), None)
    return torch.device("cpu") if parameter is None else parameter.device

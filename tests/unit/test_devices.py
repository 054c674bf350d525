"""Device choice: 'auto' picks a GPU only when torch sees one; impossible choices fail clearly."""

import pytest
import torch

from dpsynth.devices import module_device, resolve_device
from dpsynth.errors import DpsynthError


def test_auto_and_cpu_resolve_here():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(None).type == expected
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without a GPU")
def test_cuda_without_gpu_names_the_fix():
    for name in ("cuda", "cuda:0"):
        with pytest.raises(DpsynthError, match=r"--device cpu"):
            resolve_device(name)


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "tpu", ""])
def test_unknown_device_lists_the_choices(name):
    with pytest.raises(DpsynthError, match="'auto', 'cpu', 'cuda' or 'cuda:N'"):
        resolve_device(name)


def test_module_device():
    assert module_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert module_device(torch.nn.SiLU()) == torch.device("cpu")

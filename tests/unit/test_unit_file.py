"""`UnitFile`: unit records appended to an anonymous file and read back a batch at a time."""

import pickle

import pytest
import torch

from dpsynth.unit_file import UnitFile


def test_a_unit_file_reads_back_what_was_appended_and_is_never_pickled():
    store = UnitFile(2, 3, 1)
    x, c, mask = torch.arange(24.0).reshape(4, 2, 3), torch.ones(4, 2, 1), torch.tensor([[1.0, 0.0]] * 4)
    store.append(x[:3], c[:3], mask[:3])
    store.append(x[3:], c[3:], mask[3:])
    assert len(store) == 4
    got = store.__getitems__([3, 0])
    assert torch.equal(got[0][0], x[3]) and torch.equal(got[1][0], x[0]) and torch.equal(got[0][2], mask[3])
    with pytest.raises(IndexError):
        store[4]
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(store)
    store.close()

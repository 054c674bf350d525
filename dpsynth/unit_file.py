"""`UnitFile`: encoded training units on disk, read a DP-SGD batch at a time.

For data too large to hold encoded in memory (a million rows of a few hundred one-hot and
bin columns are gigabytes), the units are appended a chunk at a time to an anonymous
temporary file — it has no name in any folder and the operating system frees it when the
process ends, even when the process is killed — and the training loop reads each
Poisson-sampled batch from it. Memory then stays flat in the number of units: only one
chunk, one batch and the page cache (not the process's own memory) hold rows.

Each unit is one record: its rows' features x [R, width], conditions c [R, C] and row mask
[R], float32, one after the other; a batch is read with one ``pread`` per unit.
"""

from __future__ import annotations

import os
import tempfile
from multiprocessing.context import get_spawning_popen
from multiprocessing.reduction import DupFd
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset


class UnitFile(Dataset):
    """Fixed-size unit records (x [R, width], c [R, C], row mask [R]) in an anonymous file."""

    def __init__(self, rows: int, width: int, condition_width: int):
        self.shapes = ((rows, width), (rows, condition_width), (rows,))
        self.sizes = [int(np.prod(shape)) for shape in self.shapes]
        self.record = sum(self.sizes) * 4  # bytes per unit
        self.handle = tempfile.TemporaryFile(prefix="dpsynth-units-")  # unnamed: never left behind
        self.n = 0

    def append(self, x: torch.Tensor, c: torch.Tensor, row_mask: torch.Tensor) -> None:
        """Add units (x [U, R, width], c [U, R, C], row mask [U, R]) at the end of the file."""
        parts = [np.asarray(t, dtype=np.float32).reshape(len(x), -1) for t in (x, c, row_mask)]
        self.handle.seek(0, os.SEEK_END)
        self.handle.write(np.concatenate(parts, axis=1).tobytes())
        self.handle.flush()  # batches are read with pread on the descriptor, past Python's buffer
        self.n += len(x)

    def __len__(self) -> int:
        return self.n

    def _read(self, index: int) -> tuple[torch.Tensor, ...]:
        if not 0 <= index < self.n:
            raise IndexError(index)
        flat = np.frombuffer(os.pread(self.handle.fileno(), self.record, index * self.record), dtype=np.float32)
        ends = np.cumsum(self.sizes)[:-1]
        return tuple(torch.from_numpy(part.copy().reshape(shape))
                     for part, shape in zip(np.split(flat, ends), self.shapes))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        return self._read(int(index))

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, ...]]:
        """A batch: torch's loader calls this with the sampled indices (one read per unit)."""
        return [self._read(int(i)) for i in indices]

    def tensors(self) -> tuple[torch.Tensor, ...]:
        """Every unit in memory (for small files and tests)."""
        items = [self._read(i) for i in range(self.n)]
        return tuple(torch.stack(parts) for parts in zip(*items)) if items else ()

    def close(self) -> None:
        self.handle.close()

    def __reduce__(self) -> tuple[Any, ...]:
        """Never pickled to bytes; only handed to a process being started (data-parallel
        training), which receives a duplicate of the open descriptor, not the data."""
        if get_spawning_popen() is None:
            raise TypeError("a UnitFile holds private training data in an open file: it is not pickled")
        return _reopened, (DupFd(self.handle.fileno()), self.shapes, self.n)


def _reopened(descriptor: Any, shapes: tuple[tuple[int, ...], ...], n: int) -> UnitFile:
    """The `UnitFile` a started process gets: the parent's anonymous file, by its descriptor."""
    units = UnitFile.__new__(UnitFile)
    units.shapes = shapes
    units.sizes = [int(np.prod(shape)) for shape in shapes]
    units.record = sum(units.sizes) * 4
    units.handle = os.fdopen(descriptor.detach(), "r+b")
    units.n = n
    return units

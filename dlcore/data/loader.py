"""A NumPy mini-batch iterator shaped like ``torch.utils.data.DataLoader`` (chapter 07).

::

    loader = DataLoader(X, y, batch_size=64, shuffle=True, seed=0)
    for xb, yb in loader:        # xb: (B, ...), yb: (B,); B = 64 except maybe the last
        ...
    len(loader)                  # number of batches per epoch

Every batch is a **fresh copy**, with or without shuffling (as torch's DataLoader, which
collates new tensors): editing a batch in place (``xb -= 100``) never changes the
dataset, and never changes the next epoch's batches.
"""

from __future__ import annotations

import math

import numpy as np

from .base import Dataset, _as_rng


class DataLoader:
    """Iterate over mini-batches of arrays that share their first dimension.

    Args:
        *arrays: one or more arrays of shape ``(N, ...)``, or a single
            :class:`~dlcore.data.base.Dataset` (its ``X`` and ``y`` are used).
        batch_size: samples per batch, B.
        shuffle: draw a new random order at the start of every epoch (True or False).
        drop_last: skip the last batch if it has fewer than ``batch_size`` samples
            (True or False).
        seed: an int seed or a ``numpy.random.Generator`` for the shuffles. Two
            loaders with the same seed give identical batches, epoch after epoch.

    Iterating yields a tuple of batches, one per array, or the batch itself when
    there is a single array. Each batch is a copy (see the module docstring). The arrays
    must have at least one sample.
    """

    def __init__(self, *arrays, batch_size: int = 32, shuffle: bool = False, drop_last: bool = False, seed=0):
        if len(arrays) == 1 and isinstance(arrays[0], Dataset):
            arrays = (arrays[0].X, arrays[0].y)
        if not arrays:
            raise ValueError("DataLoader needs at least one array, e.g. DataLoader(X, y, batch_size=32)")
        self.arrays = tuple(np.asarray(a) for a in arrays)
        lengths = [len(a) if a.ndim else None for a in self.arrays]
        if None in lengths or len(set(lengths)) != 1:
            shapes = ", ".join(str(a.shape) for a in self.arrays)
            raise ValueError(f"DataLoader arrays must share their first dimension N, got shapes {shapes}")
        if lengths[0] == 0:
            shapes = ", ".join(str(a.shape) for a in self.arrays)
            raise ValueError(f"DataLoader got empty arrays (no samples), shapes {shapes}")
        if (
            isinstance(batch_size, (bool, np.bool_))
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1
        ):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        for name, value in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"DataLoader {name} must be True or False, got {value!r}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.rng = _as_rng(seed)

    @property
    def n_samples(self) -> int:
        """N, the number of samples."""
        return len(self.arrays[0])

    def __len__(self) -> int:
        """Batches per epoch."""
        if self.drop_last:
            return self.n_samples // self.batch_size
        return math.ceil(self.n_samples / self.batch_size)

    def __iter__(self):
        n, size = self.n_samples, self.batch_size
        order = self.rng.permutation(n) if self.shuffle else None
        stop = n - n % size if self.drop_last else n
        for start in range(0, stop, size):
            if order is None:
                batch = tuple(a[start:start + size].copy() for a in self.arrays)  # not views
            else:
                rows = order[start:start + size]
                batch = tuple(a[rows] for a in self.arrays)  # fancy indexing copies
            yield batch[0] if len(batch) == 1 else batch

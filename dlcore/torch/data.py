"""The datasets of :mod:`dlcore.data` as PyTorch ``TensorDataset``/``DataLoader`` (Part II).

Part II reuses the very same loaders as Part I (same sources, same offline
fallbacks, same one-line source message), so a chapter can set the NumPy and the
PyTorch versions side by side::

    from dlcore.torch.data import train_val_test_loaders
    train, val, test = train_val_test_loaders(load_mnist, batch_size=128, seed=0)
    for xb, yb in train:     # xb: (B, 1, 28, 28) float32, yb: (B,) int64
        ...

Each ``TensorDataset`` made here also carries ``classes``, ``source`` and
``message`` from the NumPy :class:`~dlcore.data.Dataset`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ..data import Dataset, load_mnist, train_val_test_split


def to_tensor_dataset(data: Dataset | np.ndarray, y: np.ndarray | None = None) -> TensorDataset:
    """Wrap a :class:`~dlcore.data.Dataset` (or arrays ``X``, ``y``) as a TensorDataset.

    ``X`` ``(N, ...)`` becomes a float tensor (float32 unless it was float64) and
    ``y`` ``(N,)`` an int64 tensor. The tensors share memory with the arrays.
    """
    if isinstance(data, Dataset):
        X, y, info = data.X, data.y, data
    else:
        if y is None:
            raise ValueError("to_tensor_dataset needs labels: to_tensor_dataset(X, y) or a Dataset")
        X, info = data, None
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length N, got X {X.shape} and y {y.shape}")
    if X.dtype != np.float64:
        X = X.astype(np.float32, copy=False)
    dataset = TensorDataset(torch.from_numpy(np.ascontiguousarray(X)),
                            torch.from_numpy(np.ascontiguousarray(y, dtype=np.int64)))
    dataset.classes = info.classes if info else ()
    dataset.source = info.source if info else "arrays"
    dataset.message = info.message if info else ""
    return dataset


def make_loader(data: Dataset | TensorDataset, *, batch_size: int = 64, shuffle: bool = False,
                seed: int = 0, drop_last: bool = False, num_workers: int = 0) -> DataLoader:
    """A ``torch.utils.data.DataLoader`` whose shuffling is seeded (same seed, same batches)."""
    if isinstance(data, Dataset):
        data = to_tensor_dataset(data)
    generator = torch.Generator().manual_seed(int(seed))
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                      num_workers=num_workers, generator=generator)


def train_val_test_loaders(load=load_mnist, *, batch_size: int = 64, val_fraction: float = 0.1,
                           seed: int = 0, **load_kwargs) -> tuple[DataLoader, DataLoader, DataLoader]:
    """Train, validation and test DataLoaders from an image loader such as ``load_mnist``.

    The official (or fallback) test split is the test set. The train split is
    divided, stratified by class, into train (``1 - val_fraction``) and
    validation (``val_fraction``). Only the training loader shuffles.

    Returns:
        ``(train, val, test)`` loaders yielding ``xb`` ``(B, C, H, W)`` float32 and
        ``yb`` ``(B,)`` int64 (``xb`` is ``(B, D)`` with ``flatten=True``).
    """
    train_full = load(split="train", **load_kwargs)
    test = load(split="test", **{**load_kwargs, "verbose": False})
    (X_tr, y_tr), (X_val, y_val) = train_val_test_split(
        train_full.X, train_full.y, (1 - val_fraction, val_fraction), seed=seed)

    def part(X, y):
        return to_tensor_dataset(Dataset(train_full.name, X, y, train_full.classes,
                                         train_full.source, train_full.message, train_full.full))

    return (make_loader(part(X_tr, y_tr), batch_size=batch_size, shuffle=True, seed=seed),
            make_loader(part(X_val, y_val), batch_size=batch_size),
            make_loader(to_tensor_dataset(test), batch_size=batch_size))

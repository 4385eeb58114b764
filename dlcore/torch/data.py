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

Augmentation uses torchvision's ``transforms.v2``: :class:`TransformDataset` (or
``make_loader(..., transform=...)``) applies a transform to each image tensor
``(C, H, W)`` as it is drawn, so every epoch sees new random crops or flips::

    from torchvision.transforms import v2
    augment = v2.Compose([v2.RandomCrop(28, padding=2), v2.RandomHorizontalFlip()])
    train, val, test = train_val_test_loaders(load_fashion_mnist, train_transform=augment)

On a CUDA machine the loaders pin their memory (so ``.to(device, non_blocking=True)``
overlaps the copy with computation) and use up to 2 worker processes (Colab has 2
CPUs and warns above that); on the CPU they use none.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ..data import Dataset, load_mnist, train_val_test_split
from .devices import device as default_device


def _integral_labels(y: np.ndarray) -> np.ndarray:
    """``y`` as int64, or a ValueError when a label is not a whole number (0.5, NaN, inf)."""
    if y.dtype.kind in "iub":
        return np.ascontiguousarray(y, dtype=np.int64)
    if y.dtype.kind != "f":
        raise ValueError(f"labels must be integer class indices, got dtype {y.dtype}")
    bad = ~np.isfinite(y)
    bad[~bad] = y[~bad] != np.round(y[~bad])
    if bad.any():
        where = np.flatnonzero(bad.reshape(-1))
        shown = ", ".join(f"y[{i}]={float(y.reshape(-1)[i])!r}" for i in where[:5])
        raise ValueError(f"labels must be whole numbers (class indices); {len(where)} are not: {shown}"
                         + (" ..." if len(where) > 5 else "") + " (truncating them would change the classes)")
    return np.ascontiguousarray(y, dtype=np.int64)


def to_tensor_dataset(data: Dataset | np.ndarray, y: np.ndarray | None = None) -> TensorDataset:
    """Wrap a :class:`~dlcore.data.Dataset` (or arrays ``X``, ``y``) as a TensorDataset.

    ``X`` ``(N, ...)`` becomes a float tensor (float32 unless it was float64) and
    ``y`` ``(N,)`` an int64 tensor. The tensors share memory with the arrays when
    the dtypes already match.

    Raises:
        ValueError: lengths differ, or a label is not a whole number (``0.5``, NaN,
            inf); float labels such as ``1.0`` are accepted.
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
                            torch.from_numpy(_integral_labels(y)))
    dataset.classes = info.classes if info else ()
    dataset.source = info.source if info else "arrays"
    dataset.message = info.message if info else ""
    return dataset


class TransformDataset(torch.utils.data.Dataset):
    """A dataset whose images pass through ``transform`` each time they are drawn.

    ``data[i]`` must be ``(image, label)``; this returns ``(transform(image), label)``.
    ``transform`` is typically a ``torchvision.transforms.v2`` transform, which takes a
    ``(C, H, W)`` tensor. Random transforms draw from torch's generator, which
    :func:`~dlcore.torch.seed_everything` seeds and checkpoints save.
    """

    def __init__(self, data, transform: Callable):
        if not callable(transform):
            raise TypeError(f"transform must be callable (e.g. a transforms.v2 transform), got {transform!r}")
        self.data, self.transform = data, transform
        for name in ("classes", "source", "message"):
            setattr(self, name, getattr(data, name, "" if name != "classes" else ()))

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index):
        image, label = self.data[index]
        return self.transform(image), label


def loader_settings(device=None) -> dict:
    """``pin_memory`` and ``num_workers`` for a DataLoader feeding ``device`` (default: ours).

    CUDA: pinned memory and ``min(2, CPUs)`` workers; anything else: neither.
    """
    dev = default_device() if device is None else torch.device(device)
    if dev.type != "cuda":
        return {"pin_memory": False, "num_workers": 0}
    return {"pin_memory": True, "num_workers": min(2, os.cpu_count() or 1)}


def make_loader(data: Dataset | TensorDataset, *, batch_size: int = 64, shuffle: bool = False,
                seed: int = 0, drop_last: bool = False, num_workers: int | None = None,
                pin_memory: bool | None = None, transform: Callable | None = None,
                device=None) -> DataLoader:
    """A ``torch.utils.data.DataLoader`` whose shuffling is seeded (same seed, same batches).

    Args:
        transform: applied to each image as it is drawn (:class:`TransformDataset`).
        num_workers, pin_memory: None picks them for ``device`` (:func:`loader_settings`):
            0 workers and no pinning on the CPU, pinned memory and up to 2 workers on CUDA.
            Workers are started anew each epoch (not persistent) so that their seeds
            come from the loader's generator and a resumed run matches an uninterrupted one.
    """
    if isinstance(data, Dataset):
        data = to_tensor_dataset(data)
    if transform is not None:
        data = TransformDataset(data, transform)
    auto = loader_settings(device)
    generator = torch.Generator().manual_seed(int(seed))
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                      num_workers=auto["num_workers"] if num_workers is None else num_workers,
                      pin_memory=auto["pin_memory"] if pin_memory is None else pin_memory,
                      generator=generator)


def train_val_test_loaders(load=load_mnist, *, batch_size: int = 64, val_fraction: float = 0.1,
                           seed: int = 0, train_transform: Callable | None = None, **load_kwargs) -> tuple[DataLoader, DataLoader, DataLoader]:
    """Train, validation and test DataLoaders from an image loader such as ``load_mnist``.

    The official (or fallback) test split is the test set. The train split is
    divided, stratified by class, into train (``1 - val_fraction``) and
    validation (``val_fraction``). Only the training loader shuffles, and only it
    applies ``train_transform`` (augmentation), if given.

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

    return (make_loader(part(X_tr, y_tr), batch_size=batch_size, shuffle=True, seed=seed,
                        transform=train_transform),
            make_loader(part(X_val, y_val), batch_size=batch_size),
            make_loader(to_tensor_dataset(test), batch_size=batch_size))

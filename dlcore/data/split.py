"""Splitting a dataset into train, validation and test parts (chapter 07).

:func:`train_val_test_split` keeps the class proportions in every part when
``stratify=True``, and draws its shuffle from a seeded ``numpy.random.Generator``,
so the same seed always gives the same split.

Bad input raises ValueError instead of giving a silently wrong split: empty arrays,
labels containing NaN or inf (stratifying would silently drop those samples), inputs X
containing NaN or inf (dlcore refuses them everywhere; clean or impute the data first),
and fractions that are not finite, are negative, or do not sum to 1.
"""

from __future__ import annotations

import numpy as np

from .base import _as_rng


def _allocate(n: int, fractions: np.ndarray) -> np.ndarray:
    """Split the integer ``n`` into parts proportional to ``fractions`` (largest remainder)."""
    exact = n * fractions
    counts = np.floor(exact).astype(np.int64)
    leftover = n - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:leftover]] += 1
    return counts


def train_val_test_split(X, y, fractions=(0.8, 0.1, 0.1), seed=0, stratify: bool = True):
    """Shuffle and split ``X``, ``y`` into parts of the given sizes.

    Args:
        X: inputs, shape ``(N, ...)``.
        y: labels, shape ``(N,)``.
        fractions: one fraction per part, summing to 1, e.g. ``(0.8, 0.1, 0.1)`` for
            train/val/test or ``(0.8, 0.2)`` for train/test.
        seed: an int seed or a ``numpy.random.Generator``.
        stratify: split every class separately with the same fractions, so each
            part keeps the class proportions of ``y``.

    Returns:
        A tuple with one ``(X_part, y_part)`` pair per fraction:
        ``(X_train, y_train), (X_val, y_val), (X_test, y_test) = train_val_test_split(X, y)``.
        Each part is shuffled (classes interleaved).
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"train_val_test_split expects X of shape (N, ...) and y of shape (N,), "
                         f"got X {X.shape} and y {y.shape}")
    if len(y) == 0:
        raise ValueError(f"train_val_test_split got empty arrays (N = 0): X {X.shape}, y {y.shape}")
    if y.dtype.kind in "fc" and not np.isfinite(y).all():
        bad = np.flatnonzero(~np.isfinite(y))
        raise ValueError(f"train_val_test_split got labels y containing NaN or inf ({len(bad)} of "
                         f"{len(y)}, first at index {bad[0]}); remove or fix those samples first")
    if y.dtype.kind == "O":
        raise ValueError("train_val_test_split needs labels y of numbers or strings, got dtype object")
    if X.dtype.kind in "fc" and not np.isfinite(X).all():
        count = int(X.size - np.count_nonzero(np.isfinite(X)))
        raise ValueError(f"train_val_test_split got inputs X containing NaN or inf ({count} values); "
                         f"clean or impute the data before splitting")
    if not isinstance(stratify, (bool, np.bool_)):
        raise TypeError(f"stratify must be True or False, got {stratify!r}")
    try:
        fractions = np.asarray(fractions, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"fractions must be two or more numbers that sum to 1, got {fractions!r}") from None
    if (fractions.ndim != 1 or len(fractions) < 2 or not np.isfinite(fractions).all()
            or (fractions < 0).any() or abs(fractions.sum() - 1) > 1e-6):
        raise ValueError(f"fractions must be two or more non-negative numbers that sum to 1, "
                         f"got {tuple(fractions.reshape(-1).tolist())}")
    rng = _as_rng(seed)
    if stratify:
        groups = [np.flatnonzero(y == c) for c in np.unique(y)]
    else:
        groups = [np.arange(len(y))]
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for rows in groups:
        rows = rng.permutation(rows)
        cuts = np.cumsum(_allocate(len(rows), fractions))[:-1]
        for part, chunk in zip(parts, np.split(rows, cuts), strict=True):
            part.append(chunk)
    indices = [rng.permutation(np.concatenate(p)) for p in parts]
    for i, (frac, idx) in enumerate(zip(fractions, indices, strict=True)):
        if frac > 0 and len(idx) == 0:
            raise ValueError(f"part {i} (fraction {frac}) would be empty with only {len(y)} samples")
    return tuple((X[idx], y[idx]) for idx in indices)

"""Label and feature transforms: :func:`one_hot` (chapter 06) and :class:`Standardizer` (chapter 02).

A :class:`Standardizer` learns its mean and standard deviation from the training
data once, then applies exactly those statistics to validation and test data,
so no information leaks from the test set.
"""

from __future__ import annotations

import numpy as np


def one_hot(y, num_classes: int | None = None, dtype=np.float32) -> np.ndarray:
    """Integer labels ``(N,)`` -> one-hot rows ``(N, num_classes)``.

    ``num_classes`` defaults to ``max(y) + 1``. Float labels are accepted only if
    they are whole numbers (e.g. read from a CSV).
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"one_hot expects labels of shape (N,), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if y.size and not (np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y))):
            raise ValueError(f"one_hot expects integer class labels, got dtype {y.dtype} with values like {y[:3]}")
        y = y.astype(np.int64)
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"one_hot: labels must lie in 0..{num_classes - 1}, got min {y.min()} and max {y.max()}")
    out = np.zeros((len(y), num_classes), dtype=dtype)
    out[np.arange(len(y)), y] = 1
    return out


class Standardizer:
    """Rescale features to mean 0 and standard deviation 1, with statistics kept from ``fit``.

    Args:
        axis: the axes averaged over. ``0`` (default) gives one mean per feature of
            ``(N, D)`` data; ``(0, 2, 3)`` gives one per channel of ``(N, C, H, W)`` images.
        eps: a standard deviation below ``eps`` is treated as 1 (constant features
            are centred, not blown up).

    Attributes (after ``fit``):
        ``mean_``, ``std_``: float64 arrays that broadcast against the input, e.g. ``(1, D)``
            or ``(1, C, 1, 1)``.

    Example::

        scaler = Standardizer().fit(X_train)
        X_train_s, X_test_s = scaler.transform(X_train), scaler.transform(X_test)
    """

    def __init__(self, axis: int | tuple[int, ...] = 0, eps: float = 1e-8):
        self.axis = axis
        self.eps = eps
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None
        self._fitted_shape: tuple[int | None, ...] = ()

    def fit(self, X) -> Standardizer:
        """Learn ``mean_`` and ``std_`` from ``X``; returns self."""
        X = np.asarray(X, dtype=np.float64)
        if X.size == 0:
            raise ValueError("Standardizer.fit needs at least one sample, got an empty array")
        axes = (self.axis,) if np.isscalar(self.axis) else tuple(self.axis)
        self._fitted_shape = tuple(None if i in {a % X.ndim for a in axes} else n for i, n in enumerate(X.shape))
        self.mean_ = X.mean(axis=self.axis, keepdims=True)
        std = X.std(axis=self.axis, keepdims=True)
        self.std_ = np.where(std < self.eps, 1.0, std)
        return self

    def _check(self, X, method: str) -> np.ndarray:
        if self.mean_ is None:
            raise RuntimeError(f"Standardizer.{method} was called before fit; call fit(X_train) first")
        X = np.asarray(X)
        fitted = self._fitted_shape
        if X.ndim != len(fitted) or any(f is not None and f != n for f, n in zip(fitted, X.shape, strict=True)):
            want = "(" + ", ".join(str(f) if f is not None else "N" if i == 0 else "*"
                                   for i, f in enumerate(fitted)) + ")"
            raise ValueError(f"Standardizer was fitted on inputs of shape {want}, got {X.shape}")
        return X

    def transform(self, X) -> np.ndarray:
        """``(X - mean_) / std_``, same shape as ``X``; float32 input stays float32."""
        X = self._check(X, "transform")
        dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64
        return ((X - self.mean_) / self.std_).astype(dtype, copy=False)

    def fit_transform(self, X) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z) -> np.ndarray:
        """Undo :meth:`transform`: ``Z * std_ + mean_``."""
        Z = self._check(Z, "inverse_transform")
        dtype = Z.dtype if np.issubdtype(Z.dtype, np.floating) else np.float64
        return (Z * self.std_ + self.mean_).astype(dtype, copy=False)

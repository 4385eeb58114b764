"""Rosenblatt's perceptron (introduced in chapter 03).

The perceptron predicts ``1 if w . x + b > 0 else 0`` and learns one sample at a time:
when it gets a sample wrong it moves the boundary towards the right answer,

    w <- w + lr * (y - y_hat) * x,        b <- b + lr * (y - y_hat),

and when it is right it does nothing. On linearly separable data this stops after a
finite number of updates (Novikoff's theorem); on other data it never settles.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import NamedTuple

import numpy as np


class Update(NamedTuple):
    """One perceptron update: which sample caused it, and the weights after it."""

    epoch: int
    index: int  # row of X that was misclassified
    weight: np.ndarray  # (n_features,), after the update
    bias: float  # after the update


class Perceptron:
    """A single threshold unit trained with the perceptron rule.

    Shapes:
        X: (N, n_features), y: (N,) with values 0 or 1; predict(X) -> (N,) of 0 and 1.

    Attributes:
        weight: (n_features,) float64, zeros at creation.
        bias: float, 0 at creation.
        history: list of ``Update`` records, one per update made by ``fit``, for plotting
            how the decision boundary moved.
        mistakes: number of misclassified samples in each epoch of ``fit``.
    """

    def __init__(self, n_features: int, lr: float = 1.0):
        if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)):
            raise ValueError(f"Perceptron n_features must be a positive integer, got {n_features!r}")
        if n_features < 1:
            raise ValueError(f"Perceptron n_features must be a positive integer, got {n_features}")
        if isinstance(lr, bool) or not isinstance(lr, Real) or not math.isfinite(lr) or not lr > 0:
            raise ValueError(f"Perceptron lr must be positive and finite, got {lr!r}")
        self.n_features = int(n_features)
        self.lr = float(lr)
        self.weight = np.zeros(self.n_features)
        self.bias = 0.0
        self.history: list[Update] = []
        self.mistakes: list[int] = []

    def _check_X(self, X) -> np.ndarray:
        try:
            X = np.asarray(X)
            if X.dtype.kind not in "biuf":
                raise TypeError(f"dtype {X.dtype}")
            X = X.astype(np.float64, copy=False)
        except (TypeError, ValueError) as error:
            raise TypeError(f"Perceptron expected X to be an array of real numbers ({error})") from None
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"Perceptron expected X of shape (N, {self.n_features}), got {X.shape}"
            )
        if not np.isfinite(X).all():
            raise ValueError("Perceptron got X containing NaN or inf")
        return X

    def predict(self, X) -> np.ndarray:
        """X: (N, n_features) -> (N,) integer predictions, 1 where w . x + b > 0."""
        X = self._check_X(X)
        return (X @ self.weight + self.bias > 0).astype(int)

    def fit(self, X, y, max_epochs: int = 100) -> Perceptron:
        """Train on (X, y) until an epoch makes no mistake, or for ``max_epochs`` epochs.

        Samples are visited in order. Training continues from the current weights, and
        ``history`` and ``mistakes`` keep growing, so ``fit`` can be called again.
        Returns self.
        """
        if isinstance(max_epochs, bool) or not isinstance(max_epochs, (int, np.integer)) or max_epochs < 1:
            raise ValueError(f"Perceptron max_epochs must be a positive integer, got {max_epochs!r}")
        X = self._check_X(X)
        y = np.asarray(y)
        if y.shape != (len(X),):
            raise ValueError(f"Perceptron expected y of shape ({len(X)},), got {y.shape}")
        if not np.isin(y, (0, 1)).all():
            raise ValueError(f"Perceptron expects labels 0 or 1, got values {np.unique(y)}")
        for epoch in range(max_epochs):
            mistakes = 0
            for index, (x_i, y_i) in enumerate(zip(X, y, strict=True)):
                error = y_i - int(x_i @ self.weight + self.bias > 0)  # -1, 0 or +1
                if error:
                    self.weight = self.weight + self.lr * error * x_i
                    self.bias = float(self.bias + self.lr * error)
                    self.history.append(Update(epoch, index, self.weight.copy(), self.bias))
                    mistakes += 1
            self.mistakes.append(mistakes)
            if mistakes == 0:
                break
        return self

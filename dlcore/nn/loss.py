"""Loss functions with mean reduction (introduced in chapter 06).

A loss is a Module with ``forward(prediction, target)``, which returns the mean loss as a
NumPy scalar in the prediction's dtype, and ``backward(grad_output=1.0)``, which returns
dL/d(prediction), an array of the prediction's shape.

NaN and inf policy: a loss is where every training step ends, so it is where ``dlcore``
checks for them. A prediction or target containing NaN or inf raises FloatingPointError,
with a hint, instead of letting a NaN loss silently turn the whole model into NaN. (The
optimizers do the same for gradients; see ``dlcore.optim``.)
"""

from __future__ import annotations

import numpy as np

from dlcore.nn.activation import log_softmax, sigmoid
from dlcore.nn.module import Module, as_float_array


def check_finite(array: np.ndarray, who: str, what: str) -> None:
    """Raise FloatingPointError if ``array`` contains NaN or inf, saying how many."""
    if not np.isfinite(array).all():
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        raise FloatingPointError(
            f"{who} got a {what} containing NaN or inf ({bad} of {array.size} values). "
            f"Check the input data for NaN (np.isnan(x).any()); if the loss grew during "
            f"training, the learning rate may be too high."
        )


class _Loss(Module):
    """Shared checks and the backward bookkeeping of the losses."""

    def _prediction_and_target(self, prediction, target, same_shape=True):
        who = type(self).__name__
        prediction = as_float_array(prediction, who)
        target = np.asarray(target)
        if target.dtype.kind not in "biuf":
            raise TypeError(f"{who} expected a numeric target, got dtype {target.dtype}")
        if same_shape and target.shape != prediction.shape:
            raise ValueError(
                f"{who} expected target of the same shape as prediction {prediction.shape}, "
                f"got {target.shape}"
            )
        check_finite(prediction, who, "prediction")
        check_finite(target, who, "target")
        return prediction, target

    def _scale(self, grad_output, dtype) -> np.ndarray:
        """The upstream scalar gradient (1.0 when this loss is the final output)."""
        if np.ndim(grad_output) != 0:
            raise ValueError(
                f"{type(self).__name__}.backward takes a scalar grad_output (the loss is a "
                f"scalar), got an array of shape {np.shape(grad_output)}"
            )
        return np.asarray(grad_output, dtype=dtype)


class MSELoss(_Loss):
    """Mean squared error ``mean((prediction - target)^2)`` over all elements.

    Shapes: prediction: any shape; target: the same shape (no broadcasting, because a
    (N, 1) prediction against a (N,) target would silently give an (N, N) difference).
    """

    def forward(self, prediction, target):
        prediction, target = self._prediction_and_target(prediction, target)
        self._diff = prediction - target.astype(prediction.dtype, copy=False)
        return np.mean(self._diff * self._diff)

    def backward(self, grad_output=1.0):
        """Returns ``grad_output * 2 (prediction - target) / n``, shaped like prediction."""
        diff = self._cached("_diff")
        return diff * (self._scale(grad_output, diff.dtype) * 2 / diff.size)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy from logits: ``mean(logsumexp(z_i) - z_i[y_i])``.

    Shapes:
        prediction: (N, C) raw scores (logits), not probabilities
        target: (N,) integer class labels in 0..C-1 (whole-number floats are accepted)

    Computed with log-sum-exp, so logits of +-1000 give the exact value. Backward returns
    ``(softmax(z) - onehot(y)) / N``.
    """

    def forward(self, prediction, target):
        prediction, target = self._prediction_and_target(prediction, target, same_shape=False)
        labels = self._labels(prediction, target)
        log_probs = log_softmax(prediction, axis=1)
        rows = np.arange(len(labels))
        self._probs, self._labels_used = np.exp(log_probs), labels
        return -np.mean(log_probs[rows, labels])

    def _labels(self, prediction, target) -> np.ndarray:
        if prediction.ndim != 2:
            raise ValueError(
                f"CrossEntropyLoss expected prediction of shape (N, C), got {prediction.shape}"
            )
        N, C = prediction.shape
        if target.shape != (N,):
            raise ValueError(
                f"CrossEntropyLoss expected target of shape (N,) = ({N},), one class label per "
                f"row of the prediction {prediction.shape}, got {target.shape}"
            )
        if target.dtype.kind == "f":
            fractional = np.flatnonzero(target != np.round(target))
            if fractional.size:
                i = fractional[0]
                raise ValueError(
                    f"CrossEntropyLoss expects whole-number class labels 0..{C - 1}, got "
                    f"{target[i]} at position {i}"
                )
        labels = target.astype(np.intp)
        outside = np.flatnonzero((labels < 0) | (labels >= C))
        if outside.size:
            i = outside[0]
            raise ValueError(
                f"CrossEntropyLoss got class label {labels[i]} at position {i}, but the "
                f"prediction has {C} classes, so labels must be in 0..{C - 1}"
            )
        return labels

    def backward(self, grad_output=1.0):
        """Returns ``grad_output * (softmax(prediction) - onehot(target)) / N``: (N, C)."""
        probs = self._cached("_probs")
        grad = probs.copy()
        grad[np.arange(len(grad)), self._labels_used] -= 1
        grad *= self._scale(grad_output, grad.dtype) / len(grad)
        return grad


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits: ``mean(-y log s(z) - (1 - y) log(1 - s(z)))``.

    Shapes: prediction z: any shape (logits); target y: the same shape, values in [0, 1].

    Computed as ``max(z, 0) - z * y + log(1 + exp(-|z|))``, which never overflows, so
    logits of +-1000 give the exact value. Backward returns ``(s(z) - y) / n``.
    """

    def forward(self, prediction, target):
        prediction, target = self._prediction_and_target(prediction, target)
        if target.size and (target.min() < 0 or target.max() > 1):
            raise ValueError(
                f"BCEWithLogitsLoss expects targets in [0, 1], got values from "
                f"{target.min()} to {target.max()}"
            )
        z, y = prediction, target.astype(prediction.dtype, copy=False)
        self._z, self._y = z, y
        return np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))

    def backward(self, grad_output=1.0):
        """Returns ``grad_output * (sigmoid(prediction) - target) / n``, shaped like prediction."""
        z = self._cached("_z")
        return (sigmoid(z) - self._y) * (self._scale(grad_output, z.dtype) / z.size)

"""Loss functions with mean reduction (introduced in chapter 06).

A loss is a Module with ``forward(prediction, target)``, which returns the mean loss as a
NumPy scalar in the prediction's dtype, and ``backward(grad_output=1.0)``, which returns
dL/d(prediction), an array of the prediction's shape.

NaN and inf policy: a loss is where every training step ends, so it is where ``dlcore``
checks for them. A prediction or target containing NaN or inf raises FloatingPointError,
with a hint, instead of letting a NaN loss silently turn the whole model into NaN. (The
optimizers do the same for gradients; see ``dlcore.optim``.) A loss that overflows (a
float32 squared error beyond 3.4e38) raises FloatingPointError too, rather than
returning inf.

An empty batch (no samples) raises ValueError: its mean is 0 / 0, not a loss. float16
predictions or targets raise TypeError, as everywhere in dlcore. Like the layers, a loss
keeps private copies of what its backward needs, so editing the prediction or the target
in place after ``forward`` does not change the gradient.
"""

from __future__ import annotations

import numpy as np

from dlcore.nn.activation import log_softmax, sigmoid
from dlcore.nn.module import Module, as_float_array, real_number, reject_unsupported_dtype


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
        prediction = as_float_array(prediction, who, "prediction")
        if isinstance(target, (str, bytes)) or target is None:
            raise TypeError(f"{who} expected a numeric target, got {type(target).__name__}")
        try:
            target = np.asarray(target)
        except ValueError as error:
            raise TypeError(f"{who} expected a numeric target: {error}") from None
        if target.dtype.kind not in "biuf":
            raise TypeError(f"{who} expected a numeric target, got dtype {target.dtype}")
        reject_unsupported_dtype(target.dtype, who, "target")
        if prediction.size == 0 or (prediction.ndim and prediction.shape[0] == 0):
            raise ValueError(
                f"{who} got an empty batch (prediction of shape {prediction.shape}): the mean "
                f"loss over no samples is undefined. Check the slicing that made the batch."
            )
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
        if isinstance(grad_output, np.ndarray) and grad_output.ndim == 0:
            grad_output = grad_output[()]
        if np.ndim(grad_output) != 0:
            raise ValueError(
                f"{type(self).__name__}.backward takes a scalar grad_output (the loss is a "
                f"scalar), got an array of shape {np.shape(grad_output)}"
            )
        value = real_number(grad_output, f"{type(self).__name__}.backward grad_output")
        return np.asarray(value, dtype=dtype)

    def _finite_loss(self, loss):
        """Raise FloatingPointError if the loss itself overflowed to inf."""
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"{type(self).__name__} overflowed: the loss is {loss} in {np.asarray(loss).dtype}, "
                f"although every prediction and target is finite. The predictions are "
                f"enormous; lower the learning rate, or compute in float64."
            )
        return loss


class MSELoss(_Loss):
    """Mean squared error ``mean((prediction - target)^2)`` over all elements.

    Shapes: prediction: any shape; target: the same shape (no broadcasting, because a
    (N, 1) prediction against a (N,) target would silently give an (N, N) difference).
    """

    def forward(self, prediction, target):
        prediction, target = self._prediction_and_target(prediction, target)
        self._diff = prediction - target.astype(prediction.dtype, copy=False)  # a new array
        with np.errstate(over="ignore"):
            return self._finite_loss(np.mean(self._diff * self._diff))

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
        return self._finite_loss(-np.mean(log_probs[rows, labels]))

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
        # n * dL/dz = sigmoid(z) - y, kept as a new array (not the caller's z or y)
        self._residual = sigmoid(z) - y
        with np.errstate(over="ignore"):
            loss = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
        return self._finite_loss(loss)

    def backward(self, grad_output=1.0):
        """Returns ``grad_output * (sigmoid(prediction) - target) / n``, shaped like prediction."""
        residual = self._cached("_residual")
        return residual * (self._scale(grad_output, residual.dtype) / residual.size)

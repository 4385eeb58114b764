"""``BatchNorm1d``: batch normalisation (introduced in chapter 06)."""

from __future__ import annotations

import numpy as np

from dlcore.dtype import resolve_dtype
from dlcore.nn.module import (
    Module,
    Parameter,
    as_float_array,
    check_grad_shape,
    positive_int,
    real_number,
    shape_text,
)


class BatchNorm1d(Module):
    """Normalise each feature over the batch, then scale and shift it.

    ``y = weight * (x - mean) / sqrt(var + eps) + bias``, per feature (channel) C.

    Shapes:
        x: (N, C) or (N, C, L) -> y: same shape. Statistics are taken over N (and L).
        weight, bias, running_mean, running_var: (C,)

    As in PyTorch: training mode normalises with the batch mean and the *biased* batch
    variance, and updates ``running_mean`` and ``running_var`` (the latter with the
    *unbiased* variance) as ``running = (1 - momentum) * running + momentum * batch``.
    With ``momentum=None`` the running statistics are the plain (cumulative) average of
    all batches seen so far, as in PyTorch: the k-th batch gets weight ``1 / k``, counted
    in the buffer ``num_batches_tracked`` (saved by ``state_dict`` only in that case).
    Evaluation mode normalises with the running statistics.

    Input containing NaN or inf raises FloatingPointError before anything is updated, so
    one bad batch cannot poison the running statistics.

    Args:
        num_features: C, the number of features or channels.
        eps: added to the variance before the square root.
        momentum: weight of the current batch in the running statistics, in [0, 1], or
            None for a cumulative average.
        dtype: parameter dtype, default ``dlcore.get_default_dtype()``.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, dtype=None):
        self.num_features = positive_int(num_features, "BatchNorm1d num_features")
        self.eps = real_number(eps, "BatchNorm1d eps", low=0.0, low_open=True)
        if momentum is None:
            self.momentum = None
        else:
            self.momentum = real_number(momentum, "BatchNorm1d momentum (or None)", low=0.0, high=1.0)
        dtype = resolve_dtype(dtype)
        self.weight = Parameter(np.ones(self.num_features, dtype))
        self.bias = Parameter(np.zeros(self.num_features, dtype))
        self.register_buffer("running_mean", np.zeros(self.num_features, self.weight.dtype))
        self.register_buffer("running_var", np.ones(self.num_features, self.weight.dtype))
        if self.momentum is None:
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))
        self._x_hat = None

    def _axes_and_shape(self, x):
        """Axes to reduce over, and the shape that broadcasts a (C,) array against x."""
        C = self.num_features
        if x.ndim not in (2, 3) or x.shape[1] != C:
            raise ValueError(
                f"BatchNorm1d expected input of shape {shape_text('N', C)} or "
                f"{shape_text('N', C, 'L')}, got {x.shape}"
            )
        return ((0,), (1, C)) if x.ndim == 2 else ((0, 2), (1, C, 1))

    def forward(self, x):
        """x: (N, C) or (N, C, L) -> same shape, in the dtype of x."""
        x = as_float_array(x, "BatchNorm1d")
        axes, shape = self._axes_and_shape(x)
        if not np.isfinite(x).all():  # before the running statistics see the batch
            bad = int(x.size - np.count_nonzero(np.isfinite(x)))
            raise FloatingPointError(
                f"BatchNorm1d got input containing NaN or inf ({bad} of {x.size} values); "
                f"the running statistics were not updated. Check the data with "
                f"np.isfinite(x).all(), or lower the learning rate if the loss was growing."
            )
        n = x.size // self.num_features  # values per channel
        if self.training:
            if n < 2:
                raise ValueError(
                    f"BatchNorm1d in training mode needs more than one value per channel "
                    f"to compute a variance, got input of shape {x.shape}; use a larger "
                    f"batch, or call eval() to use the running statistics"
                )
            mean = x.mean(axis=axes, keepdims=True)
            var = x.var(axis=axes, keepdims=True)  # biased: divides by n
            if self.momentum is None:  # cumulative average: batch k has weight 1 / k
                self.num_batches_tracked += 1
                m = 1.0 / float(self.num_batches_tracked)
            else:
                m = self.momentum
            self.running_mean *= 1 - m
            self.running_mean += m * mean.reshape(-1)
            self.running_var *= 1 - m
            self.running_var += m * var.reshape(-1) * (n / (n - 1))  # unbiased
        else:
            mean = self.running_mean.reshape(shape).astype(x.dtype)
            var = self.running_var.reshape(shape).astype(x.dtype)
        self._inv_std = 1 / np.sqrt(var + self.eps)
        self._x_hat = (x - mean) * self._inv_std
        self._used_batch_stats = self.training
        self._axes, self._shape = axes, shape
        weight = self.weight.data.reshape(shape).astype(x.dtype, copy=False)
        bias = self.bias.data.reshape(shape).astype(x.dtype, copy=False)
        return self._x_hat * weight + bias

    def backward(self, grad_output):
        """grad_output: same shape as x -> dL/dx: same shape as x.

        Adds sum(g * x_hat) into ``weight.grad`` and sum(g) into ``bias.grad``. In
        training mode the mean and variance depend on x too, which gives
        ``dx = inv_std / n * (n * d - sum(d) - x_hat * sum(d * x_hat))`` with
        ``d = g * weight`` and sums over the batch.
        """
        x_hat = self._cached("_x_hat")
        g = check_grad_shape(grad_output, x_hat.shape, "BatchNorm1d")
        axes, shape = self._axes, self._shape
        self.weight.grad += (g * x_hat).sum(axis=axes)
        self.bias.grad += g.sum(axis=axes)
        d = g * self.weight.data.reshape(shape).astype(g.dtype, copy=False)
        if not self._used_batch_stats:
            return d * self._inv_std
        n = x_hat.size // self.num_features
        d_sum = d.sum(axis=axes, keepdims=True)
        d_xhat_sum = (d * x_hat).sum(axis=axes, keepdims=True)
        return self._inv_std / n * (n * d - d_sum - x_hat * d_xhat_sum)

    def _check_state_value(self, name, array):
        if name == "running_var" and (array < 0).any():
            return "a variance cannot be negative"
        if name == "num_batches_tracked" and array < 0:
            return "a count cannot be negative"
        return None

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"

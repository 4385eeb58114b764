"""``Linear``: the affine layer y = x W^T + b (introduced in chapter 05)."""

from __future__ import annotations

import numpy as np

from dlcore.dtype import resolve_dtype
from dlcore.nn import init
from dlcore.nn.module import (
    Module,
    Parameter,
    as_float_array,
    check_grad_shape,
    positive_int,
    shape_text,
)


class Linear(Module):
    """Affine map ``y = x W^T + b``.

    Shapes:
        x: (N, in_features) -> y: (N, out_features)
        weight: (out_features, in_features), bias: (out_features,)

    Initialisation: He uniform for ReLU networks, U(-b, b) with
    ``b = sqrt(6 / in_features)``, and a zero bias. (PyTorch's default is narrower,
    ``b = 1 / sqrt(in_features)`` for both weight and bias; re-initialise with
    ``dlcore.nn.init`` to use another rule.)

    Args:
        in_features, out_features: sizes of each input and output sample.
        bias: whether to learn an additive bias.
        dtype: parameter dtype, default ``dlcore.get_default_dtype()`` (float32).
        generator: ``numpy.random.Generator`` for the initial weights.
    """

    def __init__(self, in_features, out_features, bias=True, dtype=None, generator=None):
        self.in_features = positive_int(in_features, "Linear in_features")
        self.out_features = positive_int(out_features, "Linear out_features")
        dtype = resolve_dtype(dtype)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype))
        init.kaiming_uniform_(self.weight, nonlinearity="relu", generator=generator)
        self.bias = Parameter(np.zeros(self.out_features, dtype)) if bias else None
        self._x = None

    def forward(self, x):
        """x: (N, in_features) -> (N, out_features), in the dtype of x."""
        x = as_float_array(x, "Linear")
        if x.ndim != 2 or x.shape[1] != self.in_features:
            hint = " (add a batch axis: x[None, :])" if x.ndim == 1 else ""
            raise ValueError(
                f"Linear expected input of shape {shape_text('N', self.in_features)}, "
                f"got {x.shape}{hint}"
            )
        # A private copy: editing x in place after forward must not change the gradient.
        self._x = x.copy()
        out = x @ self.weight.data.T.astype(x.dtype, copy=False)
        if self.bias is not None:
            out += self.bias.data.astype(x.dtype, copy=False)
        return out

    def backward(self, grad_output):
        """grad_output: (N, out_features) -> dL/dx: (N, in_features).

        Adds dL/dW = g^T x into ``weight.grad`` and dL/db = sum of g over the batch into
        ``bias.grad``. Returns None when ``needs_input_grad`` is False.
        """
        x = self._cached("_x")
        grad_output = check_grad_shape(grad_output, (x.shape[0], self.out_features), "Linear")
        self.weight.grad += grad_output.T @ x  # (out, N) @ (N, in)
        if self.bias is not None:
            self.bias.grad += grad_output.sum(axis=0)
        if not self.needs_input_grad:
            return None
        return grad_output @ self.weight.data.astype(grad_output.dtype, copy=False)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )

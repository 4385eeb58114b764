"""Activation functions (introduced in chapter 04; their backward passes in chapter 05).

Each activation works elementwise on an array of any shape (Softmax along one axis),
returns an array of the same shape and dtype, and keeps what its backward pass needs.
Sigmoid and softmax are written to be stable for inputs as large as +-1000: no overflow,
no NaN, only harmless underflow to 0.

Aliasing policy (the same in every dlcore layer and loss): what ``forward`` keeps for the
backward pass is the layer's **private copy**, never an array the caller holds. The
input is copied when backward needs it, and the returned output is a different array
from the one kept. So editing the input or the output in place after ``forward``
(``h = layer(x); h += 1``) cannot change the gradient ``backward`` computes: it is
always the gradient at the values ``forward`` saw. (PyTorch instead detects such an edit
and raises "modified by an inplace operation".) float16 input is refused, with a
message, everywhere in dlcore (see ``dlcore.nn.module.reject_unsupported_dtype``).
"""

from __future__ import annotations

import math

import numpy as np

from dlcore.nn.module import Module, as_float_array, check_grad_shape, integer, real_number


# -- stable functions, also used by the losses -----------------------------------------
def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), computed without overflow for any x.  Any shape -> same shape.

    For x >= 0 we use 1 / (1 + e) and for x < 0 the equal e / (1 + e), with
    ``e = exp(-|x|)`` in (0, 1], so exp never sees a large positive argument.
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """exp(x) / sum(exp(x)) along ``axis``, after subtracting the maximum (which does not
    change the result but keeps every exponent <= 0).  Any shape -> same shape."""
    exps = np.exp(x - x.max(axis=axis, keepdims=True))
    return exps / exps.sum(axis=axis, keepdims=True)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """log(softmax(x)) by the log-sum-exp trick: exact even when softmax underflows to 0.
    Any shape -> same shape."""
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# -- layers ------------------------------------------------------------------------------
class ReLU(Module):
    """max(0, x) elementwise.  x: any shape -> same shape.  The gradient at 0 is taken as 0."""

    def forward(self, x):
        x = as_float_array(x, "ReLU")
        self._mask = x > 0
        return np.maximum(x, 0)

    def backward(self, grad_output):
        mask = self._cached("_mask")
        return check_grad_shape(grad_output, mask.shape, "ReLU") * mask


class LeakyReLU(Module):
    """x for x > 0, ``negative_slope * x`` otherwise.  x: any shape -> same shape."""

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = real_number(negative_slope, "LeakyReLU negative_slope")

    def forward(self, x):
        x = as_float_array(x, "LeakyReLU")
        self._mask = x > 0
        return np.where(self._mask, x, x * self.negative_slope)

    def backward(self, grad_output):
        mask = self._cached("_mask")
        grad_output = check_grad_shape(grad_output, mask.shape, "LeakyReLU")
        return np.where(mask, grad_output, grad_output * self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """s(x) = 1 / (1 + exp(-x)), stable for any x.  x: any shape -> same shape.
    Backward uses s'(x) = s(x) (1 - s(x))."""

    def forward(self, x):
        self._out = sigmoid(as_float_array(x, "Sigmoid"))
        return self._out.copy()  # the caller may edit its copy; ours stays as computed

    def backward(self, grad_output):
        out = self._cached("_out")
        return check_grad_shape(grad_output, out.shape, "Sigmoid") * out * (1 - out)


class Tanh(Module):
    """tanh(x).  x: any shape -> same shape.  Backward uses tanh'(x) = 1 - tanh(x)^2."""

    def forward(self, x):
        self._out = np.tanh(as_float_array(x, "Tanh"))
        return self._out.copy()  # the caller may edit its copy; ours stays as computed

    def backward(self, grad_output):
        out = self._cached("_out")
        return check_grad_shape(grad_output, out.shape, "Tanh") * (1 - out * out)


class Softmax(Module):
    """Softmax along axis ``dim``: outputs are positive and sum to 1 along ``dim``.
    x: any shape -> same shape.

    Backward: for p = softmax(x) and upstream gradient g,
    ``dL/dx = p * (g - sum(g * p, dim))`` (the Jacobian is diag(p) - p p^T).
    """

    def __init__(self, dim: int = -1):
        self.dim = integer(dim, "Softmax dim")

    def forward(self, x):
        x = as_float_array(x, "Softmax")
        if x.ndim == 0 or not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"Softmax(dim={self.dim}) got an input of shape {x.shape}")
        self._out = softmax(x, axis=self.dim)
        return self._out.copy()  # the caller may edit its copy; ours stays as computed

    def backward(self, grad_output):
        p = self._cached("_out")
        g = check_grad_shape(grad_output, p.shape, "Softmax")
        return p * (g - (g * p).sum(axis=self.dim, keepdims=True))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class GELU(Module):
    """Gaussian Error Linear Unit, exact form (PyTorch's default):
    ``GELU(x) = x * Phi(x)`` with ``Phi(x) = (1 + erf(x / sqrt(2))) / 2`` the standard
    normal CDF.  x: any shape -> same shape.

    Backward: ``GELU'(x) = Phi(x) + x * phi(x)`` with ``phi`` the normal density.
    """

    def forward(self, x):
        # Imported here because scipy.special takes a noticeable time to import.
        from scipy.special import erf

        x = as_float_array(x, "GELU")
        self._x = x.copy()  # private: the caller may edit x in place after forward
        self._cdf = 0.5 * (1 + erf(x * (1 / math.sqrt(2))))
        return x * self._cdf

    def backward(self, grad_output):
        x = self._cached("_x")
        g = check_grad_shape(grad_output, x.shape, "GELU")
        pdf = np.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return g * (self._cdf + x * pdf)

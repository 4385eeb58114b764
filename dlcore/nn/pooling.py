"""``MaxPool2d`` and ``Flatten`` (introduced in chapter 08)."""

from __future__ import annotations

import math

import numpy as np

from dlcore.nn.conv import _pair, output_size
from dlcore.nn.module import Module, as_float_array, check_grad_shape, integer


class MaxPool2d(Module):
    """Maximum over each kh x kw window of every channel (no padding, floor mode).

    Shapes:
        x: (N, C, H, W) -> y: (N, C, H_out, W_out), ``H_out = floor((H - kh) / stride) + 1``

    Args:
        kernel_size: window size, an integer or an (h, w) pair.
        stride: step between windows; default ``kernel_size`` (windows do not overlap).

    Backward sends each output's gradient to the input that was the maximum of its window
    (the first one, in row-major order, if several are equal, as PyTorch does).
    """

    def __init__(self, kernel_size, stride=None):
        self.kernel_size = _pair(kernel_size, "MaxPool2d kernel_size", minimum=1)
        self.stride = (
            self.kernel_size if stride is None else _pair(stride, "MaxPool2d stride", minimum=1)
        )
        self._argmax = None

    def forward(self, x):
        """x: (N, C, H, W) -> (N, C, H_out, W_out)."""
        x = as_float_array(x, "MaxPool2d")
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if x.ndim != 4 or x.shape[2] < kh or x.shape[3] < kw:
            raise ValueError(
                f"MaxPool2d with kernel_size {self.kernel_size} expected input of shape "
                f"(N, C, H, W) with H >= {kh} and W >= {kw}, got {x.shape}"
            )
        N, C, H, W = x.shape
        H_out, W_out = output_size(H, kh, sh, 0), output_size(W, kw, sw, 0)
        windows = np.empty((N, C, kh * kw, H_out, W_out), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):  # loop over window offsets, not pixels
                windows[:, :, i * kw + j] = x[:, :, i : i + sh * H_out : sh, j : j + sw * W_out : sw]
        self._argmax = windows.argmax(axis=2)  # (N, C, H_out, W_out): offset of the max
        self._input_shape = x.shape
        return np.take_along_axis(windows, self._argmax[:, :, None], axis=2)[:, :, 0]

    def backward(self, grad_output):
        """grad_output: (N, C, H_out, W_out) -> dL/dx: (N, C, H, W)."""
        argmax = self._cached("_argmax")
        g = check_grad_shape(grad_output, argmax.shape, "MaxPool2d")
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        H_out, W_out = argmax.shape[2:]
        grad_input = np.zeros(self._input_shape, dtype=g.dtype)
        for i in range(kh):
            for j in range(kw):
                grad_input[:, :, i : i + sh * H_out : sh, j : j + sw * W_out : sw] += g * (
                    argmax == i * kw + j
                )
        return grad_input

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class Flatten(Module):
    """Flatten axes ``start_dim`` .. ``end_dim`` into one, as in PyTorch.

    Shapes (defaults): x: (N, C, H, W) -> y: (N, C*H*W).  Backward reshapes back.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        self.start_dim = integer(start_dim, "Flatten start_dim")
        self.end_dim = integer(end_dim, "Flatten end_dim")
        self._input_shape = None

    def forward(self, x):
        x = as_float_array(x, "Flatten")
        in_range = all(-x.ndim <= d < x.ndim for d in (self.start_dim, self.end_dim))
        if not in_range or self.start_dim % x.ndim > self.end_dim % x.ndim:
            raise ValueError(
                f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) cannot flatten "
                f"an input of shape {x.shape}"
            )
        start, end = self.start_dim % x.ndim, self.end_dim % x.ndim
        self._input_shape = x.shape
        flat = math.prod(x.shape[start : end + 1])
        self._output_shape = (*x.shape[:start], flat, *x.shape[end + 1 :])
        return x.reshape(self._output_shape)

    def backward(self, grad_output):
        """grad_output: flattened shape -> dL/dx: the input's shape."""
        input_shape = self._cached("_input_shape")
        try:
            grad_output = check_grad_shape(grad_output, self._output_shape, "Flatten")
        except ValueError as error:  # exact shape, not only the same number of elements
            raise ValueError(f"{error}; it does not match the forward input of shape {input_shape}") from None
        return grad_output.reshape(input_shape)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

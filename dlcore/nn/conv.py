"""``Conv2d`` by im2col, and the ``im2col``/``col2im`` helpers (introduced in chapter 08).

A convolution slides a (C, kh, kw) kernel over the image and takes a dot product at every
position. im2col copies every receptive field of every image into one column of a
matrix, and the whole convolution of the whole batch becomes a single matrix product,
which NumPy hands to BLAS::

    cols = im2col(x_padded, kh, kw, stride)      # (C*kh*kw, N*H_out*W_out)
    out  = weight.reshape(F, -1) @ cols           # (F, N*H_out*W_out)

The only Python loop is over the kh*kw kernel offsets (9 for a 3x3 kernel), never over
pixels: for each offset (i, j) one strided slice of the whole batch is copied at once.
"""

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


def _pair(value, what: str, minimum: int) -> tuple[int, int]:
    """Turn ``3`` or ``(3, 3)`` into ``(3, 3)``, checking both are integers >= minimum."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in pair
    ):
        raise ValueError(f"{what} must be an integer or a pair of integers, got {value!r}")
    if any(v < minimum for v in pair):
        raise ValueError(f"{what} must be >= {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length along one axis: ``floor((size + 2 * padding - kernel) / stride) + 1``."""
    return (size + 2 * padding - kernel) // stride + 1


def im2col(x_padded: np.ndarray, kh: int, kw: int, stride: tuple[int, int]) -> np.ndarray:
    """Copy every kh x kw receptive field of ``x_padded`` into a column.

    Shapes:
        x_padded: (N, C, H_p, W_p), already padded
        returns cols: (C*kh*kw, N*H_out*W_out). Row ``c*kh*kw + i*kw + j`` holds pixel
        (i, j) of channel c of every window, matching the layout of
        ``weight.reshape(F, -1)``; column ``n*H_out*W_out + h*W_out + w`` is the window of
        output pixel (h, w) of image n.
    """
    N, C, Hp, Wp = x_padded.shape
    sh, sw = stride
    H_out, W_out = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    cols = np.empty((C, kh, kw, N, H_out, W_out), dtype=x_padded.dtype)
    channels_first = x_padded.transpose(1, 0, 2, 3)  # (C, N, H_p, W_p), a view
    for i in range(kh):
        for j in range(kw):
            # pixel (i, j) of every window of every image: one strided view, copied at once
            cols[:, i, j] = channels_first[:, :, i : i + sh * H_out : sh, j : j + sw * W_out : sw]
    return cols.reshape(C * kh * kw, N * H_out * W_out)


def col2im(cols: np.ndarray, padded_shape, kh: int, kw: int, stride) -> np.ndarray:
    """The adjoint of ``im2col``: add every column back onto the pixels it came from.

    Where windows overlap, a pixel receives the sum of its contributions, which is exactly
    the gradient of im2col.

    Shapes:
        cols: (C*kh*kw, N*H_out*W_out)
        returns: an array of ``padded_shape`` = (N, C, H_p, W_p)
    """
    N, C, Hp, Wp = padded_shape
    sh, sw = stride
    H_out, W_out = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    cols = cols.reshape(C, kh, kw, N, H_out, W_out)
    x_padded = np.zeros(padded_shape, dtype=cols.dtype)
    channels_first = x_padded.transpose(1, 0, 2, 3)  # a view: writing to it fills x_padded
    for i in range(kh):
        for j in range(kw):
            channels_first[:, :, i : i + sh * H_out : sh, j : j + sw * W_out : sw] += cols[:, i, j]
    return x_padded


class Conv2d(Module):
    """2-D convolution (strictly, cross-correlation, as in PyTorch) on NCHW images.

    Shapes:
        x: (N, in_channels, H, W) -> y: (N, out_channels, H_out, W_out), with
        ``H_out = floor((H + 2 * padding - kernel_size) / stride) + 1`` (same for W)
        weight: (out_channels, in_channels, kh, kw), bias: (out_channels,)

    Initialisation: He uniform with ``fan_in = in_channels * kh * kw`` and a zero bias,
    as for ``Linear``.

    Args:
        in_channels, out_channels: channels of the input and output images.
        kernel_size, stride, padding: an integer or an (h, w) pair. Padding adds zeros.
        bias: whether to learn an additive bias per output channel.
        dtype: parameter dtype, default ``dlcore.get_default_dtype()``.
        generator: ``numpy.random.Generator`` for the initial weights.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        bias=True,
        dtype=None,
        generator=None,
    ):
        self.in_channels = positive_int(in_channels, "Conv2d in_channels")
        self.out_channels = positive_int(out_channels, "Conv2d out_channels")
        self.kernel_size = _pair(kernel_size, "Conv2d kernel_size", minimum=1)
        self.stride = _pair(stride, "Conv2d stride", minimum=1)
        self.padding = _pair(padding, "Conv2d padding", minimum=0)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        dtype = resolve_dtype(dtype)
        self.weight = Parameter(np.empty(shape, dtype))
        init.kaiming_uniform_(self.weight, nonlinearity="relu", generator=generator)
        self.bias = Parameter(np.zeros(self.out_channels, dtype)) if bias else None
        self._cols = None

    def _check_input(self, x) -> np.ndarray:
        x = as_float_array(x, "Conv2d")
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            hint = " (add a batch axis: x[None])" if x.ndim == 3 else ""
            raise ValueError(
                f"Conv2d expected input of shape {shape_text('N', self.in_channels, 'H', 'W')}"
                f", got {x.shape}{hint}"
            )
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        if x.shape[2] + 2 * ph < kh or x.shape[3] + 2 * pw < kw:
            raise ValueError(
                f"Conv2d with kernel_size {self.kernel_size} and padding {self.padding} "
                f"needs padded images of at least {kh} x {kw}, got input of shape {x.shape}"
            )
        return x

    def forward(self, x):
        """x: (N, C_in, H, W) -> (N, C_out, H_out, W_out), in the dtype of x.

        The result is a transposed view of the (C_out, N, H_out, W_out) matrix product,
        not a copy; NumPy treats it like any other array.
        """
        x = self._check_input(x)
        N, _, H, W = x.shape
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        H_out = output_size(H, kh, self.stride[0], ph)
        W_out = output_size(W, kw, self.stride[1], pw)
        x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
        self._cols = im2col(x_padded, kh, kw, self.stride)  # (C*kh*kw, N*H_out*W_out)
        self._padded_shape = x_padded.shape
        weight = self.weight.data.reshape(self.out_channels, -1).astype(x.dtype, copy=False)
        out = weight @ self._cols  # (F, C*kh*kw) @ (C*kh*kw, N*P) -> (F, N*P): one product
        if self.bias is not None:
            out += self.bias.data.astype(x.dtype, copy=False)[:, None]
        return out.reshape(self.out_channels, N, H_out, W_out).transpose(1, 0, 2, 3)

    def backward(self, grad_output):
        """grad_output: (N, C_out, H_out, W_out) -> dL/dx: (N, C_in, H, W).

        With ``g`` the gradient arranged as (F, N*P) like the forward product:
        dL/dW = g @ cols^T, dL/db = the sum of g over N*P, and dL/dx = col2im(W^T @ g).
        Returns None when ``needs_input_grad`` is False.
        """
        cols = self._cached("_cols")
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        N, _, Hp, Wp = self._padded_shape
        H_out = output_size(Hp, kh, self.stride[0], 0)
        W_out = output_size(Wp, kw, self.stride[1], 0)
        g = check_grad_shape(grad_output, (N, self.out_channels, H_out, W_out), "Conv2d")
        # (F, N*P); no copy when grad_output has the memory layout of our output
        g = g.transpose(1, 0, 2, 3).reshape(self.out_channels, -1)
        self.weight.grad += (g @ cols.T).reshape(self.weight.shape)  # (F, N*P) @ (N*P, C*kh*kw)
        if self.bias is not None:
            self.bias.grad += g.sum(axis=1)
        if not self.needs_input_grad:
            return None
        weight = self.weight.data.reshape(self.out_channels, -1).astype(g.dtype, copy=False)
        grad_cols = weight.T @ g  # (C*kh*kw, F) @ (F, N*P) -> (C*kh*kw, N*P)
        grad_padded = col2im(grad_cols, self._padded_shape, kh, kw, self.stride)
        return grad_padded[:, :, ph : Hp - ph, pw : Wp - pw]

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.bias is None:
            text += ", bias=False"
        return text

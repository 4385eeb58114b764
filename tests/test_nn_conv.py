"""Conv2d and im2col (chapter 08): against torch and a naive loop, gradient checks, bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore.check import gradcheck
from dlcore.nn import Conv2d
from dlcore.nn.conv import col2im, im2col


def assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-8, atol=1e-12)


def naive_conv2d(x, w, b, stride, padding):
    """Direct definition with loops over every output pixel: the reference for im2col."""
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    H_out = (H + 2 * padding - kh) // stride + 1
    W_out = (W + 2 * padding - kw) // stride + 1
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = xp[n, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out


CONFIGS = [
    # (N, C, H, W, F, kernel, stride, padding, bias)
    (2, 3, 5, 5, 4, 3, 1, 0, True),
    (1, 1, 4, 6, 2, 3, 1, 1, True),
    (3, 2, 7, 6, 3, 3, 2, 1, False),
    (2, 2, 6, 7, 2, (2, 3), (2, 1), (1, 0), True),
    (2, 4, 3, 3, 5, 1, 1, 0, True),
    (1, 2, 8, 8, 3, 5, 3, 2, True),
]


def make_pair(config, rng):
    N, C, H, W, F, kernel, stride, padding, bias = config
    layer = Conv2d(C, F, kernel, stride=stride, padding=padding, bias=bias, dtype=np.float64, generator=rng)
    reference = torch.nn.Conv2d(C, F, kernel, stride=stride, padding=padding, bias=bias, dtype=torch.float64)
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(layer.weight.data))
        if bias:
            layer.bias.data[:] = rng.standard_normal(F)
            reference.bias.copy_(torch.from_numpy(layer.bias.data))
    return layer, reference, rng.standard_normal((N, C, H, W))


@pytest.mark.parametrize("config", CONFIGS)
def test_matches_torch_in_float64(config):
    rng = np.random.default_rng(CONFIGS.index(config))
    layer, reference, x = make_pair(config, rng)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = reference(x_t)
    g = rng.standard_normal(tuple(y_t.shape))
    y_t.backward(torch.from_numpy(g))
    y = layer(x)
    assert y.shape == tuple(y_t.shape)
    assert_close(y, y_t.detach().numpy())
    assert_close(layer.backward(g), x_t.grad.numpy())
    assert_close(layer.weight.grad, reference.weight.grad.numpy())
    if layer.bias is not None:
        assert_close(layer.bias.grad, reference.bias.grad.numpy())


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), (1, 2)])
def test_matches_the_naive_loop_definition(stride, padding):
    rng = np.random.default_rng(0)
    layer = Conv2d(2, 3, 3, stride=stride, padding=padding, dtype=np.float64, generator=rng)
    layer.bias.data[:] = rng.standard_normal(3)
    x = rng.standard_normal((2, 2, 6, 5))
    expected = naive_conv2d(x, layer.weight.data, layer.bias.data, stride, padding)
    assert_close(layer(x), expected)


@pytest.mark.parametrize("config", CONFIGS[:4])
def test_gradcheck(config):
    rng = np.random.default_rng(4)
    layer, _, x = make_pair(config, rng)
    assert gradcheck(layer, x) < 1e-7


def test_col2im_is_the_adjoint_of_im2col():
    # <im2col(x), c> == <x, col2im(c)> for all x, c: the definition of the adjoint
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 6))
    cols = im2col(x, 3, 2, (2, 1))
    c = rng.standard_normal(cols.shape)
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * col2im(c, x.shape, 3, 2, (2, 1))), rtol=1e-12)


def test_im2col_columns_are_the_windows():
    x = np.arange(32.0).reshape(2, 1, 4, 4)
    cols = im2col(x, 2, 2, (2, 2))  # four non-overlapping 2x2 windows per image
    windows = [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]
    np.testing.assert_array_equal(cols.T, np.concatenate([windows, np.add(windows, 16)]))


def test_wrong_number_of_channels():
    with pytest.raises(ValueError, match=r"Conv2d expected input of shape \(N, 3, H, W\), got \(2, 4, 8, 8\)"):
        Conv2d(3, 4, 3)(np.zeros((2, 4, 8, 8)))


def test_three_dimensional_input():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\), got \(3, 8, 8\).*batch axis"):
        Conv2d(3, 4, 3)(np.zeros((3, 8, 8)))


def test_image_smaller_than_the_kernel():
    with pytest.raises(ValueError, match=r"at least 5 x 5, got input of shape \(1, 1, 3, 3\)"):
        Conv2d(1, 1, 5)(np.zeros((1, 1, 3, 3)))


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        ((3, 4, 0), {}, "kernel_size must be >= 1"),
        ((0, 4, 3), {}, "in_channels must be a positive integer"),
        ((3, 0, 3), {}, "out_channels must be a positive integer"),
        ((3, 4, 3), {"stride": 0}, "stride must be >= 1"),
        ((3, 4, 3), {"padding": -1}, "padding must be >= 0"),
        ((3, 4, 2.5), {}, "kernel_size must be an integer"),
    ],
)
def test_bad_constructor_arguments(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Conv2d(*args, **kwargs)


def test_backward_before_forward_says_so():
    with pytest.raises(RuntimeError, match="before forward"):
        Conv2d(1, 1, 3).backward(np.zeros((1, 1, 2, 2)))


def test_wrong_grad_shape():
    layer = Conv2d(1, 2, 3)
    layer(np.zeros((1, 1, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"expected grad_output of shape \(1, 2, 3, 3\)"):
        layer.backward(np.zeros((1, 2, 5, 5), np.float32))


def test_he_initialisation_uses_the_receptive_field():
    layer = Conv2d(8, 64, 3, generator=np.random.default_rng(0))
    bound = np.sqrt(6 / (8 * 9))
    assert np.abs(layer.weight.data).max() <= bound
    assert np.std(layer.weight.data) == pytest.approx(bound / np.sqrt(3), rel=0.05)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 2),
    c=st.integers(1, 3),
    h=st.integers(3, 8),
    w=st.integers(3, 8),
    k=st.integers(1, 3),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_output_shape_and_dtype_match_torch(n, c, h, w, k, stride, padding, dtype):
    layer = Conv2d(c, 2, k, stride=stride, padding=padding)
    x = np.ones((n, c, h, w), dtype)
    y = layer(x)
    expected = torch.nn.functional.conv2d(
        torch.ones(n, c, h, w), torch.ones(2, c, k, k), stride=stride, padding=padding
    ).shape
    assert y.shape == tuple(expected) and y.dtype == dtype
    dx = layer.backward(np.ones_like(y))
    assert dx.shape == x.shape and dx.dtype == dtype

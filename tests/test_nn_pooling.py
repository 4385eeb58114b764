"""MaxPool2d and Flatten (chapter 08): against torch, gradient checks, bad input."""

import numpy as np
import pytest
import torch

from dlcore.check import gradcheck
from dlcore.nn import Flatten, MaxPool2d


def assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-8, atol=1e-12)


def compare(layer, reference, x, rng):
    x_t = torch.tensor(x, requires_grad=True)
    y_t = reference(x_t)
    g = rng.standard_normal(tuple(y_t.shape))
    y_t.backward(torch.from_numpy(g))
    assert_close(layer(x), y_t.detach().numpy())
    assert_close(layer.backward(g), x_t.grad.numpy())


@pytest.mark.parametrize(
    "shape, kernel, stride",
    [((2, 3, 4, 4), 2, None), ((1, 2, 5, 7), 2, None), ((2, 2, 7, 7), 3, 2), ((1, 1, 5, 6), (2, 3), 1)],
)
def test_maxpool_matches_torch(shape, kernel, stride):
    rng = np.random.default_rng(sum(shape))
    compare(MaxPool2d(kernel, stride), torch.nn.MaxPool2d(kernel, stride), rng.standard_normal(shape), rng)


def test_maxpool_ties_go_to_the_first_maximum_like_torch():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, size=(2, 2, 6, 6)).astype(np.float64)  # many equal values
    compare(MaxPool2d(2), torch.nn.MaxPool2d(2), x, rng)
    compare(MaxPool2d(3, 1), torch.nn.MaxPool2d(3, 1), x, rng)


@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 2)])
def test_maxpool_gradcheck(kernel, stride):
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 5))
    assert gradcheck(MaxPool2d(kernel, stride), x) < 1e-7


def test_maxpool_bad_input():
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C, H, W\).*got \(3, 4, 4\)"):
        MaxPool2d(2)(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match=r"H >= 3 and W >= 3, got \(1, 1, 2, 5\)"):
        MaxPool2d(3)(np.zeros((1, 1, 2, 5)))
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        MaxPool2d(0)
    with pytest.raises(RuntimeError, match="before forward"):
        MaxPool2d(2).backward(np.zeros((1, 1, 1, 1)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_maxpool_dtype_follows_the_input(dtype):
    layer = MaxPool2d(2)
    y = layer(np.ones((1, 2, 4, 4), dtype))
    assert y.dtype == dtype and layer.backward(np.ones_like(y)).dtype == dtype


@pytest.mark.parametrize("start, end, shape", [(1, -1, (2, 3, 4, 5)), (0, -1, (2, 3)), (1, 2, (2, 3, 4, 5)), (2, 3, (2, 3, 4, 5))])
def test_flatten_matches_torch(start, end, shape):
    rng = np.random.default_rng(0)
    compare(Flatten(start, end), torch.nn.Flatten(start, end), rng.standard_normal(shape), rng)


def test_flatten_gradcheck_and_errors():
    assert gradcheck(Flatten(), np.random.default_rng(0).standard_normal((2, 3, 2))) < 1e-7
    with pytest.raises(ValueError, match=r"cannot flatten an input of shape \(4,\)"):
        Flatten()(np.zeros(4))
    with pytest.raises(RuntimeError, match="before forward"):
        Flatten().backward(np.zeros((2, 3)))
    layer = Flatten()
    layer(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"does not match the forward input of shape \(2, 3, 4\)"):
        layer.backward(np.zeros((2, 5)))

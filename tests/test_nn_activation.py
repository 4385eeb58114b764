"""Activations (chapter 04): against torch, gradient checks, stability, shapes and dtypes."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dlcore.check import gradcheck
from dlcore.nn import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from dlcore.nn.activation import log_softmax, sigmoid, softmax

# (dlcore layer factory, torch layer factory)
PAIRS = {
    "ReLU": (ReLU, torch.nn.ReLU),
    "LeakyReLU": (LeakyReLU, torch.nn.LeakyReLU),
    "LeakyReLU(0.2)": (lambda: LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2)),
    "Sigmoid": (Sigmoid, torch.nn.Sigmoid),
    "Tanh": (Tanh, torch.nn.Tanh),
    "Softmax": (Softmax, lambda: torch.nn.Softmax(dim=-1)),
    "Softmax(dim=0)": (lambda: Softmax(dim=0), lambda: torch.nn.Softmax(dim=0)),
    "Softmax(dim=1)": (lambda: Softmax(dim=1), lambda: torch.nn.Softmax(dim=1)),
    "GELU": (GELU, torch.nn.GELU),
}
SHAPES = [(5,), (3, 4), (2, 3, 4)]


def assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize(
    "name, shape", [(name, shape) for name in PAIRS for shape in SHAPES if not ("dim=1" in name and len(shape) < 2)]
)
def test_matches_torch_in_float64(name, shape):
    make, make_torch = PAIRS[name]
    rng = np.random.default_rng(len(shape))
    x = 3 * rng.standard_normal(shape)
    g = rng.standard_normal(shape)
    layer, reference = make(), make_torch()
    x_t = torch.tensor(x, requires_grad=True)
    y_t = reference(x_t)
    y_t.backward(torch.from_numpy(g))
    assert_close(layer(x), y_t.detach().numpy())
    assert_close(layer.backward(g), x_t.grad.numpy())


@pytest.mark.parametrize("name", PAIRS)
def test_gradcheck(name):
    x = np.random.default_rng(3).standard_normal((3, 4))
    assert gradcheck(PAIRS[name][0](), x) < 1e-7


@pytest.mark.parametrize("name", PAIRS)
def test_backward_before_forward_says_so(name):
    with pytest.raises(RuntimeError, match="before forward"):
        PAIRS[name][0]().backward(np.ones((3, 4)))


@pytest.mark.parametrize("name", PAIRS)
def test_wrong_grad_shape_is_reported(name):
    layer = PAIRS[name][0]()
    layer(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"expected grad_output of shape \(3, 4\).*got \(4, 3\)"):
        layer.backward(np.ones((4, 3)))


def test_relu_gradient_at_zero_is_zero_like_torch():
    layer = ReLU()
    layer(np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(layer.backward(np.ones(3)), [0.0, 0.0, 1.0])


def test_softmax_rejects_an_axis_the_input_does_not_have():
    with pytest.raises(ValueError, match=r"Softmax\(dim=2\) got an input of shape \(3, 4\)"):
        Softmax(dim=2)(np.ones((3, 4)))


def test_gelu_is_the_exact_erf_form_not_the_tanh_approximation():
    x = np.linspace(-4, 4, 81)
    exact = torch.nn.functional.gelu(torch.from_numpy(x)).numpy()
    tanh_form = torch.nn.functional.gelu(torch.from_numpy(x), approximate="tanh").numpy()
    ours = GELU()(x)
    assert np.abs(ours - exact).max() < 1e-14
    assert np.abs(ours - tanh_form).max() > 1e-4


LARGE = np.array([[-1000.0, 0.0, 1000.0], [1000.0, 1000.0, -1000.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_for_inputs_of_plus_minus_1000(dtype):
    x = LARGE.astype(dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        s = Sigmoid()(x)
        p = Softmax()(x)
        logp = log_softmax(x)
        layer = Softmax()
        layer(x)
        grad = layer.backward(np.ones_like(x))
    for array in (s, p, logp, grad):
        assert np.isfinite(array).all() and array.dtype == dtype
    np.testing.assert_array_equal(s, [[0.0, 0.5, 1.0], [1.0, 1.0, 0.0]])
    np.testing.assert_allclose(p, [[0.0, 0.0, 1.0], [0.5, 0.5, 0.0]])
    np.testing.assert_allclose(logp[0], [-2000.0, -1000.0, 0.0])


def test_sigmoid_function_matches_torch_over_a_wide_range():
    x = np.linspace(-50, 50, 1001)
    assert_close(sigmoid(x), torch.sigmoid(torch.from_numpy(x)).numpy())


@settings(max_examples=40, deadline=None)
@given(
    x=hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64]),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
        elements=st.floats(-1e3, 1e3, width=32),
    ),
    name=st.sampled_from(sorted(PAIRS)),
)
def test_shape_and_dtype_are_preserved(x, name):
    if "dim=1" in name and x.ndim < 2:
        return
    layer = PAIRS[name][0]()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = layer(x)
        dx = layer.backward(np.ones_like(y))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert dx.shape == x.shape and dx.dtype == x.dtype
    assert np.isfinite(y).all() and np.isfinite(dx).all()


@settings(max_examples=30, deadline=None)
@given(
    x=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
        elements=st.floats(-1e3, 1e3),
    )
)
def test_softmax_rows_are_probabilities(x):
    p = softmax(x)
    assert (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)

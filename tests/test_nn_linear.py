"""Linear (chapter 05): against torch.nn.Linear, gradient check, bad input, dtypes."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcore
from dlcore.check import gradcheck
from dlcore.nn import Linear


def assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("n, d_in, d_out, bias", [(1, 1, 1, True), (4, 3, 2, True), (7, 5, 6, False)])
def test_matches_torch_in_float64(n, d_in, d_out, bias):
    rng = np.random.default_rng(n * 100 + d_in)
    layer = Linear(d_in, d_out, bias=bias, dtype=np.float64, generator=rng)
    reference = torch.nn.Linear(d_in, d_out, bias=bias, dtype=torch.float64)
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(layer.weight.data))
        if bias:
            reference.bias.copy_(torch.from_numpy(layer.bias.data))
    x = rng.standard_normal((n, d_in))
    g = rng.standard_normal((n, d_out))
    x_t = torch.tensor(x, requires_grad=True)

    y = layer(x)
    y_t = reference(x_t)
    y_t.backward(torch.from_numpy(g))
    dx = layer.backward(g)

    assert_close(y, y_t.detach().numpy())
    assert_close(dx, x_t.grad.numpy())
    assert_close(layer.weight.grad, reference.weight.grad.numpy())
    if bias:
        assert_close(layer.bias.grad, reference.bias.grad.numpy())
    else:
        assert layer.bias is None and len(list(layer.parameters())) == 1


def test_backward_adds_into_grad():
    rng = np.random.default_rng(0)
    layer = Linear(3, 2, dtype=np.float64, generator=rng)
    x, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    layer(x)
    layer.backward(g)
    once = layer.weight.grad.copy()
    layer.backward(g)
    assert_close(layer.weight.grad, 2 * once)
    layer.zero_grad()
    assert not layer.weight.grad.any() and not layer.bias.grad.any()


@pytest.mark.parametrize("shape", [(3, 4, 2), (1, 2, 5)])
def test_gradcheck(shape):
    n, d_in, d_out = shape
    rng = np.random.default_rng(1)
    layer = Linear(d_in, d_out, dtype=np.float64, generator=rng)
    layer.bias.data[:] = rng.standard_normal(d_out)
    assert gradcheck(layer, rng.standard_normal((n, d_in))) < 1e-7


def test_wrong_width_names_expected_and_actual_shapes():
    with pytest.raises(ValueError, match=r"Linear expected input of shape \(N, 3\), got \(4, 5\)"):
        Linear(3, 2)(np.zeros((4, 5)))


def test_one_dimensional_input_suggests_a_batch_axis():
    with pytest.raises(ValueError, match=r"got \(3,\).*batch axis"):
        Linear(3, 2)(np.zeros(3))


def test_wrong_grad_shape_is_reported():
    layer = Linear(3, 2)
    layer(np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match=r"expected grad_output of shape \(4, 2\).*got \(4, 3\)"):
        layer.backward(np.zeros((4, 3), np.float32))


def test_backward_before_forward_says_so():
    with pytest.raises(RuntimeError, match="before forward"):
        Linear(3, 2).backward(np.zeros((1, 2)))


@pytest.mark.parametrize("args", [(0, 2), (3, 0), (-1, 2), (2.5, 2), ("3", 2), (True, 2)])
def test_bad_constructor_arguments(args):
    with pytest.raises(ValueError, match="positive integer"):
        Linear(*args)


def test_default_parameters_are_float32_and_he_initialised():
    layer = Linear(400, 300, generator=np.random.default_rng(0))
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    bound = np.sqrt(6 / 400)
    assert np.abs(layer.weight.data).max() <= bound
    assert np.std(layer.weight.data) == pytest.approx(bound / np.sqrt(3), rel=0.02)
    assert not layer.bias.data.any()


def test_set_default_dtype_gives_float64_parameters():
    old = dlcore.get_default_dtype()
    try:
        dlcore.set_default_dtype(np.float64)
        assert Linear(2, 2).weight.dtype == np.float64
    finally:
        dlcore.set_default_dtype(old)
    assert Linear(2, 2).weight.dtype == old == np.float32


def test_set_default_dtype_rejects_other_types():
    with pytest.raises(ValueError, match="float32 or np.float64"):
        dlcore.set_default_dtype(np.int32)


def test_same_generator_seed_gives_same_weights():
    a = Linear(5, 4, generator=np.random.default_rng(7))
    b = Linear(5, 4, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)


def test_integer_input_is_converted_to_a_float():
    out = Linear(2, 1)(np.array([[1, 2]]))
    assert out.dtype == np.float32


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 6),
    d_in=st.integers(1, 6),
    d_out=st.integers(1, 6),
    x_dtype=st.sampled_from([np.float32, np.float64]),
    param_dtype=st.sampled_from([np.float32, np.float64]),
)
def test_shapes_and_dtype_follow_the_input(n, d_in, d_out, x_dtype, param_dtype):
    layer = Linear(d_in, d_out, dtype=param_dtype)
    x = np.ones((n, d_in), dtype=x_dtype)
    y = layer(x)
    assert y.shape == (n, d_out) and y.dtype == x_dtype
    dx = layer.backward(np.ones_like(y))
    assert dx.shape == x.shape and dx.dtype == x_dtype
    assert layer.weight.grad.dtype == param_dtype


def test_needs_input_grad_false_skips_the_input_gradient():
    rng = np.random.default_rng(0)
    layer = Linear(3, 2, dtype=np.float64, generator=rng)
    layer.needs_input_grad = False
    layer(rng.standard_normal((4, 3)))
    assert layer.backward(np.ones((4, 2))) is None
    assert layer.weight.grad.any()

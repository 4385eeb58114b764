"""Gradient checking (chapter 05): numerical gradients, and gradcheck catching wrong layers."""

import numpy as np
import pytest

from dlcore.check import gradcheck, numerical_gradient, relative_error
from dlcore.nn import Linear, ReLU, Sequential, Tanh


def test_numerical_gradient_of_known_functions():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v**2), x), 2 * x, rtol=1e-8)
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(np.sin(v)), x), np.cos(x), rtol=1e-8)


def test_numerical_gradient_restores_x():
    x = np.array([1.0, 2.0, 3.0])
    numerical_gradient(lambda v: np.prod(v), x)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.array([1.0, 2.0])

    def f(v):
        if v[0] != 1.0:
            raise RuntimeError("boom")
        return 0.0

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_numerical_gradient_needs_float64():
    with pytest.raises(TypeError, match="float64.*x is float32"):
        numerical_gradient(np.sum, np.ones(3, np.float32))


def test_relative_error_is_norm_wise():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.array([1.0, 1e-12]), np.array([1.0, 2e-12])) < 1e-11
    assert relative_error(np.array([1.0]), np.array([-1.0])) == 1.0


class WrongTanh(Tanh):
    """Planted bug: uses 1 - tanh instead of 1 - tanh^2."""

    def backward(self, grad_output):
        return grad_output * (1 - self._cached("_out"))


class LinearForgetsBias(Linear):
    """Planted bug: never adds the bias gradient."""

    def backward(self, grad_output):
        x = self._cached("_x")
        self.weight.grad += grad_output.T @ x
        return grad_output @ self.weight.data


class SlightlyWrongReLU(ReLU):
    """Planted bug: the input gradient is 5% too large."""

    def backward(self, grad_output):
        return 1.05 * super().backward(grad_output)


@pytest.mark.parametrize(
    "make",
    [
        lambda: WrongTanh(),
        lambda: LinearForgetsBias(3, 2, dtype=np.float64, generator=np.random.default_rng(0)),
        lambda: SlightlyWrongReLU(),
        lambda: Sequential(Linear(3, 3, dtype=np.float64, generator=np.random.default_rng(0)), SlightlyWrongReLU()),
    ],
)
def test_a_planted_wrong_backward_is_caught(make):
    x = np.random.default_rng(1).standard_normal((4, 3))
    assert gradcheck(make(), x) > 1e-2


def test_the_correct_versions_pass():
    x = np.random.default_rng(1).standard_normal((4, 3))
    assert gradcheck(Tanh(), x) < 1e-7
    assert gradcheck(Linear(3, 2, dtype=np.float64), x) < 1e-7


def test_gradcheck_restores_parameters_and_gradients():
    layer = Linear(3, 2, dtype=np.float64, generator=np.random.default_rng(0))
    layer.weight.grad[...] = 7.0
    weight = layer.weight.data.copy()
    gradcheck(layer, np.random.default_rng(1).standard_normal((4, 3)))
    np.testing.assert_array_equal(layer.weight.data, weight)
    assert (layer.weight.grad == 7.0).all() and not layer.bias.grad.any()


def test_gradcheck_needs_float64_parameters_and_input():
    with pytest.raises(TypeError, match="parameter 'weight' is float32.*set_default_dtype"):
        gradcheck(Linear(3, 2), np.ones((2, 3)))
    with pytest.raises(TypeError, match="the input x is float32"):
        gradcheck(Tanh(), np.ones((2, 3), np.float32))


def test_gradcheck_needs_the_input_gradient():
    layer = Linear(3, 2, dtype=np.float64)
    layer.needs_input_grad = False
    with pytest.raises(ValueError, match="needs_input_grad = True"):
        gradcheck(layer, np.ones((2, 3)))

"""Checkers for the chapter 05 exercises ("Multilayer perceptrons and backpropagation").

Used in ``exercises/05_backpropagation.ipynb``::

    from dlcore.exercises import ch05 as check
    check.ex1(value_sigmoid)

* :func:`ex1` -- ``value_sigmoid(v)``: a sigmoid built from ``Value`` operations.
* :func:`ex2` -- ``linear_backward(x, W, grad_out)``: the three gradients of a linear layer.
* :func:`ex3` -- ``numerical_gradient(f, x, eps)``: central differences for every entry.
* :func:`ex4` -- ``mlp_gradients(x, t, W1, b1, W2, b2)``: the backward pass of a whole
  two-layer network with a tanh hidden layer and a mean squared error loss.

Each checker tries the learner's function on small cases with known answers and says
what differs; none of them raises.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import Value
from ._core import CheckFailure, call, checker, expect, expect_array, expect_close


@checker("a sigmoid from Value operations")
def ex1(value_sigmoid):
    """``value_sigmoid(v)`` -> a Value equal to 1 / (1 + exp(-v)), whose gradient is s (1 - s)."""
    for x in (1.5, 0.0, -2.0, 4.0):
        name = f"value_sigmoid(Value({x}))"
        v = Value(x, label="v")
        out = call(value_sigmoid, v)
        expect(out is not None, f"{name} returned None.", "Did you forget a `return` statement?")
        expect(isinstance(out, Value),
               f"{name} returned a {type(out).__name__}, not a Value.",
               "Build the result from v with Value operations, e.g. (-v).exp(), + and /, so that "
               "the graph remembers how it was computed; math.exp(v.data) gives a plain float.")
        expect(out._op != "sigmoid",
               f"{name} uses the built-in v.sigmoid().",
               "The point is to build it from exp, + and /: 1 / (1 + (-v).exp()).")
        s = 1 / (1 + math.exp(-x))
        expect_close(out.data, s, name=f"{name}.data",
                     hint="sigmoid(v) = 1 / (1 + exp(-v)); note the minus sign.")
        call(out.backward)
        expect(v in out.topological_order(),
               f"the result of {name} is not connected to v in the graph.",
               "Compute the result from v itself, not from a new Value(v.data).")
        expect_close(v.grad, s * (1 - s), name=f"the gradient d(out)/dv for {name}",
                     hint="If .data is right but the gradient is not, the result was not built "
                          "from v by Value operations.")
    return "The engine differentiated your formula by itself: s (1 - s), as derived by hand."


def _linear_reference(x, W, g):
    return g @ W, g.T @ x, g.sum(axis=0)


@checker("the backward pass of a linear layer")
def ex2(linear_backward):
    """``linear_backward(x, W, grad_out)`` -> (dx, dW, db) for y = x W^T + b."""
    rng = np.random.default_rng(7)
    for n, n_in, n_out in ((4, 3, 2), (1, 5, 5), (6, 2, 7)):
        x, W = rng.standard_normal((n, n_in)), rng.standard_normal((n_out, n_in))
        g = rng.standard_normal((n, n_out))
        name = f"linear_backward(x {x.shape}, W {W.shape}, grad_out {g.shape})"
        result = call(linear_backward, x.copy(), W.copy(), g.copy())
        expect(isinstance(result, (tuple, list)) and len(result) == 3,
               f"{name} should return three arrays (dx, dW, db), got {type(result).__name__}"
               + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "") + ".",
               "End with `return dx, dW, db`.")
        dx_ref, dW_ref, db_ref = _linear_reference(x, W, g)
        for label, got, want in (("dx", result[0], dx_ref), ("dW", result[1], dW_ref), ("db", result[2], db_ref)):
            arr = expect_array(got, name=f"{label} from {name}")
            if arr.shape != want.shape:
                raise CheckFailure(
                    f"{label} from {name} has shape {arr.shape}, expected {want.shape}.",
                    "A gradient has the shape of what it differentiates: dx like x (N, in), dW like "
                    "W (out, in), db like b (out,). Only one product of g (N, out), x (N, in) and "
                    "W (out, in) gives each shape.")
            if label == "db" and np.allclose(arr, g.mean(axis=0)) and n > 1:
                raise CheckFailure(f"db from {name} is the *mean* of grad_out over the batch.",
                                   "The bias is added to every row, so its gradient is the sum over "
                                   "the batch: grad_out.sum(axis=0).")
            expect_close(arr, want, name=f"{label} from {name}",
                         hint={"dx": "dx = grad_out @ W", "dW": "dW = grad_out.T @ x",
                               "db": "db = grad_out.sum(axis=0)"}[label])
    return "These three lines are the whole backward pass of dlcore.nn.Linear."


@checker("a numerical gradient")
def ex3(numerical_gradient):
    """``numerical_gradient(f, x, eps)`` -> central differences of the scalar f at x, shape x.shape."""
    rng = np.random.default_rng(8)
    x = rng.uniform(-1, 1, size=(3, 2))
    x_before = x.copy()

    def f(z):
        return float(np.sum(np.exp(2 * z)) + np.sum(z[:, 0] * z[:, 1]))

    exact = 2 * np.exp(2 * x) + x[:, ::-1]
    name = "numerical_gradient(f, x, eps=1e-3) for x of shape (3, 2)"
    got = expect_array(call(numerical_gradient, f, x, 1e-3), name=name)
    expect(np.array_equal(x, x_before), f"{name} changed x: after the call some entries differ.",
           "Put every entry back after nudging it: save it, set x[i] = old + eps, then old - eps, "
           "then x[i] = old.")
    expect(got.shape == x.shape, f"{name} has shape {got.shape}, expected {x.shape}.",
           "Return one partial derivative per entry of x: start from np.zeros_like(x).")
    forward = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        z = x_before.copy()
        z[i] += 1e-3
        forward[i] = (f(z) - f(x_before)) / 1e-3
    expect(not np.allclose(got, forward, rtol=1e-9, atol=1e-12),
           f"{name} matches the *forward* difference (f(x + eps) - f(x)) / eps, whose error is "
           f"proportional to eps.",
           "Use the central difference (f(x + eps) - f(x - eps)) / (2 eps): its error is "
           "proportional to eps squared.")
    expect_close(got, exact, rtol=1e-5, atol=1e-8, name=name,
                 hint="Nudge one entry at a time, both ways, and divide by 2 * eps.")
    x1 = rng.uniform(-1, 1, size=(4,))
    got = expect_array(call(numerical_gradient, lambda z: float(np.sum(np.sin(z))), x1.copy(), 1e-5),
                       name="numerical_gradient(sum of sin, x of shape (4,), eps=1e-5)")
    expect_close(got, np.cos(x1), rtol=1e-8, atol=1e-9,
                 name="numerical_gradient(sum of sin, x of shape (4,), eps=1e-5)",
                 hint="Does your function use its eps argument and work for any shape of x?")
    return "Slow (two evaluations per entry) but a trustworthy referee for backward passes."


def _mlp_reference(x, t, W1, b1, W2, b2) -> dict:
    """The four gradients, plus dW1 as it would be without tanh's slope (a common slip)."""
    h = np.tanh(x @ W1.T + b1)
    y = h @ W2.T + b2
    g = 2 * (y - t) / y.size
    gz = (g @ W2) * (1 - h**2)
    return {"dW1": gz.T @ x, "db1": gz.sum(axis=0), "dW2": g.T @ h, "db2": g.sum(axis=0),
            "dW1 without tanh'": (g @ W2).T @ x}


@checker("the backward pass of a two-layer network")
def ex4(mlp_gradients):
    """``mlp_gradients(x, t, W1, b1, W2, b2)`` -> (dW1, db1, dW2, db2) for the MSE loss."""
    rng = np.random.default_rng(9)
    for n, n_in, n_hidden, n_out in ((5, 2, 4, 3), (3, 3, 6, 1)):
        x, t = rng.standard_normal((n, n_in)), rng.standard_normal((n, n_out))
        W1, b1 = rng.standard_normal((n_hidden, n_in)), rng.standard_normal(n_hidden)
        W2, b2 = rng.standard_normal((n_out, n_hidden)), rng.standard_normal(n_out)
        name = f"mlp_gradients for layers {n_in} -> {n_hidden} -> {n_out}, a batch of {n}"
        result = call(mlp_gradients, x.copy(), t.copy(), W1.copy(), b1.copy(), W2.copy(), b2.copy())
        expect(isinstance(result, (tuple, list)) and len(result) == 4,
               f"{name} should return four arrays (dW1, db1, dW2, db2), got {type(result).__name__}"
               + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "") + ".",
               "End with `return dW1, db1, dW2, db2`.")
        reference = _mlp_reference(x, t, W1, b1, W2, b2)
        shapes = {"dW1": W1.shape, "db1": b1.shape, "dW2": W2.shape, "db2": b2.shape}
        arrays = {}
        for label, got in zip(shapes, result):
            arr = expect_array(got, name=f"{label} from {name}")
            expect(arr.shape == shapes[label], f"{label} from {name} has shape {arr.shape}, expected "
                   f"{shapes[label]}, the shape of {label[1:]}.",
                   "A gradient has the shape of what it differentiates.")
            arrays[label] = arr
        expect(not np.allclose(arrays["dW2"], 0.5 * reference["dW2"]),
               f"dW2 from {name} is half the right value.",
               "The derivative of (y - t)^2 is 2 (y - t): keep the factor 2 (and divide by the "
               "number of entries, y.size).")
        for label in ("dW2", "db2"):
            expect_close(arrays[label], reference[label], name=f"{label} from {name}",
                         hint="Start the backward pass with g = 2 (y - t) / y.size, the gradient of "
                              "np.mean((y - t) ** 2), then dW2 = g.T @ h and db2 = g.sum(axis=0).")
        expect(not np.allclose(arrays["dW1"], reference["dW1 without tanh'"]),
               f"dW1 from {name} leaves out the slope of tanh.",
               "Between g @ W2 and the first layer, multiply by tanh'(z) = 1 - h**2.")
        for label in ("dW1", "db1"):
            expect_close(arrays[label], reference[label], name=f"{label} from {name}",
                         hint="Going down through the hidden layer: gz = (g @ W2) * (1 - h**2), "
                              "with h the tanh output, then dW1 = gz.T @ x and db1 = gz.sum(axis=0).")
    return "You have written backpropagation for a whole network by hand."

"""Checkers for the chapter 04 exercises ("Activation functions").

Used in ``exercises/04_activations.ipynb``::

    from dlcore.exercises import ch04 as check
    check.ex1(stable_sigmoid)

* :func:`ex1` -- ``stable_sigmoid(z)``: the sigmoid, with no overflow for any z.
* :func:`ex2` -- ``softmax(z)``: softmax along the last axis, stable for large scores.
* :func:`ex3` -- ``collapse(weights, biases)``: one linear layer equal to a stack of them.
* :func:`ex4` -- ``gradient_at_input(f, df, weights, x, upstream)``: the gradient at the
  input of a deep stack, by the chain rule layer by layer.

Each checker tries the learner's function on small cases with known answers and says
what differs; none of them raises.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._core import CheckFailure, call, checker, expect, expect_array, expect_close


def _reference_sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _reference_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _call_quietly(fn, *args):
    """Call the learner's function; return (result, list of numerical warning messages)."""
    with (warnings.catch_warnings(record=True) as caught,
          np.errstate(over="warn", invalid="warn", divide="warn", under="ignore")):
        warnings.simplefilter("always")
        result = call(fn, *args)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    return result, messages


@checker("a stable sigmoid")
def ex1(stable_sigmoid):
    """``stable_sigmoid(z)`` -> 1 / (1 + exp(-z)) elementwise, same shape, no overflow."""
    z = np.array([-2.0, 0.0, 0.5, 3.0])
    name = "stable_sigmoid([-2, 0, 0.5, 3])"
    got = expect_array(call(stable_sigmoid, z.copy()), name=name)
    expect(got.shape == z.shape, f"{name} has shape {got.shape}, expected {z.shape}.",
           "Apply the function to every element; do not sum or average.")
    expect(not np.allclose(got, 1 / (1 + np.exp(z))),
           f"{name} returned 1 / (1 + exp(z)), which is sigmoid(-z).",
           "The sigmoid is 1 / (1 + exp(-z)): it is above 0.5 for positive z.")
    expect_close(got, _reference_sigmoid(z), name=name, hint="sigmoid(0) = 0.5 and sigmoid(3) is about 0.953.")

    z = np.array([[-1000.0, -50.0], [50.0, 1000.0]])
    name = "stable_sigmoid([[-1000, -50], [50, 1000]])"
    result, messages = _call_quietly(stable_sigmoid, z.copy())
    expect(not messages, f"{name} gave NumPy's warning '{messages[0] if messages else ''}'.",
           "np.exp(1000) overflows. Split by sign: with e = np.exp(-np.abs(z)), which is at most 1, "
           "use 1 / (1 + e) where z >= 0 and e / (1 + e) where z < 0.")
    got = expect_array(result, shape=(2, 2), name=name)
    expect_close(got, _reference_sigmoid(z), rtol=1e-6, atol=1e-300, name=name,
                 hint="sigmoid(-50) is about 1.9e-22, not 0: compute it as e / (1 + e) with e = exp(-50).")
    return "It is exact from -1000 to 1000, with no warnings."


@checker("a stable softmax")
def ex2(softmax):
    """``softmax(z)`` for z of shape (N, K) -> (N, K), each row positive and summing to 1."""
    z = np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]])
    name = "softmax([[2, 1, 0.1], [0, 0, 0]])"
    got = expect_array(call(softmax, z.copy()), name=name)
    expect(got.shape == z.shape, f"{name} has shape {got.shape}, expected {z.shape}: one probability "
           "per score.", "Divide by the sum with keepdims=True so the shapes line up.")
    expect(not np.allclose(got.sum(axis=0), 1) or np.allclose(got.sum(axis=1), 1),
           f"the *columns* of {name} sum to 1, not the rows.",
           "Normalise along the last axis: .sum(axis=-1, keepdims=True).")
    expect(not np.isclose(got.sum(), 1),
           f"all the entries of {name} together sum to 1; each row should.",
           "Sum along the last axis only, with keepdims=True.")
    expect_close(got, _reference_softmax(z), name=name,
                 hint="Row [0, 0, 0] should give [1/3, 1/3, 1/3]; every row must sum to 1.")

    z = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0], [-1000.0, -1001.0, -999.0]])
    name = "softmax([[1000, 1001, 1002], [-1000, 0, 1000], [-1000, -1001, -999]])"
    result, messages = _call_quietly(softmax, z.copy())
    expect(not messages, f"{name} gave NumPy's warning '{messages[0] if messages else ''}'.",
           "Subtract each row's maximum before np.exp (z - z.max(axis=-1, keepdims=True)): "
           "the answer does not change, and no exponent is positive.")
    got = expect_array(result, shape=z.shape, name=name)
    expect_close(got, _reference_softmax(z), rtol=1e-6, atol=1e-300, name=name,
                 hint="Subtract each row's own maximum, not the maximum of the whole array.")
    return "Scores of 1000 are no problem."


def _random_stack(rng, widths):
    weights = [rng.standard_normal((o, i)) for i, o in zip(widths[:-1], widths[1:])]
    biases = [rng.standard_normal(o) for o in widths[1:]]
    return weights, biases


def _apply_stack(x, weights, biases):
    for W, b in zip(weights, biases):
        x = x @ W.T + b
    return x


@checker("collapse a stack of linear layers")
def ex3(collapse):
    """``collapse(weights, biases)`` -> (W, b) with x @ W.T + b equal to the whole stack."""
    rng = np.random.default_rng(4)
    for widths in ([3, 4, 2], [2, 5, 5, 3, 4], [4, 4]):
        weights, biases = _random_stack(rng, widths)
        name = f"collapse(...) for layer widths {widths}"
        result = call(collapse, [W.copy() for W in weights], [b.copy() for b in biases])
        expect(isinstance(result, (tuple, list)) and len(result) == 2,
               f"{name} should return a pair (W, b), got {type(result).__name__}"
               + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "") + ".",
               "End with `return W, b`.")
        W = expect_array(result[0], name=f"W from {name}")
        b = expect_array(result[1], name=f"b from {name}")
        want_W, want_b = (widths[-1], widths[0]), (widths[-1],)
        if W.shape == want_W[::-1] and want_W[0] != want_W[1]:
            raise CheckFailure(f"W from {name} has shape {W.shape}, expected {want_W} (out, in).",
                               "Like a Linear weight, W has one row per output: the last layer's "
                               "matrix comes first in the product, W = W_L @ ... @ W_2 @ W_1.")
        W = expect_array(W, shape=want_W, name=f"W from {name}")
        b = expect_array(b, shape=want_b, name=f"b from {name}")
        x = rng.standard_normal((6, widths[0]))
        expect_close(x @ W.T, _apply_stack(x, weights, [0 * bb for bb in biases]),
                     name=f"x @ W.T (the weight part) for {name}",
                     hint="The first layer acts first, so its matrix is on the right: W = W_L @ ... @ W_1.")
        expect_close(x @ W.T + b, _apply_stack(x, weights, biases), name=f"x @ W.T + b for {name}",
                     hint="Each later layer also multiplies the earlier biases: fold one layer at a "
                          "time with W, b = W_l @ W, b @ W_l.T + b_l.")
    return "Three layers or one: the same map."


def _reference_gradient(f, df, weights, x, upstream):
    zs, h = [], x
    for W in weights:
        zs.append(h @ W.T)
        h = f(zs[-1])
    g = upstream
    for W, z in zip(weights[::-1], zs[::-1]):
        g = (g * df(z)) @ W
    return g


def _no_derivative_gradient(weights, upstream):
    g = upstream
    for W in weights[::-1]:
        g = g @ W
    return g


@checker("the gradient at the input of a deep stack")
def ex4(gradient_at_input):
    """``gradient_at_input(f, df, weights, x, upstream)`` -> dL/dx of shape x.shape."""
    rng = np.random.default_rng(5)
    widths = [3, 4, 5, 2]
    weights = [rng.standard_normal((o, i)) / np.sqrt(i) for i, o in zip(widths[:-1], widths[1:])]
    x = rng.standard_normal((6, widths[0]))
    upstream = rng.standard_normal((6, widths[-1]))
    cases = [("tanh", np.tanh, lambda z: 1 - np.tanh(z) ** 2),
             ("ReLU", lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float))]
    for label, f, df in cases:
        name = f"gradient_at_input for {label}, layer widths {widths}, a batch of 6"
        got = expect_array(call(gradient_at_input, f, df, [W.copy() for W in weights], x.copy(),
                                upstream.copy()), name=name)
        expect(got.shape == x.shape, f"{name} has shape {got.shape}, expected {x.shape}, the shape of x.",
               "Going down through layer l, multiply by W_l (shape (out, in)), not by W_l.T: "
               "g = (g * df(z)) @ W.")
        expect(not np.allclose(got, _no_derivative_gradient(weights, upstream)),
               f"{name} multiplies by the weights but not by the slopes f'(z).",
               "Keep every pre-activation z from the forward pass and multiply by df(z) before @ W.")
        expect_close(got, _reference_gradient(f, df, weights, x, upstream), name=name,
                     hint="Forward: z_l = h @ W_l.T, h = f(z_l), keeping each z_l. Backward, top "
                          "layer first: g = (g * df(z_l)) @ W_l.")
    return "This is backpropagation through a stack of layers, written by you."

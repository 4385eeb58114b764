"""Checkers for the chapter 05 exercises ("Multilayer perceptrons and backpropagation").

Used in ``exercises/05_backpropagation.ipynb``::

    from dlcore.exercises import ch05 as check
    check.ex1(value_sigmoid)

* :func:`ex1` -- ``value_sigmoid(v)``: a sigmoid built from ``Value`` operations.
* :func:`ex2` -- ``maximum(a, b)``: a new operation for the ``Value`` engine, one node
  with its own backward step (the max gate routes the gradient to the larger input).
* :func:`ex3` -- ``mlp_gradients(x, t, W1, b1, W2, b2)``: the backward pass of a whole
  two-layer network with a tanh hidden layer and a mean squared error loss.
* :func:`ex4` -- ``softmax_cross_entropy_backward(x, W, b, y)``: the loss and the hand-derived
  gradients of a linear layer followed by softmax and cross-entropy ("backprop ninja").

Each checker tries the learner's function on several cases of different sizes (and, for
the array exercises, in float64 and float32) and says what differs; none of them raises.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..autograd import Value
from ._core import CheckFailure, call, checker, expect, expect_array, expect_close

#: The node operations the exercise allows (the names nodes carry in ``_op``): ``-`` and ``/``
#: are built from ``*``, ``+`` and ``**-1`` inside the engine; ``tanh``, ``log`` and ``relu`` are
#: Value operations that the exercise text does not allow.
_ALLOWED_OPS = {"", "+", "*", "exp"}
_OTHER_ENGINE_OPS = {"tanh", "log", "relu"}


def _quiet(fn):
    """Run a checker body with NumPy's floating-point errors ignored (robust references)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    return wrapper


def _tuple(result, name: str, n: int, names: str):
    if isinstance(result, np.ndarray) and result.dtype == object:
        result = list(result)
    expect(isinstance(result, (tuple, list)) and len(result) == n,
           f"{name} should return {n} values ({names}), got {type(result).__name__}"
           + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "") + ".",
           f"End with `return {names}`.")
    return result


def _tolerances(arr: np.ndarray, name: str, low: bool):
    """(rtol, atol relative to the scale) for an answer; float16 answers are refused."""
    if arr.dtype == np.float16:
        raise CheckFailure(f"{name} is float16, which keeps only about 3 significant digits.",
                           "Compute in the dtype of the inputs (float64 or float32).")
    if low or arr.dtype == np.float32:
        return 1e-4, 1e-5
    return 1e-8, 1e-11


def _expect_gradient(got, want, *, name: str, hint: str, low: bool = False) -> np.ndarray:
    arr = expect_array(got, name=name)
    if arr.shape != want.shape:
        raise CheckFailure(f"{name} has shape {arr.shape}, expected {want.shape}.",
                           "A gradient has the shape of what it differentiates.")
    rtol, atol = _tolerances(arr, name, low)
    expect_close(arr, want, rtol=rtol, atol=atol * (1 + float(np.abs(want).max(initial=0))),
                 name=name, hint=hint)
    return arr


# ---- exercise 1: a sigmoid from Value operations ---------------------------------------------

@checker("a sigmoid from Value operations")
def ex1(value_sigmoid):
    """``value_sigmoid(v)`` -> a Value equal to 1 / (1 + exp(-v)), whose gradient is s (1 - s)."""
    for x in (1.5, 0.0, -2.0, 4.0, -30.0, 25.0):
        name = f"value_sigmoid(Value({x}))"
        v = Value(x, label="v")
        out = call(value_sigmoid, v)
        expect(out is not None, f"{name} returned None.", "Did you forget a `return` statement?")
        expect(isinstance(out, Value),
               f"{name} returned a {type(out).__name__}, not a Value.",
               "Build the result from v with Value operations, e.g. (-v).exp(), + and /, so that "
               "the graph remembers how it was computed; math.exp(v.data) gives a plain float.")
        order = out.topological_order()
        ops = {node._op for node in order}
        expect("sigmoid" not in ops,
               f"the graph of {name} contains a sigmoid node: it uses the built-in .sigmoid().",
               "The point is to build it from exp, + and /: 1 / (1 + (-v).exp()).")
        banned = sorted(ops & _OTHER_ENGINE_OPS)
        expect(not banned, f"the graph of {name} uses .{banned[0] if banned else ''}(), which the exercise "
               "does not allow.",
               "Build it from -, .exp(), + and / only: 1 / (1 + (-v).exp()). (The identity "
               "0.5 * (1 + tanh(v / 2)) is right, but it is not this exercise.)")
        odd = sorted(op for op in ops if op not in _ALLOWED_OPS | _OTHER_ENGINE_OPS and not op.startswith("**"))
        expect(not odd, f"the graph of {name} contains nodes made outside the engine's operations "
               f"({', '.join(repr(op) for op in odd)}).",
               "Use only the operations Value already has (-, exp(), +, /); the engine then "
               "differentiates the formula for you.")
        s = 1 / (1 + math.exp(-x))
        expect_close(out.data, s, rtol=1e-9, atol=1e-15, name=f"{name}.data",
                     hint="sigmoid(v) = 1 / (1 + exp(-v)); note the minus sign.")
        expect(v in order, f"the result of {name} is not connected to v in the graph.",
               "Compute the result from v itself, not from a new Value(v.data).")
        call(out.backward)
        expect_close(v.grad, s * (1 - s), rtol=1e-9, atol=1e-15, name=f"the gradient d(out)/dv for {name}",
                     hint="If .data is right but the gradient is not, the result was not built "
                          "from v by Value operations.")
    return "The engine differentiated your formula by itself: s (1 - s), as derived by hand."


# ---- exercise 2: a new operation, maximum(a, b) -----------------------------------------------

def _new_node(maximum, a: Value, b: Value, name: str) -> Value:
    out = call(maximum, a, b)
    expect(out is not None, f"{name} returned None.", "Did you forget a `return out`?")
    expect(isinstance(out, Value), f"{name} returned a {type(out).__name__}, not a Value.",
           "Create the output node with Value(max(a.data, b.data), (a, b), 'max').")
    return out


@checker("a new Value operation: maximum(a, b)")
def ex2(maximum):
    """``maximum(a, b)`` -> one new Value node with children (a, b) and a backward step."""
    for xa, xb in ((2.0, -1.0), (-3.0, 0.5), (-0.25, -4.0), (7.0, 7.5)):
        name = f"maximum(Value({xa}), Value({xb}))"
        a, b = Value(xa, label="a"), Value(xb, label="b")
        out = _new_node(maximum, a, b, name)
        expect(a.data == xa and b.data == xb, f"{name} changed the data of its inputs.",
               "Read a.data and b.data; never assign to them.")
        expect_close(out.data, max(xa, xb), rtol=0, atol=0, name=f"{name}.data",
                     hint="The forward value is the larger of a.data and b.data.")
        children = set(map(id, out._prev))
        expect(id(a) in children and id(b) in children,
               f"the node returned by {name} does not have a and b as its children (_prev).",
               "Make one new node whose children are a and b: Value(..., (a, b), 'max'), with its "
               "own _backward. Built from other operations (relu, +), it is not a new operation.")
        call(out.backward)
        big, small = (a, b) if xa > xb else (b, a)
        expect(not (big.grad == 0 and small.grad == 0),
               f"after {name}.backward(), neither input received a gradient.",
               "Define a function _backward() that adds into a.grad or b.grad, and attach it with "
               "out._backward = _backward before returning out.")
        expect(not (small.grad != 0 and big.grad == 0),
               f"after {name}.backward(), the gradient went to the smaller input.",
               "The max gate routes the whole gradient to the input that won: d max(a, b)/da is 1 "
               "when a > b and 0 when a < b.")
        expect_close([big.grad, small.grad], [1.0, 0.0], rtol=1e-12, atol=1e-12,
                     name=f"the gradients (larger input, smaller input) after {name}.backward()",
                     hint="The larger input gets out.grad (1 here), the smaller one gets 0.")
    # the upstream gradient must be used, and contributions must add up
    a, b, c = Value(1.5, label="a"), Value(-2.0, label="b"), Value(0.5, label="c")
    name = "y = 3 * maximum(a, b) for a = 1.5, b = -2"
    y = 3 * _new_node(maximum, a, b, name)
    call(y.backward)
    expect_close(a.grad, 3.0, rtol=1e-12, atol=1e-12, name=f"da for {name}",
                 hint="The gradient arriving from above is out.grad, not always 1: add out.grad into "
                      "the winner's grad.")
    name = "y = maximum(a, b) + maximum(a, c) * a for a = 1.5, b = -2, c = 0.5"
    y = _new_node(maximum, a, b, name) + _new_node(maximum, a, c, name) * a
    call(y.backward)
    expect_close(a.grad, 1 + 2 * 1.5, rtol=1e-12, atol=1e-12, name=f"da for {name}",
                 hint="A node used several times collects one contribution per use: write "
                      "a.grad += ..., never a.grad = ...")
    expect_close(b.grad, 0.0, rtol=0, atol=1e-12, name=f"db for {name}",
                 hint="b never wins, so it receives no gradient.")
    name = "y = maximum(a * b, c.exp()) for a = 1.5, b = -2, c = 0.5"
    y = _new_node(maximum, a * b, c.exp(), name)
    call(y.backward)
    expect_close([a.grad, b.grad, c.grad], [0.0, 0.0, math.exp(0.5)], rtol=1e-12, atol=1e-12,
                 name=f"(da, db, dc) for {name}",
                 hint="Inside a larger graph, the winner passes the gradient on to its own inputs.")
    # a tie: the gradient may go to either input or be split, but the shares add up to out.grad
    a, b = Value(1.25, label="a"), Value(1.25, label="b")
    name = "y = 2 * maximum(a, b) at a tie, a = b = 1.25"
    out = _new_node(maximum, a, b, name)
    expect_close(out.data, 1.25, rtol=0, atol=0, name=f"{name}: the forward value",
                 hint="At a tie the larger value is either one: 1.25.")
    y = 2 * out
    call(y.backward)
    total = a.grad + b.grad
    expect(not math.isclose(total, 4.0, rel_tol=1e-9),
           f"at a tie ({name}) both inputs received the whole gradient: da + db = {total:g}, "
           "twice dy/d max = 2.",
           "At a tie send out.grad to one input only (if a.data >= b.data: ... else: ...), or "
           "split it in two halves; the shares must add up to out.grad.")
    expect(math.isclose(total, 2.0, rel_tol=1e-9) and min(a.grad, b.grad) >= 0,
           f"at a tie ({name}) the gradients are da = {a.grad:g} and db = {b.grad:g}; they should "
           "be two non-negative shares that add up to dy/d max = 2.",
           "With if a.data > b.data / elif a.data < b.data and no else branch, a tie sends the "
           "gradient nowhere: use >= (or split it in two halves).")
    return "Value now has a max gate: it routes the gradient to whichever input was larger."


# ---- exercise 3: the backward pass of a two-layer network -------------------------------------

def _mlp_reference(x, t, W1, b1, W2, b2) -> dict:
    """The four gradients, plus dW1 as it would be without tanh's slope (a common slip)."""
    h = np.tanh(x @ W1.T + b1)
    y = h @ W2.T + b2
    g = 2 * (y - t) / y.size
    gz = (g @ W2) * (1 - h**2)
    return {"dW1": gz.T @ x, "db1": gz.sum(axis=0), "dW2": g.T @ h, "db2": g.sum(axis=0),
            "dW1 without tanh'": (g @ W2).T @ x}


@checker("the backward pass of a two-layer network")
@_quiet
def ex3(mlp_gradients):
    """``mlp_gradients(x, t, W1, b1, W2, b2)`` -> (dW1, db1, dW2, db2) for the MSE loss."""
    rng = np.random.default_rng(9)
    for n, n_in, n_hidden, n_out, dtype in ((5, 2, 4, 3, np.float64), (3, 3, 6, 1, np.float64),
                                            (1, 4, 2, 5, np.float64), (7, 3, 5, 2, np.float32)):
        x, t = rng.standard_normal((n, n_in)), rng.standard_normal((n, n_out))
        W1, b1 = rng.standard_normal((n_hidden, n_in)), rng.standard_normal(n_hidden)
        W2, b2 = rng.standard_normal((n_out, n_hidden)), rng.standard_normal(n_out)
        args = [a.astype(dtype) for a in (x, t, W1, b1, W2, b2)]
        low = dtype == np.float32
        name = (f"mlp_gradients for layers {n_in} -> {n_hidden} -> {n_out}, a batch of {n}"
                + (" in float32" if low else ""))
        result = _tuple(call(mlp_gradients, *[a.copy() for a in args]), name, 4, "dW1, db1, dW2, db2")
        reference = _mlp_reference(*[a.astype(np.float64) for a in args])
        shapes = {"dW1": W1.shape, "db1": b1.shape, "dW2": W2.shape, "db2": b2.shape}
        arrays = {}
        for label, got in zip(shapes, result):
            arr = expect_array(got, name=f"{label} from {name}")
            expect(arr.shape == shapes[label], f"{label} from {name} has shape {arr.shape}, expected "
                   f"{shapes[label]}, the shape of {label[1:]}.",
                   "A gradient has the shape of what it differentiates.")
            arrays[label] = arr
        expect(not np.allclose(arrays["dW2"], 0.5 * reference["dW2"], rtol=1e-3),
               f"dW2 from {name} is half the right value.",
               "The derivative of (y - t)^2 is 2 (y - t): keep the factor 2 (and divide by the "
               "number of entries, y.size).")
        for label in ("dW2", "db2"):
            _expect_gradient(arrays[label], reference[label], name=f"{label} from {name}", low=low,
                             hint="Start the backward pass with g = 2 (y - t) / y.size, the gradient of "
                                  "np.mean((y - t) ** 2), then dW2 = g.T @ h and db2 = g.sum(axis=0).")
        expect(not np.allclose(arrays["dW1"], reference["dW1 without tanh'"], rtol=1e-3),
               f"dW1 from {name} leaves out the slope of tanh.",
               "Between g @ W2 and the first layer, multiply by tanh'(z) = 1 - h**2.")
        for label in ("dW1", "db1"):
            _expect_gradient(arrays[label], reference[label], name=f"{label} from {name}", low=low,
                             hint="Going down through the hidden layer: gz = (g @ W2) * (1 - h**2), "
                                  "with h the tanh output, then dW1 = gz.T @ x and db1 = gz.sum(axis=0).")
    return "You have written backpropagation for a whole network by hand."


# ---- exercise 4: backprop ninja, softmax and cross-entropy after a linear layer --------------

def _log_softmax(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def _ce_reference(x, W, b, y) -> dict:
    """Loss and gradients of mean cross-entropy(softmax(x W^T + b), y), plus common slips."""
    z = x @ W.T + b
    logp = _log_softmax(z)
    n = len(y)
    p = np.exp(logp)
    onehot = np.zeros_like(p)
    onehot[np.arange(n), y] = 1
    g = (p - onehot) / n
    return {"loss": -logp[np.arange(n), y].mean(), "dz": g, "dx": g @ W, "dW": g.T @ x,
            "db": g.sum(axis=0), "dz no onehot": p / n, "dz sum": p - onehot}


_CE_HINT = ("With p = softmax(z) and z = x @ W.T + b, the gradient of the mean loss at the logits is "
            "dz = (p - onehot(y)) / N; then dx = dz @ W, dW = dz.T @ x, db = dz.sum(axis=0).")


@checker("backprop ninja: softmax and cross-entropy by hand")
@_quiet
def ex4(softmax_cross_entropy_backward):
    """``softmax_cross_entropy_backward(x, W, b, y)`` -> (loss, dx, dW, db)."""
    rng = np.random.default_rng(10)
    cases = [(4, 3, 5, np.float64, 1.0, 0.0), (6, 2, 3, np.float64, 1.0, 0.0), (1, 4, 2, np.float64, 1.0, 0.0),
             (5, 3, 4, np.float64, 500.0, 0.0), (8, 5, 3, np.float32, 1.0, 0.0),
             (3, 2, 4, np.float64, 1.0, 1000.0)]
    for n, d, k, dtype, spread, offset in cases:
        x, W = rng.standard_normal((n, d)), rng.standard_normal((k, d))
        b = offset + spread * (np.linspace(-1, 1, k) if spread > 1 else rng.standard_normal(k))
        y = rng.integers(0, k, size=n)
        y[0] = 0 if spread > 1 else y[0]              # a true class 1000 below the best: p underflows
        low = dtype == np.float32
        args = [a.astype(dtype) for a in (x, W, b)] + [y]
        name = (f"softmax_cross_entropy_backward(x {x.shape}, W {W.shape}, b {b.shape}, y {y.shape})"
                + (" in float32" if low else "") + (f" with logits spread over about ±{spread:g}"
                                                    if spread > 1 else "")
                + (f" with every logit near +{offset:g} (np.exp overflows there)" if offset else ""))
        result = _tuple(call(softmax_cross_entropy_backward, *[a.copy() for a in args]), name, 4,
                        "loss, dx, dW, db")
        ref = _ce_reference(*[a.astype(np.float64) for a in args[:3]], y)
        loss = expect_array(result[0], name=f"the loss from {name}", finite=False)
        expect(loss.size != 1 or bool(np.isfinite(loss.astype(np.float64)).all()),
               f"the loss from {name} is {float(loss.ravel()[0]) if loss.size == 1 else ''}, not a finite "
               "number.", "A true class whose logit is far below the others has a probability that "
               "underflows to 0, and log(0) = -inf. Compute log p = z - m - log(sum(exp(z - m))), with m "
               "each row's maximum, instead of np.log(softmax(z)).")
        expect(loss.size == 1, f"the loss from {name} has shape {loss.shape}; it should be one number.",
               "Average the per-example losses over the batch: loss = -log_p[range(N), y].mean().")
        rtol, atol = _tolerances(loss, f"the loss from {name}", low)
        expect(not np.isclose(float(loss.ravel()[0]), ref["loss"] * n, rtol=1e-4) or n == 1,
               f"the loss from {name} is the sum over the batch, N = {n} times the mean.",
               "The loss is the mean over the N examples: divide the sum by N.")
        expect_close(float(loss.ravel()[0]), ref["loss"], rtol=rtol, atol=atol * (1 + abs(ref["loss"])),
                     name=f"the loss from {name}",
                     hint="Use log p = z - m - log(sum(exp(z - m))) with m each row's maximum: "
                          "np.log(softmax(z)) gives -inf when a probability underflows to 0.")
        shapes = {"dx": x.shape, "dW": W.shape, "db": b.shape}
        arrays = {}
        for label, got in zip(shapes, result[1:]):
            arr = expect_array(got, name=f"{label} from {name}")
            expect(arr.shape == shapes[label],
                   f"{label} from {name} has shape {arr.shape}, expected {shapes[label]}, the shape of "
                   f"{label[1:]}.", "A gradient has the shape of what it differentiates.")
            arrays[label] = arr.astype(np.float64)
        db = arrays["db"]
        expect(not np.allclose(db, ref["dz no onehot"].sum(axis=0), rtol=1e-3, atol=1e-6),
               f"db from {name} is the sum of p / N: the gradient forgets the one-hot target.",
               "The derivative of -log p_y with respect to z_j is p_j - [j = y]: subtract 1 at the "
               "true class.")
        expect(n == 1 or not np.allclose(db, ref["dz sum"].sum(axis=0), rtol=1e-3, atol=1e-6),
               f"db from {name} is N = {n} times too large: the gradient of the mean loss has a 1 / N.",
               "The loss averages over the batch, so dz = (p - onehot) / N.")
        for label in ("db", "dW", "dx"):
            _expect_gradient(result[1 + list(shapes).index(label)], ref[label], name=f"{label} from {name}",
                             low=low, hint=_CE_HINT)
    return "You derived the gradient that every classifier's training starts from: (p - y) / N."


# ---- answers for the tests and the checker battery ----------------------------------------

def _solution_value_sigmoid(v):
    return 1 / (1 + (-v).exp())


def _solution_maximum(a, b):
    out = Value(max(a.data, b.data), (a, b), "max")

    def _backward():
        if a.data >= b.data:
            a.grad += out.grad
        else:
            b.grad += out.grad

    out._backward = _backward
    return out


def _solution_mlp_gradients(x, t, W1, b1, W2, b2):
    h = np.tanh(x @ W1.T + b1)
    y = h @ W2.T + b2
    g = 2 * (y - t) / y.size
    dW2, db2 = g.T @ h, g.sum(axis=0)
    gz = (g @ W2) * (1 - h**2)
    return gz.T @ x, gz.sum(axis=0), dW2, db2


def _solution_softmax_cross_entropy_backward(x, W, b, y):
    z = x @ W.T + b
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = len(y)
    loss = -log_p[np.arange(n), y].mean()
    dz = np.exp(log_p)
    dz[np.arange(n), y] -= 1
    dz /= n
    return loss, dz @ W, dz.T @ x, dz.sum(axis=0)


def _rewrite_value_sigmoid_exp(v):
    e = v.exp()
    return e / (e + 1) if v.data < 0 else (1 + (-v).exp()) ** -1


def _rewrite_maximum_split(a, b):
    out = Value(max(a.data, b.data), (a, b), "max")

    def _backward():                                  # ties split the gradient, as torch.maximum does
        share_a = 1.0 if a.data > b.data else 0.0 if a.data < b.data else 0.5
        a.grad += share_a * out.grad
        b.grad += (1 - share_a) * out.grad

    out._backward = _backward
    return out


def _rewrite_mlp_gradients_einsum(x, t, W1, b1, W2, b2):
    z = np.einsum("ni,ji->nj", x, W1) + b1
    h = np.tanh(z)
    y = np.einsum("nj,kj->nk", h, W2) + b2
    g = 2 * (y - t) / (y.shape[0] * y.shape[1])
    dz = (g @ W2) * (1 / np.cosh(z) ** 2)
    return np.einsum("nj,ni->ji", dz, x), dz.sum(0), np.einsum("nk,nj->kj", g, h), list(g.sum(0))


def _rewrite_ce_onehot(x, W, b, y):
    z = x @ W.T + b
    m = z.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    onehot = np.eye(W.shape[0], dtype=z.dtype)[y]
    loss = float(np.mean(lse[:, 0] - (z * onehot).sum(axis=1)))
    dz = (np.exp(z - lse) - onehot) / len(y)
    return np.array(loss), dz @ W, dz.T @ x, dz.sum(axis=0)


#: The model answer to each checker, as passed to ``check.exN``.
REFERENCE_ANSWERS = {"ex1": _solution_value_sigmoid, "ex2": _solution_maximum, "ex3": _solution_mlp_gradients,
                     "ex4": _solution_softmax_cross_entropy_backward}

#: Other correct answers that every checker must accept.
CORRECT_REWRITES = {
    "ex1": [_rewrite_value_sigmoid_exp, lambda v: (1 + (-1 * v).exp()) ** -1],
    "ex2": [_rewrite_maximum_split],
    "ex3": [_rewrite_mlp_gradients_einsum],
    "ex4": [_rewrite_ce_onehot],
}

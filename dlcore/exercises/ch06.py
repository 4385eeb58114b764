"""Checkers for the chapter 06 exercises ("Training networks: losses, optimizers, initialisation").

Used in ``exercises/06_training.ipynb``::

    from dlcore.exercises import ch06 as check
    check.ex1(bce_with_logits)

* :func:`ex1` -- ``bce_with_logits(z, y)``: the mean binary cross-entropy of logits and its
  gradient, stable for logits of +-1000.
* :func:`ex2` -- ``adam_step(p, g, m, v, t, lr, beta1, beta2, eps)``: one Adam update.
* :func:`ex3` -- ``xavier_uniform(fan_in, fan_out, rng)``: a Xavier-initialised weight matrix.

Each checker tries the learner's function on small cases with known answers and says
what differs; none of them raises.
"""

from __future__ import annotations

import numpy as np

from ._core import call, checker, expect, expect_array, expect_close

# ---- reference implementations (the checkers compare with these) -----------------------


def _adam(p, g, m, v, t, lr, beta1, beta2, eps, corrected=True):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat, v_hat = (m / (1 - beta1**t), v / (1 - beta2**t)) if corrected else (m, v)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _pair(value, name: str, what: str, hint: str):
    """The learner's answer as a tuple of 2 or 3, or a CheckFailure saying what it is instead."""
    n = len(what.split(","))
    expect(value is not None, f"{name} returned None.", "Did you forget a `return` statement?")
    expect(isinstance(value, (tuple, list)) and len(value) == n,
           f"{name} should return a tuple ({what}), got "
           + (f"a {type(value).__name__} of length {len(value)}."
              if isinstance(value, (tuple, list)) else f"a {type(value).__name__}."), hint)
    return tuple(value)


# ---- exercise 1: binary cross-entropy from logits ---------------------------------------


def _bce(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    loss = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    sig = np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))
    return float(loss), (sig - y) / len(z)


@checker("binary cross-entropy from logits")
def ex1(bce_with_logits):
    """``bce_with_logits(z, y)`` -> (loss, grad): mean loss (a number), grad (N,); stable for |z| = 1000."""
    z = np.array([2.0, -1.0, 0.5, -3.0])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    loss_ref, grad_ref = _bce(z, y)
    name = "bce_with_logits(z = [2, -1, 0.5, -3], y = [1, 0, 0, 1])"
    hint_pair = "Return both, as `return loss, grad`."
    loss, grad = _pair(call(bce_with_logits, z.copy(), y.copy()), name, "loss, grad", hint_pair)
    loss = expect_array(loss, name=f"the loss of {name}")
    expect(loss.size == 1, f"the loss of {name} has shape {loss.shape}; it should be one number, "
           "the mean over the batch.", "Average the per-example losses with .mean().")
    loss = float(loss.reshape(()))
    expect(not np.isclose(loss, loss_ref * len(z)),
           f"the loss of {name} is {loss:.4g}, the *sum* over the batch.",
           "Use the mean over the N examples, as dlcore.nn.BCEWithLogitsLoss does.")
    expect(loss > 0, f"the loss of {name} is {loss:.4g}, but cross-entropy is positive.",
           "The loss of one example is -log s(z) when y = 1 and -log(1 - s(z)) when y = 0.")
    expect_close(loss, loss_ref, name=f"the loss of {name}",
                 hint="loss_i = -y_i log s(z_i) - (1 - y_i) log(1 - s(z_i)), with s the sigmoid.")

    grad = expect_array(grad, name=f"the gradient of {name}")
    expect(grad.shape == z.shape, f"the gradient of {name} has shape {grad.shape}, expected {z.shape}.",
           "The gradient has the shape of z: one entry per example.")
    expect(not np.allclose(grad, grad_ref * len(z)),
           f"the gradient of {name} is N = {len(z)} times too large.",
           "The loss is a mean over the batch, so its gradient carries a factor 1/N.")
    expect(not np.allclose(grad, -grad_ref),
           f"the gradient of {name} has the wrong sign.", "It is (s(z) - y) / N.")
    expect_close(grad, grad_ref, name=f"the gradient of {name}", hint="dL/dz = (s(z) - y) / N.")

    big = np.array([1000.0, -1000.0, 0.0, 30.0])
    y_big = np.array([0.0, 1.0, 1.0, 1.0])
    loss_ref, grad_ref = _bce(big, y_big)
    name = "bce_with_logits(z = [1000, -1000, 0, 30], y = [0, 1, 1, 1])"
    with np.errstate(all="ignore"):
        got = call(bce_with_logits, big.copy(), y_big.copy())
    loss, grad = _pair(got, name, "loss, grad", hint_pair)
    loss = expect_array(loss, name=f"the loss of {name}", finite=False)
    expect(np.all(np.isfinite(loss)),
           f"the loss of {name} is {loss.reshape(-1)[0]}: a log of 0, or exp(1000), overflowed.",
           "Write the loss with logits only: max(z, 0) - z y + log(1 + exp(-|z|)); exp never sees "
           "a positive argument, and np.log1p is accurate for tiny ones.")
    expect_close(float(loss.reshape(-1)[0]), loss_ref, name=f"the loss of {name}",
                 hint="The first two examples cost 1000 each, the third log 2, the fourth almost 0.")
    grad = expect_array(grad, shape=big.shape, name=f"the gradient of {name}")
    expect_close(grad, grad_ref, name=f"the gradient of {name}", atol=1e-12,
                 hint="Compute the sigmoid stably, e.g. split by the sign of z as dlcore.nn does.")
    return "It matches dlcore.nn.BCEWithLogitsLoss, and logits of +-1000 give the exact loss."


# ---- exercise 2: one Adam step ---------------------------------------------------------


@checker("one Adam step")
def ex2(adam_step):
    """``adam_step(p, g, m, v, t, lr, beta1, beta2, eps)`` -> (p_new, m_new, v_new)."""
    rng = np.random.default_rng(6)
    p = rng.normal(size=(3, 2))
    m, v = np.zeros_like(p), np.zeros_like(p)
    args = dict(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    for t in (1, 2, 3):
        g = rng.normal(size=p.shape) * 10.0 ** np.array([[-2, 0], [1, -1], [0, 2]])
        name = f"adam_step at t = {t}"
        got = call(adam_step, p.copy(), g.copy(), m.copy(), v.copy(), t, **args)
        p_new, m_new, v_new = _pair(got, name, "p_new, m_new, v_new",
                                    "Return the three updated arrays: `return p, m, v`.")
        ref_p, ref_m, ref_v = _adam(p, g, m, v, t, **args)
        expect_close(m_new, ref_m, name=f"m returned by {name}",
                     hint="m is the running mean of the gradients: beta1 * m + (1 - beta1) * g.")
        expect_close(v_new, ref_v, name=f"v returned by {name}",
                     hint="v is the running mean of the *squared* gradients: beta2 * v + (1 - beta2) * g**2.")
        p_arr = expect_array(p_new, shape=p.shape, name=f"p returned by {name}")
        uncorrected = _adam(p, g, m, v, t, **args, corrected=False)[0]
        expect(not np.allclose(p_arr, uncorrected),
               f"p returned by {name} is updated without the bias correction.",
               "Divide m by (1 - beta1**t) and v by (1 - beta2**t) before the update: m and v start "
               "at zero, so early on they are too small.")
        if t == 1:
            expect(not np.allclose(p_arr, _adam(p, g, m, v, 2, **args)[0]),
                   f"p returned by {name} looks like t + 1 was used in the bias correction.",
                   "t counts the steps from 1: the first step uses 1 - beta**1.")
            step = np.abs(p_arr - p)
            expect(np.allclose(step, args["lr"], rtol=1e-3),
                   f"on the first step every entry should move by about lr = {args['lr']} (the "
                   f"gradients range over four powers of ten), but the moves range from "
                   f"{step.min():.3g} to {step.max():.3g}.",
                   "At t = 1, m_hat = g and v_hat = g**2, so the step is lr * g / (|g| + eps).")
        expect_close(p_arr, ref_p, name=f"p returned by {name}",
                     hint="p_new = p - lr * m_hat / (sqrt(v_hat) + eps), with eps outside the square root.")
        p, m, v = ref_p, ref_m, ref_v
    return "Three steps agree with dlcore.optim.Adam's rule; the first moves every weight by lr."


# ---- exercise 3: Xavier initialisation ------------------------------------------------


@checker("Xavier uniform initialisation")
def ex3(xavier_uniform):
    """``xavier_uniform(fan_in, fan_out, rng)`` -> (fan_out, fan_in) draws from U(-b, b),
    ``b = sqrt(6 / (fan_in + fan_out))``, so that the variance is 2 / (fan_in + fan_out)."""
    fan_in, fan_out = 800, 400
    name = f"xavier_uniform({fan_in}, {fan_out}, rng)"
    W = call(xavier_uniform, fan_in, fan_out, np.random.default_rng(0))
    W = expect_array(W, name=name, finite=False)
    expect(W.shape != (fan_in, fan_out),
           f"{name} has shape {W.shape}, the transpose of what a Linear layer uses.",
           "A Linear weight has shape (out_features, in_features) = (fan_out, fan_in), as in PyTorch.")
    W = expect_array(W, shape=(fan_out, fan_in), name=name)
    expect(np.issubdtype(W.dtype, np.floating), f"{name} has dtype {W.dtype}; weights are floats.",
           "rng.uniform(...) returns floats; do not round or compare the draws.")
    expect(len(np.unique(W)) > W.size // 2, f"{name} has only {len(np.unique(W))} distinct values.",
           "Draw every weight at random: rng.uniform(-b, b, size=(fan_out, fan_in)).")
    bound = float(np.sqrt(6.0 / (fan_in + fan_out)))
    std, target = float(W.std()), float(np.sqrt(2.0 / (fan_in + fan_out)))
    largest = float(np.abs(W).max())
    inner = float(np.mean(np.abs(W) < bound / 2))   # U(-b, b): 1/2; a normal of the same std: 0.61
    if abs(std - np.sqrt(2.0 / fan_in)) < 0.03 * np.sqrt(2.0 / fan_in):
        expect(False, f"the standard deviation of {name} is {std:.4g} = sqrt(2 / fan_in): that is He "
               "initialisation.", "Xavier averages the fan-in and the fan-out: variance 2 / (fan_in + fan_out).")
    if abs(largest - target) < 0.03 * target:
        expect(False, f"the weights of {name} lie in [-{largest:.4g}, {largest:.4g}], with the bound b = "
               f"sqrt(2 / (fan_in + fan_out)): that is the standard deviation Xavier asks for, not the bound.",
               "U(-b, b) has standard deviation b / sqrt(3), so b = sqrt(3) * sqrt(2 / (fan_in + fan_out)).")
    expect(abs(std - target) < 0.03 * target,
           f"the standard deviation of {name} is {std:.4g}, expected sqrt(2 / ({fan_in} + {fan_out})) "
           f"= {target:.4g}.", "U(-b, b) has standard deviation b / sqrt(3); choose b accordingly.")
    expect(abs(float(W.mean())) < 0.1 * target, f"the mean of {name} is {float(W.mean()):.3g}, "
           "expected about 0.", "Centre the distribution at 0: U(-b, b).")
    expect(largest <= bound * (1 + 1e-9),
           f"some weights of {name} reach {largest:.4g}, beyond the bound b = sqrt(6 / (fan_in + fan_out)) "
           f"= {bound:.4g}.", "Draw from a uniform distribution, rng.uniform(-b, b, ...), not a normal one.")
    expect(abs(inner - 0.5) < 0.02, f"{inner:.1%} of the weights of {name} lie in [-b/2, b/2]; for a "
           "uniform distribution it is 50%.", "Draw from rng.uniform(-b, b, ...).")

    again = expect_array(call(xavier_uniform, fan_in, fan_out, np.random.default_rng(0)), name=name)
    expect(again.shape == W.shape and np.array_equal(again, W),
           f"two calls of {name} with generators seeded alike gave different weights.",
           "Draw from the `rng` argument (rng.uniform(...)), not from np.random or a new generator.")
    other = expect_array(call(xavier_uniform, fan_in, fan_out, np.random.default_rng(1)), name=name)
    expect(not np.array_equal(other, W), f"{name} gives the same weights whatever the generator.",
           "Draw from the `rng` argument, not from a generator with a fixed seed of your own.")
    small = expect_array(call(xavier_uniform, 2, 5, np.random.default_rng(0)), name="xavier_uniform(2, 5, rng)")
    expect(small.shape == (5, 2), f"xavier_uniform(2, 5, rng) has shape {small.shape}, expected (5, 2).",
           "Use the fan_in and fan_out arguments for the shape.")
    return (f"The weights fill [-{bound:.4f}, {bound:.4f}] evenly, with standard deviation {std:.4f} "
            f"= sqrt(2 / (fan_in + fan_out)).")

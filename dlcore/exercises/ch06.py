"""Checkers for the chapter 06 exercises ("Training networks: losses, optimizers, initialisation").

Used in ``exercises/06_training.ipynb``::

    from dlcore.exercises import ch06 as check
    check.ex1(adam_step)

* :func:`ex1` -- ``adam_step(p, g, m, v, t, lr, beta1, beta2, eps)``: one Adam update.
* :func:`ex2` -- ``xavier_uniform(fan_in, fan_out, rng)``: a Xavier-initialised weight matrix.

Each checker calls the learner's function on several cases, varying every argument it takes
(shapes, learning rate, betas, eps, step number, fan-in and fan-out), says what differs, and
never raises. (The stable binary cross-entropy that used to be exercise 1 here is exercise 03.3.)
"""

from __future__ import annotations

import numpy as np

from ._core import call, checker, expect, expect_array, expect_close

# ---- exercise 1: one Adam step ---------------------------------------------------------


def _adam(p, g, m, v, t, lr, beta1, beta2, eps, *, corrected=True, efficient=False):
    """The reference step, in float64 whatever the input (and safe under np.seterr(all="raise")).

    ``corrected``: True (both bias corrections), False (neither), ``"m"`` or ``"v"`` (only that one).

    ``efficient=True`` is the form of Kingma and Ba's section 2, which folds both bias
    corrections into the step size and adds eps (their eps-hat) to sqrt(v) itself.
    """
    with np.errstate(all="ignore"):
        p, g, m, v = (np.asarray(a, dtype=np.float64) for a in (p, g, m, v))
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        if efficient:
            step = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
            return p - step * m / (np.sqrt(v) + eps), m, v
        m_hat = m / (1 - beta1**t) if corrected in (True, "m") else m
        v_hat = v / (1 - beta2**t) if corrected in (True, "v") else v
        return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _pair(value, name: str, what: str, hint: str):
    """The learner's answer as a tuple of 2 or 3, or a CheckFailure saying what it is instead."""
    n = len(what.split(","))
    expect(value is not None, f"{name} returned None.", "Did you forget a `return` statement?")
    is_seq = isinstance(value, (tuple, list))
    expect(is_seq and len(value) == n,
           f"{name} should return a tuple ({what}), got "
           + (f"a {type(value).__name__} of length {len(value)}." if is_seq
              else f"a {type(value).__name__}."), hint)
    return tuple(value)


def _close(a, b, rtol, atol) -> bool:
    return bool(np.allclose(np.asarray(a, dtype=np.float64), b, rtol=rtol, atol=atol))


#: The Adam cases: (shape, dtype, lr, beta1, beta2, eps, first t, gradient scale, steps, warm start).
#: Every argument changes from one case to the next, so a literal lr, beta or eps fails.
_ADAM_CASES = [
    ((3, 2), np.float64, 0.1, 0.9, 0.999, 1e-8, 1, "spread", 3, False),
    ((5,), np.float64, 0.003, 0.5, 0.9, 1e-8, 1, 1.0, 3, False),
    ((2, 3, 2), np.float64, 0.02, 0.8, 0.99, 1e-8, 7, 1.0, 2, True),
    ((4, 3), np.float64, 0.05, 0.9, 0.99, 1e-3, 1, 1e-3, 3, False),
    ((6,), np.float32, 0.01, 0.9, 0.999, 1e-8, 1, 1.0, 2, False),
]


def _check_moments(got_m, got_v, g, m, v, b1, b2, name, tol, t=0):
    """m and v: name a literal beta or |g| in place of g**2, else compare with the reference."""
    if b1 != 0.9 and _close(got_m, 0.9 * m + 0.1 * g, *tol):
        expect(False, f"m returned by {name} was computed with beta1 = 0.9, but this call passes "
               f"beta1 = {b1}.", "Use the beta1 argument, not the number 0.9.")
    if b2 != 0.999 and _close(got_v, 0.999 * v + 0.001 * g * g, *tol):
        expect(False, f"v returned by {name} was computed with beta2 = 0.999, but this call passes "
               f"beta2 = {b2}.", "Use the beta2 argument, not the number 0.999.")
    m_new, v_new = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
    if not _close(m_new, v_new, *tol) and _close(got_m, v_new, *tol) and _close(got_v, m_new, *tol):
        expect(False, f"m and v returned by {name} are swapped.", "Return them in the order (p, m, v).")
    if t > 0 and not _close(m_new, m_new / (1 - b1**t), *tol) and _close(got_m, m_new / (1 - b1**t), *tol):
        expect(False, f"m returned by {name} is the bias-corrected m_hat, not the running average m.",
               "Return the raw averages m and v (the next step builds on them); m_hat and v_hat are only "
               "used inside this step.")
    if _close(got_v, b2 * v + (1 - b2) * g, *tol):
        expect(False, f"v returned by {name} averages g, not g**2.",
               "v is the running mean of the *squared* gradients: beta2 * v + (1 - beta2) * g**2.")
    if _close(got_v, b2 * v + (1 - b2) * np.abs(g), *tol):
        expect(False, f"v returned by {name} averages |g|, not g**2.",
               "v is the running mean of the *squared* gradients: beta2 * v + (1 - beta2) * g**2.")
    expect_close(got_m, b1 * m + (1 - b1) * g, name=f"m returned by {name}", rtol=tol[0], atol=tol[1],
                 hint="m is the running mean of the gradients: beta1 * m + (1 - beta1) * g.")
    expect_close(got_v, b2 * v + (1 - b2) * g * g, name=f"v returned by {name}", rtol=tol[0],
                 atol=tol[1],
                 hint="v is the running mean of the *squared* gradients: beta2 * v + (1 - beta2) * g**2.")


def _name_p_mistake(got_p, p, g, m, v, t, lr, b1, b2, eps, name, tol):
    """p is wrong: raise a CheckFailure naming the mistake, if it matches a common one."""
    args = dict(lr=lr, beta1=b1, beta2=b2, eps=eps)
    wrong = [(t, dict(args, corrected=False), "is updated without the bias correction.",
              "Divide m by (1 - beta1**t) and v by (1 - beta2**t) before the update: m and v start at "
              "zero, so early on they are too small."),
             (t, dict(args, corrected="v"), "uses m without its bias correction (v has it).",
              "Divide m by (1 - beta1**t) too: m_hat = m / (1 - beta1**t)."),
             (t, dict(args, corrected="m"), "uses v without its bias correction (m has it).",
              "Divide v by (1 - beta2**t) too, before the square root: v_hat = v / (1 - beta2**t).")]
    if t > 1:
        wrong.append((1, args, "uses the bias correction of step 1 whatever t is.",
                      "Use the step number t: m / (1 - beta1**t) and v / (1 - beta2**t)."))
    if t == 1:
        wrong.append((2, args, "looks like t + 1 was used in the bias correction.",
                      "t counts the steps from 1: the first step uses 1 - beta**1."))
    for literal in (1e-3, 0.1, 0.01):
        if not np.isclose(lr, literal):
            wrong.append((t, dict(args, lr=literal), f"was computed with lr = {literal:g}, but this call "
                          f"passes lr = {lr:g}.", "Use the lr argument, not a number."))
    if eps != 1e-8:
        for efficient in (False, True):
            wrong.append((t, dict(args, eps=1e-8, efficient=efficient),
                          f"was computed with eps = 1e-8, but this call passes eps = {eps:g} "
                          "(with gradients of about 1e-3, where eps matters).",
                          "Use the eps argument, not a number."))
    for step_t, kwargs, message, hint in wrong:
        if _close(got_p, _adam(p, g, m, v, step_t, **kwargs)[0], *tol):
            expect(False, f"p returned by {name} {message}", hint)
    with np.errstate(all="ignore"):
        m1, v1 = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        eps_inside = p - lr * (m1 / (1 - b1**t)) / np.sqrt(v1 / (1 - b2**t) + eps)
        old = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)   # m, v before this step
    if _close(got_p, old, *tol):
        expect(False, f"p returned by {name} was updated with m and v from before this step.",
               "Update m and v with this step's gradient first, then use them to update p.")
    if _close(got_p, eps_inside, *tol):
        expect(False, f"p returned by {name} has eps inside the square root.",
               "Add eps to sqrt(v_hat), outside the square root: m_hat / (np.sqrt(v_hat) + eps).")


@checker("one Adam step")
def ex1(adam_step):
    """``adam_step(p, g, m, v, t, lr, beta1, beta2, eps)`` -> (p_new, m_new, v_new).

    Accepted: the update of the exercise text, ``p - lr * m_hat / (sqrt(v_hat) + eps)``, or
    Kingma and Ba's "efficient" form ``p - lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m /
    (sqrt(v) + eps)`` (their eps-hat is the eps argument). The two differ only where eps is
    comparable to sqrt(v), which one case tests on purpose. Arrays or nested lists; float32
    inputs may give float32 answers.
    """
    rng = np.random.default_rng(6)
    forms_seen, n_steps = set(), 0
    for shape, dtype, lr, b1, b2, eps, t0, scale, steps, warm in _ADAM_CASES:
        p = rng.normal(size=shape)
        if warm:   # a run already under way: m and v from earlier steps, t > 1
            m, v = 0.1 * rng.normal(size=shape), 0.05 * rng.random(size=shape) + 0.01
        else:
            m, v = np.zeros(shape), np.zeros(shape)
        p, m, v = (a.astype(dtype) for a in (p, m, v))
        tol = (1e-6, 1e-9) if dtype == np.float64 else (2e-5, 1e-6)
        for t in range(t0, t0 + steps):
            if scale == "spread":    # gradient sizes over four powers of ten
                g = rng.normal(size=shape) * 10.0 ** np.array([[-2, 0], [1, -1], [0, 2]])
            else:
                g = scale * rng.normal(size=shape)
            g = g.astype(dtype)
            name = (f"adam_step(p {shape}, t={t}, lr={lr:g}, beta1={b1:g}, beta2={b2:g}, eps={eps:g}"
                    + (", float32 arrays" if dtype == np.float32 else "") + ")")
            got = call(adam_step, p.copy(), g.copy(), m.copy(), v.copy(), t,
                       lr=lr, beta1=b1, beta2=b2, eps=eps)
            p_new, m_new, v_new = _pair(got, name, "p_new, m_new, v_new",
                                        "Return the three updated arrays: `return p, m, v`.")
            m_arr = expect_array(m_new, shape=shape, name=f"m returned by {name}")
            v_arr = expect_array(v_new, shape=shape, name=f"v returned by {name}")
            p_arr = expect_array(p_new, shape=shape, name=f"p returned by {name}")
            p64, g64, m64, v64 = (a.astype(np.float64) for a in (p, g, m, v))
            _check_moments(m_arr, v_arr, g64, m64, v64, b1, b2, name, tol, t)
            standard = _adam(p64, g64, m64, v64, t, lr, b1, b2, eps)
            efficient = _adam(p64, g64, m64, v64, t, lr, b1, b2, eps, efficient=True)
            if _close(p_arr, standard[0], *tol):
                forms_seen.add("standard")
            elif _close(p_arr, efficient[0], *tol):
                forms_seen.add("efficient")
            else:
                _name_p_mistake(p_arr, p64, g64, m64, v64, t, lr, b1, b2, eps, name, tol)
                expect_close(p_arr, standard[0], name=f"p returned by {name}", rtol=tol[0], atol=tol[1],
                             hint="p_new = p - lr * m_hat / (sqrt(v_hat) + eps), with eps outside the "
                                  "square root, m_hat = m / (1 - beta1**t) and v_hat = v / (1 - beta2**t).")
            if t == 1 and scale == "spread":
                moved = np.abs(p_arr.astype(np.float64) - p64)
                expect(np.allclose(moved, lr, rtol=1e-3),
                       f"on the first step every entry should move by about lr = {lr} (the gradients "
                       f"range over four powers of ten), but the moves of {name} range from "
                       f"{moved.min():.3g} to {moved.max():.3g}.",
                       "At t = 1, m_hat = g and v_hat = g**2, so the step is lr * g / (|g| + eps).")
            p, m, v = (a.astype(dtype) for a in standard)
            n_steps += 1
    form = ("Kingma and Ba's efficient form (eps added to sqrt(v), bias corrections in the step size)"
            if "efficient" in forms_seen else "the rule of the text")
    return (f"{n_steps} steps with varied lr, betas, eps, t and shapes agree with {form}; the first "
            "step moves every weight by lr.")


# ---- exercise 2: Xavier initialisation ------------------------------------------------

#: (fan_in, fan_out) of the large cases, where the spread of the draws can be measured.
_XAVIER_SHAPES = [(800, 400), (300, 1000), (2000, 60)]


def _xavier_case(xavier_uniform, fan_in: int, fan_out: int, seed: int):
    """Check one large draw; return (W, b, std)."""
    name = f"xavier_uniform({fan_in}, {fan_out}, rng)"
    W = expect_array(call(xavier_uniform, fan_in, fan_out, np.random.default_rng(seed)), name=name,
                     finite=False)
    expect(W.shape != (fan_in, fan_out),
           f"{name} has shape {W.shape}, the transpose of what a Linear layer uses.",
           "A Linear weight has shape (out_features, in_features) = (fan_out, fan_in), as in PyTorch.")
    W = expect_array(W, shape=(fan_out, fan_in), name=name)
    expect(np.issubdtype(W.dtype, np.floating), f"{name} has dtype {W.dtype}; weights are floats.",
           "rng.uniform(...) returns floats; do not round or compare the draws.")
    expect(W.dtype.itemsize >= 4, f"{name} has dtype {W.dtype}, too coarse for weights.",
           "Keep the float64 that rng.uniform returns (or float32).")
    expect(len(np.unique(W)) > W.size // 2, f"{name} has only {len(np.unique(W))} distinct values.",
           "Draw every weight at random: rng.uniform(-b, b, size=(fan_out, fan_in)).")
    W = W.astype(np.float64)
    bound = float(np.sqrt(6.0 / (fan_in + fan_out)))
    target = float(np.sqrt(2.0 / (fan_in + fan_out)))
    std, mean, largest = float(W.std()), float(W.mean()), float(np.abs(W).max())
    # The mean first: a U(0, b) answer is off-centre, and that is what it needs to hear.
    expect(abs(mean) < 0.02 * target, f"the mean of {name} is {mean:.3g}, expected about 0 (the "
           f"standard deviation is {std:.3g}).", "Centre the distribution at 0: U(-b, b), not U(0, b).")
    if abs(std - np.sqrt(2.0 / fan_in)) < 0.01 * np.sqrt(2.0 / fan_in):
        expect(False, f"the standard deviation of {name} is {std:.4g} = sqrt(2 / fan_in): that is He "
               "initialisation.", "Xavier averages the fan-in and the fan-out: variance 2 / (fan_in + fan_out).")
    if abs(largest - target) < 0.01 * target:
        expect(False, f"the weights of {name} lie in [-{largest:.4g}, {largest:.4g}], with the bound b = "
               "sqrt(2 / (fan_in + fan_out)): that is the standard deviation Xavier asks for, not the bound.",
               "U(-b, b) has standard deviation b / sqrt(3), so b = sqrt(3) * sqrt(2 / (fan_in + fan_out)).")
    # Over 10^5 draws the sample std is within 0.1% of the true one; 1% is 10 standard errors.
    expect(abs(std - target) < 0.01 * target,
           f"the standard deviation of {name} is {std:.4g} ({std / target - 1:+.1%}), expected "
           f"sqrt(2 / ({fan_in} + {fan_out})) = {target:.4g}.",
           "U(-b, b) has standard deviation b / sqrt(3); compute b from this call's fan_in and fan_out.")
    expect(largest <= bound * (1 + 1e-6),
           f"some weights of {name} reach {largest:.4g}, beyond the bound b = sqrt(6 / (fan_in + fan_out)) "
           f"= {bound:.4g}.", "Draw from a uniform distribution, rng.uniform(-b, b, ...), not a normal one.")
    # With 10^5 uniform draws the largest |w| is within 0.01% of b; a smaller bound shows here.
    expect(largest >= bound * (1 - 1e-3),
           f"the largest weight of {name} is {largest:.5g}, {1 - largest / bound:.2%} below the bound "
           f"b = sqrt(6 / (fan_in + fan_out)) = {bound:.5g}; over {W.size:,} uniform draws some come "
           "within 0.01% of b.", "Use b = sqrt(6 / (fan_in + fan_out)) exactly.")
    inner = float(np.mean(np.abs(W) < bound / 2))   # U(-b, b): 1/2; a normal of the same std: 0.61
    expect(abs(inner - 0.5) < 0.01, f"{inner:.1%} of the weights of {name} lie in [-b/2, b/2]; for a "
           "uniform distribution it is 50%.", "Draw from rng.uniform(-b, b, ...).")
    return W, bound, std


@checker("Xavier uniform initialisation")
def ex2(xavier_uniform):
    """``xavier_uniform(fan_in, fan_out, rng)`` -> (fan_out, fan_in) draws from U(-b, b),
    ``b = sqrt(6 / (fan_in + fan_out))``, so that the variance is 2 / (fan_in + fan_out).
    Float64 or float32 arrays are accepted."""
    first = None
    for k, (fan_in, fan_out) in enumerate(_XAVIER_SHAPES):
        result = _xavier_case(xavier_uniform, fan_in, fan_out, seed=k)
        first = first or result
    W, bound, std = first
    fan_in, fan_out = _XAVIER_SHAPES[0]
    name = f"xavier_uniform({fan_in}, {fan_out}, rng)"
    again = expect_array(call(xavier_uniform, fan_in, fan_out, np.random.default_rng(0)), name=name)
    expect(again.shape == W.shape and np.array_equal(again.astype(np.float64), W),
           f"two calls of {name} with generators seeded alike gave different weights.",
           "Draw from the `rng` argument (rng.uniform(...)), not from np.random or a new generator.")
    other = expect_array(call(xavier_uniform, fan_in, fan_out, np.random.default_rng(1)), name=name)
    expect(not np.array_equal(other.astype(np.float64), W),
           f"{name} gives the same weights whatever the generator.",
           "Draw from the `rng` argument, not from a generator with a fixed seed of your own.")
    for small_in, small_out in [(2, 5), (7, 3), (1, 1)]:
        sname = f"xavier_uniform({small_in}, {small_out}, rng)"
        small = expect_array(call(xavier_uniform, small_in, small_out, np.random.default_rng(0)), name=sname)
        expect(small.shape == (small_out, small_in),
               f"{sname} has shape {small.shape}, expected ({small_out}, {small_in}).",
               "Use the fan_in and fan_out arguments for the shape.")
        b_small = np.sqrt(6.0 / (small_in + small_out))
        expect(bool(np.all(np.abs(small.astype(np.float64)) <= b_small * (1 + 1e-6))),
               f"{sname} has weights beyond its bound b = sqrt(6 / {small_in + small_out}) = {b_small:.4g}.",
               "Compute b from this call's fan_in and fan_out.")
    return (f"The weights fill [-{bound:.4f}, {bound:.4f}] evenly, with standard deviation {std:.4f} "
            f"= sqrt(2 / (fan_in + fan_out)), for every shape tried.")


# ---- answers for the property battery (tests/test_checker_battery.py) ------------------


def _adam_reference(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _adam_efficient(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    alpha_t = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    return p - alpha_t * m / (np.sqrt(v) + eps), m, v


def _adam_in_place(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m *= beta1
    m += (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * np.square(g)
    p -= lr / (1 - beta1**t) * m / (np.sqrt(v) / np.sqrt(1 - beta2**t) + eps)   # torch's order
    return p, m, v


def _adam_tuple_of_lists(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return [np.asarray(a).tolist() for a in _adam_reference(p, g, m, v, t, lr, beta1, beta2, eps)]


def _xavier_reference(fan_in, fan_out, rng):
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=(fan_out, fan_in))


def _xavier_from_random(fan_in, fan_out, rng):
    return np.sqrt(6 / (fan_in + fan_out)) * (2 * rng.random((fan_out, fan_in)) - 1)


def _xavier_float32(fan_in, fan_out, rng):
    return _xavier_reference(fan_in, fan_out, rng).astype(np.float32)


def _xavier_loops(fan_in, fan_out, rng):
    b = (6 / (fan_in + fan_out)) ** 0.5
    return np.array([[rng.uniform(-b, b) for _ in range(fan_in)] for _ in range(fan_out)])


REFERENCE_ANSWERS = {"ex1": _adam_reference, "ex2": _xavier_reference}
CORRECT_REWRITES = {
    "ex1": [_adam_efficient, _adam_in_place, _adam_tuple_of_lists],
    "ex2": [_xavier_from_random, _xavier_float32],
}
#: Correct but slow rewrites (a Python loop over 10^5 draws), kept out of the fast battery.
SLOW_CORRECT_REWRITES = {"ex2": [_xavier_loops]}

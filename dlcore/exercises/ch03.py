"""Checkers for the chapter 03 exercises ("The perceptron").

Used in ``exercises/03_perceptron.ipynb``::

    from dlcore.exercises import ch03 as check
    check.ex1(signed_distance)

* :func:`ex1` -- ``signed_distance(w, b, X)``: how far each point is from the boundary, and on which side.
* :func:`ex2` -- ``perceptron_epoch(w, b, X, y, lr)``: one pass of Rosenblatt's rule.
* :func:`ex3` -- ``stable_bce(z, y)``: binary cross-entropy from logits, without overflow.
* :func:`ex4` -- ``xor_features(X)``: features that make XOR learnable by a perceptron.

Each checker tries the learner's function on small cases with known answers and says
what differs; none of them raises.
"""

from __future__ import annotations

import numpy as np

from ._core import CheckFailure, call, checker, expect, expect_array, expect_close

# ---- reference answers (also the model solutions) -------------------------------------------


def _signed_distance(w, b, X):
    return (X @ w + b) / np.linalg.norm(w)


def _epoch(w, b, X, y, lr, *, strict=True, batch=False, signed=False):
    """One perceptron epoch in order; keywords give the common mistakes. Returns (w, b, mistakes).

    ``signed=True`` is the +-1-label rule of the convergence proof: update when s (w . x + b) <= 0,
    with s = 2 y - 1, so that a score of exactly 0 counts as a mistake for both classes.
    """
    w, b = np.array(w, dtype=np.float64), float(b)
    if signed:
        mistakes = 0
        for x_i, y_i in zip(X, y):
            s = 2 * y_i - 1
            if s * (x_i @ w + b) <= 0:
                w, b, mistakes = w + lr * s * x_i, b + lr * s, mistakes + 1
        return w, b, mistakes
    if batch:                                   # all predictions from the starting weights
        z = X @ w + b
        errors = y - ((z > 0) if strict else (z >= 0)).astype(int)
        return w + lr * errors @ X, b + lr * errors.sum(), int(np.count_nonzero(errors))
    mistakes = 0
    for x_i, y_i in zip(X, y):
        z = x_i @ w + b
        error = y_i - int(z > 0 if strict else z >= 0)
        if error:
            w, b, mistakes = w + lr * error * x_i, b + lr * error, mistakes + 1
    return w, b, mistakes


def _bce(z, y):
    with np.errstate(all="ignore"):          # exp(-1000) underflows to 0, which is exact enough
        return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))


def _expect_unchanged(before: np.ndarray, after: np.ndarray, arg: str) -> None:
    """Fail if the learner's function edited the array ``arg`` it was given (``after``) in place."""
    expect(np.array_equal(before, after, equal_nan=True),
           f"your function changed the array {arg} that was passed in.",
           f"Compute new arrays instead of editing {arg} in place ({arg} -= ..., {arg}[...] = ...): "
           f"the caller's {arg} would change too. Copy it first ({arg} = {arg}.copy()) if you need to.")


def _scalar(value, name: str) -> float:
    arr = expect_array(value, name=name, finite=False)
    expect(arr.size == 1, f"{name} should be one number (the mean loss), but it has shape {arr.shape}.",
           "Average the per-example losses with np.mean.")
    return float(arr.reshape(()))


# ---- exercise 1 ---------------------------------------------------------------------------------


@checker("signed distance to the boundary")
def ex1(signed_distance):
    """``signed_distance(w, b, X)``: w (D,), b, X (N, D) -> (N,) = (X w + b) / |w|."""
    w, b = np.array([3.0, 4.0]), -5.0                       # |w| = 5
    X = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 0.5], [-1.0, 2.0]])
    expected = _signed_distance(w, b, X)                    # [-1, 4, 0, 0]
    name = "signed_distance(w=[3, 4], b=-5, X) for 4 points"
    w_in, X_in = w.copy(), X.copy()
    got = call(signed_distance, w_in, b, X_in)
    _expect_unchanged(w, w_in, "w")
    _expect_unchanged(X, X_in, "X")
    got = expect_array(got, name=name)
    expect(got.shape != (4, 1), f"{name} has shape (4, 1), expected (4,).",
           "X @ w already has shape (N,); do not reshape it into a column.")
    got = expect_array(got, shape=(4,), name=name)
    expect(not np.allclose(got, X @ w + b), f"{name} returned the scores w . x + b, not distances.",
           "Divide the scores by the length of w, np.linalg.norm(w).")
    expect(not np.allclose(got, (X @ w + b) / (w @ w)), f"{name} divides by |w|^2 instead of |w|.",
           "The length of w is np.linalg.norm(w) = sqrt(w @ w).")
    expect(not np.allclose(got, np.abs(expected)), f"{name} returned distances without their sign.",
           "Keep the sign: negative on the class-0 side, positive on the class-1 side.")
    expect(not np.allclose(got, -expected), f"{name} has the signs the wrong way round.",
           "Points where w . x + b > 0 (class 1) get a positive distance.")
    expect_close(got, expected, name=name,
                 hint="The point (3, 4) has score 3*3 + 4*4 - 5 = 20 and |w| = 5, so distance 4.")
    rng = np.random.default_rng(3)
    w, b, X = rng.standard_normal(5), 0.7, rng.standard_normal((6, 5))
    name = "signed_distance(w, b, X) for X of shape (6, 5)"
    w_in, X_in = w.copy(), X.copy()
    got = call(signed_distance, w_in, b, X_in)
    _expect_unchanged(w, w_in, "w")
    _expect_unchanged(X, X_in, "X")
    got = expect_array(got, shape=(6,), name=name)
    expect_close(got, _signed_distance(w, b, X), name=name,
                 hint="Does your function work for any number of features D?")
    return "Scaling w and b together changes the scores, but not these distances."


# ---- exercise 2 ---------------------------------------------------------------------------------


def _epoch_answer(perceptron_epoch, w, b, X, y, lr, name):
    """Call the learner's epoch and unpack (w, b, mistakes) with friendly failures."""
    w_in, X_in, y_in = w.copy(), X.copy(), y.copy()
    result = call(perceptron_epoch, w_in, b, X_in, y_in, lr)
    expect(result is not None, f"{name} returned None.", "Did you forget `return w, b, mistakes`?")
    if isinstance(result, np.ndarray) and result.ndim == 1 and len(result) == 3:
        result = tuple(result)                    # e.g. np.array([w, b, m], dtype=object)
    expect(isinstance(result, (tuple, list)) and len(result) == 3,
           f"{name} should return three things (w, b, mistakes), got {type(result).__name__}"
           + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "") + ".",
           "End with `return w, b, mistakes`.")
    expect(np.array_equal(w_in, w), "your function changed the array w that was passed in.",
           "Build new arrays (w = w + ...) instead of updating in place (w += ...), or copy w first.")
    _expect_unchanged(X, X_in, "X")
    _expect_unchanged(y, y_in, "y")
    new_w = expect_array(result[0], shape=w.shape, name=f"the w returned by {name}")
    new_b = expect_array(result[1], name=f"the b returned by {name}")
    expect(new_b.size == 1, f"the b returned by {name} should be one number, got shape {new_b.shape}.")
    mistakes = expect_array(result[2], name=f"the mistake count returned by {name}")
    expect(mistakes.size == 1, f"the mistake count returned by {name} should be one number.")
    return new_w, float(new_b.reshape(())), float(mistakes.reshape(()))


_TIE_MESSAGES = [
    (dict(signed=True), "counts a score of exactly w . x + b = 0 as a mistake for a class-0 example "
     "too: that is the +-1-label rule of the convergence proof, s (w . x + b) <= 0.",
     "This exercise uses the 0/1 rule y_hat = [w . x + b > 0]: at a score of exactly 0 the prediction "
     "is 0, which is right for a class-0 example (no update) and wrong for a class-1 example "
     "(update). Use error = y - y_hat."),
    (dict(strict=False), "predicts 1 when w . x + b = 0.",
     "The perceptron outputs 1 only when w . x + b > 0 (strictly); at w = 0, b = 0 it says 0."),
    (dict(batch=True), "computes every prediction with the starting weights and updates once.",
     "Update w and b immediately after each misclassified example, before looking at the next."),
]


@checker("one epoch of the perceptron")
def ex2(perceptron_epoch):
    """``perceptron_epoch(w, b, X, y, lr)`` -> (w, b, mistakes) after one in-order pass."""
    # Scores of exactly 0: the first example (class 1) at w = 0, b = 0, and after that update
    # the second example (class 0), whose score is then 1 * (-1) + 0 * 3 + 1 = 0.
    X = np.array([[1.0, 0.0], [-1.0, 3.0], [2.0, 1.0], [0.0, -1.0]])
    y = np.array([1, 0, 1, 0])
    w0, b0 = np.zeros(2), 0.0
    name = "perceptron_epoch(w=[0, 0], b=0, X, y, lr=1.0) on 4 examples with scores of exactly 0"
    got_w, got_b, got_m = _epoch_answer(perceptron_epoch, w0, b0, X, y, 1.0, name)
    got = np.append(got_w, got_b)
    for kwargs, message, hint in _TIE_MESSAGES:
        bad_w, bad_b, _ = _epoch(w0, b0, X, y, 1.0, **kwargs)
        expect(not np.allclose(got, np.append(bad_w, bad_b)), f"{name} {message}", hint)

    X = np.array([[1.0, 2.0], [2.0, -1.0], [-1.0, -1.0], [0.5, 1.5], [-2.0, 1.0], [1.0, 1.0]])
    y = np.array([0, 1, 0, 1, 1, 0])
    name = "perceptron_epoch(w=[0, 0], b=0, X, y, lr=1.0)"
    got_w, got_b, got_m = _epoch_answer(perceptron_epoch, w0, b0, X, y, 1.0, name)
    want_w, want_b, want_m = _epoch(w0, b0, X, y, 1.0)
    got = np.append(got_w, got_b)
    for kwargs, message, hint in _TIE_MESSAGES:
        bad_w, bad_b, _ = _epoch(w0, b0, X, y, 1.0, **kwargs)
        expect(not np.allclose(got, np.append(bad_w, bad_b)), f"{name} {message}", hint)
    expect(np.allclose(got, np.append(want_w, want_b)),
           f"{name} gives w = {got_w}, b = {got_b:g}; expected w = {want_w}, b = {want_b:g}.",
           "Walk through the 6 examples by hand: [1, 2] (label 0) is right at w = 0; [2, -1] "
           "(label 1) is wrong, so w becomes [2, -1] and b becomes 1; and so on.")
    expect(got_m == want_m, f"{name} reports {got_m:g} mistakes, expected {want_m}.",
           "Count the examples that caused an update during this pass.")

    w0, b0 = np.array([0.5, -0.2]), 0.1
    name = "perceptron_epoch(w=[0.5, -0.2], b=0.1, X, y, lr=0.3)"
    got_w, got_b, got_m = _epoch_answer(perceptron_epoch, w0, b0, X, y, 0.3, name)
    want_w, want_b, want_m = _epoch(w0, b0, X, y, 0.3)
    expect(not np.allclose(np.append(got_w, got_b), np.append(*_epoch(w0, b0, X, y, 1.0)[:2])),
           f"{name} ignores the learning rate lr.", "Multiply each update by lr.")
    expect_close(np.append(got_w, got_b), np.append(want_w, want_b), name=f"(w, b) from {name}",
                 hint="Start from the w and b that were passed in, not from zeros.")
    expect(got_m == want_m, f"{name} reports {got_m:g} mistakes, expected {want_m}.")

    rng = np.random.default_rng(8)
    X = rng.standard_normal((9, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) > 0.2).astype(int)
    w0, b0 = np.array([0.1, 0.4, -0.3]), -0.05
    name = "perceptron_epoch(w, b, X, y, lr=0.7) for 9 examples with 3 features"
    got_w, got_b, got_m = _epoch_answer(perceptron_epoch, w0, b0, X, y, 0.7, name)
    want_w, want_b, want_m = _epoch(w0, b0, X, y, 0.7)
    expect_close(np.append(got_w, got_b), np.append(want_w, want_b), name=f"(w, b) from {name}",
                 hint="Does your function work for any number of features D and any lr?")
    expect(got_m == want_m, f"{name} reports {got_m:g} mistakes, expected {want_m}.")
    return "One more loop around it and you have dlcore.perceptron.Perceptron.fit."


# ---- exercise 3 ---------------------------------------------------------------------------------


def _bce_answer(stable_bce, z, y, name):
    with np.errstate(all="ignore"):
        got = _scalar(call(stable_bce, z.copy(), y.copy()), name)
    expect(np.isfinite(got), f"{name} is {got} (NaN or inf).", "Look for a division by zero or the log of zero.")
    return got


def _check_reduction(got, z, y, name):
    total = _bce(z, y) * len(z)
    expect(not np.isclose(got, total), f"{name} is the sum over the examples, not the mean.",
           "Divide by the number of examples, or use np.mean.")
    for n in range(2, 21):
        expect(n == len(z) or not np.isclose(got, total / n, rtol=1e-9),
               f"{name} is the sum divided by {n}, not by the number of examples N = {len(z)}.",
               "Divide by len(z) (or use np.mean), which is right for any number of examples.")


@checker("binary cross-entropy from logits, without overflow")
def ex3(stable_bce):
    """``stable_bce(z, y)``: logits z (N,), labels y (N,) -> the mean binary cross-entropy."""
    z = np.array([-2.0, -0.5, 0.0, 1.0, 3.0])
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    name = "stable_bce(z, y) for 5 moderate logits"
    got = _bce_answer(stable_bce, z, y, name)
    _check_reduction(got, z, y, name)
    expect(not np.isclose(got, _bce(z, 1 - y)), f"{name} swaps the roles of the labels 0 and 1.",
           "For label 1 the loss is -log(sigmoid(z)), which is small when z is large.")
    expect_close(got, _bce(z, y), name=name, hint="Per example: max(z, 0) - z * y + log(1 + exp(-|z|)).")

    z = np.array([0.3, -1.7, 2.2, -0.4, 0.9, -3.1, 1.4, 0.05])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    name = "stable_bce(z, y) for 8 moderate logits"
    got = _bce_answer(stable_bce, z, y, name)
    _check_reduction(got, z, y, name)
    expect_close(got, _bce(z, y), name=name,
                 hint="Does your function work for any number of examples N and use its inputs?")

    z = np.array([1000.0, -1000.0, 1000.0, -1000.0, 40.0, -35.0])
    y = np.array([0.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    name = "stable_bce(z, y) for logits of +-1000, 40 and -35"
    with np.errstate(all="ignore"):
        try:
            got = _scalar(call(stable_bce, z.copy(), y.copy()), name)
        except CheckFailure as failure:
            raise CheckFailure(failure.message, "Never compute exp of a large positive number: use "
                               "exp(-|z|), which is at most 1.") from None
    expect(np.isfinite(got), f"{name} is {got}: the large logits overflowed.",
           "Write the loss as max(z, 0) - z * y + log1p(exp(-|z|)); exp then never sees a large "
           "positive argument.")
    _check_reduction(got, z, y, name)
    expect_close(got, _bce(z, y), rtol=1e-9, name=name,
                 hint="Two of these examples are confidently wrong and cost 1000 each; the others cost "
                      "(almost) nothing, except z = 40 with label 0, which costs 40.")
    return "It is exact for logits of any size and any number of examples."


# ---- exercise 4 ---------------------------------------------------------------------------------


def _xor_sets():
    """The four XOR corners, and a synthetic set of 100 points in tight clusters at the corners."""
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y_corners = np.array([0, 1, 1, 0])
    rng = np.random.default_rng(5)
    which = rng.integers(0, 4, size=100)
    clusters = corners[which] + 0.1 * rng.standard_normal((100, 2))
    return [("the four XOR corners", corners, y_corners),
            ("100 synthetic points clustered around the corners", clusters, y_corners[which])]


@checker("features that make XOR learnable")
def ex4(xor_features):
    """``xor_features(X)``: X (N, 2) -> F (N, K); a perceptron on F must fit XOR perfectly."""
    from ..perceptron import Perceptron  # noqa: PLC0415

    for what, X, y in _xor_sets():
        name = f"xor_features(X) for {what}, X of shape {X.shape}"
        F = expect_array(call(xor_features, X.copy()), name=name)
        expect(F.ndim != 1, f"{name} has shape {F.shape}: one number per point, but a feature matrix "
               "needs two axes.", "Return shape (N, K), e.g. with np.column_stack([...]).")
        F = expect_array(F, shape=(len(X), None), name=name)
        expect(F.shape[1] >= 1, f"{name} has no columns.")
        expect(not (F.shape[1] == 2 and np.allclose(F, X)),
               f"{name} returns the inputs unchanged; no line separates XOR in those.",
               "Add a feature that combines x1 and x2, such as their product x1 * x2.")
        expect(np.isfinite(F.astype(float)).all(), f"{name} contains NaN or inf.")
        model = Perceptron(F.shape[1]).fit(F.astype(np.float64), y, max_epochs=1000)
        accuracy = float(np.mean(model.predict(F.astype(np.float64)) == y))
        expect(accuracy == 1.0,
               f"with your features a perceptron reaches only {accuracy:.0%} on {what} "
               f"({F.shape[1]} feature(s) per point).",
               "The label is 1 when exactly one input is 1. Which single number, computed from x1 and "
               "x2, is large for (1, 1) but not for (0, 1) or (1, 0)?")
    return "With the right feature, a straight line (a plane) separates XOR."


# ---- reference answers and correct rewrites (used by tests/test_checker_battery.py) -------------


def _epoch_ref(w, b, X, y, lr):
    return _epoch(w, b, X, y, lr)


def _epoch_vectorised_check(w, b, X, y, lr):
    w, mistakes = np.array(w, dtype=np.float32), 0
    for i in range(len(y)):
        y_hat = 1 if float(X[i] @ w) + b > 0 else 0
        if y_hat != y[i]:
            w, b, mistakes = w + lr * (y[i] - y_hat) * X[i], b + lr * (y[i] - y_hat), mistakes + 1
    return [w, b, mistakes]


def _stable_bce_where(z, y):
    # log(1 + e^z) - z y, written with logaddexp, which is stable for any z
    return np.sum(np.logaddexp(0.0, z) - z * y) / len(z)


def _xor_features(X):
    return np.column_stack([X[:, 0], X[:, 1], X[:, 0] * X[:, 1]])


REFERENCE_ANSWERS = {"ex1": _signed_distance, "ex2": _epoch_ref, "ex3": _bce, "ex4": _xor_features}
CORRECT_REWRITES = {
    "ex1": [lambda w, b, X: np.array([(x @ w + b) / np.sqrt(np.sum(w**2)) for x in X]),
            lambda w, b, X: ((X @ w + b) / np.linalg.norm(w)).astype(np.float32)],
    "ex2": [_epoch_vectorised_check],
    "ex3": [_stable_bce_where, lambda z, y: np.mean(np.where(y == 1, np.logaddexp(0, -z), np.logaddexp(0, z)))],
    "ex4": [lambda X: np.column_stack([X[:, 0] + X[:, 1] - 2 * X[:, 0] * X[:, 1]]),
            lambda X: np.column_stack([X, (X[:, 0] - 0.5) * (X[:, 1] - 0.5)])],
}

"""Checkers for the chapter 02 exercises ("Tensors, derivatives and gradient descent").

Used in ``exercises/02_gradient_descent.ipynb``::

    from dlcore.exercises import ch02 as check
    check.ex1(pairwise_sq_distances)

* :func:`ex1` -- ``pairwise_sq_distances(A, B)``: every squared distance, by broadcasting.
* :func:`ex2` -- ``rosenbrock_grad(w)``: the two partial derivatives of Rosenbrock's function.
* :func:`ex3` -- ``momentum_descent(grad, x0, lr, momentum, steps)``: the heavy-ball path.
* :func:`ex4` -- ``fit_linear_regression(X, y, lr, steps)``: linear regression by gradient descent.

Each checker tries the learner's function on small cases with known answers and says
what differs; none of them raises.
"""

from __future__ import annotations

import numpy as np

from ._core import CheckFailure, call, checker, expect, expect_array, expect_close

# ---- reference answers (also the model solutions) -------------------------------------------


def _distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """(N, D), (M, D) -> (N, M) squared Euclidean distances."""
    return ((A[:, None, :] - B[None, :, :]) ** 2).sum(axis=-1)


def _rosenbrock(w: np.ndarray) -> float:
    x, y = w
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _rosenbrock_grad(w: np.ndarray, *, signs=(1.0, 1.0, 1.0)) -> np.ndarray:
    """The gradient; ``signs`` flips the two terms of df/dx and df/dy (the common sign slips)."""
    x, y = w
    return np.array([-2 * (1 - x) * signs[0] - 400 * x * (y - x**2) * signs[1],
                     200 * (y - x**2) * signs[2]])


def _momentum_path(grad, x0, lr, momentum, steps, *, dampening=False, nesterov=False) -> np.ndarray:
    """Heavy-ball path (steps + 1, D); the keyword variants are the common mistakes."""
    x = np.array(x0, dtype=np.float64)
    v = np.zeros_like(x)
    path = [x.copy()]
    for _ in range(steps):
        g = grad(x - lr * momentum * v) if nesterov else grad(x)
        v = momentum * v + ((1 - momentum) * g if dampening else g)
        x = x - lr * v
        path.append(x.copy())
    return np.array(path)


def _regression(X, y, lr, steps, *, factor=2.0, reduce="mean", sign=1.0, divisor=None) -> np.ndarray:
    """Gradient descent on the mean squared error from zeros; keywords give the common mistakes."""
    theta = np.zeros(X.shape[1])
    scale = (1 / len(y) if reduce == "mean" else 1.0) if divisor is None else 1 / divisor
    for _ in range(steps):
        r = X @ theta - y
        theta = theta - sign * lr * factor * scale * (X.T @ r)
    return theta


def _expect_unchanged(before: np.ndarray, after: np.ndarray, arg: str) -> None:
    """Fail if the learner's function edited the array ``arg`` it was given (``after``) in place."""
    expect(np.array_equal(before, after, equal_nan=True),
           f"your function changed the array {arg} that was passed in.",
           f"Compute new arrays instead of editing {arg} in place ({arg} -= ..., {arg}[...] = ...): "
           f"the caller's {arg} would change too. Copy it first ({arg} = {arg}.copy()) if you need to.")


def _no_float16(arr: np.ndarray, name: str) -> None:
    expect(arr.dtype != np.float16,
           f"{name} has dtype float16, which keeps only about 3 significant digits.",
           "Compute in float64 (NumPy's default) or float32; do not cast to float16.")


# ---- exercise 1 ---------------------------------------------------------------------------------


@checker("pairwise squared distances")
def ex1(pairwise_sq_distances):
    """``pairwise_sq_distances(A, B)``: (N, D), (M, D) -> (N, M), entry [i, j] = |A[i] - B[j]|^2."""
    A = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    B = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [0.0, -1.0]])
    expected = _distances(A, B)                           # (3, 4)
    name = "pairwise_sq_distances(A, B) for A (3, 2) and B (4, 2)"
    A_in, B_in = A.copy(), B.copy()
    got = call(pairwise_sq_distances, A_in, B_in)
    _expect_unchanged(A, A_in, "A")
    _expect_unchanged(B, B_in, "B")
    got = expect_array(got, name=name)
    expect(got.shape != (4, 3), f"{name} has shape (4, 3), expected (3, 4): one row per row of A.",
           "Put A's rows on the first axis: A[:, None, :] - B[None, :, :] has shape (N, M, D).")
    expect(got.shape != (3, 4, 2), f"{name} has shape (3, 4, 2), expected (3, 4).",
           "You have the (N, M, D) differences; square them and sum over the last axis (axis=-1).")
    got = expect_array(got, shape=(3, 4), name=name)
    expect(not np.allclose(got, np.sqrt(expected)),
           f"{name} returned the distances themselves, not their squares.",
           "Leave out the square root: the exercise asks for squared distances.")
    expect_close(got, expected, name=name,
                 hint="Entry [i, j] is the sum over features of (A[i] - B[j])**2; e.g. [2, 1] is "
                      "(0 - 1)**2 + (2 - 1)**2 = 2.")
    rng = np.random.default_rng(2)
    A, B = rng.standard_normal((7, 4)), rng.standard_normal((5, 4))
    name = "pairwise_sq_distances(A, B) for A (7, 4) and B (5, 4)"
    A_in, B_in = A.copy(), B.copy()
    got = call(pairwise_sq_distances, A_in, B_in)
    _expect_unchanged(A, A_in, "A")
    _expect_unchanged(B, B_in, "B")
    got = expect_array(got, shape=(7, 5), name=name)
    expect_close(got, _distances(A, B), name=name,
                 hint="Does your function work for any N, M and number of features D?")
    return "Broadcasting lined up all 7 x 5 pairs without a loop."


# ---- exercise 2 ---------------------------------------------------------------------------------

#: Where ex2 evaluates the gradient: the minimum, then points with non-integer gradients.
_ROSENBROCK_POINTS = [(0.0, 0.0), (-1.5, 2.0), (0.5, -0.3), (0.3, 0.7), (-0.83, 0.45), (1.37, 1.9)]


def _grad_at(rosenbrock_grad, w: np.ndarray) -> np.ndarray:
    name = f"rosenbrock_grad(np.array([{w[0]:g}, {w[1]:g}]))"
    got = expect_array(call(rosenbrock_grad, w.copy()), name=name)
    expect(got.size == 2, f"{name} has shape {got.shape}, expected (2,): the two partial derivatives.",
           "Return np.array([df_dx, df_dy]).")
    _no_float16(got, name)
    return expect_array(got.reshape(2), shape=(2,), name=name).astype(np.float64)


def _near(a, b) -> bool:
    return bool(np.allclose(a, b, rtol=1e-5, atol=1e-8))


@checker("the gradient of Rosenbrock's function")
def ex2(rosenbrock_grad):
    """``rosenbrock_grad(w)``: w (2,) -> (2,), the gradient of (1 - x)^2 + 100 (y - x^2)^2."""
    got = _grad_at(rosenbrock_grad, np.array([1.0, 1.0]))
    expect(np.allclose(got, 0.0, atol=1e-9),
           f"at the minimum (1, 1) your gradient is {got}, but it must be (0, 0): f is smallest there.",
           "Check the two partial derivatives by hand at x = y = 1.")
    points = [np.array(p) for p in _ROSENBROCK_POINTS]
    answers = [_grad_at(rosenbrock_grad, w) for w in points]
    expected = [_rosenbrock_grad(w) for w in points]
    expect(not all(_near(g, -e) for g, e in zip(answers, expected)),
           f"your gradient is the exact gradient times -1 at every point, e.g. {answers[1]} at "
           f"(-1.5, 2) instead of {expected[1]}: it points the wrong way, downhill.",
           "The gradient points uphill; gradient descent subtracts it. Check the signs that the chain "
           "rule gives.")
    for w, got, want in zip(points, answers, expected):
        where = f"at (x, y) = ({w[0]:g}, {w[1]:g})"
        if not np.isclose(got[1], want[1], rtol=1e-5, atol=1e-8):
            flipped = np.isclose(got[1], -want[1], rtol=1e-5, atol=1e-8)
            raise CheckFailure(
                f"{where} your df/dy is {got[1]:.6g}, expected {want[1]:.6g}"
                + (" (the same size with the wrong sign)." if flipped else "."),
                "Only the term 100 (y - x^2)^2 depends on y; by the chain rule its derivative is "
                "100 * 2 (y - x^2) * 1.")
        if not np.isclose(got[0], want[0], rtol=1e-5, atol=1e-8):
            if np.isclose(got[0], _rosenbrock_grad(w, signs=(-1, 1, 1))[0], rtol=1e-5, atol=1e-8):
                detail = ("the part that comes from (1 - x)^2 has the wrong sign: its derivative is "
                          "2 (1 - x) * (-1) = -2 (1 - x).")
            elif np.isclose(got[0], _rosenbrock_grad(w, signs=(1, -1, 1))[0], rtol=1e-5, atol=1e-8):
                detail = ("the part that comes from 100 (y - x^2)^2 has the wrong sign: its derivative "
                          "is 100 * 2 (y - x^2) * (-2x) = -400 x (y - x^2).")
            else:
                detail = ("both terms depend on x. The inner derivative of (1 - x) is -1, and that of "
                          "(y - x^2) is -2x.")
            raise CheckFailure(f"{where} your df/dx is {got[0]:.6g}, expected {want[0]:.6g}.",
                               "In df/dx, " + detail)
    return f"It matches the exact gradient at the minimum and at {len(points)} other points."


# ---- exercise 3 ---------------------------------------------------------------------------------

_A = np.diag([1.0, 10.0])
_A3 = np.diag([2.0, 5.0, 0.5])


def _quad_grad(w):
    return _A @ w


def _quad_grad3(w):
    return _A3 @ w


def _path_answer(momentum_descent, grad, x0, lr, momentum, steps, dims: int):
    """Call the learner's function; return its path (steps + 1, D) as float64, with friendly failures."""
    start = x0.copy()
    name = (f"momentum_descent(grad, x0={np.array2string(x0, separator=', ')}, lr={lr:g}, "
            f"momentum={momentum:g}, steps={steps})")
    try:
        result = call(momentum_descent, grad, x0, lr, momentum, steps)
    except CheckFailure:
        raise
    except Exception as err:
        original = getattr(err, "original", err)
        if dims != 2 and isinstance(original, ValueError) and "broadcast" in str(original):
            raise CheckFailure(
                f"{name} raised ValueError: {original}. Your function works for a start point with 2 "
                f"coordinates but not with {dims}.",
                "Give the velocity (and anything else you pre-allocate) the shape of x: "
                "np.zeros_like(x), not np.zeros(2).") from None
        raise
    got = expect_array(result, name=name)
    expect(np.array_equal(x0, start), "your function changed the array x0 that was passed in.",
           "Work on a copy: x = np.array(x0, dtype=float). `x = x0` makes a second name for the "
           "same array, so x -= ... changes the caller's x0 too.")
    expect(got.shape != (steps, dims),
           f"{name} has shape {got.shape}, expected {(steps + 1, dims)}: the path includes the start.",
           "Put x0 in the path before the first step, then append the point after every step.")
    _no_float16(got, name)
    got = expect_array(got, shape=(steps + 1, dims), name=name)
    expect(not (steps > 1 and np.all(got == got[-1]) and not np.allclose(got[-1], x0)),
           f"{name}: every row of your path is the same point, the last one. The list holds the same "
           "array again and again.",
           "path.append(x) stores a reference to the array x, not a copy of its values, and x -= ... "
           "changes that one array in place. Append x.copy(), or write x = x - lr * v, which makes a "
           "new array.")
    return got, name


@checker("gradient descent with momentum")
def ex3(momentum_descent):
    """``momentum_descent(grad, x0, lr, momentum, steps)`` -> path (steps + 1, D), heavy ball."""
    x0 = np.array([2.0, 1.0])
    got, name = _path_answer(momentum_descent, _quad_grad, x0.copy(), 0.05, 0.0, 5, 2)
    expect_close(got[0], x0, name="the first row of the path",
                 hint="The first row is the start point x0 itself.")
    expect_close(got, _momentum_path(_quad_grad, x0, 0.05, 0.0, 5), name=name,
                 hint="With momentum 0 each step is x <- x - lr * grad(x).")

    got, name = _path_answer(momentum_descent, _quad_grad, x0.copy(), 0.05, 0.8, 20, 2)
    expected = _momentum_path(_quad_grad, x0, 0.05, 0.8, 20)
    expect(not np.allclose(got, _momentum_path(_quad_grad, x0, 0.05, 0.0, 20)),
           f"{name} ignores the momentum: it is plain gradient descent.",
           "Keep a velocity v (zeros at the start): v <- momentum * v + grad(x), then x <- x - lr * v.")
    expect(not np.allclose(got, _momentum_path(_quad_grad, x0, 0.05, 0.8, 20, dampening=True)),
           f"{name} scales the gradient by (1 - momentum) inside the velocity.",
           "This chapter's (and torch.optim.SGD's) rule adds the full gradient: v <- momentum * v + grad(x).")
    expect(not np.allclose(got, _momentum_path(_quad_grad, x0, 0.05, 0.8, 20, nesterov=True)),
           f"{name} evaluates the gradient at a look-ahead point (that is Nesterov's variant).",
           "Use the gradient at the current point x.")
    expect_close(got, expected, name=name,
                 hint="Check the first two steps by hand: v1 = g(x0), x1 = x0 - lr v1; "
                      "v2 = momentum v1 + g(x1), x2 = x1 - lr v2.")

    x3 = np.array([1.0, -2.0, 0.5])
    got, name = _path_answer(momentum_descent, _quad_grad3, x3.copy(), 0.03, 0.6, 7, 3)
    for wrong_lr in (0.05, 0.1, 0.01):
        expect(not np.allclose(got, _momentum_path(_quad_grad3, x3, wrong_lr, 0.6, 7)),
               f"{name} follows the path for lr = {wrong_lr:g}, not the lr = 0.03 it was given.",
               "Use the argument lr in the update; do not write a learning rate into the function.")
    for wrong_m in (0.8, 0.9, 0.5):
        expect(not np.allclose(got, _momentum_path(_quad_grad3, x3, 0.03, wrong_m, 7)),
               f"{name} follows the path for momentum = {wrong_m:g}, not the 0.6 it was given.",
               "Use the argument momentum in the update.")
    expect_close(got, _momentum_path(_quad_grad3, x3, 0.03, 0.6, 7), name=name,
                 hint="Does your function work for any lr, momentum, number of steps and dimension D?")
    return "Your path matches the heavy-ball update of dlcore.optim.SGD, in 2 and 3 dimensions."


# ---- exercise 4 ---------------------------------------------------------------------------------


def _synthetic_regression(n: int = 40, d: int = 3, seed: int = 4):
    """Synthetic, well-conditioned data: X (n, d) whose last column is ones, y = X theta + noise."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.standard_normal((n, d - 1)), np.ones(n)])
    y = X @ np.linspace(2.0, -1.0, d) + 0.1 * rng.standard_normal(n)
    return X, y


def _theta_answer(fit_linear_regression, X, y, lr, steps):
    d = X.shape[1]
    name = f"fit_linear_regression(X, y, lr={lr:g}, steps={steps}) for X of shape {X.shape}"
    X_in, y_in = X.copy(), y.copy()
    got = call(fit_linear_regression, X_in, y_in, lr, steps)
    _expect_unchanged(X, X_in, "X")
    _expect_unchanged(y, y_in, "y")
    got = expect_array(got, name=name)
    if got.shape in ((d, 1), (1, d)):
        got = got.reshape(d)                              # a consistent column (or row) is fine
    expect(got.shape != (d, len(y)) and got.shape != (len(y), d),
           f"{name} has shape {got.shape}, expected ({d},): it looks as if an (N, 1) column met an "
           "(N,) vector somewhere and broadcasting made an (N, N) array.",
           "Keep theta, y and the residual X @ theta - y all 1-D (shapes (D,), (N,), (N,)), or all "
           "columns; print their shapes.")
    expect(got.size == d, f"{name} has shape {got.shape}, expected ({d},): one parameter per column of X.",
           "Start from theta = np.zeros(X.shape[1]).")
    _no_float16(got, name)
    return expect_array(got.reshape(-1), shape=(d,), name=name), name


@checker("linear regression by gradient descent")
def ex4(fit_linear_regression):
    """``fit_linear_regression(X, y, lr, steps)`` -> theta (D,) after ``steps`` steps from zeros."""
    X, y = _synthetic_regression()
    got, name = _theta_answer(fit_linear_regression, X, y, 0.1, 1)
    expect(not np.allclose(got, np.linalg.lstsq(X, y, rcond=None)[0]),
           f"{name} returned the least-squares solution after a single step: it does not take "
           "gradient-descent steps.", "Start from zeros and take exactly `steps` steps of "
           "theta <- theta - lr * (2 / N) X.T @ (X @ theta - y).")
    for kwargs, message, hint in [
        (dict(factor=1.0), "uses the gradient without the factor 2.",
         "The derivative of r**2 is 2 r, so the gradient of the mean squared error is (2/N) X.T @ r."),
        (dict(reduce="sum"), "sums the gradient over the examples instead of averaging it.",
         "Divide by the number of examples N = len(y): the loss is a mean."),
        (dict(sign=-1.0), "moves *up* the gradient.", "Gradient descent subtracts: theta <- theta - lr * grad."),
    ]:
        expect(not np.allclose(got, _regression(X, y, 0.1, 1, **kwargs)), f"after one step your theta {message}",
               hint)
    expect_close(got, _regression(X, y, 0.1, 1), name=name,
                 hint="One step from theta = 0: r = X @ theta - y, then theta <- theta - lr * (2 / N) X.T @ r.")
    got, name = _theta_answer(fit_linear_regression, X, y, 0.1, 200)
    expect_close(got, _regression(X, y, 0.1, 200), rtol=1e-6, name=name,
                 hint="Does your function take exactly `steps` steps with the given learning rate?")
    best = np.linalg.lstsq(X, y, rcond=None)[0]
    expect_close(got, best, rtol=1e-5, atol=1e-6, name=name + " compared with np.linalg.lstsq")

    X, y = _synthetic_regression(n=25, d=4, seed=7)
    got, name = _theta_answer(fit_linear_regression, X, y, 0.05, 30)
    expect(not np.allclose(got, _regression(X, y, 0.1, 30)),
           f"{name} gives the result for lr = 0.1, not for the lr = 0.05 it was given.",
           "Use the argument lr in the update; do not write a learning rate into the function.")
    expect(not np.allclose(got, _regression(X, y, 0.05, 30, divisor=40)),
           f"{name} divides by 40, the size of the first test set, instead of N = {len(y)}.",
           "Divide by len(y) (or X.shape[0]), which is right for any number of examples.")
    expect_close(got, _regression(X, y, 0.05, 30), rtol=1e-6, name=name,
                 hint="Does your function work for any N, any number of features D, any lr and any "
                      "number of steps?")
    return "After 200 steps it agrees with the least-squares solution, and it works for other N, D and lr."


# ---- reference answers and correct rewrites (used by tests/test_checker_battery.py) -------------


def _pairwise_loop(A, B):
    out = np.zeros((len(A), len(B)))
    for i in range(len(A)):
        for j in range(len(B)):
            out[i, j] = np.sum((A[i] - B[j]) ** 2)
    return out


def _pairwise_expanded(A, B):
    return (A**2).sum(axis=1)[:, None] + (B**2).sum(axis=1)[None, :] - 2 * A @ B.T


def _momentum_ref(grad, x0, lr, momentum, steps):
    return _momentum_path(grad, x0, lr, momentum, steps)


def _momentum_preallocated(grad, x0, lr, momentum, steps):
    path = np.zeros((steps + 1, len(x0)), dtype=np.float32)
    path[0] = x0
    x, v = np.array(x0, dtype=np.float64), np.zeros(len(x0))
    for k in range(steps):
        v = momentum * v + grad(x)
        x -= lr * v                                   # in place on our own copy: fine
        path[k + 1] = x                               # assignment copies the values
    return path


def _momentum_list(grad, x0, lr, momentum, steps):
    x, v, path = np.array(x0, dtype=float), 0.0, [list(x0)]
    for _ in range(steps):
        v = momentum * v + grad(x)
        x = x - lr * v
        path.append(list(x))
    return path


def _momentum_float32(grad, x0, lr, momentum, steps):
    x = np.array(x0, dtype=np.float32)
    v, path = np.zeros_like(x), [x.copy()]
    for _ in range(steps):
        v = np.float32(momentum) * v + grad(x).astype(np.float32)
        x = x - np.float32(lr) * v
        path.append(x.copy())
    return np.array(path)


def _regression_float32(X, y, lr, steps):
    X, y = X.astype(np.float32), y.astype(np.float32)
    theta = np.zeros(X.shape[1], dtype=np.float32)
    for _ in range(steps):
        theta = theta - np.float32(lr * 2 / len(y)) * (X.T @ (X @ theta - y))
    return theta


def _regression_ref(X, y, lr, steps):
    return _regression(X, y, lr, steps)


def _regression_column(X, y, lr, steps):
    theta, y = np.zeros((X.shape[1], 1)), y.reshape(-1, 1)
    for _ in range(steps):
        theta = theta - lr * 2 / X.shape[0] * X.T @ (X @ theta - y)
    return theta


def _regression_loop(X, y, lr, steps):
    theta = np.zeros(X.shape[1], dtype=np.float32)
    for _ in range(steps):
        grad = np.zeros(X.shape[1])
        for x_i, y_i in zip(X, y):
            grad += 2 * (x_i @ theta - y_i) * x_i / len(y)
        theta = theta - lr * grad
    return theta


REFERENCE_ANSWERS = {"ex1": _distances, "ex2": _rosenbrock_grad, "ex3": _momentum_ref, "ex4": _regression_ref}
CORRECT_REWRITES = {
    "ex1": [_pairwise_loop, _pairwise_expanded,
            lambda A, B: ((A[:, None, :] - B[None, :, :]) ** 2).sum(axis=-1).astype(np.float32)],
    "ex2": [lambda w: [2 * (w[0] - 1) - 400 * w[0] * (w[1] - w[0] ** 2), 200 * (w[1] - w[0] ** 2)],
            lambda w: _rosenbrock_grad(w).astype(np.float32),
            lambda w: tuple(_rosenbrock_grad(w))],
    "ex3": [_momentum_preallocated, _momentum_list, _momentum_float32],
    "ex4": [_regression_column, _regression_loop, _regression_float32,
            lambda X, y, lr, steps: list(_regression(X, y, lr, steps))],
}

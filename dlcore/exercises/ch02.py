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

from ._core import call, checker, expect, expect_array, expect_close

# ---- reference answers (also the model solutions) -------------------------------------------


def _distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """(N, D), (M, D) -> (N, M) squared Euclidean distances."""
    return ((A[:, None, :] - B[None, :, :]) ** 2).sum(axis=-1)


def _rosenbrock(w: np.ndarray) -> float:
    x, y = w
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _rosenbrock_grad(w: np.ndarray) -> np.ndarray:
    x, y = w
    return np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])


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


def _regression(X, y, lr, steps, *, factor=2.0, reduce="mean", sign=1.0) -> np.ndarray:
    """Gradient descent on the mean squared error from zeros; keywords give the common mistakes."""
    theta = np.zeros(X.shape[1])
    scale = 1 / len(y) if reduce == "mean" else 1.0
    for _ in range(steps):
        r = X @ theta - y
        theta = theta - sign * lr * factor * scale * (X.T @ r)
    return theta


# ---- exercise 1 ---------------------------------------------------------------------------------


@checker("pairwise squared distances")
def ex1(pairwise_sq_distances):
    """``pairwise_sq_distances(A, B)``: (N, D), (M, D) -> (N, M), entry [i, j] = |A[i] - B[j]|^2."""
    A = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    B = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [0.0, -1.0]])
    expected = _distances(A, B)                           # (3, 4)
    name = "pairwise_sq_distances(A, B) for A (3, 2) and B (4, 2)"
    got = expect_array(call(pairwise_sq_distances, A.copy(), B.copy()), name=name)
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
    got = expect_array(call(pairwise_sq_distances, A.copy(), B.copy()), shape=(7, 5), name=name)
    expect_close(got, _distances(A, B), name=name,
                 hint="Does your function work for any N, M and number of features D?")
    return "Broadcasting lined up all 7 x 5 pairs without a loop."


# ---- exercise 2 ---------------------------------------------------------------------------------


def _grad_at(rosenbrock_grad, w: np.ndarray) -> np.ndarray:
    name = f"rosenbrock_grad(np.array([{w[0]:g}, {w[1]:g}]))"
    got = expect_array(call(rosenbrock_grad, w.copy()), name=name)
    expect(got.size == 2, f"{name} has shape {got.shape}, expected (2,): the two partial derivatives.",
           "Return np.array([df_dx, df_dy]).")
    return expect_array(got.reshape(2), shape=(2,), name=name)


@checker("the gradient of Rosenbrock's function")
def ex2(rosenbrock_grad):
    """``rosenbrock_grad(w)``: w (2,) -> (2,), the gradient of (1 - x)^2 + 100 (y - x^2)^2."""
    got = _grad_at(rosenbrock_grad, np.array([1.0, 1.0]))
    expect(np.allclose(got, 0.0, atol=1e-9),
           f"at the minimum (1, 1) your gradient is {got}, but it must be (0, 0): f is smallest there.",
           "Check the two partial derivatives by hand at x = y = 1.")
    points = [np.array([0.0, 0.0]), np.array([-1.5, 2.0]), np.array([0.5, -0.3]), np.array([2.0, 1.0])]
    for w in points:
        got = _grad_at(rosenbrock_grad, w)
        expected = _rosenbrock_grad(w)
        where = f"at (x, y) = ({w[0]:g}, {w[1]:g})"
        expect(not np.allclose(got, -expected),
               f"{where} your gradient is {got}: it points the wrong way (expected {expected}).",
               "The gradient points uphill; check the signs that the chain rule gives.")
        expect(np.isclose(got[1], expected[1], rtol=1e-6, atol=1e-8),
               f"{where} your df/dy is {got[1]:.6g}, expected {expected[1]:.6g}.",
               "Only the term 100 (y - x^2)^2 depends on y; by the chain rule its derivative is "
               "100 * 2 (y - x^2) * 1.")
        expect(np.isclose(got[0], expected[0], rtol=1e-6, atol=1e-8),
               f"{where} your df/dx is {got[0]:.6g}, expected {expected[0]:.6g}.",
               "Both terms depend on x. The inner derivative of (1 - x) is -1, and that of "
               "(y - x^2) is -2x.")
    return "It matches the exact gradient at the minimum and at four other points."


# ---- exercise 3 ---------------------------------------------------------------------------------

_A = np.diag([1.0, 10.0])


def _quad_grad(w):
    return _A @ w


@checker("gradient descent with momentum")
def ex3(momentum_descent):
    """``momentum_descent(grad, x0, lr, momentum, steps)`` -> path (steps + 1, D), heavy ball."""
    x0 = np.array([2.0, 1.0])
    start = x0.copy()
    name = "momentum_descent(grad, x0=[2, 1], lr=0.05, momentum=0.0, steps=5)"
    got = expect_array(call(momentum_descent, _quad_grad, x0, 0.05, 0.0, 5), name=name)
    expect(np.array_equal(x0, start), "your function changed the array x0 that was passed in.",
           "Work on a copy: x = np.array(x0, dtype=float).")
    expect(got.shape != (5, 2), f"{name} has shape (5, 2), expected (6, 2): the path includes the start.",
           "Put x0 in the path before the first step, then append the point after every step.")
    got = expect_array(got, shape=(6, 2), name=name)
    expect_close(got[0], x0, name="the first row of the path",
                 hint="The first row is the start point x0 itself.")
    expect_close(got, _momentum_path(_quad_grad, x0, 0.05, 0.0, 5), name=name,
                 hint="With momentum 0 each step is x <- x - lr * grad(x).")

    name = "momentum_descent(grad, x0=[2, 1], lr=0.05, momentum=0.8, steps=20)"
    got = expect_array(call(momentum_descent, _quad_grad, x0.copy(), 0.05, 0.8, 20), shape=(21, 2), name=name)
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
    return "Your path matches the heavy-ball update of dlcore.optim.SGD."


# ---- exercise 4 ---------------------------------------------------------------------------------


def _synthetic_regression():
    """Synthetic, well-conditioned data: X (40, 3) with a column of ones, y = X theta + noise."""
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.standard_normal((40, 2)), np.ones(40)])
    y = X @ np.array([2.0, -1.0, 0.5]) + 0.1 * rng.standard_normal(40)
    return X, y


@checker("linear regression by gradient descent")
def ex4(fit_linear_regression):
    """``fit_linear_regression(X, y, lr, steps)`` -> theta (D,) after ``steps`` steps from zeros."""
    X, y = _synthetic_regression()
    name = "fit_linear_regression(X, y, lr=0.1, steps=1) for X (40, 3)"
    got = expect_array(call(fit_linear_regression, X.copy(), y.copy(), 0.1, 1), name=name)
    expect(got.size == 3, f"{name} has shape {got.shape}, expected (3,): one parameter per column of X.",
           "Start from theta = np.zeros(X.shape[1]).")
    got = expect_array(got.reshape(-1), shape=(3,), name=name)
    one_step = _regression(X, y, 0.1, 1)
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
    expect_close(got, one_step, name=name,
                 hint="One step from theta = 0: r = X @ theta - y, then theta <- theta - lr * (2 / N) X.T @ r.")
    name = "fit_linear_regression(X, y, lr=0.1, steps=200)"
    got = expect_array(call(fit_linear_regression, X.copy(), y.copy(), 0.1, 200), shape=(3,), name=name)
    expect_close(got, _regression(X, y, 0.1, 200), rtol=1e-6, name=name,
                 hint="Does your function take exactly `steps` steps with the given learning rate?")
    best = np.linalg.lstsq(X, y, rcond=None)[0]
    expect_close(got, best, rtol=1e-5, atol=1e-6, name=name + " compared with np.linalg.lstsq")
    return "After 200 steps it agrees with the least-squares solution."

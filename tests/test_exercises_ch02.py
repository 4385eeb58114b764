"""Direct tests of the chapter 02 checkers: the reference answers pass, odd answers fail kindly."""

from __future__ import annotations

import numpy as np
import pytest
from checker_helpers import SHARED_BAD, run_checker

from dlcore.exercises import ch02 as check

# ---- reference solutions (the same as in exercises/solutions/02_gradient_descent.ipynb) ----


def pairwise_sq_distances(A, B):
    diff = A[:, None, :] - B[None, :, :]
    return (diff**2).sum(axis=-1)


def rosenbrock_grad(w):
    x, y = w
    return np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])


def momentum_descent(grad, x0, lr, momentum, steps):
    x = np.array(x0, dtype=np.float64)
    velocity = np.zeros_like(x)
    path = [x.copy()]
    for _ in range(steps):
        velocity = momentum * velocity + grad(x)
        x = x - lr * velocity
        path.append(x.copy())
    return np.array(path)


def fit_linear_regression(X, y, lr, steps):
    theta = np.zeros(X.shape[1])
    for _ in range(steps):
        theta = theta - lr * (2 / len(y)) * (X.T @ (X @ theta - y))
    return theta


REFERENCE = {"ex1": pairwise_sq_distances, "ex2": rosenbrock_grad, "ex3": momentum_descent,
             "ex4": fit_linear_regression}


def _run(capsys, name, answer):
    """Run checker ``name`` on ``answer``; return (passed, printed text)."""
    return run_checker(capsys, check, name, answer)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_solution_passes(capsys, name):
    passed, out = _run(capsys, name, REFERENCE[name])
    assert passed, out
    assert out.startswith("✓")


COMMON_BAD = SHARED_BAD + [
    ("a function that returns None", lambda *a: None, "Did you forget a `return`"),
    ("a function that returns text", lambda *a: "abc", "should hold numbers"),
    ("a function that returns NaN", lambda *a: np.full((3, 2), np.nan), "NaN"),
    ("a function with the wrong arguments", lambda: 0, "TypeError"),
]


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("desc, answer, words", COMMON_BAD, ids=[c[0] for c in COMMON_BAD])
def test_odd_answers_fail_with_a_message(capsys, name, desc, answer, words):
    passed, out = _run(capsys, name, answer)
    assert passed is False, f"{name} accepted {desc}"
    assert out.startswith("✗") and words in out, out


def _assert_feedback(capsys, name, cases):
    for answer, words in cases:
        passed, out = _run(capsys, name, answer)
        assert passed is False and words in out, out
        assert "Hint:" in out, out


def test_ex1_specific_feedback(capsys):
    _assert_feedback(capsys, "ex1", [
        (lambda A, B: pairwise_sq_distances(A, B).T, "expected (3, 4): one row per row of A"),
        (lambda A, B: (A[:, None, :] - B[None, :, :]) ** 2, "sum over the last axis"),
        (lambda A, B: np.sqrt(pairwise_sq_distances(A, B)), "not their squares"),
        (lambda A, B: ((A[:, None, :] - B[None, :, :]) ** 2).sum(axis=1), "expected (3, 4)"),
        (lambda A, B: pairwise_sq_distances(A, B)[:, :1], "expected (3, 4)"),
        (lambda A, B: np.abs(A[:, None, :] - B[None, :, :]).sum(axis=-1), "wrong values"),
        (lambda A, B: pairwise_sq_distances(A, B)[:3, :4], "(7, 4)"),   # only right for the small case
    ])


def test_ex2_specific_feedback(capsys):
    def wrong_dy(w):
        return rosenbrock_grad(w) * np.array([1.0, 0.5])

    def wrong_dx_sign(w):
        x, y = w
        return np.array([-2 * (1 - x) + 400 * x * (y - x**2), 200 * (y - x**2)])

    _assert_feedback(capsys, "ex2", [
        (lambda w: -rosenbrock_grad(w), "wrong way"),
        (wrong_dy, "df/dy"),
        (wrong_dx_sign, "df/dx"),
        (lambda w: rosenbrock_grad(w) + 1.0, "at the minimum (1, 1)"),
        (lambda w: np.append(rosenbrock_grad(w), 0.0), "expected (2,)"),
    ])
    passed, _ = _run(capsys, "ex2", lambda w: rosenbrock_grad(w)[None, :])   # a (1, 2) row is fine
    assert passed


def test_ex3_specific_feedback(capsys):
    def no_start(grad, x0, lr, momentum, steps):
        return momentum_descent(grad, x0, lr, momentum, steps)[1:]

    def in_place(grad, x0, lr, momentum, steps):
        path = momentum_descent(grad, x0, lr, momentum, steps)
        x0[:] = path[-1]
        return path

    def dampened(grad, x0, lr, momentum, steps):
        x, v, path = np.array(x0, float), np.zeros(len(x0)), [np.array(x0, float)]
        for _ in range(steps):
            v = momentum * v + (1 - momentum) * grad(x)
            x = x - lr * v
            path.append(x)
        return np.array(path)

    _assert_feedback(capsys, "ex3", [
        (no_start, "the path includes the start"),
        (in_place, "changed the array x0"),
        (lambda g, x0, lr, m, s: momentum_descent(g, x0, lr, 0.0, s), "ignores the momentum"),
        (dampened, "(1 - momentum)"),
        (lambda g, x0, lr, m, s: momentum_descent(g, x0, lr, m, s) * 1.01, "wrong values"),
    ])


def test_ex4_specific_feedback(capsys):
    def no_two(X, y, lr, steps):
        theta = np.zeros(X.shape[1])
        for _ in range(steps):
            theta = theta - lr / len(y) * (X.T @ (X @ theta - y))
        return theta

    def summed(X, y, lr, steps):
        theta = np.zeros(X.shape[1])
        for _ in range(steps):
            theta = theta - lr * 2 * (X.T @ (X @ theta - y))
        return theta

    _assert_feedback(capsys, "ex4", [
        (no_two, "without the factor 2"),
        (summed, "sums the gradient"),
        (lambda X, y, lr, s: -fit_linear_regression(X, y, lr, s), "*up* the gradient"),
        (lambda X, y, lr, s: np.linalg.lstsq(X, y, rcond=None)[0], "least-squares solution"),  # no descent
        (lambda X, y, lr, s: fit_linear_regression(X, y, lr, s)[:2], "expected (3,)"),
        (lambda X, y, lr, s: fit_linear_regression(X, y, lr, min(s, 20)), "exactly `steps` steps"),
    ])


def test_checkers_do_not_let_the_answer_change_their_data(capsys):
    def vandal(X, y, lr, steps):
        theta = fit_linear_regression(X, y, lr, steps)
        X[:] = 0
        y[:] = 0
        return theta

    passed, out = _run(capsys, "ex4", vandal)
    # The checker passes copies, so its own data survive; but editing the caller's X is a bug
    # (the chapter's views-versus-copies lesson), and it is named.
    assert not passed and "changed the array X" in out, out
    passed, out = _run(capsys, "ex4", fit_linear_regression)
    assert passed, out


def test_every_checker_is_registered():
    from dlcore.exercises import checkers_of

    assert checkers_of("ch02") == ["ex1", "ex2", "ex3", "ex4"]


# ---- issue 10: reference answers, correct rewrites, and the named wrong variants ----------------


# The module's REFERENCE_ANSWERS and CORRECT_REWRITES are run through the checker by
# tests/test_checker_battery.py::test_correct_answers_pass, for every chapter.


def test_ex2_float16_and_one_term_sign_errors(capsys):
    def first_term_flipped(w):
        x, y = w
        return np.array([2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])

    def second_term_flipped(w):
        x, y = w
        return np.array([-2 * (1 - x) + 400 * x * (y - x**2), 200 * (y - x**2)])

    def in_float16(w):
        return rosenbrock_grad(np.asarray(w, dtype=np.float16)).astype(np.float64)

    _assert_feedback(capsys, "ex2", [
        (lambda w: rosenbrock_grad(w).astype(np.float16), "float16"),
        (in_float16, "expected"),                 # computed in float16, returned as float64
        (first_term_flipped, "(1 - x)^2 has the wrong sign"),
        (second_term_flipped, "100 (y - x^2)^2 has the wrong sign"),
    ])
    for answer in (first_term_flipped, second_term_flipped):
        _, out = _run(capsys, "ex2", answer)
        assert "wrong way" not in out, out


def test_ex3_hard_coded_lr_two_d_velocity_and_aliasing(capsys):
    def lr_fixed(grad, x0, lr, momentum, steps):
        return momentum_descent(grad, x0, 0.05, momentum, steps)

    def momentum_fixed(grad, x0, lr, momentum, steps):
        return momentum_descent(grad, x0, lr, 0.8 if momentum else 0.0, steps)

    def two_d(grad, x0, lr, momentum, steps):
        x, v, path = np.array(x0, float), np.zeros(2), [np.array(x0, float)]
        for _ in range(steps):
            v = momentum * v + grad(x)
            x = x - lr * v
            path.append(x)
        return np.array(path)

    def aliased(grad, x0, lr, momentum, steps):
        x, v = np.array(x0, float), np.zeros(len(x0))
        path = [x]
        for _ in range(steps):
            v = momentum * v + grad(x)
            x -= lr * v                        # in place ...
            path.append(x)                     # ... and the list holds the same array each time
        return np.array(path)

    _assert_feedback(capsys, "ex3", [
        (lr_fixed, "not the lr = 0.03"),
        (momentum_fixed, "not the 0.6"),
        (two_d, "2 coordinates but not with 3"),
        (aliased, "path.append(x) stores a reference"),
    ])
    _, out = _run(capsys, "ex3", aliased)
    assert "first row" not in out


def test_ex4_hard_coded_lr_and_divisor_and_column_answers(capsys):
    def lr_fixed(X, y, lr, steps):
        return fit_linear_regression(X, y, 0.1, steps)

    def divides_by_40(X, y, lr, steps):
        theta = np.zeros(X.shape[1])
        for _ in range(steps):
            theta = theta - lr * (2 / 40) * (X.T @ (X @ theta - y))
        return theta

    def column_bug(X, y, lr, steps):           # (D, 1) theta against an (N,) y: (N, N) residuals
        theta = np.zeros((X.shape[1], 1))
        for _ in range(steps):
            theta = theta - lr * (2 / len(y)) * (X.T @ (X @ theta - y))
        return theta

    _assert_feedback(capsys, "ex4", [
        (lr_fixed, "not for the lr = 0.05"),
        (divides_by_40, "divides by 40"),
        (column_bug, "(N, N) array"),
    ])

    def consistent_column(X, y, lr, steps):    # all columns: correct, and accepted
        theta, y = np.zeros((X.shape[1], 1)), y[:, None]
        for _ in range(steps):
            theta = theta - lr * (2 / len(y)) * (X.T @ (X @ theta - y))
        return theta

    passed, out = _run(capsys, "ex4", consistent_column)
    assert passed, out


def test_checkers_work_under_seterr_raise(capsys):
    old = np.seterr(all="raise")
    try:
        for name, answer in check.REFERENCE_ANSWERS.items():
            passed, out = _run(capsys, name, answer)
            assert passed, out
    finally:
        np.seterr(**old)


# ---- cases from the strict review (wrong answers the first tests did not try) ------------------


def _distances_that_zero_a(A, B):
    out = pairwise_sq_distances(A, B)
    A -= A                                                # right values, but the caller's A is gone
    return out


def _regression_that_centres_x(X, y, lr, steps):
    theta = fit_linear_regression(X, y, lr, steps)
    X -= X.mean(axis=0)                                   # in place: changes the caller's data
    return theta


def _momentum_velocity_after_position(grad, x0, lr, momentum, steps):
    x, v = np.array(x0, dtype=float), np.zeros(len(x0))
    path = [x.copy()]
    for _ in range(steps):
        x = x - lr * v
        v = momentum * v + grad(x)
        path.append(x.copy())
    return np.array(path)


def _momentum_velocity_starts_at_gradient(grad, x0, lr, momentum, steps):
    x = np.array(x0, dtype=float)
    v, path = grad(x), [x.copy()]
    for _ in range(steps):
        v = momentum * v + grad(x)
        x = x - lr * v
        path.append(x.copy())
    return np.array(path)


def _momentum_sutskever_form(grad, x0, lr, momentum, steps):
    """v <- mu v - lr g, x <- x + v: the same path as the chapter's form for a constant lr."""
    x = np.array(x0, dtype=float)
    v, path = np.zeros_like(x), [x.copy()]
    for _ in range(steps):
        v = momentum * v - lr * grad(x)
        x = x + v
        path.append(x.copy())
    return np.array(path)


REVIEW_WRONG = [
    ("ex1", "L1 distances", lambda A, B: np.abs(A[:, None] - B[None]).sum(-1), "wrong values"),
    ("ex1", "dot products only", lambda A, B: A @ B.T, "wrong values"),
    ("ex1", "two features written out", lambda A, B: (A[:, None, 0] - B[None, :, 0]) ** 2
     + (A[:, None, 1] - B[None, :, 1]) ** 2, "(7, 4)"),
    ("ex1", "expanded form without the 2", lambda A, B: (A**2).sum(1)[:, None] + (B**2).sum(1) - A @ B.T,
     "wrong values"),
    ("ex1", "summed over the wrong axis", lambda A, B: ((A[:, None] - B[None]) ** 2).sum(0), "expected (3, 4)"),
    ("ex1", "edits the caller's A", _distances_that_zero_a, "changed the array A"),
    ("ex2", "200 instead of 400", lambda w: np.array([-2 * (1 - w[0]) - 200 * w[0] * (w[1] - w[0] ** 2),
                                                     200 * (w[1] - w[0] ** 2)]), "df/dx"),
    ("ex2", "a forward difference", lambda w: np.array(
        [(check._rosenbrock(w + [1e-5, 0]) - check._rosenbrock(w)) / 1e-5,
         (check._rosenbrock(w + [0, 1e-5]) - check._rosenbrock(w)) / 1e-5]), "(0, 0)"),
    ("ex2", "the two entries swapped", lambda w: rosenbrock_grad(w)[::-1], "df/dy"),
    ("ex2", "100 instead of 200 in df/dy", lambda w: np.array([rosenbrock_grad(w)[0], 100 * (w[1] - w[0] ** 2)]),
     "df/dy"),
    ("ex3", "velocity updated after the position", _momentum_velocity_after_position, "momentum 0"),
    ("ex3", "velocity starting at the gradient", _momentum_velocity_starts_at_gradient, "wrong values"),
    ("ex3", "steps + 1 steps without the start",
     lambda g, x0, lr, m, s: check._momentum_path(g, x0, lr, m, s + 1)[1:], "first row"),
    ("ex3", "the path transposed", lambda *a: check._momentum_path(*a).T, "transpose"),
    ("ex4", "steps + 1 steps", lambda X, y, lr, s: check._regression(X, y, lr, s + 1), "steps=1"),
    ("ex4", "divides by the number of features", lambda X, y, lr, s: check._regression(X, y, lr, s,
                                                                                      divisor=X.shape[1]),
     "wrong values"),
    ("ex4", "starts from 1e-3 instead of zeros", lambda X, y, lr, s: check._regression(X, y, lr, s)
     + (1 - lr * 2 / len(y) * X.T @ X) @ np.full(X.shape[1], 1e-3) if s == 1 else
     check._regression(X, y, lr, s), "wrong values"),
    ("ex4", "edits the caller's X", _regression_that_centres_x, "changed the array X"),
]


@pytest.mark.parametrize("name, desc, answer, words", REVIEW_WRONG, ids=[f"{c[0]}-{c[1]}" for c in REVIEW_WRONG])
def test_review_wrong_answers_fail(capsys, name, desc, answer, words):
    passed, out = _run(capsys, name, answer)
    assert not passed, f"{desc} passed:\n{out}"
    assert words in out, out


REVIEW_RIGHT = [
    ("ex1", lambda A, B: np.maximum(check._pairwise_expanded(A, B), 0.0)),
    ("ex1", lambda A, B: np.einsum("ijk,ijk->ij", A[:, None] - B[None], A[:, None] - B[None])),
    ("ex2", lambda w: rosenbrock_grad(w)[:, None]),
    ("ex3", _momentum_sutskever_form),
    ("ex3", lambda *a: tuple(check._momentum_path(*a))),
    ("ex4", lambda X, y, lr, s: _mean_axis_regression(X, y, lr, s)),
    ("ex4", lambda X, y, lr, s: check._regression(X, y, lr, s)[None, :]),
]


def _mean_axis_regression(X, y, lr, steps):
    theta = np.zeros(X.shape[1])
    for _ in range(steps):
        theta = theta - lr * 2 * np.mean(X * (X @ theta - y)[:, None], axis=0)
    return theta


@pytest.mark.parametrize("name, answer", REVIEW_RIGHT, ids=[f"{c[0]}-{i}" for i, c in enumerate(REVIEW_RIGHT)])
def test_review_correct_answers_pass(capsys, name, answer):
    passed, out = _run(capsys, name, answer)
    assert passed, out

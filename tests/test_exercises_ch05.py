"""Direct tests of the chapter 05 checkers: the reference answers pass, odd answers fail kindly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from checker_helpers import SHARED_BAD, run_checker

from dlcore.autograd import Value
from dlcore.exercises import ch05 as check

# ---- reference solutions (the same as in exercises/solutions/05_backpropagation.ipynb) ----


def value_sigmoid(v):
    return 1 / (1 + (-v).exp())


def linear_backward(x, W, grad_out):
    return grad_out @ W, grad_out.T @ x, grad_out.sum(axis=0)


def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + eps
        f_plus = f(x)
        x[i] = original - eps
        f_minus = f(x)
        x[i] = original
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def mlp_gradients(x, t, W1, b1, W2, b2):
    h = np.tanh(x @ W1.T + b1)
    y = h @ W2.T + b2
    g = 2 * (y - t) / y.size
    dW2, db2 = g.T @ h, g.sum(axis=0)
    gz = (g @ W2) * (1 - h**2)
    return gz.T @ x, gz.sum(axis=0), dW2, db2


REFERENCE = {"ex1": value_sigmoid, "ex2": linear_backward, "ex3": numerical_gradient, "ex4": mlp_gradients}


def _run(capsys, name, answer):
    """Run checker ``name`` on ``answer``; return (passed, printed text)."""
    return run_checker(capsys, check, name, answer)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_solution_passes(capsys, name):
    passed, out = _run(capsys, name, REFERENCE[name])
    assert passed, out
    assert out.startswith("✓")


COMMON_BAD = SHARED_BAD + [
]


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("desc, answer, words", COMMON_BAD, ids=[c[0] for c in COMMON_BAD])
def test_odd_answers_fail_with_a_message(capsys, name, desc, answer, words):
    passed, out = _run(capsys, name, answer)
    assert passed is False, f"{name} accepted {desc}"
    assert out.startswith("✗") and words in out, out


@pytest.mark.parametrize("name, words", [("ex1", "return"), ("ex2", "three arrays"), ("ex3", "return"),
                                         ("ex4", "four arrays")])
def test_returning_none_is_explained(capsys, name, words):
    passed, out = _run(capsys, name, lambda *a: None)
    assert passed is False and words in out, out


def test_ex1_specific_feedback(capsys):
    cases = [
        (lambda v: 1 / (1 + math.exp(-v.data)), "not a Value"),
        (lambda v: v.sigmoid(), "built-in v.sigmoid()"),
        (lambda v: 1 / (1 + v.exp()), "minus sign"),
        (lambda v: Value(1 / (1 + math.exp(-v.data))), "not connected to v"),
        (lambda v: "0.5", "not a Value"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex1", answer)
        assert passed is False and words in out, out


def test_ex2_specific_feedback(capsys):
    cases = [
        (lambda x, W, g: (g @ W, x.T @ g, g.sum(axis=0)), "expected (2, 3)"),        # dW transposed
        (lambda x, W, g: (g @ W, g.T @ x, g.mean(axis=0)), "*mean*"),
        (lambda x, W, g: (g @ W, g.T @ x), "three arrays"),
        (lambda x, W, g: (g @ W, g.T @ x, g.sum(axis=1)), "expected (2,)"),
        (lambda x, W, g: (2 * g @ W, g.T @ x, g.sum(axis=0)), "dx = grad_out @ W"),
        (lambda x, W, g: (g @ W, g.T @ x, np.full(W.shape[0], np.nan)), "NaN"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex2", answer)
        assert passed is False and words in out, out


def test_ex3_specific_feedback(capsys):
    def forward_difference(f, x, eps=1e-6):
        grad = np.zeros_like(x)
        f0 = f(x)
        for i in np.ndindex(x.shape):
            original = x[i]
            x[i] = original + eps
            grad[i] = (f(x) - f0) / eps
            x[i] = original
        return grad

    def forgets_to_restore(f, x, eps=1e-6):
        grad = numerical_gradient(f, x.copy(), eps)
        x += eps
        return grad

    def ignores_eps(f, x, eps=1e-6):
        return numerical_gradient(f, x, 0.3)

    cases = [
        (forward_difference, "*forward* difference"),
        (forgets_to_restore, "changed x"),
        (lambda f, x, eps=1e-6: numerical_gradient(f, x, eps).ravel(), "expected (3, 2)"),
        (ignores_eps, "wrong values"),
        (lambda f, x, eps=1e-6: np.zeros_like(x), "wrong values"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex3", answer)
        assert passed is False and words in out, out


def test_ex4_specific_feedback(capsys):
    def half_loss_gradient(x, t, W1, b1, W2, b2):
        return tuple(0.5 * g for g in mlp_gradients(x, t, W1, b1, W2, b2))

    def no_tanh_slope(x, t, W1, b1, W2, b2):
        h = np.tanh(x @ W1.T + b1)
        y = h @ W2.T + b2
        g = 2 * (y - t) / y.size
        gz = g @ W2
        return gz.T @ x, gz.sum(axis=0), g.T @ h, g.sum(axis=0)

    def sum_not_mean(x, t, W1, b1, W2, b2):
        return tuple(g * t.size for g in mlp_gradients(x, t, W1, b1, W2, b2))

    cases = [
        (half_loss_gradient, "half the right value"),
        (no_tanh_slope, "slope of tanh"),
        (sum_not_mean, "y.size"),
        (lambda *a: tuple(g.T for g in mlp_gradients(*a)), "expected (4, 2)"),
        (lambda *a: mlp_gradients(*a)[:3], "four arrays"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex4", answer)
        assert passed is False and words in out, out


def test_checkers_do_not_let_the_answer_change_their_data(capsys):
    def vandal(x, W, g):
        result = linear_backward(x, W, g)
        x[:], W[:], g[:] = 0, 0, 0
        return result

    passed, out = _run(capsys, "ex2", vandal)
    assert passed, out                      # the checker passes copies, so vandalism changes nothing


def test_every_checker_is_registered():
    from dlcore.exercises import checkers_of

    assert checkers_of("ch05") == ["ex1", "ex2", "ex3", "ex4"]

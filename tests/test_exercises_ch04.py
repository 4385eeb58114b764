"""Direct tests of the chapter 04 checkers: the reference answers pass, odd answers fail kindly."""

from __future__ import annotations

import numpy as np
import pytest
from checker_helpers import SHARED_BAD, run_checker

from dlcore.exercises import ch04 as check

# ---- reference solutions (the same as in exercises/solutions/04_activations.ipynb) ----


def stable_sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def collapse(weights, biases):
    W = np.eye(weights[0].shape[1])
    b = np.zeros(weights[0].shape[1])
    for W_l, b_l in zip(weights, biases):
        W, b = W_l @ W, b @ W_l.T + b_l
    return W, b


def gradient_at_input(f, df, weights, x, upstream):
    zs, h = [], x
    for W in weights:
        zs.append(h @ W.T)
        h = f(zs[-1])
    g = upstream
    for W, z in zip(weights[::-1], zs[::-1]):
        g = (g * df(z)) @ W
    return g


REFERENCE = {"ex1": stable_sigmoid, "ex2": softmax, "ex3": collapse, "ex4": gradient_at_input}


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
    ("a function that returns text", lambda *a: "0.5", "should hold numbers"),
]


@pytest.mark.parametrize("name", ["ex1", "ex2", "ex4"])
@pytest.mark.parametrize("desc, answer, words", COMMON_BAD, ids=[c[0] for c in COMMON_BAD])
def test_odd_answers_fail_with_a_message(capsys, name, desc, answer, words):
    passed, out = _run(capsys, name, answer)
    assert passed is False, f"{name} accepted {desc}"
    assert out.startswith("✗") and words in out, out


@pytest.mark.parametrize("desc, answer, words", COMMON_BAD[:4] + [
    ("a function that returns None", lambda *a: None, "should return a pair (W, b), got NoneType"),
    ("a pair of texts", lambda *a: ("W", "b"), "should hold numbers"),
], ids=lambda c: c if isinstance(c, str) else "")
def test_ex3_odd_answers_fail_with_a_message(capsys, desc, answer, words):
    passed, out = _run(capsys, "ex3", answer)
    assert passed is False, f"ex3 accepted {desc}"
    assert out.startswith("✗") and words in out, out


def test_ex1_specific_feedback(capsys):
    naive = lambda z: 1 / (1 + np.exp(-z))                       # noqa: E731
    cases = [
        (naive, "overflow"),
        (lambda z: 1 / (1 + np.exp(z)), "sigmoid(-z)"),
        (lambda z: np.tanh(z), "wrong values"),
        (lambda z: stable_sigmoid(z).sum(), "expected (4,)"),
        (lambda z: stable_sigmoid(z) * np.nan, "NaN"),
        (lambda z: np.clip(stable_sigmoid(z), 1e-12, 1), "sigmoid(-50)"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex1", answer)
        assert passed is False and words in out, out
        assert "Hint:" in out


def test_ex2_specific_feedback(capsys):
    naive = lambda z: np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)   # noqa: E731
    cases = [
        (naive, "warning"),
        (lambda z: softmax(z.T).T, "*columns*"),
        (lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum(), "all the entries"),
        (lambda z: softmax(z)[:, :2], "expected (2, 3)"),
        (lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum(axis=-1, keepdims=True),
         "row's maximum"),
        (lambda z: np.full_like(z, np.nan), "NaN"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex2", answer)
        assert passed is False and words in out, out


def test_ex3_specific_feedback(capsys):
    def wrong_order(weights, biases):
        W, b = collapse(weights, biases)
        M = np.eye(weights[0].shape[1])
        for W_l in weights:
            M = M @ W_l.T
        return M, b

    def product_only(weights, biases):
        W, _ = collapse(weights, biases)
        return W, biases[-1]                                     # forgets the earlier biases

    cases = [
        (lambda w, b: collapse(w, b)[0], "pair (W, b)"),
        (lambda w, b: (collapse(w, b)[0].T, collapse(w, b)[1]), "(out, in)"),
        (wrong_order, "(out, in)"),
        (product_only, "multiplies the earlier biases"),
        (lambda w, b: (collapse(w, b)[0] * 2, collapse(w, b)[1]), "first layer acts first"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex3", answer)
        assert passed is False and words in out, out


def test_ex4_specific_feedback(capsys):
    def no_slopes(f, df, weights, x, upstream):
        return gradient_at_input(f, lambda z: np.ones_like(z), weights, x, upstream)

    def transposed(f, df, weights, x, upstream):
        zs, h = [], x
        for W in weights:
            zs.append(h @ W.T)
            h = f(zs[-1])
        g = upstream
        for W, z in zip(weights[::-1], zs[::-1]):
            g = (g * df(z)) @ W.T
        return g

    cases = [
        (no_slopes, "not by the slopes"),
        (transposed, "ValueError"),                                 # the shapes do not line up
        (lambda f, df, w, x, u: gradient_at_input(f, df, w, x, u)[:, :2], "the shape of x"),
        (lambda f, df, w, x, u: 2 * gradient_at_input(f, df, w, x, u), "wrong values"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex4", answer)
        assert passed is False and words in out, out


def test_checkers_do_not_let_the_answer_change_their_data(capsys):
    def vandal(weights, biases):
        for W in weights:
            W[:] = 0
        return collapse(weights, biases)

    _run(capsys, "ex3", vandal)
    passed, out = _run(capsys, "ex3", collapse)
    assert passed, out


def test_every_checker_is_registered():
    from dlcore.exercises import checkers_of

    assert checkers_of("ch04") == ["ex1", "ex2", "ex3", "ex4"]

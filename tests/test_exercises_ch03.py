"""Direct tests of the chapter 03 checkers: the reference answers pass, odd answers fail kindly."""

from __future__ import annotations

import numpy as np
import pytest
from checker_helpers import SHARED_BAD, run_checker

from dlcore.exercises import ch03 as check

# ---- reference solutions (the same as in exercises/solutions/03_perceptron.ipynb) ----


def signed_distance(w, b, X):
    return (X @ w + b) / np.linalg.norm(w)


def perceptron_epoch(w, b, X, y, lr):
    mistakes = 0
    for x_i, y_i in zip(X, y):
        error = y_i - int(x_i @ w + b > 0)
        if error:
            w, b, mistakes = w + lr * error * x_i, b + lr * error, mistakes + 1
    return w, b, mistakes


def stable_bce(z, y):
    return np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))


def xor_features(X):
    return np.column_stack([X[:, 0], X[:, 1], X[:, 0] * X[:, 1]])


REFERENCE = {"ex1": signed_distance, "ex2": perceptron_epoch, "ex3": stable_bce, "ex4": xor_features}


def _run(capsys, name, answer):
    """Run checker ``name`` on ``answer``; return (passed, printed text)."""
    return run_checker(capsys, check, name, answer)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_solution_passes(capsys, name):
    passed, out = _run(capsys, name, REFERENCE[name])
    assert passed, out
    assert out.startswith("✓")


COMMON_BAD = SHARED_BAD + [
    ("a function that returns None", lambda *a: None, "None"),
    ("a function that returns text", lambda *a: "abc", "str"),
    ("a function with the wrong arguments", lambda: 0, "TypeError"),
]


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("desc, answer, words", COMMON_BAD, ids=[c[0] for c in COMMON_BAD])
def test_odd_answers_fail_with_a_message(capsys, name, desc, answer, words):
    passed, out = _run(capsys, name, answer)
    assert passed is False, f"{name} accepted {desc}"
    assert out.startswith("✗") and words in out, out


@pytest.mark.parametrize("name", ["ex1", "ex3", "ex4"])
def test_nan_answers_fail(capsys, name):
    passed, out = _run(capsys, name, lambda *a: np.full((4, 3), np.nan) if name == "ex4" else
                       (np.full(4, np.nan) if name == "ex1" else np.nan))
    assert passed is False and "NaN" in out, out


def _assert_feedback(capsys, name, cases):
    for answer, words in cases:
        passed, out = _run(capsys, name, answer)
        assert passed is False and words in out, out
        assert "Hint:" in out, out


def test_ex1_specific_feedback(capsys):
    _assert_feedback(capsys, "ex1", [
        (lambda w, b, X: X @ w + b, "not distances"),
        (lambda w, b, X: (X @ w + b) / (w @ w), "|w|^2"),
        (lambda w, b, X: np.abs(signed_distance(w, b, X)), "without their sign"),
        (lambda w, b, X: -signed_distance(w, b, X), "wrong way round"),
        (lambda w, b, X: signed_distance(w, b, X)[:, None], "expected (4,)"),
        (lambda w, b, X: (X @ w) / np.linalg.norm(w), "wrong values"),          # forgets b
    ])


def test_ex2_specific_feedback(capsys):
    def greedy(w, b, X, y, lr):              # predicts 1 at z = 0
        mistakes = 0
        for x_i, y_i in zip(X, y):
            error = y_i - int(x_i @ w + b >= 0)
            if error:
                w, b, mistakes = w + lr * error * x_i, b + lr * error, mistakes + 1
        return w, b, mistakes

    def batch(w, b, X, y, lr):               # all predictions from the start weights
        errors = y - (X @ w + b > 0).astype(int)
        return w + lr * errors @ X, b + lr * errors.sum(), int(np.count_nonzero(errors))

    def in_place(w, b, X, y, lr):
        new_w, new_b, m = perceptron_epoch(w, b, X, y, lr)
        w += 0.0 * w + 1.0
        return new_w, new_b, m

    def no_lr(w, b, X, y, lr):
        return perceptron_epoch(w, b, X, y, 1.0)

    def from_zero(w, b, X, y, lr):
        return perceptron_epoch(np.zeros_like(w), 0.0, X, y, lr)

    _assert_feedback(capsys, "ex2", [
        (greedy, "predicts 1 when w . x + b = 0"),
        (batch, "updates once"),
        (in_place, "changed the array w"),
        (no_lr, "ignores the learning rate"),
        (from_zero, "not from zeros"),
        (lambda w, b, X, y, lr: perceptron_epoch(w, b, X, y, lr)[:2], "three things"),
        (lambda w, b, X, y, lr: (*perceptron_epoch(w, b, X, y, lr)[:2], 0), "mistakes, expected 3"),
    ])


def test_ex3_specific_feedback(capsys):
    def naive(z, y):
        p = 1 / (1 + np.exp(-z))
        return np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))

    _assert_feedback(capsys, "ex3", [
        (naive, "overflowed"),
        (lambda z, y: len(z) * stable_bce(z, y), "the sum over the examples"),
        (lambda z, y: stable_bce(z, 1 - y), "swaps the roles"),
        (lambda z, y: np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))), "one number"),
        (lambda z, y: stable_bce(z, y) + 0.1, "wrong values"),
    ])


def test_ex4_specific_feedback(capsys):
    _assert_feedback(capsys, "ex4", [
        (lambda X: X.copy(), "returns the inputs unchanged"),
        (lambda X: X[:, 0] * X[:, 1], "needs two axes"),
        (lambda X: np.column_stack([X, X.sum(axis=1)]), "reaches only"),
        (lambda X: xor_features(X)[:-1], "expected (4, any)"),
    ])
    passed, out = _run(capsys, "ex4", lambda X: np.column_stack([X, (X[:, 0] - X[:, 1]) ** 2]))
    assert passed, out                       # any feature that separates XOR is accepted


def test_every_checker_is_registered():
    from dlcore.exercises import checkers_of

    assert checkers_of("ch03") == ["ex1", "ex2", "ex3", "ex4"]


# ---- issue 10: reference answers, correct rewrites, and the named wrong variants ----------------


# The module's REFERENCE_ANSWERS and CORRECT_REWRITES are run through the checker by
# tests/test_checker_battery.py::test_correct_answers_pass, for every chapter.


def test_ex2_the_plus_minus_one_rule_is_explained(capsys):
    def signed_rule(w, b, X, y, lr):            # the convergence proof's rule: s z <= 0 is a mistake
        mistakes = 0
        for x_i, y_i in zip(X, y):
            s = 2 * y_i - 1
            if s * (x_i @ w + b) <= 0:
                w, b, mistakes = w + lr * s * x_i, b + lr * s, mistakes + 1
        return w, b, mistakes

    passed, out = _run(capsys, "ex2", signed_rule)
    assert passed is False and "+-1-label rule" in out and "Hint:" in out, out
    assert "predicts 1 when" not in out


@pytest.mark.parametrize("divisor", [4, 5, 6, 8])
def test_ex3_a_fixed_divisor_fails(capsys, divisor):
    def fixed(z, y):
        return np.sum(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))) / divisor

    passed, out = _run(capsys, "ex3", fixed)
    assert passed is False and f"divided by {divisor}" in out, out


def test_checkers_work_under_seterr_raise(capsys):
    old = np.seterr(all="raise")
    try:
        for name, answer in check.REFERENCE_ANSWERS.items():
            passed, out = _run(capsys, name, answer)
            assert passed, out
        passed, out = _run(capsys, "ex3", stable_bce)
        assert passed, out
    finally:
        np.seterr(**old)


# ---- cases from the strict review (wrong answers the first tests did not try) ------------------


def _distance_normalising_w_in_place(w, b, X):
    n = np.linalg.norm(w)
    w /= n                                                # right values, but the caller's w changes
    return X @ w + b / n


def _epoch_shuffled(w, b, X, y, lr):
    order = np.random.default_rng(0).permutation(len(y))
    return perceptron_epoch(w, b, X[order], y[order], lr)


def _epoch_counts_after(w, b, X, y, lr):
    w2, b2, _ = perceptron_epoch(w, b, X, y, lr)
    return w2, b2, int(np.sum(((X @ w2 + b2) > 0).astype(int) != y))


def _epoch_lr_on_w_only(w, b, X, y, lr):
    mistakes = 0
    for x_i, y_i in zip(X, y):
        error = y_i - int(x_i @ w + b > 0)
        if error:
            w, b, mistakes = w + lr * error * x_i, b + error, mistakes + 1
    return w, b, mistakes


def _epoch_zeroing_x(w, b, X, y, lr):
    out = perceptron_epoch(w, b, X, y, lr)
    X *= 0
    return out


def _bce_clipped_naive(z, y):
    p = np.clip(1 / (1 + np.exp(-z)), 1e-15, 1 - 1e-15)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def _bce_piecewise(z, y):
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = z[pos] * (1 - y[pos]) + np.log1p(np.exp(-z[pos]))
    out[~pos] = -z[~pos] * y[~pos] + np.log1p(np.exp(z[~pos]))
    return out.mean()


REVIEW_WRONG = [
    ("ex1", "divides by a hard-coded 5", lambda w, b, X: (X @ w + b) / 5, "(6, 5)"),
    ("ex1", "the norm includes b", lambda w, b, X: (X @ w + b) / np.linalg.norm(np.r_[w, b]), "wrong values"),
    ("ex1", "the L1 norm", lambda w, b, X: (X @ w + b) / np.abs(w).sum(), "wrong values"),
    ("ex1", "b not divided", lambda w, b, X: X @ w / np.linalg.norm(w) + b, "wrong values"),
    ("ex1", "a (1, N) row", lambda w, b, X: signed_distance(w, b, X)[None, :], "(1, 4)"),
    ("ex1", "normalises the caller's w", _distance_normalising_w_in_place, "changed the array w"),
    ("ex2", "a shuffled order", _epoch_shuffled, "predicts 1"),
    ("ex2", "mistakes counted after the pass", _epoch_counts_after, "mistakes, expected"),
    ("ex2", "lr applied to w only", _epoch_lr_on_w_only, "wrong values"),
    ("ex2", "the last example skipped", lambda w, b, X, y, lr: perceptron_epoch(w, b, X[:-1], y[:-1], lr),
     "expected w ="),
    ("ex2", "two passes", lambda w, b, X, y, lr: perceptron_epoch(*perceptron_epoch(w, b, X, y, lr)[:2], X, y, lr),
     "mistakes, expected"),
    ("ex2", "zeroes the caller's X", _epoch_zeroing_x, "changed the array X"),
    ("ex3", "a clipped naive sigmoid", _bce_clipped_naive, "+-1000"),
    ("ex3", "exp(-z) without the absolute value",
     lambda z, y: np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-z))), "wrong values"),
    ("ex3", "min instead of max",
     lambda z, y: np.mean(np.minimum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))), "wrong values"),
    ("ex3", "float16", lambda z, y: np.float16(stable_bce(z, y)), "float16"),
    ("ex4", "the product alone", lambda X: (X[:, 0] * X[:, 1])[:, None], "75%"),
    ("ex4", "features transposed", lambda X: xor_features(X).T, "expected (4, any)"),
    ("ex4", "a fixed table for the corners", lambda X: np.array([[0, 0, 0], [0, 1, 0], [1, 0, 0], [1, 1, 1.0]]),
     "expected (100, any)"),
    ("ex4", "the sum alone", lambda X: X.sum(axis=1, keepdims=True), "25%"),
]


@pytest.mark.parametrize("name, desc, answer, words", REVIEW_WRONG, ids=[f"{c[0]}-{c[1]}" for c in REVIEW_WRONG])
def test_review_wrong_answers_fail(capsys, name, desc, answer, words):
    passed, out = _run(capsys, name, answer)
    assert not passed, f"{desc} passed:\n{out}"
    assert words in out, out


REVIEW_RIGHT = [
    ("ex1", lambda w, b, X: list(signed_distance(w, b, X))),
    ("ex2", lambda *a: np.array(perceptron_epoch(*a), dtype=object)),   # an ndarray for the tuple
    ("ex3", lambda z, y: np.mean(np.maximum(z, 0) - z * y + np.log(1 + np.exp(-np.abs(z))))),
    ("ex3", _bce_piecewise),
    ("ex3", lambda z, y: np.float32(stable_bce(z, y))),
    ("ex4", lambda X: np.abs(X[:, :1] - X[:, 1:])),
    ("ex4", lambda X: xor_features(X).astype(np.float32)),
]


@pytest.mark.parametrize("name, answer", REVIEW_RIGHT, ids=[f"{c[0]}-{i}" for i, c in enumerate(REVIEW_RIGHT)])
def test_review_correct_answers_pass(capsys, name, answer):
    passed, out = _run(capsys, name, answer)
    assert passed, out

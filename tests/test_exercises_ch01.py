"""Direct tests of the chapter 01 checkers: the reference answers pass, odd answers fail kindly."""

from __future__ import annotations

import numpy as np
import pytest
from checker_helpers import SHARED_BAD, run_checker

from dlcore.exercises import ch01 as check

# ---- reference solutions (the same as in exercises/solutions/01_introduction.ipynb) ----


def accuracy(predictions, labels):
    return float(np.mean(predictions == labels))


def class_means(X, y, num_classes):
    return np.stack([X[y == k].mean(axis=0) for k in range(num_classes)])


def zero_or_one(images):
    centre = images[:, 0, 2:6, 3:5].mean(axis=(1, 2))
    return (centre > 0.5).astype(int)


REFERENCE = {"ex1": accuracy, "ex2": class_means, "ex3": zero_or_one}


def _run(capsys, name, answer):
    """Run checker ``name`` on ``answer``; return (passed, printed text)."""
    return run_checker(capsys, check, name, answer)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_solution_passes(capsys, name):
    passed, out = _run(capsys, name, REFERENCE[name])
    assert passed, out
    assert out.startswith("✓")


# Odd answers every checker must survive: (description, answer, words the message must contain).
COMMON_BAD = SHARED_BAD + [
    ("a function that returns None", lambda *a: None, "Did you forget a `return`"),
    ("a function that returns text", lambda *a: "0.75", "should hold numbers"),
]


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("desc, answer, words", COMMON_BAD, ids=[c[0] for c in COMMON_BAD])
def test_odd_answers_fail_with_a_message(capsys, name, desc, answer, words):
    passed, out = _run(capsys, name, answer)
    assert passed is False, f"{name} accepted {desc}"
    assert out.startswith("✗") and words in out, out


def test_ex1_specific_feedback(capsys):
    cases = [
        (lambda p, l: float("nan"), "NaN"),
        (lambda p, l: np.sum(p == l), "number of correct predictions"),
        (lambda p, l: 100 * np.mean(p == l), "a percentage"),
        (lambda p, l: np.mean(p != l), "*wrong* predictions"),
        (lambda p, l: p == l, "should be one number"),
        (lambda p, l: 0.75, "accuracy on 200 random labels"),       # hard-coded answer
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex1", answer)
        assert passed is False and words in out, out
        assert "Hint:" in out


def test_ex2_specific_feedback(capsys):
    cases = [
        (lambda X, y, k: class_means(X, y, k).T, "shape (2, 3), expected (3, 2)"),
        (lambda X, y, k: class_means(X, y, k)[:, :1], "has shape (3, 1), expected (3, 2)"),
        (lambda X, y, k: class_means(X, y, k).astype(int), "dtype int"),
        (lambda X, y, k: np.stack([X[y == c].sum(axis=0) for c in range(k)]), "*sums*"),
        (lambda X, y, k: np.full((k, X.shape[1]), np.nan), "NaN"),
        (lambda X, y, k: np.tile(X.mean(axis=0), (k, 1)), "wrong values"),
        (lambda X, y, k: class_means(X, y, 3), "shape (3, 64), expected (4, 64): one row per class"),  # ignores num_classes
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex2", answer)
        assert passed is False and words in out, out


def test_ex3_specific_feedback(capsys):
    cases = [
        (lambda images: np.zeros(len(images), dtype=int), "the target is 90%"),
        (lambda images: 1 - zero_or_one(images), "calls 178 of the 178 zeros a 1"),
        (lambda images: np.full(len(images), 2), "only 0s and 1s"),
        (lambda images: zero_or_one(images)[:10], "expected (360,)"),
        (lambda images: zero_or_one(images)[:, None], "expected (360,)"),
        (lambda images: np.full(len(images), np.nan), "NaN"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex3", answer)
        assert passed is False and words in out, out


def test_checkers_do_not_let_the_answer_change_their_data(capsys):
    def vandal(images):
        images[:] = 0
        return zero_or_one(images)

    _run(capsys, "ex3", vandal)
    passed, out = _run(capsys, "ex3", zero_or_one)
    assert passed, out


def test_every_checker_is_registered():
    from dlcore.exercises import checkers_of

    assert checkers_of("ch01") == ["ex1", "ex2", "ex3"]


# ---- issue 10: reference answers, correct rewrites, and the named wrong variants ----------------


# The module's REFERENCE_ANSWERS and CORRECT_REWRITES are run through the checker by
# tests/test_checker_battery.py::test_correct_answers_pass, for every chapter.


def test_ex2_empty_class_names_the_empty_selection(capsys):
    def off_by_one(X, y, k):                       # classes 1..K: class K is empty
        return np.stack([X[y == c].mean(axis=0) for c in range(1, k + 1)])

    passed, out = _run(capsys, "ex2", off_by_one)
    assert passed is False
    assert "row(s) [2] contain NaN" in out and "empty selection" in out, out
    assert "log of zero" not in out


def test_checkers_work_under_seterr_raise(capsys):
    old = np.seterr(all="raise")
    try:
        for name, answer in check.REFERENCE_ANSWERS.items():
            passed, out = _run(capsys, name, answer)
            assert passed, out
    finally:
        np.seterr(**old)


def test_ex3_a_memoised_rule_fails(capsys):
    remembered = {}

    def memo(images):                          # answers the first call's result for ever after
        if "first" not in remembered:
            remembered["first"] = zero_or_one(images)
        return remembered["first"]

    passed, out = _run(capsys, "ex3", memo)
    assert passed is False and "expected (150,)" in out, out


# ---- cases from the strict review (wrong answers the first tests did not try) ------------------


def _class_means_that_zero_x(X, y, num_classes):
    out = np.stack([X[y == k].mean(axis=0) for k in range(num_classes)])
    X[:] = 0                                              # right values, but the caller's X is gone
    return out


def _class_means_one_row_reused(X, y, num_classes):
    row, rows = np.zeros(X.shape[1]), []
    for k in range(num_classes):
        row[:] = X[y == k].mean(axis=0)
        rows.append(row)                                  # the same array K times
    return np.array(rows)


REVIEW_WRONG = [
    ("ex1", "divides by a hard-coded 4", lambda p, t: (p == t).sum() / 4, "200 random labels"),
    ("ex1", "compares sorted arrays", lambda p, t: np.mean(np.sort(p) == np.sort(t)), "200 random labels"),
    ("ex1", "broadcasts (N, 1) against (N,)", lambda p, t: np.mean(p[:, None] == t), "expected 0.75"),
    ("ex1", "drops the first example", lambda p, t: np.mean(p[1:] == t[1:]), "expected 0.75"),
    ("ex1", "float16", lambda p, t: np.mean(p == t, dtype=np.float16), "float16"),
    ("ex2", "median instead of mean",
     lambda X, y, k: np.stack([np.median(X[y == c], axis=0) for c in range(k)]), "(60, 64)"),
    ("ex2", "one row array appended K times", _class_means_one_row_reused, "wrong values"),
    ("ex2", "edits the caller's X", _class_means_that_zero_x, "changed the array X"),
    ("ex2", "range(num_classes - 1)",
     lambda X, y, k: np.stack([X[y == c].mean(axis=0) for c in range(k - 1)]), "one row per class"),
    ("ex2", "float16", lambda X, y, k: class_means(X, y, k).astype(np.float16), "float16"),
    ("ex2", "divides by count + 1",
     lambda X, y, k: np.stack([X[y == c].sum(0) / (np.sum(y == c) + 1) for c in range(k)]), "wrong values"),
    ("ex3", "the batch median as threshold",
     lambda im: (im[:, 0, 2:6, 3:5].mean((1, 2)) > np.median(im[:, 0, 2:6, 3:5].mean((1, 2)))).astype(int),
     "differs from its answers"),
    ("ex3", "+-1 labels", lambda im: 2 * zero_or_one(im) - 1, "only 0s and 1s"),
    ("ex3", "an (N, 1) column", lambda im: zero_or_one(im)[:, None], "expected (360,)"),
    ("ex3", "scores, not decisions", lambda im: im[:, 0, 2:6, 3:5].mean((1, 2)), "only 0s and 1s"),
]


@pytest.mark.parametrize("name, desc, answer, words", REVIEW_WRONG, ids=[f"{c[0]}-{c[1]}" for c in REVIEW_WRONG])
def test_review_wrong_answers_fail(capsys, name, desc, answer, words):
    passed, out = _run(capsys, name, answer)
    assert not passed, f"{desc} passed:\n{out}"
    assert words in out, out


REVIEW_RIGHT = [
    ("ex1", lambda p, t: np.array([np.mean(p == t)])),
    ("ex2", lambda X, y, k: np.stack([np.bincount(y, weights=X[:, d], minlength=k) for d in range(X.shape[1])],
                                     axis=1) / np.bincount(y, minlength=k)[:, None]),
    ("ex2", lambda X, y, k: class_means(X.astype(np.float32), y, k)),
    ("ex3", lambda im: im[:, 0, 2:6, 3:5].mean((1, 2)) > 0.5),
]


@pytest.mark.parametrize("name, answer", REVIEW_RIGHT, ids=[f"{c[0]}-{i}" for i, c in enumerate(REVIEW_RIGHT)])
def test_review_correct_answers_pass(capsys, name, answer):
    passed, out = _run(capsys, name, answer)
    assert passed, out

"""Direct tests of the chapter 04 checkers: the reference answers pass, odd answers fail kindly."""

from __future__ import annotations

import math

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


def test_module_reference_answers_match_these():
    assert set(check.REFERENCE_ANSWERS) == set(REFERENCE) == set(check.CORRECT_REWRITES)


def _run(capsys, name, answer):
    """Run checker ``name`` on ``answer``; return (passed, printed text)."""
    return run_checker(capsys, check, name, answer)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_solution_passes(capsys, name):
    passed, out = _run(capsys, name, REFERENCE[name])
    assert passed, out
    assert out.startswith("✓")
    passed, out = _run(capsys, name, check.REFERENCE_ANSWERS[name])
    assert passed, out


REWRITES = [(name, answer) for name, answers in check.CORRECT_REWRITES.items() for answer in answers]


@pytest.mark.parametrize("name, answer", REWRITES, ids=[f"{n}-{a.__name__}" for n, a in REWRITES])
def test_correct_rewrites_pass(capsys, name, answer):
    passed, out = _run(capsys, name, answer)
    assert passed, out


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_checkers_work_under_seterr_raise(capsys, name):
    old = np.seterr(all="raise")
    try:
        passed, out = _run(capsys, name, REFERENCE[name])
    finally:
        np.seterr(**old)
    assert passed, out


def _float32(fn):
    def answer(*args):
        result = fn(*args)
        if isinstance(result, tuple):
            return tuple(np.asarray(r, dtype=np.float32) for r in result)
        return np.asarray(result, dtype=np.float32)
    return answer


def _float16(fn):
    def answer(*args):
        result = fn(*args)
        if isinstance(result, tuple):
            return tuple(np.asarray(r, dtype=np.float16) for r in result)
        return np.asarray(result, dtype=np.float16)
    return answer


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_float32_answers_pass_and_float16_answers_fail(capsys, name):
    passed, out = _run(capsys, name, _float32(REFERENCE[name]))
    assert passed, out
    passed, out = _run(capsys, name, _float16(REFERENCE[name]))
    assert passed is False and "float16" in out, out


def test_ex1_accepts_the_chapter_tanh_identity(capsys):
    passed, out = _run(capsys, "ex1", lambda z: 0.5 * (1 + np.tanh(z / 2)))
    assert passed, out


def _naive_in_errstate(z):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))


@np.errstate(over="ignore", invalid="ignore")
def _naive_decorated(z):
    return 1 / (1 + np.exp(-z))


def _naive_warnings_ignored(z):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return 1 / (1 + np.exp(-z))


def _naive_seterr(z):
    old = np.seterr(over="ignore")
    try:
        return 1 / (1 + np.exp(-z))
    finally:
        np.seterr(**old)


def _where_both_branches_silenced(z):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(z >= 0, 1 / (1 + np.exp(-z)), np.exp(z) / (1 + np.exp(z)))


@pytest.mark.parametrize("answer", [_naive_in_errstate, _naive_decorated, _naive_warnings_ignored, _naive_seterr,
                                    _where_both_branches_silenced])
def test_ex1_rejects_a_silenced_overflow(capsys, answer):
    passed, out = _run(capsys, "ex1", answer)
    assert passed is False and "silences NumPy's warnings" in out, out


def test_ex2_rejects_a_silenced_overflow(capsys):
    def naive(z):
        with np.errstate(over="ignore", invalid="ignore"):
            return np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)

    passed, out = _run(capsys, "ex2", naive)
    assert passed is False and "silences" in out, out


def test_hard_coded_or_memoised_answers_fail(capsys):
    first = {}

    def memo(z):                                                 # remembers its first answer
        first.setdefault("v", stable_sigmoid(z))
        return first["v"] if first["v"].shape == np.shape(z) else stable_sigmoid(z)

    passed, out = _run(capsys, "ex1", lambda z: np.array([0.119203, 0.5, 0.622459, 0.952574]))
    assert passed is False, out
    passed, out = _run(capsys, "ex2", lambda z: softmax(np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]])))
    assert passed is False, out

    def tanh_only(f, df, weights, x, upstream):                  # ignores the df it is given
        return gradient_at_input(f, lambda z: 1 - np.tanh(z) ** 2, weights, x, upstream)

    passed, out = _run(capsys, "ex4", tanh_only)
    assert passed is False and "wrong values" in out, out

    def square_only(weights, biases):                            # identity sized by the last layer
        W = np.eye(weights[-1].shape[0])
        b = np.zeros(weights[-1].shape[0])
        for W_l, b_l in zip(weights, biases):
            W, b = W_l @ W, b @ W_l.T + b_l
        return W, b

    passed, out = _run(capsys, "ex3", square_only)
    assert passed is False, out


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
        (lambda z: np.clip(stable_sigmoid(z), 1e-14, 1 - 1e-14), "no clipping"),
        (lambda z: z, "wrong values"),
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


# ---- reviewer's additions: silencing that bypasses simplefilter, and what must still pass -------

def _naive_catch_warnings_action(z):
    import warnings

    with warnings.catch_warnings(action="ignore"):        # Python 3.11: simplefilter called inside
        return 1 / (1 + np.exp(-z))


def _naive_filters_edited(z):
    import warnings

    saved = warnings.filters[:]
    warnings.filters.insert(0, ("ignore", None, RuntimeWarning, None, 0))
    try:
        return 1 / (1 + np.exp(-z))
    finally:
        warnings.filters[:] = saved


def _clipped_at_500(z):                                    # still overflows in float32
    return 1 / (1 + np.exp(-np.clip(z, -500, 500)))


def _clipped_at_30(z):                                     # no overflow, but wrong values beyond 30
    return 1 / (1 + np.exp(-np.clip(z, -30, 30)))


@pytest.mark.parametrize("answer, words", [
    (_naive_catch_warnings_action, "catch_warnings(action='ignore')"),
    (_naive_filters_edited, "overflow encountered"),
    (_clipped_at_500, "overflow encountered"),
    (_clipped_at_30, "wrong values"),
    (lambda z: stable_sigmoid(z).astype(np.float16), "float16"),
])
def test_ex1_rejects_other_ways_round_the_overflow(capsys, answer, words):
    passed, out = _run(capsys, "ex1", answer)
    assert passed is False and words in out, out


def _math_loop(z):
    z = np.asarray(z)
    out = np.empty(z.shape, dtype=z.dtype)
    for i, v in np.ndenumerate(z):
        out[i] = 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))
    return out


def _scipy_expit(z):
    from scipy.special import expit

    return expit(z)


@pytest.mark.parametrize("answer", [_math_loop, _scipy_expit])
def test_ex1_accepts_other_stable_forms(capsys, answer):
    passed, out = _run(capsys, "ex1", answer)
    assert passed, out


def test_ex2_rejects_a_global_or_row_minimum_shift(capsys):
    def global_max(z):
        e = np.exp(z - z.max())
        return e / e.sum(axis=-1, keepdims=True)

    def row_min(z):
        e = np.exp(z - z.min(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    for answer in (global_max, row_min):
        passed, out = _run(capsys, "ex2", answer)
        assert passed is False and "encountered" in out, out

"""Direct tests of the chapter 06 checkers: the reference answers pass, odd answers fail kindly."""

from __future__ import annotations

import numpy as np
import pytest
from checker_helpers import SHARED_BAD, run_checker

from dlcore.exercises import ch06 as check

# ---- reference solutions (the same as in exercises/solutions/06_training.ipynb) ----


def bce_with_logits(z, y):
    loss = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    e = np.exp(-np.abs(z))
    sigmoid = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    return loss, (sigmoid - y) / len(z)


def adam_step(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def xavier_uniform(fan_in, fan_out, rng):
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=(fan_out, fan_in))


REFERENCE = {"ex1": bce_with_logits, "ex2": adam_step, "ex3": xavier_uniform}


def _run(capsys, name, answer):
    """Run checker ``name`` on ``answer``; return (passed, printed text)."""
    return run_checker(capsys, check, name, answer)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_solution_passes(capsys, name):
    passed, out = _run(capsys, name, REFERENCE[name])
    assert passed, out
    assert out.startswith("✓")


COMMON_BAD = SHARED_BAD + [
    ("a function that returns None", lambda *a, **k: None, "forget a `return`"),
    ("a function that returns text", lambda *a, **k: "0.75", "str"),
    ("a function with the wrong arguments", lambda: 1, "TypeError"),
]


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("desc, answer, words", COMMON_BAD, ids=[c[0] for c in COMMON_BAD])
def test_odd_answers_fail_with_a_message(capsys, name, desc, answer, words):
    passed, out = _run(capsys, name, answer)
    assert passed is False, f"{name} accepted {desc}"
    assert out.startswith("✗") and words in out, out


def _naive_bce(z, y):
    p = 1 / (1 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)), (p - y) / len(z)


def test_ex1_specific_feedback(capsys):
    def loss_only(z, y):
        return bce_with_logits(z, y)[0]

    cases = [
        (loss_only, "should return a tuple (loss, grad)"),
        (lambda z, y: (bce_with_logits(z, y)[0] * len(y), bce_with_logits(z, y)[1]), "*sum*"),
        (lambda z, y: (-bce_with_logits(z, y)[0], bce_with_logits(z, y)[1]), "positive"),
        (lambda z, y: (np.full(len(y), bce_with_logits(z, y)[0]), bce_with_logits(z, y)[1]), "one number"),
        (lambda z, y: (bce_with_logits(z, y)[0], bce_with_logits(z, y)[1] * len(y)), "N = 4 times too large"),
        (lambda z, y: (bce_with_logits(z, y)[0], -bce_with_logits(z, y)[1]), "wrong sign"),
        (lambda z, y: (bce_with_logits(z, y)[0], bce_with_logits(z, y)[1][:, None]), "shape (4, 1), expected (4,)"),
        (lambda z, y: (bce_with_logits(z, y)[0], np.full(z.shape, np.nan)), "NaN"),
        (lambda z, y: (bce_with_logits(z, 1 - y)[0], bce_with_logits(z, y)[1]), "wrong values"),
        (_naive_bce, "overflowed"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex1", answer)
        assert passed is False and words in out, out
        assert "Hint:" in out


def test_ex2_specific_feedback(capsys):
    def no_correction(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        return p - lr * m / (np.sqrt(v) + eps), m, v

    def t_plus_one(p, g, m, v, t, **kw):
        return adam_step(p, g, m, v, t + 1, **kw)

    def v_not_squared(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * np.abs(g)
        return p - lr * m / (1 - beta1**t) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v

    def eps_inside(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        return p - lr * (m / (1 - beta1**t)) / np.sqrt(v / (1 - beta2**t) + 0.1), m, v

    cases = [
        (no_correction, "without the bias correction"),
        (t_plus_one, "t + 1"),
        (v_not_squared, "*squared* gradients"),
        (lambda *a, **k: adam_step(*a, **k)[0], "should return a tuple (p_new, m_new, v_new)"),
        (lambda *a, **k: adam_step(*a, **k)[::-1], "wrong values"),
        (eps_inside, "move by about lr"),
        (lambda p, g, m, v, t, **k: (p - k["lr"] * g, m, v), "m returned"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex2", answer)
        assert passed is False and words in out, out


def test_ex3_specific_feedback(capsys):
    def b(i, o):
        return np.sqrt(6 / (i + o))

    cases = [
        (lambda i, o, rng: xavier_uniform(i, o, rng).T, "the transpose"),
        (lambda i, o, rng: rng.uniform(-np.sqrt(6 / i), np.sqrt(6 / i), size=(o, i)), "He"),
        (lambda i, o, rng: rng.uniform(-np.sqrt(2 / (i + o)), np.sqrt(2 / (i + o)), size=(o, i)),
         "not the bound"),
        (lambda i, o, rng: rng.normal(0, np.sqrt(2 / (i + o)), size=(o, i)), "beyond the bound"),
        (lambda i, o, rng: rng.uniform(-b(i, o), b(i, o), size=(o, i)) + 0.02, "mean"),
        (lambda i, o, rng: rng.uniform(0, 2 * b(i, o), size=(o, i)), "mean"),
        (lambda i, o, rng: rng.uniform(-2 * b(i, o), 2 * b(i, o), size=(o, i)), "standard deviation"),
        (lambda i, o, rng: np.full((o, i), b(i, o)), "distinct values"),
        (lambda i, o, rng: np.random.default_rng().uniform(-b(i, o), b(i, o), size=(o, i)), "seeded alike"),
        (lambda i, o, rng: np.random.default_rng(0).uniform(-b(i, o), b(i, o), size=(o, i)),
         "whatever the generator"),
        (lambda i, o, rng: rng.uniform(-b(i, o), b(i, o), size=(400, 800)), "expected (5, 2)"),
        (lambda i, o, rng: (rng.uniform(-b(i, o), b(i, o), size=(o, i)) > 0).astype(int), "dtype int64"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex3", answer)
        assert passed is False and words in out, out


def test_checkers_do_not_let_the_answer_change_their_data(capsys):
    def vandal(p, g, m, v, t, **kw):
        g[...] = 0
        return adam_step(p, g, m, v, t, **kw)

    passed, _ = _run(capsys, "ex2", vandal)
    passed, out = _run(capsys, "ex2", adam_step)
    assert passed, out


def test_every_checker_is_registered():
    from dlcore.exercises import checkers_of

    assert checkers_of("ch06") == ["ex1", "ex2", "ex3"]

"""Direct tests of the chapter 06 checkers: correct answers pass, wrong ones fail with a message
naming the mistake, odd answers fail kindly."""

from __future__ import annotations

import numpy as np
import pytest
from checker_helpers import SHARED_BAD, run_checker

from dlcore.exercises import ch06 as check

# ---- reference solutions (the same as in exercises/solutions/06_training.ipynb) ----


def adam_step(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def xavier_uniform(fan_in, fan_out, rng):
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=(fan_out, fan_in))


REFERENCE = {"ex1": adam_step, "ex2": xavier_uniform}


def _run(capsys, name, answer):
    """Run checker ``name`` on ``answer``; return (passed, printed text)."""
    return run_checker(capsys, check, name, answer)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_solution_passes(capsys, name):
    passed, out = _run(capsys, name, REFERENCE[name])
    assert passed, out
    assert out.startswith("✓")


def test_module_answers_match_the_notebook_solutions(capsys):
    assert set(check.REFERENCE_ANSWERS) == set(REFERENCE)
    for name, answers in [(k, [v]) for k, v in check.REFERENCE_ANSWERS.items()] + \
            list(check.CORRECT_REWRITES.items()) + list(check.SLOW_CORRECT_REWRITES.items()):
        for answer in answers:
            passed, out = _run(capsys, name, answer)
            assert passed, (name, answer.__name__, out)


def test_efficient_adam_form_is_accepted_and_named(capsys):
    passed, out = _run(capsys, "ex1", check.CORRECT_REWRITES["ex1"][0])
    assert passed and "efficient form" in out, out


def test_references_work_under_seterr_raise(capsys):
    old = np.seterr(all="raise")
    try:
        for name, answer in REFERENCE.items():
            passed, out = _run(capsys, name, answer)
            assert passed, out
    finally:
        np.seterr(**old)


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


def _with(**fixed):
    """adam_step with some arguments replaced by literals (a hard-coded lr, beta or eps)."""
    def answer(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        kw = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps)
        kw.update(fixed)
        return adam_step(p, g, m, v, t, **kw)
    return answer


def _efficient_with_eps(eps_fixed):
    def answer(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        return check.CORRECT_REWRITES["ex1"][0](p, g, m, v, t, lr, beta1, beta2, eps_fixed)
    return answer


def test_ex1_specific_feedback(capsys):
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
        return p - lr * (m / (1 - beta1**t)) / np.sqrt(v / (1 - beta2**t) + eps), m, v

    def own_counter(p, g, m, v, t, **kw):          # ignores t: counts its own steps from 1
        own_counter.t += 1
        return adam_step(p, g, m, v, own_counter.t, **kw)

    own_counter.t = 0

    def float16(*a, **k):
        return tuple(x.astype(np.float16) for x in adam_step(*a, **k))

    cases = [
        (no_correction, "without the bias correction"),
        (t_plus_one, "t + 1"),
        (v_not_squared, "*squared* gradients"),
        (lambda *a, **k: adam_step(*a, **k)[0], "should return a tuple (p_new, m_new, v_new)"),
        (lambda *a, **k: adam_step(*a, **k)[::-1], "wrong values"),
        (eps_inside, "eps inside the square root"),
        (lambda p, g, m, v, t, **k: (p - k["lr"] * g, m, v), "m returned"),
        (_with(lr=1e-3), "lr = 0.001, but this call passes lr = 0.1"),
        (_with(lr=0.1), "lr = 0.1, but this call passes lr = 0.003"),
        (_with(beta1=0.9), "beta1 = 0.9, but this call passes beta1 = 0.5"),
        (_with(beta2=0.999), "beta2 = 0.999, but this call passes beta2 = 0.9"),
        (_with(eps=1e-8), "eps = 1e-8, but this call passes eps = 0.001"),
        (_efficient_with_eps(1e-8), "eps = 1e-8, but this call passes eps = 0.001"),
        (own_counter, "p returned by adam_step(p (5,), t=1"),
        (float16, "float16"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex1", answer)
        assert passed is False and words in out, (words, out)
        assert "Hint:" in out, out


def test_ex2_specific_feedback(capsys):
    def b(i, o):
        return np.sqrt(6 / (i + o))

    cases = [
        (lambda i, o, rng: xavier_uniform(i, o, rng).T, "the transpose"),
        (lambda i, o, rng: rng.uniform(-np.sqrt(6 / i), np.sqrt(6 / i), size=(o, i)), "He"),
        (lambda i, o, rng: rng.uniform(-np.sqrt(2 / (i + o)), np.sqrt(2 / (i + o)), size=(o, i)),
         "not the bound"),
        (lambda i, o, rng: rng.normal(0, np.sqrt(2 / (i + o)), size=(o, i)), "beyond the bound"),
        (lambda i, o, rng: rng.uniform(-b(i, o), b(i, o), size=(o, i)) + 0.02, "mean"),
        (lambda i, o, rng: rng.uniform(0, b(i, o), size=(o, i)), "the mean of"),       # mean first
        (lambda i, o, rng: rng.uniform(0, 2 * b(i, o), size=(o, i)), "the mean of"),
        (lambda i, o, rng: rng.uniform(-2 * b(i, o), 2 * b(i, o), size=(o, i)), "standard deviation"),
        (lambda i, o, rng: rng.uniform(-0.98 * b(i, o), 0.98 * b(i, o), size=(o, i)), "standard deviation of xavier_uniform(800, 400, rng)"),
        (lambda i, o, rng: rng.uniform(-0.995 * b(i, o), 0.995 * b(i, o), size=(o, i)), "below the bound"),
        (lambda i, o, rng: rng.uniform(-1.005 * b(i, o), 1.005 * b(i, o), size=(o, i)), "beyond the bound"),
        (lambda i, o, rng: rng.uniform(-b(800, 400), b(800, 400), size=(o, i)),
         "xavier_uniform(300, 1000, rng) is"),                                       # hard-coded bound
        (lambda i, o, rng: np.full((o, i), b(i, o)), "distinct values"),
        (lambda i, o, rng: np.random.default_rng().uniform(-b(i, o), b(i, o), size=(o, i)), "seeded alike"),
        (lambda i, o, rng: np.random.default_rng(0).uniform(-b(i, o), b(i, o), size=(o, i)),
         "whatever the generator"),
        (lambda i, o, rng: rng.uniform(-b(i, o), b(i, o), size=(400, 800)), "expected (1000, 300)"),
        (lambda i, o, rng: (rng.uniform(-b(i, o), b(i, o), size=(o, i)) > 0).astype(int), "dtype int64"),
        (lambda i, o, rng: rng.uniform(-b(i, o), b(i, o), size=(o, i)).astype(np.float16), "float16"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex2", answer)
        assert passed is False and words in out, (words, out)
        assert "Hint:" in out, out


def test_checkers_do_not_let_the_answer_change_their_data(capsys):
    def vandal(p, g, m, v, t, **kw):
        g[...] = 0
        return adam_step(p, g, m, v, t, **kw)

    passed, _ = _run(capsys, "ex1", vandal)
    passed, out = _run(capsys, "ex1", adam_step)
    assert passed, out


def test_every_checker_is_registered():
    from dlcore.exercises import checkers_of

    assert checkers_of("ch06") == ["ex1", "ex2"]


# ---- review of issue 10: more wrong Adam variants, each named (or at least rejected) ----------


def _adam_parts(p, g, m, v, t, lr, beta1, beta2, eps):
    m2 = beta1 * m + (1 - beta1) * g
    v2 = beta2 * v + (1 - beta2) * g**2
    return m2, v2, m2 / (1 - beta1**t), v2 / (1 - beta2**t)


def _adam_t_minus_1(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m2, v2, _, _ = _adam_parts(p, g, m, v, t, lr, beta1, beta2, eps)
    with np.errstate(divide="ignore", invalid="ignore"):     # t - 1 = 0 on the first step
        return p - lr * (m2 / (1 - beta1 ** (t - 1))) / (np.sqrt(v2 / (1 - beta2 ** (t - 1))) + eps), m2, v2


def _adam_m_uncorrected(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m2, v2, _, v_hat = _adam_parts(p, g, m, v, t, lr, beta1, beta2, eps)
    return p - lr * m2 / (np.sqrt(v_hat) + eps), m2, v2


def _adam_v_uncorrected(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m2, v2, m_hat, _ = _adam_parts(p, g, m, v, t, lr, beta1, beta2, eps)
    return p - lr * m_hat / (np.sqrt(v2) + eps), m2, v2


def _adam_old_moments(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    p_new = p - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    m2, v2, _, _ = _adam_parts(p, g, m, v, t, lr, beta1, beta2, eps)
    return p_new, m2, v2


def _adam_swapped(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    p_new, m2, v2 = adam_step(p, g, m, v, t, lr, beta1, beta2, eps)
    return p_new, v2, m2


def _adam_returns_hats(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    _, _, m_hat, v_hat = _adam_parts(p, g, m, v, t, lr, beta1, beta2, eps)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m_hat, v_hat


def _adam_always_t1(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return adam_step(p, g, m, v, 1, lr, beta1, beta2, eps)


def _adam_v_of_g(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m2 = beta1 * m + (1 - beta1) * g
    v2 = beta2 * v + (1 - beta2) * g
    return p - lr * (m2 / (1 - beta1**t)) / (np.sqrt(np.abs(v2) / (1 - beta2**t)) + eps), m2, v2


def _adam_only_p(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return adam_step(p, g, m, v, t, lr, beta1, beta2, eps)[0]


def _adam_in_place_no_return(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    p[...] = adam_step(p, g, m, v, t, lr, beta1, beta2, eps)[0]


def _adam_power_of_one_minus_beta(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m2, v2, _, _ = _adam_parts(p, g, m, v, t, lr, beta1, beta2, eps)
    return p - lr * (m2 / (1 - beta1) ** t) / (np.sqrt(v2 / (1 - beta2) ** t) + eps), m2, v2


@pytest.mark.parametrize("answer, words", [
    (_adam_t_minus_1, "NaN or inf"),
    (_adam_m_uncorrected, "uses m without its bias correction"),
    (_adam_v_uncorrected, "uses v without its bias correction"),
    (_adam_old_moments, "m and v from before this step"),
    (_adam_swapped, "are swapped"),
    (_adam_returns_hats, "bias-corrected m_hat"),
    (_adam_always_t1, "bias correction of step 1 whatever t is"),
    (_adam_v_of_g, "averages g, not g**2"),
    (_adam_only_p, "should return a tuple"),
    (_adam_in_place_no_return, "returned None"),
    (_adam_power_of_one_minus_beta, "wrong values"),
], ids=lambda x: getattr(x, "__name__", "words"))
def test_ex1_more_wrong_variants_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex1", answer)
    assert passed is False and words in out, out


def _adam_copies_then_in_place(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    p, m, v = p.copy(), m.copy(), v.copy()
    m *= beta1
    m += (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * g * g
    p -= lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return p, m, v


def _adam_float32_out(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return tuple(np.asarray(a, np.float32) for a in adam_step(p, g, m, v, t, lr, beta1, beta2, eps))


@pytest.mark.parametrize("answer", [_adam_copies_then_in_place, _adam_float32_out])
def test_ex1_more_correct_forms_pass(capsys, answer):
    passed, out = _run(capsys, "ex1", answer)
    assert passed, out


@pytest.mark.parametrize("answer, words", [
    (lambda fi, fo, rng: rng.normal(0, np.sqrt(2 / (fi + fo)), size=(fo, fi)), "uniform"),
    (lambda fi, fo, rng: rng.uniform(-np.sqrt(6 / fi), np.sqrt(6 / fi), size=(fo, fi)), "He initialisation"),
    (lambda fi, fo, rng: xavier_uniform(fo, fi, rng), "transpose"),
    (lambda fi, fo, rng: xavier_uniform(fi, fo, rng)[:, :fo], "shape"),
], ids=["normal with the same std", "fan_in only", "transposed", "square"])
def test_ex2_more_wrong_variants_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex2", answer)
    assert passed is False and words in out, out


@pytest.mark.parametrize("answer", [
    lambda fi, fo, rng: rng.uniform(-np.sqrt(6 / (fi + fo)), np.sqrt(6 / (fi + fo)), size=(fi, fo)).T,
    lambda fi, fo, rng: 2 * np.sqrt(6 / (fi + fo)) * (rng.random((fo, fi)) - 0.5),
    lambda fi, fo, rng: xavier_uniform(fi, fo, rng).tolist(),
], ids=["drawn transposed then .T", "2b (r - 1/2)", "nested list"])
def test_ex2_more_correct_forms_pass(capsys, answer):
    passed, out = _run(capsys, "ex2", answer)
    assert passed, out

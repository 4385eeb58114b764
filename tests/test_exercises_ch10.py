"""Direct tests of the chapter 10 checkers: correct answers pass, wrong and odd ones fail by name."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from checker_helpers import SHARED_BAD, run_checker
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore.exercises import ch10 as check

# ---- reference solutions (the same as in exercises/solutions/10_rnn.ipynb) ---------------------


def rnn_step(x, h, W_ih, W_hh, b_ih, b_hh):
    return torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)


def bigram_nll(train_names, eval_names, alpha, chars="abcdefghijklmnopqrstuvwxyz"):
    stoi = {ch: i + 1 for i, ch in enumerate(chars)}
    V = len(chars) + 1
    N = np.zeros((V, V))
    for name in train_names:
        ids = [0] + [stoi[ch] for ch in name] + [0]
        for a, b in zip(ids, ids[1:]):
            N[a, b] += 1
    P = (N + alpha) / (N.sum(axis=1, keepdims=True) + alpha * V)
    nll = []
    for name in eval_names:
        ids = [0] + [stoi[ch] for ch in name] + [0]
        nll += [-np.log(P[a, b]) for a, b in zip(ids, ids[1:])]
    return float(np.mean(nll))


def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
    i, f, g, o = (x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=1)
    c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_next), c_next


def clip_grad_norm(params, max_norm):
    grads = [p.grad for p in params if p.grad is not None]
    total = torch.sqrt(sum((g ** 2).sum() for g in grads))
    scale = min(1.0, max_norm / (float(total) + 1e-6))
    for g in grads:
        g.mul_(scale)
    return total


def persistence_mae(y, horizon, n_test):
    y = np.asarray(y, dtype=float)
    t = np.arange(len(y) - n_test, len(y))
    return np.abs(y[t] - y[t - horizon]).mean()


REFERENCE = {"ex1": rnn_step, "ex2": bigram_nll, "ex3": lstm_cell, "ex4": clip_grad_norm,
             "ex5": persistence_mae}


def _run(capsys, name, answer):
    return run_checker(capsys, check, name, answer)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_solution_passes(capsys, name):
    passed, out = _run(capsys, name, REFERENCE[name])
    assert passed, out
    assert out.startswith("✓")


@pytest.mark.parametrize("name", sorted(check.REFERENCE_ANSWERS))
def test_module_reference_answers_and_rewrites_pass(capsys, name):
    for answer in [check.REFERENCE_ANSWERS[name], *check.CORRECT_REWRITES.get(name, [])]:
        passed, out = _run(capsys, name, answer)
        assert passed, (answer.__name__, out)


def test_every_checker_has_a_reference_answer():
    from dlcore.exercises import checkers_of

    assert checkers_of("ch10") == ["ex1", "ex2", "ex3", "ex4", "ex5"] == sorted(check.REFERENCE_ANSWERS)


COMMON_BAD = SHARED_BAD + [
    ("a function that returns None", lambda *a, **k: None, "None"),
    ("a function with the wrong arguments", lambda: 1, "TypeError"),
    ("a function that returns a string", lambda *a, **k: "2.3", "str"),
]


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("desc, answer, words", COMMON_BAD, ids=[c[0] for c in COMMON_BAD])
def test_odd_answers_fail_with_a_message(capsys, name, desc, answer, words):
    passed, out = _run(capsys, name, answer)
    assert passed is False, f"{name} accepted {desc}"
    assert out.startswith("✗") and words in out, out


def test_checkers_leave_the_learners_torch_rng_alone(capsys):
    torch.manual_seed(123)
    state = torch.get_rng_state()
    for name in ("ex1", "ex3"):
        _run(capsys, name, REFERENCE[name])
    assert torch.equal(torch.get_rng_state(), state)


# ---- exercise 1 -------------------------------------------------------------------------------


@pytest.mark.parametrize("answer, words", [
    (lambda x, h, Wi, Wh, bi, bh: torch.tanh(x @ Wi + bi + h @ Wh.T + bh), "W_ih is used untransposed"),
    (lambda x, h, Wi, Wh, bi, bh: torch.tanh(x @ Wi.T + bi + h @ Wh + bh), "W_hh is used untransposed"),
    (lambda x, h, Wi, Wh, bi, bh: torch.tanh(x @ Wi.T + h @ Wh.T + bh), "b_ih is missing"),
    (lambda x, h, Wi, Wh, bi, bh: torch.tanh(x @ Wi.T + bi + h @ Wh.T), "b_hh is missing"),
    (lambda x, h, Wi, Wh, bi, bh: torch.tanh(x @ Wi.T + h @ Wh.T), "both biases"),
    (lambda x, h, Wi, Wh, bi, bh: torch.relu(x @ Wi.T + bi + h @ Wh.T + bh), "relu instead of tanh"),
    (lambda x, h, Wi, Wh, bi, bh: torch.sigmoid(x @ Wi.T + bi + h @ Wh.T + bh), "sigmoid"),
    (lambda x, h, Wi, Wh, bi, bh: x @ Wi.T + bi + h @ Wh.T + bh, "tanh is missing"),
    (lambda x, h, Wi, Wh, bi, bh: torch.tanh(x @ Wh.T + bi + h @ Wi.T + bh), "swapped"),
    (lambda x, h, Wi, Wh, bi, bh: rnn_step(x, h, Wi, Wh, bi, bh).float(), "float32"),
    (lambda x, h, Wi, Wh, bi, bh: rnn_step(x, h, Wi, Wh, bi, bh).T, "shape"),
    (lambda x, h, Wi, Wh, bi, bh: torch.tanh(h.add_(x @ Wi.T + bi + h @ Wh.T + bh)), "in place"),
    (lambda x, h, Wi, Wh, bi, bh: rnn_step(x, h, Wi, Wh, bi, bh) * 1.001, "differ from nn.RNNCell"),
])
def test_ex1_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex1", answer)
    assert passed is False and words in out, out


def test_ex1_accepts_numpy_and_autograd_outputs(capsys):
    for answer in [lambda *a: rnn_step(*a).numpy(),
                   lambda x, h, *w: rnn_step(x.requires_grad_(), h, *w)]:
        passed, out = _run(capsys, "ex1", answer)
        assert passed, out


@settings(max_examples=20, deadline=None)
@given(B=st.integers(1, 5), D=st.integers(1, 6), H=st.integers(1, 6), seed=st.integers(0, 2**16),
       double=st.booleans())
def test_ex1_reference_equals_rnn_cell(B, D, H, seed, double):
    dtype = torch.float64 if double else torch.float32
    torch.manual_seed(seed)
    cell = torch.nn.RNNCell(D, H, dtype=dtype)
    x, h = torch.randn(B, D, dtype=dtype), torch.randn(B, H, dtype=dtype)
    with torch.no_grad():
        got = check._rnn_reference(x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
        assert torch.allclose(got, cell(x, h), atol=1e-6)


# ---- exercise 2 -------------------------------------------------------------------------------


def _bigram(train, evals, alpha, chars, *, start=True, end=True, V_plus=1, denom=True, seen_only=False,
            log=np.log, reduce="chars", fit_on=None):
    stoi = {ch: i + 1 for i, ch in enumerate(chars)}
    V = len(chars) + V_plus
    N = np.zeros((len(chars) + 1,) * 2)

    def ids(name):
        return ([0] if start else []) + [stoi[ch] for ch in name] + ([0] if end else [])

    for name in fit_on(train, evals) if fit_on else train:
        s = ids(name)
        for a, b in zip(s, s[1:]):
            N[a, b] += 1
    rows = N.sum(axis=1, keepdims=True)
    if seen_only:
        with np.errstate(all="ignore"):
            P = np.where(N > 0, (N + alpha) / (rows + alpha * (N > 0).sum(1, keepdims=True)), 0.0)
    else:
        P = (N + alpha) / (rows + (alpha * V if denom else 0))
    per = []
    with np.errstate(all="ignore"):
        for name in evals:
            s = ids(name)
            per.append([-log(P[a, b]) for a, b in zip(s, s[1:])])
    if reduce == "names":
        return float(np.mean([np.mean(p) for p in per]))
    if reduce == "per name":
        return float(sum(map(sum, per)) / len(per))
    return float(np.mean(np.concatenate(per)))


@pytest.mark.parametrize("answer, words", [
    (lambda tr, ev, a, ch: _bigram(tr, ev, 1.0, ch), "alpha was taken as 1"),
    (lambda tr, ev, a, ch: _bigram(tr, ev, a, ch, seen_only=True), "probability 0"),
    (lambda tr, ev, a, ch: _bigram(tr, ev, a, ch, end=False), "end token is missing"),
    (lambda tr, ev, a, ch: _bigram(tr, ev, a, ch, start=False), "start token is missing"),
    (lambda tr, ev, a, ch: _bigram(tr, ev, a, ch, log=np.log2), "log base 2"),
    (lambda tr, ev, a, ch: _bigram(tr, ev, a, ch, reduce="names"), "mean over names"),
    (lambda tr, ev, a, ch: _bigram(tr, ev, a, ch, reduce="per name"), "number of names"),
    (lambda tr, ev, a, ch: _bigram(tr, ev, a, ch, V_plus=0), "V leaves out the boundary"),
    (lambda tr, ev, a, ch: _bigram(tr, ev, a, ch, denom=False), "not to the denominator"),
    (lambda tr, ev, a, ch: _bigram(tr, ev, a, ch, fit_on=lambda t, e: t + e), "include the evaluation"),
    (lambda tr, ev, a, ch: _bigram(tr, ev, a, ch, fit_on=lambda t, e: e), "come from the evaluation"),
    (lambda tr, ev, a, ch: _bigram(tr, ev, a, ch, V_plus=27 - len(ch)), "V was taken as 27"),
    (lambda tr, ev, a, ch: _bigram(tr, ev, a, ch, V_plus=len(set("".join(tr))) + 1 - len(ch)),
     "vocabulary was built from the training names"),
    (lambda tr, ev, a, ch: np.float16(bigram_nll(tr, ev, a, ch)), "float16"),
    (lambda tr, ev, a, ch: [bigram_nll(tr, ev, a, ch)] * 2, "not one"),
    (lambda tr, ev, a, ch: bigram_nll(tr, ev, a, ch) * 1.01, "expected"),
])
def test_ex2_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex2", answer)
    assert passed is False and words in out, out


def test_ex2_accepts_tensors_and_numpy_scalars(capsys):
    for answer in [lambda *a: torch.tensor(bigram_nll(*a)), lambda *a: np.float32(bigram_nll(*a)),
                   lambda *a: np.array([bigram_nll(*a)])]:
        passed, out = _run(capsys, "ex2", answer)
        assert passed, out


_WORDS = st.lists(st.text(alphabet="abcd", min_size=1, max_size=6), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None)
@given(train=_WORDS, evals=_WORDS, alpha=st.floats(0.01, 5.0))
def test_ex2_reference_equals_the_chapters_bigram_model(train, evals, alpha):
    """The checker's reference is dlcore.torch.text's BigramModel scored by nll_per_char."""
    from dlcore.torch.text import BigramModel, CharVocab, nll_per_char

    vocab = CharVocab("abcde")
    model = BigramModel(alpha=alpha, vocab=vocab).fit(train)
    want = nll_per_char(model, evals, vocab)
    assert math.isclose(check._bigram_reference(train, evals, alpha, "abcde"), want, rel_tol=1e-9)
    assert math.isclose(bigram_nll(train, evals, alpha, "abcde"), want, rel_tol=1e-9)


@settings(max_examples=10, deadline=None)
@given(factor=st.floats(0.5, 2.0).filter(lambda f: abs(f - 1) > 1e-4))
def test_ex2_any_rescaled_answer_fails(factor):
    import io
    from contextlib import redirect_stdout

    from dlcore.exercises import results

    with redirect_stdout(io.StringIO()):
        check.ex2(lambda *a: factor * bigram_nll(*a))
    assert results()["ch10.ex2"] is False


# ---- exercise 3 -------------------------------------------------------------------------------


def _lstm(order="ifgo", g_act=torch.tanh, forget=True, keep=True, out_tanh=True):
    def cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
        parts = dict(zip(order, (x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=1)))
        i, f, o = (torch.sigmoid(parts[k]) for k in "ifo")
        c_next = (f * c if forget else c if keep else 0) + i * g_act(parts["g"])
        return o * (torch.tanh(c_next) if out_tanh else c_next), c_next
    return cell


@pytest.mark.parametrize("answer, words", [
    (_lstm(order="ifog"), "order i, f, o, g"),
    (_lstm(order="fiog"), "order f, i, o, g"),
    (_lstm(order="gifo"), "PyTorch's order"),
    (_lstm(g_act=torch.sigmoid), "sigmoid on g"),
    (_lstm(forget=False), "forget gate is missing"),
    (_lstm(forget=False, keep=False), "old cell state is dropped"),
    (_lstm(out_tanh=False), "tanh of the new cell state is missing"),
    (lambda *a: lstm_cell(*a)[::-1], "swapped"),
    (lambda *a: lstm_cell(*a)[0], "not the pair"),
    (lambda *a: torch.stack(lstm_cell(*a)), "not the pair"),
    (lambda x, h, c, Wi, Wh, bi, bh: lstm_cell(x, h, c, Wi, Wh, bi, 0 * bh), "b_hh is missing"),
    (lambda x, h, c, Wi, Wh, bi, bh: lstm_cell(x, h, c, Wi, Wh.T, bi, bh), "transpose"),
    (lambda *a: tuple(t.float() for t in lstm_cell(*a)), "float32"),
    (lambda x, h, c, *w: lstm_cell(x, h, c.mul_(1.0).add_(0.0).sub_(c), *w), "in place"),
])
def test_ex3_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex3", answer)
    assert passed is False and words in out, out


@settings(max_examples=20, deadline=None)
@given(B=st.integers(1, 5), D=st.integers(1, 6), H=st.integers(1, 6), seed=st.integers(0, 2**16),
       double=st.booleans())
def test_ex3_reference_equals_lstm_cell(B, D, H, seed, double):
    dtype = torch.float64 if double else torch.float32
    torch.manual_seed(seed)
    cell = torch.nn.LSTMCell(D, H, dtype=dtype)
    x, h, c = (torch.randn(B, n, dtype=dtype) for n in (D, H, H))
    with torch.no_grad():
        got = check._lstm_reference(x, h, c, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
        for a, b in zip(got, cell(x, (h, c))):
            assert torch.allclose(a, b, atol=1e-6)


def test_ex3_accepts_a_list_and_numpy(capsys):
    for answer in [lambda *a: list(lstm_cell(*a)), lambda *a: tuple(t.numpy() for t in lstm_cell(*a))]:
        passed, out = _run(capsys, "ex3", answer)
        assert passed, out


# ---- exercise 4 -------------------------------------------------------------------------------


def _clip(rule):
    def clip(params, max_norm):
        grads = [p.grad for p in params if p.grad is not None]
        norms = [float(g.norm()) for g in grads]
        total = math.sqrt(sum(n * n for n in norms))
        for g, n in zip(grads, norms):
            g.mul_(rule(max_norm, total, n))
        return total
    return clip


@pytest.mark.parametrize("answer, words", [
    (_clip(lambda m, t, n: min(1.0, m / n)), "its own norm"),
    (_clip(lambda m, t, n: m / t), "although the global norm was below"),
    (_clip(lambda m, t, n: min(1.0, 1.0 / t)), "max_norm was taken as 1"),
    (_clip(lambda m, t, n: 1.0), "not changed"),
    (_clip(lambda m, t, n: max(1.0, t / m)), "inverted"),
    (lambda ps, m: min(float(clip_grad_norm(ps, m)), m), "AFTER clipping"),
    (lambda ps, m: (clip_grad_norm(ps, m), None)[1], "None"),
    (lambda ps, m: float(clip_grad_norm(ps, m)) ** 2, "square root is missing"),
])
def test_ex4_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex4", answer)
    assert passed is False and words in out, out


def _sum_of_norms(params, max_norm):
    grads = [p.grad for p in params if p.grad is not None]
    total = sum(float(g.norm()) for g in grads)
    for g in grads:
        g.mul_(min(1.0, max_norm / total))
    return total


def _returns_sum_of_norms(params, max_norm):
    norms = [float(p.grad.norm()) for p in params if p.grad is not None]
    clip_grad_norm(params, max_norm)
    return sum(norms)


def _clips_the_weights(params, max_norm):
    total = clip_grad_norm(params, max_norm)
    with torch.no_grad():
        for p in params:
            p.mul_(0.5)
    return total


def _fills_missing_grads(params, max_norm):
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    return clip_grad_norm(params, max_norm)


def _returns_the_list(params, max_norm):
    clip_grad_norm(params, max_norm)
    return params


@pytest.mark.parametrize("answer, words", [
    (_sum_of_norms, "sum of the tensors' norms"),
    (_returns_sum_of_norms, "sum of the tensors' norms was returned"),
    (_clips_the_weights, "changed the parameters"),
    (_fills_missing_grads, "grad was None"),
    (_returns_the_list, "not a number"),
])
def test_ex4_more_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex4", answer)
    assert passed is False and words in out, out


def test_ex4_accepts_in_place_or_assigned_grads_and_any_number_type(capsys):
    def assigns(params, max_norm):
        total = torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None]) \
            if hasattr(torch.nn.utils, "get_total_norm") else clip_grad_norm(params, float("inf"))
        for p in params:
            if p.grad is not None and total > max_norm:
                p.grad = p.grad * (max_norm / total)
        return total

    for answer in [assigns, lambda ps, m: float(clip_grad_norm(ps, m)),
                   lambda ps, m: torch.nn.utils.clip_grad_norm_(ps, m),
                   lambda ps, m: np.float64(clip_grad_norm(ps, m))]:
        passed, out = _run(capsys, "ex4", answer)
        assert passed, out


@settings(max_examples=25, deadline=None)
@given(shapes=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 4)), min_size=1, max_size=4),
       max_norm=st.floats(0.01, 10.0), scale=st.floats(0.01, 10.0), seed=st.integers(0, 2**16))
def test_ex4_reference_equals_torch(shapes, max_norm, scale, seed):
    g = torch.Generator().manual_seed(seed)
    ours = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in shapes]
    for p in ours:
        p.grad = torch.randn(p.shape, generator=g, dtype=torch.float64) * scale
    theirs = check._clone_params(ours)
    total = check._clip_reference(ours, max_norm)
    want = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    assert math.isclose(total, float(want), rel_tol=1e-12)
    for a, b in zip(ours, theirs):
        assert torch.allclose(a.grad, b.grad, rtol=1e-12, atol=0)


# ---- exercise 5 -------------------------------------------------------------------------------


def _pmae(shift=0, lo=0, every=False, origin=False, agg=lambda e: np.abs(e).mean()):
    def mae(y, h, n):
        y = np.asarray(y, dtype=float)
        t = np.arange(h if every else len(y) - n + lo, len(y))
        if origin:
            return float(np.abs(y[t] - y[len(y) - n - 1]).mean())
        return float(agg(y[t] - y[t - h - shift]))
    return mae


@pytest.mark.parametrize("answer, words", [
    (lambda y, h, n: _pmae()(y, 1, n), "horizon was taken as 1"),
    (_pmae(shift=-1), "off by one"),
    (_pmae(shift=1), "off by one"),
    (_pmae(every=True), "every value from index horizon"),
    (_pmae(lo=1), "n_test - 1"),
    (_pmae(origin=True), "last training value"),
    (_pmae(agg=lambda e: (e ** 2).mean()), "mean squared error"),
    (_pmae(agg=lambda e: np.sqrt((e ** 2).mean())), "root mean squared"),
    (_pmae(agg=lambda e: e.mean()), "signed"),
    (_pmae(agg=lambda e: np.median(np.abs(e))), "median"),
    (_pmae(agg=lambda e: np.abs(e).sum()), "sum of the absolute errors"),
    (lambda y, h, n: np.abs(y[-n:] - y[-n - h:-h]), "not one"),
    (lambda y, h, n: persistence_mae(np.sort(y) if y.sort() is None else y, h, n), "in place"),
])
def test_ex5_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex5", answer)
    assert passed is False and words in out, out


def test_ex5_accepts_loops_and_tensors(capsys):
    for answer in [lambda y, h, n: torch.tensor(persistence_mae(y, h, n)),
                   lambda y, h, n: sum(abs(float(y[t]) - float(y[t - h])) for t in range(len(y) - n, len(y))) / n]:
        passed, out = _run(capsys, "ex5", answer)
        assert passed, out


@settings(max_examples=30, deadline=None)
@given(slope=st.floats(-5, 5), intercept=st.floats(-100, 100), h=st.integers(1, 10), n=st.integers(1, 20))
def test_ex5_reference_on_a_straight_line_is_slope_times_horizon(slope, intercept, h, n):
    y = intercept + slope * np.arange(n + h + 3)
    assert math.isclose(check._persistence_reference(y, h, n), abs(slope) * h, rel_tol=1e-9, abs_tol=1e-9)


# ---- reviewer's cases -------------------------------------------------------------------------


def _rnn_float64(x, h, W_ih, W_hh, b_ih, b_hh):
    return check._rnn_reference(*(t.double() for t in (x, h, W_ih, W_hh, b_ih, b_hh)))


def _lstm_float64(*args):
    return check._lstm_reference(*(t.double() for t in args))


@pytest.mark.parametrize("name, answer", [("ex1", _rnn_float64), ("ex3", _lstm_float64)])
def test_float64_answers_to_float32_inputs_are_named_as_a_dtype_mistake(capsys, name, answer):
    passed, out = run_checker(capsys, check, name, answer)
    assert passed is False and "torch.float64 for torch.float32 inputs" in out, out


def _clip_ignores_none(params, max_norm):
    total = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params))
    for p in params:
        p.grad.mul_(min(1.0, max_norm / float(total)))
    return float(total)


def test_ex4_a_grad_of_none_gets_a_hint_that_names_it(capsys):
    passed, out = run_checker(capsys, check, "ex4", _clip_ignores_none)
    assert passed is False and "grad None" in out and "if p.grad is not None" in out, out
    assert "helper function forget" not in out, out


@pytest.mark.parametrize("name", sorted(check.REFERENCE_ANSWERS))
@pytest.mark.parametrize("value", [torch.empty(3, device="meta"), torch.empty((), device="meta"), 10**400],
                         ids=["meta tensor", "0-d meta tensor", "huge int"])
def test_meta_tensors_and_huge_ints_get_feedback_not_a_checker_failure(capsys, name, value):
    passed, out = run_checker(capsys, check, name, lambda *a, **k: value)
    assert passed is False and out.startswith("✗"), out
    assert "could not be checked" not in out and "the checker itself failed" not in out, out


@pytest.mark.parametrize("rounding", [int, round])
def test_ex5_a_mean_rounded_to_a_whole_number_is_named(capsys, rounding):
    passed, out = run_checker(capsys, check, "ex5", lambda y, h, n: rounding(persistence_mae(y, h, n)))
    assert passed is False and "the mean was rounded" in out, out

"""Direct tests of the chapter 05 checkers: correct answers pass, wrong and odd answers fail kindly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from checker_helpers import SHARED_BAD, run_checker

from dlcore.autograd import Value
from dlcore.check import numerical_gradient
from dlcore.exercises import ch05 as check

# ---- reference solutions (the same as in exercises/solutions/05_backpropagation.ipynb) ----


def value_sigmoid(v):
    return 1 / (1 + (-v).exp())


def maximum(a, b):
    out = Value(max(a.data, b.data), (a, b), "max")

    def _backward():
        if a.data >= b.data:
            a.grad += out.grad
        else:
            b.grad += out.grad

    out._backward = _backward
    return out


def mlp_gradients(x, t, W1, b1, W2, b2):
    h = np.tanh(x @ W1.T + b1)
    y = h @ W2.T + b2
    g = 2 * (y - t) / y.size
    dW2, db2 = g.T @ h, g.sum(axis=0)
    gz = (g @ W2) * (1 - h**2)
    return gz.T @ x, gz.sum(axis=0), dW2, db2


def softmax_cross_entropy_backward(x, W, b, y):
    z = x @ W.T + b
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = len(y)
    loss = -log_p[np.arange(n), y].mean()
    dz = np.exp(log_p)
    dz[np.arange(n), y] -= 1
    dz /= n
    return loss, dz @ W, dz.T @ x, dz.sum(axis=0)


REFERENCE = {"ex1": value_sigmoid, "ex2": maximum, "ex3": mlp_gradients, "ex4": softmax_cross_entropy_backward}


def _run(capsys, name, answer):
    """Run checker ``name`` on ``answer``; return (passed, printed text)."""
    return run_checker(capsys, check, name, answer)


def test_module_reference_answers_match_these():
    assert set(check.REFERENCE_ANSWERS) == set(REFERENCE) == set(check.CORRECT_REWRITES)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_solution_passes(capsys, name):
    for answer in (REFERENCE[name], check.REFERENCE_ANSWERS[name]):
        passed, out = _run(capsys, name, answer)
        assert passed, out
        assert out.startswith("✓")


REWRITES = [(name, answer) for name, answers in check.CORRECT_REWRITES.items() for answer in answers]


@pytest.mark.parametrize("name, answer", REWRITES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(REWRITES)])
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


@pytest.mark.parametrize("name", ["ex3", "ex4"])
def test_float32_answers_pass_and_float16_answers_fail(capsys, name):
    def as_dtype(dtype):
        return lambda *a: tuple(np.asarray(r, dtype=dtype) for r in REFERENCE[name](*a))

    passed, out = _run(capsys, name, as_dtype(np.float32))
    assert passed, out
    passed, out = _run(capsys, name, as_dtype(np.float16))
    assert passed is False and "float16" in out, out


COMMON_BAD = SHARED_BAD + [
]


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("desc, answer, words", COMMON_BAD, ids=[c[0] for c in COMMON_BAD])
def test_odd_answers_fail_with_a_message(capsys, name, desc, answer, words):
    passed, out = _run(capsys, name, answer)
    assert passed is False, f"{name} accepted {desc}"
    assert out.startswith("✗") and words in out, out


@pytest.mark.parametrize("name, words", [("ex1", "return"), ("ex2", "return"), ("ex3", "4 values"),
                                         ("ex4", "4 values")])
def test_returning_none_is_explained(capsys, name, words):
    passed, out = _run(capsys, name, lambda *a: None)
    assert passed is False and words in out, out


def test_ex1_specific_feedback(capsys):
    def own_node(v):                                          # a hand-made sigmoid node, not built from ops
        s = 1 / (1 + math.exp(-v.data))
        out = Value(s, (v,), "σ")

        def _backward():
            v.grad += s * (1 - s) * out.grad

        out._backward = _backward
        return out

    cases = [
        (lambda v: 1 / (1 + math.exp(-v.data)), "not a Value"),
        (lambda v: v.sigmoid(), "built-in .sigmoid()"),
        (lambda v: v.sigmoid() + 0, "built-in .sigmoid()"),           # issue 10: a sigmoid node inside
        (lambda v: (v * 1).sigmoid() * 1, "built-in .sigmoid()"),
        (own_node, "outside the engine's operations"),
        (lambda v: 1 / (1 + v.exp()), "minus sign"),
        (lambda v: Value(1 / (1 + math.exp(-v.data))), "not connected to v"),
        (lambda v: "0.5", "not a Value"),
        (lambda v: Value(0.8175744761936437), "not connected to v"),   # hard-coded for v = 1.5
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex1", answer)
        assert passed is False and words in out, (words, out)


def _max_node(backward_rule):
    def answer(a, b):
        out = Value(max(a.data, b.data), (a, b), "max")
        out._backward = lambda: backward_rule(a, b, out)
        return out
    return answer


def test_ex2_specific_feedback(capsys):
    def overwrites(a, b, out):
        if a.data > b.data:
            a.grad = out.grad
        else:
            b.grad = out.grad

    def ignores_upstream(a, b, out):
        if a.data > b.data:
            a.grad += 1.0
        else:
            b.grad += 1.0

    def to_the_smaller(a, b, out):
        if a.data < b.data:
            a.grad += out.grad
        else:
            b.grad += out.grad

    def to_both(a, b, out):
        a.grad += out.grad
        b.grad += out.grad

    def data_not_grad(a, b, out):
        if a.data > b.data:
            a.grad += out.data
        else:
            b.grad += out.data

    def always_a(a, b, out):                                  # routes to the first input every time
        a.grad += out.grad

    cases = [
        (lambda a, b: (a - b).relu() + b, "children (_prev)"),          # built from ops: not a new one
        (lambda a, b: a if a.data > b.data else b, "children (_prev)"),
        (lambda a, b: Value(max(a.data, b.data), (a, b), "max"), "neither input received a gradient"),
        (_max_node(overwrites), "a.grad += ..."),
        (_max_node(ignores_upstream), "out.grad, not always 1"),
        (_max_node(to_the_smaller), "the smaller input"),
        (_max_node(to_both), "wrong values"),
        (_max_node(data_not_grad), "wrong values"),
        (_max_node(always_a), "the smaller input"),
        (lambda a, b: Value(min(a.data, b.data), (a, b), "max"), "wrong values"),
        (lambda a, b: max(a.data, b.data), "not a Value"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex2", answer)
        assert passed is False and words in out, (words, out)


def test_ex2_the_checker_does_not_accept_an_answer_that_edits_its_inputs(capsys):
    def vandal(a, b):
        out = maximum(a, b)
        a.data = b.data = out.data
        return out

    passed, out = _run(capsys, "ex2", vandal)
    assert passed is False and "changed the data" in out, out


def test_ex3_specific_feedback(capsys):
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

    def divides_by_the_batch_only(x, t, W1, b1, W2, b2):      # right only when there is one output
        return tuple(g * t.shape[1] for g in mlp_gradients(x, t, W1, b1, W2, b2))

    def test_size_divisor(x, t, W1, b1, W2, b2):              # a divisor fitted to the first case
        return tuple(g * t.size / 15 for g in mlp_gradients(x, t, W1, b1, W2, b2))

    cases = [
        (half_loss_gradient, "half the right value"),
        (no_tanh_slope, "slope of tanh"),
        (sum_not_mean, "y.size"),
        (divides_by_the_batch_only, "y.size"),
        (test_size_divisor, "y.size"),
        (lambda *a: tuple(g.T for g in mlp_gradients(*a)), "expected (4, 2)"),
        (lambda *a: mlp_gradients(*a)[:3], "4 values"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex3", answer)
        assert passed is False and words in out, (words, out)


def _naive_log(x, W, b, y):
    z = x @ W.T + b
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    n = len(y)
    with np.errstate(divide="ignore"):
        loss = -np.log(p[np.arange(n), y]).mean()
    dz = p.copy()
    dz[np.arange(n), y] -= 1
    return loss, dz @ W / n, dz.T @ x / n, dz.sum(axis=0) / n


def test_ex4_specific_feedback(capsys):
    ref = softmax_cross_entropy_backward

    def scaled(i, factor):
        def answer(*args):
            out = list(ref(*args))
            out[i] = out[i] * factor
            return tuple(out)
        return answer

    def no_onehot(x, W, b, y):
        loss, *_ = ref(x, W, b, y)
        z = x @ W.T + b
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        dz = p / len(y)
        return loss, dz @ W, dz.T @ x, dz.sum(axis=0)

    def sigmoid_style(x, W, b, y):                           # p (1 - p) in place of the softmax Jacobian
        loss, *_ = ref(x, W, b, y)
        z = x @ W.T + b
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        dz = p * (1 - p) / len(y)
        return loss, dz @ W, dz.T @ x, dz.sum(axis=0)

    def db_mean(x, W, b, y):
        loss, dx, dW, db = ref(x, W, b, y)
        return loss, dx, dW, db / W.shape[0]

    def dx_transposed_W(x, W, b, y):
        loss, dx, dW, db = ref(x, W, b, y)
        return loss, dx, dW.T, db

    def wrong_class_index(x, W, b, y):                        # the labels shifted by one class
        return ref(x, W, b, (y + 1) % W.shape[0])

    cases = [
        (_naive_log, "not a finite number"),
        (scaled(0, 1), None),
        (lambda *a: (ref(*a)[0] * len(a[3]),) + ref(*a)[1:], "sum over the batch"),
        (lambda *a: (ref(*a)[0],) + tuple(g * len(a[3]) for g in ref(*a)[1:]), "1 / N"),
        (no_onehot, "one-hot"),
        (sigmoid_style, "wrong values"),
        (db_mean, "wrong values"),
        (dx_transposed_W, "the shape of W"),
        (scaled(1, 2.0), "wrong values"),
        (scaled(2, -1.0), "wrong values"),
        (wrong_class_index, "wrong values"),
        (lambda *a: ref(*a)[:3], "4 values"),
        (lambda *a: (np.ones(3),) + ref(*a)[1:], "one number"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex4", answer)
        if words is None:
            assert passed, out
        else:
            assert passed is False and words in out, (words, out)


def test_ex4_reference_matches_torch_autograd_and_numerical_gradients():
    rng = np.random.default_rng(0)
    for n, d, k in ((4, 3, 5), (1, 2, 2), (7, 6, 3)):
        x, W, b = rng.standard_normal((n, d)), rng.standard_normal((k, d)), rng.standard_normal(k)
        y = rng.integers(0, k, size=n)
        loss, dx, dW, db = check._ce_reference(x, W, b, y)["loss"], *(
            check._ce_reference(x, W, b, y)[key] for key in ("dx", "dW", "db"))
        tx, tW, tb = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, W, b))
        tloss = torch.nn.functional.cross_entropy(tx @ tW.T + tb, torch.tensor(y))
        tloss.backward()
        assert loss == pytest.approx(tloss.item(), rel=1e-12)
        for ours, theirs in ((dx, tx), (dW, tW), (db, tb)):
            np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-10, atol=1e-14)

        def loss_of_W(w, x=x, b=b, y=y):
            return check._ce_reference(x, w, b, y)["loss"]

        np.testing.assert_allclose(numerical_gradient(loss_of_W, W.copy()), dW, rtol=1e-6, atol=1e-9)


def test_ex3_reference_matches_torch_autograd():
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((5, 2)), rng.standard_normal((5, 3))
    params = [rng.standard_normal(s) for s in ((4, 2), (4,), (3, 4), (3,))]
    ours = check._mlp_reference(x, t, *params)
    tp = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    tx, tt = torch.tensor(x), torch.tensor(t)
    torch.mean((torch.tanh(tx @ tp[0].T + tp[1]) @ tp[2].T + tp[3] - tt) ** 2).backward()
    for key, tensor in zip(("dW1", "db1", "dW2", "db2"), tp):
        np.testing.assert_allclose(ours[key], tensor.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_ex2_reference_routes_like_torch_maximum():
    for xa, xb in ((2.0, -1.0), (-3.0, 0.5)):
        a, b = Value(xa), Value(xb)
        out = 2.5 * maximum(a, b)
        out.backward()
        ta, tb = torch.tensor(xa, requires_grad=True), torch.tensor(xb, requires_grad=True)
        (2.5 * torch.maximum(ta, tb)).backward()
        assert (a.grad, b.grad) == (ta.grad.item(), tb.grad.item())


def test_checkers_do_not_let_the_answer_change_their_data(capsys):
    def vandal(x, t, W1, b1, W2, b2):
        result = mlp_gradients(x, t, W1, b1, W2, b2)
        for a in (x, t, W1, b1, W2, b2):
            a[...] = 0
        return result

    passed, out = _run(capsys, "ex3", vandal)
    assert passed, out                      # the checker passes copies, so vandalism changes nothing


def test_every_checker_is_registered():
    from dlcore.exercises import checkers_of

    assert checkers_of("ch05") == ["ex1", "ex2", "ex3", "ex4"]


# ---- reviewer's additions: ties, the exercise text's operations, overflowing logits ----------

def test_ex2_a_tie_needs_shares_that_add_up_to_the_upstream_gradient(capsys):
    def both_on_ties(a, b, out):                              # each input gets all of it at a tie
        if a.data >= b.data:
            a.grad += out.grad
        if b.data >= a.data:
            b.grad += out.grad

    def nobody_on_ties(a, b, out):                            # strict comparisons, no else branch
        if a.data > b.data:
            a.grad += out.grad
        elif b.data > a.data:
            b.grad += out.grad

    def negative_share(a, b, out):                            # 1.5 and -0.5 also add up to 1
        if a.data == b.data:
            a.grad += 1.5 * out.grad
            b.grad -= 0.5 * out.grad
        elif a.data > b.data:
            a.grad += out.grad
        else:
            b.grad += out.grad

    for rule, words in ((both_on_ties, "both inputs received the whole gradient"),
                        (nobody_on_ties, "sends the gradient nowhere"),
                        (negative_share, "non-negative shares")):
        passed, out = _run(capsys, "ex2", _max_node(rule))
        assert passed is False and words in out, (words, out)

    def to_b_on_ties(a, b, out):                              # either input may take it at a tie
        if a.data > b.data:
            a.grad += out.grad
        else:
            b.grad += out.grad

    for answer in (_max_node(to_b_on_ties), check._rewrite_maximum_split, maximum):
        passed, out = _run(capsys, "ex2", answer)
        assert passed, out


def test_ex1_follows_the_text_only_minus_exp_plus_and_divide(capsys):
    for answer, words in ((lambda v: 0.5 * (1 + (v / 2).tanh()), ".tanh()"),
                          (lambda v: (-(1 + (-v).exp()).log()).exp(), ".log()"),
                          (lambda v: 1 / (1 + (-v).exp()) + 0 * v.relu(), ".relu()")):
        passed, out = _run(capsys, "ex1", answer)
        assert passed is False and words in out and "does not allow" in out, (words, out)
    for answer in (lambda v: v.exp() / (1 + v.exp()), lambda v: (1 - (-1) * (-v).exp()) ** -1,
                   lambda v: 1 / (1 + math.e ** (-v))):
        passed, out = _run(capsys, "ex1", answer)
        assert passed, out


def test_ex4_rejects_a_softmax_that_overflows_on_large_logits(capsys):
    def stable_loss_unstable_gradient(x, W, b, y):           # exp(z) without the max shift
        loss = softmax_cross_entropy_backward(x, W, b, y)[0]
        e = np.exp(x @ W.T + b)
        dz = e / e.sum(axis=1, keepdims=True)
        dz[np.arange(len(y)), y] -= 1
        dz /= len(y)
        return loss, dz @ W, dz.T @ x, dz.sum(axis=0)

    def db_over_axis_1(x, W, b, y):
        loss, dx, dW, _ = softmax_cross_entropy_backward(x, W, b, y)
        z = x @ W.T + b
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        return loss, dx, dW, (p / len(y)).sum(axis=1)

    def dW_transposed(x, W, b, y):
        loss, dx, dW, db = softmax_cross_entropy_backward(x, W, b, y)
        return loss, dx, dW.T.copy(), db

    for answer, words in ((stable_loss_unstable_gradient, "np.exp overflows there"),
                          (db_over_axis_1, "db from"), (dW_transposed, "dW from")):
        passed, out = _run(capsys, "ex4", answer)
        assert passed is False and words in out, (words, out)

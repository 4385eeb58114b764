"""The scalar engine Value (chapter 05): against torch, double backward, errors, drawing."""

import math

import matplotlib
import pytest
import torch

from dlcore.autograd import Value, draw_graph

matplotlib.use("Agg")


def expression(a, b, c):
    """A long mixed expression that works for both Value and torch tensors."""
    d = a * b + 2.0 - c / 3 + 1.5**b
    e = (d**2 - 4 / (a + 5)).tanh() * c.exp()
    f = ((a * a + 1).log() + b.sigmoid() - c.relu() + (2 - b) * (-a)) / (1 + e**2)
    g = (f * 3 + e - d) ** 3 - (a - 0.5).relu() * 2 ** (c * 0.1)
    return g / (1 + (-b).exp()) + 7 - a


@pytest.mark.parametrize("values", [(0.7, -1.2, 0.4), (-2.0, 0.3, -0.8), (1.5, 2.0, 1.1)])
def test_long_mixed_expression_matches_torch(values):
    ours = [Value(v) for v in values]
    theirs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    out, out_t = expression(*ours), expression(*theirs)
    out.backward()
    out_t.backward()
    assert out.data == pytest.approx(out_t.item(), rel=1e-12)
    for v, t in zip(ours, theirs, strict=True):
        assert v.grad == pytest.approx(t.grad.item(), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("name", ["exp", "log", "tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("x", [-3.0, -0.5, 0.25, 2.0, 30.0, -1000.0, 1000.0])
def test_each_function_matches_torch(name, x):
    if name == "log" and x <= 0:
        x = -x
    if name == "exp" and x > 700:
        with pytest.raises(OverflowError, match=r"exp\(1000.0\) is too large for a float"):
            Value(x).exp()
        return
    v = Value(x)
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out, out_t = getattr(v, name)(), getattr(t, name)()
    out.backward()
    out_t.backward()
    assert out.data == pytest.approx(out_t.item(), rel=1e-14, abs=1e-300)
    assert v.grad == pytest.approx(t.grad.item(), rel=1e-12, abs=1e-300)
    assert math.isfinite(out.data) and math.isfinite(v.grad)


@pytest.mark.parametrize(
    "make",
    [
        lambda x, y: x**3,
        lambda x, y: x**-0.5,
        lambda x, y: 2.0**x,
        lambda x, y: x**y,
        lambda x, y: 3 - x,
        lambda x, y: 3 / x,
        lambda x, y: x / y - y * 2 + 1,
        lambda x, y: -x,
    ],
)
def test_operators_with_numbers_on_either_side(make):
    x, y = Value(1.7), Value(0.6)
    x_t, y_t = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (1.7, 0.6))
    out, out_t = make(x, y), make(x_t, y_t)
    out.backward()
    out_t.backward()
    assert out.data == pytest.approx(out_t.item(), rel=1e-14)
    assert x.grad == pytest.approx(x_t.grad.item(), rel=1e-12)
    assert y.grad == pytest.approx(0.0 if y_t.grad is None else y_t.grad.item(), rel=1e-12)


def test_a_value_used_twice_gets_both_contributions():
    a = Value(3.0)
    (a * a + a).backward()
    assert a.grad == 7.0


def test_backward_twice_does_not_double_count():
    a, b = Value(2.0), Value(-1.5)
    out = (a * b).tanh() + a.exp()
    out.backward()
    first = (a.grad, b.grad)
    out.backward()
    assert (a.grad, b.grad) == first


def test_long_chains_do_not_hit_the_recursion_limit():
    x = Value(1.0)
    y = x
    for _ in range(5000):
        y = y * 1.0001 + 0.0
    y.backward()
    assert x.grad == pytest.approx(1.0001**5000)


def test_bad_inputs():
    with pytest.raises(ValueError, match="log needs a positive value, got -1.0"):
        Value(-1.0).log()
    with pytest.raises(TypeError, match="Value holds a real number, got str"):
        Value("3")
    with pytest.raises(ValueError, match="needs a positive base.*got base -2.0"):
        Value(-2.0) ** Value(2.0)


def test_repr():
    assert repr(Value(2.0, label="w")) == "Value(data=2, grad=0, label='w')"


def test_draw_graph_draws_every_node_and_operation():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    out = (a * b + a).tanh()
    out.label = "out"
    out.backward()
    ax = draw_graph(out)
    texts = [t.get_text() for t in ax.texts]
    # nodes: a, b, a*b, a*b+a, out -> 5 boxes; operations *, +, tanh -> 3 circles
    assert sum("data" in t for t in texts) == 5
    assert {"*", "+", "tanh"} <= set(texts)
    assert any(t.startswith("out | data") and f"{out.data:.4g}" in t for t in texts)
    assert ax.get_title()
    matplotlib.pyplot.close(ax.figure)

"""Direct tests of the chapter 09 checkers: correct answers pass, wrong and odd ones fail by name."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from checker_helpers import SHARED_BAD, run_checker
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dlcore.exercises import ch09 as check

# ---- reference solutions (the same as in exercises/solutions/09_cnn.ipynb) --------------------


def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    span = dilation * (kernel_size - 1) + 1
    return (n + 2 * padding - span) // stride + 1


def conv2d_loops(x, weight, bias, stride=1, padding=0):
    N, C, H, W = x.shape
    O, _, kh, kw = weight.shape
    xp = F.pad(x, (padding, padding, padding, padding))
    H_out = (H + 2 * padding - kh) // stride + 1
    W_out = (W + 2 * padding - kw) // stride + 1
    y = torch.empty(N, O, H_out, W_out, dtype=x.dtype)
    for n in range(N):
        for o in range(O):
            for i in range(H_out):
                for j in range(W_out):
                    patch = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    y[n, o, i, j] = (patch * weight[o]).sum() + bias[o]
    return y


def conv2d(x, weight, bias, stride=1, padding=0):
    N, C, H, W = x.shape
    O, _, kh, kw = weight.shape
    H_out = (H + 2 * padding - kh) // stride + 1
    W_out = (W + 2 * padding - kw) // stride + 1
    cols = F.unfold(x, (kh, kw), padding=padding, stride=stride)
    return (weight.reshape(O, -1) @ cols + bias[:, None]).reshape(N, O, H_out, W_out)


def layer_costs(in_channels, out_channels, kernel_size, height, width, stride=1, padding=0):
    h_out = conv_output_size(height, kernel_size, stride, padding)
    w_out = conv_output_size(width, kernel_size, stride, padding)
    per_output = in_channels * kernel_size**2
    n_in, n_out = in_channels * height * width, out_channels * h_out * w_out
    return {"conv": (out_channels * (per_output + 1), n_out * per_output),
            "dense": (n_in * n_out + n_out, n_in * n_out)}


class ResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def receptive_field(layers):
    r, jump = 1, 1
    for k, s, d in layers:
        r += d * (k - 1) * jump
        jump *= s
    return r


REFERENCE = {"ex1": conv_output_size, "ex2": conv2d_loops, "ex3": conv2d, "ex4": layer_costs,
             "ex5": ResidualBlock, "ex6": receptive_field}


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

    assert checkers_of("ch09") == ["ex1", "ex2", "ex3", "ex4", "ex5", "ex6"] \
        == sorted(check.REFERENCE_ANSWERS)


COMMON_BAD = SHARED_BAD + [
    ("a function that returns None", lambda *a, **k: None, "None"),
    ("a function with the wrong arguments", lambda: 1, "TypeError"),
]


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("desc, answer, words", COMMON_BAD, ids=[c[0] for c in COMMON_BAD])
def test_odd_answers_fail_with_a_message(capsys, name, desc, answer, words):
    passed, out = _run(capsys, name, answer)
    assert passed is False, f"{name} accepted {desc}"
    assert out.startswith("✗") and words in out, out


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("value", [float("nan"), "abc", [1, 2], np.full((2, 2), np.nan), {"conv": None}])
def test_odd_return_values_fail(capsys, name, value):
    passed, out = _run(capsys, name, lambda *a, **k: value)
    assert passed is False and out.startswith("✗"), out
    assert "the checker itself failed" not in out and "could not be checked" not in out, out


# ---- exercise 1 -------------------------------------------------------------------------------


def _size(formula):
    def answer(n, kernel_size, stride=1, padding=0, dilation=1):
        return formula(n, kernel_size, stride, padding, dilation)
    return answer


@pytest.mark.parametrize("formula, words", [
    (lambda n, k, s, p, d: (n + 2 * p - k) // s + 1, "dilation is left out"),
    (lambda n, k, s, p, d: (n + 2 * p - d * k) // s + 1, "d * k"),
    (lambda n, k, s, p, d: math.ceil((n + 2 * p - d * (k - 1) - 1) / s) + 1, "ceil"),
    (lambda n, k, s, p, d: round((n + 2 * p - d * (k - 1) - 1) / s) + 1, "nearest"),
    (lambda n, k, s, p, d: (n + p - d * (k - 1) - 1) // s + 1, "counted once"),
    (lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s, "+ 1 is missing"),
    (lambda n, k, s, p, d: n + 2 * p - d * (k - 1), "stride is ignored"),
    (lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) / s + 1, "whole number"),
    (lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s + 1 + (n == 33 and s == 3), "torch gives"),
    (lambda n, k, s, p, d: str((n + 2 * p - d * (k - 1) - 1) // s + 1), "not a whole number"),
])
def test_ex1_wrong_answers_are_named(capsys, formula, words):
    passed, out = _run(capsys, "ex1", _size(formula))
    assert passed is False and words in out, out


def test_ex1_wrong_defaults_fail(capsys):
    def answer(n, kernel_size, stride=2, padding=0, dilation=1):
        return conv_output_size(n, kernel_size, stride, padding, dilation)

    passed, out = _run(capsys, "ex1", answer)
    assert passed is False and "defaults" in out, out


def test_ex1_accepts_whole_floats_numpy_and_tensor(capsys):
    for wrap in (float, np.int64, torch.tensor):
        passed, out = _run(capsys, "ex1", lambda *a, w=wrap, **k: w(conv_output_size(*a, **k)))
        assert passed, out


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 6), st.integers(1, 4), st.integers(0, 3), st.integers(1, 4))
def test_ex1_reference_matches_torch(n, k, s, p, d):
    if d * (k - 1) + 1 > n + 2 * p:
        return
    assert conv_output_size(n, k, s, p, d) == check._torch_output_size(n, k, s, p, d)


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([1, 2, 3]), st.sampled_from([0, 1, 2]), st.sampled_from([1, 2, 3]),
       st.sampled_from([-1, 1]))
def test_ex1_an_answer_wrong_for_one_combination_fails(s0, p0, d0, delta):
    def answer(n, kernel_size, stride=1, padding=0, dilation=1):
        off = delta if (stride, padding, dilation) == (s0, p0, d0) and kernel_size > 1 else 0
        return conv_output_size(n, kernel_size, stride, padding, dilation) + off

    check.ex1(answer)
    from dlcore.exercises import results
    assert results()["ch09.ex1"] is False


# ---- exercises 2 and 3 -------------------------------------------------------------------------


def _flipped(x, w, b, stride=1, padding=0):
    return conv2d(x, w.flip(2, 3), b, stride, padding)


def _no_bias(x, w, b, stride=1, padding=0):
    return conv2d(x, w, torch.zeros_like(b), stride, padding)


def _transposed_layout(x, w, b, stride=1, padding=0):
    return conv2d(x, w.transpose(0, 1), b, stride, padding)   # fails outright when C_in != C_out


def _one_sided_padding(x, w, b, stride=1, padding=0):
    xp = F.pad(x, (padding, 0, padding, 0))
    return conv2d(xp, w, b, stride, 0)


def _no_padding(x, w, b, stride=1, padding=0):
    return conv2d(x, w, b, stride, 0)


def _no_stride(x, w, b, stride=1, padding=0):
    return conv2d(x, w, b, 1, padding)


def _replicate_padding(x, w, b, stride=1, padding=0):
    return conv2d(F.pad(x, (padding,) * 4, mode="replicate") if padding else x, w, b, stride, 0)


def _bias_per_channel(x, w, b, stride=1, padding=0):
    return conv2d(x, w, b * x.shape[1], stride, padding)


def _nhwc(x, w, b, stride=1, padding=0):
    return conv2d(x, w, b, stride, padding).permute(0, 2, 3, 1)


def _kernel_transposed(x, w, b, stride=1, padding=0):
    return conv2d(x, w.transpose(2, 3).reshape(w.shape), b, stride, padding)


def _uses_torch(x, w, b, stride=1, padding=0):
    return F.conv2d(x, w, b, stride=stride, padding=padding)


def _uses_module(x, w, b, stride=1, padding=0):
    layer = nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]), stride, padding).to(x.dtype)
    with torch.no_grad():
        layer.weight.copy_(w)
        layer.bias.copy_(b)
        return layer(x)


def _always_float32(x, w, b, stride=1, padding=0):
    return conv2d(x.float(), w.float(), b.float(), stride, padding)


def _pads_in_place(x, w, b, stride=1, padding=0):
    x.mul_(1.0001)
    return conv2d(x / 1.0001, w, b, stride, padding)


WRONG_CONV = [
    (_flipped, "flipped"),
    (_no_bias, "bias is missing"),
    (_transposed_layout, "(C_in, C_out, kh, kw)"),
    (_one_sided_padding, "one side"),
    (_no_padding, "padding was ignored"),
    (_no_stride, "stride was ignored"),
    (_replicate_padding, "not zeros"),
    (_bias_per_channel, "once per input channel"),
    (_nhwc, "NCHW"),
    (_kernel_transposed, "kernel is transposed"),
    (_uses_torch, "torch's own conv2d"),
    (_uses_module, "torch's own conv2d"),
    (_always_float32, "float32"),
    (_pads_in_place, "in place"),
]


@pytest.mark.parametrize("name", ["ex2", "ex3"])
@pytest.mark.parametrize("answer, words", WRONG_CONV, ids=[w[0].__name__ for w in WRONG_CONV])
def test_ex2_ex3_wrong_answers_are_named(capsys, name, answer, words):
    passed, out = _run(capsys, name, answer)
    assert passed is False and words in out, out


def test_ex2_ex3_accept_numpy_output(capsys):
    for name in ("ex2", "ex3"):
        passed, out = _run(capsys, name, lambda *a, **k: conv2d(*a, **k).numpy())
        assert passed, out


def test_ex3_rejects_loops_over_pixels(capsys):
    passed, out = _run(capsys, "ex3", conv2d_loops)
    assert passed is False and ("Python loop over output pixels" in out or "longer than" in out), out


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(3, 9), st.integers(3, 9), st.integers(1, 4),
       st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2))
def test_solutions_equal_torch(n, c, h, w, o, kh, kw, s, p):
    if kh > h + 2 * p or kw > w + 2 * p:
        return
    g = torch.Generator().manual_seed(h * 100 + w)
    x = torch.randn(n, c, h, w, generator=g, dtype=torch.float64)
    weight = torch.randn(o, c, kh, kw, generator=g, dtype=torch.float64)
    bias = torch.randn(o, generator=g, dtype=torch.float64)
    want = F.conv2d(x, weight, bias, stride=s, padding=p)
    for fn in (conv2d_loops, conv2d, check._conv2d_numpy, check._conv2d_offsets):
        got = torch.as_tensor(fn(x, weight, bias, stride=s, padding=p))
        assert torch.allclose(got, want, atol=1e-10), fn.__name__


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([1e-2, -1e-2, 1.0]))
def test_ex3_one_wrong_entry_fails(index, delta):
    def answer(x, w, b, stride=1, padding=0):
        y = conv2d(x, w, b, stride, padding)
        y.view(-1)[index % y.numel()] += delta
        return y

    check.ex3(answer)
    from dlcore.exercises import results
    assert results()["ch09.ex3"] is False


# ---- exercise 4 -------------------------------------------------------------------------------


def _costs(conv=None, dense=None):
    def answer(c_in, c_out, k, h, w, stride=1, padding=0):
        out = layer_costs(c_in, c_out, k, h, w, stride, padding)
        h_out, w_out = conv_output_size(h, k, stride, padding), conv_output_size(w, k, stride, padding)
        env = dict(c_in=c_in, c_out=c_out, k=k, h=h, w=w, h_out=h_out, w_out=w_out, out=out)
        return {"conv": conv(**env) if conv else out["conv"], "dense": dense(**env) if dense else out["dense"]}
    return answer


@pytest.mark.parametrize("answer, words", [
    (_costs(conv=lambda c_in, c_out, k, out, **e: (c_out * c_in * k * k, out["conv"][1])), "biases are left out"),
    (_costs(conv=lambda c_in, c_out, k, h_out, w_out, out, **e: (out["conv"][0] * h_out * w_out,
                                                                 out["conv"][1])), "weight sharing"),
    (_costs(conv=lambda c_in, c_out, k, out, **e: (c_out * (c_in * k + 1), out["conv"][1])), "k x k"),
    (_costs(conv=lambda c_in, c_out, k, h, w, out, **e: (out["conv"][0], c_out * h * w * c_in * k * k)),
     "input size"),
    (_costs(conv=lambda c_in, c_out, k, h_out, w_out, out, **e: (out["conv"][0], c_out * h_out * w_out * k * k)),
     "all C_in input channels"),
    (_costs(conv=lambda out, **e: (out["conv"][0], 2 * out["conv"][1])), "FLOPs"),
    (_costs(dense=lambda out, c_out, h_out, w_out, **e: (out["dense"][1], out["dense"][1])),
     "dense layer's biases"),
    (_costs(dense=lambda c_in, h, w, out, **e: ((c_in * h * w) ** 2 + c_in * h * w, out["dense"][1])),
     "conv's output"),
    (_costs(dense=lambda out, **e: (out["dense"][0], out["dense"][0])), "one per weight"),
    (_costs(dense=lambda out, **e: (out["dense"][0], 2 * out["dense"][1])), "FLOPs"),
    (_costs(conv=lambda out, **e: (out["conv"][0] + 1, out["conv"][1])), "expected"),
    (lambda *a, **k: (layer_costs(*a, **k)["conv"], layer_costs(*a, **k)["dense"]), "returned a tuple"),
    (lambda *a, **k: {"conv": layer_costs(*a, **k)["conv"][0], "dense": (1, 2)}, "not a pair"),
    (lambda *a, **k: {"conv": (1, 2, 3), "dense": (1, 2)}, "not 2"),
    (lambda *a, **k: {"Conv": (1, 2), "dense": (1, 2)}, "keys"),
    (lambda *a, **k: {k_: (p + 0.5, m) for k_, (p, m) in layer_costs(*a, **k).items()}, "whole number"),
    (lambda c_in, c_out, k, h, w, stride=1, padding=0: layer_costs(c_in, c_out, k, h, w, 1, padding),
     "input size"),
])
def test_ex4_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex4", answer)
    assert passed is False and words in out, out


def test_ex4_accepts_arrays_and_tensors(capsys):
    for wrap in (np.array, torch.tensor, list):
        passed, out = _run(capsys, "ex4", lambda *a, w=wrap, **k: {key: w(v) for key, v in
                                                                  layer_costs(*a, **k).items()})
        assert passed, out


@pytest.mark.parametrize("c_in, c_out, k, h, w, s, p", [(1, 16, 3, 28, 28, 1, 1), (3, 4, 5, 11, 9, 2, 2),
                                                         (2, 3, 1, 6, 7, 3, 0)])
def test_ex4_multiply_adds_match_torch_flop_counter(c_in, c_out, k, h, w, s, p):
    conv = nn.Conv2d(c_in, c_out, k, stride=s, padding=p)
    x = torch.zeros(1, c_in, h, w)
    with FlopCounterMode(display=False) as counter:
        out = conv(x)
    dense = nn.Linear(c_in * h * w, out.numel())
    with FlopCounterMode(display=False) as dense_counter:
        dense(x.reshape(1, -1))
    costs = layer_costs(c_in, c_out, k, h, w, s, p)
    assert 2 * costs["conv"][1] == counter.get_total_flops()
    assert 2 * costs["dense"][1] == dense_counter.get_total_flops()
    assert costs["dense"][0] == sum(q.numel() for q in dense.parameters())


# ---- exercise 5 -------------------------------------------------------------------------------


def _block(**changes):
    """A ResidualBlock with one thing changed: each keyword names a mistake."""

    class Block(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__()
            bias = changes.get("bias", False)
            s1, s2 = (1, stride) if changes.get("stride_on_second") else (stride, 1)
            self.conv1 = nn.Conv2d(in_channels, out_channels, 3, s1, padding=1, bias=bias)
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.conv2 = nn.Conv2d(out_channels, out_channels, 3, s2, padding=1, bias=bias)
            self.bn2 = nn.BatchNorm2d(out_channels)
            project = stride != 1 or in_channels != out_channels or changes.get("always_project")
            self.shortcut = nn.Identity()
            if project:
                layers = [nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)]
                if not changes.get("no_shortcut_bn"):
                    layers.append(nn.BatchNorm2d(out_channels))
                self.shortcut = nn.Sequential(*layers)

        def forward(self, x):
            out = self.bn1(self.conv1(x))
            out = out if changes.get("no_middle_relu") else F.relu(out)
            out = self.bn2(self.conv2(out))
            if changes.get("relu_before_add"):
                return F.relu(out) + self.shortcut(x)
            if changes.get("no_add"):
                return F.relu(out)
            if changes.get("no_final_relu"):
                return out + self.shortcut(x)
            if changes.get("detach"):
                return F.relu(out + self.shortcut(x)).detach()
            return F.relu(out + self.shortcut(x))

    return Block


class _NoProjection(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
                                  nn.BatchNorm2d(out_channels), nn.ReLU(),
                                  nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(out_channels))

    def forward(self, x):
        return F.relu(self.body(x) + x)


class _UnusedLayer(ResidualBlock):
    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if isinstance(self.shortcut, nn.Identity) else self.shortcut[0](x)))


@pytest.mark.parametrize("answer, words", [
    (_block(bias=True), "bias=False"),
    (_block(always_project=True), "identity"),
    (_block(no_shortcut_bn=True), "BatchNorm2d layers"),
    (_block(stride_on_second=True), "first 3x3 convolution should have stride"),
    (_block(no_add=True), "shortcut is never added"),
    (_block(no_final_relu=True), "final ReLU is missing"),
    (_block(relu_before_add=True), "before the addition"),
    (_block(no_middle_relu=True), "between the two convolutions"),
    (_block(detach=True), "does not depend on its parameters"),
    (_NoProjection, "no 1x1 projection"),
    (_UnusedLayer, "no gradient reaches"),
    (lambda *a, **k: nn.Identity(), "parameters"),
    (lambda *a, **k: "block", "not an nn.Module"),
])
def test_ex5_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex5", answer)
    assert passed is False and words in out, out


class _InPlaceSame(nn.Module):
    """Also correct: torchvision's style, in-place ReLUs, padding="same" where stride is 1."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding="same", bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                            nn.BatchNorm2d(out_channels))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        out += identity
        return self.relu(out)


def test_ex5_accepts_torchvision_style(capsys):
    passed, out = _run(capsys, "ex5", _InPlaceSame)
    assert passed, out


def test_ex5_zeroing_the_last_batch_norm_leaves_the_shortcut():
    """The brief's test: with bn2's scale at 0 the reference block returns ReLU(shortcut(x))."""
    for c_in, c_out, stride in [(4, 4, 1), (3, 6, 2)]:
        block = ResidualBlock(c_in, c_out, stride).eval()
        with torch.no_grad():
            block.bn2.weight.zero_()
            x = torch.randn(2, c_in, 8, 8)
            assert torch.allclose(block(x), F.relu(block.shortcut(x)))


# ---- exercise 6 -------------------------------------------------------------------------------


def _rf_own_stride(layers):
    r, jump = 1, 1
    for k, s, d in layers:
        jump *= s
        r += d * (k - 1) * jump
    return r


@pytest.mark.parametrize("answer, words", [
    (lambda L: receptive_field([(k, s, 1) for k, s, d in L]), "dilation is left out"),
    (lambda L: receptive_field([(k, 1, d) for k, s, d in L]), "strides are left out"),
    (_rf_own_stride, "its own stride"),
    (lambda L: sum(k for k, s, d in L), "adds the kernel sizes"),
    (lambda L: math.prod(k for k, s, d in L), "multiplies"),
    (lambda L: receptive_field(L) if L else 0, "empty stack"),
    (lambda L: receptive_field(L) + 1, "autograd measures"),
    (lambda L: float(receptive_field(L)) + 0.5, "whole number"),
])
def test_ex6_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex6", answer)
    assert passed is False and words in out, out


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 3)), max_size=4))
def test_ex6_formula_equals_the_measured_receptive_field(layers):
    assert receptive_field(layers) == check._measured_receptive_field(layers) \
        == check._receptive_field_backwards(layers)


# ---- reviewer's cases -------------------------------------------------------------------------


def _always_float64(x, w, b, stride=1, padding=0):
    return conv2d(x.double(), w.double(), b.double(), stride, padding)


@pytest.mark.parametrize("name", ["ex2", "ex3"])
def test_ex2_ex3_float64_for_float32_inputs_is_named_as_a_dtype_mistake(capsys, name):
    passed, out = _run(capsys, name, _always_float64)
    assert passed is False and "torch.float64 for torch.float32 inputs" in out, out


def _pixel_loop_batched(x, w, b, stride=1, padding=0):
    """A loop over output pixels, each a product over the batch and the channels: still a loop."""
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    xp = F.pad(x, (padding,) * 4)
    H_out, W_out = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    y = torch.empty(N, O, H_out, W_out, dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            y[:, :, i, j] = torch.einsum("nchw,ochw->no", patch, w) + b
    return y


def _pixel_comprehension(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    xp = F.pad(x, (padding,) * 4)
    H_out, W_out = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    cols = torch.stack([xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw].reshape(N, -1) for i in range(H_out) for j in range(W_out)], dim=2)  # noqa: E501
    return (w.reshape(O, -1) @ cols + b[:, None]).reshape(N, O, H_out, W_out)


def _row_loop(x, w, b, stride=1, padding=0):
    """Correct for exercise 3: a loop over output rows only, each row one unfold."""
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    xp = F.pad(x, (padding,) * 4)
    H_out = (H + 2 * padding - kh) // stride + 1
    rows = []
    for i in range(H_out):
        band = xp[:, :, i * stride:i * stride + kh, :]
        rows.append(conv2d(band, w, b, stride=stride, padding=0))
    return torch.cat(rows, dim=2)


@pytest.mark.parametrize("answer", [_pixel_loop_batched, _pixel_comprehension])
def test_ex3_names_a_loop_over_pixels_even_when_it_is_fast(capsys, answer):
    assert answer(*[torch.randn(2, 3, 7, 6), torch.randn(4, 3, 3, 3), torch.randn(4)]).shape == (2, 4, 5, 4)
    passed, out = _run(capsys, "ex3", answer)
    assert passed is False and "Python loop over output pixels" in out and "ran 1,600 times" in out, out


def test_ex3_accepts_a_loop_over_rows(capsys):
    passed, out = _run(capsys, "ex3", _row_loop)
    assert passed, out


def _costs_as(dtype):
    def answer(*args, **kwargs):
        costs = layer_costs(*args, **kwargs)
        return {k: tuple(np.array(v, dtype=np.int64).astype(dtype)) for k, v in costs.items()}
    return answer


@pytest.mark.parametrize("dtype, words", [(np.int32, "32-bit integer"), (np.float32, "float32")])
def test_ex4_counts_that_overflow_or_round_at_photo_size_fail(capsys, dtype, words):
    passed, out = _run(capsys, "ex4", _costs_as(dtype))
    assert passed is False and words in out and "99, 99" in out, out


def _costs_np_int32(*args, **kwargs):
    return {k: tuple(np.int32(v) for v in pair) for k, pair in layer_costs(*args, **kwargs).items()}


def test_ex4_an_overflow_error_gets_an_integer_hint(capsys):
    passed, out = _run(capsys, "ex4", _costs_np_int32)
    assert passed is False and "OverflowError" in out and "Python ints" in out, out
    assert "compute with floats" not in out, out


class _SecondConvRegisteredFirst(nn.Module):
    """Correct: the layers are registered in another order than forward uses them."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + self.shortcut(x))


class _AddsIntoInput(_SecondConvRegisteredFirst):
    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = self.shortcut(x)      # x itself when the shapes match
        shortcut += out
        return F.relu(shortcut)


class _Relu6(_SecondConvRegisteredFirst):
    def forward(self, x):
        out = self.bn2(self.conv2(F.relu6(self.bn1(self.conv1(x)))))
        return F.relu6(out + self.shortcut(x))


class _Float64Block(nn.Module):
    """Correct: a block kept in float64 that casts its input."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.inner = ResidualBlock(in_channels, out_channels, stride).double()

    def forward(self, x):
        return self.inner(x.double())


@pytest.mark.parametrize("answer", [_SecondConvRegisteredFirst, _Float64Block])
def test_ex5_accepts_other_registration_orders_and_float64(capsys, answer):
    passed, out = _run(capsys, "ex5", answer)
    assert passed, out


@pytest.mark.parametrize("answer, words", [(_AddsIntoInput, "changed its input x in place"),
                                           (_Relu6, "not ReLU(BN(conv(ReLU")])
def test_ex5_rejects_writing_into_the_input_and_relu6(capsys, answer, words):
    passed, out = _run(capsys, "ex5", answer)
    assert passed is False and words in out, out


def _rf_pops(layers):
    r, jump = 1, 1
    while layers:
        k, s, d = layers.pop(0)
        r += d * (k - 1) * jump
        jump *= s
    return r


def test_ex6_rejects_consuming_the_list(capsys):
    passed, out = _run(capsys, "ex6", _rf_pops)
    assert passed is False and "changed the list of layers" in out, out


@pytest.mark.parametrize("name", sorted(check.REFERENCE_ANSWERS))
@pytest.mark.parametrize("value", [torch.empty(3, device="meta"), torch.empty((), device="meta"), 10**400],
                         ids=["meta tensor", "0-d meta tensor", "huge int"])
def test_meta_tensors_and_huge_ints_get_feedback_not_a_checker_failure(capsys, name, value):
    passed, out = run_checker(capsys, check, name, lambda *a, **k: value)
    assert passed is False and out.startswith("✗"), out
    assert "could not be checked" not in out and "the checker itself failed" not in out, out

"""Direct tests of the chapter 11 checkers: correct answers pass, wrong and odd ones fail by name."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from checker_helpers import SHARED_BAD, run_checker

from dlcore.exercises import ch11 as check

# ---- reference solutions (the same as in exercises/solutions/11_transformers.ipynb) ------------


def attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1) @ v


def causal_mask(T):
    return torch.ones(T, T, dtype=torch.bool).tril()


def sinusoidal_encoding(n_positions, d_model):
    t = torch.arange(n_positions, dtype=torch.float64)[:, None]
    freq = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    pe = torch.zeros(n_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(t * freq)
    pe[:, 1::2] = torch.cos(t * freq)
    return pe


def block_parameters(d_model, mlp_ratio):
    attn = 4 * d_model**2 + 4 * d_model
    mlp = 2 * mlp_ratio * d_model**2 + mlp_ratio * d_model + d_model
    return attn + mlp + 4 * d_model


REFERENCE = {"ex1": attention, "ex2": causal_mask, "ex3": sinusoidal_encoding, "ex4": block_parameters}


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

    assert checkers_of("ch11") == ["ex1", "ex2", "ex3", "ex4"] == sorted(check.REFERENCE_ANSWERS)


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


# ---- exercise 1 -------------------------------------------------------------------------------


def _masked(scores, mask):
    return scores if mask is None else scores.masked_fill(~mask, float("-inf"))


def _no_scale(q, k, v, mask=None):
    return _masked(q @ k.transpose(-2, -1), mask).softmax(-1) @ v


def _scale_by_d(q, k, v, mask=None):
    return _masked(q @ k.transpose(-2, -1) / q.shape[-1], mask).softmax(-1) @ v


def _scale_by_dv(q, k, v, mask=None):
    return _masked(q @ k.transpose(-2, -1) / math.sqrt(v.shape[-1]), mask).softmax(-1) @ v


def _mask_ignored(q, k, v, mask=None):
    return attention(q, k, v)


def _mask_inverted(q, k, v, mask=None):
    return attention(q, k, v, None if mask is None else ~mask)


def _zero_after_softmax(q, k, v, mask=None):
    w = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1)
    return (w if mask is None else w * mask) @ v


def _softmax_over_queries(q, k, v, mask=None):
    return _masked(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), mask).softmax(-2).nan_to_num() @ v


def _returns_weights(q, k, v, mask=None):
    return _masked(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), mask).softmax(-1)


def _always_float32(q, k, v, mask=None):
    return attention(q.float(), k.float(), v.float(), mask)


def _hard_coded_d(q, k, v, mask=None):
    return _masked(q @ k.transpose(-2, -1) / math.sqrt(8), mask).softmax(-1) @ v


@pytest.mark.parametrize("answer, words", [
    (_no_scale, "not divided by sqrt(d)"),
    (_scale_by_d, "divided by d, not sqrt(d)"),
    (_scale_by_dv, "sqrt(dv)"),
    (_mask_ignored, "mask was ignored"),
    (_mask_inverted, "inverted"),
    (_zero_after_softmax, "after the softmax"),
    (_softmax_over_queries, "over the queries"),
    (_returns_weights, "shape"),
    (_always_float32, "float32"),
    (_hard_coded_d, "differ"),
])
def test_ex1_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex1", answer)
    assert passed is False and words in out, out


def test_ex1_accepts_numpy_output(capsys):
    passed, out = _run(capsys, "ex1", lambda q, k, v, mask=None: attention(q, k, v, mask).numpy())
    assert passed, out


# ---- exercise 2 -------------------------------------------------------------------------------


@pytest.mark.parametrize("answer, words", [
    (lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1), "diagonal"),
    (lambda T: torch.ones(T, T, dtype=torch.bool).triu(), "upper triangle"),
    (lambda T: torch.ones(T, T).tril(), "not bool"),
    (lambda T: torch.ones(5, 5, dtype=torch.bool).tril(), "shape"),
    (lambda T: ~torch.ones(T, T, dtype=torch.bool).tril(), "inverted"),
    (lambda T: torch.ones(T, T, dtype=torch.bool), "not the lower triangle"),
])
def test_ex2_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex2", answer)
    assert passed is False and words in out, out


# ---- exercise 3 -------------------------------------------------------------------------------


def _pe(n, d, *, swap=False, two=True, blocks=False, start=0, base=10000.0):
    t = np.arange(start, start + n)[:, None]
    i = np.arange(0, d, 2) if two else np.arange(d // 2)
    angle = t * base ** (-i / d)
    a, b = (np.cos(angle), np.sin(angle)) if swap else (np.sin(angle), np.cos(angle))
    if blocks:
        return np.concatenate([a, b], axis=1)
    out = np.zeros((n, d))
    out[:, 0::2], out[:, 1::2] = a, b
    return out


@pytest.mark.parametrize("answer, words", [
    (lambda n, d: _pe(n, d, swap=True), "swapped"),
    (lambda n, d: _pe(n, d, two=False), "2i/D"),
    (lambda n, d: _pe(n, d, blocks=True), "two blocks"),
    (lambda n, d: _pe(n, d, start=1), "start at 1"),
    (lambda n, d: _pe(n, d, base=1000.0), "differ from the formula"),
    (lambda n, d: _pe(n, 16), "shape"),
    (lambda n, d: _pe(n, d).T, "shape"),
])
def test_ex3_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex3", answer)
    assert passed is False and words in out, out


def test_ex3_accepts_float32_tensor_and_list(capsys):
    for answer in [lambda n, d: torch.tensor(_pe(n, d), dtype=torch.float32),
                   lambda n, d: _pe(n, d).tolist()]:
        passed, out = _run(capsys, "ex3", answer)
        assert passed, out


# ---- exercise 4 -------------------------------------------------------------------------------


@pytest.mark.parametrize("answer, words", [
    (lambda d, r: 2 * (2 + r) * d * d, "biases"),
    (lambda d, r: block_parameters(d, r) - 4 * d, "LayerNorms are left out"),
    (lambda d, r: block_parameters(d, r) - 2 * d, "2D each"),
    (lambda d, r: 12 * d * d + 13 * d, "ratio"),
    (lambda d, r: block_parameters(d, r) - d * d - d, "W_O"),
    (lambda d, r: 12 * d * d, "expected"),
    (lambda d, r: float(block_parameters(d, r)) + 0.5, "whole number"),
    (lambda d, r: str(block_parameters(d, r)), "not a number"),
])
def test_ex4_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex4", answer)
    assert passed is False and words in out, out


def test_ex4_accepts_float_and_numpy_int(capsys):
    for answer in [lambda d, r: float(block_parameters(d, r)),
                   lambda d, r: np.int64(block_parameters(d, r)),
                   lambda d, r: torch.tensor(block_parameters(d, r))]:
        passed, out = _run(capsys, "ex4", answer)
        assert passed, out

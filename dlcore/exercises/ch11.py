"""Checkers for the chapter 11 exercises ("Attention and Transformers").

Used in ``exercises/11_transformers.ipynb``::

    from dlcore.exercises import ch11 as check
    check.ex1(attention)

* :func:`ex1` -- ``attention(q, k, v, mask=None) -> tensor``: scaled dot-product attention
  with an optional boolean mask (True = may attend), checked against
  ``torch.nn.functional.scaled_dot_product_attention``.
* :func:`ex2` -- ``causal_mask(T) -> bool tensor (T, T)``: True where position t may attend to j.
* :func:`ex3` -- ``sinusoidal_encoding(n_positions, d_model) -> (n_positions, d_model)``.
* :func:`ex4` -- ``block_parameters(d_model, mlp_ratio) -> int``: the parameter count of a
  pre-LN Transformer block, checked against a real ``torch.nn`` block.

Each checker calls the learner's function on several shapes, sizes and dtypes, varying every
argument, and names the mistake when the answer is off: a missing or wrong scale, a mask
that is inverted or ignored, a softmax over the wrong axis, a strict triangle, sine and
cosine swapped, a missing factor 2 in the exponent, forgotten biases or LayerNorms. None of
them raises.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._core import call, checker, expect

# ---- shared helpers ----------------------------------------------------------------------------


def _as_tensor(value, name: str) -> torch.Tensor:
    """A torch tensor from a tensor or an array-like, or a CheckFailure naming what came back."""
    expect(value is not None, f"{name} returned None.", "Return the result (did you forget `return`?).")
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    try:
        return torch.as_tensor(np.asarray(value))
    except Exception:  # noqa: BLE001  (any odd object becomes feedback)
        expect(False, f"{name} returned a {type(value).__name__}, not a tensor or an array.",
               "Return a torch tensor (or a NumPy array).")
    raise AssertionError("unreachable")


def _close(got: torch.Tensor, want: torch.Tensor) -> bool:
    if got.shape != want.shape:
        return False
    tol = 1e-9 if got.dtype == torch.float64 else 1e-5
    got64, want64 = got.to(torch.float64), want.to(torch.float64)
    return bool(torch.isfinite(got64).all()) and torch.allclose(got64, want64, rtol=tol, atol=tol)


# ---- exercise 1: scaled dot-product attention with a mask ------------------------------------


def _attention_reference(q, k, v, mask=None):
    """The model answer of exercise 1."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1) @ v


def _attention_cases():
    """(what, q, k, v, mask): batch dims, Tq != Tk, dv != d, both dtypes, several masks."""
    g = torch.Generator().manual_seed(11)
    cases = []
    for what, qs, ks, vs, dtype, mask_kind in [
        ("one head, 4 queries, 6 keys, d = 8, dv = 3, no mask", (4, 8), (6, 8), (6, 3),
         torch.float64, None),
        ("a batch of 2, 3 heads, T = 5, d = 16, dv = 5, causal mask", (2, 3, 5, 16), (2, 3, 5, 16),
         (2, 3, 5, 5), torch.float32, "causal"),
        ("a batch of 3, T = 7, d = 4, dv = 6, padding mask", (3, 7, 4), (3, 7, 4), (3, 7, 6),
         torch.float64, "padding"),
        ("2 heads, 3 queries, 9 keys, d = 32, dv = 2, random mask", (2, 3, 32), (2, 9, 32), (2, 9, 2),
         torch.float32, "random"),
    ]:
        q = torch.randn(*qs, generator=g, dtype=dtype) * 2
        k = torch.randn(*ks, generator=g, dtype=dtype) * 2
        v = torch.randn(*vs, generator=g, dtype=dtype)
        tq, tk = qs[-2], ks[-2]
        if mask_kind is None:
            mask = None
        elif mask_kind == "causal":
            mask = torch.ones(tq, tk, dtype=torch.bool).tril()
        elif mask_kind == "padding":
            lengths = torch.tensor([7, 4, 2])
            mask = (torch.arange(tk)[None, :] < lengths[:, None])[:, None, :]   # (3, 1, Tk)
        else:
            mask = torch.rand(qs[0], tq, tk, generator=g) < 0.5
            mask[..., 0] = True                                            # no empty row
        cases.append((what, q, k, v, mask))
    return cases


def _attention_diagnosis(got, q, k, v, mask) -> str | None:
    """Name the mistake that reproduces ``got``, if one of the usual ones does."""
    d, dv = q.shape[-1], v.shape[-1]
    raw = q @ k.transpose(-2, -1)

    def with_scores(scores, dim=-1, masked=True):
        if mask is not None and masked:
            scores = scores.masked_fill(~mask, float("-inf"))
        return scores.softmax(dim=dim) @ v if dim == -1 else torch.nan_to_num(scores.softmax(dim=dim)) @ v

    tries = [
        ("the scores were not divided by sqrt(d).", with_scores(raw)),
        ("the scores were divided by d, not sqrt(d).", with_scores(raw / d)),
        ("the scores were divided by sqrt(dv), the width of the values, not sqrt(d) of the "
         "queries and keys.", with_scores(raw / math.sqrt(dv))),
        ("the mask was ignored.", with_scores(raw / math.sqrt(d), masked=False)),
    ]
    if mask is not None:
        tries.append(("the mask is inverted: True must mean 'may attend'.",
                      torch.nan_to_num((raw / math.sqrt(d)).masked_fill(mask, float("-inf")).softmax(-1)) @ v))
        post = (raw / math.sqrt(d)).softmax(-1) * mask
        tries.append(("the masked weights were set to 0 after the softmax, so the rows no longer sum "
                      "to 1.", post @ v))
    tries.append(("the softmax was taken over the queries (dim=-2), not over the keys (dim=-1).",
                  with_scores(raw / math.sqrt(d), dim=-2)))
    for message, candidate in tries:
        if got.shape == candidate.shape and _close(got, candidate.to(got.dtype)):
            return message
    return None


@checker("scaled dot-product attention with a mask")
def ex1(attention):
    """``attention(q, k, v, mask=None)`` -> (..., Tq, dv), as ``F.scaled_dot_product_attention``."""
    for what, q, k, v, mask in _attention_cases():
        name = f"attention on {what}"
        got = _as_tensor(call(attention, q.clone(), k.clone(), v.clone(),
                              None if mask is None else mask.clone()), name)
        want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        expect(got.shape == want.shape, f"{name} returned shape {tuple(got.shape)}, expected "
               f"{tuple(want.shape)}.", "The output has one row per query and the width of the values: "
               "(..., Tq, dv). Return weights @ v, not the weights.")
        expect(got.is_floating_point(), f"{name} returned dtype {got.dtype}.", "Return a float tensor.")
        if mask is not None and not bool(torch.isfinite(got).all()):
            expect(False, f"{name} contains NaN: some query had every key masked out, so its softmax "
                   "was 0/0. Is the mask inverted?", "True in the mask means 'may attend': fill the "
                   "scores where the mask is False (~mask) with -inf.")
        if not _close(got, want):
            diagnosis = _attention_diagnosis(got.to(q.dtype), q, k, v, mask)
            expect(False, f"{name}: " + (diagnosis or "the values differ from "
                                         "F.scaled_dot_product_attention's."),
                   "softmax(q k^T / sqrt(d)) v, with d = q.shape[-1], forbidden scores set to -inf "
                   "before a softmax over the last axis (the keys).")
        expect(got.dtype == q.dtype, f"{name} returned {got.dtype} for {q.dtype} inputs.",
               "Keep the input's dtype (no .float() or .double()).")
    return "Matches F.scaled_dot_product_attention with and without masks, in float32 and float64."


# ---- exercise 2: a causal mask -----------------------------------------------------------------


def _causal_mask_reference(T):
    """The model answer of exercise 2 (as a NumPy array; a torch bool tensor passes too)."""
    return np.tril(np.ones((T, T), dtype=bool))


@checker("a causal mask")
def ex2(causal_mask):
    """``causal_mask(T)`` -> bool (T, T), True where query t may attend to key j (j <= t)."""
    for T in (5, 2, 12, 1):
        name = f"causal_mask({T})"
        got = _as_tensor(call(causal_mask, T), name)
        expect(tuple(got.shape) == (T, T), f"{name} returned shape {tuple(got.shape)}, expected ({T}, {T}).",
               "Build the mask from T, the argument (no fixed size).")
        expect(got.dtype == torch.bool, f"{name} returned dtype {got.dtype}, not bool.",
               "A float 0/1 mask is added to (or multiplies) scores by mistake; return a bool tensor, "
               "e.g. torch.ones(T, T, dtype=torch.bool).tril().")
        want = torch.from_numpy(_causal_mask_reference(T))
        if not torch.equal(got, want):
            if torch.equal(got, want.T):
                expect(False, f"{name} is the upper triangle: query t would see the future keys j > t.",
                       "Row t (the query) may see columns j <= t: the lower triangle, .tril().")
            if torch.equal(got, torch.ones(T, T, dtype=torch.bool).tril(-1)):
                expect(False, f"{name} leaves out the diagonal: position 0 could attend to nothing.",
                       "A position may attend to itself: tril() with diagonal 0.")
            if torch.equal(got, ~want):
                expect(False, f"{name} is inverted: True must mean 'may attend'.", "Use .tril(), not ~.")
            expect(False, f"{name} is not the lower triangle (diagonal included).",
                   "mask[t, j] is True exactly when j <= t.")
    return "True on and below the diagonal, for every size."


# ---- exercise 3: sinusoidal positional encodings ------------------------------------------------


def _sinusoidal_reference(n_positions, d_model):
    """The model answer of exercise 3."""
    t = np.arange(n_positions)[:, None]
    freq = 10000.0 ** (-np.arange(0, d_model, 2) / d_model)
    pe = np.zeros((n_positions, d_model))
    pe[:, 0::2] = np.sin(t * freq)
    pe[:, 1::2] = np.cos(t * freq)
    return pe


def _sinusoidal_diagnosis(got, n, d) -> str | None:
    t = np.arange(n)[:, None]
    i2 = np.arange(0, d, 2)
    freq = 10000.0 ** (-i2 / d)
    swapped = np.zeros((n, d))
    swapped[:, 0::2], swapped[:, 1::2] = np.cos(t * freq), np.sin(t * freq)
    no_two = np.zeros((n, d))
    f1 = 10000.0 ** (-(i2 // 2) / d)
    no_two[:, 0::2], no_two[:, 1::2] = np.sin(t * f1), np.cos(t * f1)
    blocks = np.concatenate([np.sin(t * freq), np.cos(t * freq)], axis=1)
    one_based = _sinusoidal_reference(n + 1, d)[1:]
    for message, candidate in [
        ("sine and cosine are swapped: the even columns must hold the sines.", swapped),
        ("the exponent is i/D, not 2i/D (the wavelengths grow too slowly).", no_two),
        ("the sines and cosines are in two blocks; they must alternate (sin in column 2i, cos in "
         "2i + 1).", blocks),
        ("the positions start at 1; they start at 0.", one_based),
    ]:
        if np.allclose(got, candidate, atol=1e-5):
            return message
    return None


@checker("sinusoidal positional encodings")
def ex3(sinusoidal_encoding):
    """``sinusoidal_encoding(n_positions, d_model)`` -> (n_positions, d_model) array or tensor."""
    for n, d in [(6, 4), (10, 16), (3, 2), (50, 64), (1, 8)]:
        name = f"sinusoidal_encoding({n}, {d})"
        got = _as_tensor(call(sinusoidal_encoding, n, d), name)
        expect(tuple(got.shape) == (n, d), f"{name} returned shape {tuple(got.shape)}, expected ({n}, {d}).",
               "One row per position, one column per dimension; use the arguments, not fixed sizes.")
        expect(got.is_floating_point(), f"{name} returned dtype {got.dtype}.", "Return floats.")
        got = got.to(torch.float64).numpy()
        expect(bool(np.isfinite(got).all()), f"{name} contains NaN or inf.", "Check the exponent.")
        want = _sinusoidal_reference(n, d)
        if not np.allclose(got, want, atol=1e-5):
            diagnosis = _sinusoidal_diagnosis(got, n, d)
            expect(False, f"{name}: " + (diagnosis or "the values differ from the formula."),
                   "PE[t, 2i] = sin(t / 10000^(2i/D)), PE[t, 2i+1] = cos(t / 10000^(2i/D)), t from 0.")
    return "The sinusoidal encodings, for every size."


# ---- exercise 4: parameters of a block --------------------------------------------------------


def _torch_block_count(d_model, mlp_ratio) -> int:
    """Parameters of a real pre-LN block: LN, in/out projections, LN, MLP D -> rD -> D."""
    hidden = mlp_ratio * d_model
    parts = [nn.LayerNorm(d_model), nn.Linear(d_model, 3 * d_model), nn.Linear(d_model, d_model),
             nn.LayerNorm(d_model), nn.Linear(d_model, hidden), nn.Linear(hidden, d_model)]
    return sum(p.numel() for m in parts for p in m.parameters())


def _block_parameters_reference(d_model, mlp_ratio):
    """The model answer of exercise 4."""
    attention = 4 * d_model * d_model + 4 * d_model
    mlp = 2 * mlp_ratio * d_model * d_model + mlp_ratio * d_model + d_model
    return attention + mlp + 4 * d_model


@checker("the parameters of a Transformer block")
def ex4(block_parameters):
    """``block_parameters(d_model, mlp_ratio)`` -> int, the parameters of one pre-LN block."""
    for d, r in [(64, 4), (8, 4), (48, 2), (100, 3), (1, 1), (768, 4)]:
        name = f"block_parameters({d}, {r})"
        got = call(block_parameters, d, r)
        expect(got is not None, f"{name} returned None.", "Return the count.")
        if isinstance(got, torch.Tensor) and got.numel() == 1 and not got.is_floating_point():
            got = got.item()                               # a 0-d integer tensor is a count too
        elif isinstance(got, np.ndarray) and got.size == 1:
            got = got.item()
        expect(isinstance(got, numbers.Real) and not isinstance(got, bool),
               f"{name} returned a {type(got).__name__}, not a number.", "Return an int.")
        expect(float(got) == int(got), f"{name} returned {got}, not a whole number.",
               "A count of parameters is an integer.")
        want = _torch_block_count(d, r)
        got = int(got)
        if got != want:
            no_bias = want - (4 * d + r * d + d)
            for message, candidate in [
                ("the biases are left out (4D in attention, rD + D in the MLP).", no_bias),
                ("the two LayerNorms are left out (a scale and a shift each: 4D).", want - 4 * d),
                ("the LayerNorms have a scale and a shift: 2D each, not D.", want - 2 * d),
                ("the MLP ratio was taken as 4, not the mlp_ratio argument.", _torch_block_count(d, 4)),
                ("W_O, the output projection (D^2 + D), is missing.", want - d * d - d),
            ]:
                expect(got != candidate or candidate == want, f"{name} = {got}: {message}",
                       "Count every weight matrix and bias, and both LayerNorms.")
            expect(False, f"{name} = {got}, expected {want}.",
                   "Attention: W_Q, W_K, W_V, W_O with biases; MLP: D x rD and rD x D with biases; "
                   "two LayerNorms.")
    return "The count matches a real torch block for every width and MLP ratio."


#: Reference answers for the checker battery: one per checker.
REFERENCE_ANSWERS = {"ex1": _attention_reference, "ex2": _causal_mask_reference,
                     "ex3": _sinusoidal_reference, "ex4": _block_parameters_reference}


def _attention_loop(q, k, v, mask=None):
    """One query at a time, in NumPy-free torch loops, weights normalised by hand."""
    d = q.shape[-1]
    scores = torch.einsum("...qd,...kd->...qk", q, k) / d ** 0.5
    if mask is not None:
        scores = torch.where(mask, scores, torch.tensor(float("-inf"), dtype=scores.dtype))
    scores = scores - scores.amax(-1, keepdim=True)
    e = scores.exp()
    return torch.einsum("...qk,...kv->...qv", e / e.sum(-1, keepdim=True), v)


def _causal_mask_torch(T):
    return torch.ones(T, T, dtype=torch.bool).tril()


def _causal_mask_loop(T):
    return np.array([[j <= t for j in range(T)] for t in range(T)], dtype=bool)


def _sinusoidal_loop(n_positions, d_model):
    rows = []
    for t in range(n_positions):
        row = []
        for i in range(d_model // 2):
            angle = t / 10000 ** (2 * i / d_model)
            row += [math.sin(angle), math.cos(angle)]
        rows.append(row)
    return torch.tensor(rows, dtype=torch.float32)


def _block_parameters_formula(d_model, mlp_ratio):
    return 2 * (2 + mlp_ratio) * d_model**2 + (9 + mlp_ratio) * d_model


#: Other correct answers, written differently (the battery checks that they pass).
CORRECT_REWRITES = {"ex1": [_attention_loop], "ex2": [_causal_mask_torch, _causal_mask_loop], "ex3": [_sinusoidal_loop],
                    "ex4": [_block_parameters_formula]}

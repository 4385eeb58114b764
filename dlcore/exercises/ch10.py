"""Checkers for the chapter 10 exercises ("Recurrent networks and LSTMs").

Used in ``exercises/10_rnn.ipynb``::

    from dlcore.exercises import ch10 as check
    check.ex1(rnn_step)

* :func:`ex1` -- ``rnn_step(x, h, W_ih, W_hh, b_ih, b_hh) -> h_next``: one step of a tanh RNN
  with PyTorch's weight layout, checked against ``nn.RNNCell`` with the same weights.
* :func:`ex2` -- ``bigram_nll(train_names, eval_names, alpha, chars) -> float``: the
  per-character NLL (nats) of an add-alpha smoothed count bigram with boundary token ``"."``.
* :func:`ex3` -- ``lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh) -> (h_next, c_next)``, checked
  against ``nn.LSTMCell`` (gate order i, f, g, o).
* :func:`ex4` -- ``clip_grad_norm(params, max_norm) -> total_norm``: rescales every
  ``p.grad`` so that the global norm is at most ``max_norm`` (in place, or by assigning
  ``p.grad``; either leaves ``p.grad`` holding the clipped gradient) and returns the norm
  *before* clipping, as ``torch.nn.utils.clip_grad_norm_`` does.
* :func:`ex5` -- ``persistence_mae(y, horizon, n_test) -> float``: the MAE of the forecast
  ``y[t - horizon]`` over the last ``n_test`` values of a series.

Each checker calls the learner's function on several sizes, dtypes and parameter values, and
names the mistake when the answer is off: transposed weights, a missing bias, the wrong
nonlinearity, a swapped gate order, a hard-coded alpha, smoothing only the seen pairs, a
forgotten end token, log base 2, a mean over names, per-tensor clipping, clipping below the
threshold, an off-by-one horizon. None of them raises.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from torch import nn

from ._core import CheckFailure, _describe_student_error, _StudentError, call, checker, expect, expect_close

ALPHABET = "abcdefghijklmnopqrstuvwxyz"

# ---- shared helpers ----------------------------------------------------------------------------


def _as_tensor(value, name: str) -> torch.Tensor:
    """A torch tensor from a tensor or an array-like, or a CheckFailure naming what came back."""
    expect(value is not None, f"{name} returned None.", "Return the result (did you forget `return`?).")
    if isinstance(value, torch.Tensor):
        expect(not value.is_meta, f"{name} returned a tensor on the meta device, which has a shape but no values.", "Create tensors on the CPU (or the inputs' device), not with device=\"meta\".")
        return value.detach().cpu()
    try:
        arr = np.asarray(value)
        kind = arr.dtype.kind
    except Exception:  # noqa: BLE001  (any odd object becomes feedback)
        kind = None
    expect(kind in ("f", "i", "u", "b"), f"{name} returned a {type(value).__name__}, not a tensor "
           "of numbers.", "Return a torch tensor (or a NumPy array).")
    return torch.as_tensor(arr)


def _as_number(value, name: str) -> np.ndarray:
    """One real number as a 0-d array (its dtype kept, so float16 is caught), or a CheckFailure."""
    expect(value is not None, f"{name} returned None.", "Return the number (did you forget `return`?).")
    if isinstance(value, torch.Tensor):
        expect(not value.is_meta, f"{name} returned a tensor on the meta device, which has a shape but no values.", "Create tensors on the CPU (or the inputs' device), not with device=\"meta\".")
        value = value.detach().cpu()
        expect(value.numel() == 1, f"{name} returned a tensor of shape {tuple(value.shape)}, not one "
               "number.", "Reduce to a single number (a mean), e.g. with .mean().")
        value = value.reshape(()).numpy()
    expect(not isinstance(value, (bool, np.bool_, str, bytes)),
           f"{name} returned a {type(value).__name__}, not a number.", "Return a float.")
    try:
        arr = np.asarray(value)
        ok = arr.dtype.kind in "fiu"
    except Exception:  # noqa: BLE001
        ok = False
    expect(ok, f"{name} returned a {type(value).__name__}, not a number.", "Return a float.")
    expect(arr.size == 1, f"{name} returned {arr.size} numbers (shape {arr.shape}), not one.",
           "Reduce to a single number, e.g. with .mean().")
    return arr.reshape(())


def _close(got: torch.Tensor, want: torch.Tensor, tol: float | None = None) -> bool:
    if got.shape != want.shape:
        return False
    if tol is None:   # the less precise of the two: a float64 answer to float32 inputs is then
        # named by the dtype check, not as "the values differ"
        tol = 1e-9 if got.dtype == want.dtype == torch.float64 else 1e-5
    got64, want64 = got.to(torch.float64), want.to(torch.float64)
    return bool(torch.isfinite(got64).all()) and torch.allclose(got64, want64, rtol=tol, atol=tol)


def _first_match(got: torch.Tensor, tries) -> str | None:
    for message, candidate in tries:
        if candidate is not None and _close(got, candidate.to(got.dtype)):
            return message
    return None


def _cell_cases(gates: int):
    """(what, x, h, c, W_ih, W_hh, b_ih, b_hh) on several sizes and both dtypes; square first."""
    g = torch.Generator().manual_seed(10)
    cases = []
    for what, B, D, H, dtype in [
        ("a batch of 3, input 4, hidden 4, float64", 3, 4, 4, torch.float64),
        ("a batch of 5, input 3, hidden 7, float32", 5, 3, 7, torch.float32),
        ("one example, input 6, hidden 2, float64", 1, 6, 2, torch.float64),
        ("a batch of 4, input 5, hidden 5, float32", 4, 5, 5, torch.float32),
    ]:
        k = 1 / math.sqrt(H)

        def u(*shape, k=k, dtype=dtype):
            return (torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1).mul(k).to(dtype)

        x = torch.randn(B, D, generator=g, dtype=torch.float64).to(dtype)
        h = torch.randn(B, H, generator=g, dtype=torch.float64).to(dtype)
        c = torch.randn(B, H, generator=g, dtype=torch.float64).to(dtype)
        cases.append((what, x, h, c, u(gates * H, D), u(gates * H, H), u(gates * H), u(gates * H)))
    return cases


def _unchanged(before, after, names, fname) -> None:
    for label, a, b in zip(names, before, after):
        expect(torch.equal(a, b), f"{fname} changed its argument {label} in place.",
               "Compute new tensors (h_new = ...); do not write into the inputs (no +=, no [...] =).")


# ---- exercise 1: one RNN step -------------------------------------------------------------------


def _rnn_reference(x, h, W_ih, W_hh, b_ih, b_hh):
    """The model answer of exercise 1."""
    return torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)


def _rnn_diagnosis(got, x, h, W_ih, W_hh, b_ih, b_hh) -> str | None:
    square = W_ih.shape[0] == W_ih.shape[1]
    xi, hh = x @ W_ih.T, h @ W_hh.T
    tries = [
        ("relu instead of tanh: nn.RNNCell's default nonlinearity is tanh.",
         torch.relu(xi + b_ih + hh + b_hh)),
        ("a sigmoid instead of tanh.", torch.sigmoid(xi + b_ih + hh + b_hh)),
        ("no nonlinearity: tanh is missing.", xi + b_ih + hh + b_hh),
        ("W_hh is used untransposed: h @ W_hh, not h @ W_hh.T.", torch.tanh(xi + b_ih + h @ W_hh + b_hh)),
        ("both biases are missing.", torch.tanh(xi + hh)),
        ("the bias b_ih is missing.", torch.tanh(xi + hh + b_hh)),
        ("the bias b_hh is missing.", torch.tanh(xi + b_ih + hh)),
    ]
    if square:
        tries += [
            ("W_ih is used untransposed: x @ W_ih, not x @ W_ih.T (PyTorch stores weights as "
             "(out, in)).", torch.tanh(x @ W_ih + b_ih + hh + b_hh)),
            ("both weights are used untransposed (x @ W_ih, h @ W_hh).",
             torch.tanh(x @ W_ih + b_ih + h @ W_hh + b_hh)),
            ("the two weights are swapped: x goes with W_ih, h with W_hh.",
             torch.tanh(x @ W_hh.T + b_ih + h @ W_ih.T + b_hh)),
        ]
    return _first_match(got, tries)


@checker("one RNN step")
def ex1(rnn_step):
    """``rnn_step(x, h, W_ih, W_hh, b_ih, b_hh)`` -> (B, H), as ``nn.RNNCell``."""
    for what, x, h, _, W_ih, W_hh, b_ih, b_hh in _cell_cases(1):
        name = f"rnn_step on {what}"
        args = (x, h, W_ih, W_hh, b_ih, b_hh)
        copies = [a.clone() for a in args]
        got = _as_tensor(call(rnn_step, *copies), name)
        _unchanged(args, copies, ["x", "h", "W_ih", "W_hh", "b_ih", "b_hh"], name)
        with torch.random.fork_rng(devices=[]):       # leave the learner's torch RNG alone
            cell = nn.RNNCell(x.shape[1], h.shape[1], dtype=x.dtype)
        with torch.no_grad():
            for p, v in zip((cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh), args[2:]):
                p.copy_(v)
            want = cell(x, h)
        expect(tuple(got.shape) == tuple(want.shape), f"{name} returned shape {tuple(got.shape)}, "
               f"expected {tuple(want.shape)} (batch, hidden).",
               "h_next has one row per example and one column per hidden unit. Use the arguments' "
               "shapes, not fixed sizes.")
        expect(got.is_floating_point(), f"{name} returned dtype {got.dtype}.", "Return a float tensor.")
        expect(bool(torch.isfinite(got).all()), f"{name} contains NaN or inf.",
               "tanh is between -1 and 1; check what you divide by or exponentiate.")
        if not _close(got, want):
            diagnosis = _rnn_diagnosis(got.to(x.dtype), *args)
            expect(False, f"{name}: " + (diagnosis or "the values differ from nn.RNNCell's."),
                   "h_next = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh), with both biases and weights "
                   "of shape (out, in).")
        expect(got.dtype == x.dtype, f"{name} returned {got.dtype} for {x.dtype} inputs.",
               "Keep the input's dtype (no .float() or .double()).")
    return "Matches nn.RNNCell on every size, in float32 and float64."


# ---- exercise 2: the smoothed bigram's NLL per character ---------------------------------------


def _bigram_reference(train_names, eval_names, alpha, chars=ALPHABET):
    """The model answer of exercise 2."""
    itos = [".", *sorted(set(chars))]
    stoi = {ch: i for i, ch in enumerate(itos)}
    V = len(itos)
    counts = np.zeros((V, V))
    for name in train_names:
        seq = [0, *(stoi[ch] for ch in name), 0]
        for a, b in zip(seq, seq[1:]):
            counts[a, b] += 1
    probs = (counts + alpha) / (counts.sum(axis=1, keepdims=True) + alpha * V)
    total, n = 0.0, 0
    for name in eval_names:
        seq = [0, *(stoi[ch] for ch in name), 0]
        for a, b in zip(seq, seq[1:]):
            total -= math.log(probs[a, b])
            n += 1
    return total / n


def _bigram_variant(train, evals, alpha, chars, *, V_extra=1, denom="alphaV", start=True, end=True,
                    score_end=None, seen_only=False, per_name=None, fit_on=None):
    """A parameterised bigram NLL for diagnosis; returns nan when a probability is 0."""
    itos = [".", *sorted(set(chars))]
    stoi = {ch: i for i, ch in enumerate(itos)}
    V = len(itos) - 1 + V_extra
    score_end = end if score_end is None else score_end

    def seq(name, with_end):
        return ([0] if start else []) + [stoi[ch] for ch in name] + ([0] if with_end else [])

    counts = np.zeros((len(itos), len(itos)))
    for name in fit_on if fit_on is not None else train:
        s = seq(name, end)
        for a, b in zip(s, s[1:]):
            counts[a, b] += 1
    rows = counts.sum(axis=1, keepdims=True)
    with np.errstate(all="ignore"):
        if seen_only:
            k = (counts > 0).sum(axis=1, keepdims=True)
            probs = np.where(counts > 0, (counts + alpha) / (rows + alpha * k), 0.0)
        elif denom == "alphaV":
            probs = (counts + alpha) / (rows + alpha * V)
        elif denom == "alpha":
            probs = (counts + alpha) / (rows + alpha)
        else:  # numerator only
            probs = (counts + alpha) / rows
        per = []
        for name in evals:
            s = seq(name, score_end)
            per.append([-math.log(probs[a, b]) if probs[a, b] > 0 else math.inf
                        for a, b in zip(s, s[1:])])
    if per_name == "mean":
        return float(np.mean([np.mean(p) for p in per]))
    if per_name == "sum":
        return float(np.sum([np.sum(p) for p in per]) / len(per))
    if per_name == "total":
        return float(np.sum([np.sum(p) for p in per]))
    return float(np.sum([np.sum(p) for p in per]) / sum(len(p) for p in per))


def _random_words(rng, letters, n, lo=2, hi=7):
    return ["".join(rng.choice(list(letters), size=int(rng.integers(lo, hi + 1)))) for _ in range(n)]


_REAL_TRAIN = ["mary", "james", "anna", "john", "emma", "noah", "olivia", "liam", "ava", "ethan",
               "sophia", "mason", "isabella", "logan", "mia", "lucas", "amelia", "jacob", "ella",
               "aiden", "harper", "elijah", "evelyn", "oliver", "abigail", "daniel", "emily", "henry"]
_REAL_EVAL = ["hannah", "jack", "zoe", "owen", "lily", "wyatt", "grace", "quinn", "ruby", "axel"]


def _bigram_cases():
    """(what, train, eval, alpha, chars): every argument varies, unseen pairs and rows included."""
    rng = np.random.default_rng(10)
    return [
        ("a toy vocabulary 'ab', alpha = 1", ["ab", "ba", "aab", "b"], ["abb", "a", "bba"], 1.0, "ab"),
        ("random words over 'abcde', vocabulary 'abcdef' (f unseen in training), alpha = 0.5",
         _random_words(rng, "abcde", 40), _random_words(rng, "abcdef", 12), 0.5, "abcdef"),
        ("28 real names, the 26-letter vocabulary, alpha = 0.1", _REAL_TRAIN, _REAL_EVAL, 0.1, ALPHABET),
        ("random words over 'xyz', alpha = 3", _random_words(rng, "xyz", 15, 1, 5),
         _random_words(rng, "xyz", 6, 1, 9), 3.0, "xyz"),
        ("real names, alpha = 0.01", _REAL_EVAL + _REAL_TRAIN[:10], _REAL_TRAIN[10:], 0.01, ALPHABET),
    ]


def _bigram_diagnosis(got: float, train, evals, alpha, chars) -> str | None:
    V = len(set(chars)) + 1

    def v(**kw):
        return _bigram_variant(train, evals, alpha, chars, **kw)

    ref = v()
    tries = [
        ("it is in bits (log base 2); the NLL is in nats (natural log).", ref / math.log(2)),
        ("it uses log base 10; the NLL is in nats (natural log).", ref / math.log(10)),
        ("the end token is missing: after the last character, '.' must be predicted too.", v(end=False)),
        ("the end token is counted but never scored: the evaluation must predict it too.",
         v(score_end=False)),
        ("the end token is scored but was not counted in training.", v(end=False, score_end=True)),
        ("the start token is missing: the first character is predicted from '.'.", v(start=False)),
        ("it is the mean over names of each name's mean NLL; average over all predicted "
         "characters instead.", v(per_name="mean")),
        ("it is the total NLL divided by the number of names; divide by the number of predicted "
         "characters (len(name) + 1 per name).", v(per_name="sum")),
        ("it is the total NLL, not the mean per character.", v(per_name="total")),
        ("alpha is added to the counts but not to the denominator: it must be N(a) + alpha V.",
         v(denom="none")),
        ("the denominator has alpha, not alpha V (V = the number of tokens, boundary included).",
         v(denom="alpha")),
        ("V leaves out the boundary token: V = len(chars) + 1.", v(V_extra=0)),
        ("the counts come from the evaluation names, not the training names.", v(fit_on=evals)),
        ("the counts include the evaluation names: fit on the training names only.",
         v(fit_on=list(train) + list(evals))),
        ("only the pairs seen in training were smoothed; alpha goes to every pair (a, b), seen or not.",
         v(seen_only=True)),
    ]
    if alpha != 1.0:
        tries.insert(0, ("alpha was taken as 1, not the alpha argument.",
                         _bigram_variant(train, evals, 1.0, chars)))
    seen_chars = set("".join(train))
    if seen_chars < set(chars):   # before "V leaves out the boundary", which can coincide with it
        at = next(i for i, (m, _) in enumerate(tries) if m.startswith("V leaves out"))
        tries.insert(at, ("the vocabulary was built from the training names; it is '.' plus chars, "
                      "V = len(chars) + 1, even when a character never occurs in training.",
                      _bigram_variant(train, evals, alpha, chars, V_extra=len(seen_chars) + 1 - V + 1)))
    if V != 27:
        tries.append(("V was taken as 27; use V = len(chars) + 1.",
                      _bigram_variant(train, evals, alpha, chars, V_extra=28 - V)))
    for message, candidate in tries:
        if math.isfinite(candidate) and math.isclose(got, candidate, rel_tol=1e-5, abs_tol=1e-9):
            return message
    return None


@checker("the smoothed bigram's NLL per character")
def ex2(bigram_nll):
    """``bigram_nll(train_names, eval_names, alpha, chars)`` -> the mean NLL in nats."""
    for what, train, evals, alpha, chars in _bigram_cases():
        name = f"bigram_nll on {what}"
        got = _as_number(call(bigram_nll, list(train), list(evals), alpha, chars), name)
        want = _bigram_reference(train, evals, alpha, chars)
        value = float(got) if got.dtype.kind == "f" and got.dtype.itemsize >= 4 else None
        if value is not None and not math.isfinite(value):
            expect(False, f"{name} returned {value}: some pair of the evaluation names got probability 0 "
                   "(or a count of 0 was divided by).",
                   "Add alpha to EVERY pair's count, seen in training or not: "
                   "P(b | a) = (N(a, b) + alpha) / (N(a) + alpha V).")
        if value is not None and not math.isclose(value, want, rel_tol=1e-5, abs_tol=1e-9):
            diagnosis = _bigram_diagnosis(value, train, evals, alpha, chars)
            expect(False, f"{name} returned {value:.6g}, expected {want:.6g}"
                   + (f": {diagnosis}" if diagnosis else "."),
                   "Count pairs in '.' + name + '.' over the training names, smooth every pair with "
                   "alpha, then average -ln P over every predicted character of the evaluation names.")
        expect_close(got, want, rtol=1e-5, name=name, hint="Return the NLL as a float, in nats.")
    return "The add-alpha bigram's NLL per character, for every alpha, vocabulary and word list."


# ---- exercise 3: an LSTM cell --------------------------------------------------------------------


def _lstm_reference(x, h, c, W_ih, W_hh, b_ih, b_hh):
    """The model answer of exercise 3."""
    i, f, g, o = (x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).chunk(4, dim=1)
    c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_next), c_next


def _lstm_variant(x, h, c, W_ih, W_hh, b_ih, b_hh, *, order="ifgo", g_act=torch.tanh, forget="f",
                  out_tanh=True, old_c=False, biases=(True, True)):
    # (an untransposed W_ih (4H, D) or W_hh (4H, H) fails on shapes, with the harness's hint)
    z = x @ W_ih.T + (b_ih if biases[0] else 0) + h @ W_hh.T + (b_hh if biases[1] else 0)
    parts = dict(zip(order, z.chunk(4, dim=1)))
    i, f, o = torch.sigmoid(parts["i"]), torch.sigmoid(parts["f"]), torch.sigmoid(parts["o"])
    g = g_act(parts["g"])
    keep = {"f": f * c, "none": c, "drop": 0}[forget]
    c_next = keep + i * g
    h_next = o * (torch.tanh(c if old_c else c_next) if out_tanh else c_next)
    return h_next, c_next


def _lstm_diagnosis(got_h, got_c, args) -> str | None:
    def both(**kw):
        return _lstm_variant(*args, **kw)

    tries = [
        ("a sigmoid on g: the candidate g goes through tanh, only i, f and o through sigmoid.",
         both(g_act=torch.sigmoid)),
        ("the forget gate is missing (c_next = c + i g): it must be f * c + i * g.", both(forget="none")),
        ("the old cell state is dropped (c_next = i g): it must be f * c + i * g.", both(forget="drop")),
        ("h_next = o * c_next: tanh of the new cell state is missing.", both(out_tanh=False)),
        ("h_next uses tanh of the OLD cell state c; use the new one, c_next.", both(old_c=True)),
        ("both biases are missing.", both(biases=(False, False))),
        ("the bias b_ih is missing.", both(biases=(False, True))),
        ("the bias b_hh is missing.", both(biases=(True, False))),
    ]
    for perm in itertools.permutations("ifgo"):
        order = "".join(perm)
        if order != "ifgo":
            tries.append((f"the gates are read in the order {', '.join(order)}; PyTorch's order of "
                          "the four chunks is i, f, g, o.", both(order=order)))
    for message, (h_c, c_c) in tries:
        if _close(got_h, h_c.to(got_h.dtype)) and (got_c is None or _close(got_c, c_c.to(got_c.dtype))):
            return message
    return None


@checker("an LSTM cell")
def ex3(lstm_cell):
    """``lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh)`` -> ``(h_next, c_next)``, as ``nn.LSTMCell``."""
    for what, x, h, c, W_ih, W_hh, b_ih, b_hh in _cell_cases(4):
        name = f"lstm_cell on {what}"
        args = (x, h, c, W_ih, W_hh, b_ih, b_hh)
        copies = [a.clone() for a in args]
        out = call(lstm_cell, *copies)
        _unchanged(args, copies, ["x", "h", "c", "W_ih", "W_hh", "b_ih", "b_hh"], name)
        expect(out is not None, f"{name} returned None.", "Return the pair: return h_next, c_next.")
        expect(isinstance(out, (tuple, list)) and len(out) == 2,
               f"{name} returned {'a ' + type(out).__name__ if not isinstance(out, (tuple, list)) else f'{len(out)} values'}"
               ", not the pair (h_next, c_next).", "End with `return h_next, c_next`.")
        got_h, got_c = _as_tensor(out[0], name + " (h_next)"), _as_tensor(out[1], name + " (c_next)")
        with torch.random.fork_rng(devices=[]):
            cell = nn.LSTMCell(x.shape[1], h.shape[1], dtype=x.dtype)
        with torch.no_grad():
            for p, v in zip((cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh), args[3:]):
                p.copy_(v)
            want_h, want_c = cell(x, (h, c))
        for label, got, want in (("h_next", got_h, want_h), ("c_next", got_c, want_c)):
            expect(tuple(got.shape) == tuple(want.shape), f"{name} returned {label} of shape "
                   f"{tuple(got.shape)}, expected {tuple(want.shape)} (batch, hidden).",
                   "Split the 4H pre-activations into four (batch, H) chunks: z.chunk(4, dim=1).")
            expect(got.is_floating_point() and bool(torch.isfinite(got).all()),
                   f"{name}: {label} is not a finite float tensor.", "Check the gates' formulas.")
        if _close(got_h, want_c) and _close(got_c, want_h):
            expect(False, f"{name}: h_next and c_next are swapped.", "Return (h_next, c_next), in that order.")
        if not (_close(got_h, want_h) and _close(got_c, want_c)):
            diagnosis = _lstm_diagnosis(got_h.to(x.dtype), got_c.to(x.dtype), args)
            wrong = "h_next" if _close(got_c, want_c) else "c_next"
            expect(False, f"{name}: " + (diagnosis or f"{wrong} differs from nn.LSTMCell's."),
                   "z = x W_ih^T + b_ih + h W_hh^T + b_hh; i, f, g, o = z.chunk(4, dim=1); "
                   "c_next = sig(f) c + sig(i) tanh(g); h_next = sig(o) tanh(c_next).")
        for label, got in (("h_next", got_h), ("c_next", got_c)):
            expect(got.dtype == x.dtype, f"{name} returned {label} as {got.dtype} for {x.dtype} inputs.",
                   "Keep the input's dtype (no .float() or .double()).")
    return "Matches nn.LSTMCell (h and c) on every size, in float32 and float64."


# ---- exercise 4: clipping by the global norm -----------------------------------------------------


#: Relative tolerance for clipped gradients: torch divides by total + 1e-6, a plain total is fine too.
_CLIP_TOL = 1e-5


def _clip_reference(params, max_norm):
    """The model answer of exercise 4."""
    grads = [p.grad for p in params if p.grad is not None]
    total = torch.sqrt(sum((g.double() ** 2).sum() for g in grads))
    scale = min(1.0, max_norm / (float(total) + 1e-6))
    for g in grads:
        g.mul_(scale)
    return float(total)


def _clip_cases():
    """(what, params (with .grad), max_norm); in some the norm is below max_norm, one has grad None."""
    g = torch.Generator().manual_seed(10)
    cases = []
    for what, shapes, scales, dtype, max_norm, no_grad in [
        ("three tensors, float64, global norm about 8, max_norm = 1", [(4, 3), (3,), (2, 2, 2)],
         [2.0, 1.0, 0.5], torch.float64, 1.0, ()),
        ("two tensors, float32, global norm about 2, max_norm = 5 (below: no clipping)", [(3, 3), (5,)],
         [0.5, 0.4], torch.float32, 5.0, ()),
        ("ten small tensors, float64, each norm below max_norm = 3 but the global norm above",
         [(5,)] * 10, [1.0] * 10, torch.float64, 3.0, ()),
        ("four tensors, float32, one without a gradient (grad None), max_norm = 0.25",
         [(2, 6), (6,), (3, 2), (4,)], [1.0, 0.3, 0.2, 1.0], torch.float32, 0.25, (1,)),
        ("one tensor, float64, global norm about 20, max_norm = 2.5", [(10, 4)], [3.0],
         torch.float64, 2.5, ()),
    ]:
        params = []
        for i, (shape, s) in enumerate(zip(shapes, scales)):
            p = torch.randn(shape, generator=g, dtype=torch.float64).to(dtype).requires_grad_()
            if i not in no_grad:
                p.grad = (torch.randn(shape, generator=g, dtype=torch.float64) * s).to(dtype)
            params.append(p)
        cases.append((what, params, max_norm))
    return cases


def _clone_params(params):
    out = []
    for p in params:
        q = p.detach().clone().requires_grad_()
        q.grad = None if p.grad is None else p.grad.clone()
        out.append(q)
    return out


def _clip_grads_diagnosis(got, before, max_norm, total) -> str | None:
    """Name the rule that turned the gradients ``before`` into ``got`` (lists of tensors)."""
    norms = [float(b.double().norm()) for b in before]

    def scaled(factors):
        return [b * f for b, f in zip(before, factors)]

    tries = [
        ("the gradients were not changed: rescale them in place (p.grad.mul_(s)) or assign "
         "p.grad = p.grad * s.", before),
        ("each tensor was clipped by its own norm; clipping by the GLOBAL norm uses one factor for "
         "all tensors.", scaled([min(1.0, max_norm / (n + 1e-6)) for n in norms])),
        ("the gradients were rescaled to norm max_norm although the global norm was below it: the "
         "factor is min(1, max_norm / total).", scaled([max_norm / total] * len(before))),
        ("max_norm was taken as 1, not the max_norm argument.",
         scaled([min(1.0, 1.0 / total)] * len(before))),
        ("the factor is inverted: multiply by max_norm / total, not total / max_norm.",
         scaled([max(1.0, total / max_norm)] * len(before))),
        ("the global norm was taken as the sum of the tensors' norms, not the square root of the "
         "sum of their squared norms.", scaled([min(1.0, max_norm / sum(norms))] * len(before))),
        ("the global norm is missing its square root (the sum of squares was used).",
         scaled([min(1.0, max_norm / total ** 2)] * len(before))),
    ]
    for message, candidate in tries:
        if all(_close(a.detach(), b.to(a.dtype), _CLIP_TOL) for a, b in zip(got, candidate)):
            return message
    return None


@checker("gradient clipping by the global norm")
def ex4(clip_grad_norm):
    """``clip_grad_norm(params, max_norm)`` rescales each ``p.grad``; returns the norm before."""
    for what, params, max_norm in _clip_cases():
        name = f"clip_grad_norm on {what}"
        mine, theirs = _clone_params(params), _clone_params(params)
        want_total = float(torch.nn.utils.clip_grad_norm_(theirs, max_norm))
        before = [p.grad.clone() for p in params if p.grad is not None]
        try:
            got = _as_number(call(clip_grad_norm, list(mine), max_norm), name)
        except _StudentError as err:
            if not (isinstance(err.original, (TypeError, AttributeError)) and "NoneType" in str(err.original)
                    and any(p.grad is None for p in params)):
                raise
            message, _ = _describe_student_error(err.original)
            raise CheckFailure(f"{name}: {message[:1].lower() + message[1:]}",
                               "One parameter has p.grad None (it got no gradient): skip it, "
                               "e.g. grads = [p.grad for p in params if p.grad is not None].") from None
        value = float(got) if got.dtype.kind == "f" and got.dtype.itemsize >= 4 else None
        if value is not None and not math.isclose(value, want_total, rel_tol=1e-5):
            norms = [float(b.double().norm()) for b in before]
            for message, candidate in [
                ("the norm AFTER clipping was returned; return the total norm before clipping.",
                 min(want_total, max_norm)),
                ("max_norm was returned; return the total norm before clipping.", max_norm),
                ("the sum of the tensors' norms was returned, not the global norm sqrt(sum of squares).",
                 sum(norms)),
                ("the sum of squares was returned: the square root is missing.", want_total ** 2),
                ("the largest single tensor's norm was returned, not the global norm.", max(norms)),
            ]:
                expect(not math.isclose(value, candidate, rel_tol=1e-5), f"{name} returned {value:.6g}: "
                       + message, "total = sqrt(sum over tensors of (g ** 2).sum()), over every "
                       "gradient that is not None.")
        expect_close(got, want_total, rtol=1e-5, name=f"{name}: the returned total norm",
                     hint="Return the global norm before clipping, as torch.nn.utils.clip_grad_norm_ does.")
        for p, q in zip(mine, params):
            expect(isinstance(p.grad, torch.Tensor) or q.grad is None,
                   f"{name}: some p.grad is no longer a tensor ({type(p.grad).__name__}).",
                   "Rescale p.grad in place, or assign a tensor of the same shape: p.grad = p.grad * s.")
            expect(p.grad is None or q.grad is not None, f"{name}: a parameter whose grad was None got "
                   "a gradient.", "Skip parameters whose .grad is None; leave them as they are.")
            expect(torch.equal(p.detach(), q.detach()), f"{name} changed the parameters themselves.",
                   "Clip the gradients (p.grad), not the weights (p or p.data).")
        got_grads = [p.grad for p in mine if p.grad is not None]
        for g_got, g_want in zip(got_grads, before):
            expect(tuple(g_got.shape) == tuple(g_want.shape) and g_got.dtype == g_want.dtype,
                   f"{name}: a gradient changed its shape or dtype to {tuple(g_got.shape)}, "
                   f"{g_got.dtype}.", "Multiply each gradient by one number; keep its shape and dtype.")
        want_grads = [p.grad for p in theirs if p.grad is not None]
        if not all(_close(a.detach(), b, _CLIP_TOL) for a, b in zip(got_grads, want_grads)):
            diagnosis = _clip_grads_diagnosis(got_grads, before, max_norm, want_total)
            expect(False, f"{name}: " + (diagnosis or "the clipped gradients differ from "
                                         "torch.nn.utils.clip_grad_norm_'s."),
                   "Multiply every gradient by the same factor min(1, max_norm / total).")
    return "Clips like torch.nn.utils.clip_grad_norm_, below and above max_norm, with a grad None too."


# ---- exercise 5: the persistence baseline's MAE --------------------------------------------------


def _persistence_reference(y, horizon, n_test):
    """The model answer of exercise 5."""
    y = np.asarray(y, dtype=np.float64)
    t = np.arange(len(y) - n_test, len(y))
    return float(np.abs(y[t] - y[t - horizon]).mean())


def _persistence_cases():
    """(what, y, horizon, n_test): every argument varies, float and int series."""
    rng = np.random.default_rng(10)
    years = np.arange(120)
    cyc = 60 + 50 * np.sin(2 * np.pi * years / 11) + rng.normal(0, 8, size=120)
    walk = np.cumsum(rng.normal(0, 1, size=80)).astype(np.float32)
    return [
        ("y = [3, 5, 4, 8, 3, 13, 2, 9], horizon 1, the last 3", np.array([3.0, 5, 4, 8, 3, 13, 2, 9]), 1, 3),
        ("an 11-year cycle of 120 values, horizon 3, the last 30", cyc, 3, 30),
        ("a float32 random walk of 80 values, horizon 11, the last 12", walk, 11, 12),
        ("an int series of 40 values, horizon 2, every value from index 2", rng.integers(0, 50, 40), 2, 38),
        ("the 11-year cycle, horizon 5, the last 7", cyc[:70], 5, 7),
    ]


def _persistence_diagnosis(got, y, h, n) -> str | None:
    y = np.asarray(y, dtype=np.float64)
    L = len(y)
    t = np.arange(L - n, L)

    def mae(hh, tt):
        if hh < 0 or tt.min() - hh < 0:
            return math.nan
        return float(np.abs(y[tt] - y[tt - hh]).mean())

    err = y[t] - y[t - h]
    tries = [
        ("the horizon was taken as 1, not the horizon argument.", mae(1, t)),
        ("the forecast is y[t - horizon + 1]: off by one.", mae(h - 1, t)),
        ("the forecast is y[t - horizon - 1]: off by one.", mae(h + 1, t)),
        ("it is scored on every value from index horizon on, not only the last n_test.",
         mae(h, np.arange(h, L))),
        ("it is scored on the last n_test - 1 values.", mae(h, t[1:]) if n > 1 else math.nan),
        ("it is scored on the last n_test + 1 values.", mae(h, np.arange(L - n - 1, L))),
        ("every test value was forecast from the last training value; the forecast for y[t] is "
         "y[t - horizon].", float(np.abs(y[t] - y[L - n - 1]).mean())),
        ("it is the mean squared error, not the mean absolute error.", float((err ** 2).mean())),
        ("it is the root mean squared error, not the mean absolute error.",
         float(np.sqrt((err ** 2).mean()))),
        ("the errors are signed: take their absolute values before the mean.", float(err.mean())),
        ("the errors are signed: take their absolute values before the mean.", float(-err.mean())),
        ("it is the median absolute error, not the mean.", float(np.median(np.abs(err)))),
        ("it is the sum of the absolute errors, not their mean.", float(np.abs(err).sum())),
    ]
    for message, candidate in tries:
        if math.isfinite(candidate) and math.isclose(got, candidate, rel_tol=1e-5, abs_tol=1e-9):
            return message
    return None


@checker("the persistence baseline's MAE")
def ex5(persistence_mae):
    """``persistence_mae(y, horizon, n_test)`` -> mean |y[t] - y[t - horizon]| over the last n_test."""
    for what, y, h, n in _persistence_cases():
        name = f"persistence_mae on {what}"
        y_copy = y.copy()
        got = _as_number(call(persistence_mae, y_copy, h, n), name)
        expect(np.array_equal(y_copy, y), f"{name} changed the series y in place.",
               "Compute a new array; do not write into y.")
        want = _persistence_reference(y, h, n)
        value = float(got) if got.dtype.kind in "fiu" and got.dtype.itemsize >= 4 else None
        if value is not None and math.isfinite(value) and not math.isclose(value, want, rel_tol=1e-5):
            expect(got.dtype.kind == "f" or value not in (math.floor(want), round(want)),
                   f"{name} returned the whole number {value:g}, expected {want:.6g}: the mean was "
                   "rounded (int() or round()).", "Return the mean as a float.")
            diagnosis = _persistence_diagnosis(value, y, h, n)
            expect(False, f"{name} returned {value:.6g}, expected {want:.6g}"
                   + (f": {diagnosis}" if diagnosis else "."),
                   "For each t among the last n_test indices, the forecast is y[t - horizon]; "
                   "average |y[t] - y[t - horizon]|.")
        expect_close(got, want, rtol=1e-5, name=name, hint="Return the MAE as a float.")
    return "The persistence MAE for every horizon, test length and series."


#: Reference answers for the checker battery: one per checker.
REFERENCE_ANSWERS = {"ex1": _rnn_reference, "ex2": _bigram_reference, "ex3": _lstm_reference,
                     "ex4": _clip_reference, "ex5": _persistence_reference}


def _rnn_linear(x, h, W_ih, W_hh, b_ih, b_hh):
    return torch.tanh(nn.functional.linear(x, W_ih, b_ih) + nn.functional.linear(h, W_hh, b_hh))


def _rnn_numpy(x, h, W_ih, W_hh, b_ih, b_hh):
    x, h, W_ih, W_hh, b_ih, b_hh = (t.numpy() for t in (x, h, W_ih, W_hh, b_ih, b_hh))
    return np.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)


def _bigram_dict_loops(train_names, eval_names, alpha, chars=ALPHABET):
    V = len(chars) + 1
    pairs, firsts = {}, {}
    for name in train_names:
        s = "." + name + "."
        for a, b in zip(s, s[1:]):
            pairs[a, b] = pairs.get((a, b), 0) + 1
            firsts[a] = firsts.get(a, 0) + 1
    logs = [math.log((pairs.get((a, b), 0) + alpha) / (firsts.get(a, 0) + alpha * V))
            for name in eval_names for a, b in zip("." + name, name + ".")]
    return -sum(logs) / len(logs)


def _bigram_torch32(train_names, eval_names, alpha, chars=ALPHABET):
    stoi = {ch: i + 1 for i, ch in enumerate(chars)}
    V = len(chars) + 1
    N = torch.zeros(V, V, dtype=torch.float32)
    for name in train_names:
        ids = [0, *(stoi[c] for c in name), 0]
        for a, b in zip(ids, ids[1:]):
            N[a, b] += 1
    logp = ((N + alpha) / (N.sum(1, keepdim=True) + alpha * V)).log()
    ids = [[0, *(stoi[c] for c in name), 0] for name in eval_names]
    a = torch.tensor([i for s in ids for i in s[:-1]])
    b = torch.tensor([i for s in ids for i in s[1:]])
    return -logp[a, b].mean()


def _lstm_chunks_by_hand(x, h, c, W_ih, W_hh, b_ih, b_hh):
    H = h.shape[1]
    z = torch.cat([x, h], dim=1) @ torch.cat([W_ih, W_hh], dim=1).T + b_ih + b_hh
    i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
    c_next = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return [o.sigmoid() * c_next.tanh(), c_next]


def _clip_assign(params, max_norm):
    grads = [p.grad for p in params if p.grad is not None]
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    if total > max_norm:
        for p in params:
            if p.grad is not None:
                p.grad = p.grad * (max_norm / total)
    return total


def _persistence_loop(y, horizon, n_test):
    errors = [abs(y[t] - y[t - horizon]) for t in range(len(y) - n_test, len(y))]
    return sum(errors) / len(errors)


#: Other correct answers, written differently (the battery checks that they pass).
CORRECT_REWRITES = {"ex1": [_rnn_linear, _rnn_numpy], "ex2": [_bigram_dict_loops, _bigram_torch32],
                    "ex3": [_lstm_chunks_by_hand], "ex4": [_clip_assign], "ex5": [_persistence_loop]}

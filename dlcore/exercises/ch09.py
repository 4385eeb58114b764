"""Checkers for the chapter 09 exercises ("Convolutional neural networks").

Used in ``exercises/09_cnn.ipynb``::

    from dlcore.exercises import ch09 as check
    check.ex1(conv_output_size)

* :func:`ex1` -- ``conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1) -> int``,
  checked against the output length of ``torch.nn.functional.conv1d`` for 400+ settings.
* :func:`ex2` -- ``conv2d_loops(x, weight, bias, stride=1, padding=0)``: a 2-D convolution
  (cross-correlation) of an NCHW batch with Python loops, checked against ``F.conv2d``.
* :func:`ex3` -- ``conv2d(x, weight, bias, stride=1, padding=0)``: the same, vectorised
  (im2col or ``unfold``); also timed on a larger batch, where loops over pixels are too slow.
* :func:`ex4` -- ``layer_costs(in_channels, out_channels, kernel_size, height, width,
  stride=1, padding=0) -> {"conv": (params, mult_adds), "dense": (params, mult_adds)}``.
* :func:`ex5` -- ``ResidualBlock(in_channels, out_channels, stride=1)``: a basic residual
  block with a 1x1 projection shortcut where the shape changes.
* :func:`ex6` -- ``receptive_field(layers) -> int`` for a stack of (kernel, stride, dilation)
  layers, checked against the receptive field that autograd measures.

Every checker varies every argument and names the usual mistakes: a forgotten dilation, a
ceiling instead of a floor, a flipped kernel (true convolution), a missing bias, padding on
one side only, the weight read as (C_in, C_out, ...), weights counted per position, a
shortcut that is never added, a stride ignored. None of them raises.
"""

from __future__ import annotations

import contextlib
import functools
import linecache
import math
import numbers
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from ._core import CheckFailure, _is_student_file, _StudentError, call, checker, expect

# ---- shared helpers ----------------------------------------------------------------------------


def _as_tensor(value, name: str) -> torch.Tensor:
    """A torch tensor from a tensor or an array-like, or a CheckFailure naming what came back."""
    expect(value is not None, f"{name} returned None.", "Return the result (did you forget `return`?).")
    if isinstance(value, torch.Tensor):
        expect(not value.is_meta, f"{name} returned a tensor on the meta device, which has a shape but no values.", "Create tensors on the CPU (or the inputs' device), not with device=\"meta\".")
        return value.detach().cpu()
    try:
        arr = np.asarray(value)
        expect(arr.dtype != object, f"{name} returned a {type(value).__name__} that holds Python "
               "objects, not numbers.", "Return a torch tensor (or a NumPy array).")
        return torch.as_tensor(arr)
    except CheckFailure:
        raise
    except Exception:  # noqa: BLE001  (any odd object becomes feedback)
        expect(False, f"{name} returned a {type(value).__name__}, not a tensor or an array.",
               "Return a torch tensor (or a NumPy array).")
    raise AssertionError("unreachable")


def _as_count(value, name: str, what: str = "a number") -> int:
    """A whole number from an int, a whole float, a NumPy scalar or a one-element tensor."""
    expect(value is not None, f"{name} returned None.", "Return the number (did you forget `return`?).")
    dtype = getattr(value, "dtype", None)
    expect(dtype not in (np.float16, torch.float16, torch.bfloat16),
           f"{name} returned a {dtype} number, which holds whole numbers exactly only up to 2048 "
           "(256 for bfloat16).", "Return an int: sizes and counts are integers.")
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        expect(not value.is_meta, f"{name} returned a tensor on the meta device, which has a shape but no values.", "Create tensors on the CPU (or the inputs' device), not with device=\"meta\".")
        value = value.item()
    elif isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf":
        value = value.item()
    expect(isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)),
           f"{name} returned a {type(value).__name__}, not {what}.", "Return an int.")
    expect(not isinstance(value, int) or abs(value) < 2**63, f"{name} returned a whole number with "
           f"{len(str(abs(value)))} digits.", "Check the formula: sizes and counts here are small.")
    expect(math.isfinite(float(value)), f"{name} returned {value}.", "Return a finite whole number.")
    expect(float(value) == int(value), f"{name} returned {value}, not a whole number.",
           "Sizes and counts are integers: use // (floor division), not /.")
    return int(value)


def _close(got: torch.Tensor, want: torch.Tensor) -> bool:
    if tuple(got.shape) != tuple(want.shape):
        return False
    got64, want64 = got.detach().to(torch.float64), want.detach().to(torch.float64)
    if not bool(torch.isfinite(got64).all()):
        return False
    scale = max(float(want64.detach().abs().max()) if want64.numel() else 0.0, 1.0)
    # The less precise of the two sets the tolerance: a float64 answer for float32 inputs is then
    # caught by the dtype check, which names the mistake, and not as "the values differ".
    tol = 1e-9 if got.dtype == want.dtype == torch.float64 else 1e-4
    return bool(((got64 - want64).abs() <= tol * scale).all())


@contextlib.contextmanager
def _one_thread():
    """One torch thread while checking: the tensors are tiny, and on a busy machine threads
    that wait for each other made every check ten times slower."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def _single_threaded(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _one_thread():
            return fn(*args, **kwargs)
    return wrapper


class _ConvSpy(TorchFunctionMode):
    """Notes whether the learner's code calls one of torch's own convolutions."""

    NAMES = frozenset({"conv1d", "conv2d", "conv3d", "convolution", "_convolution", "conv_tbc",
                       "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"})

    def __init__(self):
        super().__init__()
        self.used = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in self.NAMES and self.used is None:
            self.used = name
        return func(*args, **(kwargs or {}))


# ---- exercise 1: the output size -------------------------------------------------------------


def _conv_output_size_reference(n, kernel_size, stride=1, padding=0, dilation=1):
    """The model answer of exercise 1."""
    return (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def _torch_output_size(n, k, s, p, d) -> int:
    """What torch computes: the length of a conv1d output (on the meta device: no arithmetic)."""
    x = torch.empty(1, 1, n, device="meta")
    w = torch.empty(1, 1, k, device="meta")
    return int(F.conv1d(x, w, stride=s, padding=p, dilation=d).shape[-1])


def _output_size_settings():
    """(n, k, s, p, d) for every combination where the dilated kernel fits the padded input."""
    return [(n, k, s, p, d) for n in (5, 7, 28, 33) for k in (1, 2, 3, 5) for s in (1, 2, 3)
            for p in (0, 1, 2) for d in (1, 2, 3) if d * (k - 1) + 1 <= n + 2 * p]


_SIZE_MISTAKES = [
    ("the dilation is left out: a kernel of k taps with dilation d spans d(k - 1) + 1 pixels.",
     lambda n, k, s, p, d: (n + 2 * p - k) // s + 1),
    ("the dilated kernel is taken to span d * k pixels; it spans d(k - 1) + 1.",
     lambda n, k, s, p, d: (n + 2 * p - d * k) // s + 1),
    ("it rounds up (ceil) where the window does not fit a last time; round down (floor).",
     lambda n, k, s, p, d: -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1),
    ("it rounds to the nearest integer; round down (floor).",
     lambda n, k, s, p, d: round((n + 2 * p - d * (k - 1) - 1) / s) + 1),
    ("the padding is counted once; it is added on both sides (2p).",
     lambda n, k, s, p, d: (n + p - d * (k - 1) - 1) // s + 1),
    ("the + 1 is missing: the first window position counts too.",
     lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s),
    ("the whole length is divided by the stride; only the positions after the first are.",
     lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1 + 1) // s),
    ("the stride is ignored.", lambda n, k, s, p, d: n + 2 * p - d * (k - 1)),
]


@checker("the output size of a convolution")
@_single_threaded
def ex1(conv_output_size):
    """``conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1)`` -> int."""
    settings = _output_size_settings()
    answers = {}
    for n, k, s, p, d in settings:
        name = f"conv_output_size({n}, {k}, stride={s}, padding={p}, dilation={d})"
        got = call(conv_output_size, n, k, stride=s, padding=p, dilation=d)
        if isinstance(got, float) and math.isfinite(got) and got != int(got):
            expect(False, f"{name} returned {got}, not a whole number.",
                   "Divide with // (floor division): a window that does not fit a last time "
                   "does not count.")
        answers[(n, k, s, p, d)] = _as_count(got, name, "a whole number")
    wrong = [(key, got) for key, got in answers.items() if got != _torch_output_size(*key)]
    if wrong:
        for message, formula in _SIZE_MISTAKES:
            if all(answers[key] == formula(*key) for key in settings):
                expect(False, f"conv_output_size: {message}",
                       "n_out = floor((n + 2p - d(k - 1) - 1) / s) + 1.")
        (n, k, s, p, d), got = wrong[0]
        expect(False, f"conv_output_size({n}, {k}, stride={s}, padding={p}, dilation={d}) = {got}, "
               f"but torch gives {_torch_output_size(n, k, s, p, d)} ({len(wrong)} of "
               f"{len(settings)} settings are off).", "n_out = floor((n + 2p - d(k - 1) - 1) / s) + 1.")
    for args, want in [((28, 5), 24), ((7, 3), 5)]:
        got = _as_count(call(conv_output_size, *args), f"conv_output_size{args}", "a whole number")
        expect(got == want, f"conv_output_size{args} = {got}, expected {want}.",
               "Give the arguments the defaults stride=1, padding=0, dilation=1: then the answer "
               "is n - k + 1.")
    return f"Equal to torch's output length in all {len(settings)} settings."


# ---- exercises 2 and 3: a 2-D convolution -----------------------------------------------------


def _conv2d_loops_reference(x, weight, bias, stride=1, padding=0):
    """The model answer of exercise 2: one dot product per output entry."""
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


def _conv2d_reference(x, weight, bias, stride=1, padding=0):
    """The model answer of exercise 3: im2col with ``F.unfold``, then one matrix product."""
    N, C, H, W = x.shape
    O, _, kh, kw = weight.shape
    H_out = (H + 2 * padding - kh) // stride + 1
    W_out = (W + 2 * padding - kw) // stride + 1
    cols = F.unfold(x, (kh, kw), padding=padding, stride=stride)   # (N, C*kh*kw, L)
    y = weight.reshape(O, -1) @ cols + bias[:, None]                # (N, O, L)
    return y.reshape(N, O, H_out, W_out)


def _conv_cases():
    """(what, x, weight, bias, stride, padding): non-square images and kernels, both dtypes."""
    g = torch.Generator().manual_seed(9)
    cases = []
    for what, xs, ws, stride, padding, dtype in [
        ("x (2, 3, 9, 9), weight (3, 3, 5, 5)", (2, 3, 9, 9), (3, 3, 5, 5), 2, 2, torch.float64),
        ("x (2, 3, 7, 6), weight (4, 3, 3, 3)", (2, 3, 7, 6), (4, 3, 3, 3), 1, 0, torch.float64),
        ("x (1, 2, 8, 9), weight (3, 2, 3, 2)", (1, 2, 8, 9), (3, 2, 3, 2), 2, 1, torch.float64),
        ("x (3, 4, 6, 5), weight (4, 4, 3, 3)", (3, 4, 6, 5), (4, 4, 3, 3), 1, 2, torch.float32),
        ("x (1, 1, 5, 7), weight (2, 1, 2, 3)", (1, 1, 5, 7), (2, 1, 2, 3), 3, 1, torch.float64),
    ]:
        x = torch.randn(*xs, generator=g, dtype=dtype)
        w = torch.randn(*ws, generator=g, dtype=dtype)
        b = torch.randn(ws[0], generator=g, dtype=dtype) + 2.0       # far from 0: a lost bias shows
        cases.append((f"{what}, bias ({ws[0]},), stride={stride}, padding={padding}",
                      x, w, b, stride, padding))
    return cases


def _conv_shape_diagnosis(got_shape, x, w, stride, padding) -> str | None:
    N, _, H, W = x.shape
    O, _, kh, kw = w.shape

    def shape(pad_total, s=stride, rounding=math.floor):
        return (N, O, rounding((H + pad_total - kh) / s) + 1, rounding((W + pad_total - kw) / s) + 1)

    for message, candidate in [
        ("the padding was ignored.", shape(0)),
        ("the input was padded on one side only; pad p rows and columns on every side.", shape(padding)),
        ("the stride was ignored.", shape(2 * padding, s=1)),
        ("it rounds up where the window does not fit a last time; round down.",
         shape(2 * padding, rounding=math.ceil)),
        ("the output is (N, H_out, W_out, C_out); it must be NCHW, (N, C_out, H_out, W_out).",
         (N,) + shape(2 * padding)[2:] + (O,)),
    ]:
        if padding == 0 and "padding" in message or stride == 1 and "stride" in message:
            continue
        if tuple(got_shape) == candidate:
            return message
    return None


def _conv_value_diagnosis(got, x, w, b, stride, padding) -> str | None:
    def conv(xx, ww, bb, pad=padding):
        return F.conv2d(xx, ww, bb, stride=stride, padding=pad)

    tries = [
        ("the kernel is flipped: that is the mathematical convolution. Deep learning's 'convolution' "
         "is a cross-correlation: weight[o, c, u, v] multiplies x[n, c, i*s + u, j*s + v].",
         conv(x, w.flip(2, 3), b)),
        ("the bias is missing.", conv(x, w, None)),
        ("the bias is added once per input channel (C times).", conv(x, w, x.shape[1] * b)),
        ("the kernel is transposed (rows and columns of the kernel swapped).",
         conv(x, w.transpose(2, 3), b) if w.shape[2] == w.shape[3] else None),
    ]
    if w.shape[0] == w.shape[1]:
        tries.append(("the weight was read as (C_in, C_out, kh, kw); PyTorch's layout is "
                      "(C_out, C_in, kh, kw): weight[o] is the kernel of output channel o.",
                      conv(x, w.transpose(0, 1), b)))
    if padding:
        tries.append(("the padding is not zeros (edge values were repeated); pad with zeros.",
                      F.conv2d(F.pad(x, (padding,) * 4, mode="replicate"), w, b, stride=stride)))
    for message, candidate in tries:
        if candidate is not None and _close(got, candidate.to(got.dtype)):
            return message
    return None


def _check_conv(conv2d, fn_name: str, cases) -> None:
    for what, x, w, b, stride, padding in cases:
        name = f"{fn_name} on {what}"
        spy = _ConvSpy()
        inputs = (x.clone(), w.clone(), b.clone())
        with spy:
            out = call(conv2d, *inputs, stride=stride, padding=padding)
        expect(spy.used is None, f"{name} calls torch's own {spy.used}.",
               "Compute the convolution yourself: slices and sums (exercise 2), or F.unfold and a "
               "matrix product (exercise 3); torch's conv2d is what the checker compares with.")
        expect(all(torch.equal(a, c) for a, c in zip(inputs, (x, w, b))),
               f"{name} changed its input x, weight or bias in place.",
               "Pad into a new tensor (F.pad returns one) and do not write into the arguments.")
        got = _as_tensor(out, name)
        want = F.conv2d(x, w, b, stride=stride, padding=padding)
        if tuple(got.shape) != tuple(want.shape):
            diagnosis = _conv_shape_diagnosis(got.shape, x, w, stride, padding)
            expect(False, f"{name} returned shape {tuple(got.shape)}, expected {tuple(want.shape)}"
                   + (f": {diagnosis}" if diagnosis else "."),
                   "H_out = (H + 2p - kh) // s + 1, and the same for W with kw; the output is "
                   "(N, C_out, H_out, W_out).")
        expect(got.is_floating_point(), f"{name} returned dtype {got.dtype}.",
               "Return floats (create the output with dtype=x.dtype).")
        if not _close(got, want):
            diagnosis = _conv_value_diagnosis(got.to(x.dtype), x, w, b, stride, padding)
            expect(False, f"{name}: " + (diagnosis or "the values differ from F.conv2d's."),
                   "y[n, o, i, j] = b[o] + sum over c, u, v of w[o, c, u, v] * xp[n, c, i*s + u, "
                   "j*s + v], where xp is x padded with p zeros on every side.")
        expect(got.dtype == x.dtype, f"{name} returned {got.dtype} for {x.dtype} inputs.",
               "Keep the input's dtype (torch.empty(..., dtype=x.dtype); no .float() or .double()).")


@checker("a 2-D convolution with loops")
@_single_threaded
def ex2(conv2d_loops):
    """``conv2d_loops(x, weight, bias, stride=1, padding=0)`` -> (N, C_out, H_out, W_out)."""
    _check_conv(conv2d_loops, "conv2d_loops", _conv_cases())
    return "Equal to F.conv2d for five shapes, strides and paddings, in float32 and float64."


class _LoopFound(BaseException):
    """Raised into the learner's code when one of its lines has run once per output pixel."""


class _LineCounter:
    """Counts how often each line of the learner's own code runs (``sys.settrace``, their frames
    only), and stops the code once one line has run ``limit`` times."""

    def __init__(self, limit: int):
        self.limit, self.counts, self.hit = limit, {}, None

    def __enter__(self):
        self.saved = sys.gettrace()
        sys.settrace(self._on_call)
        return self

    def __exit__(self, *exc):
        sys.settrace(self.saved)
        return False

    def _on_call(self, frame, event, arg):
        return self._on_line if _is_student_file(frame.f_code.co_filename) else None

    def _on_line(self, frame, event, arg):
        if event == "line":
            key = (frame.f_code.co_filename, frame.f_lineno)
            self.counts[key] = self.counts.get(key, 0) + 1
            if self.counts[key] >= self.limit:
                self.hit = key
                raise _LoopFound
        return self._on_line


#: The case on which exercise 3 counts lines: 40 x 40 output pixels per image and channel, many
#: more than any loop over the batch, the channels, the kernel offsets or the rows needs.
_TRACED = (2, 3, 40, 40), (4, 3, 3, 3)


def _check_no_pixel_loop(conv2d) -> None:
    g = torch.Generator().manual_seed(11)
    x = torch.randn(*_TRACED[0], generator=g, dtype=torch.float64)
    w = torch.randn(*_TRACED[1], generator=g, dtype=torch.float64)
    b = torch.randn(_TRACED[1][0], generator=g, dtype=torch.float64)
    pixels = _TRACED[0][2] * _TRACED[0][3]        # padding 1 keeps 40 x 40
    counter = _LineCounter(pixels)
    try:
        with counter:
            call(conv2d, x, w, b, stride=1, padding=1)
    except _StudentError as err:
        if not isinstance(err.original, _LoopFound):
            raise
    if counter.hit is not None:
        filename, lineno = counter.hit
        code = linecache.getline(filename, lineno).strip()
        expect(False, f"conv2d on x {tuple(x.shape)}: line {lineno} of your code"
               + (f" (`{code}`)" if code and len(code) <= 80 else "")
               + f" ran {pixels:,} times for an output of 40 x 40 pixels per image: that is a Python "
               "loop over output pixels.",
               "Gather every patch at once (F.unfold(x, (kh, kw), padding=p, stride=s) gives "
               "(N, C*kh*kw, H_out*W_out)), then one matrix product with weight.reshape(C_out, -1). "
               "A loop over the kh * kw kernel offsets is fine too.")


#: The larger batch of exercise 3: 16 x 16 x 32 x 32 = 262,144 output entries.
_BIG = (16, 8, 32, 32), (16, 8, 3, 3)
#: A vectorised answer may be this many times slower than the model answer (timed on the spot).
_SLOWER = 40.0


@checker("a vectorised 2-D convolution")
@_single_threaded
def ex3(conv2d):
    """``conv2d(x, weight, bias, stride=1, padding=0)``, vectorised: no loop over output pixels."""
    _check_conv(conv2d, "conv2d", _conv_cases())
    _check_no_pixel_loop(conv2d)
    g = torch.Generator().manual_seed(10)
    x = torch.randn(*_BIG[0], generator=g, dtype=torch.float64)
    w = torch.randn(*_BIG[1], generator=g, dtype=torch.float64)
    b = torch.randn(_BIG[1][0], generator=g, dtype=torch.float64)
    best = math.inf
    for _ in range(3):   # the best of three: a busy machine slows the reference down too
        start = time.perf_counter()
        _conv2d_reference(x, w, b, 1, 1)
        best = min(best, time.perf_counter() - start)
    name = f"conv2d on a larger batch, x {tuple(x.shape)} and weight {tuple(w.shape)}"
    allowed = max(1.0, _SLOWER * best)
    start = time.perf_counter()
    limit = max(5.0, 3 * allowed)
    hint = ("Gather every patch at once (F.unfold(x, (kh, kw), padding=p, stride=s) gives "
            "(N, C*kh*kw, H_out*W_out)), then one matrix product with weight.reshape(C_out, -1).")
    try:
        result = call(conv2d, x, w, b, stride=1, padding=1, timeout=limit)
    except _StudentError as err:
        if err.timeout is None:
            raise
        expect(False, f"{name} was stopped after {limit:g} s (the model answer takes "
               f"{best * 1e3:.0f} ms): is there still a Python loop over output pixels?", hint)
    got = _as_tensor(result, name)
    seconds = time.perf_counter() - start
    want = F.conv2d(x, w, b, padding=1)
    expect(_close(got, want), f"{name}: the values differ from F.conv2d's.",
           "Check the case of stride 1 and padding 1 by hand on a small input.")
    expect(seconds <= allowed, f"{name} took {seconds:.2f} s, {seconds / best:.0f} times the "
           f"model answer's {best * 1e3:.0f} ms: is there still a Python loop over output pixels?",
           hint)
    return (f"Equal to F.conv2d, and {seconds * 1e3:.0f} ms for 262,144 outputs "
            f"(the model answer: {best * 1e3:.0f} ms).")


# ---- exercise 4: parameters and multiply-adds ---------------------------------------------------


def _layer_costs_reference(in_channels, out_channels, kernel_size, height, width, stride=1,
                           padding=0):
    """The model answer of exercise 4."""
    h_out = (height + 2 * padding - kernel_size) // stride + 1
    w_out = (width + 2 * padding - kernel_size) // stride + 1
    per_output = in_channels * kernel_size * kernel_size          # one kernel's weights
    conv = (out_channels * (per_output + 1), out_channels * h_out * w_out * per_output)
    n_in, n_out = in_channels * height * width, out_channels * h_out * w_out
    dense = (n_in * n_out + n_out, n_in * n_out)
    return {"conv": conv, "dense": dense}


def _torch_costs(c_in, c_out, k, h, w, s, p):
    """Parameters of real torch layers (on the meta device) and multiply-adds by definition."""
    conv = nn.Conv2d(c_in, c_out, k, stride=s, padding=p, device="meta")
    out = conv(torch.empty(1, c_in, h, w, device="meta")).shape
    n_in, n_out = c_in * h * w, int(np.prod(out))
    dense = nn.Linear(n_in, n_out, device="meta")
    conv_params = sum(q.numel() for q in conv.parameters())
    dense_params = sum(q.numel() for q in dense.parameters())
    return {"conv": (conv_params, n_out * c_in * k * k), "dense": (dense_params, n_in * n_out)}


def _cost_mistakes(c_in, c_out, k, h, w, s, p):
    """{(layer, index): [(message, wrong value)]} for the usual counting mistakes."""
    want = _torch_costs(c_in, c_out, k, h, w, s, p)
    h_out, w_out = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    cp, cm = want["conv"]
    dp, dm = want["dense"]
    n_in = c_in * h * w
    return {
        ("conv", 0): [
            ("the conv's biases are left out (one per output channel).", cp - c_out),
            ("the conv's weights are counted once per output position, as if each position had its "
             "own kernel; weight sharing means one kernel per output channel, wherever it is.",
             cp * h_out * w_out),
            ("the kernel has k x k weights per input channel, not k.", c_out * (c_in * k + 1)),
            ("each kernel spans all C_in input channels: C_in * k * k weights, not k * k.",
             c_out * (k * k + 1)),
        ],
        ("conv", 1): [
            ("the conv's multiply-adds use the input size H x W, not the output size "
             "H_out x W_out (stride and padding change it).", c_out * h * w * c_in * k * k),
            ("each output sums over all C_in input channels: C_in * k * k multiply-adds, not k * k.",
             c_out * h_out * w_out * k * k),
            ("the conv's multiply-adds count the bias as one more.", c_out * h_out * w_out * (c_in * k * k + 1)),
            ("that counts FLOPs (a multiply and an add: 2 per multiply-add).", 2 * cm),
        ],
        ("dense", 0): [
            ("the dense layer's biases are left out (one per output).", dp - c_out * h_out * w_out),
            ("the dense layer's output is the conv's output, C_out x H_out x W_out numbers, not the "
             "input's size.", n_in * n_in + n_in),
        ],
        ("dense", 1): [
            ("that counts FLOPs (a multiply and an add: 2 per multiply-add).", 2 * dm),
            ("the dense layer's multiply-adds are one per weight: in x out (the biases are added, "
             "not multiplied).", dp),
        ],
    }


def _cost_pair(value, name: str, layer: str) -> tuple[int, int]:
    expect(isinstance(value, (tuple, list, np.ndarray, torch.Tensor)),
           f"{name}[{layer!r}] is a {type(value).__name__}, not a pair (params, mult_adds).",
           'Return {"conv": (params, mult_adds), "dense": (params, mult_adds)}.')
    expect(len(value) == 2, f"{name}[{layer!r}] has {len(value)} entries, not 2.",
           "Each entry is a pair: (parameters, multiply-adds).")
    return (_as_count(value[0], f"{name}[{layer!r}][0]"), _as_count(value[1], f"{name}[{layer!r}][1]"))


@checker("parameters and multiply-adds of a conv layer and a dense layer")
@_single_threaded
def ex4(layer_costs):
    """``layer_costs(C_in, C_out, k, H, W, stride=1, padding=0)`` -> {"conv": (p, m), "dense": (p, m)}."""
    for c_in, c_out, k, h, w, s, p in [(1, 16, 3, 28, 28, 1, 1), (3, 8, 5, 32, 32, 2, 2),
                                        (4, 6, 1, 10, 12, 1, 0), (2, 5, 3, 9, 7, 3, 0),
                                        (8, 4, 7, 16, 16, 2, 3), (3, 3, 3, 8, 8, 1, 0),
                                        (3, 10, 3, 99, 99, 1, 1),      # > 2**31, not a power of 2
                                        (3, 64, 3, 224, 224, 1, 1)]:   # a photo
        name = f"layer_costs({c_in}, {c_out}, {k}, {h}, {w}, stride={s}, padding={p})"
        try:
            got = call(layer_costs, c_in, c_out, k, h, w, stride=s, padding=p)
        except _StudentError as err:
            if not isinstance(err.original, OverflowError):
                raise
            expect(False, f"{name}: your code raised OverflowError: {err.original}: a count does not "
                   "fit the integer type it was put in.",
                   "Count with Python ints (or int64): no np.int32 or torch.int32.")
        expect(got is not None, f"{name} returned None.", "Return the dict.")
        expect(isinstance(got, dict) and set(got) == {"conv", "dense"},
               f"{name} returned {'a dict with keys ' + str(sorted(map(str, got))) if isinstance(got, dict) else 'a ' + type(got).__name__}.",
               'Return a dict with two keys: {"conv": (params, mult_adds), "dense": (params, mult_adds)}.')
        want = _torch_costs(c_in, c_out, k, h, w, s, p)
        pairs = {layer: _cost_pair(got[layer], name, layer) for layer in ("conv", "dense")}
        mistakes = _cost_mistakes(c_in, c_out, k, h, w, s, p)
        for layer, what in [("conv", "parameters"), ("conv", "multiply-adds"),
                            ("dense", "parameters"), ("dense", "multiply-adds")]:
            i = 0 if what == "parameters" else 1
            value, target = pairs[layer][i], want[layer][i]
            if value == target:
                continue
            wrapped = int(np.array(target, dtype=np.int64).astype(np.int32))
            expect(value not in (wrapped, int(np.float32(target))),
                   f"{name}: the {layer} layer's {what} = {value:,}, expected {target:,}: the count was "
                   + ("held in a 32-bit integer, which overflows past 2,147,483,647." if value == wrapped
                      else "held in float32, which keeps whole numbers exactly only up to 16,777,216."),
                   "Count with Python ints (or int64): no np.int32, torch.int32 or float32.")
            for message, wrong in mistakes[(layer, i)]:
                expect(value != wrong, f"{name}: {message}", None)
            expect(False, f"{name}: the {layer} layer's {what} = {value:,}, expected {target:,}.",
                   "Conv: C_out (C_in k^2 + 1) parameters, C_out H_out W_out C_in k^2 multiply-adds. "
                   "Dense from C_in H W inputs to C_out H_out W_out outputs: in x out weights plus "
                   "out biases, in x out multiply-adds.")
    return "Equal to the parameters of real nn.Conv2d and nn.Linear layers, and to their multiply-adds."


# ---- exercise 5: a residual block ---------------------------------------------------------------


class _ResidualBlock(nn.Module):
    """The model answer of exercise 5: conv-BN-ReLU-conv-BN, plus the shortcut, then ReLU."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


def _residual_block_reference(in_channels, out_channels, stride=1):
    """The model answer of exercise 5, as a function that builds the block."""
    return _ResidualBlock(in_channels, out_channels, stride)


def _block_parameters(c_in, c_out, stride) -> int:
    projection = stride != 1 or c_in != c_out
    return 9 * c_in * c_out + 9 * c_out * c_out + 4 * c_out + (c_in * c_out + 2 * c_out) * projection


def _convs(block) -> tuple[list, list]:
    """The student's 3x3 and 1x1 Conv2d layers, in the order they were registered."""
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    return [c for c in convs if c.kernel_size == (3, 3)], [c for c in convs if c.kernel_size == (1, 1)]


def _fresh_bn(t):
    """What a freshly made BatchNorm2d does in eval mode: divide by sqrt(1 + eps)."""
    return t / math.sqrt(1 + 1e-5)


@checker("a residual block")
@_single_threaded
def ex5(ResidualBlock):
    """``ResidualBlock(in_channels, out_channels, stride=1)`` -> an nn.Module mapping NCHW to NCHW."""
    with torch.random.fork_rng(devices=[]):   # the seeds set here do not leak into the notebook
        return _check_residual_block(ResidualBlock)


def _check_residual_block(ResidualBlock):
    g = torch.Generator().manual_seed(5)
    for c_in, c_out, stride, size in [(8, 8, 1, 6), (4, 8, 2, 7), (6, 6, 2, 8), (5, 3, 1, 5),
                                      (3, 6, 3, 9)]:
        name = f"ResidualBlock({c_in}, {c_out}, stride={stride})"
        torch.manual_seed(0)
        block = call(ResidualBlock, c_in, c_out, stride=stride)
        expect(block is not None, f"{name} returned None.", "Define a class ResidualBlock(nn.Module).")
        expect(isinstance(block, nn.Module), f"{name} is a {type(block).__name__}, not an nn.Module.",
               "Define class ResidualBlock(nn.Module) and call super().__init__() first.")
        projection = stride != 1 or c_in != c_out
        n_params = sum(p.numel() for p in block.parameters())
        want = _block_parameters(c_in, c_out, stride)
        threes, ones = _convs(block)
        if n_params != want:
            biases = sum(c.bias.numel() for c in threes + ones if c.bias is not None)
            n_bn = len([m for m in block.modules() if isinstance(m, nn.BatchNorm2d)])
            for bad, message in [
                (biases > 0, "its convolutions have biases; each is followed by batch norm, whose "
                 "shift makes a bias redundant: use bias=False."),
                (projection and not ones, "it has no 1x1 projection although the shape changes."),
                (not projection and ones, "it has a 1x1 projection although the input and output shapes "
                 "match: the shortcut should then be the identity (no parameters)."),
                (n_bn < 2 + projection, f"it has {n_bn} BatchNorm2d layers, expected {2 + projection}: "
                 "one after each convolution" + (", the 1x1 projection included." if projection else ".")),
            ]:
                expect(not bad, f"{name} has {n_params:,} parameters, expected {want:,}: {message}", None)
            expect(False, f"{name} has {n_params:,} parameters, expected {want:,}.",
                   "Two 3x3 convolutions (C_in -> C_out, C_out -> C_out), a BatchNorm2d after each, "
                   "and a 1x1 convolution with its BatchNorm2d on the shortcut when the shape changes.")
        expect(len(threes) == 2, f"{name} has {len(threes)} 3x3 convolutions, expected 2.",
               "The residual branch is conv 3x3, BN, ReLU, conv 3x3, BN.")
        # Large inputs: values above 6 tell a ReLU from a ReLU6 (or a clamp).
        x = torch.randn(2, c_in, size, size, generator=g) * 10
        size_out = (size - 1) // stride + 1
        block.eval()
        x_in = x.clone()
        with torch.no_grad():
            y = call(block, x_in)
        expect(torch.equal(x_in, x), f"{name} changed its input x in place (e.g. x += out, or an "
               "in-place ReLU on x).", "Add into the branch's output (out += shortcut(x), or "
               "out + shortcut(x)); the input may be the output of the layer before, which autograd "
               "still needs.")
        y = _as_tensor(y, f"the output of {name}")
        want_shape = (2, c_out, size_out, size_out)
        expect(tuple(y.shape) == want_shape, f"{name} maps {tuple(x.shape)} to {tuple(y.shape)}, "
               f"expected {want_shape}.", "Padding 1 keeps the size of a 3x3 convolution; the stride "
               "goes on the first 3x3 convolution and on the 1x1 projection.")
        first = next((c for c in threes if c.in_channels == c_in and c.stride == (stride, stride)), None)
        expect(first is not None and all(c.padding in ((1, 1), "same") for c in threes),
               f"{name}: the first 3x3 convolution should have stride {stride} and both padding 1 "
               f"(strides {[c.stride for c in threes]}, paddings {[c.padding for c in threes]}).",
               "Put the stride on the first convolution, as ResNet does, and padding=1 on both.")
        if projection:
            expect(len(ones) == 1 and ones[0].stride == (stride, stride),
                   f"{name}: the 1x1 projection should have stride {stride}.",
                   "The shortcut must shrink the image as much as the residual branch does.")
        second = next(c for c in threes if c is not first)
        orders = [(first, second)]
        if second.in_channels == c_in and second.stride == (stride, stride):
            orders.append((second, first))    # either may come first in forward (same shapes)
        # What the block must compute, from the student's own weights (fresh BN in eval mode).
        xw = x.to(first.weight.dtype)
        for first, second in orders:
            with torch.no_grad():
                h = _fresh_bn(F.conv2d(xw, first.weight, stride=stride, padding=1))
                branch = _fresh_bn(F.conv2d(torch.relu(h), second.weight, padding=1))
                short = _fresh_bn(F.conv2d(xw, ones[0].weight, stride=stride)) if projection else xw
            want_y = torch.relu(branch + short)
            if _close(y, want_y):
                break
        else:   # no order matches: diagnose with the registered one
            first, second = orders[0]
            with torch.no_grad():
                h = _fresh_bn(F.conv2d(xw, first.weight, stride=stride, padding=1))
                branch = _fresh_bn(F.conv2d(torch.relu(h), second.weight, padding=1))
                want_y = torch.relu(branch + short)
        if not _close(y, want_y):
            for message, candidate in [
                ("the shortcut is never added: the output is ReLU(residual branch) alone.",
                 torch.relu(branch)),
                ("the final ReLU is missing: apply it after adding the shortcut.", branch + short),
                ("the ReLU is applied to the residual branch before the addition; it comes after.",
                 torch.relu(branch) + short),
                ("the ReLU between the two convolutions is missing.",
                 torch.relu(_fresh_bn(F.conv2d(h, second.weight, padding=1)) + short)),
            ]:
                expect(not _close(y, candidate), f"{name}: {message}", None)
            expect(False, f"{name} gives the right shape but not ReLU(BN(conv(ReLU(BN(conv(x))))) "
                   "+ shortcut(x)).", "Follow the order conv, BN, ReLU, conv, BN, add the shortcut, ReLU.")
        # The shortcut alone: with the residual branch switched off, the block passes x on.
        with torch.no_grad():
            for c in threes:
                c.weight.zero_()
            y0 = _as_tensor(call(block, x.clone()), f"the output of {name}")
        expect(_close(y0, torch.relu(short)), f"{name}: with the residual branch's weights set to 0 "
               "the block should return ReLU(shortcut(x)), but it does not.",
               "Add shortcut(x) to the branch's output (the identity, or the 1x1 projection with BN).")
        torch.manual_seed(0)
        reset = call(ResidualBlock, c_in, c_out, stride=stride)
        y_train = call(reset.train(), x.clone())
        expect(isinstance(y_train, torch.Tensor) and y_train.requires_grad,
               f"in train mode the output of {name} does not depend on its parameters.",
               "Do not detach or run under torch.no_grad() inside forward.")
        y_train.sum().backward()
        missing = [n for n, p in reset.named_parameters() if p.grad is None]
        expect(not missing, f"{name}: no gradient reaches {missing[:3]}.",
               "Every layer defined in __init__ must be used in forward.")
    return "Shapes, parameter counts, the identity and projection shortcuts all as in ResNet."


# ---- exercise 6: the receptive field ------------------------------------------------------------


def _receptive_field_reference(layers):
    """The model answer of exercise 6: grow r by d(k - 1) input pixels times the jump so far."""
    r, jump = 1, 1
    for k, s, d in layers:
        r += d * (k - 1) * jump
        jump *= s
    return r


def _measured_receptive_field(layers) -> int:
    """The receptive field autograd sees: the span of inputs with a non-zero gradient."""
    bound = 1
    jump = 1
    for k, s, d in layers:
        bound += d * (k - 1) * jump
        jump *= s
    length = 2 * bound + 3 * jump + 4
    x = torch.ones(1, 1, length, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s, d in layers:
        y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d)
    y[0, 0, y.shape[-1] // 2].backward()
    hit = torch.nonzero(x.grad[0, 0]).ravel()
    return int(hit[-1] - hit[0] + 1)


_STACKS = [
    [(3, 1, 1)],
    [(3, 1, 1), (3, 1, 1), (3, 1, 1)],
    [(5, 2, 1), (3, 2, 1), (3, 1, 1)],
    [(3, 1, 2), (3, 1, 4), (3, 1, 8)],
    [(7, 2, 1), (3, 2, 1), (3, 1, 1), (3, 2, 1), (3, 1, 1)],
    [(2, 3, 1), (3, 1, 2), (2, 2, 3)],
    [(1, 1, 1), (1, 2, 1), (3, 1, 1)],
    [(4, 4, 1), (4, 4, 1)],
    [],
]

_RF_MISTAKES = [
    ("the dilation is left out: a dilated kernel adds d(k - 1), not k - 1.",
     lambda L: _receptive_field_reference([(k, s, 1) for k, s, d in L])),
    ("the strides are left out: each layer's k - 1 must be multiplied by the product of the strides "
     "of the layers before it.", lambda L: _receptive_field_reference([(k, 1, d) for k, s, d in L])),
    ("each layer's growth uses its own stride too; only the strides of the layers before it count.",
     lambda L: 1 + sum(d * (k - 1) * math.prod(s2 for _, s2, _ in L[:i + 1])
                       for i, (k, s, d) in enumerate(L))),
    ("it adds the kernel sizes; a stack of stride-1 layers sees 1 + the sum of (k - 1).",
     lambda L: sum(k for k, s, d in L)),
    ("it multiplies the kernel sizes.", lambda L: math.prod(k for k, s, d in L)),
]


@checker("the receptive field of a stack of layers")
@_single_threaded
def ex6(receptive_field):
    """``receptive_field([(kernel, stride, dilation), ...])`` -> int."""
    answers = {}
    for layers in _STACKS:
        name = f"receptive_field({layers})"
        given = [tuple(t) for t in layers]
        answers[str(layers)] = _as_count(call(receptive_field, given), name, "a whole number")
        expect(given == [tuple(t) for t in layers], f"{name} changed the list of layers it was "
               f"given (to {given}).", "Loop over the list (for k, s, d in layers); do not pop or "
               "append.")
    wrong = [L for L in _STACKS if answers[str(L)] != _measured_receptive_field(L)]
    if wrong:
        for message, formula in _RF_MISTAKES:
            if all(answers[str(L)] == formula(L) for L in _STACKS if L):
                expect(False, f"receptive_field: {message}", "r = 1 + sum over layers l of "
                       "d_l (k_l - 1) times the product of the strides of the layers before l.")
        L = wrong[0]
        expect(False, f"receptive_field({L}) = {answers[str(L)]}, but autograd measures "
               f"{_measured_receptive_field(L)} ({len(wrong)} of {len(_STACKS)} stacks are off).",
               "Start from r = 1 and a jump of 1; for each layer add d (k - 1) times the jump, then "
               "multiply the jump by the stride." + (" An empty stack sees one pixel." if not L else ""))
    return f"Equal to the receptive field measured with autograd for all {len(_STACKS)} stacks."


#: Reference answers for the checker battery: one per checker.
REFERENCE_ANSWERS = {"ex1": _conv_output_size_reference, "ex2": _conv2d_loops_reference,
                     "ex3": _conv2d_reference, "ex4": _layer_costs_reference,
                     "ex5": _residual_block_reference, "ex6": _receptive_field_reference}


def _conv_output_size_math(n, kernel_size, stride=1, padding=0, dilation=1):
    span = dilation * (kernel_size - 1) + 1
    return math.floor((n + 2 * padding - span) / stride) + 1


def _conv2d_numpy(x, weight, bias, stride=1, padding=0):
    """NumPy, float in and out: sliding_window_view and einsum."""
    xp = np.pad(np.asarray(x), ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    kh, kw = weight.shape[2:]
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("nchwuv,ocuv->nohw", win, np.asarray(weight)) + np.asarray(bias)[None, :, None, None]


def _conv2d_offsets(x, weight, bias, stride=1, padding=0):
    """A loop over the kh * kw kernel offsets only (as dlcore's im2col does)."""
    N, C, H, W = x.shape
    O, _, kh, kw = weight.shape
    xp = F.pad(x, (padding,) * 4)
    H_out, W_out = (H + 2 * padding - kh) // stride + 1, (W + 2 * padding - kw) // stride + 1
    y = bias[None, :, None, None].expand(N, O, H_out, W_out).clone()
    for u in range(kh):
        for v in range(kw):
            sl = xp[:, :, u:u + stride * (H_out - 1) + 1:stride, v:v + stride * (W_out - 1) + 1:stride]
            y += torch.einsum("nchw,oc->nohw", sl, weight[:, :, u, v])
    return y


def _layer_costs_lists(in_channels, out_channels, kernel_size, height, width, stride=1, padding=0):
    ref = _layer_costs_reference(in_channels, out_channels, kernel_size, height, width, stride, padding)
    return {k: [float(v) for v in pair] for k, pair in ref.items()}


class _ResidualBlockSequential(nn.Module):
    """The same block written with nn.Sequential, the shortcut first, F.relu."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        change = stride != 1 or in_channels != out_channels
        self.skip = (nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                   nn.BatchNorm2d(out_channels)) if change else None)
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False), nn.BatchNorm2d(out_channels),
            nn.ReLU(), nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_channels))

    def forward(self, x):
        return F.relu(self.body(x) + (x if self.skip is None else self.skip(x)))


def _receptive_field_backwards(layers):
    """From the top down: r_{l-1} = s_l (r_l - 1) + d_l (k_l - 1) + 1."""
    r = 1
    for k, s, d in reversed(list(layers)):
        r = s * (r - 1) + d * (k - 1) + 1
    return r


#: Other correct answers, written differently (the battery checks that they pass).
CORRECT_REWRITES = {"ex1": [_conv_output_size_math], "ex2": [_conv2d_reference, _conv2d_numpy],
                    "ex3": [_conv2d_numpy, _conv2d_offsets], "ex4": [_layer_costs_lists],
                    "ex5": [_ResidualBlock, _ResidualBlockSequential],
                    "ex6": [_receptive_field_backwards]}

"""The checker harness: a decorator that turns any failure into friendly feedback.

Introduced with the chapter 01 exercises; every chapter's checkers (``dlcore.exercises.chNN``)
are built from the pieces here. What the harness promises, and how:

* **Time limits.** Every call into the student's code (:func:`call`) has a time limit, 10 s by
  default (``checker(..., timeout=)``, ``call(..., timeout=)``, or the ``DLCORE_CHECK_TIMEOUT``
  environment variable), and a whole checker has one too (``total_timeout``, by default six
  times the per-call limit and at least 60 s). In the main thread on Linux and macOS (a Jupyter
  or Colab kernel runs cells there) the limit is a ``SIGALRM`` timer, which also stops
  ``time.sleep``; an earlier alarm handler and timer are restored afterwards, and limits nest.
  Elsewhere (Windows, a non-main thread) a watchdog thread raises the time-out into the calling
  thread with ``PyThreadState_SetAsyncExc``; that stops any Python loop, but a single call that
  blocks inside C (one long ``time.sleep``) is stopped only when it returns to Python.
  The time-out is raised again every 0.2 s, so ``except Exception: pass`` in a loop does not
  defeat it (it is a ``BaseException``).
* **Every exception is feedback.** Anything the student's code raises (``SystemExit``,
  ``KeyboardInterrupt`` and ``GeneratorExit`` included) becomes a ✗ message; a checker never
  raises, even when its own check function has a bug. The one exception: when the learner
  presses the stop button (a real ``SIGINT`` arrives while a checker runs), the checker prints
  "interrupted", records a failure and re-raises ``KeyboardInterrupt``, so that the stop button
  still stops the cell and "Run All". A ``KeyboardInterrupt`` raised by code is just feedback.
* **Results.** Every outcome that is not a pass records ``False`` in :func:`results`, also when
  an earlier call of the same checker passed.
* **Output** never fails on a console's encoding: without UTF-8 the marks become ``[ok]``/``[x]``.
* **Locations** of errors point at the student's own line (a notebook cell or their file),
  never at NumPy, dlcore or the standard library; common errors get tailored hints.
* **NumPy error state.** The check body runs under NumPy's default error state, so that
  ``np.seterr(all="raise")`` in the learner's kernel cannot break the checker's own
  computations; :func:`call` runs the student's function under the learner's state (except that
  underflow, which is harmless to every exercise, is always ignored).
* **Tolerances** (:func:`expect_close`) follow the answer's dtype: a float32 answer is compared
  with ``rtol = 1e-5``; float16 answers are rejected unless a checker allows them (``min_dtype``).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import inspect
import linecache
import os
import re
import signal
import sys
import sysconfig
import threading
import time
import traceback
import warnings
from collections.abc import Callable

import numpy as np

#: Latest outcome of every checker called in this Python process: {"ch01.ex2": True, ...}.
_RESULTS: dict[str, bool] = {}
#: Every checker defined, per chapter module: {"ch01": ["ex1", "ex2"], ...}.
_REGISTRY: dict[str, list[str]] = {}

#: Seconds one call into the student's code may take unless a checker or the environment says otherwise.
DEFAULT_TIMEOUT = 10.0
#: NumPy's default error state, under which every check body runs.
NUMPY_DEFAULTS = {"divide": "warn", "over": "warn", "under": "ignore", "invalid": "warn"}
#: Relative and absolute tolerance for a float32 answer (scaled by the largest expected value).
FLOAT32_RTOL, FLOAT32_ATOL = 1e-5, 1e-6
_REPEAT_S = 0.2


class CheckFailure(Exception):
    """Raised inside a checker when the answer is wrong; becomes a ✗ message."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class _StudentError(Exception):
    """Wraps an exception raised inside the student's own code."""

    def __init__(self, original: BaseException, timeout: float | None = None):
        super().__init__(type(original).__name__)
        self.original = original
        self.timeout = timeout


class _State:
    """What the running checker needs to share with :func:`call` (one checker runs at a time)."""

    student_errstate: dict | None = None   # the learner's np.geterr() when the checker started
    body_errstate: dict | None = None      # the error state the check body runs under
    checker_timeout: float | None = None
    forced_timeout: float | None = None    # tests: overrides every other setting
    force_thread_timer: bool = False       # tests: use the watchdog even where signals work
    last_result: object = None             # the latest value returned by the student's code
    has_result: bool = False
    interrupt: _InterruptFlag | None = None
    checker_code: tuple | None = None      # (file, name) of the running check function: never the student's


_STATE = _State()


# ---- time limits ---------------------------------------------------------------------------------


class _Expired(BaseException):
    """Raised into the student's code when its time is up; ``type(err).limit`` is the limit."""

    limit = None


def _async_raise(thread_id: int, exc_type) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(exc_type) if exc_type else None)


class _TimeLimit:
    """Context manager: raise ``self.exc_type`` in the calling thread after ``seconds``."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.exc_type = type("TimeLimitExpired", (_Expired,), {"limit": self})
        self.done = self.fired = False
        self.mode = None
        self.deadline = float("inf")

    def owns(self, err: BaseException) -> bool:
        return isinstance(err, _Expired) and type(err).limit is self

    def __enter__(self):
        if self.seconds is None or not np.isfinite(self.seconds) or self.seconds <= 0:
            return self
        self.deadline = time.monotonic() + self.seconds
        if _signals_usable():
            try:
                _push_alarm(self)
                self.mode = "signal"
                return self
            except (ValueError, OSError, AttributeError):   # not the main thread after all
                pass
        self.mode = "thread"
        self._thread_id = threading.get_ident()
        self._stop, self._lock = threading.Event(), threading.Lock()
        threading.Thread(target=self._watch, name="dlcore-check-timer", daemon=True).start()
        return self

    def _watch(self) -> None:
        if self._stop.wait(self.seconds):
            return
        while True:
            with self._lock:
                if self.done:
                    return
                self.fired = True
                _async_raise(self._thread_id, self.exc_type)
            if self._stop.wait(_REPEAT_S):
                return

    def __exit__(self, *exc) -> bool:
        while True:  # a time-out raised while cleaning up must not skip the clean-up
            try:
                if self.mode == "signal":
                    self.done = True
                    _pop_alarm(self)
                elif self.mode == "thread":
                    with self._lock:
                        self.done = True
                        self._stop.set()
                    if self.fired:
                        # A raise the watchdog sent just before ``done`` is delivered at the next
                        # function call and caught below. (Clearing it with
                        # PyThreadState_SetAsyncExc(id, NULL) instead left CPython 3.11 in a state
                        # where any later profiled call in the main thread spun forever.)
                        for _ in range(64):
                            _deliver_pending()
                self.done = True
                return False
            except _Expired:
                continue


def _deliver_pending() -> None:
    """A Python-level call: the interpreter delivers a pending asynchronous exception here."""


def _signals_usable() -> bool:
    return (not _STATE.force_thread_timer and os.environ.get("DLCORE_CHECK_TIMER") != "thread"
            and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread())


_ACTIVE: list[_TimeLimit] = []
_FOREIGN: dict = {"handler": None, "deadline": None, "interval": 0.0}


def _arm() -> None:
    now = time.monotonic()
    delays = [_REPEAT_S if lim.fired else lim.deadline - now for lim in _ACTIVE if not lim.done]
    if _FOREIGN["deadline"] is not None:
        delays.append(_FOREIGN["deadline"] - now)
    signal.setitimer(signal.ITIMER_REAL, max(min(delays), 1e-4) if delays else 0)


def _on_alarm(signum, frame) -> None:
    now = time.monotonic()
    if _FOREIGN["deadline"] is not None and now >= _FOREIGN["deadline"]:
        handler, _FOREIGN["deadline"] = _FOREIGN["handler"], None
        _arm()
        if callable(handler):
            handler(signum, frame)   # an earlier alarm (e.g. a test runner's) is due first
    expired = [lim for lim in _ACTIVE if not lim.done and now >= lim.deadline]
    for lim in expired:
        lim.fired = True
    _arm()
    if expired:
        raise expired[0].exc_type(f"time limit of {expired[0].seconds:g} s")


def _push_alarm(limit: _TimeLimit) -> None:
    if not _ACTIVE:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        delay, interval = signal.setitimer(signal.ITIMER_REAL, 0)
        _FOREIGN.update(handler=previous, interval=interval,
                        deadline=time.monotonic() + delay if delay > 0 else None)
    _ACTIVE.append(limit)
    _arm()


def _pop_alarm(limit: _TimeLimit) -> None:
    if limit in _ACTIVE:
        _ACTIVE.remove(limit)
    if _ACTIVE:
        _arm()
        return
    signal.setitimer(signal.ITIMER_REAL, 0)
    handler = _FOREIGN["handler"]
    signal.signal(signal.SIGALRM, handler if handler is not None else signal.SIG_DFL)
    if _FOREIGN["deadline"] is not None:
        signal.setitimer(signal.ITIMER_REAL, max(_FOREIGN["deadline"] - time.monotonic(), 1e-4),
                         _FOREIGN["interval"])
    _FOREIGN.update(handler=None, deadline=None, interval=0.0)


def _timeout_from_env() -> float:
    try:
        value = float(os.environ.get("DLCORE_CHECK_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def _resolve_timeout(explicit: float | None) -> float:
    for value in (_STATE.forced_timeout, explicit, _STATE.checker_timeout):
        if value is not None:
            return float(value)
    return _timeout_from_env()


@contextlib.contextmanager
def override_timeout(seconds: float, *, thread_timer: bool = False):
    """Tests: give every call into student code ``seconds`` (optionally with the watchdog timer)."""
    saved = _STATE.forced_timeout, _STATE.force_thread_timer
    _STATE.forced_timeout, _STATE.force_thread_timer = seconds, thread_timer
    try:
        yield
    finally:
        _STATE.forced_timeout, _STATE.force_thread_timer = saved


# ---- the stop button -------------------------------------------------------------------------------


class _InterruptFlag:
    real = False


@contextlib.contextmanager
def _interrupt_watch():
    """Note whether a real SIGINT (the stop button) arrives; re-entrant."""
    if _STATE.interrupt is not None:
        yield _STATE.interrupt
        return
    flag = _InterruptFlag()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGINT)

        def on_interrupt(signum, frame):
            flag.real = True
            if callable(previous):
                previous(signum, frame)
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt

        try:
            if previous is not None:
                signal.signal(signal.SIGINT, on_interrupt)
        except (ValueError, OSError):
            previous = None
    _STATE.interrupt = flag
    try:
        yield flag
    finally:
        _STATE.interrupt = None
        if previous is not None:
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signal.SIGINT, previous)


# ---- calling the student's code ----------------------------------------------------------------------


def _student_errstate() -> contextlib.AbstractContextManager:
    """The learner's NumPy error state, unless the check body chose its own on purpose."""
    state = _STATE.student_errstate
    if state is None or np.geterr() != _STATE.body_errstate:
        return contextlib.nullcontext()
    return np.errstate(**{**state, "under": "ignore"})


def _call(fn, args, kwargs, *, timeout=None, errstate=True):
    if fn is None:
        raise CheckFailure("You passed None instead of your function.",
                           "Pass the function itself, e.g. check.ex2(my_function), without calling it.")
    if not callable(fn):
        raise CheckFailure(f"Expected a function, got a value of type {type(fn).__name__}.",
                           "Pass the function itself, without parentheses: check.ex1(my_function).")
    seconds = _resolve_timeout(timeout)
    limit = _TimeLimit(seconds)
    with _interrupt_watch() as flag:
        try:
            with _student_errstate() if errstate else contextlib.nullcontext(), limit:
                result = fn(*args, **kwargs)
        except _Expired as err:
            if limit.owns(err):
                raise _StudentError(err, timeout=seconds) from None
            raise
        except BaseException as err:  # noqa: BLE001  (anything student code raises is feedback)
            if isinstance(err, KeyboardInterrupt) and flag.real:
                raise
            raise _StudentError(err) from err
    _STATE.last_result, _STATE.has_result = result, True
    return result


def call(fn, *args, timeout: float | None = None, **kwargs):
    """Call the student's function with a time limit, turning whatever it raises into feedback.

    Args:
        fn: the student's function (or class).
        args, kwargs: passed on to ``fn`` (``call(fn, x, y, lr=0.1)``).
        timeout: seconds this call may take; default: the checker's, else ``DLCORE_CHECK_TIMEOUT``,
            else :data:`DEFAULT_TIMEOUT`.

    Raises:
        CheckFailure: if ``fn`` is not callable.
        _StudentError: if ``fn`` raises or runs out of time (caught and explained by :func:`checker`).
    """
    return _call(fn, args, kwargs, timeout=timeout)


# ---- expectations --------------------------------------------------------------------------------


def expect(condition: bool, message: str, hint: str | None = None) -> None:
    """Fail the check with ``message`` (and an optional hint) unless ``condition``."""
    if not condition:
        raise CheckFailure(message, hint)


def _shape_text(shape) -> str:
    return "(" + ", ".join("any" if e is None else str(e) for e in shape) + ("," if len(shape) == 1 else "") + ")"


def _shape_hint(got: tuple, want: tuple) -> str:
    """A hint for a shape mismatch that names the likely cause."""
    concrete = None not in want
    if concrete and int(np.prod(got)) == int(np.prod(want)) and \
            [s for s in got if s != 1] == [s for s in want if s != 1]:
        return (f"The numbers are there, but with an extra or missing axis of size 1: {got} instead of "
                f"{want}. Use 1-D arrays (or .reshape({', '.join(map(str, want))})), e.g. .ravel() "
                "for a column vector.")
    if concrete and len(got) == 2 == len(want) and got == want[::-1]:
        return "It is the transpose of what is expected: check the order of the axes (or a missing .T)."
    if concrete and len(got) == len(want) + 1:
        return "There is an extra axis: did you forget to sum or average over one (e.g. axis=-1)?"
    if concrete and len(got) + 1 == len(want):
        return "An axis is missing: did you sum over an axis you should keep (keepdims=True)?"
    return "Print the shapes of your intermediate arrays to see where it changes."


def _torch_hint(value) -> str | None:
    module = type(value).__module__ or ""
    if not module.startswith("torch"):
        return None
    if getattr(value, "requires_grad", False):
        return "It is a torch tensor that requires grad: return tensor.detach() (or .detach().numpy())."
    device = getattr(value, "device", None)
    if device is not None and getattr(device, "type", "cpu") != "cpu":
        return f"It is a torch tensor on {device}: move it with .cpu() first."
    return None


def expect_array(value, *, shape=None, name: str = "your answer", finite: bool = True,
                 numeric: bool = True, min_dtype: str | None = "float32") -> np.ndarray:
    """Check that ``value`` is an array-like of the given shape and return it as an array.

    Args:
        value: the student's answer.
        shape: expected shape; ``None`` entries match any size.
        name: how to call the value in messages.
        finite: also require no NaN or inf.
        numeric: require real numbers (or booleans).
        min_dtype: the least precise float dtype accepted (float16 answers fail by default);
            ``None`` accepts every float dtype.
    """
    if value is None:
        raise CheckFailure(f"{name} is None.", "Did you forget a `return` statement?")
    if inspect.isgenerator(value) or (hasattr(value, "__next__") and not hasattr(value, "__array__")):
        raise CheckFailure(f"{name} is a {type(value).__name__}, not an array.",
                           "Use `return`, not `yield`, and turn a sequence into an array with np.array(list(...)).")
    if callable(value) and not hasattr(value, "__array__") and not hasattr(value, "__len__"):
        raise CheckFailure(f"{name} is a function ({getattr(value, '__name__', type(value).__name__)}), "
                           "not an array.", "Return the result of calling it, not the function itself.")
    hint = _torch_hint(value)
    if hint:
        raise CheckFailure(f"{name} could not be turned into a NumPy array.", hint)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = np.asarray(value)
    except Exception as err:  # noqa: BLE001
        raise CheckFailure(f"{name} could not be turned into a NumPy array (type {type(value).__name__}: "
                           f"{type(err).__name__}: {_short(err)}).",
                           "Return a NumPy array (or a number, or a list of numbers of equal lengths).") from None
    if numeric:
        if arr.dtype == object:
            odd = next((x for x in arr.reshape(-1) if not isinstance(x, (int, float, np.number))), None)
            raise CheckFailure(f"{name} should hold numbers, but it holds Python objects"
                               + (f" (e.g. a {type(odd).__name__})" if odd is not None else "")
                               + f" (type {type(value).__name__}).",
                               "Every entry must be a number; lists of different lengths or None entries "
                               "cannot become a numeric array.")
        if np.issubdtype(arr.dtype, np.complexfloating):
            raise CheckFailure(f"{name} holds complex numbers (dtype {arr.dtype}); expected real numbers.",
                               "Look for the square root or log of a negative number, or 1j in your code.")
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise CheckFailure(f"{name} should hold numbers, but its dtype is {arr.dtype} "
                               f"(type {type(value).__name__}).")
        if min_dtype is not None and arr.dtype.kind == "f" and arr.dtype.itemsize < np.dtype(min_dtype).itemsize:
            digits = int(np.finfo(arr.dtype).precision)
            raise CheckFailure(f"{name} has dtype {arr.dtype}, which keeps only about {digits} significant "
                               f"digits; this exercise needs {np.dtype(min_dtype)} or float64.",
                               "Compute in float64 (NumPy's default) or float32; drop the cast to "
                               f"{arr.dtype}.")
    if shape is not None:
        shape = tuple(shape)
        ok = arr.ndim == len(shape) and all(e is None or e == a for e, a in zip(shape, arr.shape))
        if not ok:
            raise CheckFailure(f"{name} has shape {arr.shape}, expected {_shape_text(shape)}.",
                               _shape_hint(arr.shape, shape))
    if finite and numeric and arr.size and arr.dtype != bool and not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise CheckFailure(f"{name} contains NaN or inf ({bad} of {arr.size} entries).",
                           "Look for a division by zero, the log of zero, or an exp that overflowed.")
    return arr


def _pair_text(got: float, want: float) -> tuple[str, str]:
    """Format two numbers with just enough digits to tell them apart."""
    for digits in range(6, 18):
        a, b = f"{got:.{digits}g}", f"{want:.{digits}g}"
        if a != b:
            return a, b
    return a, b


def expect_close(actual, expected, *, rtol: float | None = None, atol: float | None = None,
                 name: str = "your answer", hint: str | None = None, dtype_tolerant: bool = True,
                 min_dtype: str | None = "float32") -> None:
    """Fail unless ``actual`` matches ``expected`` in shape and value.

    An entry passes when ``|actual - expected| <= atol + rtol |expected|`` (defaults ``rtol = 1e-6``,
    ``atol = 1e-8``). With ``dtype_tolerant`` a float32 answer is held to float32's accuracy: ``rtol``
    at least 1e-5 and, unless ``atol`` is given, ``atol`` at least 1e-6 times the largest expected
    magnitude. The message names the entry that misses its tolerance by the most.
    """
    expected = np.asarray(expected)
    arr = expect_array(actual, shape=expected.shape, name=name, min_dtype=min_dtype)
    r = 1e-6 if rtol is None else rtol
    a = 1e-8 if atol is None else atol
    got = arr.astype(np.float64) if arr.dtype.itemsize <= 8 or arr.dtype.kind != "f" else arr
    want = expected.astype(np.float64)
    if dtype_tolerant and arr.dtype.kind == "f" and arr.dtype.itemsize <= 4:
        r = max(r, FLOAT32_RTOL)
        if atol is None:
            scale = float(np.max(np.abs(want[np.isfinite(want)]), initial=0.0))
            a = max(a, FLOAT32_ATOL * max(scale, 1.0))
    with np.errstate(all="ignore"):
        diff = np.abs(got - want)
        excess = diff - (a + r * np.abs(want))
    excess = np.where(got == want, -1.0, np.where(np.isnan(excess), np.inf, excess))
    if not np.any(excess > 0):
        return
    idx = np.unravel_index(int(np.argmax(excess)), excess.shape) if excess.ndim else ()
    g, w = float(got[idx]), float(want[idx])
    gt, wt = _pair_text(g, w)
    where = f"at index {tuple(int(i) for i in idx)}: " if expected.size > 1 else ""
    count = f"; {int(np.sum(excess > 0))} of {excess.size} entries are off" if expected.size > 1 else ""
    raise CheckFailure(f"{name} has the right shape but wrong values ({where}got {gt}, expected {wt}, "
                       f"a difference of {abs(g - w):.3g}{count}).", hint)


# ---- overflow that no warning shows --------------------------------------------------------------


_TRACK_LOG: list | None = None


class _Tracked(np.ndarray):
    """An array that notes every ufunc turning finite numbers into inf or NaN, whatever np.errstate says."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        plain = [x.view(np.ndarray) if isinstance(x, _Tracked) else x for x in inputs]
        out = kwargs.get("out")
        if out:
            kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, _Tracked) else o for o in out)
        result = getattr(ufunc, method)(*plain, **kwargs)
        if method == "__call__" and _TRACK_LOG is not None:
            with contextlib.suppress(Exception):
                results = result if isinstance(result, tuple) else (result,)
                finite_in = all(np.all(np.isfinite(x)) for x in plain
                                if np.asarray(x).dtype.kind in "fiub")
                if finite_in and any(np.asarray(y).dtype.kind == "f" and not np.all(np.isfinite(y))
                                     for y in results):
                    _TRACK_LOG.append(ufunc.__name__)
        if out:
            return out[0] if len(out) == 1 else out

        def wrap(r):
            return r.view(_Tracked) if type(r) is np.ndarray else r

        return tuple(wrap(r) for r in result) if isinstance(result, tuple) else wrap(result)


def _untrack(value):
    if isinstance(value, _Tracked):
        return value.view(np.ndarray)
    if isinstance(value, (tuple, list)):
        return type(value)(_untrack(v) for v in value)
    return value


def expect_no_warnings(fn, *args, expected=None, name: str = "your function", rtol: float | None = None,
                       atol: float | None = None, hint: str | None = None, warning_hint: str | None = None,
                       timeout: float | None = None, **kwargs):
    """Call ``fn(*args, **kwargs)`` at extreme inputs: check its values, then that nothing overflowed.

    Three checks, in this order, so that the first message names the real mistake:

    1. with ``expected`` given, the values (:func:`expect_close` with ``rtol``, ``atol``, ``hint``);
    2. no NumPy ``RuntimeWarning`` (overflow, invalid value, division by zero);
    3. no ufunc turned finite numbers into inf or NaN on the way, *even where the student silenced
       the warning* with ``np.errstate``: array arguments are passed as a subclass of ndarray that
       notes this (code that calls ``np.asarray`` on its input loses the tracking, and is then
       judged by 1 and 2 alone).

    How chapters should use it: pick extreme inputs at which a naive formula's *values* are
    wrong where possible (for the sigmoid, ``z = -720``: ``exp(720)`` overflows, so
    ``1 / (1 + exp(-z))`` gives 0 while the true value 2.2e-313 is representable), and give
    ``atol`` on the scale of the output (e.g. 1e-15 for a probability), so that a correct
    identity such as ``0.5 * (1 + tanh(z / 2))``, exact to rounding, passes.

    Returns:
        The result (with tracked arrays turned back into plain ones).
    """
    global _TRACK_LOG
    tracked = [np.array(a).view(_Tracked) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
               for a in args]
    saved, _TRACK_LOG = _TRACK_LOG, []
    try:
        with warnings.catch_warnings(record=True) as caught, \
                np.errstate(over="warn", invalid="warn", divide="warn", under="ignore"):
            warnings.simplefilter("always")
            result = _untrack(_call(fn, tracked, kwargs, timeout=timeout, errstate=False))
        log = list(_TRACK_LOG)
    finally:
        _TRACK_LOG = saved
    if expected is not None:
        expect_close(result, expected, rtol=rtol, atol=atol, name=name, hint=hint)
    numerical = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    if numerical:
        w = numerical[0]
        line = (linecache.getline(w.filename, w.lineno) or "").strip() if _is_student_file(w.filename) else ""
        where = f" at line {w.lineno}: `{line}`" if line else ""
        raise CheckFailure(f"{name} gave NumPy's warning '{w.message}'{where}.",
                           warning_hint or "Rewrite the formula so that no intermediate result overflows "
                           "(e.g. exp only of numbers <= 0).")
    if log:
        raise CheckFailure(f"{name} computed np.{log[0]} of finite numbers and got inf or NaN along the "
                           "way (an overflow), although no warning was shown: was it silenced with "
                           "np.errstate or warnings.filterwarnings?",
                           warning_hint or "Hiding the warning does not remove the overflow. Rewrite the "
                           "formula so that no intermediate result overflows.")
    return result


# ---- explaining what went wrong --------------------------------------------------------------------


def _library_dirs() -> tuple[str, ...]:
    dirs = {os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.path.dirname(os.__file__)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        with contextlib.suppress(KeyError, TypeError):
            dirs.add(sysconfig.get_paths()[key])
    dirs.add(os.path.dirname(os.path.dirname(np.__file__)))
    return tuple(os.path.realpath(d) + os.sep for d in dirs if d)


_LIBRARY_DIRS = _library_dirs()


def _is_student_file(filename: str | None) -> bool:
    """True for code the learner wrote: a notebook cell, ``<stdin>``, or a file outside the libraries."""
    if not filename:
        return False
    if filename.startswith("<"):
        return filename.startswith(("<ipython-input", "<stdin>", "<string>", "<cell"))
    if re.search(r"ipykernel_\d+", filename):
        return True
    path = os.path.realpath(filename)
    return not path.startswith(_LIBRARY_DIRS) and "site-packages" not in path and "dist-packages" not in path


def _student_frame(err: BaseException):
    """The last traceback entry that is the learner's own code, or None."""
    frames = traceback.extract_tb(err.__traceback__)
    for frame in reversed(frames):
        if _is_student_file(frame.filename) and (frame.filename, frame.name) != _STATE.checker_code:
            return frame
    return None


def _code_text(line: str | None) -> str:
    """A source line without its indentation and trailing comment."""
    text, quote = (line or "").strip(), None
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return text[:i].rstrip()
    return text


def _where(frame) -> str:
    if frame is None:
        return ""
    code = _code_text(frame.line)
    func = f"in {frame.name}, " if frame.name not in ("<module>", "<lambda>") else ""
    return f" ({func}line {frame.lineno}: `{code}`)" if code else f" ({func}line {frame.lineno})"


def _short(err: BaseException, limit: int = 300) -> str:
    try:
        text = str(err).strip().replace("\n", " ")
    except Exception:  # noqa: BLE001  (an exception whose __str__ fails)
        text = f"<{type(err).__name__} that cannot be printed>"
    return text if len(text) <= limit else text[:limit] + " ..."


_HINTS: list[tuple[tuple[type, ...], str, str]] = [
    ((ValueError, RuntimeError), r"matmul: Input operand|not aligned|mat1 and mat2 shapes cannot be multiplied"
     r"|size of tensor a .* must match", "The shapes do not fit a matrix product: a forgotten transpose "
     "(W.T), or the operands in the wrong order (b @ W instead of W @ b)? A weight of shape (out, in) "
     "maps x of shape (N, in) by x @ W.T. Print the shapes just before the @."),
    ((ValueError,), r"could not be broadcast|broadcast", "Broadcasting lines up shapes from the right; "
     "print the shapes of the two operands. Use [:, None] or keepdims=True to keep an axis."),
    ((FloatingPointError, RuntimeWarning), r"overflow|invalid value|divide by zero", "np.where(c, a, b) "
     "computes both a and b for every element before choosing, so an exp that overflows in the branch you "
     "do not use still overflows. Compute only what is safe, e.g. exp(-|z|), which is at most 1."),
    ((TypeError,), r"Cannot cast ufunc|casting rule|UFuncTypeError|output .* int", "An in-place update of an "
     "integer array (x /= n, x -= lr * g): NumPy cannot store fractions in it. Make a float copy first, "
     "np.array(x, dtype=float), or write x = x / n."),
    ((OverflowError,), r"", "An integer got too large (or a float too large for int()): compute with floats."),
    ((ZeroDivisionError,), r"", "A division by zero: is a count zero, e.g. an empty class or a sum of "
     "zero weights? Guard against it, or divide NumPy floats (which give inf and a warning instead)."),
    ((np.linalg.LinAlgError,), r"[Ss]ingular", "The matrix is singular (not invertible). Check that you "
     "added the regulariser (lam * I) and that the matrix is the one intended (e.g. X.T @ X, not X @ X.T)."),
    ((IndexError,), r"", "An index past the end of an axis: check the ranges you loop over (range(len(x))) "
     "and which axis you index."),
    ((RuntimeError,), r"same device", "Some tensors are on the GPU and others on the CPU: move them all "
     "with .to(device)."),
    ((RuntimeError,), r"scalar type|same dtype|dtype", "Two tensors have different dtypes (float32 and "
     "float64): convert one with .float() or .double(), or create both with the same dtype."),
    ((RuntimeError,), r"does not require grad", "The tensor has no graph to differentiate: create the "
     "parameters with requires_grad=True, and do not compute the loss under torch.no_grad() or after .detach()."),
    ((RuntimeError,), r"backward through the graph a second time", "Call backward() once per step: a second "
     "call would add the gradients twice. Run the forward pass again if you really need another backward."),
    ((RecursionError,), r"", "A function calls itself without end: check its stopping case."),
    ((NameError,), r"", "The name is not defined in this kernel: run the cells above first (Run All), "
     "and check the spelling."),
    ((TypeError,), r"NoneType", "Something is None: does a helper function forget to `return` its result?"),
    ((AttributeError,), r"'list' object has no attribute|'tuple' object has no attribute", "A list has no "
     "array methods: turn it into an array first with np.asarray(...)."),
    ((MemoryError,), r"", "An array far larger than needed: check the shapes you create (e.g. an (N, N) matrix "
     "where (N,) was meant)."),
]


def _hint_for(err: BaseException) -> str | None:
    text = f"{type(err).__name__}: {_short(err, limit=2000)}"
    for types, pattern, hint in _HINTS:
        if isinstance(err, types) and re.search(pattern, text):
            return hint
    return None


def _describe_student_error(err: BaseException, timeout: float | None = None) -> tuple[str, str | None]:
    where = _where(_student_frame(err))
    if timeout is not None:
        return (f"your function took longer than {timeout:g} s, so it was stopped{where}.",
                "Is there a loop that never ends (a `while` whose condition never changes), or far more "
                "steps than needed (a Python loop over every entry of a large array)? On a slow machine "
                "you can allow more time with the environment variable DLCORE_CHECK_TIMEOUT (seconds).")
    if isinstance(err, NotImplementedError):
        return "Not done yet: your code still raises NotImplementedError.", \
            "Replace the `raise NotImplementedError(...)` line with your solution."
    if isinstance(err, SystemExit):
        return (f"your code called exit() or sys.exit() (SystemExit: {err.code}){where}.",
                "A function should `return` its result; exit() would stop the whole kernel.")
    if isinstance(err, KeyboardInterrupt):
        return f"your code raised KeyboardInterrupt{where}.", \
            "If you pressed the stop button, run the checker again."
    message = _short(err)
    return f"Your code raised {type(err).__name__}" + (f": {message}" if message else "") + f"{where}.", \
        _hint_for(err)


def _describe_value(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(type(v).__name__ for v in value[:4]) + (", ..." if len(value) > 4 else "")
        return f"a {type(value).__name__} of length {len(value)} ({inner})"
    return f"a {type(value).__name__}"


def _could_not_check(err: BaseException) -> tuple[str, str]:
    """Explain an exception raised by the check body itself (not inside a call to the student's code)."""
    frame = _student_frame(err)
    if frame is not None:   # e.g. the __array__ or __len__ of an object the student's code made
        return (f"your answer raised {type(err).__name__}: {_short(err)}{_where(frame)} while the checker "
                "looked at it.", _hint_for(err) or "Return plain NumPy arrays, numbers, or tuples of them.")
    frames = traceback.extract_tb(err.__traceback__)
    mine = [f for f in frames if f.filename != __file__ and (
        os.sep + "exercises" + os.sep in f.filename or (f.filename, f.name) == _STATE.checker_code)]
    step = f" at `{_code_text(mine[-1].line)}`" if mine and mine[-1].line else ""
    returned = f" Your function returned {_describe_value(_STATE.last_result)}." if _STATE.has_result else ""
    return (f"your answer could not be checked: the checker failed{step} with {type(err).__name__}: "
            f"{_short(err)}.{returned}",
            "Compare the type and shape of what you return with what the exercise asks for. If your answer "
            "looks right, this is a bug in the checker: please report it.")


def _print(lines: list[str]) -> None:
    """Print feedback; never fails, whatever the console's encoding."""
    text = "\n".join(lines)
    stream = sys.stdout
    if stream is None:
        return
    try:
        print(text, file=stream)
    except UnicodeEncodeError:
        ascii_text = text.replace("✓", "[ok]").replace("✗", "[x]")
        encoding = getattr(stream, "encoding", None) or "ascii"
        with contextlib.suppress(Exception):
            print(ascii_text.encode(encoding, errors="replace").decode(encoding, errors="replace"), file=stream)
    except Exception:  # noqa: BLE001  (a closed or broken stream must not crash a checker)
        return
    with contextlib.suppress(Exception):
        stream.flush()


# ---- the decorator -------------------------------------------------------------------------------


def _run_check(fn, label, args, kwargs, timeout, total_timeout) -> tuple[list[str], bool]:
    """Run the check body; return (lines to print, passed). Raises only KeyboardInterrupt (stop button)."""
    saved = (_STATE.student_errstate, _STATE.body_errstate, _STATE.checker_timeout,
             _STATE.last_result, _STATE.has_result, _STATE.checker_code)
    _STATE.student_errstate, _STATE.checker_timeout = np.geterr(), timeout
    code = getattr(fn, "__code__", None)
    _STATE.checker_code = (code.co_filename, code.co_name) if code is not None else None
    _STATE.last_result, _STATE.has_result = None, False
    per_call = _resolve_timeout(None)
    total = _TimeLimit(total_timeout if total_timeout is not None else max(60.0, 6 * per_call))
    try:
        with _interrupt_watch() as flag:
            try:
                with np.errstate(**NUMPY_DEFAULTS), total:
                    _STATE.body_errstate = np.geterr()
                    message = fn(*args, **kwargs)
            except CheckFailure as fail:
                return [f"✗ {label}: {fail.message}"] + ([f"  Hint: {fail.hint}"] if fail.hint else []), False
            except _StudentError as err:
                msg, hint = _describe_student_error(err.original, err.timeout)
                return [f"✗ {label}: {msg}"] + ([f"  Hint: {hint}"] if hint else []), False
            except BaseException as err:  # noqa: BLE001  (an odd answer must not crash the checker)
                if isinstance(err, KeyboardInterrupt) and flag.real:
                    raise
                if total.owns(err):
                    return [f"✗ {label}: checking took longer than {total.seconds:g} s in all, so it was "
                            f"stopped{_where(_student_frame(err))}.",
                            "  Hint: your function is slow on these small cases; look for loops that run "
                            "far more often than needed."], False
                if isinstance(err, (SystemExit, KeyboardInterrupt, GeneratorExit)) or _student_frame(err):
                    msg, hint = (_could_not_check(err) if not isinstance(err, SystemExit)
                                 else _describe_student_error(err))
                    return [f"✗ {label}: {msg}"] + ([f"  Hint: {hint}"] if hint else []), False
                msg, hint = _could_not_check(err)
                return [f"✗ {label}: {msg}", f"  Hint: {hint}"], False
        return [f"✓ {label}: correct." + (f" {message}" if isinstance(message, str) and message else "")], True
    finally:
        (_STATE.student_errstate, _STATE.body_errstate, _STATE.checker_timeout,
         _STATE.last_result, _STATE.has_result, _STATE.checker_code) = saved


def checker(title: str, *, timeout: float | None = None, total_timeout: float | None = None) -> Callable:
    """Decorate a check function ``exN(answer)`` of a chapter module.

    The wrapped checker prints ``✓`` or ``✗`` with an explanation, records the outcome
    for :func:`results`, and never raises (except ``KeyboardInterrupt`` when the learner
    presses the stop button, after printing that the check was interrupted).

    Args:
        title: what the exercise is about, shown after "Exercise N".
        timeout: seconds each call into the student's code may take (default: the environment
            variable ``DLCORE_CHECK_TIMEOUT``, else 10).
        total_timeout: seconds the whole check may take (default: 6 x timeout, at least 60).
    """

    def decorate(fn: Callable) -> Callable:
        chapter = fn.__module__.rsplit(".", 1)[-1]
        key = f"{chapter}.{fn.__name__}"
        _REGISTRY.setdefault(chapter, [])
        if fn.__name__ not in _REGISTRY[chapter]:
            _REGISTRY[chapter].append(fn.__name__)
        label = f"{fn.__name__.replace('ex', 'Exercise ')} ({title})"

        @functools.wraps(fn)
        def wrapper(*args, **kwargs) -> None:
            _RESULTS[key] = False
            try:
                lines, ok = _run_check(fn, label, args, kwargs, timeout, total_timeout)
            except KeyboardInterrupt:
                _print([f"✗ {label}: interrupted (the stop button), so it was not checked."])
                raise
            except BaseException as err:  # noqa: BLE001  (the harness itself must never crash a cell)
                lines, ok = [f"✗ {label}: the checker itself failed ({type(err).__name__}: {_short(err)}).",
                             "  Hint: this is a bug in the checker, not in your answer: please report it."], False
            _RESULTS[key] = ok
            _print(lines)

        wrapper.exercise_key = key
        wrapper.title = title
        return wrapper

    return decorate


def results() -> dict[str, bool]:
    """The latest outcome of every checker called so far: ``{"ch01.ex2": True}``."""
    return dict(_RESULTS)


def passed(key) -> bool:
    """Whether checker ``key`` (``"ch02.ex3"``, or the checker itself) passed its latest run.

    For demo cells that need a working answer::

        if passed("ch02.ex3"):
            plot_path(momentum_descent(...))
    """
    key = getattr(key, "exercise_key", key)
    return _RESULTS.get(key, False) is True


def reset_results() -> None:
    """Forget all recorded outcomes."""
    _RESULTS.clear()


def checkers_of(chapter: str) -> list[str]:
    """Names of the checkers defined in ``dlcore.exercises.<chapter>`` (e.g. ``"ch01"``)."""
    import importlib

    if chapter not in _REGISTRY:
        importlib.import_module(f"dlcore.exercises.{chapter}")
    return list(_REGISTRY.get(chapter, []))


def assert_all_passed(chapter: str) -> None:
    """Raise AssertionError unless every checker of ``chapter`` ran and passed.

    Used in a hidden cell at the end of each solution notebook, so that the test
    run fails when a solution stops passing its own checks.
    """
    names = checkers_of(chapter)
    assert names, f"{chapter}: no checkers are defined"
    missing = [n for n in names if f"{chapter}.{n}" not in _RESULTS]
    failed = [n for n in names if _RESULTS.get(f"{chapter}.{n}") is False]
    assert not missing, f"{chapter}: these checkers were never called: {missing}"
    assert not failed, f"{chapter}: these checks failed: {failed}"

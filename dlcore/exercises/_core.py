"""The checker harness: a decorator that turns any failure into friendly feedback."""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable

import numpy as np

#: Latest outcome of every checker called in this Python process: {"ch01.ex2": True, ...}.
_RESULTS: dict[str, bool] = {}
#: Every checker defined, per chapter module: {"ch01": ["ex1", "ex2"], ...}.
_REGISTRY: dict[str, list[str]] = {}


class CheckFailure(Exception):
    """Raised inside a checker when the answer is wrong; becomes a ✗ message."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class _StudentError(Exception):
    """Wraps an exception raised inside the student's own code."""

    def __init__(self, original: BaseException):
        super().__init__(str(original))
        self.original = original


def call(fn, *args, **kwargs):
    """Call the student's function, turning its exceptions into feedback.

    Raises:
        CheckFailure: if ``fn`` is not callable.
        _StudentError: if ``fn`` raises (caught and explained by :func:`checker`).
    """
    if fn is None:
        raise CheckFailure("You passed None instead of your function.",
                           "Pass the function itself, e.g. check.ex2(my_function), without calling it.")
    if not callable(fn):
        raise CheckFailure(f"Expected a function, got a value of type {type(fn).__name__}.",
                           "Pass the function itself, without parentheses.")
    try:
        return fn(*args, **kwargs)
    except Exception as err:  # noqa: BLE001  (any error in student code is feedback)
        raise _StudentError(err) from err


def expect(condition: bool, message: str, hint: str | None = None) -> None:
    """Fail the check with ``message`` (and an optional hint) unless ``condition``."""
    if not condition:
        raise CheckFailure(message, hint)


def expect_array(value, *, shape=None, name: str = "your answer", finite: bool = True,
                 numeric: bool = True) -> np.ndarray:
    """Check that ``value`` is an array-like of the given shape and return it as an array.

    Args:
        value: the student's answer.
        shape: expected shape; ``None`` entries match any size.
        name: how to call the value in messages.
        finite: also require no NaN or inf.
    """
    if value is None:
        raise CheckFailure(f"{name} is None.", "Did you forget a `return` statement?")
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001
        raise CheckFailure(f"{name} could not be turned into a NumPy array "
                           f"(type {type(value).__name__}).") from None
    if numeric and not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise CheckFailure(f"{name} should hold numbers, but its dtype is {arr.dtype} "
                           f"(type {type(value).__name__}).")
    if shape is not None:
        shape = tuple(shape)
        ok = arr.ndim == len(shape) and all(e is None or e == a for e, a in zip(shape, arr.shape))
        if not ok:
            want = "(" + ", ".join("any" if e is None else str(e) for e in shape) + ("," if len(shape) == 1 else "") + ")"
            raise CheckFailure(f"{name} has shape {arr.shape}, expected {want}.",
                               "Print the shapes of your intermediate arrays to see where it changes.")
    if finite and numeric and arr.size and not np.all(np.isfinite(arr.astype(float))):
        raise CheckFailure(f"{name} contains NaN or inf.",
                           "Look for a division by zero or the log of zero.")
    return arr


def expect_close(actual, expected, *, rtol: float = 1e-6, atol: float = 1e-8,
                 name: str = "your answer", hint: str | None = None) -> None:
    """Fail unless ``actual`` matches ``expected`` in shape and value."""
    expected = np.asarray(expected)
    arr = expect_array(actual, shape=expected.shape, name=name)
    if not np.allclose(arr.astype(float), expected.astype(float), rtol=rtol, atol=atol):
        if expected.size == 1:
            detail = f"got {arr.item():.6g}, expected {expected.item():.6g}"
        else:
            diff = np.abs(arr.astype(float) - expected.astype(float))
            idx = np.unravel_index(int(np.argmax(diff)), diff.shape)
            detail = (f"largest difference at index {tuple(int(i) for i in idx)}: "
                      f"got {arr[idx]:.6g}, expected {expected[idx]:.6g}")
        raise CheckFailure(f"{name} has the right shape but wrong values ({detail}).", hint)


def _describe_student_error(err: BaseException) -> tuple[str, str | None]:
    if isinstance(err, NotImplementedError):
        return "Not done yet: your code still raises NotImplementedError.", \
            "Replace the `raise NotImplementedError(...)` line with your solution."
    tb = traceback.extract_tb(err.__traceback__)
    where = ""
    for frame in reversed(tb):
        if "dlcore" not in frame.filename or "<ipython" in frame.filename:
            code = (frame.line or "").strip()
            where = f" (line {frame.lineno}: `{code}`)" if code else f" (line {frame.lineno})"
            break
    return f"Your code raised {type(err).__name__}: {err}{where}.", None


def _print(lines: list[str]) -> None:
    print("\n".join(lines))
    sys.stdout.flush()


def checker(title: str) -> Callable:
    """Decorate a check function ``exN(answer)`` of a chapter module.

    The wrapped checker prints ``✓`` or ``✗`` with an explanation, records the outcome
    for :func:`results`, and never raises.
    """

    def decorate(fn: Callable) -> Callable:
        chapter = fn.__module__.rsplit(".", 1)[-1]
        key = f"{chapter}.{fn.__name__}"
        _REGISTRY.setdefault(chapter, [])
        if fn.__name__ not in _REGISTRY[chapter]:
            _REGISTRY[chapter].append(fn.__name__)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs) -> None:
            label = f"{fn.__name__.replace('ex', 'Exercise ')} ({title})"
            try:
                message = fn(*args, **kwargs)
            except CheckFailure as fail:
                lines = [f"✗ {label}: {fail.message}"]
                if fail.hint:
                    lines.append(f"  Hint: {fail.hint}")
                _RESULTS[key] = False
                _print(lines)
                return
            except _StudentError as err:
                msg, hint = _describe_student_error(err.original)
                _RESULTS[key] = False
                _print([f"✗ {label}: {msg}"] + ([f"  Hint: {hint}"] if hint else []))
                return
            except Exception as err:  # noqa: BLE001  (an odd answer must not crash the checker)
                _RESULTS[key] = False
                _print([f"✗ {label}: your answer could not be checked ({type(err).__name__}: {err}).",
                        "  Hint: check the type and shape of what you return."])
                return
            _RESULTS[key] = True
            _print([f"✓ {label}: correct." + (f" {message}" if message else "")])

        wrapper.exercise_key = key
        return wrapper

    return decorate


def results() -> dict[str, bool]:
    """The latest outcome of every checker called so far: ``{"ch01.ex2": True}``."""
    return dict(_RESULTS)


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

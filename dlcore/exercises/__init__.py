"""Automatic feedback for the exercise notebooks.

Introduced with the chapter 01 exercises. Each chapter has a module of checkers,
``dlcore.exercises.chNN``; a notebook imports it as ``check`` and calls one checker
right after each coded exercise::

    from dlcore.exercises import ch01 as check
    check.ex2(my_function)

A checker prints ``✓`` or a specific explanation (wrong shape, wrong dtype, wrong
value on a small case, with a hint). It never raises: not on ``None``, a wrong
type, NaN, an exception inside the student's code, or a function that never returns
(every call into it has a time limit, 10 s by default, ``DLCORE_CHECK_TIMEOUT`` to change).
See ``dlcore.exercises._core`` for what the harness promises and how.
"""

from ._core import (
    CheckFailure,
    assert_all_passed,
    call,
    checker,
    checkers_of,
    expect,
    expect_array,
    expect_close,
    expect_no_warnings,
    passed,
    reset_results,
    results,
)

__all__ = [
    "CheckFailure",
    "assert_all_passed",
    "call",
    "checker",
    "checkers_of",
    "expect",
    "expect_array",
    "expect_close",
    "expect_no_warnings",
    "passed",
    "reset_results",
    "results",
]

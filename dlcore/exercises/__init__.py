"""Automatic feedback for the exercise notebooks.

Introduced with the chapter 01 exercises. Each chapter has a module of checkers,
``dlcore.exercises.chNN``; a notebook imports it as ``check`` and calls one checker
right after each coded exercise::

    from dlcore.exercises import ch01 as check
    check.ex2(my_function)

A checker prints ``✓`` or a specific explanation (wrong shape, wrong dtype, wrong
value on a small case, with a hint). It never raises: not on ``None``, a wrong
type, NaN, or an exception inside the student's code.
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
    "reset_results",
    "results",
]

"""Shared pieces of the chapter checker tests (tests/test_exercises_chNN.py).

Each chapter's test file keeps its reference solutions and its specific feedback cases;
what every chapter checks the same way lives here.
"""

from __future__ import annotations

from dlcore.exercises import reset_results, results


def raises(*args, **kwargs):
    """A student function that fails with an ordinary error."""
    raise ValueError("boom")


def exits(*args, **kwargs):
    """A student function that calls sys.exit()."""
    raise SystemExit(1)


def interrupts(*args, **kwargs):
    """A student function that raises KeyboardInterrupt itself (not the stop button)."""
    raise KeyboardInterrupt


def not_done(*args, **kwargs):
    """The untouched stub, as tools/make_exercises.py writes it."""
    raise NotImplementedError("Exercise: replace this line with your code")


def run_checker(capsys, check, name, answer):
    """Run checker ``name`` of the chapter module ``check`` on ``answer``.

    Returns ``(passed, printed text)``. A checker must never raise, so any exception
    here fails the calling test.
    """
    reset_results()
    getattr(check, name)(answer)
    out = capsys.readouterr().out
    chapter = check.__name__.rsplit(".", 1)[-1]
    return results()[f"{chapter}.{name}"], out


#: Odd answers that every checker must reject with these words in its message.
SHARED_BAD = [
    ("None instead of a function", None, "None"),
    ("a number instead of a function", 42, "Expected a function"),
    ("a function that raises", raises, "ValueError: boom"),
    ("a function that calls sys.exit()", exits, "exit()"),
    ("a function that raises KeyboardInterrupt", interrupts, "KeyboardInterrupt"),
    ("the untouched stub", not_done, "Not done yet"),
]

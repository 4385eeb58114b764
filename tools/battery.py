"""Run a battery of correct, wrong and odd answers against every exercise checker and count outcomes.

``python -m tools.battery`` prints, per checker, how many answers were tried and how many gave a
crash (an exception escaped the checker), a hang (the checker took longer than the guard), a
false accept (a wrong or odd answer passed), a false reject (a correct answer failed), and a
generic "could not be checked" message. ``tests/test_checker_battery.py`` builds its cases from
the same generators.

Correct answers come from each chapter module's ``REFERENCE_ANSWERS`` (and ``CORRECT_REWRITES``);
with ``--fallback-tests`` a module without them borrows the ``REFERENCE`` dict of
``tests/test_exercises_chNN.py`` (only for counting: the test suite requires the module's own).

Wrong answers are derived from a function answer: its output scaled, shifted, hard-coded on the
first call, cast to float16, filled with NaN; or replaced by the input, None, a string, a dict, a
generator; or a function that raises (ValueError, SystemExit, KeyboardInterrupt,
NotImplementedError) or sleeps forever.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import io
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# Every chapter checker module there is, so a new chapter cannot be skipped silently.
CHAPTERS = sorted(p.stem for p in (ROOT / "dlcore" / "exercises").glob("ch[0-9][0-9].py"))


#: Derived "wrong" variants that are in fact correct answers: {(chapter, words in the checker's title): {variant: why}}.
NOT_WRONG = {
    ("ch03", "XOR"): {v: "any features that make XOR separable are correct, and scaling or shifting them "
                         "keeps them separable" for v in ("scaled x1.03", "scaled x0.5", "scaled x-1", "shifted +1%")},
    ("ch06", "Xavier"): {"scaled x-1": "U(-b, b) is symmetric, so -W is a correct draw too"},
    ("ch07", "early stopping"): {"float16": "epoch numbers are small integers, exact in float16"},
}


def not_wrong(mod, name: str) -> dict:
    """The derived variants that are correct answers for checker ``name`` of ``mod``, with why."""
    ch = mod.__name__.rsplit(".", 1)[-1]
    title = getattr(getattr(mod, name), "title", "")
    return {k: v for (c, words), table in NOT_WRONG.items() if c == ch and words in title
            for k, v in table.items()}


class Skip(Exception):
    """A transform that has no meaning for this output (e.g. scaling a string)."""


# ---- chapter modules and their correct answers -----------------------------------------------


def chapter_modules() -> dict:
    """``{"ch01": module, ...}`` for the chapter checker modules that exist."""
    mods = {}
    for ch in CHAPTERS:
        if importlib.util.find_spec(f"dlcore.exercises.{ch}") is not None:
            mods[ch] = importlib.import_module(f"dlcore.exercises.{ch}")
    return mods


def _test_references(ch: str) -> dict:
    path = ROOT / "tests" / f"test_exercises_{ch}.py"
    if not path.exists():
        return {}
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        spec = importlib.util.spec_from_file_location(f"_battery_refs_{ch}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001  (a test file being edited elsewhere)
        print(f"{ch}: could not borrow the references of {path.name}: {err}", file=sys.stderr)
        return {}
    finally:
        sys.path.remove(str(ROOT / "tests"))
    return dict(getattr(module, "REFERENCE", {}))


def correct_answers(mod, *, fallback_tests: bool = False) -> tuple[dict, dict, str]:
    """``(references, rewrites, source)`` for a chapter module."""
    refs = dict(getattr(mod, "REFERENCE_ANSWERS", {}) or {})
    rewrites = {k: list(v) for k, v in (getattr(mod, "CORRECT_REWRITES", {}) or {}).items()}
    source = "module"
    if not refs and fallback_tests:
        refs, source = _test_references(mod.__name__.rsplit(".", 1)[-1]), "tests"
    return refs, rewrites, source


# ---- transforms of an output -----------------------------------------------------------------


def map_numbers(obj, f: Callable):
    """Apply ``f`` to every array or number inside ``obj`` (tuples, lists and dicts are walked)."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        raise Skip(type(obj).__name__)
    if isinstance(obj, (int, float, np.number, np.ndarray)):
        arr = np.asarray(obj)
        if not (np.issubdtype(arr.dtype, np.number)):
            raise Skip(f"array of {arr.dtype}")
        out = f(arr)
        return out if isinstance(obj, np.ndarray) else out[()] if isinstance(out, np.ndarray) else out
    if isinstance(obj, tuple):
        return tuple(map_numbers(x, f) for x in obj)
    if isinstance(obj, list):
        try:
            return [map_numbers(x, f) for x in obj]
        except Skip:
            raise
    if isinstance(obj, dict):
        return {k: map_numbers(v, f) for k, v in obj.items()}
    try:  # objects with arithmetic, e.g. a Value or a torch tensor
        import torch  # noqa: PLC0415

        if isinstance(obj, torch.Tensor):
            return torch.as_tensor(f(obj.detach().cpu().numpy()), dtype=obj.dtype)
    except ImportError:
        pass
    raise Skip(f"non-numeric output ({type(obj).__name__})")


def _largest(obj) -> float:
    vals = []

    def grab(a):
        a = np.asarray(a, dtype=float)
        if a.size:
            vals.append(float(np.max(np.abs(a[np.isfinite(a)]))) if np.isfinite(a).any() else 0.0)
        return a

    map_numbers(obj, grab)
    return max(vals) if vals else 0.0


def _scaled(factor):
    def f(a):
        return (a * factor).astype(np.result_type(a.dtype, np.float64)) if a.dtype.kind in "iub" \
            else a * a.dtype.type(factor)
    return f


def output_transforms() -> list[tuple[str, Callable]]:
    """``(name, transform(output, first_output) -> output)``; transforms raise Skip when meaningless."""

    def scale(factor):
        return lambda out, first: map_numbers(out, _scaled(factor))

    def shift(out, first):
        delta = 0.01 * max(_largest(out), 1.0)
        return map_numbers(out, lambda a: a.astype(np.float64) + delta)

    def float16(out, first):
        return map_numbers(out, lambda a: a.astype(np.float16))

    def nan_filled(out, first):
        return map_numbers(out, lambda a: np.full(a.shape, np.nan))

    def hard_coded(out, first):
        return first

    return [("scaled x1.03", scale(1.03)), ("scaled x0.5", scale(0.5)), ("scaled x-1", scale(-1.0)),
            ("shifted +1%", shift), ("float16", float16), ("NaN-filled", nan_filled),
            ("hard-coded (first result)", hard_coded)]


def derived_wrong(reference) -> list[tuple[str, Callable]]:
    """Wrong answers derived from a correct function answer."""
    if not callable(reference) or isinstance(reference, type):
        return []
    def make(name, transform):
        memo = {}

        def variant(*args, **kwargs):
            out = reference(*args, **kwargs)
            memo.setdefault("first", out)
            return transform(out, memo["first"])

        variant.__name__ = "wrong_" + name.replace(" ", "_")
        return variant

    variants = [(name, make(name, transform)) for name, transform in output_transforms()]

    def input_unchanged(*args, **kwargs):
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        return arrays[0] if arrays else (args[0] if args else None)

    def generator(*args, **kwargs):
        yield reference(*args, **kwargs)

    variants += [("input returned unchanged", input_unchanged), ("a generator", generator)]
    return variants


def _raiser(exc):
    def fn(*args, **kwargs):
        raise exc
    fn.__name__ = f"raises_{type(exc).__name__}"
    return fn


def _sleeps(*args, **kwargs):
    time.sleep(1e6)


def _spins(*args, **kwargs):
    while True:
        pass


def generic_wrong() -> list[tuple[str, object]]:
    """Wrong answers that need no reference."""
    return [
        ("None", None), ("returns None", lambda *a, **k: None), ("returns a str", lambda *a, **k: "abc"),
        ("returns a dict", lambda *a, **k: {"a": 1}), ("a str", "abc"), ("a dict", {}),
        ("raises ValueError", _raiser(ValueError("boom"))), ("raises SystemExit", _raiser(SystemExit(1))),
        ("raises KeyboardInterrupt", _raiser(KeyboardInterrupt())),
        ("raises NotImplementedError", _raiser(NotImplementedError("stub"))),
        ("raises GeneratorExit", _raiser(GeneratorExit())),
        ("sleeps forever", _sleeps), ("spins forever", _spins),
        ("takes no arguments", lambda: 1),
    ]


class _Hostile:
    """An answer object whose conversions all raise."""

    def __array__(self, *a, **k):
        raise RuntimeError("no array for you")

    def __len__(self):
        raise RuntimeError("no len for you")

    def __float__(self):
        raise RuntimeError("no float for you")

    def __iter__(self):
        raise RuntimeError("no iter for you")

    def __getitem__(self, i):
        raise RuntimeError("no item for you")

    def __bool__(self):
        raise RuntimeError("no bool for you")


def odd_values() -> list[tuple[str, object]]:
    """A fixed list of odd values (the test suite adds Hypothesis-generated ones)."""
    return [("0", 0), ("-1", -1), ("1e300", 1e300), ("nan", float("nan")), ("inf", float("inf")),
            ("True", True), ("empty str", ""), ("empty list", []), ("[None]", [None]),
            ("ragged list", [[1, 2], [3]]), ("empty array", np.zeros(0)), ("0-d array", np.array(3.0)),
            ("int array", np.arange(6).reshape(2, 3)), ("complex", np.ones(3) * 1j),
            ("object array", np.array([None, 1], dtype=object)), ("float16 array", np.ones((2, 2), np.float16)),
            ("nan array", np.full((3, 3), np.nan)), ("tuple of None", (None, None, None)),
            ("hostile object", _Hostile()), ("tuple of hostiles", (_Hostile(), _Hostile(), _Hostile())),
            ("big array", np.ones((50, 50, 4)))]


# ---- running one answer ----------------------------------------------------------------------


class _Hang(BaseException):
    pass


@dataclass
class Outcome:
    passed: bool | None
    crash: str | None
    hung: bool
    seconds: float
    output: str = ""


def run_one(check, name: str, answer, *, guard_s: float = 20.0) -> Outcome:
    """Run checker ``name`` of module ``check`` on ``answer``, with a hard guard against hangs."""
    from dlcore.exercises import results  # noqa: PLC0415

    key = f"{check.__name__.rsplit('.', 1)[-1]}.{name}"
    buf = io.StringIO()
    crash = None
    hung = False

    def on_alarm(signum, frame):
        raise _Hang()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, guard_s)
    start = time.monotonic()
    try:
        import dlcore.exercises._core as core  # noqa: PLC0415

        core._RESULTS.pop(key, None)
        with contextlib.redirect_stdout(buf):
            getattr(check, name)(answer)
    except _Hang:
        hung = True
    except BaseException as err:  # noqa: BLE001  (the point is to count what escapes)
        crash = f"{type(err).__name__}: {err}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    seconds = time.monotonic() - start
    hung = hung or seconds >= guard_s
    return Outcome(results().get(key), crash, hung, seconds, buf.getvalue())


# ---- the whole battery -----------------------------------------------------------------------


@dataclass
class Tally:
    tried: int = 0
    crashes: list = field(default_factory=list)
    hangs: list = field(default_factory=list)
    false_accepts: list = field(default_factory=list)
    false_rejects: list = field(default_factory=list)
    generic: list = field(default_factory=list)
    skipped: list = field(default_factory=list)


def cases_for(mod, name: str, *, fallback_tests: bool = False):
    """``[(label, answer, should_pass)]`` for checker ``name`` of ``mod``."""
    refs, rewrites, _ = correct_answers(mod, fallback_tests=fallback_tests)
    cases = []
    ref = refs.get(name)
    if ref is not None:
        cases.append(("reference", ref, True))
        for i, alt in enumerate(rewrites.get(name, [])):
            cases.append((f"rewrite {i}", alt, True))
        skip = not_wrong(mod, name)
        for label, answer in derived_wrong(ref):
            if label not in skip:
                cases.append((label, answer, False))
    for label, answer in generic_wrong():
        cases.append((label, answer, False))
    for label, value in odd_values():
        cases.append((f"odd value {label}", value, False))
        cases.append((f"returns odd value {label}", (lambda v: lambda *a, **k: v)(value), False))
    return cases


def run_battery(*, fallback_tests: bool = False, guard_s: float = 20.0, verbose: bool = False) -> dict:
    from dlcore.exercises import checkers_of  # noqa: PLC0415

    tallies = {}
    for ch, mod in chapter_modules().items():
        for name in checkers_of(ch):
            tally = tallies.setdefault(f"{ch}.{name}", Tally())
            for label, answer, should_pass in cases_for(mod, name, fallback_tests=fallback_tests):
                out = run_one(mod, name, answer, guard_s=guard_s)
                tally.tried += 1
                if out.crash:
                    tally.crashes.append(f"{label}: {out.crash}")
                if out.hung:
                    tally.hangs.append(label)
                if "could not be checked" in out.output:
                    tally.generic.append(f"{label}: {out.output.strip().splitlines()[0][:160]}")
                if should_pass and out.passed is not True and not out.hung:
                    tally.false_rejects.append(f"{label}: {out.output.strip()[:300]}")
                elif not should_pass and out.passed is True:
                    tally.false_accepts.append(label)
                if verbose:
                    print(f"{ch}.{name} [{label}] passed={out.passed} {out.seconds:.2f}s", file=sys.stderr)
    return tallies


def report(tallies: dict, *, details: bool = True) -> str:
    lines = [f"{'checker':<10} {'tried':>6} {'crash':>6} {'hang':>5} {'f.acc':>6} {'f.rej':>6} {'generic':>8}"]
    total = Tally()
    for key, t in tallies.items():
        lines.append(f"{key:<10} {t.tried:>6} {len(t.crashes):>6} {len(t.hangs):>5} "
                     f"{len(t.false_accepts):>6} {len(t.false_rejects):>6} {len(t.generic):>8}")
        total.tried += t.tried
        for f in ("crashes", "hangs", "false_accepts", "false_rejects", "generic"):
            getattr(total, f).extend(getattr(t, f))
    lines.append(f"{'TOTAL':<10} {total.tried:>6} {len(total.crashes):>6} {len(total.hangs):>5} "
                 f"{len(total.false_accepts):>6} {len(total.false_rejects):>6} {len(total.generic):>8}")
    if details:
        for key, t in tallies.items():
            for f in ("crashes", "hangs", "false_accepts", "false_rejects", "generic"):
                for item in getattr(t, f):
                    lines.append(f"  {key} {f}: {item}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fallback-tests", action="store_true",
                        help="borrow reference answers from tests/test_exercises_chNN.py where missing")
    parser.add_argument("--timeout", type=float, default=1.0, help="DLCORE_CHECK_TIMEOUT for the run (s)")
    parser.add_argument("--guard", type=float, default=20.0, help="seconds after which a checker counts as hung")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    os.environ["DLCORE_CHECK_TIMEOUT"] = str(args.timeout)
    start = time.monotonic()
    tallies = run_battery(fallback_tests=args.fallback_tests, guard_s=args.guard, verbose=args.verbose)
    print(report(tallies))
    print(f"({time.monotonic() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

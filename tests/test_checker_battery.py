"""A battery against every exercise checker: correct answers pass; wrong and odd answers fail, never crash or hang.

The answers come from :mod:`tools.battery` (``python -m tools.battery`` prints the counts):

* each chapter module's ``REFERENCE_ANSWERS`` and ``CORRECT_REWRITES`` must pass;
* wrong variants derived from the reference (scaled, shifted, hard-coded on the first call,
  float16, NaN-filled, the input returned unchanged, a generator) must fail, except those listed
  in ``tools.battery.NOT_WRONG`` (a transform that leaves the answer correct; skipped, with why);
* generic wrong answers (None, text, a dict, functions that raise ValueError, SystemExit,
  KeyboardInterrupt, GeneratorExit or NotImplementedError, a function that sleeps forever)
  must fail;
* Hypothesis-generated odd values, as the answer and as what the answer returns, must fail.

No checker may let an exception escape, or run past its time limit (1 s per call here).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dlcore.exercises._core as core
from tools import battery

TIMEOUT_S = 1.0
GUARD_S = 20.0
MODULES = battery.chapter_modules()
CHECKERS = [(ch, name) for ch, mod in MODULES.items() for name in core.checkers_of(ch)]


@pytest.fixture(autouse=True)
def _short_time_limit():
    with core.override_timeout(TIMEOUT_S):
        yield


def _run(ch: str, name: str, answer) -> battery.Outcome:
    out = battery.run_one(MODULES[ch], name, answer, guard_s=GUARD_S)
    assert out.crash is None, f"{ch}.{name}: an exception escaped the checker: {out.crash}"
    assert not out.hung, f"{ch}.{name}: the checker ran for {out.seconds:.1f} s"
    assert out.passed is not None, f"{ch}.{name} recorded no result"
    return out


def _missing(ch: str, name: str):
    return pytest.mark.xfail(strict=False, reason=f"REFERENCE_ANSWERS missing for {ch}.{name}")


def _reference(ch, name):
    refs, rewrites, _ = battery.correct_answers(MODULES[ch])
    return refs.get(name), rewrites.get(name, [])


def _correct_params():
    params = []
    for ch, name in CHECKERS:
        ref, rewrites = _reference(ch, name)
        if ref is None:
            params.append(pytest.param(ch, name, None, id=f"{ch}.{name}-reference", marks=_missing(ch, name)))
            continue
        params.append(pytest.param(ch, name, ref, id=f"{ch}.{name}-reference"))
        params += [pytest.param(ch, name, alt, id=f"{ch}.{name}-rewrite{i}") for i, alt in enumerate(rewrites)]
    return params


@pytest.mark.parametrize("ch, name, answer", _correct_params())
def test_correct_answers_pass(ch, name, answer):
    assert answer is not None, "no reference answer"
    out = _run(ch, name, answer)
    assert out.passed is True, out.output
    assert out.output.startswith("✓"), out.output


_DERIVED = [label for label, _ in battery.output_transforms()] + ["input returned unchanged", "a generator"]


#: Wrong variants that a chapter's checker still accepts; for its owner to fix (the xfail is strict,
#: so a fix shows up as XPASS and the entry must then go): {(chapter, words in the title, variant): why}.
KNOWN_DEFECTS: dict[tuple[str, str, str], str] = {}


def _known_defect(ch, name, label):
    title = getattr(getattr(MODULES[ch], name), "title", "")
    return next((why for (c, words, variant), why in KNOWN_DEFECTS.items()
                 if c == ch and words in title and variant == label), None)


def _derived_params():
    params = []
    for ch, name in CHECKERS:
        ref, _ = _reference(ch, name)
        variants = dict(battery.derived_wrong(ref)) if ref is not None else {}
        for label in _DERIVED:
            why = battery.not_wrong(MODULES[ch], name).get(label)
            pid = f"{ch}.{name}-{label}"
            if ref is None:
                params.append(pytest.param(ch, name, label, None, id=pid, marks=_missing(ch, name)))
            elif why:
                params.append(pytest.param(ch, name, label, None, id=f"{pid} (skipped: not wrong)",
                                           marks=pytest.mark.skip(reason=why)))
            elif _known_defect(ch, name, label):
                params.append(pytest.param(ch, name, label, variants[label], id=pid, marks=pytest.mark.xfail(
                    strict=True, reason=f"known checker defect: {_known_defect(ch, name, label)}")))
            else:
                params.append(pytest.param(ch, name, label, variants[label], id=pid))
    return params


@pytest.mark.parametrize("ch, name, label, answer", _derived_params())
def test_wrong_variants_of_the_reference_fail(ch, name, label, answer):
    assert answer is not None, "no reference answer to derive from"
    out = _run(ch, name, answer)
    if "raised Skip" in out.output:
        reason = out.output.split("raised Skip: ", 1)[1].split(" (in ", 1)[0]
        pytest.skip(f"'{label}' is meaningless for a {reason}")
    assert out.passed is False, f"{ch}.{name} accepted the wrong variant '{label}':\n{out.output}"
    assert out.output.startswith("✗"), out.output


@pytest.mark.parametrize("label, answer", battery.generic_wrong(), ids=[g[0] for g in battery.generic_wrong()])
@pytest.mark.parametrize("ch, name", CHECKERS, ids=[f"{c}.{n}" for c, n in CHECKERS])
def test_generic_wrong_answers_fail(ch, name, label, answer):
    if label == "spins forever":
        pytest.skip("covered by tests/test_exercise_harness.py; one hanging case per checker is enough here")
    out = _run(ch, name, answer)
    assert out.passed is False, f"{ch}.{name} accepted '{label}':\n{out.output}"
    assert out.output.startswith("✗"), out.output
    assert "the checker itself failed" not in out.output, out.output


class _Raising:
    """An odd answer whose conversions raise ``exc``."""

    def __init__(self, exc):
        self.exc = exc

    def __repr__(self):
        return f"_Raising({self.exc.__name__})"

    def _boom(self, *args, **kwargs):
        raise self.exc("odd")

    __array__ = __len__ = __float__ = __iter__ = __getitem__ = __bool__ = __index__ = _boom


_ARRAYS = hnp.arrays(dtype=st.sampled_from([np.float64, np.float32, np.float16, np.int64, np.bool_,
                                            np.complex128]),
                     shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5), st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=4),
    _ARRAYS, st.tuples(_ARRAYS, _ARRAYS), st.tuples(_ARRAYS, _ARRAYS, _ARRAYS),
    st.lists(_ARRAYS, max_size=4), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.builds(_Raising, st.sampled_from([RuntimeError, ValueError, TypeError, KeyboardInterrupt, SystemExit])),
)


@pytest.mark.parametrize("ch, name", CHECKERS, ids=[f"{c}.{n}" for c, n in CHECKERS])
@settings(max_examples=12, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(value=ODD_VALUES, returned=st.booleans())
def test_odd_values_never_pass_crash_or_hang(ch, name, value, returned):
    answer = (lambda *a, **k: value) if returned else value
    out = _run(ch, name, answer)
    assert out.passed is False, f"{ch}.{name} accepted {value!r}:\n{out.output}"
    assert "the checker itself failed" not in out.output, out.output


def test_every_checker_module_has_reference_answers():
    """The battery needs each chapter's correct answers (xfail until every chapter has added them)."""
    missing = [f"{ch}.{name}" for ch, name in CHECKERS if _reference(ch, name)[0] is None]
    if missing:
        pytest.xfail(f"REFERENCE_ANSWERS missing for {missing}")

"""The checker harness: feedback for every kind of odd answer, never an exception."""

import math

import numpy as np
import pytest

from dlcore.exercises import (
    assert_all_passed,
    call,
    checker,
    expect_array,
    expect_close,
    reset_results,
    results,
)


@checker("double the input")
def ex1(fn):
    expect_close(call(fn, np.arange(3.0)), np.arange(3.0) * 2, name="double(arange(3))")


def good(x):
    return 2 * x


@pytest.fixture(autouse=True)
def _clean():
    reset_results()
    yield
    reset_results()


def outcome():
    return results()[f"{__name__.rsplit('.', 1)[-1]}.ex1"]


def test_correct_answer_passes(capsys):
    assert ex1(good) is None
    assert outcome() is True
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize(
    "answer, expected_text",
    [
        (None, "None"),
        (42, "Expected a function"),
        (lambda x: None, "is None"),
        (lambda x: "abc", "should hold numbers"),
        (lambda x: x[:2] * 2, "shape (2,), expected (3,)"),
        (lambda x: x * math.nan, "NaN"),
        (lambda x: x * 3, "wrong values"),
        (lambda x: 1 / 0, "ZeroDivisionError"),
        (lambda x: (_ for _ in ()).throw(NotImplementedError()), "Not done yet"),
        (lambda: 1, "TypeError"),
    ],
)
def test_odd_answers_fail_with_feedback_and_never_raise(answer, expected_text, capsys):
    ex1(answer)
    out = capsys.readouterr().out
    assert outcome() is False
    assert out.startswith("✗") and expected_text in out, out


def test_a_checker_bug_on_odd_input_is_reported_not_raised(capsys):
    @checker("buggy")
    def ex2(value):
        return value["missing"]  # raises KeyError for most answers

    ex2({})
    assert "could not be checked" in capsys.readouterr().out


def test_expect_array_shape_wildcards():
    assert expect_array(np.zeros((4, 3)), shape=(None, 3)).shape == (4, 3)


def test_assert_all_passed():
    import dlcore.exercises._core as core

    core._REGISTRY["chXX"] = ["ex1"]
    try:
        with pytest.raises(AssertionError, match="never called"):
            assert_all_passed("chXX")
        core._RESULTS["chXX.ex1"] = False
        with pytest.raises(AssertionError, match="failed"):
            assert_all_passed("chXX")
        core._RESULTS["chXX.ex1"] = True
        assert_all_passed("chXX")
    finally:
        del core._REGISTRY["chXX"]


# ---- time limits ----------------------------------------------------------------------------------

import io  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import dlcore.exercises._core as core  # noqa: E402
from dlcore.exercises import CheckFailure, expect_no_warnings, passed  # noqa: E402


def sleeps(x):
    time.sleep(1e6)


def spins(x):
    while True:
        pass


def swallows(x):
    while True:
        try:
            while True:
                pass
        except Exception:  # noqa: BLE001, S110  (a learner's catch-all must not defeat the limit)
            pass


def naps(x):
    while True:
        time.sleep(0.01)


@pytest.mark.parametrize("answer", [sleeps, spins, swallows, naps], ids=lambda f: f.__name__)
@pytest.mark.parametrize("thread_timer", [False, True], ids=["signal", "watchdog"])
def test_a_function_that_never_returns_is_stopped(capsys, answer, thread_timer):
    if thread_timer and answer is sleeps:
        pytest.skip("the watchdog cannot stop one long C call (documented in _core)")
    start = time.monotonic()
    with core.override_timeout(0.5, thread_timer=thread_timer):
        ex1(answer)
    elapsed = time.monotonic() - start
    out = capsys.readouterr().out
    assert outcome() is False
    assert "took longer than 0.5 s" in out and "Hint:" in out, out
    assert f"in {answer.__name__}, line" in out, out        # where it was stopped: the student's line
    assert elapsed < 3, elapsed
    assert core._ACTIVE == [] and signal.getsignal(signal.SIGALRM) is not core._on_alarm


def test_the_watchdog_works_from_another_thread(capsys):
    import threading

    def run():
        with core.override_timeout(0.5):
            ex1(spins)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(10)
    assert not worker.is_alive()
    assert "took longer than 0.5 s" in capsys.readouterr().out
    assert outcome() is False


def test_timeout_from_the_checker_the_call_and_the_environment(capsys, monkeypatch):
    @checker("slow", timeout=0.3)
    def ex3(fn):
        call(fn, 1)

    ex3(sleeps)
    assert "longer than 0.3 s" in capsys.readouterr().out

    @checker("slow")
    def ex4(fn):
        call(fn, 1, timeout=0.2)

    ex4(sleeps)
    assert "longer than 0.2 s" in capsys.readouterr().out
    monkeypatch.setenv("DLCORE_CHECK_TIMEOUT", "0.4")
    ex1(sleeps)
    assert "longer than 0.4 s" in capsys.readouterr().out
    monkeypatch.setenv("DLCORE_CHECK_TIMEOUT", "nonsense")
    assert core._resolve_timeout(None) == core.DEFAULT_TIMEOUT


def test_a_whole_checker_has_a_time_limit(capsys):
    @checker("many slow calls", timeout=5, total_timeout=0.5)
    def ex5(fn):
        for _ in range(100):
            call(fn, 1)

    start = time.monotonic()
    ex5(lambda x: time.sleep(0.1))
    assert time.monotonic() - start < 3
    assert "longer than 0.5 s in all" in capsys.readouterr().out


def test_an_earlier_alarm_handler_and_timer_are_restored(capsys):
    fired = []

    def handler(signum, frame):
        fired.append(signum)

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 5.0)
    try:
        ex1(good)
        with core.override_timeout(0.3):
            ex1(sleeps)
        assert signal.getsignal(signal.SIGALRM) is handler
        remaining = signal.getitimer(signal.ITIMER_REAL)[0]
        assert 3.0 < remaining <= 5.0, remaining
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert fired == []


def test_an_earlier_alarm_that_is_due_first_still_fires(capsys):
    fired = []

    def handler(signum, frame):
        fired.append(time.monotonic())

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    start = time.monotonic()
    try:
        with core.override_timeout(1.0):
            ex1(sleeps)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert len(fired) == 1 and fired[0] - start < 0.8
    assert "longer than 1 s" in capsys.readouterr().out


def test_time_limits_nest():
    outer = core._TimeLimit(0.3)
    inner = core._TimeLimit(5.0)
    with pytest.raises(core._Expired) as info:
        with outer, inner:
            time.sleep(2)
    assert outer.owns(info.value) and not inner.owns(info.value)
    assert core._ACTIVE == []


# ---- everything student code raises ----------------------------------------------------------------


@pytest.mark.parametrize("exc, words", [
    (SystemExit(2), "exit()"), (KeyboardInterrupt(), "KeyboardInterrupt"),
    (GeneratorExit(), "GeneratorExit"), (RecursionError("deep"), "calls itself"),
])
def test_base_exceptions_in_student_code_are_feedback(capsys, exc, words):
    def answer(x):
        raise exc

    ex1(answer)
    out = capsys.readouterr().out
    assert outcome() is False and out.startswith("✗") and words in out, out


def test_the_stop_button_stops_the_cell_after_reporting(capsys):
    def pressed_stop(x):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(2)

    with pytest.raises(KeyboardInterrupt):
        ex1(pressed_stop)
    out = capsys.readouterr().out
    assert "interrupted" in out and outcome() is False


def test_an_odd_answer_object_raising_base_exceptions_does_not_escape(capsys):
    class Hostile:
        def __array__(self, *a, **k):
            raise KeyboardInterrupt

    ex1(lambda x: Hostile())
    out = capsys.readouterr().out
    assert outcome() is False and out.startswith("✗") and "KeyboardInterrupt" in out, out


def test_a_failure_after_a_success_clears_it(capsys):
    ex1(good)
    assert outcome() is True and passed(ex1) and passed(ex1.exercise_key)
    ex1(lambda x: 3 * x)
    assert outcome() is False and not passed(ex1)
    ex1(good)
    ex1(sleeps) if False else ex1(lambda x: (_ for _ in ()).throw(SystemExit()))
    assert outcome() is False
    assert passed("ch99.ex9") is False


def test_output_survives_a_cp1252_console(monkeypatch):
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="cp1252")
    monkeypatch.setattr(sys, "stdout", stream)
    ex1(good)
    ex1(lambda x: x)
    stream.flush()
    text = raw.getvalue().decode("cp1252")
    assert "[ok] Exercise 1" in text and "[x] Exercise 1" in text, text


def test_output_survives_a_closed_console(monkeypatch):
    stream = io.StringIO()
    stream.close()
    monkeypatch.setattr(sys, "stdout", stream)
    ex1(good)
    assert outcome() is True


def test_a_checker_bug_is_reported_specifically(capsys):
    @checker("buggy")
    def ex6(fn):
        result = call(fn, 1)
        return result[0] + 1   # fails for a non-subscriptable result

    ex6(lambda x: 5)
    out = capsys.readouterr().out
    assert "could not be checked" in out and "`return result[0] + 1`" in out, out
    assert "TypeError" in out and "returned a int" in out, out


# ---- expect_close and expect_array -------------------------------------------------------------------


def _failure(fn):
    with pytest.raises(CheckFailure) as info:
        fn()
    return info.value.message


def test_expect_close_names_the_entry_that_misses_its_tolerance_most():
    message = _failure(lambda: expect_close(np.array([1e6 + 0.5, 1.1]), np.array([1e6, 1.0])))
    assert "index (1,)" in message and "got 1.1, expected 1," in message, message


def test_expect_close_shows_enough_digits_to_see_the_difference():
    message = _failure(lambda: expect_close(1.928749e-22, 1.928750e-22, rtol=1e-9, atol=0))
    assert "got 1.928749e-22, expected 1.92875e-22" in message, message


def test_float32_answers_get_float32_tolerances_and_float16_answers_fail():
    x = np.linspace(-3, 3, 7)
    rounded = (np.exp(x) * (1 + 3e-6)).astype(np.float32)   # float32 arithmetic errors of this size
    expect_close(rounded, np.exp(x))
    with pytest.raises(CheckFailure):
        expect_close(rounded, np.exp(x), dtype_tolerant=False)
    with pytest.raises(CheckFailure):
        expect_close(rounded.astype(np.float64), np.exp(x))
    with pytest.raises(CheckFailure, match="wrong values"):
        expect_close((np.exp(x) * 1.001).astype(np.float32), np.exp(x))
    message = _failure(lambda: expect_close(np.exp(x).astype(np.float16), np.exp(x)))
    assert "float16" in message and "significant digits" in message
    expect_close(np.ones(2, np.float16), np.ones(2), min_dtype=None)
    with pytest.raises(CheckFailure, match="float16"):
        expect_array(np.ones(2, np.float16))


@pytest.mark.parametrize("value, want, words", [
    (np.zeros((3, 1)), (3,), "extra or missing axis"),
    (np.zeros((2, 3)), (3, 2), "transpose"),
    (np.zeros((3, 4, 2)), (3, 4), "extra axis"),
    ((x for x in range(3)), (3,), "generator"),
    (np.ones(3) * 1j, (3,), "complex"),
    ([1.0, None, 2.0], (3,), "Python objects"),
    ([[1, 2], [3]], (2,), "could not be turned into a NumPy array"),
    (np.array([1.0, np.nan, np.inf]), (3,), "2 of 3 entries"),
    (good, (3,), "is a function"),
])
def test_expect_array_names_the_problem(value, want, words):
    message = _failure(lambda: expect_array(value, shape=want)) if words not in ("extra or missing axis",
                                                                                 "transpose", "extra axis") \
        else None
    if message is None:
        with pytest.raises(CheckFailure) as info:
            expect_array(value, shape=want)
        message = info.value.hint
    assert words in message, message


def test_a_torch_tensor_that_requires_grad_gets_a_hint():
    torch = pytest.importorskip("torch")
    with pytest.raises(CheckFailure) as info:
        expect_array(torch.ones(3, requires_grad=True))
    assert "detach" in info.value.hint
    assert expect_array(torch.ones(3)).shape == (3,)


# ---- where and why student code failed ---------------------------------------------------------------


def test_the_location_is_the_students_line_not_numpys(capsys):
    def answer(x):
        parts = [x, x[:2]]
        return np.stack(parts)            # raises inside numpy's own Python code

    ex1(answer)
    out = capsys.readouterr().out
    assert "`return np.stack(parts)`" in out and "shape_base" not in out, out


def _student_error_hint(fn):
    @checker("hint")
    def ex7(f):
        call(f)

    buf = io.StringIO()
    saved, sys.stdout = sys.stdout, buf
    try:
        ex7(fn)
    finally:
        sys.stdout = saved
    return buf.getvalue()


def _raise(exc):
    def fn():
        raise exc
    return fn


@pytest.mark.parametrize("fn, words", [
    (lambda: np.ones((4, 3)) @ np.ones((2, 3)), "forgotten transpose (W.T)"),
    (lambda: np.ones((2, 3)).dot(np.ones((2, 3))), "forgotten transpose (W.T)"),
    (lambda: np.ones((4, 3)) + np.ones((4,)), "Broadcasting"),
    (lambda: np.linalg.inv(np.zeros((2, 2))), "singular"),
    (lambda: 1 / 0, "division by zero"),
    (lambda: [1, 2][5], "past the end"),
    (lambda: np.add(np.arange(3), 0.5, out=np.arange(3)), "integer array"),
    (_raise(RuntimeError("Expected all tensors to be on the same device, but found cuda:0 and cpu")),
     ".to(device)"),
    (_raise(RuntimeError("expected scalar type Double but found Float")), "different dtypes"),
    (_raise(RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")),
     "requires_grad=True"),
    (_raise(RuntimeError("Trying to backward through the graph a second time")), "backward() once per step"),
    (_raise(NameError("name 'w' is not defined")), "Run All"),
])
def test_common_errors_get_tailored_hints(fn, words):
    out = _student_error_hint(fn)
    assert words in out, out


def test_np_where_overflow_under_raise_gets_the_both_branches_hint():
    def where_sigmoid():
        z = np.array([-1000.0, 1000.0])
        return np.where(z >= 0, 1 / (1 + np.exp(-z)), np.exp(z) / (1 + np.exp(z)))

    with np.errstate(all="raise"):
        out = _student_error_hint(where_sigmoid)
    assert "FloatingPointError" in out and "computes both" in out, out


def test_torch_errors_raised_for_real_get_hints():
    torch = pytest.importorskip("torch")

    def twice():
        w = torch.ones(2, requires_grad=True)
        loss = (w.exp()).sum()
        loss.backward()
        loss.backward()

    assert "backward() once per step" in _student_error_hint(twice)
    assert "requires_grad=True" in _student_error_hint(lambda: torch.ones(2).sum().backward())


# ---- the learner's NumPy error state -------------------------------------------------------------------


def test_checker_references_survive_seterr_raise(capsys):
    @checker("stable sigmoid")
    def ex8(fn):
        z = np.array([-1000.0, -5.0, 0.0, 5.0, 1000.0])
        expected = 1 / (1 + np.exp(-z))        # the checker's own (overflowing) reference
        expect_close(call(fn, z.copy()), expected, name="sigmoid(z)")

    def stable(z):
        e = np.exp(-np.abs(z))                 # underflows at |z| = 1000
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e))

    def naive(z):
        return 1 / (1 + np.exp(-z))

    old = np.seterr(all="raise")
    try:
        ex8(stable)
        assert capsys.readouterr().out.startswith("✓")
        ex8(naive)                             # the learner's own setting applies to their code
        out = capsys.readouterr().out
        assert "FloatingPointError" in out, out
        assert np.geterr()["over"] == "raise"
    finally:
        np.seterr(**old)


# ---- expect_no_warnings ---------------------------------------------------------------------------------


@checker("a stable sigmoid")
def ex9(fn):
    z = np.array([-1000.0, -720.0, -50.0, 0.0, 3.0, 50.0, 1000.0])
    e = np.exp(-np.abs(z))
    expected = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    expect_no_warnings(fn, z, expected=expected, name="sigmoid(z)", atol=1e-15)


def _sig_naive(z):
    return 1 / (1 + np.exp(-z))


def _sig_naive_silenced(z):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))


def _sig_naive_asarray(z):
    z = np.asarray(z)
    with np.errstate(over="ignore"):
        return np.exp(z) / (1 + np.exp(z))     # inf / inf = NaN: wrong values, whatever the warnings


def _sig_tanh(z):
    return 0.5 * (1 + np.tanh(z / 2))


def _sig_split(z):
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1 / (1 + np.exp(-z[pos]))
    out[~pos] = np.exp(z[~pos]) / (1 + np.exp(z[~pos]))
    return out


@pytest.mark.parametrize("answer, ok, words", [
    (_sig_naive, False, "overflow encountered"),
    (_sig_naive_silenced, False, "no warning was shown"),
    (_sig_naive_asarray, False, "NaN"),
    (_sig_tanh, True, ""),
    (_sig_split, True, ""),
    (lambda z: _sig_tanh(z) * 1.001, False, "wrong values"),
], ids=["naive", "naive silenced", "naive asarray", "tanh identity", "split by sign", "wrong"])
def test_expect_no_warnings_judges_values_and_hidden_overflow(capsys, answer, ok, words):
    ex9(answer)
    out = capsys.readouterr().out
    assert results()[f"{__name__.rsplit('.', 1)[-1]}.ex9"] is ok, out
    assert words in out, out


# ---- in a real Jupyter kernel -----------------------------------------------------------------------


def test_time_limits_and_feedback_work_in_a_jupyter_kernel():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cells = [
        "import time\nfrom dlcore.exercises import call, checker, results\n\n"
        "@checker('a hanging answer', timeout=1)\ndef ex1(fn):\n    call(fn, 1)",
        "def hangs(x):\n    time.sleep(1e6)\n\nex1(hangs)",
        "def spins(x):\n    while True:\n        pass\n\nex1(spins)",
        "def leaves(x):\n    raise SystemExit(1)\n\nex1(leaves)",
        "print('results', results())",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    start = time.monotonic()
    nbclient.NotebookClient(nb, timeout=60, allow_errors=False, kernel_name="python3").execute()
    assert time.monotonic() - start < 45
    text = ["".join(o.get("text", "") for o in cell.outputs) for cell in nb.cells]
    assert "took longer than 1 s" in text[1] and "line 2: `time.sleep(1e6)`" in text[1], text[1]
    assert "took longer than 1 s" in text[2] and "in spins, line" in text[2], text[2]
    assert "exit()" in text[3], text[3]
    assert "'__main__.ex1': False" in text[4], text[4]


def test_an_exception_that_cannot_be_printed_is_still_reported(capsys):
    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no")

    def answer(x):
        raise Unprintable()

    ex1(answer)
    out = capsys.readouterr().out
    assert outcome() is False and "Unprintable" in out, out


def test_a_watchdog_time_out_leaves_later_profiled_code_working():
    """Regression: clearing a pending raise with PyThreadState_SetAsyncExc(id, NULL) made the
    next profiled call in the main thread spin forever (seen as a hang in ch04's checker)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import sys, threading
        from dlcore.exercises import _core as core

        @core.checker("t")
        def ex1(fn):
            core.call(fn, 1)

        def spins(x):
            while True:
                pass

        def run():
            with core.override_timeout(0.3):
                ex1(spins)

        worker = threading.Thread(target=run)
        worker.start()
        worker.join(10)
        sys.setprofile(lambda frame, event, arg: None)
        total = sum(abs(i) for i in range(1000))
        sys.setprofile(None)
        print("finished", total)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert "took longer than 0.3 s" in done.stdout, done.stdout + done.stderr
    assert "finished 499500" in done.stdout, done.stdout + done.stderr

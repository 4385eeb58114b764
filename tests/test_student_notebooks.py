"""Run All on every untouched student notebook: it must reach the end, and every checker must say ✗.

Each generated ``exercises/NN_*.ipynb`` runs once in a real kernel (python3 from the venv), as a
learner's "Run All" would, with a 120 s limit per cell. Two tests read that run:

* ``test_only_the_stubs_fail``: no cell fails with anything but the stub's NotImplementedError,
  and every checker of the chapter is called and fails (holds for every chapter);
* ``test_run_all_reaches_the_end``: no cell fails at all (a demo cell after an unfinished stub
  must not raise), and every checker printed a ✗ line and recorded a failure. Chapters listed in
  ``RUN_ALL_STOPS`` still stop early; they are strict xfails, so a fix must remove them here.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
STUDENT = sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))
CELL_TIMEOUT_S = 120

#: Chapters whose untouched notebook still stops at a cell error under Run All (issue 11), for the
#: chapter owners to fix in exercises/solutions/NN_*.ipynb.
RUN_ALL_STOPS: list[str] = []

REPORT = "import json, dlcore.exercises as _dx\nprint('__RESULTS__' + json.dumps(_dx.results()))"


def chapter_of(path: Path) -> str:
    return "ch" + path.name[:2]


@functools.cache
def executed(path: Path):
    """The notebook after one Run All (errors allowed, so that every cell's outcome is seen)."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    NotebookClient(nb, timeout=CELL_TIMEOUT_S, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def _errors(nb) -> list[tuple[int, str, str]]:
    return [(i, out.ename, out.evalue) for i, cell in enumerate(nb.cells[:-1]) if cell.cell_type == "code"
            for out in cell.get("outputs", []) if out.output_type == "error"]


def _results(nb) -> dict:
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "__RESULTS__" in text, f"the report cell did not run: {nb.cells[-1].outputs}"
    return json.loads(text.split("__RESULTS__", 1)[1])


def _printed(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def _assert_every_checker_failed(nb, chapter: str, path: Path) -> None:
    from dlcore.exercises import checkers_of

    names = checkers_of(chapter)
    assert names, f"dlcore.exercises.{chapter} defines no checkers"
    results = _results(nb)
    for name in names:
        key = f"{chapter}.{name}"
        assert key in results, f"{key} is never called in {path.name}"
        assert results[key] is False, f"{key} passed on the untouched stub"
    printed = _printed(nb)
    passes = [line for line in printed.splitlines() if line.startswith(("✓ Exercise", "[ok] Exercise"))]
    assert not passes, f"a checker passed on an untouched stub: {passes}"
    for name in names:
        assert f"✗ {name.replace('ex', 'Exercise ')} (" in printed, f"{chapter}.{name} printed no ✗ line"


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.name)
def test_only_the_stubs_fail(path):
    nb = executed(path)
    for i, ename, evalue in _errors(nb):
        assert ename == "NotImplementedError", f"cell {i} failed with {ename}: {evalue}"
    _assert_every_checker_failed(nb, chapter_of(path), path)


def _run_all_params():
    for path in STUDENT:
        marks = [pytest.mark.xfail(strict=True, reason="Run All still stops at a cell error (issue 11)")] \
            if chapter_of(path) in RUN_ALL_STOPS else []
        yield pytest.param(path, id=path.name, marks=marks)


@pytest.mark.parametrize("path", _run_all_params())
def test_run_all_reaches_the_end(path):
    nb = executed(path)
    errors = _errors(nb)
    assert not errors, f"Run All stops at cell {errors[0][0]}: {errors[0][1]}: {errors[0][2]}"
    _assert_every_checker_failed(nb, chapter_of(path), path)
    printed = _printed(nb)
    assert printed.count("Not done yet") >= 1, "no checker said 'Not done yet'"

"""Both directions of every exercise notebook.

The solution notebooks run under nbval (`make notebooks`) and end with
``assert_all_passed``. Here the *student* notebooks run untouched, in a real kernel:
every checker of the chapter must be called and must report failure, and no cell may
fail with anything but the stub's NotImplementedError.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
STUDENT = sorted((ROOT / "exercises").glob("*.ipynb"))

REPORT = (
    "import json, dlcore.exercises as _dx\n"
    "print('__RESULTS__' + json.dumps(_dx.results()))"
)


def chapter_of(path: Path) -> str:
    return "ch" + path.name[:2]


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.name)
def test_untouched_stub_fails_every_check(path):
    from dlcore.exercises import checkers_of

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    NotebookClient(nb, timeout=300, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()

    for i, cell in enumerate(nb.cells[:-1]):
        if cell.cell_type != "code":
            continue
        for out in cell.outputs:
            if out.output_type == "error":
                assert out.ename == "NotImplementedError", \
                    f"cell {i} failed with {out.ename}: {out.evalue}"

    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "__RESULTS__" in text, f"the report cell did not run: {nb.cells[-1].outputs}"
    results = json.loads(text.split("__RESULTS__", 1)[1])
    chapter = chapter_of(path)
    names = checkers_of(chapter)
    assert names, f"dlcore.exercises.{chapter} defines no checkers"
    for name in names:
        key = f"{chapter}.{name}"
        assert key in results, f"{key} is never called in {path.name}"
        assert results[key] is False, f"{key} passed on the untouched stub"

    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert printed.count("✗") >= len(names), "each failing checker prints a ✗ line"
    assert "Hint" in printed or "NotImplementedError" in printed

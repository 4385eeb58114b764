"""Notebook conventions: no stored outputs, python3 kernel, the setup and size cells,
generated student notebooks up to date, and every notebook in the table of contents."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from tools import make_exercises, notebook_cells

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = notebook_cells.notebooks()
IDS = [str(p.relative_to(ROOT)) for p in NOTEBOOKS]


def test_there_are_notebooks():
    assert any(p.parent.name == "chapters" for p in NOTEBOOKS)
    assert any(p.parent.name == "solutions" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_valid_and_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {i} has outputs: run `make strip`"
            assert cell.execution_count is None, f"cell {i} has an execution count: run `make strip`"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_setup_and_size_cells(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells and nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), \
        "a notebook starts with a markdown title '# ...'"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == notebook_cells.setup_cell_source(), \
        "the first code cell must be the Colab setup cell: run `make sync-cells`"
    assert notebook_cells.SETUP_TAG in code[0].metadata.get("tags", []), \
        "the setup cell is folded on the website: run `make sync-cells`"
    assert re.search(r"\bsetup\(", code[1].source), "the second code cell prints the size via setup()"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.parent.name == "chapters"],
                         ids=[i for p, i in zip(NOTEBOOKS, IDS) if p.parent.name == "chapters"])
def test_chapters_check_their_claims(path):
    nb = nbformat.read(path, as_version=4)
    hidden = [c for c in nb.cells if c.cell_type == "code" and "remove-cell" in c.metadata.get("tags", [])]
    assert any("assert" in c.source for c in hidden), "a chapter asserts its claims in remove-cell cells"


@pytest.mark.parametrize("path", sorted((ROOT / "exercises" / "solutions").glob("*.ipynb")),
                         ids=lambda p: p.name)
def test_solutions_assert_all_checks_pass(path):
    nb = nbformat.read(path, as_version=4)
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    tags = last.metadata.get("tags", [])
    assert "assert_all_passed(" in last.source
    assert "solution-only" in tags and "remove-cell" in tags


def test_student_notebooks_are_up_to_date():
    stale = make_exercises.generate(check_only=True)
    assert not stale, f"out of date: {[str(p.relative_to(ROOT)) for p in stale]}; run `make exercises`"


def test_every_notebook_is_in_the_table_of_contents():
    toc = (ROOT / "book" / "_toc.yml").read_text()
    files = set(re.findall(r"file:\s*(\S+)", toc))
    for path in NOTEBOOKS:
        assert str(path.relative_to(ROOT).with_suffix("")) in files, f"{path.name} is missing from book/_toc.yml"
    for entry in files:
        assert any((ROOT / (entry + ext)).exists() for ext in (".ipynb", ".md")), f"toc entry {entry} has no file"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_one_global_bibliography(path):
    """A work may appear in one bibliography only (sphinxcontrib-bibtex): chapters list
    their citations with {cite:t} roles instead (`python -m tools.fix_references`)."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        assert "{bibliography}" not in cell.source, "use `python -m tools.fix_references` on this notebook"


def test_citations_exist_in_the_bibliography():
    bib = (ROOT / "book" / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    sources = [(p.name, "\n".join(c.source for c in nbformat.read(p, as_version=4).cells)) for p in NOTEBOOKS]
    sources += [(p.name, p.read_text()) for p in (ROOT / "book").glob("*.md")]
    for name, text in sources:
        for group in re.findall(r"\{cite(?::[a-z]+)?\}`([^`]+)`", text):
            for key in group.split(","):
                assert key.strip() in keys, f"{name} cites {key.strip()!r}, which is not in book/references.bib"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_relative_links_resolve(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for target in re.findall(r"\]\(([^)\s]+)\)", cell.source):
            if re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", target):
                continue
            file = target.split("#", 1)[0]
            assert (path.parent / file).exists(), f"broken link {target!r} in {path.name}"


#: The book's code column shows 88 characters at 1366 px (tests/browser checks the page).
CODE_WIDTH = 88


def code_lines_too_wide(paths=NOTEBOOKS, width=CODE_WIDTH) -> dict[str, list[str]]:
    """notebook -> ["cell N, line M: K characters", ...] for every code line wider than ``width``."""
    wide = {}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            for j, line in enumerate(cell.source.split("\n"), 1):
                if len(line) > width:
                    wide.setdefault(str(path.relative_to(ROOT)), []).append(f"cell {i}, line {j}: {len(line)}")
    return wide


def test_code_fits_the_page():
    """Every code line of every notebook fits the book's column (88 characters); one
    message lists all offenders, per notebook."""
    wide = code_lines_too_wide()
    report = "\n".join(f"{nb} ({len(lines)} lines): " + "; ".join(lines) for nb, lines in sorted(wide.items()))
    assert not wide, f"code lines wider than {CODE_WIDTH} characters:\n{report}"


def test_the_width_check_can_fail(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1\n" + "y = " + "1" * (CODE_WIDTH - 3))]
    path = ROOT / "_build" / "width_check.ipynb"
    path.parent.mkdir(exist_ok=True)
    nbformat.write(nb, path)
    try:
        assert code_lines_too_wide([path]) == {"_build/width_check.ipynb": [f"cell 0, line 2: {CODE_WIDTH + 1}"]}
    finally:
        path.unlink()

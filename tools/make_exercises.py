"""Generate the student notebooks ``exercises/NN.ipynb`` from ``exercises/solutions/NN.ipynb``.

One source per exercise notebook, so the two versions cannot drift apart:

* code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes one stub line
  (``raise NotImplementedError(...)`` by default, or the code after ``stub:`` on the
  BEGIN line) at the marker's indentation;
* markdown between ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->`` becomes
  *Write your answer here.*;
* cells tagged ``solution-only`` are dropped;
* " (solutions)" is removed from the title;
* relative links, written for the solution's folder, are re-based for the student
  notebook one folder up (``../../chapters/x.ipynb`` becomes ``../chapters/x.ipynb``).

``python -m tools.make_exercises`` writes the files; ``--check`` only reports stale ones.
"""

from __future__ import annotations

import argparse
import copy
import posixpath
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "exercises" / "solutions"
DEFAULT_STUB = 'raise NotImplementedError("Exercise: replace this line with your code")'
MARKDOWN_STUB = "*Write your answer here.*"

_BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION(?:\s+stub:\s*(?P<stub>.*\S))?\s*$")
_END = re.compile(r"^[ \t]*### END SOLUTION\s*$")
_MD_BLOCK = re.compile(r"<!-- BEGIN SOLUTION -->.*?<!-- END SOLUTION -->", re.DOTALL)


class MarkerError(ValueError):
    """A solution marker is unbalanced."""


def stub_code(source: str, where: str = "cell") -> str:
    """Replace every marked solution block in a code cell with its stub line."""
    out, inside = [], False
    for line in source.split("\n"):
        begin = _BEGIN.match(line)
        if begin:
            if inside:
                raise MarkerError(f"{where}: nested '### BEGIN SOLUTION'")
            inside = True
            out.append(begin.group("indent") + (begin.group("stub") or DEFAULT_STUB))
        elif _END.match(line):
            if not inside:
                raise MarkerError(f"{where}: '### END SOLUTION' without BEGIN")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: '### BEGIN SOLUTION' without END")
    return "\n".join(out)


def stub_markdown(source: str) -> str:
    """Replace every model answer in a markdown cell with a prompt."""
    return _MD_BLOCK.sub(MARKDOWN_STUB, source)


_LINK = re.compile(r"(\]\()([^)\s]+)(\))")


def rebase_links(source: str, from_dir: str = "exercises/solutions", to_dir: str = "exercises") -> str:
    """Re-base relative markdown link targets from ``from_dir`` to ``to_dir``."""

    def fix(match):
        target = match.group(2)
        if re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", target):
            return match.group(0)  # absolute URL, anchor or site-absolute path
        path, hash_, anchor = target.partition("#")
        rebased = posixpath.relpath(posixpath.normpath(posixpath.join(from_dir, path)), to_dir)
        return match.group(1) + rebased + hash_ + anchor + match.group(3)

    return _LINK.sub(fix, source)


def student_version(nb):
    """Return the student notebook made from a solution notebook (a new object)."""
    nb = copy.deepcopy(nb)
    cells = []
    for i, cell in enumerate(nb.cells):
        if "solution-only" in cell.get("metadata", {}).get("tags", []):
            continue
        if cell.cell_type == "code":
            cell.source = stub_code(cell.source, where=f"cell {i}")
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = rebase_links(stub_markdown(cell.source))
        cells.append(cell)
    nb.cells = cells
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            first, _, rest = cell.source.partition("\n")
            cell.source = first.replace(" (solutions)", "") + ("\n" + rest if rest else "")
            break
    return nb


def target_for(solution: Path) -> Path:
    return solution.parent.parent / solution.name


def generate(check_only: bool = False) -> list[Path]:
    """Write (or, with ``check_only``, just list) the student notebooks that are stale."""
    stale = []
    for solution in sorted(SOLUTIONS.glob("*.ipynb")):
        student = student_version(nbformat.read(solution, as_version=4))
        text = nbformat.writes(student) + "\n"
        target = target_for(solution)
        if not target.exists() or target.read_text() != text:
            stale.append(target)
            if not check_only:
                target.write_text(text)
    return stale


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale notebooks")
    args = parser.parse_args(argv)
    stale = generate(check_only=args.check)
    for path in stale:
        print(("stale: " if args.check else "wrote ") + str(path.relative_to(ROOT)))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())

"""The canonical first cell of every notebook, built from the one repository URL.

The repository URL lives in one place, ``book/_config.yml`` (``repository.url``).
``python -m tools.notebook_cells`` rewrites the first code cell of every notebook
from it; ``tests/test_notebook_hygiene.py`` fails when a notebook's cell differs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "book" / "_config.yml"


def repository_url() -> str:
    """The ``repository.url`` value of ``book/_config.yml``."""
    text = CONFIG.read_text()
    match = re.search(r"^repository:\s*\n(?:\s+.*\n)*?\s+url:\s*(\S+)", text, re.MULTILINE)
    if not match:
        raise RuntimeError(f"no repository.url in {CONFIG}")
    return match.group(1).strip("\"'")


def setup_cell_source() -> str:
    """Source of the Colab setup cell: installs dlcore on Colab, does nothing elsewhere."""
    return (
        "# On Colab, install dlcore from the book's repository. Elsewhere this cell does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install -q "dlcore @ git+{repository_url()}"'
    )


def notebooks() -> list[Path]:
    """Every chapter, solution and student notebook in the repository."""
    paths = sorted((ROOT / "chapters").glob("*.ipynb"))
    paths += sorted((ROOT / "exercises").glob("*.ipynb"))
    paths += sorted((ROOT / "exercises" / "solutions").glob("*.ipynb"))
    return paths


def first_code_cell(nb):
    return next((c for c in nb.cells if c.cell_type == "code"), None)


#: The setup cell is folded away on the website (it only matters on Colab).
SETUP_TAG = "hide-input"


def sync(paths=None) -> list[Path]:
    """Rewrite the setup cell of each notebook (source and tag); return the notebooks changed."""
    changed = []
    source = setup_cell_source()
    for path in paths or notebooks():
        nb = nbformat.read(path, as_version=4)
        cell = first_code_cell(nb)
        if cell is None:
            continue
        tags = cell.metadata.setdefault("tags", [])
        if cell.source == source and SETUP_TAG in tags:
            continue
        cell.source = source
        if SETUP_TAG not in tags:
            tags.append(SETUP_TAG)
        nbformat.write(nb, path)
        changed.append(path)
    return changed


if __name__ == "__main__":
    for p in sync():
        print(f"updated {p.relative_to(ROOT)}")
    sys.exit(0)

"""Rewrite a notebook's closing ``{bibliography}`` directive into a list of its citations.

sphinxcontrib-bibtex allows each work to appear in one bibliography only, so the book has
one global bibliography (book/bibliography.md) and each chapter ends with a list of
the works it cites, as ``{cite:t}`` roles that link there.

    python -m tools.fix_references chapters/NN_topic.ipynb ...
"""

from __future__ import annotations

import re
import sys

import nbformat

DIRECTIVE = re.compile(r"```\{bibliography\}.*?```", re.DOTALL)
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")


def cited_keys(nb) -> list[str]:
    keys: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for group in CITE.findall(DIRECTIVE.sub("", cell.source)):
            for key in group.split(","):
                key = key.strip()
                if key and key not in keys:
                    keys.append(key)
    return keys


def references_block(keys: list[str]) -> str:
    if not keys:
        return "This chapter cites no other work."
    items = "\n".join(f"- {{cite:t}}`{k}`" for k in keys)
    return "Works cited in this chapter (full entries in the {ref}`Bibliography <bibliography-page>`):\n\n" + items


def fix(path: str) -> bool:
    nb = nbformat.read(path, as_version=4)
    changed = False
    keys = cited_keys(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and DIRECTIVE.search(cell.source):
            cell.source = DIRECTIVE.sub(lambda m: references_block(keys), cell.source)
            changed = True
    if changed:
        nbformat.write(nb, path)
    return changed


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(("fixed " if fix(p) else "unchanged ") + p)

"""Stage the book's sources with the notebooks that the test run already executed.

`make test` runs every notebook once, under nbval; conftest.py saves the executed
copies. This script copies the book's sources (``book/``, ``chapters/``,
``exercises/``) to a staging folder, puts the executed notebooks in place of the
stored (output-free) ones, and turns execution off in the staged config, so the
site build renders those outputs without running anything a second time.

    python -m tools.stage_site --executed _build/executed --out _build/site-src

``--allow-missing`` stages the stored (output-free) copy of any notebook that has no
executed copy, with a warning, so a quick local build for the browser tests can execute
only a few notebooks. ``make test`` never passes it.

The appendix's runtime table (``book/runtimes.md``) is written into the staged copy from
``timings.json`` (``tools/runtime_table.py``), so a test run never touches the tracked
file; ``make runtimes`` updates that one on purpose.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("book", "chapters", "exercises")


def executed_notebooks_needed() -> list[Path]:
    """The notebooks of the table of contents that the book executes (not student stubs)."""
    toc = (ROOT / "book" / "_toc.yml").read_text()
    entries = re.findall(r"file:\s*(\S+)", toc)
    return [ROOT / f"{e}.ipynb" for e in entries
            if e.startswith(("chapters/", "exercises/solutions/")) and (ROOT / f"{e}.ipynb").exists()]


def stage(executed: Path, out: Path, allow_missing: bool = False) -> list[str]:
    """Stage the sources in ``out``; return the notebooks staged without an executed copy."""
    if out.exists():
        shutil.rmtree(out)
    ignore = shutil.ignore_patterns("_build", ".ipynb_checkpoints", "__pycache__")
    for name in SOURCES:
        shutil.copytree(ROOT / name, out / name, ignore=ignore)
    missing = []
    for nb in executed_notebooks_needed():
        rel = nb.relative_to(ROOT)
        src = executed / rel
        if not src.exists():
            missing.append(str(rel))
            continue
        shutil.copy2(src, out / rel)
    if missing and not allow_missing:
        sys.exit(f"stage_site: no executed copy of {missing} in {executed}; run `make notebooks` first")
    for rel in missing:
        print(f"stage_site: warning: no executed copy of {rel}; staged without outputs", file=sys.stderr)
    config = out / "book" / "_config.yml"
    text = config.read_text()
    text, n = re.subn(r"^(\s*execute_notebooks:)\s*\S+", r"\1 off", text, flags=re.MULTILINE)
    if n != 1:
        sys.exit("stage_site: could not find execute.execute_notebooks in book/_config.yml")
    config.write_text(text)
    timings = executed / "timings.json"
    if timings.exists():
        from tools import runtime_table

        runtime_table.main(["--timings", str(timings), "--out", str(out / "book" / "runtimes.md")])
    return missing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executed", type=Path, default=ROOT / "_build" / "executed")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "site-src")
    parser.add_argument("--allow-missing", action="store_true",
                        help="stage notebooks without an executed copy as stored (no outputs)")
    args = parser.parse_args(argv)
    stage(args.executed.resolve(), args.out.resolve(), allow_missing=args.allow_missing)
    print(f"staged book sources with executed notebooks in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

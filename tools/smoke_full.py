"""Run the Part II notebooks at full size, a few steps per loop, with the network cut.

Quick size is what CI runs; full size is what a Colab user runs, and a code path nobody
runs breaks silently (a wrong shape at 60,000 samples, a download that quick size never
triggers). This runs each notebook once with

    DLCORE_SIZE=full DLCORE_MAX_STEPS=3 DLCORE_OFFLINE=1 DLCORE_NONINTERACTIVE=1

so every full-size setting is exercised while every training and evaluation loop
stops after 3 batches (``dlcore.torch.max_steps``). Code cells tagged ``claim`` (their
checked numbers are about the quick size) or ``skip-smoke`` are not run. When
``unshare -rn`` can create a network namespace, the kernel runs inside one, so the
network is really gone, not only switched off by ``DLCORE_OFFLINE``; it then talks to
this process over Unix sockets (the ``ipc`` transport).

    python -m tools.smoke_full                    # chapters 08+ and their solutions
    python -m tools.smoke_full chapters/08_pytorch.ipynb --max-steps 2

Prints each notebook's wall time and exits nonzero when any cell fails.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRST_PART_II = 8
SKIP_TAGS = ("claim", "skip-smoke")


@dataclass
class Result:
    path: Path
    seconds: float
    skipped: int
    error: str | None = None
    slowest: tuple[int, float] | None = None  # (cell index, seconds)

    @property
    def ok(self) -> bool:
        return self.error is None


def default_notebooks(root: Path = ROOT, first: int = FIRST_PART_II) -> list[Path]:
    """Every ``chapters/NN_*.ipynb`` with NN >= ``first``, then the matching solution notebooks."""
    def numbered(folder: Path) -> list[Path]:
        found = []
        for path in sorted(folder.glob("*.ipynb")):
            match = re.match(r"(\d+)_", path.name)
            if match and int(match.group(1)) >= first:
                found.append(path)
        return found

    return numbered(root / "chapters") + numbered(root / "exercises" / "solutions")


def network_namespace_available() -> bool:
    """True when ``unshare -rn true`` works here (Linux with unprivileged user namespaces)."""
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def smoke_env(max_steps: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """The kernel's environment: the caller's plus the smoke-run settings."""
    env = dict(os.environ if base is None else base)
    env.update({"DLCORE_SIZE": "full", "DLCORE_MAX_STEPS": str(max_steps), "DLCORE_OFFLINE": "1",
                "DLCORE_NONINTERACTIVE": "1"})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def skip_tagged_cells(nb, tags=SKIP_TAGS) -> int:
    """Blank the code cells carrying one of ``tags``; return how many."""
    count = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and set(cell.get("metadata", {}).get("tags", [])) & set(tags):
            cell.source = f"# skipped by tools/smoke_full.py (tags: {', '.join(tags)})"
            count += 1
    return count


def _kernel_manager(prefix: list[str], kernel_name: str, socket_dir: str):
    from jupyter_client.manager import AsyncKernelManager

    class PrefixedKernelManager(AsyncKernelManager):
        """Starts the kernel as ``prefix + the usual command`` (e.g. inside ``unshare -rn``)."""

        def format_kernel_cmd(self, extra_arguments=None):
            return list(prefix) + super().format_kernel_cmd(extra_arguments)

    if not prefix:
        return PrefixedKernelManager(kernel_name=kernel_name)
    # A kernel in its own network namespace cannot reach our TCP ports: use Unix sockets,
    # at an absolute path (the kernel runs in the notebook's folder, we do not).
    return PrefixedKernelManager(kernel_name=kernel_name, transport="ipc", ip=os.path.join(socket_dir, "kernel"))


def run_notebook(path: Path, env: dict[str, str], *, prefix: list[str], timeout: int,
                 save_to: Path | None = None) -> Result:
    """Execute one notebook (tagged cells blanked) in a fresh kernel; never raises for cell errors.

    With ``save_to``, the executed notebook (outputs up to the failing cell) is written there.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(str(path), as_version=4)
    skipped = skip_tagged_cells(nb)
    kernel_name = nb.metadata.get("kernelspec", {}).get("name", "python3")
    start = time.perf_counter()
    error = None
    with tempfile.TemporaryDirectory(prefix="smoke-") as sockets:
        client = NotebookClient(nb, km=_kernel_manager(prefix, kernel_name, sockets), timeout=timeout,
                                kernel_name=kernel_name, resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute(env=env)
        except CellExecutionError as err:
            error = _summary(nb, err)
        except Exception as err:  # a timeout, a dead kernel, a kernel that never started
            error = f"{type(err).__name__}: {err}"
    slowest = _slowest_cell(nb)
    if save_to is not None:  # same relative path as in the repository (two 08_*.ipynb exist)
        rel = Path(_relative(path))
        out = save_to / (rel if not rel.is_absolute() else path.name)
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(out))
    return Result(path, time.perf_counter() - start, skipped, error, slowest)


def _slowest_cell(nb) -> tuple[int, float] | None:
    """The cell that ran longest, from nbclient's timing metadata (a loop that ignores the cap)."""
    from datetime import datetime

    best = None
    for i, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        began, ended = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if cell.cell_type != "code" or not (began and ended):
            continue
        seconds = (datetime.fromisoformat(ended.replace("Z", "+00:00"))
                   - datetime.fromisoformat(began.replace("Z", "+00:00"))).total_seconds()
        if best is None or seconds > best[1]:
            best = (i, seconds)
    return best


def _summary(nb, err) -> str:
    index = next((i for i, c in enumerate(nb.cells) for o in c.get("outputs", [])
                  if o.get("output_type") == "error"), None)
    where = f"cell {index}" if index is not None else "a cell"
    return f"{where}: {getattr(err, 'ename', '')}: {getattr(err, 'evalue', '')}".strip()


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: chapters 08+ and their solutions")
    parser.add_argument("--max-steps", type=int, default=3, help="batches per loop (DLCORE_MAX_STEPS)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--no-unshare", action="store_true", help="do not run the kernel in a network namespace")
    parser.add_argument("--executed", type=Path, default=None, help="write the executed notebooks to this folder")
    args = parser.parse_args(argv)

    paths = args.notebooks or default_notebooks()
    missing = [p for p in paths if not p.is_file()]
    if missing:
        print(f"smoke_full: no such notebook: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    if not paths:
        print("smoke_full: no Part II notebooks yet; nothing to run")
        return 0
    cut = not args.no_unshare and network_namespace_available()
    prefix = ["unshare", "-rn"] if cut else []
    env = smoke_env(args.max_steps)
    net = "cut (kernel in its own network namespace)" if cut else "off by DLCORE_OFFLINE=1 only (no unshare)"
    print(f"smoke_full: {len(paths)} notebook(s), DLCORE_SIZE=full DLCORE_MAX_STEPS={args.max_steps}, "
          f"network {net}", flush=True)
    results = []
    for path in paths:
        result = run_notebook(path, env, prefix=prefix, timeout=args.timeout, save_to=args.executed)
        results.append(result)
        status = "ok" if result.ok else "FAILED"
        slowest = f", slowest: cell {result.slowest[0]} {result.slowest[1]:.1f} s" if result.slowest else ""
        print(f"{result.seconds:7.1f} s  {status:6s}  {_relative(path)}  ({result.skipped} cell(s) skipped{slowest})"
              + (f"\n           {result.error}" if result.error else ""), flush=True)
    failed = [r for r in results if not r.ok]
    total = sum(r.seconds for r in results)
    print(f"smoke_full: {len(results) - len(failed)} passed, {len(failed)} failed, {total:.1f} s in all")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

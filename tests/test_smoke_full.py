"""tools/smoke_full.py: the full-size smoke runner, tested on tiny notebooks it writes itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")

from tools import smoke_full  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def code(source: str, *tags: str):
    cell = nbformat.v4.new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def write(path: Path, *cells) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = list(cells)
    nbformat.write(nb, str(path))
    return path


def outputs(nb_path: Path) -> list[str]:
    nb = nbformat.read(str(nb_path), as_version=4)
    return ["".join(o.get("text", "")) for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def test_runner_skips_claims_reports_errors_and_sets_the_environment(tmp_path):
    good = write(
        tmp_path / "08_good.ipynb",
        code("import os, socket\n"
             "print('env', os.environ['DLCORE_SIZE'], os.environ['DLCORE_MAX_STEPS'], "
             "os.environ['DLCORE_OFFLINE'], os.environ['DLCORE_NONINTERACTIVE'])\n"
             "print('interfaces', sorted(name for _, name in socket.if_nameindex()))"),
        code("raise AssertionError('a quick-size claim that is false at full size')", "remove-cell", "claim"),
        code("raise RuntimeError('not for the smoke run')", "skip-smoke"),
        code("from dlcore.torch import capped, max_steps\nprint('capped', max_steps(), list(capped(range(10))))"),
    )
    bad = write(tmp_path / "09_bad.ipynb", code("x = 1"), code("1 / 0"), code("print('never runs')"))
    executed = tmp_path / "executed"
    proc = subprocess.run([sys.executable, "-m", "tools.smoke_full", str(good), str(bad), "--max-steps", "2",
                           "--executed", str(executed)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "DLCORE_SIZE=full DLCORE_MAX_STEPS=2" in out
    lines = out.splitlines()
    good_line = next(line for line in lines if "08_good.ipynb" in line)
    bad_line = next(line for line in lines if "09_bad.ipynb" in line)
    assert " ok " in good_line and "(2 cell(s) skipped, slowest: cell " in good_line
    assert good_line.strip().split()[1] == "s"
    assert "FAILED" in bad_line
    assert "cell 1: ZeroDivisionError: division by zero" in out
    assert "1 passed, 1 failed" in out

    seen = "".join(outputs(executed / "08_good.ipynb")).splitlines()
    assert "env full 2 1 1" in seen
    assert "capped 2 [0, 1]" in seen
    if "network cut" in out:  # in its own network namespace the kernel sees only loopback
        assert "interfaces ['lo']" in seen
    else:
        assert smoke_full.network_namespace_available() is False
    assert "never runs" not in "".join(outputs(executed / "09_bad.ipynb"))


def test_default_notebooks_are_part_ii_chapters_then_their_solutions(tmp_path):
    for rel in ("chapters/07_generalization.ipynb", "chapters/08_pytorch.ipynb", "chapters/10_rnn.ipynb",
                "chapters/notes.ipynb", "exercises/solutions/07_generalization.ipynb",
                "exercises/solutions/08_pytorch.ipynb", "exercises/08_pytorch.ipynb"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    found = [p.relative_to(tmp_path).as_posix() for p in smoke_full.default_notebooks(tmp_path)]
    assert found == ["chapters/08_pytorch.ipynb", "chapters/10_rnn.ipynb", "exercises/solutions/08_pytorch.ipynb"]


def test_tagged_cells_are_blanked_and_counted():
    nb = nbformat.v4.new_notebook()
    nb.cells = [code("a", "claim"), code("b", "skip-smoke"), code("c", "remove-cell"),
                nbformat.v4.new_markdown_cell("claim")]
    assert smoke_full.skip_tagged_cells(nb) == 2
    assert nb.cells[0].source.startswith("# skipped") and nb.cells[2].source == "c"


def test_environment_and_missing_files(tmp_path, capsys):
    env = smoke_full.smoke_env(3, base={"PATH": "/bin", "PYTHONPATH": "/x"})
    assert env["DLCORE_SIZE"] == "full" and env["DLCORE_MAX_STEPS"] == "3" and env["DLCORE_OFFLINE"] == "1"
    assert env["PATH"] == "/bin" and env["PYTHONPATH"].endswith("/x")
    assert smoke_full.main([str(tmp_path / "nope.ipynb")]) == 2
    assert "no such notebook" in capsys.readouterr().err

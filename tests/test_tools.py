"""The exercise generator, the setup-cell tool, and the build pipeline's tools
(staging, the runtime table, `make test` / `make lab` as the Makefile runs them)."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from tools import make_exercises as mx
from tools import notebook_cells, runtime_table, stage_site


def test_stub_code_replaces_block_at_its_indentation():
    src = "def f(x):\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n\ncheck.ex1(f)"
    out = mx.stub_code(src)
    assert out == f"def f(x):\n    {mx.DEFAULT_STUB}\n\ncheck.ex1(f)"


def test_stub_code_custom_stub():
    src = "### BEGIN SOLUTION stub: answer = None\nanswer = 42\n### END SOLUTION"
    assert mx.stub_code(src) == "answer = None"


@pytest.mark.parametrize("src", ["### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION",
                                 "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"])
def test_unbalanced_markers_raise(src):
    with pytest.raises(mx.MarkerError):
        mx.stub_code(src)


def test_student_version():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Exercises 09 (solutions)\n\nText."),
        nbformat.v4.new_markdown_cell("Why?\n\n<!-- BEGIN SOLUTION -->\nBecause.\n<!-- END SOLUTION -->"),
        nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),
        nbformat.v4.new_code_cell("secret()", metadata={"tags": ["solution-only"]}),
    ]
    student = mx.student_version(nb)
    assert student.cells[0].source == "# Exercises 09\n\nText."
    assert "Because" not in student.cells[1].source and mx.MARKDOWN_STUB in student.cells[1].source
    assert student.cells[2].source == mx.DEFAULT_STUB
    assert len(student.cells) == 3
    assert "Because" in nb.cells[1].source  # the solution notebook is left untouched


def test_setup_cell_uses_the_one_repository_url():
    url = notebook_cells.repository_url()
    assert url.startswith("https://")
    src = notebook_cells.setup_cell_source()
    assert url in src and "google.colab" in src


def test_relative_links_are_rebased_for_the_student_notebook():
    src = "See [ch 4](../../chapters/04_x.ipynb#top), [web](https://a.b/c) and [here](#sec)."
    assert mx.rebase_links(src) == "See [ch 4](../chapters/04_x.ipynb#top), [web](https://a.b/c) and [here](#sec)."


# --- the build pipeline leaves the tracked tree alone -------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def _dry_run(target: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    proc = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_make_test_writes_nothing_tracked():
    """`make test` writes only under ignored folders (_build/, book/_build/, book/_vendor/):
    the runtime table goes into the staged site source, not into book/runtimes.md."""
    commands = _dry_run("test")
    assert "tools.stage_site" in commands and "jupyter-book build _build/site-src" in commands
    assert "tools.runtime_table" not in commands, "make test must not rewrite book/runtimes.md"
    outputs = re.findall(r"(?:--out|--path-output|>)\s+(\S+)", commands)
    assert outputs, commands
    for out in outputs:  # jupyter-book's --path-output book writes book/_build/
        assert out.startswith("_build/") or out in ("book", "/dev/null"), f"make test writes to {out}"
    assert "runtimes.md" in _dry_run("runtimes"), "`make runtimes` updates the tracked table"


def test_stage_site_writes_the_runtime_table_into_the_staged_copy(tmp_path):
    tracked = (ROOT / "book" / "runtimes.md").read_text()
    executed = tmp_path / "executed"
    executed.mkdir()
    (executed / "timings.json").write_text(json.dumps({"chapters/01_introduction.ipynb": {"seconds": 1.5}}))
    out = tmp_path / "site-src"
    missing = stage_site.stage(executed, out, allow_missing=True)
    assert "chapters/01_introduction.ipynb" in missing
    staged = (out / "book" / "runtimes.md").read_text()
    assert "| `chapters/01_introduction.ipynb` | 1.5 |" in staged
    assert (ROOT / "book" / "runtimes.md").read_text() == tracked, "the tracked runtimes.md was changed"
    assert "execute_notebooks: off" in (out / "book" / "_config.yml").read_text()


def test_stage_site_refuses_missing_executed_copies_by_default(tmp_path):
    with pytest.raises(SystemExit, match="no executed copy"):
        stage_site.stage(tmp_path / "nothing", tmp_path / "out")


def test_runtime_table_rows():
    text = runtime_table.table({"a.ipynb": {"seconds": 2.0}}, {"a.ipynb": {"seconds": 1.0, "device": "T4"}}, "m")
    assert "| `a.ipynb` | 2.0 | 1.0 (T4) |" in text and "do not edit" in text


def test_make_lab_roots_at_the_repository():
    commands = _dry_run("lab")
    line = next(c for c in commands.splitlines() if "jupyter lab" in c)
    assert f'--notebook-dir="{ROOT}"' in line or f"--notebook-dir={ROOT}" in line, line
    assert "--allow-root" in line and "id -u" in line, "make lab must work for a root user too"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_lab_serves_the_exercises(tmp_path):
    """Start `make lab` headless on a free port: the exercises folder is reachable."""
    pytest.importorskip("jupyterlab", reason="JupyterLab is not installed (`pip install -e '.[lab]'`)")
    import os
    import signal
    import time
    import urllib.request

    port = _free_port()
    opts = f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --IdentityProvider.token= --ServerApp.open_browser=False"
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path), JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    log = open(tmp_path / "lab.log", "w+")
    proc = subprocess.Popen(["make", "lab", f"LAB_OPTS={opts}"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, listing = time.time() + 180, None
        while time.time() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/exercises", timeout=5) as r:
                    listing = json.load(r)
                break
            except OSError:
                time.sleep(1)
        log.seek(0)
        assert listing is not None, f"JupyterLab did not serve /api/contents/exercises:\n{log.read()[-3000:]}"
        names = {item["name"] for item in listing["content"]}
        assert "01_introduction.ipynb" in names and "solutions" in names, names
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab/tree/exercises/01_introduction.ipynb",
                                    timeout=10) as r:
            assert r.status == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()

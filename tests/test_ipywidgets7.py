"""The chapter explorers work with ipywidgets 7.7 (what Colab ships) as well as 8.x.

The venv has ipywidgets 8. This test installs ipywidgets 7.7 (with the
widgetsnbextension 3.x and jupyterlab_widgets 1.x it was released with) into a cached
folder under ``_build/`` with ``pip install --target --no-deps``, puts that folder first
on ``PYTHONPATH`` and runs every ``tests/test_widgets_ch*.py`` in a subprocess, which
first asserts that it imported 7.7. Without a package index (offline) it skips, saying so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "_build" / "ipywidgets7"
PACKAGES = ["ipywidgets==7.7.*", "widgetsnbextension==3.6.*", "jupyterlab_widgets>=1,<2", "ipython_genutils"]
WIDGET_TESTS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_widgets_ch*.py"))


def _installed() -> bool:
    return any(TARGET.glob("ipywidgets-7.7.*.dist-info")) and any(TARGET.glob("widgetsnbextension-3.*.dist-info"))


@pytest.fixture(scope="module")
def ipywidgets7() -> Path:
    if not _installed():
        TARGET.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--upgrade",
                               "--target", str(TARGET), *PACKAGES],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0 or not _installed():
            pytest.skip("could not install ipywidgets 7.7 from the package index (offline?):\n"
                        + (proc.stdout + proc.stderr)[-1500:])
    return TARGET


def _env(target: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(target), str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("MPLBACKEND", "Agg")
    return env


def test_there_are_widget_tests():
    assert len(WIDGET_TESTS) >= 7, WIDGET_TESTS


def test_chapter_widgets_pass_under_ipywidgets_7_7(ipywidgets7):
    script = (
        "import sys, ipywidgets, pytest\n"
        "print('ipywidgets', ipywidgets.__version__, 'from', ipywidgets.__file__)\n"
        "assert ipywidgets.__version__.startswith('7.7'), ipywidgets.__version__\n"
        "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', *sys.argv[1:]]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, *WIDGET_TESTS], cwd=ROOT, env=_env(ipywidgets7),
                          capture_output=True, text=True, timeout=1200)
    out = proc.stdout + proc.stderr
    assert "ipywidgets 7.7." in out and str(ipywidgets7) in out, out[-3000:]
    assert proc.returncode == 0, f"widget tests failed under ipywidgets 7.7:\n{out[-6000:]}"
    assert " passed" in out and " failed" not in out, out[-3000:]


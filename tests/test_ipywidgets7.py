"""The chapter explorers work with ipywidgets 7.7 (what Colab ships) as well as 8.x.

The venv has ipywidgets 8. This test installs ipywidgets 7.7 (with the
widgetsnbextension 3.x and jupyterlab_widgets 1.x it was released with) into a cached
folder under ``_build/`` with ``pip install --target --no-deps``, puts that folder first
on ``PYTHONPATH`` and runs every ``tests/test_widgets_ch*.py`` in a subprocess, which
first asserts that it imported 7.7. ipywidgets 7 silently ignores keyword arguments it
does not know (an 8.x-only ``description_allow_html=True`` would show raw HTML), with
only a DeprecationWarning, so that warning is an error in the 7.7 run. Without a package
index (offline) the 7.7 run skips, saying so. A static scan also rejects APIs that exist
only in 8.x.
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
UNKNOWN_KWARG = "error:Passing unrecognized arguments:DeprecationWarning"
#: ipywidgets APIs that exist only in 8.x (Colab ships 7.7): use set_title, HTML, etc. instead.
#: (A keyword argument 7.x lacks, e.g. IntSlider(tooltip=...), is caught by UNKNOWN_KWARG.)
ONLY_IN_8 = {
    "description_allow_html": "8.x only; use a widgets.HTML next to the control",
    ".titles": "Tab/Accordion.titles is 8.x only; use .set_title(i, text)",
    "widgets.Stack": "8.x only",
    "TagsInput": "8.x only",
    "ColorsInput": "8.x only",
    "FloatsInput": "8.x only",
    "IntsInput": "8.x only",
    "NaiveDatetimePicker": "8.x only",
    "TimePicker": "8.x only",
    "DatetimePicker": "8.x only",
}
WIDGET_MODULES = sorted((ROOT / "dlcore" / "widgets").glob("*.py"))
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
        f"UNKNOWN_KWARG = {UNKNOWN_KWARG!r}\n"
        "import sys, ipywidgets, pytest\n"
        "print('ipywidgets', ipywidgets.__version__, 'from', ipywidgets.__file__)\n"
        "assert ipywidgets.__version__.startswith('7.7'), ipywidgets.__version__\n"
        "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-W', UNKNOWN_KWARG, *sys.argv[1:]]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, *WIDGET_TESTS], cwd=ROOT, env=_env(ipywidgets7),
                          capture_output=True, text=True, timeout=1200)
    out = proc.stdout + proc.stderr
    assert "ipywidgets 7.7." in out and str(ipywidgets7) in out, out[-3000:]
    assert proc.returncode == 0, f"widget tests failed under ipywidgets 7.7:\n{out[-6000:]}"
    assert " passed" in out and " failed" not in out, out[-3000:]



def test_widget_modules_use_no_ipywidgets_8_only_api():
    found = []
    for path in WIDGET_MODULES:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            found += [f"{path.name}:{n}: {name} ({why})" for name, why in ONLY_IN_8.items() if name in line]
    assert not found, "APIs that ipywidgets 7.7 (Colab) lacks:\n" + "\n".join(found)

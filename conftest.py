"""pytest plugin: make nbval's run of each notebook the one execution the book reuses.

`make test` runs every notebook exactly once, under nbval. This plugin listens to
the kernel messages nbval reads and rebuilds each cell's outputs with nbclient's
own output logic (so ``clear_output``, display updates and widget state behave as
in JupyterLab). At the end it writes

* the executed notebook to ``$DLCORE_EXECUTED_DIR/<same relative path>``
  (default ``_build/executed``), which the book build renders without running
  anything again, and
* ``timings.json`` there, with each notebook's wall time. A notebook slower than
  ``DLCORE_NOTEBOOK_LIMIT_S`` seconds (default 120) fails the run.
"""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
EXECUTED_DIR = Path(os.environ.get("DLCORE_EXECUTED_DIR", ROOT / "_build" / "executed"))
LIMIT_S = float(os.environ.get("DLCORE_NOTEBOOK_LIMIT_S", "120"))

try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionComplete
    from nbval.kernel import RunningKernel
    from nbval.plugin import IPyNbCell, IPyNbFile
except ImportError:  # nbval not installed: plain unit-test runs need none of this
    IPyNbFile = None


class _Recorder:
    """Rebuilds the executed notebook from the kernel messages of one nbval run."""

    def __init__(self, nb, path: Path):
        self.path = path
        self.nb = copy.deepcopy(nb)
        for cell in self.nb.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        self.client = NotebookClient(self.nb, record_timing=False)
        self.client.reset_execution_trackers()
        self.cell_index = None
        self.msg_id = None
        self.start = time.perf_counter()
        self.end = self.start
        self.failed = False
        self.count = 0

    def start_cell(self, index: int) -> None:
        self.cell_index = index
        self.count += 1
        self.client.clear_before_next_output = False  # nbclient resets this per cell

    def feed(self, msg) -> None:
        if self.cell_index is None or msg.get("parent_header", {}).get("msg_id") != self.msg_id:
            return
        cell = self.nb.cells[self.cell_index]
        try:
            self.client.process_message(msg, cell, self.cell_index)
        except CellExecutionComplete:
            pass
        cell.execution_count = self.count  # number cells in the order they ran
        for out in cell.outputs:
            if out.get("output_type") == "execute_result":
                out["execution_count"] = self.count

    def write(self) -> float:
        self.client.set_widgets_metadata()
        seconds = self.end - self.start
        self.nb.metadata.setdefault("dlcore", {})["execution_seconds"] = round(seconds, 2)
        try:
            rel = self.path.resolve().relative_to(ROOT)
        except ValueError:
            rel = Path(self.path.name)
        out = EXECUTED_DIR / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(self.nb, str(out))
        return seconds


_timings: dict[str, dict] = {}

if IPyNbFile is not None:
    _orig_execute = RunningKernel.execute_cell_input
    _orig_get = IPyNbFile.get_kernel_message

    def _execute_cell_input(self, cell_input, allow_stdin=None):
        msg_id = _orig_execute(self, cell_input, allow_stdin)
        rec = getattr(self, "_dl_recorder", None)
        if rec is not None:
            rec.msg_id = msg_id
        return msg_id

    def _get_kernel_message(self, timeout=None, stream="iopub"):
        msg = _orig_get(self, timeout=timeout, stream=stream)
        rec = getattr(self, "_dl_recorder", None)
        if rec is not None and stream == "iopub":
            rec.feed(msg)
        return msg

    RunningKernel.execute_cell_input = _execute_cell_input
    IPyNbFile.get_kernel_message = _get_kernel_message

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(item):
        if not isinstance(item, IPyNbCell):
            return
        parent = item.parent
        rec = getattr(parent, "_dl_recorder", None)
        if rec is None:
            rec = parent._dl_recorder = _Recorder(parent.nb, Path(str(parent.fspath)))
        rec.start_cell(next(i for i, c in enumerate(parent.nb.cells) if c is item.cell))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(item):
        if isinstance(item, IPyNbCell) and item.parent.kernel is not None:
            item.parent.kernel._dl_recorder = item.parent._dl_recorder

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(item, call):
        outcome = yield
        if isinstance(item, IPyNbCell) and call.when == "call":
            rec = item.parent._dl_recorder
            rec.end = time.perf_counter()
            if outcome.get_result().failed:
                rec.failed = True

    def pytest_collection_finish(session):
        # The cells of a notebook run in one kernel; record which one is last.
        for item in session.items:
            if isinstance(item, IPyNbCell):
                item.parent._dl_last = item

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(item, nextitem):
        if not isinstance(item, IPyNbCell) or getattr(item.parent, "_dl_last", None) is not item:
            return
        rec = item.parent._dl_recorder
        seconds = rec.write()
        rel = str(Path(str(item.parent.fspath)).resolve().relative_to(ROOT))
        _timings[rel] = {"seconds": round(seconds, 1), "failed": rec.failed}

    def pytest_sessionfinish(session, exitstatus):
        if not _timings:
            return
        EXECUTED_DIR.mkdir(parents=True, exist_ok=True)
        path = EXECUTED_DIR / "timings.json"
        previous = json.loads(path.read_text()) if path.exists() else {}
        previous.update(_timings)
        path.write_text(json.dumps(previous, indent=1, sort_keys=True) + "\n")
        slow = {k: v["seconds"] for k, v in _timings.items() if v["seconds"] > LIMIT_S}
        if slow:
            print(f"\nNotebooks slower than {LIMIT_S:.0f} s: {slow}")
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(terminalreporter):
        if _timings:
            terminalreporter.write_sep("-", "notebook wall times (s)")
            for name, t in sorted(_timings.items()):
                terminalreporter.write_line(f"{t['seconds']:7.1f}  {name}" + ("  FAILED" if t["failed"] else ""))

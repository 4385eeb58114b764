"""Serve the built book on 127.0.0.1 and drive the system Chromium with Playwright.

The browser never reaches another host: every request outside the local server is
aborted and recorded, so a page that needs the network fails its test.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "book" / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]


def chromium_path() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="session")
def site_root() -> Path:
    if not (HTML / "index.html").exists():
        pytest.fail(f"no built book at {HTML}: run `make site-from-executed` (or `make book`) first")
    return HTML


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output readable
        pass


class _Server(http.server.ThreadingHTTPServer):
    # socketserver's default backlog is 5. A page that opens many connections at once on a
    # busy 2-core runner can overflow it; the kernel then drops the connection attempts and
    # the browser retries them with exponential back-off, so a page can take minutes to
    # reach "networkidle" (seen twice on chapter 02 in CI).
    request_queue_size = 128
    daemon_threads = True


@pytest.fixture(scope="session")
def base_url(site_root):
    handler = functools.partial(_QuietHandler, directory=str(site_root))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); "
                    "`make test` installs it when it runs as root. Browser tests skipped.")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()

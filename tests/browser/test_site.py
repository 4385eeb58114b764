"""The built book, tested the way a reader uses it: in a real browser, offline.

For every page in the table of contents: HTTP 200 and a title, no console errors,
no failed or external requests, every image loaded, math typeset by the vendored
MathJax, widgets rendered where the page has them. Links resolve, and chapter pages
carry the launch buttons with the one repository URL.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tools.notebook_cells import repository_url

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "_build" / "screenshots"

TOC = (ROOT / "book" / "_toc.yml").read_text()
PAGES = ["book/intro"] + [f for f in re.findall(r"file:\s*(\S+)", TOC)]
PAGES = list(dict.fromkeys(PAGES))
SCREENSHOT_PAGES = {"book/intro", "chapters/01_introduction", "exercises/solutions/01_introduction"}


def _visit(browser, url):
    """Open ``url``; return (page, response, problems) after the page has settled."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    host = urlparse(url).netloc

    def route(r):
        if urlparse(r.request.url).netloc not in (host, ""):
            problems.append(f"external request blocked: {r.request.url}")
            r.abort()
        else:
            r.continue_()

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
    response = page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return page, response, problems


@pytest.mark.parametrize("doc", PAGES)
def test_page(browser, base_url, site_root, doc):
    assert (site_root / f"{doc}.html").exists(), f"{doc}.html was not built"
    page, response, problems = _visit(browser, base_url + doc + ".html")
    try:
        assert response is not None and response.status == 200
        assert page.title().strip(), "the page has no <title>"
        assert page.locator("main h1").count() >= 1, "the page has no heading"

        html = page.content()
        has_math = page.locator("span.math, div.math").count() > 0
        if has_math:
            page.wait_for_selector("mjx-container", state="attached", timeout=20_000)
        if "application/vnd.jupyter.widget-view+json" in (site_root / f"{doc}.html").read_text():
            # some widgets are hidden on purpose (finished progress bars): wait for a visible one
            page.locator(".jupyter-widgets >> visible=true").first.wait_for(timeout=20_000)
            assert page.locator(".widget-slider, .widget-hslider, .widget-button, .widget-dropdown, "
                                ".widget-toggle-buttons, .widget-image").count() > 0, "no widget control rendered"
            page.wait_for_load_state("networkidle")  # fonts and images the widgets asked for
            page.wait_for_timeout(500)

        broken = page.evaluate(
            "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        assert not broken, f"images that did not load: {broken}"
        no_alt = page.evaluate(
            "Array.from(document.querySelectorAll('main .cell_output img'))"
            ".filter(i => !i.closest('.jupyter-widgets'))"
            ".filter(i => !i.alt || /[.](png|jpe?g|svg)$/.test(i.alt)).map(i => i.src)")
        assert not no_alt, f"figures without alt text: {no_alt}"
        assert "Traceback" not in page.inner_text("main") or doc.startswith("exercises/"), \
            "a traceback is shown on the page"
        if doc in SCREENSHOT_PAGES:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / (doc.replace("/", "__") + ".png")), full_page=False)
        assert not problems, "\n".join(problems)
        assert html
    finally:
        page.close()


@pytest.mark.parametrize("doc", [p for p in PAGES if p.startswith("chapters/")])
def test_launch_buttons(site_root, doc):
    html = (site_root / f"{doc}.html").read_text()
    repo = urlparse(repository_url()).path.strip("/")
    colab = f"https://colab.research.google.com/github/{repo}/blob/main/{doc}.ipynb"
    assert colab in html, f"no Colab launch button for {doc}"
    assert "mybinder.org" in html, "no Binder launch button"
    assert f"_sources/{doc}.ipynb" in html, "no .ipynb download button"
    assert (site_root / "_sources" / f"{doc}.ipynb").exists()


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])


def _html_files(site_root):
    return [p for p in site_root.rglob("*.html") if "vendor" not in p.parts and "_static" not in p.parts]


def test_internal_links_resolve(site_root):
    missing = []
    for path in _html_files(site_root):
        parser = _Links()
        parser.feed(path.read_text(errors="replace"))
        for href in parser.links:
            url = urlparse(href)
            if url.scheme or url.netloc or href.startswith(("#", "mailto:", "javascript:")):
                continue
            target = (path.parent / unquote(url.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                missing.append(f"{path.relative_to(site_root)} -> {href}")
    assert not missing, "broken internal links:\n" + "\n".join(missing[:30])


def test_no_script_loads_from_another_site(site_root):
    external = []
    for path in _html_files(site_root):
        parser = _Links()
        parser.feed(path.read_text(errors="replace"))
        external += [f"{path.relative_to(site_root)}: {s}" for s in parser.scripts if urlparse(s).netloc]
    assert not external, "\n".join(external[:20])


def test_vendored_assets_are_in_their_own_folder(site_root):
    assert (site_root / "vendor" / "mathjax" / "tex-mml-chtml.js").exists()
    assert (site_root / "vendor" / "html-manager" / "embed-amd.js").exists()
    assert not list(Path(site_root / "_static").glob("**/tex-mml-chtml.js"))


def test_headings_are_in_order(site_root):
    """Accessibility: each page's article starts with one h1 and never skips a level."""
    bad = []
    for doc in PAGES:
        html = (site_root / f"{doc}.html").read_text(errors="replace")
        article = html.split("<article", 1)[-1].split("</article>", 1)[0]
        article = re.sub(r"<script.*?</script>", "", article, flags=re.DOTALL)
        levels = [int(x) for x in re.findall(r"<h([1-6])[ >]", article)]
        if not levels or levels[0] != 1 or levels.count(1) != 1:
            bad.append(f"{doc}: heading levels start {levels[:5]} (want exactly one h1, first)")
        bad += [f"{doc}: h{a} followed by h{b}" for a, b in zip(levels, levels[1:]) if b > a + 1]
    assert not bad, "\n".join(bad)

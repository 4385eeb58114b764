"""The built book, tested the way a reader uses it: in a real browser, offline.

For every page in the table of contents: HTTP 200 and a title, no console errors,
no failed or external requests, every image loaded, math typeset by the vendored
MathJax, widgets rendered where the page has them. Links resolve, and chapter pages
carry the launch buttons with the one repository URL (Colab opens the colab/ copy).
The layout: one search box, code cells that fit the column at 1366 px, equations that
fit (or scroll inside their box) at phone width, no blank gaps from finished progress
bars, and static widget views whose controls are disabled and labelled as a snapshot.
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
WAIT_MS = 90_000
SCREENSHOT_PAGES = {"book/intro", "chapters/01_introduction", "exercises/solutions/01_introduction"}


def _visit(browser, url, width=1280, height=900):
    """Open ``url``; return (page, response, problems) after the page has settled."""
    page = browser.new_page(viewport={"width": width, "height": height})
    # A CI runner with two busy cores once took over 30 s (Playwright's default) to reach
    # "networkidle" on one page that loads in under 3 s otherwise: waits get WAIT_MS.
    page.set_default_timeout(WAIT_MS)
    page.set_default_navigation_timeout(WAIT_MS)
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
    pending: set[str] = set()
    page.on("request", lambda r: pending.add(r.url))
    page.on("requestfinished", lambda r: pending.discard(r.url))
    page.on("requestfailed", lambda r: pending.discard(r.url))
    response = page.goto(url, wait_until="load")
    try:
        page.wait_for_load_state("networkidle")
    except Exception as error:  # say which requests never finished
        page.close()
        raise AssertionError(f"{url} never went network-idle; requests still in flight: "
                             f"{sorted(pending)[:10]}") from error
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
            page.wait_for_selector("mjx-container", state="attached")
        if "application/vnd.jupyter.widget-view+json" in (site_root / f"{doc}.html").read_text():
            # some widgets are hidden on purpose (finished progress bars): wait for a visible one
            page.locator(".jupyter-widgets >> visible=true").first.wait_for()
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
    colab = f"https://colab.research.google.com/github/{repo}/blob/main/colab/{doc}.ipynb"
    assert colab in html, f"no Colab launch button opening the Colab copy colab/{doc}.ipynb"
    assert (ROOT / "colab" / f"{doc}.ipynb").exists(), f"colab/{doc}.ipynb is missing: run `make colab`"
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


# --- layout, at the sizes readers use ------------------------------------------------------------

LAPTOP = (1366, 768)
PHONE = (390, 844)
NOTEBOOK_PAGES = [p for p in PAGES if p.startswith(("chapters/", "exercises/"))]


def _source(site_root, doc):
    path = site_root / f"{doc}.html"
    assert path.exists(), f"{doc}.html was not built"
    return path.read_text(errors="replace")


def _settle(page, site_root, doc):
    """Wait for MathJax and the widgets (when the page has them) to finish."""
    html = _source(site_root, doc)
    if 'class="math' in html:
        page.wait_for_selector("mjx-container", state="attached")
    if "application/vnd.jupyter.widget-view+json" in html:
        page.locator(".jupyter-widgets >> visible=true").first.wait_for()
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(700)


def _shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=False)


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["1366px", "390px"])
@pytest.mark.parametrize("doc", ["book/intro", "chapters/01_introduction"])
def test_one_search_box(browser, base_url, site_root, doc, size):
    page, _, _ = _visit(browser, base_url + doc + ".html", *size)
    try:
        _settle(page, site_root, doc)
        boxes = page.evaluate("""Array.from(document.querySelectorAll(
            '.search-button-field, .search-button, form.bd-search input[type=search]'))
            .filter(e => e.checkVisibility()).map(e => e.className)""")
        assert len(boxes) == 1, f"{len(boxes)} visible search controls at {size[0]} px: {boxes}"
    finally:
        page.close()


@pytest.mark.parametrize("doc", NOTEBOOK_PAGES)
def test_code_cells_fit_the_column(browser, base_url, site_root, doc):
    """At 1366 x 768 no code cell scrolls sideways (88 characters fit; see test_notebook_hygiene)."""
    page, _, _ = _visit(browser, base_url + doc + ".html", *LAPTOP)
    try:
        _settle(page, site_root, doc)
        wide = page.evaluate("""Array.from(document.querySelectorAll('div.cell_input pre'))
            .filter(e => e.scrollWidth > e.clientWidth + 1)
            .map(e => `${e.scrollWidth} > ${e.clientWidth} px: ` + e.textContent.split('\\n')
                 .reduce((a, b) => (b.length > a.length ? b : a), '').trim().slice(0, 60))""")
        assert not wide, f"{len(wide)} code cells scroll sideways at 1366 px:\n" + "\n".join(wide)
    finally:
        page.close()


_MATH_CLIPPED = """() => {
  const bad = [];
  const vw = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > vw + 1) {
    const wide = Array.from(document.querySelectorAll('main *')).filter(e => e.getBoundingClientRect().right > vw + 1
      && !e.closest('pre, .highlight, mjx-container, .cell_output, table, .jupyter-widgets'))
      .slice(0, 3).map(e => `<${e.tagName.toLowerCase()} class="${e.className}"> ${(e.textContent || '').trim().slice(0, 40)}`);
    bad.push(`the page scrolls sideways (${document.documentElement.scrollWidth} > ${vw} px): ${wide.join('; ')}`);
  }
  const scrolls = e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
  // The page's table of contents (a heading with math in it) sits in the off-canvas drawer at
  // phone width, outside the viewport until it is opened: not part of the page's column.
  document.querySelectorAll('mjx-container').forEach((m, i) => {
    if (m.closest('.bd-sidebar-secondary, .bd-sidebar-primary')) return;
    const tex = (m.getAttribute('display') === 'true' ? 'display' : 'inline') + ' #' + i;
    let box = m;
    while (box && box !== document.body && !(scrolls(box) && box.scrollWidth > box.clientWidth + 1)) box = box.parentElement;
    if (box && box !== document.body) {
      const r = box.getBoundingClientRect();
      if (r.left < -1 || r.right > vw + 1) bad.push(`${tex}: its scroll box sticks out of the page`);
      const before = box.scrollLeft; box.scrollLeft = box.scrollWidth;
      if (box.scrollLeft + box.clientWidth < box.scrollWidth - 2) bad.push(`${tex}: cannot scroll to its end`);
      box.scrollLeft = before;
      return;
    }
    const r = m.getBoundingClientRect();
    const column = m.closest('p, li, dd, td, div.math, .cell_output, section') || m.parentElement;
    const c = column.getBoundingClientRect();
    if (r.right > Math.min(c.right, vw) + 1 || r.left < Math.max(c.left, 0) - 1) bad.push(`${tex}: cut off (${Math.round(r.left)}..${Math.round(r.right)} px, column ${Math.round(c.left)}..${Math.round(c.right)})`);
  });
  return bad;
}"""


@pytest.mark.parametrize("doc", PAGES)
def test_nothing_is_cut_off_at_phone_width(browser, base_url, site_root, doc):
    """At 390 px the page does not scroll sideways, and every equation fits its column or
    scrolls inside its own box (book-site.js shrinks it first, down to 70 %)."""
    page, _, _ = _visit(browser, base_url + doc + ".html", *PHONE)
    try:
        _settle(page, site_root, doc)
        page.wait_for_timeout(300)  # book-site.js fits the equations after MathJax
        bad = page.evaluate(_MATH_CLIPPED)
        if doc == "chapters/02_gradient_descent":
            page.evaluate("document.querySelector('div.math').scrollIntoView()")
            _shot(page, "phone__chapters__02_gradient_descent.png")
        assert not bad, "\n".join(bad[:20])
    finally:
        page.close()


@pytest.mark.parametrize("doc", [p for p in PAGES if p.startswith("chapters/")])
def test_finished_progress_bars_leave_no_gap(browser, base_url, site_root, doc):
    """tqdm(..., leave=False) hides its bar when done; the hidden bar must not take space."""
    if "application/vnd.jupyter.widget-view+json" not in _source(site_root, doc):
        pytest.skip("no widgets on this page")
    page, _, _ = _visit(browser, base_url + doc + ".html", *LAPTOP)
    try:
        _settle(page, site_root, doc)
        gaps = page.evaluate("""Array.from(document.querySelectorAll('.cell_output .widget-subarea'))
            .filter(e => e.getBoundingClientRect().height > 0)
            .filter(e => !Array.from(e.querySelectorAll('*')).some(
                 x => x.getBoundingClientRect().height > 0 && getComputedStyle(x).visibility === 'visible'))
            .map(e => Math.round(e.getBoundingClientRect().height))""")
        assert not gaps, f"blank widget areas (heights in px): {gaps}"
    finally:
        page.close()


def _widget_pages():
    return [p for p in PAGES if p.startswith("chapters/")]


@pytest.mark.parametrize("doc", _widget_pages())
def test_static_widgets_are_disabled_and_labelled(browser, base_url, site_root, doc):
    html = _source(site_root, doc)
    if "application/vnd.jupyter.widget-view+json" not in html or '"disabled"' not in html:
        pytest.skip("no widget with controls on this page")
    page, _, problems = _visit(browser, base_url + doc + ".html", *LAPTOP)
    try:
        _settle(page, site_root, doc)
        page.locator(".widget-slider, .widget-hslider, .widget-dropdown, .widget-button").first.wait_for()
        explorers = page.locator(".cell_output.widget-static")
        assert explorers.count() >= 1, "no explorer is marked as a static view"
        for i in range(explorers.count()):
            note = explorers.nth(i).locator(".widget-static-note")
            assert note.count() == 1 and note.is_visible(), "an explorer lacks its 'static snapshot' note"
            assert "run the notebook to interact" in note.inner_text().lower()
        enabled = page.evaluate("""Array.from(document.querySelectorAll(
            '.cell_output .jupyter-widgets input, .cell_output .jupyter-widgets select, .cell_output .jupyter-widgets button'))
            .filter(e => !e.disabled).map(e => e.outerHTML.slice(0, 80))""")
        assert not enabled, f"controls still enabled in the static view: {enabled[:5]}"
        sliders = page.evaluate("Array.from(document.querySelectorAll('.cell_output .noUi-target'))"
                                ".map(e => e.hasAttribute('disabled'))")
        assert all(sliders), f"sliders not disabled: {sliders}"
        # a reader tries anyway: drag the first slider and press an arrow key on it
        explorer = explorers.first
        before = explorer.inner_text()
        handle = explorer.locator(".noUi-handle, input[type=range]").first
        if handle.count():
            box = handle.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            page.mouse.move(box["x"] + 120, box["y"] + box["height"] / 2, steps=5)
            page.mouse.up()
            handle.press("ArrowRight")
            page.wait_for_timeout(300)
        assert explorer.inner_text() == before, "the static view still reacts to its controls"
        explorer.scroll_into_view_if_needed()
        _shot(page, "static_widget__" + doc.replace("/", "__") + ".png")
        assert not [p for p in problems if "error" in p], problems
    finally:
        page.close()

"""Small fixes to the HTML the theme stack writes, so pages load offline without errors.

* Jupyter Book 1 fires ``env-before-read-docs`` twice, so sphinx-thebe and
  sphinx-togglebutton add their inline scripts twice, and the second
  ``const THEBE_JS_URL`` throws a SyntaxError in the browser. We drop exact
  duplicates from each page's script list.
* pydata-sphinx-theme logs "Got invalid theme mode" on a reader's first visit, when
  no mode is stored yet; we start such a visit in "auto" mode (follow the system).
* The widget manager typesets labels with MathJax 2's ``MathJax.Hub.Queue``; a small
  deferred shim (static/mathjax-v2-shim.js) maps it onto MathJax 3.
* Figures get alt text: dlcore.plot stores a description of each figure in the PNG
  output's metadata (``alt``); myst-nb keeps only width and height from there, so we
  copy ``alt`` onto the image node as well.
* The vendored widget manager's bundles find their icon fonts next to their module's
  URL, which require.js derives from the module name; we map those names into the
  vendored folder, relative to the page.
* The Colab launch button opens the Colab copy ``colab/<path>`` (``tools/make_colab.py``),
  in which citations, references and links read well outside the book.
* One search box per page: pydata-sphinx-theme 0.17 adds a search field to a header bar
  of its own unless ``navbar_persistent`` is set, on top of the sidebar's; we set it empty
  (the article header keeps its search icon for narrow screens, where the sidebar hides).
* static/book-site.css and static/book-site.js: code cells fit 88 characters at 1366 px;
  wide equations scroll inside their box at phone width; finished ``leave=False``
  progress bars leave no gap; static widget views have their controls disabled and say
  "Static snapshot: run the notebook to interact".
"""

from __future__ import annotations

from pathlib import Path

EARLY_JS = """
if (!document.documentElement.dataset.mode) { document.documentElement.dataset.mode = "auto"; }
var require = (function () {
  var dir = (document.documentElement.dataset.content_root || "./") + "vendor/html-manager";
  var paths = { "@jupyter-widgets/html-manager/dist": dir };
  ["base", "base7", "controls", "controls7", "html-manager", "output"].forEach(function (m) { paths["@jupyter-widgets/" + m] = dir + "/" + m; });
  return { paths: paths };
})();
"""


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        attrs = getattr(js, "attributes", {}) or {}
        key = (getattr(js, "filename", None) or "", tuple(sorted((k, str(v)) for k, v in attrs.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def _keep_alt_text() -> None:
    from myst_nb.core.render import NbElementRenderer

    original = NbElementRenderer.render_image
    if getattr(original, "_book_site", False):
        return

    def render_image(self, data):
        nodes = original(self, data)
        alt = data.output_metadata.get(data.mime_type, {}).get("alt")
        for node in nodes:
            if alt and not node.get("alt"):
                node["alt"] = str(alt)
        return nodes

    render_image._book_site = True
    NbElementRenderer.render_image = render_image


def _add_static_path(app):
    app.config.html_static_path.append(str(Path(__file__).parent / "static"))


def _one_search_box(app, config):
    options = config.html_theme_options
    options.setdefault("navbar_persistent", [])


#: Folders whose notebooks have a Colab copy under colab/ (tools/make_colab.py).
COLAB_COPIES = ("chapters/", "exercises/")


def _colab_copies(app, pagename, templatename, context, doctree):
    """Point the theme's Colab launch button at ``colab/<path>`` for notebooks with a copy."""
    if not pagename.startswith(COLAB_COPIES):
        return
    marker = "https://colab.research.google.com/github/"
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []) if isinstance(group, dict) else []:
            url = button.get("url", "")
            if not url.startswith(marker) or "/colab/" in url:
                continue
            org, repo, blob, branch, rest = url[len(marker):].split("/", 4)
            button["url"] = f"{marker}{org}/{repo}/{blob}/{branch}/colab/{rest}"


def setup(app):
    _keep_alt_text()
    app.connect("builder-inited", _add_static_path)
    app.connect("config-inited", _one_search_box)
    # after sphinx-book-theme's add_launch_buttons (priority 501)
    app.connect("html-page-context", _colab_copies, priority=502)
    app.add_css_file("book-site.css")
    # in the head, before the widget manager (which starts on DOMContentLoaded)
    app.add_js_file("book-site.js", priority=20)
    app.add_js_file(None, body=EARLY_JS, priority=10)
    # after MathJax (priority 500, deferred), before the widgets render
    app.add_js_file("mathjax-v2-shim.js", priority=510, defer="defer")
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

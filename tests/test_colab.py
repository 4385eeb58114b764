"""The Colab copies (``colab/``): up to date, nothing MyST left raw, every link absolute."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest

from tools import make_colab as mc
from tools import notebook_cells

ROOT = Path(__file__).resolve().parents[1]
SOURCES = notebook_cells.notebooks()
IDS = [str(p.relative_to(ROOT)) for p in SOURCES]
ORG, REPO, BRANCH = mc.repo_parts()
BOOK = mc.book_url()
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)")


def _markdown(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


# --- the generated folder -----------------------------------------------------------------------


def test_colab_copies_are_up_to_date():
    stale = mc.generate(check_only=True)
    assert not stale, f"stale Colab copies: {[str(p.relative_to(ROOT)) for p in stale]}; run `make colab`"


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_copy_renders_every_role_and_directive(path):
    copy = mc.colab_version(nbformat.read(path, as_version=4), str(path.relative_to(ROOT)))
    text = _markdown(copy)
    left = re.findall(r"\{[a-z][a-z0-9:-]*\}`[^`]*`", text)
    assert not left, f"roles left raw: {left[:5]}"
    assert not re.search(r"^\s*(```|:::)+\s*\{", text, re.MULTILINE), "a MyST directive is left raw"
    assert not re.search(r"^\([\w.:-]+\)=\s*$", text, re.MULTILINE), "a (label)= target is left raw"


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_copy_links_are_absolute_and_point_at_the_copies(path):
    rel = str(path.relative_to(ROOT))
    copy = mc.colab_version(nbformat.read(path, as_version=4), rel)
    for target in LINK.findall(_markdown(copy)):
        url = urlparse(target)
        assert url.scheme == "https" or target.startswith("#"), f"relative link {target!r} in the copy of {rel}"
        if url.netloc == "colab.research.google.com":
            prefix = f"/github/{ORG}/{REPO}/blob/{BRANCH}/colab/"
            assert url.path.startswith(prefix), target
            assert (ROOT / url.path[len(prefix):]).exists(), f"{target} opens a notebook we do not have"
        if target.startswith(BOOK):
            page = url.path[len(urlparse(BOOK).path):]
            assert page.endswith(".html"), target
            src = page[: -len(".html")]
            assert any((ROOT / (src + ext)).exists() for ext in (".ipynb", ".md")), f"{target}: no such page"


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_copy_keeps_the_code_and_the_colab_setup_cell(path):
    nb = nbformat.read(path, as_version=4)
    copy = mc.colab_version(nb, str(path.relative_to(ROOT)))
    code = [c for c in copy.cells if c.cell_type == "code"]
    assert code[0].source == notebook_cells.setup_cell_source()
    assert [c.source for c in code] == [c.source for c in nb.cells if c.cell_type == "code"]
    assert [c.get("id") for c in copy.cells] == [c.get("id") for c in nb.cells]
    assert all(c.outputs == [] for c in code)


@pytest.mark.parametrize("path", SOURCES, ids=IDS)
def test_every_cited_work_appears_by_author_and_year(path):
    rel = str(path.relative_to(ROOT))
    source = _markdown(nbformat.read(path, as_version=4))
    text = _markdown(mc.colab_version(nbformat.read(path, as_version=4), rel))
    bib = mc.bibliography()
    for group in re.findall(r"\{cite(?::[a-z]+)?\}`([^`]+)`", source):
        for key in (k.strip() for k in group.split(",")):
            assert key in bib, f"{rel} cites {key!r}, which is not in book/references.bib"
            entry = bib[key]
            assert entry["authors"][0] in text and entry["year"] in text, f"{key} is not rendered in {rel}"


def test_launch_buttons_are_pointed_at_the_copies():
    """book_site rewrites the theme's Colab button from <path> to colab/<path>."""
    sys_path = str(ROOT / "book" / "_ext")
    import sys

    sys.path.insert(0, sys_path)
    try:
        import book_site
    finally:
        sys.path.remove(sys_path)
    url = f"https://colab.research.google.com/github/{ORG}/{REPO}/blob/{BRANCH}/chapters/01_introduction.ipynb"
    context = {"header_buttons": [{"type": "group", "label": "launch-buttons", "buttons": [
        {"type": "link", "text": "Colab", "url": url},
        {"type": "link", "text": "Binder", "url": "https://mybinder.org/v2/gh/x/y/main?urlpath=lab/tree/a.ipynb"}]}]}
    book_site._colab_copies(None, "chapters/01_introduction", "page.html", context, None)
    buttons = context["header_buttons"][0]["buttons"]
    assert buttons[0]["url"] == mc.colab_url("chapters/01_introduction.ipynb")
    assert buttons[1]["url"].startswith("https://mybinder.org/v2/gh/x/y/main?urlpath=lab/tree/a.ipynb")
    context["header_buttons"][0]["buttons"][0]["url"] = url.replace("chapters/01_introduction", "book/intro")
    book_site._colab_copies(None, "book/intro", "page.html", context, None)
    assert "/colab/" not in context["header_buttons"][0]["buttons"][0]["url"], "only notebooks have copies"


# --- the renderer on small inputs ---------------------------------------------------------------


def test_cite_forms():
    key = "rumelhart1986learning"
    bib_page = BOOK + "book/bibliography.html"
    assert mc.render_markdown(f"as in {{cite}}`{key}`.", "chapters/x.ipynb") == \
        f"as in [(Rumelhart et al., 1986)]({bib_page})."
    assert mc.render_markdown(f"{{cite:p}}`{key}`", "chapters/x.ipynb") == f"[(Rumelhart et al., 1986)]({bib_page})"
    assert mc.render_markdown(f"{{cite:t}}`{key}` showed", "chapters/x.ipynb") == \
        f"[Rumelhart et al. (1986)]({bib_page}) showed"
    two = mc.render_markdown("{cite}`minsky1969perceptrons, rosenblatt1958perceptron`", "chapters/x.ipynb")
    assert two == f"[(Minsky and Papert, 1969; Rosenblatt, 1958)]({bib_page})"


def test_accents_are_decoded():
    assert "Léon Bottou" in mc.bibliography()["lecun1998gradient"]["full"]


def test_references_list_items_become_full_entries():
    out = mc.render_markdown("Works cited:\n\n- {cite:t}`rosenblatt1958perceptron`\n", "chapters/x.ipynb")
    assert out == ("Works cited:\n\n- Frank Rosenblatt (1958). The perceptron: a probabilistic model for "
                   "information storage and organization in the brain. *Psychological Review*.")


def test_unknown_key_role_and_label_are_errors():
    with pytest.raises(mc.ColabError, match="nosuchkey"):
        mc.render_markdown("{cite}`nosuchkey`", "chapters/x.ipynb")
    with pytest.raises(mc.ColabError, match="glossary"):
        mc.render_markdown("{glossary}`x`", "chapters/x.ipynb")
    with pytest.raises(mc.ColabError, match="no-such-label"):
        mc.render_markdown("{ref}`no-such-label`", "chapters/x.ipynb")
    with pytest.raises(mc.ColabError, match="card"):
        mc.render_markdown("```{card}\nx\n```", "chapters/x.ipynb")


def test_ref_goes_to_the_page_and_anchor_online():
    out = mc.render_markdown("the {ref}`Bibliography <bibliography-page>`", "chapters/x.ipynb")
    assert out == f"the [Bibliography]({BOOK}book/bibliography.html#bibliography-page)"
    out = mc.render_markdown("see {ref}`bibliography-page`", "chapters/x.ipynb")
    assert out == f"see [Bibliography]({BOOK}book/bibliography.html#bibliography-page)"


def test_relative_links_become_absolute():
    src = ("[ex](../exercises/01_introduction.ipynb), [sol](../exercises/solutions/01_introduction.ipynb#ex-2), "
           "[app](../book/running.md#colab), [code](../dlcore/nn/linear.py), [sec](#top), "
           "[web](https://example.org/a), ![fig](figures/a.png)")
    out = mc.render_markdown(src, "chapters/01_introduction.ipynb")
    assert f"[ex]({mc.colab_url('exercises/01_introduction.ipynb')})" in out
    assert f"[sol]({mc.colab_url('exercises/solutions/01_introduction.ipynb')}#ex-2)" in out
    assert f"[app]({BOOK}book/running.html#colab)" in out
    assert f"[code](https://github.com/{ORG}/{REPO}/blob/{BRANCH}/dlcore/nn/linear.py)" in out
    assert "[sec](#top)" in out and "[web](https://example.org/a)" in out
    assert f"![fig](https://raw.githubusercontent.com/{ORG}/{REPO}/{BRANCH}/chapters/figures/a.png)" in out
    out = mc.render_markdown("[ch](../../chapters/04_activations.ipynb)", "exercises/solutions/04_activations.ipynb")
    assert out == f"[ch]({mc.colab_url('chapters/04_activations.ipynb')})"


def test_directives_become_plain_markdown():
    out = mc.render_markdown("Before.\n\n```{note}\nA *note* citing {cite}`rosenblatt1958perceptron`.\n```\n\nAfter.",
                             "chapters/x.ipynb")
    assert out.startswith("Before.\n\n> **Note**\n>\n> A *note* citing [(Rosenblatt, 1958)](")
    assert out.endswith("\n\nAfter.")
    out = mc.render_markdown(":::{warning} Careful\nHot.\n:::", "chapters/x.ipynb")
    assert out == "> **Careful**\n>\n> Hot."
    out = mc.render_markdown("```{figure} img/loss.png\n:alt: a falling curve\n:name: fig-loss\n\nThe loss.\n```",
                             "chapters/x.ipynb")
    assert out == (f"![a falling curve](https://raw.githubusercontent.com/{ORG}/{REPO}/{BRANCH}/chapters/img/"
                   "loss.png)\n\n*The loss.*")
    out = mc.render_markdown("```{math}\n:label: eq-a\na^2 + b^2\n```", "chapters/x.ipynb")
    assert out == "$$\na^2 + b^2\n$$"
    assert mc.render_markdown("(sec-x)=\n## Section\n\n% a comment\nText.", "chapters/x.ipynb") == \
        "## Section\n\nText."
    assert mc.render_markdown("$$\nx\n$$ (eq-x)", "chapters/x.ipynb") == "$$\nx\n$$"


def test_other_roles():
    out = mc.render_markdown("loss {glue:text}`final_loss:.3f`, {math}`x^2`, {kbd}`Ctrl`", "chapters/x.ipynb")
    assert out == "loss `final_loss` (computed above), $x^2$, `Ctrl`"


def test_code_blocks_are_left_alone():
    src = "```python\nprint('{cite}`x`', '[a](b.ipynb)')\n```"
    assert mc.render_markdown(src, "chapters/x.ipynb") == src


def test_check_mode_reports_a_stale_copy(tmp_path, monkeypatch):
    src = SOURCES[0]
    monkeypatch.setattr(mc, "OUT", tmp_path)
    monkeypatch.setattr(mc, "notebooks", lambda: [src])
    assert mc.generate(check_only=True) == [tmp_path / src.relative_to(ROOT)]
    assert not (tmp_path / src.relative_to(ROOT)).exists()
    assert mc.generate() == [tmp_path / src.relative_to(ROOT)]
    assert mc.generate(check_only=True) == []
    orphan = tmp_path / "chapters" / "99_gone.ipynb"
    orphan.write_text("{}")
    assert mc.generate(check_only=True) == [orphan]

"""Write the Colab copies of the notebooks, ``colab/<path>``, from the same sources.

JupyterLab and Colab do not know MyST: ``{cite}`` and ``{ref}`` roles, ``(label)=``
targets and ``{note}`` or ``{figure}`` directives show up as raw text there, and a
relative link such as ``../exercises/01_introduction.ipynb`` leads nowhere on Colab.
The book's Colab launch buttons therefore open a generated copy of each chapter,
exercise and solution notebook (the way d2l publishes its Colab notebooks), in which

* ``{cite}`` / ``{cite:p}`` read "(Author, Year)" and ``{cite:t}`` reads "Author (Year)",
  from ``book/references.bib``, linked to the book's bibliography page; a references
  list item ``- {cite:t}`key``` becomes the full entry;
* ``{ref}`` (and ``{numref}``, ``{doc}``) become links to that page and anchor of the
  book online (``html.baseurl`` in ``book/_config.yml``);
* relative links become absolute: a notebook opens its Colab copy, a book page its
  page online, any other file its GitHub page, an image its raw file;
* directives become plain Markdown (admonitions a quote, figures an image and a caption,
  ``{math}`` a ``$$`` block), ``(label)=`` targets and ``%`` comments are dropped;
* everything else (code cells, the Colab setup cell, cell ids and tags) stays as it is.

``python -m tools.make_colab`` writes the copies (``make colab``); ``--check`` only lists
the stale ones (``tests/test_colab.py`` fails on any). An unknown role or directive is an
error that names the notebook, so nothing raw slips through.
"""

from __future__ import annotations

import argparse
import codecs
import copy
import posixpath
import re
import sys
from functools import lru_cache
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "colab"
CONFIG = ROOT / "book" / "_config.yml"
BIB = ROOT / "book" / "references.bib"
COLAB = "https://colab.research.google.com/github"


class ColabError(ValueError):
    """Something in a notebook that the Colab copy cannot render."""


# --- configuration ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def book_url() -> str:
    """The published book's base URL, ending in "/" (``html.baseurl``)."""
    url = (config().get("html") or {}).get("baseurl")
    if not url:
        raise ColabError(f"no html.baseurl in {CONFIG}: the Colab copies link to the book online")
    return url.rstrip("/") + "/"


def repo_parts() -> tuple[str, str, str]:
    """(org, repo, branch) of the GitHub repository named in ``_config.yml``."""
    repo = config()["repository"]
    match = re.match(r"https://github\.com/([^/]+)/([^/]+?)/?$", repo["url"])
    if not match:
        raise ColabError(f"repository.url must be a GitHub URL, got {repo['url']!r}")
    return match.group(1), match.group(2), str(repo.get("branch", "main"))


def colab_url(rel: str) -> str:
    """The Colab link that opens the Colab copy of notebook ``rel`` (repository-relative)."""
    org, repo, branch = repo_parts()
    return f"{COLAB}/{org}/{repo}/blob/{branch}/colab/{rel}"


def github_url(rel: str, raw: bool = False) -> str:
    org, repo, branch = repo_parts()
    if raw:
        return f"https://raw.githubusercontent.com/{org}/{repo}/{branch}/{rel}"
    return f"https://github.com/{org}/{repo}/blob/{branch}/{rel}"


def page_url(docname: str, anchor: str = "") -> str:
    return book_url() + docname + ".html" + (f"#{anchor}" if anchor else "")


# --- bibliography -------------------------------------------------------------------------------


def _plain(text: str) -> str:
    """BibTeX field text as plain Unicode: LaTeX accents decoded, braces removed."""
    try:
        import latexcodec  # noqa: F401  (registers the codec; pybtex depends on it)

        text = codecs.decode(text, "ulatex")
    except (ImportError, LookupError, TypeError, ValueError):
        pass
    return text.replace("{", "").replace("}", "").replace("--", "–").strip()


@lru_cache(maxsize=1)
def bibliography() -> dict:
    """key -> {"authors": [last names], "year", "full": one-line reference}."""
    from pybtex.database import parse_file

    entries = {}
    for key, entry in parse_file(str(BIB)).entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        last = [_plain(" ".join(p.prelast_names + p.last_names)) for p in people]
        if people and str(people[-1]) == "others":
            last[-1:] = ["others"]
        f = entry.fields
        full_names = [_plain(" ".join(p.first_names + p.middle_names + p.prelast_names + p.last_names))
                      for p in people if str(p) != "others"]
        venue = f.get("journal") or f.get("booktitle") or f.get("publisher") or f.get("institution") or ""
        if people and str(people[-1]) == "others":
            full_names.append("others")
        names = (full_names or ["Anonymous"])[0] if len(full_names) <= 1 else ", ".join(full_names[:-1]) + " and " + full_names[-1]
        full = f"{names} ({f.get('year', 'n.d.')}). {_plain(f.get('title', ''))}."
        if venue:
            full += f" *{_plain(venue)}*."
        entries[key] = {"authors": last, "year": f.get("year", "n.d."), "full": full}
    return entries


def _names(authors: list[str]) -> str:
    if not authors:
        return "Anonymous"
    if len(authors) == 1:
        return authors[0]
    if len(authors) == 2 and authors[1] != "others":
        return f"{authors[0]} and {authors[1]}"
    return f"{authors[0]} et al."


def _entry(key: str, where: str) -> dict:
    bib = bibliography()
    if key not in bib:
        raise ColabError(f"{where}: cites {key!r}, which is not in book/references.bib")
    return bib[key]


def render_cite(role: str, keys: str, where: str) -> str:
    """``{cite}``/``{cite:p}`` -> "(A, 2001; B and C, 2002)"; ``{cite:t}`` -> "A (2001), B (2002)"."""
    link = page_url("book/bibliography")
    items = [_entry(k.strip(), where) for k in keys.split(",") if k.strip()]
    if not items:
        raise ColabError(f"{where}: empty citation {{{role}}}``")
    if role in ("cite:t", "cite:ts"):
        parts = [f"{_names(e['authors'])} ({e['year']})" for e in items]
        return ", ".join(f"[{p}]({link})" for p in parts)
    if role in ("cite", "cite:p", "cite:ps"):
        inner = "; ".join(f"{_names(e['authors'])}, {e['year']}" for e in items)
        return f"[({inner})]({link})"
    raise ColabError(f"{where}: unknown citation role {{{role}}}")


# --- labels (for {ref}) -------------------------------------------------------------------------

_LABEL = re.compile(r"^\(([A-Za-z0-9_.:-]+)\)=\s*$", re.MULTILINE)
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$", re.MULTILINE)


def _sources() -> list[tuple[str, str]]:
    """(docname, markdown text) for every page of the book."""
    out = []
    for path in sorted((ROOT / "book").glob("*.md")):
        out.append((f"book/{path.stem}", path.read_text()))
    for path in notebooks():
        nb = nbformat.read(path, as_version=4)
        text = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        out.append((str(path.relative_to(ROOT).with_suffix("")), text))
    return out


@lru_cache(maxsize=1)
def labels() -> dict:
    """label -> (docname, title of the heading that follows it)."""
    found = {}
    for doc, text in _sources():
        for match in _LABEL.finditer(text):
            heading = _HEADING.search(text, match.end())
            title = heading.group(1) if heading else doc
            found[match.group(1)] = (doc, title)
    return found


def render_ref(text: str, where: str, numbered: bool = False) -> str:
    match = re.fullmatch(r"\s*(.*?)\s*<([^<>]+)>\s*", text, re.DOTALL)
    title, label = (match.group(1), match.group(2).strip()) if match else (None, text.strip())
    if label not in labels():
        raise ColabError(f"{where}: {{ref}} to unknown label {label!r}")
    doc, heading = labels()[label]
    return f"[{title or heading}]({page_url(doc, label)})"


def render_doc(text: str, current: str, where: str) -> str:
    match = re.fullmatch(r"\s*(.*?)\s*<([^<>]+)>\s*", text, re.DOTALL)
    title, target = (match.group(1), match.group(2).strip()) if match else (None, text.strip())
    doc = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
        posixpath.join(posixpath.dirname(current), target))
    return f"[{title or doc}]({page_url(doc)})"


# --- roles --------------------------------------------------------------------------------------

_ROLE = re.compile(r"\{([a-z][a-z0-9:-]*)\}`([^`]*)`")


def render_roles(text: str, current: str, where: str) -> str:
    def fix(match):
        role, content = match.group(1), match.group(2)
        if role.startswith("cite"):
            return render_cite(role, content, where)
        if role in ("ref", "numref"):
            return render_ref(content, where, numbered=role == "numref")
        if role == "doc":
            return render_doc(content, current, where)
        if role in ("glue", "glue:text", "glue:any", "glue:md"):
            # a value the book pastes in from the notebook's outputs; on Colab the code prints it
            return f"`{content.split(':', 1)[0]}` (computed above)"
        if role in ("math", "eq"):
            return f"${content}$" if role == "math" else f"({content})"
        if role in ("sub", "sup"):
            return f"<{role}>{content}</{role}>"
        if role in ("kbd", "code", "file", "command", "samp"):
            return f"`{content}`"
        if role in ("abbr", "term", "index"):
            return re.sub(r"\s*[<(][^<>()]*[>)]\s*$", "", content)
        raise ColabError(f"{where}: no Colab rendering for the role {{{role}}}`{content}`")

    return _ROLE.sub(fix, text)


# --- links --------------------------------------------------------------------------------------

_LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)((?:\s+\"[^\"]*\")?)\)")
_HTML_SRC = re.compile(r"""(<img\b[^>]*?\bsrc=)(["'])([^"']+)\2""")
_ABSOLUTE = re.compile(r"^([a-z][a-z0-9+.-]*:|#)")


def absolute_target(target: str, current: str, image: bool = False) -> str:
    """An absolute URL for a link written relative to notebook ``current`` (repo-relative)."""
    if _ABSOLUTE.match(target):
        return target
    path, _, anchor = target.partition("#")
    rel = path.lstrip("/") if path.startswith("/") else posixpath.normpath(
        posixpath.join(posixpath.dirname(current), path))
    if rel.startswith("../"):
        raise ColabError(f"{current}: link {target!r} points outside the repository")
    if image:
        return github_url(rel, raw=True)
    if rel.endswith(".ipynb"):
        return colab_url(rel) + (f"#{anchor}" if anchor else "")
    if rel.endswith(".md") and (rel.startswith("book/")):
        return page_url(rel[:-3], anchor)
    return github_url(rel) + (f"#{anchor}" if anchor else "")


def absolute_links(text: str, current: str) -> str:
    def fix(match):
        bang, label, target, title = match.groups()
        return f"{bang}[{label}]({absolute_target(target, current, image=bool(bang))}{title})"

    text = _LINK.sub(fix, text)
    return _HTML_SRC.sub(lambda m: m.group(1) + m.group(2) + absolute_target(m.group(3), current, True)
                         + m.group(2), text)


# --- directives ---------------------------------------------------------------------------------

_FENCE_OPEN = re.compile(r"^(?P<indent>[ ]{0,3})(?P<fence>`{3,}|:{3,})\{(?P<name>[a-zA-Z][\w-]*)\}(?P<arg>.*)$")
_OPTION = re.compile(r"^:([\w-]+):\s*(.*)$")
ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention", "danger", "error",
               "seealso", "admonition", "margin", "sidebar", "topic", "epigraph", "dropdown", "aside"}


def _split_options(body: list[str]) -> tuple[dict, list[str]]:
    options, i = {}, 0
    while i < len(body) and _OPTION.match(body[i]):
        key, value = _OPTION.match(body[i]).groups()
        options[key] = value
        i += 1
    if i < len(body) and not body[i].strip():
        i += 1
    return options, body[i:]


def _quote(text: str) -> str:
    return "\n".join(("> " + line) if line.strip() else ">" for line in text.strip("\n").split("\n"))


def render_directive(name: str, arg: str, body: list[str], current: str, where: str) -> str:
    options, content = _split_options(body)
    inner = render_directives("\n".join(content), current, where)
    if name in ADMONITIONS:
        title = arg or ("See also" if name == "seealso" else name.capitalize())
        if name in ("admonition", "dropdown", "sidebar", "topic") and not arg:
            title = options.get("title", "Note")
        return _quote(f"**{title}**\n\n{inner}")
    if name in ("figure", "image"):
        alt = options.get("alt", "figure")
        picture = f"![{alt}]({arg})"
        return picture + (f"\n\n*{inner.strip()}*" if inner.strip() else "")
    if name in ("math",):
        return f"$$\n{inner.strip()}\n$$"
    if name in ("code", "code-block", "code-cell", "sourcecode"):
        fence = "````" if "```" in inner else "```"
        return f"{fence}{arg.strip()}\n{chr(10).join(content)}\n{fence}"
    if name == "bibliography":
        return ""
    raise ColabError(f"{where}: no Colab rendering for the directive {{{name}}}")


def render_directives(text: str, current: str, where: str) -> str:
    lines = text.split("\n")
    out, i = [], 0
    in_code = None  # the fence of a plain code block we are inside (its content is left alone)
    while i < len(lines):
        line = lines[i]
        plain = re.match(r"^\s{0,3}(`{3,}|~{3,})", line)
        if in_code:
            out.append(line)
            if plain and plain.group(1).startswith(in_code) and not line.strip()[len(in_code):].strip():
                in_code = None
            i += 1
            continue
        opened = _FENCE_OPEN.match(line)
        if opened:
            fence = opened.group("fence")
            body, j = [], i + 1
            while j < len(lines) and lines[j].strip() != fence:
                body.append(lines[j])
                j += 1
            if j == len(lines):
                raise ColabError(f"{where}: directive {{{opened.group('name')}}} is never closed")
            out.append(render_directive(opened.group("name"), opened.group("arg").strip(), body, current, where))
            i = j + 1
            continue
        if plain:
            in_code = plain.group(1)
        out.append(line)
        i += 1
    return "\n".join(out)


# --- one markdown cell, one notebook ------------------------------------------------------------


_CODE_BLOCK = re.compile(r"(^[ ]{0,3}(`{3,}|~{3,})[^\n]*\n.*?^[ ]{0,3}\2[ \t]*$)", re.MULTILINE | re.DOTALL)


def _outside_code_blocks(text: str, fn) -> str:
    """Apply ``fn`` to the parts of ``text`` outside fenced code blocks."""
    out, last = [], 0
    for match in _CODE_BLOCK.finditer(text):
        out += [fn(text[last:match.start()]), match.group(0)]
        last = match.end()
    return "".join(out + [fn(text[last:])])


def render_markdown(source: str, current: str, where: str = "") -> str:
    """The Colab rendering of one markdown cell of notebook ``current`` (repo-relative path)."""
    where = where or current
    text = render_directives(source, current, where)
    text = _LABEL.sub("", text)
    text = re.sub(r"^%.*\n?", "", text, flags=re.MULTILINE)  # MyST comments
    text = re.sub(r"(\$\$)[ \t]*\([A-Za-z0-9_.:-]+\)[ \t]*$", r"\1", text, flags=re.MULTILINE)  # $$ (eq-label)

    def references(match):
        return f"{match.group(1)}- {_entry(match.group(2), where)['full']}"

    text = re.sub(r"^([ \t]*)- \{cite:t\}`([^`,]+)`[ \t]*$", references, text, flags=re.MULTILINE)
    text = _outside_code_blocks(text, lambda t: absolute_links(render_roles(t, current, where), current))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def banner(rel: str) -> str:
    page = page_url(rel[: -len(".ipynb")])
    return (f"*This is the Colab copy of [`{rel}`]({github_url(rel)}), generated by "
            f"`tools/make_colab.py`. Read it in the book at <{page}>.*")


def colab_version(nb, rel: str):
    """Return the Colab copy of notebook ``nb`` stored at repository path ``rel`` (a new object)."""
    nb = copy.deepcopy(nb)
    titled = False
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = render_markdown(cell.source, rel, where=f"{rel}, cell {i}")
            if not titled and cell.source.startswith("# "):
                first, _, rest = cell.source.partition("\n")
                cell.source = first + "\n\n" + banner(rel) + ("\n" + rest if rest.strip() else "")
                titled = True
    return nb


def notebooks() -> list[Path]:
    """Every chapter, exercise and solution notebook (the same list the setup-cell tool uses)."""
    from tools.notebook_cells import notebooks as all_notebooks

    return all_notebooks()


def target_for(path: Path) -> Path:
    return OUT / path.relative_to(ROOT)


def generate(check_only: bool = False) -> list[Path]:
    """Write (or, with ``check_only``, just list) the Colab copies that are stale or orphaned."""
    stale, wanted = [], set()
    for path in notebooks():
        rel = str(path.relative_to(ROOT))
        text = nbformat.writes(colab_version(nbformat.read(path, as_version=4), rel)) + "\n"
        target = target_for(path)
        wanted.add(target)
        if not target.exists() or target.read_text() != text:
            stale.append(target)
            if not check_only:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
    for orphan in sorted(OUT.rglob("*.ipynb")) if OUT.exists() else []:
        if orphan not in wanted:
            stale.append(orphan)
            if not check_only:
                orphan.unlink()
    return stale


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale Colab copies")
    args = parser.parse_args(argv)
    try:
        stale = generate(check_only=args.check)
    except ColabError as err:
        print(f"make_colab: {err}", file=sys.stderr)
        return 2
    for path in stale:
        print(("stale: " if args.check else "wrote ") + str(path.relative_to(ROOT)))
    if args.check and stale:
        print("run `make colab` to refresh the Colab copies", file=sys.stderr)
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())

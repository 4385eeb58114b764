"""The exercise generator and the setup-cell tool."""

import nbformat
import pytest

from tools import make_exercises as mx
from tools import notebook_cells


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

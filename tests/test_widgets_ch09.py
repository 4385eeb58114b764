"""Chapter 09 kernel explorer, driven control by control."""

import numpy as np
import pytest

from dlcore.widgets.ch09 import PRESETS, apply_kernel, kernel_explorer


def test_apply_kernel_matches_a_loop_and_rejects_bad_shapes():
    rng = np.random.default_rng(0)
    img, k = rng.random((6, 5)), rng.standard_normal((3, 3))
    p = np.pad(img, 1)
    loop = np.array([[np.sum(k * p[i:i + 3, j:j + 3]) for j in range(5)] for i in range(6)])
    assert np.allclose(apply_kernel(img, k), loop)
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        apply_kernel(img, np.ones((2, 2)))
    with pytest.raises(ValueError, match="2-D"):
        apply_kernel(np.ones((2, 3, 3)), k)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_on_both_images(name):
    w = kernel_explorer()
    w.controls["preset"].value = name
    for source in ("digit", "photo"):
        w.controls["image"].value = source
        assert w.state["image"] == source
        assert np.allclose(w.state["kernel"], PRESETS[name])
        assert w.state["sum"] == pytest.approx(PRESETS[name].sum())
        assert np.isfinite(w.state["output"]).all()
        if name == "identity":  # the identity kernel returns the image unchanged
            from dlcore.widgets.ch09 import sample_photo

            expected = sample_photo() if source == "photo" else w.state["output"]
            assert np.allclose(w.state["output"], expected)
        if name == "blur":  # sums to 1: a flat interior keeps its value, edges see zero pad
            flat = apply_kernel(np.full((5, 5), 0.5), w.state["kernel"])
            assert flat[2, 2] == pytest.approx(0.5) and flat[0, 0] < 0.5


def test_edited_weights_update_sum_and_output_at_extremes():
    w = kernel_explorer()
    for value in (-1e6, 0.0, 1e6):
        for c in w.controls["weights"]:
            c.value = value
        assert w.state["sum"] == pytest.approx(9 * value)
        assert np.isfinite(w.state["output"]).all()
    assert "black" in kernel_explorer().children[2].value  # edge preset: sum 0


def test_the_explorer_leaves_pyplots_backend_alone():
    """Drawing the explorer must not switch pyplot's backend (in a notebook that would
    hide every later inline figure); a non-Agg backend stands in for the inline one."""
    import matplotlib

    original = matplotlib.get_backend()
    matplotlib.use("pdf", force=True)
    try:
        box = kernel_explorer()
        box.controls["preset"].value = "blur"
        assert matplotlib.get_backend().lower() == "pdf"
    finally:
        matplotlib.use(original, force=True)


def _set_all(w, value):
    for c in w.controls["weights"]:
        c.value = value


def test_the_explorer_flags_what_the_reader_must_notice():
    w = kernel_explorer()
    _set_all(w, 0.0)  # all-zero kernel: not "only changes show", nothing shows
    assert "0 everywhere" in w.children[2].value and not np.any(w.state["output"])
    w.controls["image"].value = "photo"  # no black background, unlike the digit
    _set_all(w, -0.5)  # a negative sum turns flat regions negative: drawn black
    assert "negative" in w.children[2].value and w.state["clipped"] > 0.5
    _set_all(w, 1e6)  # huge weights: everything saturates, and the note says so
    assert "above 1" in w.children[2].value and w.state["clipped"] > 0.5
    _set_all(w, 0.05)  # a positive sum below 1 darkens
    assert "darker" in w.children[2].value
    w.controls["preset"].value = "sharpen"  # sums to 1, but overshoots at the strokes
    assert "keep their brightness" in w.children[2].value
    assert "below 0" in w.children[2].value and 0 < w.state["clipped"] < 0.5
    w.controls["preset"].value = "blur"
    assert w.state["clipped"] == 0 and "shown" not in w.children[2].value


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_a_non_finite_weight_is_flagged_not_a_crash(bad):
    w = kernel_explorer()
    w.controls["preset"].value = "identity"
    w.controls["weights"][0].value = bad
    assert "not a finite number" in w.children[2].value
    assert np.isfinite(w.state["output"]).all() and w.state["sum"] == pytest.approx(1)

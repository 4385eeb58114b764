"""The chapter 12 GAN stepper, driven headless: set the controls, click, read the state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlcore.torch.generative import sample_ring
from dlcore.widgets.ch12 import SETTINGS, coverage_flag, gan_stepper, is_clump


@pytest.mark.parametrize("covered,on_modes,best,flag", [
    (8, 0.9, 8, "covers the ring"),
    (7, 0.5, 8, "covers the ring"),
    (1, 0.6, 1, "mode collapse"),          # on the modes, but only one of them
    (5, 0.1, 8, "mode collapse"),          # coverage fell well below the best so far
    (0, 0.0, 0, "not on the modes yet"),
    (6, 0.1, 7, "not on the modes yet"),
    (0, 0.0, 2, "not on the modes yet"),   # early flicker before the ring was ever covered
    (4, 0.1, 6, "not on the modes yet"),
])
def test_coverage_flag_at_the_extremes(covered, on_modes, best, flag):
    assert coverage_flag(covered, on_modes, best) == flag


def test_a_clump_between_modes_is_flagged_as_collapse():
    # a collapsed generator's clump can sit between two modes and cover none of them
    assert coverage_flag(0, 0.0, 1, clumped=True) == "mode collapse"
    assert coverage_flag(8, 0.9, 8, clumped=True) == "covers the ring"


def test_is_clump_tells_a_clump_from_the_ring_and_from_an_untrained_blob():
    rng = np.random.default_rng(0)
    angle = np.pi / 8                                        # between two modes
    clump = 2 * np.array([np.cos(angle), np.sin(angle)]) + 0.1 * rng.normal(size=(500, 2))
    assert is_clump(clump, 2.0)
    assert not is_clump(clump, 8.0)                          # the test scales with radius
    ring = sample_ring(2000, sigma=0.1, generator=torch.Generator().manual_seed(0)).numpy()
    assert not is_clump(ring, 2.0)
    assert not is_clump(0.05 * rng.normal(size=(500, 2)), 2.0)   # untrained: at the origin
    half = ring[ring[:, 0] > 0.5]                            # three modes on one side
    assert not is_clump(half, 2.0)
    assert not is_clump(np.zeros((1, 2))) and not is_clump(np.full((5, 2), np.nan))


def test_flag_follows_k_for_a_smaller_ring():
    assert coverage_flag(4, 0.9, 4, k=4) == "covers the ring"


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_every_setting_steps_and_resets(setting):
    w = gan_stepper(hidden=8, setting=setting, max_steps=50)
    assert w.state["step"] == 0 and w.state["setting"] == setting
    assert w.state["flag"] == "not on the modes yet"       # an untrained G sits at the origin
    for n in (1, 50):                                       # both ends of the slider
        w.controls["steps"].value = n
        before = w.state["step"]
        w.controls["step"].click()
        assert w.state["step"] == before + n
        assert np.isfinite(w.state["d_loss"]) and 0 <= w.state["covered"] <= 8
        assert w.state["fractions"].shape == (8,) and 0 <= w.state["on_modes"] <= 1
        assert isinstance(w.state["clumped"], bool)
        assert "modes covered" in w.children[2].value and w.children[3].value
    w.controls["reset"].click()
    assert w.state["step"] == 0 and w.state["best"] == 0


def test_changing_the_setting_starts_a_new_run_and_slider_bounds_hold():
    w = gan_stepper(hidden=8, max_steps=20)
    w.controls["steps"].value = 20
    w.controls["step"].click()
    w.controls["setting"].value = list(SETTINGS)[2]
    assert w.state["step"] == 0
    w.controls["steps"].value = 10_000                      # clipped by the slider
    assert w.controls["steps"].value == 20
    w.controls["steps"].value = 0
    assert w.controls["steps"].value == 1


def test_the_same_seed_gives_the_same_run():
    a, b = gan_stepper(hidden=8, max_steps=5), gan_stepper(hidden=8, max_steps=5)
    for w in (a, b):
        w.controls["steps"].value = 5
        w.controls["step"].click()
    assert np.array_equal(a.state["fractions"], b.state["fractions"])
    assert a.state["d_loss"] == b.state["d_loss"]


def test_the_stepper_leaves_the_notebook_backend_alone():
    """Drawing the stepper's picture must not switch pyplot's backend: in a notebook that
    would hide every later figure (plt.show() does nothing under Agg)."""
    import matplotlib

    before = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        w = gan_stepper(hidden=8, max_steps=5)
        w.controls["step"].click()
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)

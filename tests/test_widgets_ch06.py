"""The chapter 06 optimizer race, driven headless: set the controls, read the state."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest

from dlcore.nn import Parameter
from dlcore.optim import SGD, Adam
from dlcore.widgets import optimizer_race
from dlcore.widgets.ch02 import SURFACES
from dlcore.widgets.ch06 import DEFAULTS, OPTIMIZERS, draw_race, race, run_optimizer


def test_race_is_a_widget_with_its_controls():
    explorer = optimizer_race()
    assert isinstance(explorer, widgets.VBox)
    assert set(explorer.controls) == {"surface", "lr", "adam_lr", "momentum", "steps"}
    assert explorer.image in explorer.children
    assert explorer.image.value[:4] == b"\x89PNG"
    assert set(explorer.state["paths"]) == set(OPTIMIZERS)
    lr, adam_lr, steps = DEFAULTS["elongated valley"]
    assert explorer.state["lr"] == pytest.approx(lr)
    assert explorer.state["adam_lr"] == pytest.approx(adam_lr)
    for name in OPTIMIZERS:
        assert explorer.state["paths"][name].shape == (steps + 1, 2)
        assert explorer.state["losses"][name].shape == (steps + 1,)


def test_default_race_tells_the_chapters_story():
    """At a safe SGD rate on the valley, plain SGD crawls; momentum and Adam get far lower."""
    s = optimizer_race().state
    assert s["final_loss"]["momentum"] < s["final_loss"]["SGD"] / 10
    assert s["final_loss"]["Adam"] < s["final_loss"]["SGD"] / 10
    assert s["winner"] in ("momentum", "Adam")
    assert "Lowest" in optimizer_race().label.value


def test_changing_the_learning_rate_changes_sgd_and_momentum_only():
    explorer = optimizer_race()
    before = {k: v.copy() for k, v in explorer.state["paths"].items()}
    image = explorer.image.value
    explorer.controls["lr"].value = 0.04
    after = explorer.state["paths"]
    assert not np.allclose(after["SGD"], before["SGD"])
    assert not np.allclose(after["momentum"], before["momentum"])
    np.testing.assert_array_equal(after["Adam"], before["Adam"])
    assert explorer.image.value != image
    # A larger (still stable) rate brings plain SGD closer to the minimum in 100 steps.
    assert explorer.state["final_loss"]["SGD"] < 0.05


def test_too_large_a_learning_rate_diverges_and_is_reported():
    explorer = optimizer_race()
    explorer.controls["lr"].value = 0.2         # 0.2 * 25 = 5 > 2: SGD diverges on the valley
    assert explorer.state["diverged"]["SGD"]
    assert explorer.state["final_loss"]["SGD"] == float("inf")
    assert not explorer.state["diverged"]["Adam"]
    assert "diverged" in explorer.label.value


def test_adam_lr_and_steps_controls():
    explorer = optimizer_race()
    explorer.controls["steps"].value = 20
    assert all(len(p) == 21 for p in explorer.state["paths"].values())
    adam_before = explorer.state["paths"]["Adam"].copy()
    explorer.controls["adam_lr"].value = 0.01
    adam_after = explorer.state["paths"]["Adam"]
    # Adam's first step moves each coordinate by about lr, whatever the gradient's size.
    first = np.abs(adam_after[1] - adam_after[0])
    np.testing.assert_allclose(first, [0.01, 0.01], rtol=1e-6)
    assert not np.allclose(adam_before, adam_after)


def test_changing_the_surface_resets_its_settings():
    explorer = optimizer_race()
    explorer.controls["surface"].value = "Rosenbrock"
    lr, adam_lr, steps = DEFAULTS["Rosenbrock"]
    assert explorer.state["surface"] == "Rosenbrock"
    assert explorer.controls["lr"].value == pytest.approx(lr)
    assert explorer.controls["steps"].value == steps
    s = explorer.state
    assert s["final_loss"]["momentum"] < s["final_loss"]["SGD"]
    np.testing.assert_allclose(s["paths"]["SGD"][0], SURFACES["Rosenbrock"].start)


def test_race_runs_dlcore_optimizers_exactly():
    """The paths are those of dlcore.optim written out by hand on the valley."""
    surface = SURFACES["elongated valley"]
    path = run_optimizer("momentum", surface, lr=0.02, adam_lr=0.1, steps=5)
    w, v = np.array(surface.start, dtype=float), np.zeros(2)
    for k in range(5):
        v = 0.9 * v + surface.grad(w)
        w = w - 0.02 * v
        np.testing.assert_allclose(path[k + 1], w, rtol=1e-12)
    p = Parameter(np.array(surface.start, dtype=float))
    opt = Adam([p], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        p.grad += surface.grad(p.data)
        opt.step()
    np.testing.assert_allclose(run_optimizer("Adam", surface, 0.02, 0.1, 3)[-1], p.data)
    q = Parameter(np.array(surface.start, dtype=float))
    sgd = SGD([q], lr=0.02)
    q.grad += surface.grad(q.data)
    sgd.step()
    np.testing.assert_allclose(run_optimizer("SGD", surface, 0.02, 0.1, 1)[-1], q.data)


def test_draw_race_labels_its_axes():
    fig = draw_race(race("quadratic bowl", 0.05, 0.1, 10))
    ax, ax_loss = fig.axes
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "y"
    assert ax_loss.get_xlabel() == "step" and "loss" in ax_loss.get_ylabel()
    assert ax.get_title() and ax_loss.get_title()


def test_unknown_names_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown surface"):
        optimizer_race(surface="saddle")
    with pytest.raises(ValueError, match="unknown optimizer"):
        run_optimizer("RMSprop", SURFACES["quadratic bowl"], 0.1, 0.1, 1)


def test_momentum_control_sets_mu_and_reports_the_effective_step():
    explorer = optimizer_race()
    assert explorer.state["momentum"] == pytest.approx(0.9)
    assert "effective step" in explorer.label.value
    before = explorer.state["paths"]["momentum"].copy()
    explorer.controls["momentum"].value = 0.0          # mu = 0: momentum is plain SGD
    s = explorer.state
    np.testing.assert_allclose(s["paths"]["momentum"], s["paths"]["SGD"])
    assert s["effective_lr"] == pytest.approx(s["lr"])
    assert not np.allclose(before, s["paths"]["momentum"])
    explorer.controls["momentum"].value = 0.99         # the slider's top end still runs
    assert explorer.state["effective_lr"] == pytest.approx(explorer.state["lr"] / 0.01)
    with pytest.raises(ValueError, match="momentum"):
        race("quadratic bowl", 0.1, 0.1, 5, momentum=1.0)


def test_a_loss_of_exactly_zero_does_not_collapse_the_axis_and_ties_are_ties():
    s = race("quadratic bowl", 1.0, 0.1, 20, momentum=0.0)   # lr 1 on the unit bowl: w = 0 at once
    assert s["final_loss"]["SGD"] == 0.0 and s["final_loss"]["momentum"] == 0.0
    assert s["winner"] == "tie" and s["winners"] == ["SGD", "momentum"]
    fig = draw_race(s)
    bottom = fig.axes[1].get_ylim()[0]
    assert bottom > 1e-20 * s["losses"]["SGD"][0]
    explorer = optimizer_race(surface="quadratic bowl")
    explorer.controls["lr"].value = 1.0
    explorer.controls["momentum"].value = 0.0
    assert "tie between" in explorer.label.value


def test_a_growing_loss_is_flagged_before_it_diverges():
    # lr 0.085 on the valley: 0.085 * 25 = 2.125 > 2, so SGD's loss grows, slowly, in 30 steps
    s = race("elongated valley", 0.085, 0.1, 30)
    assert not s["diverged"]["SGD"] and s["growing"]["SGD"]
    explorer = optimizer_race()
    explorer.controls["steps"].value = 30
    explorer.controls["lr"].value = 0.085
    assert "growing" in explorer.label.value
    assert "(growing)" in [t.get_text() for t in draw_race(explorer.state).axes[1].get_legend().get_texts()][0]


def test_every_control_at_its_extremes_gives_a_finite_readout():
    explorer = optimizer_race()
    for key in ("lr", "adam_lr", "momentum", "steps"):
        control = explorer.controls[key]
        for value in (control.min, control.max):
            control.value = value
            assert explorer.image.value[:4] == b"\x89PNG"
            assert "Lowest" in explorer.label.value
        control.value = control.min

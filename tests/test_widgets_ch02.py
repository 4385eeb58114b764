"""The chapter 02 gradient-descent explorer, driven headless: set controls, read the state."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest

from dlcore.check import numerical_gradient
from dlcore.widgets import gradient_descent_explorer
from dlcore.widgets.ch02 import DIVERGED_AT, SURFACES, run_descent


@pytest.fixture
def explorer():
    return gradient_descent_explorer(function="quadratic bowl")


def test_explorer_is_a_widget_with_its_controls(explorer):
    assert isinstance(explorer, widgets.VBox)
    assert set(explorer.controls) == {"function", "lr", "momentum", "x0", "y0", "steps"}
    assert list(explorer.controls["function"].options) == list(SURFACES)
    assert explorer.image.value[:4] == b"\x89PNG"
    state = explorer.state
    bowl = SURFACES["quadratic bowl"]
    assert state["function"] == "quadratic bowl" and state["lr"] == pytest.approx(bowl.lr)
    assert state["path"].shape == (bowl.steps + 1, 2)
    np.testing.assert_allclose(state["path"][0], bowl.start)
    np.testing.assert_allclose(state["losses"], bowl.f(state["path"]))


def test_learning_rate_above_two_over_L_diverges_on_the_bowl(explorer):
    # The bowl (x^2 + y^2) / 2 has curvature L = 1: stable below lr = 2, divergent above.
    explorer.controls["steps"].value = 200
    explorer.controls["lr"].value = 1.9
    assert not explorer.state["diverged"] and explorer.state["final_loss"] < 1e-6
    label, image = explorer.label.value, explorer.image.value
    explorer.controls["lr"].value = 2.1
    assert explorer.state["diverged"] and explorer.state["final_loss"] == np.inf
    assert "Diverged" in explorer.label.value and explorer.label.value != label
    assert explorer.image.value != image


def test_momentum_speeds_up_the_valley():
    explorer = gradient_descent_explorer(function="elongated valley", lr=0.07, steps=60)
    plain = explorer.state["final_loss"]
    explorer.controls["momentum"].value = 0.5
    assert explorer.state["momentum"] == 0.5
    assert explorer.state["final_loss"] < plain / 100
    expected = run_descent(SURFACES["elongated valley"].grad, (-5.0, 1.5), 0.07, 0.5, 60)
    np.testing.assert_allclose(explorer.state["path"], expected)


def test_start_and_steps_controls_move_the_path(explorer):
    explorer.controls["x0"].value = 1.0
    explorer.controls["y0"].value = -2.0
    explorer.controls["steps"].value = 7
    np.testing.assert_allclose(explorer.state["start"], [1.0, -2.0])
    np.testing.assert_allclose(explorer.state["path"][0], [1.0, -2.0])
    assert explorer.state["path"].shape == (8, 2)


def test_choosing_a_function_resets_its_defaults(explorer):
    explorer.controls["momentum"].value = 0.3
    explorer.controls["function"].value = "Rosenbrock"
    rosen = SURFACES["Rosenbrock"]
    c = explorer.controls
    assert (c["x0"].min, c["x0"].max, c["y0"].min, c["y0"].max) == (*rosen.xlim, *rosen.ylim)
    assert c["lr"].value == pytest.approx(rosen.lr) and c["steps"].value == rosen.steps
    assert explorer.state["function"] == "Rosenbrock" and explorer.state["momentum"] == 0.3
    np.testing.assert_allclose(explorer.state["path"][0], rosen.start)
    assert explorer.state["path"].shape == (rosen.steps + 1, 2)


def test_momentum_helps_on_rosenbrock():
    explorer = gradient_descent_explorer(function="Rosenbrock")
    plain = explorer.state["final_loss"]
    explorer.controls["momentum"].value = 0.9
    assert explorer.state["final_loss"] < plain / 10


@pytest.mark.parametrize("name", list(SURFACES))
def test_surface_gradients_match_finite_differences(name):
    surface = SURFACES[name]
    rng = np.random.default_rng(0)
    for _ in range(5):
        w = np.array([rng.uniform(*surface.xlim), rng.uniform(*surface.ylim)])
        numeric = numerical_gradient(lambda v: float(surface.f(v)), w.copy())
        np.testing.assert_allclose(surface.grad(w), numeric, rtol=1e-6, atol=1e-6)
    assert surface.f(np.array(surface.minimum)) == pytest.approx(0.0)
    np.testing.assert_allclose(surface.grad(np.array(surface.minimum)), 0.0, atol=1e-12)


def test_run_descent_matches_dlcore_sgd_with_momentum():
    from dlcore.nn import Parameter
    from dlcore.optim import SGD

    grad = SURFACES["elongated valley"].grad
    w = Parameter(np.array([-4.0, 1.0]), dtype=np.float64)
    opt = SGD([w], lr=0.05, momentum=0.7)
    path = [w.data.copy()]
    for _ in range(25):
        opt.zero_grad()
        w.grad += grad(w.data)
        opt.step()
        path.append(w.data.copy())
    np.testing.assert_allclose(run_descent(grad, [-4.0, 1.0], 0.05, 0.7, 25), path, rtol=1e-12)


def test_run_descent_stops_when_it_diverges():
    path = run_descent(lambda w: 10 * w, [1.0], lr=1.0, steps=1000)   # factor -9 per step
    assert len(path) < 20 and np.abs(path[-1]).max() > DIVERGED_AT
    assert np.abs(path[:-1]).max() <= DIVERGED_AT


def test_unknown_function_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown function"):
        gradient_descent_explorer(function="saddle")


# ---- issue 11: divergence is flagged at once, lr = 2 is a slider position, loss 0 keeps the axis --


@pytest.mark.parametrize("lr, status", [(0.3, "converging"), (1.0, "converged"), (1.9, "converging"),
                                        (2.0, "bouncing"), (2.1, "diverging"), (2.3, "diverging")])
def test_every_learning_rate_on_the_bowl_gets_the_right_flag(explorer, lr, status):
    explorer.controls["lr"].value = lr
    s = explorer.state
    assert s["status"] == status, (lr, s["status"], s["losses"][[0, -1]])
    assert s["diverged"] == (status in ("diverged", "diverging"))
    assert s["limit"] == pytest.approx(2.0)
    if status == "diverging":
        assert "Diverging" in explorer.label.value and "above it" in explorer.label.value
    if status == "bouncing":
        assert "Neither converging nor diverging" in explorer.label.value


def test_the_slider_extremes_and_lr_two_are_reachable(explorer):
    slider = explorer.controls["lr"]
    exponents = slider.min + slider.step * np.arange(round((slider.max - slider.min) / slider.step) + 1)
    positions = slider.base ** exponents
    assert np.isclose(positions, 2.0, rtol=1e-12).any() and np.isclose(positions, 1.0, rtol=1e-12).any()
    slider.value = slider.base ** slider.max              # the largest lr: blows up, flagged
    assert explorer.state["status"] == "diverged" and "Diverged" in explorer.label.value
    slider.value = slider.base ** slider.min              # the smallest: barely moves, no flag
    assert explorer.state["status"] == "converging" and not explorer.state["diverged"]
    explorer.controls["momentum"].value = explorer.controls["momentum"].max
    explorer.controls["steps"].value = explorer.controls["steps"].max
    assert explorer.state["path"].shape == (2001, 2)


def test_momentum_moves_the_stability_limit(explorer):
    explorer.controls["steps"].value = 300
    explorer.controls["momentum"].value = 0.5
    explorer.controls["lr"].value = 2.8                   # above 2/lambda, below 2 (1 + 0.5) / lambda = 3
    assert explorer.state["limit"] == pytest.approx(3.0)
    assert explorer.state["status"] in ("converging", "converged")


def test_a_loss_of_exactly_zero_does_not_collapse_the_log_axis(explorer):
    explorer.controls["lr"].value = 1.0                   # one step lands exactly on the minimum
    assert explorer.state["losses"][1] == 0.0 and explorer.state["status"] == "converged"
    low, high = explorer.loss_ylim
    assert low > 1e-18 * explorer.state["losses"][0] and high >= explorer.state["losses"][0]


def test_rosenbrock_has_no_quadratic_limit_but_is_still_flagged():
    explorer = gradient_descent_explorer(function="Rosenbrock", lr=0.01, steps=200)
    assert explorer.state["limit"] is None
    assert explorer.state["diverged"], explorer.state["status"]


# ---- strict review: a loss that ends above its start is never called "converging" ---------------


def test_a_run_that_ends_above_its_start_is_flagged_as_overshot():
    # Rosenbrock at lr 0.002 for 10 steps: the loss jumps from 12.5 to about 550 and is back down
    # to about 15 at the end, still above its start; it used to be labelled "converging".
    explorer = gradient_descent_explorer(function="Rosenbrock", lr=0.002, steps=10)
    s = explorer.state
    assert s["losses"][-1] > s["losses"][0] and s["losses"].max() > s["losses"][-1]
    assert s["status"] == "overshot" and not s["diverged"]
    assert "Overshot" in explorer.label.value and "above" in explorer.label.value


def test_no_setting_reaches_a_loss_above_its_start_unflagged():
    from dlcore.widgets.ch02 import classify  # what the explorer's update() calls, without drawing

    for surface in SURFACES.values():
        for lr in 2.0 ** np.arange(-14, 1.61, 0.25):
            for momentum in (0.0, 0.5, 0.9, 0.99):
                for steps in (1, 10, 100, 300):
                    path = run_descent(surface.grad, np.array(surface.start), lr, momentum, steps)
                    blew_up = len(path) < steps + 1 or not np.all(np.isfinite(path[-1]))
                    with np.errstate(all="ignore"):
                        losses = surface.f(path)
                    status = classify(losses, blew_up)
                    if not blew_up and losses[-1] > losses[0] * (1 + 1e-6):
                        assert status in ("diverging", "overshot"), (surface.name, lr, momentum, steps, status)

"""The chapter 04 explorer, driven headless: set the controls, read the state."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest

from dlcore import nn
from dlcore.widgets import activation_explorer
from dlcore.widgets.ch04 import ACTIVATIONS, INITS, derivative, plot_stack_statistics, stack_statistics


@pytest.fixture(scope="module")
def explorer():
    return activation_explorer(width=32, n_samples=64, max_layers=12, rng=np.random.default_rng(1))


def test_explorer_is_a_widget_with_its_controls(explorer):
    assert isinstance(explorer, widgets.VBox)
    assert set(explorer.controls) == {"activation", "layers", "input_std", "init"}
    assert list(explorer.controls["activation"].options) == list(ACTIVATIONS)
    assert list(explorer.controls["init"].options) == list(INITS)
    assert explorer.controls["layers"].max == 12
    assert explorer.image in explorer.children and explorer.label in explorer.children
    assert explorer.image.value[:4] == b"\x89PNG"
    assert explorer.state["outputs"].shape == (64, 32)
    assert explorer.state["input_grad"].shape == (64, 32)


def test_sigmoid_gradient_vanishes_and_relu_does_not(explorer):
    c = explorer.controls
    c["init"].value, c["input_std"].value, c["layers"].value = "He", 1.0, 10
    c["activation"].value = "ReLU"
    relu = explorer.state
    assert relu["activation"] == "ReLU" and relu["n_layers"] == 10
    c["activation"].value = "sigmoid"
    sigmoid = explorer.state
    assert sigmoid["grad_rms"] < 1e-3 * relu["grad_rms"]
    assert 0.1 < relu["grad_rms"] < 10
    assert "sigmoid" in explorer.label.value and f"{sigmoid['grad_rms']:.3g}" in explorer.label.value


def test_more_layers_shrink_the_sigmoid_gradient_and_change_the_figure(explorer):
    c = explorer.controls
    c["activation"].value, c["init"].value, c["input_std"].value = "sigmoid", "He", 1.0
    c["layers"].value = 2
    shallow, image = explorer.state, explorer.image.value
    c["layers"].value = 10
    deep = explorer.state
    assert deep["n_layers"] == 10 and len(deep["layer_output_std"]) == 10
    assert len(deep["layer_grad_rms"]) == 11
    assert deep["grad_rms"] < 1e-2 * shallow["grad_rms"]
    assert explorer.image.value != image


def test_a_large_input_scale_saturates_tanh(explorer):
    c = explorer.controls
    c["activation"].value, c["layers"].value, c["init"].value = "tanh", 1, "He"
    c["input_std"].value = 0.2
    small = explorer.state
    c["input_std"].value = 5.0
    large = explorer.state
    saturated = lambda s: np.mean(np.abs(s["outputs"]) > 0.99)   # noqa: E731
    assert saturated(large) > 0.5 > saturated(small)
    assert large["grad_rms"] < small["grad_rms"]


def test_state_matches_a_direct_computation():
    rng = np.random.default_rng(2)
    weights, inputs, upstream = rng.standard_normal((3, 5, 5)), rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    stats = stack_statistics("tanh", 3, 0.5, "Xavier (Glorot)", weights=weights, inputs=inputs, upstream=upstream)
    Ws = weights * np.sqrt(1 / 5)
    h, zs = inputs * 0.5, []
    for W in Ws:
        zs.append(h @ W.T)
        h = np.tanh(zs[-1])
    g = upstream
    for W, z in zip(Ws[::-1], zs[::-1]):
        g = (g * (1 - np.tanh(z) ** 2)) @ W
    np.testing.assert_allclose(stats["outputs"], h)
    np.testing.assert_allclose(stats["input_grad"], g)
    np.testing.assert_allclose(stats["first_preactivations"], zs[0])
    assert stats["grad_rms"] == pytest.approx(np.sqrt(np.mean(g**2)))
    assert stats["layer_grad_rms"][-1] == pytest.approx(np.sqrt(np.mean(upstream**2)))


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_derivative_matches_central_differences(name):
    z = np.linspace(-3, 3, 61) + 1e-3
    f = lambda v: ACTIVATIONS[name]()(v)                         # noqa: E731
    numeric = (f(z + 1e-6) - f(z - 1e-6)) / 2e-6
    np.testing.assert_allclose(derivative(name, z), numeric, atol=1e-7)


def test_bad_arguments_are_clear_errors():
    arrays = dict(weights=np.zeros((2, 3, 3)), inputs=np.zeros((4, 3)), upstream=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="activation must be one of"):
        stack_statistics("swish", 1, **arrays)
    with pytest.raises(ValueError, match="init must be one of"):
        stack_statistics("tanh", 1, init="LeCun", **arrays)
    with pytest.raises(ValueError, match="between 1 and 2"):
        stack_statistics("tanh", 3, **arrays)


def test_static_plot_draws_three_labelled_panels():
    rng = np.random.default_rng(3)
    stats = stack_statistics("ReLU", 4, weights=rng.standard_normal((4, 8, 8)), inputs=rng.standard_normal((16, 8)),
                             upstream=rng.standard_normal((16, 8)))
    axes = plot_stack_statistics(stats)
    assert len(axes) == 3
    assert all(ax.get_xlabel() and ax.get_title() for ax in axes)
    assert "4 layer" in axes[1].get_title()


def test_explorer_uses_the_library_layers():
    assert ACTIVATIONS["ReLU"] is nn.ReLU and ACTIVATIONS["GELU"] is nn.GELU


def test_exploding_and_vanishing_gradients_are_flagged(explorer):
    c = explorer.controls
    c["init"].value, c["layers"].value, c["activation"].value = "He", 12, "sigmoid"
    c["input_std"].value = 1.0
    assert explorer.state["regime"] == "vanishing" and "VANISHING" in explorer.label.value
    c["activation"].value = "tanh"
    c["input_std"].value = c["input_std"].min                 # tanh near 0 is linear: He weights' gain wins
    s = explorer.state
    assert s["growth"] == pytest.approx(s["grad_rms"] / s["layer_grad_rms"][-1])
    assert s["growth_per_layer"] == pytest.approx(s["growth"] ** (1 / 12))
    assert s["growth_per_layer"] > 1 and s["regime"] in ("growing", "exploding")
    assert s["regime"].upper() in explorer.label.value or "growing" in explorer.label.value


def test_gradient_regime_thresholds():
    from dlcore.widgets.ch04 import gradient_regime

    assert [gradient_regime(g) for g in (1e-3, 0.3, 1.0, 3.0, 50.0, float("inf"))] == [
        "vanishing", "shrinking", "stable", "growing", "exploding", "exploding"]


@pytest.mark.parametrize("name", ["ReLU", "leaky ReLU"])
def test_input_scale_cannot_matter_for_homogeneous_activations_and_the_label_says_why(explorer, name):
    c = explorer.controls
    c["activation"].value, c["layers"].value, c["init"].value = name, 6, "He"
    c["input_std"].value = c["input_std"].min
    small = explorer.state
    c["input_std"].value = c["input_std"].max
    large = explorer.state
    np.testing.assert_allclose(large["input_grad"], small["input_grad"], rtol=1e-9, atol=1e-12)
    ratio = large["input_std"] / small["input_std"]
    assert large["output_std"] == pytest.approx(ratio * small["output_std"], rel=1e-9)
    assert "f(cz) = c f(z)" in explorer.label.value
    c["activation"].value = "tanh"
    assert "f(cz) = c f(z)" not in explorer.label.value


def test_every_control_at_its_extremes_gives_a_finite_state_and_a_picture(explorer):
    c = explorer.controls
    for name in ACTIVATIONS:
        for init in INITS:
            for layers in (c["layers"].min, c["layers"].max):
                for std in (c["input_std"].min, c["input_std"].max):
                    c["activation"].value, c["init"].value = name, init
                    c["layers"].value, c["input_std"].value = layers, std
                    s = explorer.state
                    assert np.isfinite(s["grad_rms"]) and np.isfinite(s["output_std"])
                    assert s["regime"] in ("vanishing", "shrinking", "stable", "growing", "exploding")
    assert explorer.image.value[:4] == b"\x89PNG"


def test_redraws_reuse_one_figure(explorer):
    c = explorer.controls
    c["activation"].value = "GELU"
    fig = explorer._axes[0].figure
    c["activation"].value = "tanh"
    assert explorer._axes[0].figure is fig and len(fig.axes) == 4      # no twin axes pile up
    assert explorer.image.value[:4] == b"\x89PNG"

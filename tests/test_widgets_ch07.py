"""The chapter 07 capacity explorer, driven headless: set the controls, read the state."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest

from dlcore.widgets import capacity_explorer
from dlcore.widgets.ch07 import CapacityExplorer, error_curves, poly_features, ridge_fit


def truth(x):
    return np.sin(3 * x)


@pytest.fixture(scope="module")
def data():
    """A small synthetic regression set: noisy samples of sin(3x) on [-1, 1]."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 20)
    xv = rng.uniform(-1, 1, 200)
    return x, truth(x) + 0.3 * rng.normal(size=20), xv, truth(xv) + 0.3 * rng.normal(size=200)


def test_explorer_is_a_widget_with_its_controls(data):
    explorer = capacity_explorer(*data, f_true=truth)
    assert isinstance(explorer, widgets.VBox)
    assert set(explorer.controls) == {"degree", "log10_lam", "n_train"}
    assert explorer.image in explorer.children
    assert explorer.image.value[:4] == b"\x89PNG"
    s = explorer.state
    assert s["degree"] == 3 and s["lam"] == 0.0 and s["n_train"] == 20
    assert s["coef"].shape == (4,)
    assert s["train_curve"].shape == s["val_curve"].shape == (16,)
    assert s["grid_x"].shape == s["fit_y"].shape


def test_raising_the_degree_overfits(data):
    explorer = capacity_explorer(*data)
    low = (explorer.state["train_mse"], explorer.state["val_mse"])
    label, image = explorer.label.value, explorer.image.value
    explorer.controls["degree"].value = 15
    s = explorer.state
    assert s["degree"] == 15 and s["coef"].shape == (16,)
    assert s["train_mse"] < low[0]                    # fits the training points better ...
    assert s["val_mse"] > 2 * low[1]                  # ... and new points much worse
    assert explorer.label.value != label and explorer.image.value != image
    assert s["train_mse"] == pytest.approx(s["train_curve"][15])
    assert s["val_mse"] == pytest.approx(s["val_curve"][15])


def test_l2_shrinks_the_gap_at_high_degree(data):
    explorer = capacity_explorer(*data, degree=15)
    gap = explorer.state["val_mse"] - explorer.state["train_mse"]
    norm = np.linalg.norm(explorer.state["coef"])
    explorer.controls["log10_lam"].value = -1.0
    s = explorer.state
    assert s["lam"] == pytest.approx(0.1)
    assert s["val_mse"] - s["train_mse"] < gap / 2
    assert np.linalg.norm(s["coef"]) < norm
    explorer.controls["log10_lam"].value = CapacityExplorer.NO_PENALTY
    assert explorer.state["lam"] == 0.0


def test_training_size_slider_uses_the_first_points(data):
    explorer = capacity_explorer(*data, degree=5)
    explorer.controls["n_train"].value = 8
    s = explorer.state
    assert s["n_train"] == 8
    x, y = data[0][:8], data[1][:8]
    np.testing.assert_allclose(s["coef"], ridge_fit(poly_features(x, 5), y, 0.0))
    big = capacity_explorer(*data, degree=5).state
    assert s["val_mse"] > big["val_mse"]                  # fewer points: worse on new data


def test_helpers_match_the_closed_form():
    rng = np.random.default_rng(1)
    Phi, y = rng.normal(size=(12, 4)), rng.normal(size=12)
    for lam in (0.0, 0.5, 10.0):
        expected = np.linalg.solve(Phi.T @ Phi + lam * np.eye(4), Phi.T @ y)
        np.testing.assert_allclose(ridge_fit(Phi, y, lam), expected, rtol=1e-9, atol=1e-12)
    x = np.linspace(-1, 1, 7)
    # Legendre features span the monomials: P2 = (3x^2 - 1) / 2.
    np.testing.assert_allclose(poly_features(x, 2)[:, 2], (3 * x**2 - 1) / 2)
    train, val = error_curves(x, x**2, x, x**2, [0, 2], 0.0)
    assert val[1] == pytest.approx(0.0, abs=1e-20) and train[0] > 0


def test_bad_input_raises_clear_errors(data):
    with pytest.raises(ValueError, match="same length"):
        capacity_explorer(data[0], data[1][:5], data[2], data[3])
    with pytest.raises(ValueError, match=r"shape \(n,\)"):
        capacity_explorer(data[0][:, None], data[1], data[2], data[3])
    with pytest.raises(ValueError, match="lam must be"):
        ridge_fit(np.eye(2), np.ones(2), -1.0)


def test_round_off_training_error_is_named_and_floored(data):
    explorer = capacity_explorer(*data, degree=19, max_degree=25)     # 20 parameters, 20 points
    s = explorer.state
    assert s["train_mse"] < 1e-20 and s["train_is_round_off"]
    assert "round-off" in explorer.label.value and "Interpolating" in explorer.label.value
    assert "interpolation threshold" in explorer.label.value
    explorer.controls["degree"].value = 25
    assert "minimum-norm" in explorer.label.value
    explorer.controls["log10_lam"].value = -2.0
    assert "Interpolating" not in explorer.label.value


def test_degree_ticks_are_integers_and_labels_fit(data):
    explorer = capacity_explorer(*data, max_degree=7)
    assert explorer.controls["log10_lam"].style.description_width == "150px"
    fig = explorer.figure()
    ax_err = fig.axes[1]
    fig.canvas.draw()
    ticks = [t for t in ax_err.get_xticks() if 0 <= t <= 7]
    assert ticks and np.allclose(ticks, np.round(ticks))
    lowest = min(line.get_ydata().min() for line in ax_err.get_lines() if len(line.get_ydata()) > 2)
    assert lowest >= explorer.state["floor"] * (1 - 1e-12)


def test_every_control_at_its_extremes(data):
    explorer = capacity_explorer(*data, max_degree=30)
    for key, control in explorer.controls.items():
        for value in (control.min, control.max):
            control.value = value
            s = explorer.state
            assert np.isfinite(s["val_mse"]) and explorer.image.value[:4] == b"\x89PNG"
            assert np.all(np.isfinite(s["val_curve"]))
        control.value = control.max if key == "n_train" else control.min


def test_tiny_penalised_error_is_not_called_round_off(data):
    """With lam > 0 a near-zero training error is a real residual, not round-off (review of issue 11)."""
    explorer = capacity_explorer(*data, degree=19, max_degree=25)
    explorer.controls["n_train"].value = 3
    explorer.controls["log10_lam"].value = -9.5             # the first position with a penalty
    s = explorer.state
    assert s["lam"] > 0 and s["train_is_round_off"]
    assert "round-off" not in explorer.label.value and "~0" in explorer.label.value
    explorer.controls["log10_lam"].value = explorer.NO_PENALTY
    assert "round-off" in explorer.label.value

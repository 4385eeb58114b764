"""The chapter 03 perceptron stepper, driven headless: click the buttons, read the state."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest

from dlcore.perceptron import Perceptron
from dlcore.widgets import perceptron_stepper
from dlcore.widgets.ch03 import draw_perceptron


def _separable(rng, n=30):
    X = rng.uniform(0, 3, size=(n, 2))
    y = (X @ np.array([1.0, 1.5]) - 4.0 > 0).astype(int)
    return X, y


XOR = (np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float), np.array([0, 1, 1, 0]))


@pytest.fixture
def data():
    return _separable(np.random.default_rng(0))


def test_stepper_is_a_widget_with_its_controls(data):
    stepper = perceptron_stepper({"separable": data, "xor": XOR})
    assert isinstance(stepper, widgets.VBox)
    assert set(stepper.controls) == {"dataset", "step", "step10", "reset"}
    assert isinstance(stepper.controls["step"], widgets.Button)
    assert list(stepper.controls["dataset"].options) == ["separable", "xor"]
    assert stepper.image.value[:4] == b"\x89PNG"
    s = stepper.state
    assert s["updates"] == 0 and s["last_index"] is None and not s["converged"]
    np.testing.assert_array_equal(s["weight"], [0.0, 0.0])
    # w = 0, b = 0 predicts 0 everywhere: exactly the class-1 points are wrong
    np.testing.assert_array_equal(s["misclassified"], np.flatnonzero(data[1] == 1))


def test_each_click_applies_one_update_in_the_order_of_perceptron_fit(data):
    X, y = data
    reference = Perceptron(2).fit(X, y)
    stepper = perceptron_stepper(data)
    image = stepper.image.value
    for k, update in enumerate(reference.history[:8], start=1):
        stepper.controls["step"].click()
        assert stepper.state["updates"] == k
        assert stepper.state["last_index"] == update.index
        np.testing.assert_allclose(stepper.state["weight"], update.weight)
        assert stepper.state["bias"] == pytest.approx(update.bias)
        wrong = np.flatnonzero((X @ update.weight + update.bias > 0).astype(int) != y)
        np.testing.assert_array_equal(stepper.state["misclassified"], wrong)
    assert stepper.image.value != image
    assert f"<b>{8}</b> update(s)" in stepper.label.value


def test_it_converges_on_separable_data_and_stops_updating(data):
    X, y = data
    reference = Perceptron(2).fit(X, y)
    stepper = perceptron_stepper(data)
    while not stepper.state["converged"]:
        stepper.controls["step10"].click()
    assert stepper.state["updates"] == len(reference.history)
    assert stepper.state["accuracy"] == 1.0 and len(stepper.state["misclassified"]) == 0
    np.testing.assert_allclose(stepper.state["weight"], reference.weight)
    stepper.controls["step"].click()                 # nothing left to fix
    assert stepper.state["updates"] == len(reference.history)
    assert "converged" in stepper.label.value


def test_xor_never_converges_and_never_beats_75_percent():
    stepper = perceptron_stepper({"xor": XOR})
    accuracies = []
    for _ in range(12):
        stepper.step()
        accuracies.append(stepper.state["accuracy"])
    stepper.step(50)
    accuracies.append(stepper.state["accuracy"])
    assert stepper.state["updates"] == 62 and not stepper.state["converged"]
    assert max(accuracies) <= 0.75


def test_reset_and_dataset_choice_start_again(data):
    stepper = perceptron_stepper({"separable": data, "xor": XOR}, lr=0.5)
    stepper.step(3)
    assert stepper.state["updates"] == 3
    stepper.controls["reset"].click()
    assert stepper.state["updates"] == 0 and np.all(stepper.state["weight"] == 0)
    stepper.step(2)
    stepper.controls["dataset"].value = "xor"
    assert stepper.state["dataset"] == "xor" and stepper.state["updates"] == 0
    stepper.step()
    # first XOR mistake at w = 0: the point (0, 1) of class 1, so w = 0.5 * (0, 1), b = 0.5
    np.testing.assert_allclose(stepper.state["weight"], [0.0, 0.5])
    assert stepper.state["bias"] == 0.5 and stepper.state["last_index"] == 1


@pytest.mark.parametrize("bad, words", [
    ((np.zeros((4, 3)), np.zeros(4)), "shape (N, 2)"),
    ((np.zeros((4, 2)), np.zeros(3)), "y of shape (4,)"),
    ((np.zeros((4, 2)), np.array([0, 1, 2, 1])), "labels 0 or 1"),
    ((np.full((2, 2), np.nan), np.zeros(2)), "NaN"),
])
def test_bad_data_is_a_clear_error(bad, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        perceptron_stepper({"bad": bad})


def test_draw_perceptron_draws_boundary_and_rings_mistakes(data):
    from matplotlib.figure import Figure

    X, y = data
    ax = Figure().add_subplot()
    draw_perceptron(ax, X, y, np.array([1.0, 1.5]), -4.0, highlight=0)
    labels = [h.get_label() for h in ax.collections]
    assert "misclassified" not in labels and "last update" in labels   # the true line makes no mistake
    ax = Figure().add_subplot()
    draw_perceptron(ax, X, y, np.array([1.0, 0.0]), -1.0)
    assert "misclassified" in [h.get_label() for h in ax.collections]


def test_data_that_w_zero_already_classifies_count_as_converged_at_once():
    # All labels 0: at w = 0, b = 0 every score is 0, so every prediction (0) is right and the
    # rule has no update to make. The explorer says so instead of inviting a first update.
    X = np.random.default_rng(0).uniform(0, 3, (20, 2))
    stepper = perceptron_stepper((X, np.zeros(20, dtype=int)))
    assert stepper.state["updates"] == 0 and stepper.state["converged"]
    assert "converged" in stepper.label.value
    stepper.step(5)
    assert stepper.state["updates"] == 0 and stepper.state["converged"]


def test_xor_never_converges_however_many_steps():
    from dlcore.data import make_xor

    xor = make_xor(n_samples=40, noise=0.05, seed=0)
    stepper = perceptron_stepper((xor.X, xor.y))
    stepper.step(3000)
    assert stepper.state["updates"] == 3000 and not stepper.state["converged"]
    assert len(stepper.state["misclassified"]) > 0

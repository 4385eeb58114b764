"""The chapter 05 playground, driven headless: set the controls, read the state."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest

from dlcore import nn
from dlcore.widgets import playground_explorer
from dlcore.widgets.ch05 import (
    ACTIVATIONS,
    DATASETS,
    decision_image,
    make_mlp,
    plot_decision_regions,
    predict_proba,
    train_mlp,
)


@pytest.fixture(scope="module")
def playground():
    return playground_explorer(n_samples=120, epochs=60, live=False, resolution=30, rng=np.random.default_rng(1))


def test_playground_is_a_widget_with_its_controls(playground):
    assert isinstance(playground, widgets.VBox)
    assert set(playground.controls) == {"dataset", "activation", "width", "depth", "lr", "epochs", "reinit"}
    assert list(playground.controls["dataset"].options) == list(DATASETS)
    assert list(playground.controls["activation"].options) == list(ACTIVATIONS)
    assert playground.image.value[:4] == b"\x89PNG"
    s = playground.state
    assert s["dataset"] == "moons" and len(s["train_loss"]) == 60 and len(s["test_loss"]) == 60
    assert s["probabilities"].shape == (30, 30, 2)
    assert np.allclose(s["probabilities"].sum(axis=2), 1)
    for X_train, y_train, X_test, y_test in playground.data.values():
        assert X_train.shape[1] == 2 and len(X_train) == len(y_train) and len(X_test) == len(y_test)
        assert len(X_train) + len(X_test) == 120


def test_training_lowers_the_loss_and_fits_moons(playground):
    s = playground.state
    assert s["train_loss"][-1] < 0.5 * s["train_loss"][0]
    assert s["train_accuracy"] > 0.9 and s["test_accuracy"] > 0.85
    assert f"{s['test_accuracy']:.1%}" in playground.label.value


def test_changing_the_dataset_retrains_and_redraws(playground):
    c = playground.controls
    c["dataset"].value = "moons"
    before = (playground.image.value, playground.state["probabilities"])
    c["dataset"].value = "spirals"
    s = playground.state
    assert s["dataset"] == "spirals"
    assert s["probabilities"].shape == (30, 30, 3)                 # three spiral arms, three classes
    assert playground.image.value != before[0]
    c["dataset"].value = "moons"


def test_a_hidden_layer_is_needed_for_circles(playground):
    c = playground.controls
    c["dataset"].value = "circles"
    c["depth"].value = 0
    linear = playground.state["test_accuracy"]
    c["depth"].value, c["width"].value, c["epochs"].value = 2, 8, 100
    deep = playground.state
    assert deep["depth"] == 2 and deep["n_parameters"] == (2 * 8 + 8) + (8 * 8 + 8) + (8 * 2 + 2)
    assert linear < 0.75 < deep["test_accuracy"]
    c["dataset"].value, c["epochs"].value = "moons", 60


def test_reinit_button_draws_a_new_start(playground):
    c = playground.controls
    first = playground.state["train_loss"][0]
    c["reinit"].click()
    assert playground.state["train_loss"][0] != first


def test_a_huge_learning_rate_is_reported_not_raised():
    play = playground_explorer(n_samples=60, epochs=20, live=False, resolution=10, lr=1.0,
                               rng=np.random.default_rng(2))
    play.controls["activation"].value = "ReLU"
    play.controls["lr"].value = 1.0
    assert np.isfinite(play.state["train_loss"]).all() or play.state["diverged"]
    assert "Epoch" in play.label.value


def test_live_mode_redraws_while_training():
    play = playground_explorer(n_samples=60, epochs=30, live=True, resolution=10, rng=np.random.default_rng(3))
    assert play.state["redraws"] >= 3


def test_train_mlp_reports_divergence_instead_of_raising():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((20, 2))
    X[3, 0] = np.inf                                                 # one bad value in the data
    y = (X[:, 0] > 0).astype(np.int64)
    net = make_mlp(2, 2, 4, 1, "ReLU", generator=rng)
    with np.errstate(invalid="ignore"):
        history = train_mlp(net, X, y, lr=0.1, epochs=3, generator=rng)
    assert history["diverged"] is True


def test_make_mlp_shapes_and_errors():
    rng = np.random.default_rng(5)
    net = make_mlp(2, 3, 5, 2, "GELU", generator=rng)
    assert isinstance(net, nn.Sequential) and len(net) == 5
    assert net(np.zeros((4, 2))).shape == (4, 3)
    assert len(make_mlp(2, 2, 5, 0, generator=rng)) == 1                 # depth 0: a linear model
    probs = predict_proba(net, rng.standard_normal((7, 2)))
    assert probs.shape == (7, 3) and np.allclose(probs.sum(axis=1), 1)
    with pytest.raises(ValueError, match="activation must be one of"):
        make_mlp(2, 2, 5, 1, "swish", generator=rng)
    with pytest.raises(ValueError, match="depth >= 0"):
        make_mlp(2, 2, 5, -1, generator=rng)


def test_decision_image_and_plot():
    from matplotlib.figure import Figure

    rng = np.random.default_rng(6)
    net = make_mlp(2, 2, 4, 1, generator=rng)
    probs, rgb = decision_image(net, (-1, 1, -2, 2), 2, resolution=12)
    assert probs.shape == (12, 12, 2) and rgb.shape == (12, 12, 3)
    assert rgb.min() >= 0 and rgb.max() <= 1
    ax = Figure().add_subplot()
    X, y = rng.standard_normal((10, 2)), np.arange(10) % 2
    out = plot_decision_regions(ax, net, X, y, resolution=12, title="t")
    assert out.shape == (12, 12, 2) and ax.get_xlabel() and ax.get_title() == "t"


def test_training_status_flags_divergence_and_chance_level():
    from dlcore.widgets.ch05 import training_status

    assert training_status([0.7, 0.3, 0.1], 2)[0] == "ok"
    assert training_status([3.0, 11920.0], 2)[0] == "diverged"               # the reviewer's lr = 1 run
    assert "diverged" in training_status([3.0, 11920.0], 2)[1]
    assert training_status([3.0, 0.70], 2)[0] == "chance"                    # ln 2 = 0.693
    assert training_status([1.0, float("nan")], 3)[0] == "diverged"
    assert training_status([0.5], 2, stopped=True)[0] == "diverged"


def test_learning_rate_one_is_flagged_when_it_fails():
    play = playground_explorer(n_samples=120, epochs=60, live=False, resolution=10, rng=np.random.default_rng(1))
    flagged = 0
    for name in DATASETS:
        play.controls["dataset"].value = name
        play.controls["lr"].value = 1.0
        s = play.state
        chance = np.log(s["n_classes"])
        if s["train_loss"][-1] > 0.9 * chance or not np.isfinite(s["train_loss"][-1]):
            assert s["status"] in ("chance", "diverged")
            assert "diverged" in play.label.value or "stuck at chance" in play.label.value
            flagged += 1
        else:
            assert s["status"] == "ok"
        play.controls["lr"].value = 0.03
        assert play.state["status"] == "ok" or name == "xor"
    assert flagged >= 2


def test_the_label_names_a_linear_model_and_the_width_control_follows_depth(playground):
    c = playground.controls
    c["depth"].value = 0
    assert "a linear model (no hidden layer)" in playground.label.value
    assert "0 hidden layer" not in playground.label.value and c["width"].disabled
    c["depth"].value, c["width"].value = 1, 8
    assert "1 hidden layer of 8 tanh units" in playground.label.value and not c["width"].disabled
    c["depth"].value = 2
    assert "2 hidden layers of 8" in playground.label.value


def test_controls_at_their_extremes_never_raise():
    play = playground_explorer(n_samples=60, epochs=10, live=False, resolution=8, rng=np.random.default_rng(7))
    c = play.controls
    for lr in (c["lr"].min, c["lr"].max):
        for depth in (c["depth"].min, c["depth"].max):
            for width in (c["width"].min, c["width"].max):
                c["lr"].value, c["depth"].value, c["width"].value = 10.0**lr, depth, width
                assert play.state["status"] in ("ok", "chance", "diverged")
                assert play.image.value[:4] == b"\x89PNG"


def test_a_network_at_majority_accuracy_is_flagged_even_with_a_moderate_loss():
    from dlcore.widgets.ch05 import training_status

    status, note = training_status([0.9, 0.5], 2, train_accuracy=0.5, majority=0.5)
    assert status == "chance" and "most common class" in note
    assert training_status([0.9, 0.5], 2, train_accuracy=0.8, majority=0.5)[0] == "ok"

"""The chapter 01 explorer, driven headless: set the slider, read the state."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest

from dlcore.widgets import learning_curve_explorer
from dlcore.widgets.ch01 import balanced_order, closest_template, templates_from


def _toy_data(rng, n_per_class=12, noise=0.6):
    """Three classes of 2x2 'images', each a noisy copy of its own prototype."""
    prototypes = np.array([[[1, 0], [0, 0]], [[0, 1], [1, 0]], [[0, 0], [0, 1]]], dtype=float)
    y = np.repeat(np.arange(3), n_per_class)
    X = prototypes[y] + noise * rng.random((len(y), 2, 2))
    return X[:, None], y                                  # NCHW: (N, 1, 2, 2)


@pytest.fixture(scope="module")
def digits_split():
    from dlcore.data import load_digits

    data = load_digits(verbose=False)
    perm = np.random.default_rng(0).permutation(len(data.y))
    test, train = perm[:300], perm[300:]
    return data.X[train], data.y[train], data.X[test], data.y[test]


def test_explorer_is_a_widget_with_its_controls(digits_split):
    explorer = learning_curve_explorer(*digits_split, rng=np.random.default_rng(1))
    assert isinstance(explorer, widgets.VBox)
    assert isinstance(explorer.slider, widgets.IntSlider)
    assert explorer.slider in explorer.children[0].children and explorer.image in explorer.children
    assert isinstance(explorer.reshuffle, widgets.Button) and explorer.reshuffle in explorer.children[0].children
    assert explorer.slider.min == 1 and explorer.slider.value == 1
    assert explorer.slider.max == np.bincount(digits_split[1]).min()
    assert explorer.templates.shape == (10, 8, 8)
    assert explorer.image.value[:4] == b"\x89PNG"


def test_moving_the_slider_updates_accuracy_label_and_figure(digits_split):
    explorer = learning_curve_explorer(*digits_split, rng=np.random.default_rng(1))
    before = (explorer.accuracy, explorer.label.value, explorer.image.value)
    explorer.slider.value = 50
    assert explorer.per_class == 50
    assert explorer.accuracy > before[0] + 0.1          # 50 examples per class beat 1
    assert explorer.accuracy > 0.8
    assert "<b>50</b>" in explorer.label.value and f"{explorer.accuracy:.1%}" in explorer.label.value
    assert explorer.label.value != before[1]
    assert explorer.image.value != before[2]
    assert explorer.accuracy == pytest.approx(explorer.curve[50 - 1])


def test_state_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    X, y = _toy_data(rng)
    Xt, yt = _toy_data(rng, n_per_class=5)
    explorer = learning_curve_explorer(X, y, Xt, yt, rng=np.random.default_rng(3), per_class=4, orders=1)
    order = balanced_order(y, np.random.default_rng(3))
    rows = order[:12]
    assert np.bincount(y[rows]).tolist() == [4, 4, 4]
    templates = templates_from(X.reshape(len(X), -1)[rows], y[rows], 3)
    expected = np.mean(closest_template(Xt.reshape(len(Xt), -1), templates) == yt)
    assert explorer.accuracy == pytest.approx(expected)
    np.testing.assert_allclose(explorer.templates, templates.reshape(3, 2, 2))


def test_balanced_order_prefixes_have_one_of_each_class():
    y = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    order = balanced_order(y, np.random.default_rng(0))
    assert sorted(order.tolist()) == list(range(len(y)))
    assert sorted(y[order[:3]].tolist()) == [0, 1, 2]
    assert sorted(y[order[3:6]].tolist()) == [0, 1, 2]


def test_closest_template_ignores_brightness():
    templates = np.array([[1.0, 0.0], [0.0, 1.0]])
    X = np.array([[5.0, 1.0], [0.1, 0.3]])             # bright class 0, faint class 1
    assert closest_template(X, templates).tolist() == [0, 1]


def test_a_missing_class_is_reported():
    X = np.zeros((4, 1, 2, 2)) + 0.5
    with pytest.raises(ValueError, match="at least one training example"):
        learning_curve_explorer(X, np.array([0, 0, 2, 2]), X, np.array([0, 1, 2, 0]))


def test_flat_square_images_are_shown_as_squares(digits_split):
    X_train, y_train, X_test, y_test = digits_split
    flat = learning_curve_explorer(X_train.reshape(len(X_train), -1), y_train,
                                   X_test.reshape(len(X_test), -1), y_test)
    assert flat.templates.shape == (10, 8, 8)


def test_colour_images_are_refused():
    X = np.zeros((4, 3, 2, 2))
    with pytest.raises(ValueError, match="grey images"):
        learning_curve_explorer(X, np.array([0, 1, 0, 1]), X, np.array([0, 1, 0, 1]))


def test_reshuffle_draws_a_new_order_and_the_spread_covers_every_order(digits_split):
    explorer = learning_curve_explorer(*digits_split, rng=np.random.default_rng(1), per_class=2)
    assert explorer.curves.shape == (5, explorer.slider.max)
    low, high = explorer.spread
    column = explorer.curves[:, 1]
    assert (low, high) == (column.min(), column.max()) and low <= explorer.accuracy <= high
    assert high - low > 0.02                      # two examples per class: the draw matters
    assert "ranges from" in explorer.label.value and f"{low:.1%}" in explorer.label.value
    before = (explorer.accuracy, explorer.image.value, explorer.curve.copy())
    explorer.reshuffle.click()
    assert explorer.curves.shape[0] == 6
    assert not np.array_equal(explorer.curve, before[2])
    assert explorer.image.value != before[1]
    assert explorer.accuracy == pytest.approx(explorer.curve[1])


def test_slider_extremes_and_many_reshuffles(digits_split):
    explorer = learning_curve_explorer(*digits_split, rng=np.random.default_rng(2), max_orders=6)
    explorer.slider.value = explorer.slider.min
    assert explorer.per_class == 1 and 0.3 < explorer.accuracy < 0.95
    explorer.slider.value = explorer.slider.max
    assert explorer.per_class == explorer.slider.max and explorer.accuracy > 0.85
    low, high = explorer.spread
    assert high - low < 0.03                      # with every example, the order hardly matters
    for _ in range(3):
        explorer.shuffle()
    assert explorer.curves.shape[0] == 6          # capped: no silent growth
    assert "held-out" in explorer.label.value and "validation accuracy" in explorer.label.value


def test_bad_orders_are_refused():
    X = np.zeros((4, 1, 2, 2)) + 0.5
    y = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="orders"):
        learning_curve_explorer(X, y, X, y, orders=0)


def test_fast_curve_matches_the_direct_computation(digits_split):
    explorer = learning_curve_explorer(*digits_split, rng=np.random.default_rng(4), orders=2)
    direct = [explorer._evaluate(explorer._orders[-1], k)[0] for k in range(1, explorer.slider.max + 1)]
    np.testing.assert_allclose(explorer.curve, direct)

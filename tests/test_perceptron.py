"""Rosenblatt's perceptron (chapter 03)."""

import numpy as np
import pytest

from dlcore.perceptron import Perceptron

AND_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
AND_Y = np.array([0, 0, 0, 1])


def test_learns_and():
    p = Perceptron(2).fit(AND_X, AND_Y)
    np.testing.assert_array_equal(p.predict(AND_X), AND_Y)
    assert p.mistakes[-1] == 0 and len(p.mistakes) < 100


def test_first_updates_follow_the_rule_by_hand():
    p = Perceptron(2, lr=1.0).fit(AND_X, AND_Y, max_epochs=1)
    # With w = 0 and b = 0, w.x + b = 0 is not > 0, so samples 0-2 are predicted 0: right.
    # Sample 3 is the first mistake (wants 1): w = [0, 0] + [1, 1], b = 0 + 1.
    first = p.history[0]
    assert (first.epoch, first.index) == (0, 3)
    np.testing.assert_array_equal(first.weight, [1.0, 1.0])
    assert first.bias == 1.0


def test_history_has_one_record_per_update():
    p = Perceptron(2).fit(AND_X, AND_Y)
    assert len(p.history) == sum(p.mistakes)
    np.testing.assert_array_equal(p.history[-1].weight, p.weight)
    assert p.history[-1].bias == p.bias


def test_converges_on_separable_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 > 0).astype(int)
    p = Perceptron(3, lr=0.5).fit(X, y, max_epochs=1000)
    assert p.mistakes[-1] == 0
    np.testing.assert_array_equal(p.predict(X), y)


def test_never_settles_on_xor():
    p = Perceptron(2).fit(AND_X, np.array([0, 1, 1, 0]), max_epochs=50)
    assert len(p.mistakes) == 50 and min(p.mistakes) > 0


def test_bad_input():
    p = Perceptron(2)
    with pytest.raises(ValueError, match=r"expected X of shape \(N, 2\), got \(4, 3\)"):
        p.fit(np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match=r"labels 0 or 1"):
        p.fit(AND_X, np.array([0, 1, 2, 1]))
    with pytest.raises(ValueError, match=r"expected y of shape \(4,\), got \(3,\)"):
        p.fit(AND_X, np.zeros(3))
    with pytest.raises(ValueError, match="NaN or inf"):
        p.predict(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="positive integer"):
        Perceptron(0)
    with pytest.raises(ValueError, match="lr must be positive"):
        Perceptron(2, lr=0)

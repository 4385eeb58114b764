"""Synthetic 2-D sets: dlcore/data/synthetic.py."""

from __future__ import annotations

import numpy as np
import pytest

from dlcore.data import make_circles, make_moons, make_spirals, make_xor

GENERATORS = [make_moons, make_circles, make_spirals, make_xor]


@pytest.mark.parametrize("make", GENERATORS)
def test_shapes_labels_and_honest_names(make, capsys):
    ds = make(120, seed=3)
    n_classes = 3 if make is make_spirals else 2
    assert ds.X.shape == (120, 2) and ds.X.dtype == np.float64
    assert ds.y.shape == (120,) and ds.y.dtype == np.int64
    assert set(ds.y.tolist()) == set(range(n_classes)) and len(ds.classes) == n_classes
    assert ds.name.startswith("synthetic") and "seed=3" in ds.source and "not a real dataset" in ds.message
    assert capsys.readouterr().out == "", "generators are quiet unless verbose=True"
    assert make(10, seed=0, verbose=True).message in capsys.readouterr().out


@pytest.mark.parametrize("make", GENERATORS)
def test_seed_reproducibility_and_generator_input(make):
    a, b, c = make(seed=1), make(seed=1), make(seed=2)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)
    rng = np.random.default_rng(1)
    assert make(seed=rng, dtype=np.float32).X.dtype == np.float32
    assert len(set(a.y[:20].tolist())) > 1, "classes are shuffled, not in blocks"


def test_noise_free_geometry():
    moons = make_moons(100, noise=0.0)
    upper = moons.X[moons.y == 0]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0)
    assert upper[:, 1].min() >= -1e-12
    lower = moons.X[moons.y == 1]
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0)

    circles = make_circles(100, noise=0.0, factor=0.3)
    radius = np.hypot(*circles.X.T)
    np.testing.assert_allclose(radius[circles.y == 0], 1.0)
    np.testing.assert_allclose(radius[circles.y == 1], 0.3)

    xor = make_xor(400, noise=0.0)
    np.testing.assert_array_equal(xor.y, (xor.X[:, 0] * xor.X[:, 1] < 0).astype(int))

    spirals = make_spirals(400, n_classes=4, noise=0.0)
    assert np.bincount(spirals.y).tolist() == [100] * 4
    assert np.hypot(*spirals.X.T).max() <= 1.0 + 1e-12


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="n_samples must be an integer"):
        make_moons(1)
    with pytest.raises(ValueError, match="factor"):
        make_circles(factor=1.5)
    with pytest.raises(ValueError, match="n_classes must be at least 2"):
        make_spirals(n_classes=1)
    with pytest.raises(TypeError, match="seed must be an int"):
        make_xor(seed="zero")

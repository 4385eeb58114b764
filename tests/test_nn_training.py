"""Training end to end (chapters 06-08): the pieces fit together; NaN never passes silently."""

import numpy as np
import pytest

import dlcore.nn as nn
import dlcore.optim as optim


def blobs(n=200, seed=0):
    """Three Gaussian clusters in 2-D: X (n, 2) float32, y (n,) labels 0..2."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    y = rng.integers(0, 3, size=n)
    X = centres[y] + rng.standard_normal((n, 2))
    return X.astype(np.float32), y


def train(net, optimizer, X, y, epochs, batch=32, scheduler=None):
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        for i in range(0, len(X), batch):
            optimizer.zero_grad()
            loss = loss_fn(net(X[i : i + batch]), y[i : i + batch])
            net.backward(loss_fn.backward())
            optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return loss


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda p: optim.Adam(p, lr=0.01),
        lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4),
    ],
)
def test_mlp_learns_blobs(make_optimizer):
    X, y = blobs()
    g = np.random.default_rng(0)
    net = nn.Sequential(
        nn.Linear(2, 16, generator=g), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.1, generator=g), nn.Linear(16, 3, generator=g)
    )
    net[0].needs_input_grad = False
    optimizer = make_optimizer(net.parameters())
    loss = train(net, optimizer, X, y, epochs=15, scheduler=optim.lr_scheduler.StepLR(optimizer, 10, 0.5))
    assert loss.dtype == np.float32
    assert all(p.dtype == np.float32 for p in net.parameters())
    accuracy = np.mean(net.eval()(X).argmax(axis=1) == y)
    assert accuracy > 0.95


def test_small_cnn_reduces_its_loss():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 1, 6, 6)).astype(np.float32)
    y = (X[:, 0, :3].sum(axis=(1, 2)) > X[:, 0, 3:].sum(axis=(1, 2))).astype(int)  # top half brighter?
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, generator=rng), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 2, generator=rng)
    )
    loss_fn = nn.CrossEntropyLoss()
    first = loss_fn(net(X), y)
    train(net, optim.Adam(net.parameters(), lr=0.01), X, y, epochs=30, batch=16)
    assert loss_fn(net(X), y) < 0.5 * first


def test_nan_in_the_data_stops_the_step_with_a_clear_error():
    X, y = blobs()
    X[5, 1] = np.nan
    net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))
    before = net.state_dict()
    with pytest.raises(FloatingPointError, match=r"prediction containing NaN or inf \(3 of 96 values\).*np.isnan"):
        train(net, optim.SGD(net.parameters(), lr=0.1), X, y, epochs=1)
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[name])  # the model is not NaN


def test_divergence_is_reported_instead_of_a_nan_model():
    X, y = blobs()
    X *= 1e3
    net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(FloatingPointError, match="NaN or inf"):
        train(net, optim.SGD(net.parameters(), lr=1e6), X, y, epochs=50)
    assert all(np.isfinite(p.data).all() for p in net.parameters())

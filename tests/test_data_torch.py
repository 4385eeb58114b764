"""PyTorch wrappers: dlcore/torch/data.py (Part II). Network blocked, offline MNIST fallback."""

from __future__ import annotations

import socket

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlcore.data import download, load_digits, make_moons  # noqa: E402
from dlcore.torch.data import make_loader, to_tensor_dataset, train_val_test_loaders  # noqa: E402


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    def refuse(sock, address):
        raise OSError(f"network blocked in tests: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("DLCORE_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("DLCORE_OFFLINE", "1")
    download.reset_network_cache()


def test_to_tensor_dataset_dtypes_and_metadata():
    ds = to_tensor_dataset(load_digits(verbose=False))
    X, y = ds.tensors
    assert X.shape == (1797, 1, 8, 8) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert ds.classes == tuple("0123456789") and "scikit-learn" in ds.source
    moons = to_tensor_dataset(make_moons(50).X, make_moons(50).y)
    assert moons.tensors[0].dtype == torch.float64 and len(moons) == 50
    with pytest.raises(ValueError, match="same length"):
        to_tensor_dataset(np.zeros((3, 2)), np.zeros(4))


def test_make_loader_is_seeded():
    ds = load_digits(verbose=False)
    first = [yb for _, yb in make_loader(ds, batch_size=100, shuffle=True, seed=4)]
    again = [yb for _, yb in make_loader(ds, batch_size=100, shuffle=True, seed=4)]
    other = [yb for _, yb in make_loader(ds, batch_size=100, shuffle=True, seed=5)]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(torch.cat(first), torch.cat(other))


def test_train_val_test_loaders_on_offline_mnist(capsys):
    train, val, test = train_val_test_loaders(batch_size=128, val_fraction=0.1, seed=0)
    assert "offline fallback" in capsys.readouterr().out
    assert (len(train.dataset), len(val.dataset), len(test.dataset)) == (3600, 400, 1000)
    xb, yb = next(iter(train))
    assert xb.shape == (128, 1, 28, 28) and xb.dtype == torch.float32 and yb.dtype == torch.int64
    assert 0 <= xb.min() and xb.max() <= 1
    assert torch.bincount(val.dataset.tensors[1]).tolist() == [40] * 10

"""PyTorch wrappers: dlcore/torch/data.py (Part II). Network blocked, offline MNIST fallback."""

from __future__ import annotations

import re
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


@pytest.mark.parametrize("labels, shown", [
    ([0.5, 1.9], "y[0]=0.5, y[1]=1.9"),
    ([0.0, float("nan")], "y[1]=nan"),
    ([1.0, float("inf")], "y[1]=inf"),
])
def test_non_integral_labels_are_refused_not_truncated(labels, shown):
    with pytest.raises(ValueError, match=r"labels must be whole numbers.*" + re.escape(shown)):
        to_tensor_dataset(np.zeros((2, 3)), np.array(labels))


def test_integral_float_labels_are_accepted():
    ds = to_tensor_dataset(np.zeros((3, 2)), np.array([1.0, 0.0, 2.0]))
    assert ds.tensors[1].tolist() == [1, 0, 2] and ds.tensors[1].dtype == torch.int64
    with pytest.raises(ValueError, match="labels must be integer class indices, got dtype <U1"):
        to_tensor_dataset(np.zeros((2, 2)), np.array(["a", "b"]))


def test_loader_settings_cpu_and_cuda(monkeypatch):
    from dlcore.torch.data import loader_settings

    monkeypatch.delenv("DLCORE_DEVICE", raising=False)
    assert loader_settings("cpu") == {"pin_memory": False, "num_workers": 0}
    cuda = loader_settings("cuda")
    assert cuda["pin_memory"] is True and 1 <= cuda["num_workers"] <= 2
    loader = make_loader(load_digits(verbose=False), batch_size=10, device="cpu")
    assert loader.num_workers == 0 and loader.pin_memory is False


def test_v2_transform_augments_each_image():
    from torchvision.transforms import v2

    from dlcore.torch.data import TransformDataset

    digits = to_tensor_dataset(load_digits(verbose=False))
    flipped = TransformDataset(digits, v2.RandomHorizontalFlip(p=1.0))
    x, y = flipped[0]
    assert torch.equal(x, digits[0][0].flip(-1)) and y == digits[0][1]
    assert len(flipped) == len(digits) and flipped.classes == digits.classes

    crop = v2.Compose([v2.RandomCrop(8, padding=2), v2.RandomHorizontalFlip()])
    torch.manual_seed(0)
    first = next(iter(make_loader(digits, batch_size=64, shuffle=True, transform=crop)))[0]
    torch.manual_seed(0)
    again = next(iter(make_loader(digits, batch_size=64, shuffle=True, transform=crop)))[0]
    plain = next(iter(make_loader(digits, batch_size=64, shuffle=True)))[0]
    assert first.shape == plain.shape == (64, 1, 8, 8)
    assert torch.equal(first, again) and not torch.equal(first, plain)
    with pytest.raises(TypeError, match="transform must be callable"):
        TransformDataset(digits, "flip")


def test_train_transform_applies_to_the_training_split_only():
    from torchvision.transforms import v2

    train, val, test = train_val_test_loaders(batch_size=128, train_transform=v2.RandomHorizontalFlip(p=1.0))
    x, _ = train.dataset[0]
    raw, _ = train.dataset.data[0]
    assert torch.equal(x, raw.flip(-1))
    assert isinstance(val.dataset, torch.utils.data.TensorDataset)
    assert isinstance(test.dataset, torch.utils.data.TensorDataset)

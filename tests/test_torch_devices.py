"""dlcore/torch/devices.py: device choice, seeds, the AMP dtype rule and the step cap."""

from __future__ import annotations

import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dlcore.torch import amp_dtype, capped, device, max_steps, seed_everything  # noqa: E402


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.delenv("DLCORE_DEVICE", raising=False)
    monkeypatch.delenv("DLCORE_MAX_STEPS", raising=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_device_is_cpu_here():
    assert device() == torch.device("cpu")
    assert isinstance(device(), torch.device)


def test_device_order_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert device() == torch.device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert device() == torch.device("cpu")


def test_environment_overrides(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("DLCORE_DEVICE", "CPU")
    assert device() == torch.device("cpu")
    assert device(prefer="cuda") == torch.device("cpu")  # the environment wins over prefer
    monkeypatch.delenv("DLCORE_DEVICE")
    assert device(prefer="cpu") == torch.device("cpu")


@pytest.mark.parametrize("value, message", [
    ("banana", r"DLCORE_DEVICE='banana' is not a device; expected 'cpu', 'cuda', 'cuda:N' or 'mps'"),
    ("cuda:", r"is not a device"),
    ("meta", r"supports 'cpu', 'cuda' and 'mps', not 'meta'"),
])
def test_bad_device_names(monkeypatch, value, message):
    monkeypatch.setenv("DLCORE_DEVICE", value)
    with pytest.raises(ValueError, match=message):
        device()


def test_unavailable_devices(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setenv("DLCORE_DEVICE", "cuda")
    with pytest.raises(ValueError, match="torch sees no CUDA GPU here"):
        device()
    monkeypatch.setenv("DLCORE_DEVICE", "mps")
    with pytest.raises(ValueError, match="MPS, which is not available"):
        device()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("DLCORE_DEVICE", "cuda:1")
    with pytest.raises(ValueError, match=r"GPU 1, but only 1 GPU\(s\) exist"):
        device()


@pytest.mark.parametrize("capability, expected", [((7, 5), torch.float16), ((7, 0), torch.float16),
                                                  ((8, 0), torch.bfloat16), ((8, 6), torch.bfloat16),
                                                  ((9, 0), torch.bfloat16)])
def test_amp_dtype_follows_compute_capability_not_is_bf16_supported(monkeypatch, capability, expected):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda dev=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # what a T4 says
    assert amp_dtype(torch.device("cuda")) is expected
    assert amp_dtype("cuda:0") is expected


def test_no_amp_off_cuda():
    assert amp_dtype("cpu") is None
    assert amp_dtype(torch.device("mps")) is None


def test_seed_everything_seeds_python_numpy_and_torch():
    seed_everything(3)
    first = (random.random(), np.random.rand(), torch.rand(2).tolist())  # noqa: NPY002 (the global one)
    seed_everything(3)
    assert (random.random(), np.random.rand(), torch.rand(2).tolist()) == first  # noqa: NPY002
    seed_everything(4)
    assert torch.rand(2).tolist() != first[2]


def test_seed_everything_deterministic_mode():
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
              torch.backends.cudnn.benchmark)
    try:
        seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[1:]


def test_max_steps(monkeypatch):
    assert max_steps() is None
    monkeypatch.setenv("DLCORE_MAX_STEPS", " 3 ")
    assert max_steps() == 3
    for bad in ("0", "-1", "three"):
        monkeypatch.setenv("DLCORE_MAX_STEPS", bad)
        with pytest.raises(ValueError, match="DLCORE_MAX_STEPS must be a positive integer"):
            max_steps()


def test_capped_stops_without_fetching_one_more(monkeypatch):
    fetched = []

    def batches():
        for i in range(10):
            fetched.append(i)
            yield i

    assert list(capped(batches())) == list(range(10))
    monkeypatch.setenv("DLCORE_MAX_STEPS", "3")
    fetched.clear()
    assert list(capped(batches())) == [0, 1, 2]
    assert fetched == [0, 1, 2]
    assert list(capped(range(2))) == [0, 1]
    assert list(capped(range(10), limit=5)) == [0, 1, 2, 3, 4]

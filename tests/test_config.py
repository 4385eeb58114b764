"""dlcore.config: sizes, seeds and the one-line setup summary."""

import numpy as np
import pytest

from dlcore import config


def test_size_from_environment(monkeypatch):
    monkeypatch.setenv("DLCORE_SIZE", "full")
    assert config.get_size() == "full"
    monkeypatch.setenv("DLCORE_SIZE", " Quick ")
    assert config.get_size() == "quick"


def test_bad_size_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DLCORE_SIZE", "huge")
    with pytest.raises(ValueError, match="DLCORE_SIZE must be one of"):
        config.get_size()


def test_default_size_follows_the_hardware(monkeypatch):
    monkeypatch.delenv("DLCORE_SIZE", raising=False)
    monkeypatch.setattr(config, "_cuda_available", lambda: True)
    assert config.get_size() == "full"
    monkeypatch.setattr(config, "_cuda_available", lambda: False)
    assert config.get_size() == "quick"


def test_seed_and_generator(monkeypatch):
    monkeypatch.setenv("DLCORE_SEED", "7")
    assert config.get_seed() == 7
    a, b = config.rng().random(3), np.random.default_rng(7).random(3)
    np.testing.assert_array_equal(a, b)
    monkeypatch.setenv("DLCORE_SEED", "x")
    with pytest.raises(ValueError, match="DLCORE_SEED must be an integer"):
        config.get_seed()


def test_setup_prints_one_line(monkeypatch, capsys):
    monkeypatch.setenv("DLCORE_SIZE", "quick")
    cfg = config.setup(seed=3, style=False)
    assert capsys.readouterr().out == "size: quick | device: cpu (NumPy) | seed: 3\n"
    assert cfg.quick and cfg.pick(1, 2) == 1 and config.pick(1, 2, size="full") == 2
    np.testing.assert_array_equal(cfg.rng.random(2), np.random.default_rng(3).random(2))


def test_setup_with_torch_seeds_everything_and_names_the_device(monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    import random

    monkeypatch.setenv("DLCORE_SIZE", "quick")
    monkeypatch.delenv("DLCORE_DEVICE", raising=False)
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU; the CPU line is tested elsewhere")
    cfg = config.setup(seed=3, torch=True, style=False)
    assert capsys.readouterr().out == "size: quick | device: cpu (no GPU found) | seed: 3\n"
    assert cfg.device == "cpu" and torch.device(cfg.device).type == "cpu"
    drawn = (random.random(), np.random.rand(), torch.rand(1).item())  # noqa: NPY002 (the global ones)
    config.setup(seed=3, torch=True, style=False, verbose=False)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == drawn  # noqa: NPY002


def test_describe_device_reports_the_gpu_name_and_memory(monkeypatch):
    torch = pytest.importorskip("torch")

    class Props:
        name = "Tesla T4"
        total_memory = 15_828_320_256  # what a Colab T4 reports

    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda dev: Props())
    assert config.describe_device("cuda") == "cuda (Tesla T4, 15.8 GB)"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert config.describe_device("cpu") == "cpu (no GPU found)"
    assert config.describe_device("mps") == "mps (Apple GPU)"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert config.describe_device("cpu") == "cpu (chosen; a GPU exists)"

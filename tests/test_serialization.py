"""dlcore.save / dlcore.load (chapter 06): .npz round trip, atomic writes, clear errors."""

import os

import numpy as np
import pytest

import dlcore
from dlcore.nn import BatchNorm1d, Linear, ReLU, Sequential


def make_net(seed=0):
    g = np.random.default_rng(seed)
    return Sequential(Linear(4, 3, generator=g), BatchNorm1d(3), ReLU(), Linear(3, 2, generator=g))


def test_round_trip(tmp_path):
    source, target = make_net(0), make_net(1)
    source[1].running_mean[:] = [1.0, 2.0, 3.0]
    path = tmp_path / "model.npz"
    dlcore.save(source, path)
    assert dlcore.load(target, path) is target
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[name], value)
    x = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_array_equal(source.eval()(x), target.eval()(x))


def test_file_is_a_plain_npz_with_torch_names(tmp_path):
    path = tmp_path / "model.npz"
    dlcore.save(make_net(), str(path))
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(make_net().state_dict())
        assert archive["0.weight"].dtype == np.float32


def test_save_replaces_an_existing_file_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "model.npz"
    path.write_text("old contents")
    dlcore.save(make_net(), path)
    assert os.listdir(tmp_path) == ["model.npz"]
    dlcore.load(make_net(1), path)


def test_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    dlcore.save(make_net(0), path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        dlcore.save(make_net(1), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]


def test_loading_into_a_different_architecture_names_the_arrays(tmp_path):
    path = tmp_path / "model.npz"
    dlcore.save(make_net(), path)
    other = Sequential(Linear(4, 5), ReLU(), Linear(5, 2))
    with pytest.raises(ValueError) as error:
        dlcore.load(other, path)
    message = str(error.value)
    assert str(path) in message
    assert "unexpected arrays: ['1.weight', '1.bias', '1.running_mean', '1.running_var', '3.weight', '3.bias']" in message
    assert "missing arrays: ['2.weight', '2.bias']" in message
    assert "0.weight: expected shape (5, 4), got (3, 4)" in message


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"0.weight": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match="allow_pickle"):
        dlcore.load(Sequential(Linear(1, 1)), path)


def test_float64_file_loads_into_float32_parameters(tmp_path):
    path = tmp_path / "model.npz"
    source = Linear(3, 2, dtype=np.float64)
    dlcore.save(source, path)
    target = dlcore.load(Linear(3, 2), path)
    assert target.weight.dtype == np.float32
    np.testing.assert_allclose(target.weight.data, source.weight.data, rtol=1e-6)

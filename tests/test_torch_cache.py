"""dlcore/torch/cache.py: a model is trained once per key and loaded (weights_only) afterwards."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from dlcore.torch.cache import cache_key, cached_train, source_version  # noqa: E402

CONFIG = {"hidden": 4, "epochs": 2, "lr": 0.1, "classes": [0, 1, 2]}


def build():
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


class Trainer:
    """Counts its calls and really trains (a few SGD steps on random data)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, model):
        self.calls += 1
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = torch.randn(16, 3), torch.randint(0, 2, (16,))
        for _ in range(3):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()


def run(tmp_path, trainer, **overrides):
    kwargs = dict(config=CONFIG, code_version="v1", seed=0, directory=tmp_path, verbose=False)
    kwargs.update(overrides)
    return cached_train("toy", build, trainer, **kwargs)


def test_second_call_loads_same_weights_without_training(tmp_path):
    trainer = Trainer()
    first, info1 = run(tmp_path, trainer)
    second, info2 = run(tmp_path, trainer)
    assert trainer.calls == 1
    assert info1.trained and not info2.trained
    assert info1.key == info2.key and info2.path.is_file()
    for (k, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), k                      # BatchNorm running stats included
    assert not second.training                           # returned in eval mode
    assert not torch.equal(first[0].weight, build()[0].weight)   # it really was trained


@pytest.mark.parametrize("change", [dict(config={**CONFIG, "lr": 0.2}), dict(code_version="v2"),
                                    dict(seed=1)])
def test_changed_key_retrains(tmp_path, change):
    trainer = Trainer()
    _, info1 = run(tmp_path, trainer)
    _, info2 = run(tmp_path, trainer, **change)
    assert trainer.calls == 2 and info2.trained and info1.key != info2.key
    _, info3 = run(tmp_path, trainer, **change)              # and the new key is cached in turn
    assert trainer.calls == 2 and not info3.trained


def test_max_steps_cap_is_part_of_the_key(tmp_path, monkeypatch):
    monkeypatch.delenv("DLCORE_MAX_STEPS", raising=False)
    plain = cache_key(CONFIG, code_version="v1", seed=0)
    monkeypatch.setenv("DLCORE_MAX_STEPS", "3")
    assert cache_key(CONFIG, code_version="v1", seed=0) != plain


def test_key_ignores_dict_order_only():
    reordered = dict(reversed(list(CONFIG.items())))
    assert cache_key(reordered, code_version="v", seed=0) == cache_key(CONFIG, code_version="v", seed=0)
    assert cache_key(CONFIG, code_version="v", seed=0) != cache_key(CONFIG, code_version="w", seed=0)


def test_loads_with_weights_only(tmp_path, monkeypatch):
    trainer = Trainer()
    run(tmp_path, trainer)
    seen = []
    real_load = torch.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    _, info = run(tmp_path, trainer)
    assert not info.trained and seen and all(w is True for w in seen)


def test_corrupted_file_is_retrained(tmp_path, capsys):
    trainer = Trainer()
    _, info = run(tmp_path, trainer)
    info.path.write_bytes(info.path.read_bytes()[:100])         # truncated
    _, again = run(tmp_path, trainer, verbose=True)
    assert trainer.calls == 2 and again.trained and "unusable" in again.reason
    assert "trained and cached" in capsys.readouterr().out
    _, third = run(tmp_path, trainer)
    assert trainer.calls == 2 and not third.trained


def test_other_architecture_under_same_key_is_retrained(tmp_path):
    trainer = Trainer()
    run(tmp_path, trainer)
    model, info = cached_train("toy", lambda: nn.Sequential(nn.Linear(3, 5)), trainer, config=CONFIG,
                               code_version="v1", seed=0, directory=tmp_path, verbose=False)
    assert info.trained and "does not fit" in info.reason and model[0].out_features == 5


def test_default_directory_is_the_data_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCORE_DATA", str(tmp_path))
    _, info = cached_train("toy", build, Trainer(), config=CONFIG, code_version="v1", seed=0,
                           verbose=False)
    assert info.path.parent == tmp_path / "models"


def test_source_version_tracks_code():
    def f():
        return 1

    def g():
        return 2

    assert source_version(f) != source_version(g)
    assert source_version(f) == source_version(f)
    with pytest.raises(ValueError, match="at least one"):
        source_version()


@pytest.mark.parametrize("bad, match", [(dict(config=[1, 2]), "config must be a dict"),
                                        (dict(config={"f": object()}), "JSON values"),
                                        (dict(seed="0"), "seed must be an int"),
                                        (dict(code_version=""), "code_version")])
def test_bad_arguments_are_named(tmp_path, bad, match):
    with pytest.raises(TypeError, match=match):
        run(tmp_path, Trainer(), **bad)


def test_bad_name_and_bad_build(tmp_path):
    with pytest.raises(ValueError, match="file-name prefix"):
        cached_train("a/b", build, Trainer(), config=CONFIG, code_version="v", seed=0, directory=tmp_path)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        cached_train("x", lambda: 3, Trainer(), config=CONFIG, code_version="v", seed=0, directory=tmp_path)

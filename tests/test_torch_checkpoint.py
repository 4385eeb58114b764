"""dlcore/torch/checkpoint.py: atomic saves, safe loads, and bad checkpoints that change nothing."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from dlcore.torch import (  # noqa: E402
    CheckpointError,
    History,
    fit,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
)
from dlcore.torch.checkpoint import CheckpointNotFoundError  # noqa: E402
from dlcore.torch.data import make_loader, to_tensor_dataset  # noqa: E402


def mlp(hidden=8, extra_layer=False):
    layers = [nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 3)]
    if extra_layer:
        layers += [nn.ReLU(), nn.Linear(3, 3)]
    return nn.Sequential(*layers)


def trained(hidden=8):
    """A model and an Adam optimizer with state (one step taken)."""
    torch.manual_seed(0)
    model = mlp(hidden)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    return model, opt


def snapshot(model, opt):
    return ({k: v.clone() for k, v in model.state_dict().items()}, copy.deepcopy(opt.state_dict()))


def assert_unchanged(model, opt, before):
    weights, opt_state = before
    now = model.state_dict()
    assert now.keys() == weights.keys()
    assert all(torch.equal(now[k], weights[k]) for k in weights)
    state = opt.state_dict()
    assert state["param_groups"] == opt_state["param_groups"]
    assert state["state"].keys() == opt_state["state"].keys()
    for pid, entry in opt_state["state"].items():
        for key, value in entry.items():
            assert torch.equal(state["state"][pid][key], value), (pid, key)


@pytest.fixture
def saved(tmp_path):
    model, opt = trained()
    history = History()
    history.append(train_loss=0.5, seconds=1.0)
    path = save_checkpoint(tmp_path / "run.ckpt", model, opt, epoch=1, history=history, extra={"note": "hi"})
    return path, model, opt


def test_round_trip_restores_model_optimizer_history_and_extra(saved):
    path, model, opt = saved
    other, other_opt = trained()
    with torch.no_grad():
        for p in other.parameters():
            p.add_(1.0)
    info = load_checkpoint(path, other, other_opt)
    assert info["epoch"] == 1 and info["extra"] == {"note": "hi"}
    assert isinstance(info["history"], History) and info["history"]["train_loss"] == [0.5]
    assert info["history"].epochs_done == 1
    assert_unchanged(other, other_opt, snapshot(model, opt))


def test_the_file_loads_with_weights_only(saved):
    payload = torch.load(saved[0], weights_only=True)
    assert {"model", "optimizer", "rng", "history", "epoch"} <= payload.keys()


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    model, opt = trained()
    path = save_checkpoint(tmp_path / "a.ckpt", model, opt, epoch=1)
    good = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, opt, epoch=2)
    assert path.read_bytes() == good  # the old checkpoint is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ckpt"]


def test_rng_states_are_restored(tmp_path):
    model, opt = trained()
    loader = make_loader(to_tensor_dataset(np.zeros((20, 4), np.float32), np.arange(20) % 3),
                         batch_size=5, shuffle=True, seed=7)
    seed_everything(5)
    next(iter(loader))  # advance the loader's own generator
    path = save_checkpoint(tmp_path / "r.ckpt", model, opt, epoch=1, train_loader=loader)
    expected = (random.random(), np.random.rand(), torch.rand(1).item(), [yb.tolist() for _, yb in loader])  # noqa: NPY002
    seed_everything(99)
    next(iter(loader))
    load_checkpoint(path, model, opt, train_loader=loader)
    got = (random.random(), np.random.rand(), torch.rand(1).item(), [yb.tolist() for _, yb in loader])  # noqa: NPY002
    assert got == expected


def test_missing_file_is_a_clear_error(tmp_path):
    model, opt = trained()
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint file at .*nope.ckpt"):
        load_checkpoint(tmp_path / "nope.ckpt", model, opt)
    assert issubclass(CheckpointNotFoundError, FileNotFoundError)


@pytest.mark.parametrize("damage", ["truncated", "corrupted tensor bytes", "corrupted header", "garbage"])
def test_damaged_files_raise_and_change_nothing(saved, damage):
    path, _, _ = saved
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "corrupted tensor bytes":  # torch.load alone would accept this file
        data[len(data) // 2: len(data) // 2 + 32] = bytes(32)
    elif damage == "corrupted header":
        data[100:164] = bytes(64)
    else:
        data = bytearray(b"this is not a checkpoint" * 10)
    path.write_bytes(bytes(data))
    model, opt = trained(hidden=8)
    before = snapshot(model, opt)
    with pytest.raises(CheckpointError, match=r"run\.ckpt.*(truncated or corrupted|corrupted)"):
        load_checkpoint(path, model, opt)
    assert_unchanged(model, opt, before)


def test_nothing_is_unpickled_beyond_weights_only(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"format": "dlcore.torch checkpoint", "model": {}, "evil": Evil()}, tmp_path / "evil.ckpt")
    model, opt = trained()
    with pytest.raises(CheckpointError, match="evil.ckpt"):
        load_checkpoint(tmp_path / "evil.ckpt", model, opt)
    assert not marker.exists()


def test_another_file_format_is_refused(tmp_path):
    torch.save({"weight": torch.zeros(2)}, tmp_path / "plain.pt")
    model, opt = trained()
    with pytest.raises(CheckpointError, match="plain.pt.*not a dlcore.torch checkpoint"):
        load_checkpoint(tmp_path / "plain.pt", model, opt)


def test_mis_shaped_tensors_are_named_with_both_shapes(saved):
    path, _, _ = saved
    model, opt = trained(hidden=16)
    before = snapshot(model, opt)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, model, opt)
    msg = str(err.value)
    assert "run.ckpt" in msg and "mis-shaped" in msg
    assert "0.weight: checkpoint (8, 4) vs model (16, 4)" in msg
    assert "2.weight: checkpoint (3, 8) vs model (3, 16)" in msg
    assert_unchanged(model, opt, before)


def test_missing_and_extra_tensors_are_named(saved):
    path, _, _ = saved
    bigger = mlp(extra_layer=True)
    bigger_opt = torch.optim.Adam(bigger.parameters())
    before = snapshot(bigger, bigger_opt)
    with pytest.raises(CheckpointError, match=r"run\.ckpt.*missing from the checkpoint: 4\.bias, 4\.weight"):
        load_checkpoint(path, bigger, bigger_opt)
    assert_unchanged(bigger, bigger_opt, before)

    smaller = nn.Sequential(nn.Linear(4, 8))
    with pytest.raises(CheckpointError, match=r"in the checkpoint but not in the model: 2\.bias, 2\.weight"):
        load_checkpoint(path, smaller)


def test_optimizer_mismatch_changes_neither_model_nor_optimizer(saved):
    path, _, _ = saved
    model, _ = trained()
    with torch.no_grad():
        model[0].weight.add_(3.0)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 4)).sum().backward()
    sgd.step()
    before = snapshot(model, sgd)
    with pytest.raises(CheckpointError, match="run.ckpt.*optimizer is Adam, not SGD"):
        load_checkpoint(path, model, sgd)
    assert_unchanged(model, sgd, before)

    # an Adam over only some of the parameters: the groups do not fit
    partial = torch.optim.Adam(list(model.parameters())[:2])
    with pytest.raises(CheckpointError, match="group 0 holds 4 tensors in the checkpoint but 2 here"):
        load_checkpoint(path, model, partial)
    assert_unchanged(model, sgd, before)


def test_mis_shaped_optimizer_state_is_caught_before_loading(tmp_path):
    model, opt = trained()
    path = save_checkpoint(tmp_path / "o.ckpt", model, opt, epoch=1)
    payload = torch.load(path, weights_only=True)
    payload["optimizer"]["state"][0]["exp_avg"] = torch.zeros(2, 2)
    torch.save(payload, path)
    other, other_opt = trained()
    before = snapshot(other, other_opt)
    with pytest.raises(CheckpointError, match=r"o\.ckpt.*param 0 exp_avg: checkpoint \(2, 2\) vs parameter \(8, 4\)"):
        load_checkpoint(path, other, other_opt)
    assert_unchanged(other, other_opt, before)


def test_scheduler_required_when_given(saved):
    path, _, _ = saved
    model, opt = trained()
    sched = torch.optim.lr_scheduler.StepLR(opt, 1)
    with pytest.raises(CheckpointError, match="no scheduler state"):
        load_checkpoint(path, model, opt, sched)


def test_resume_without_a_file_starts_fresh(tmp_path, capsys):
    torch.manual_seed(0)
    X, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    loader = make_loader(to_tensor_dataset(X.numpy(), y.numpy()), batch_size=8)
    model = mlp()
    history = fit(model, loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                  epochs=1, checkpoint=tmp_path / "new.ckpt", resume=True, progress=False, plot=False)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "no checkpoint at" in out and "starting from scratch" in out
    assert history.epochs_done == 1
    assert load_checkpoint(tmp_path / "new.ckpt", mlp(), restore_rng=False)["epoch"] == 1
    with pytest.raises(ValueError, match="resume=True needs checkpoint"):
        fit(model, loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
            epochs=1, resume=True, progress=False, plot=False)


def test_a_checkpoint_without_scaler_state_leaves_a_given_scaler_fresh(saved):
    path, _, _ = saved
    model, opt = trained()
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    load_checkpoint(path, model, opt, scaler=scaler)  # saved without float16 AMP (e.g. on a CPU)
    assert scaler.get_scale() == 1024.0


def test_history_from_lists_counts_its_epochs():
    h = History(train_loss=[1.0, 0.5])
    assert h.epochs_done == 2 and h.last() == {"train_loss": 0.5}
    restored = History.from_state(h.to_state())
    assert restored == h and restored.epochs_done == 2 and restored.interrupted is False

"""The checkpoint promise of dlcore/torch/checkpoint.py, tested the hard way.

A training run in a subprocess is killed with a real SIGKILL in the middle of epoch 3
of 4, then resumed in a new process (a fresh interpreter). It must end with the same weights (max abs
difference <= 1e-6) and the same history (except the wall times) as a run that was
never interrupted. The data loader shuffles, the model has dropout and the
augmentation draws from Python's, NumPy's and torch's generators, so every RNG state
the checkpoint saves has to be restored for the runs to agree.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 4

CHILD = textwrap.dedent(
    """
    import os, random, sys, time
    from pathlib import Path

    import numpy as np
    import torch
    from torch import nn

    from dlcore.torch import accuracy, fit, seed_everything
    from dlcore.torch.data import make_loader, to_tensor_dataset

    def main(mode, out, ckpt, marker):
        out, marker = Path(out), Path(marker)
        torch.set_num_threads(1)
        seed_everything(0)
        gen = np.random.default_rng(0)
        X = gen.normal(size=(240, 6)).astype(np.float32)
        y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(np.int64)

        def augment(x):  # draws from torch's, NumPy's and Python's global generators
            return x + 0.05 * torch.randn_like(x) * float(np.random.rand()) * random.random()

        train = make_loader(to_tensor_dataset(X[:200], y[:200]), batch_size=16, shuffle=True, seed=1,
                            transform=augment)
        val = make_loader(to_tensor_dataset(X[200:], y[200:]), batch_size=20)
        model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
        steps_per_epoch = len(train)
        calls = {"n": 0}
        cross_entropy = nn.CrossEntropyLoss()

        def loss_fn(out, target):
            if torch.is_grad_enabled():  # a training step, not validation
                calls["n"] += 1
                if mode == "victim" and calls["n"] == 2 * steps_per_epoch + steps_per_epoch // 2:
                    marker.write_text("inside epoch 3")  # the parent now sends SIGKILL
                    time.sleep(120)
            return cross_entropy(out, target)

        kwargs = dict(epochs=EPOCHS, val_loader=val, metrics={"accuracy": accuracy}, scheduler=scheduler,
                      device="cpu", progress=False, plot=False)
        if mode == "reference":
            history = fit(model, train, loss_fn, optimizer, **kwargs)
        else:
            history = fit(model, train, loss_fn, optimizer, checkpoint=ckpt, resume=True, **kwargs)
        torch.save({"state": model.state_dict(), "history": dict(history),
                    "epochs_done": history.epochs_done, "lr": optimizer.param_groups[0]["lr"]}, out)


    if __name__ == "__main__":
        main(*sys.argv[1:])

    """
).replace("EPOCHS", str(EPOCHS))


def _child(tmp_path: Path, mode: str) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("DLCORE_MAX_STEPS", None)
    env.pop("DLCORE_DEVICE", None)
    return subprocess.Popen([sys.executable, str(script), mode, str(tmp_path / f"{mode}.pt"),
                             str(tmp_path / "run.ckpt"), str(tmp_path / "marker")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    return out


def _reference_run_here(tmp_path: Path) -> None:
    """The uninterrupted run, in this process (same code as the children, one import fewer)."""
    spec = importlib.util.spec_from_file_location("resume_child", tmp_path / "child.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    threads = torch.get_num_threads()
    try:
        module.main("reference", tmp_path / "reference.pt", tmp_path / "unused.ckpt", tmp_path / "unused")
    finally:
        torch.set_num_threads(threads)


def test_sigkill_in_epoch_3_then_resume_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    from dlcore.torch import load_checkpoint

    monkeypatch.delenv("DLCORE_MAX_STEPS", raising=False)
    monkeypatch.delenv("DLCORE_DEVICE", raising=False)
    victim = _child(tmp_path, "victim")
    _reference_run_here(tmp_path)  # while the victim starts up
    marker = tmp_path / "marker"
    deadline = time.monotonic() + 240
    while not marker.exists():
        assert victim.poll() is None, victim.communicate()[0]
        assert time.monotonic() < deadline, "the victim never reached epoch 3"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    assert not (tmp_path / "victim.pt").exists()

    # What the kill left behind: the checkpoint of the last completed epoch, no temp files.
    model = torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                                torch.nn.Linear(32, 2))
    assert load_checkpoint(tmp_path / "run.ckpt", model, restore_rng=False)["epoch"] == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []

    resumed_out = _finish(_child(tmp_path, "victim_resumed"))
    assert "resuming from" in resumed_out and "2 of 4 epochs done" in resumed_out

    ref = torch.load(tmp_path / "reference.pt", weights_only=True)
    res = torch.load(tmp_path / "victim_resumed.pt", weights_only=True)
    assert ref["state"].keys() == res["state"].keys()
    diff = max((ref["state"][k] - res["state"][k]).abs().max().item() for k in ref["state"])
    print(f"\nresume test: max abs weight difference {diff:.3g}")
    assert diff <= 1e-6
    assert res["epochs_done"] == ref["epochs_done"] == EPOCHS
    assert res["lr"] == pytest.approx(ref["lr"]) == pytest.approx(0.01 * 0.7**EPOCHS)
    for key in ("train_loss", "val_loss", "val_accuracy"):
        assert len(ref["history"][key]) == EPOCHS
        assert res["history"][key] == pytest.approx(ref["history"][key], abs=1e-7), key
    assert len(res["history"]["seconds"]) == EPOCHS
    assert ref["history"]["train_loss"][-1] < ref["history"]["train_loss"][0]


def test_without_restoring_the_rng_the_runs_would_differ(tmp_path):
    """The control: the same resume but with fresh RNG states does NOT match (so the test can fail)."""
    from torch import nn

    from dlcore.torch import fit, load_checkpoint, seed_everything
    from dlcore.torch.data import make_loader, to_tensor_dataset

    def run(epochs, ckpt=None, resume=False, restore=True):
        seed_everything(0)
        X = torch.randn(64, 4)
        y = (X[:, 0] > 0).long()
        loader = make_loader(to_tensor_dataset(X.numpy(), y.numpy()), batch_size=8, shuffle=True, seed=3)
        model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 2))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        if resume and not restore:
            start = load_checkpoint(ckpt, model, opt, train_loader=loader, restore_rng=False)["epoch"]
            seed_everything(123)  # other RNG states than the saved ones
            fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=epochs - start, device="cpu",
                progress=False, plot=False)
        else:
            fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=epochs, device="cpu", checkpoint=ckpt,
                resume=resume, progress=False, plot=False)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    full = run(3)
    run(2, ckpt=tmp_path / "a.ckpt")
    exact = run(3, ckpt=tmp_path / "a.ckpt", resume=True)
    run(2, ckpt=tmp_path / "b.ckpt")
    fresh_rng = run(3, ckpt=tmp_path / "b.ckpt", resume=True, restore=False)
    assert (exact - full).abs().max().item() <= 1e-6
    assert (fresh_rng - full).abs().max().item() > 1e-4

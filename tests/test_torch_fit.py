"""dlcore/torch/train.py: fit, its History, AMP fallbacks, clean interrupts and the live figure."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import dlcore.torch.history as history_mod  # noqa: E402
import dlcore.torch.train as train_mod  # noqa: E402
from dlcore.torch import History, accuracy, fit, load_checkpoint  # noqa: E402
from dlcore.torch.data import make_loader, to_tensor_dataset  # noqa: E402


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("DLCORE_MAX_STEPS", "DLCORE_DEVICE", "DLCORE_NONINTERACTIVE", "CI"):
        monkeypatch.delenv(name, raising=False)


def problem(n=128, batch_size=16, seed=0):
    """Two Gaussian blobs, linearly separable: a tiny problem fit must solve."""
    gen = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = (gen.normal(size=(n, 2)) + 2.5 * y[:, None]).astype(np.float32)
    data = to_tensor_dataset(X, y)
    return make_loader(data, batch_size=batch_size, shuffle=True, seed=seed), make_loader(data, batch_size=32)


def model_and_opt(lr=0.1, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    return model, torch.optim.SGD(model.parameters(), lr=lr)


def quiet(**kwargs):
    return {"device": "cpu", "progress": False, "plot": False, **kwargs}


def test_fit_reduces_the_loss_and_fills_the_history():
    train, val = problem()
    model, opt = model_and_opt()
    history = fit(model, train, nn.CrossEntropyLoss(), opt, epochs=5, val_loader=val,
                  metrics={"accuracy": accuracy}, **quiet())
    assert isinstance(history, History) and isinstance(history, dict)
    assert list(history) == ["train_loss", "val_loss", "val_accuracy", "seconds"]
    assert all(len(v) == 5 and all(isinstance(x, float) for x in v) for v in history.values())
    assert history.epochs_done == 5 and history.interrupted is False
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["val_accuracy"][-1] > 0.9
    assert all(s > 0 for s in history["seconds"])
    assert model.training


def test_val_numbers_are_sample_weighted_means():
    train, _ = problem(n=40)
    X, y = train.dataset.tensors
    val = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X[:25], y[:25]), batch_size=10)
    model, opt = model_and_opt()
    history = fit(model, train, nn.CrossEntropyLoss(), opt, epochs=1, val_loader=val,
                  metrics={"accuracy": accuracy}, **quiet())
    with torch.no_grad():
        logits = model(X[:25])
        loss = nn.functional.cross_entropy(logits, y[:25]).item()
    assert history["val_loss"][0] == pytest.approx(loss, rel=1e-5)
    assert history["val_accuracy"][0] == pytest.approx((logits.argmax(1) == y[:25]).float().mean().item())


def test_scheduler_steps_once_per_epoch():
    train, _ = problem()
    model, opt = model_and_opt(lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    fit(model, train, nn.CrossEntropyLoss(), opt, epochs=3, scheduler=sched, **quiet())
    assert opt.param_groups[0]["lr"] == pytest.approx(0.125)
    assert sched.last_epoch == 3


def test_grad_clip_bounds_the_update():
    X = torch.tensor([[10.0, 10.0]])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, torch.tensor([1])), batch_size=1)
    deltas = {}
    for clip in (None, 0.01):
        model = nn.Linear(2, 2)
        nn.init.zeros_(model.weight)
        nn.init.zeros_(model.bias)  # logits 0: gradient norm sqrt(4 * 5^2 + 2 * 0.5^2) = 10.02
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=1, grad_clip=clip, **quiet())
        deltas[clip] = torch.cat([p.detach().flatten() for p in model.parameters()]).norm().item()
    assert deltas[0.01] == pytest.approx(0.01, rel=1e-4)  # lr 1 x clipped norm 0.01
    assert deltas[None] == pytest.approx((4 * 25 + 2 * 0.25) ** 0.5, rel=1e-5)


def test_amp_true_on_cpu_says_so_once_and_trains(capsys):
    train, _ = problem()
    model, opt = model_and_opt()
    history = fit(model, train, nn.CrossEntropyLoss(), opt, epochs=3, amp=True, **quiet())
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "amp=True" in out and "float32" in out
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    with pytest.raises(ValueError, match="amp must be 'auto', True or False"):
        fit(model, train, nn.CrossEntropyLoss(), opt, epochs=1, amp="fp16", **quiet())


def test_the_float16_scaler_path_runs_and_resumes(monkeypatch, tmp_path):
    """The GPU's float16 + GradScaler + clipping code path, exercised with CPU autocast."""
    monkeypatch.setattr(train_mod, "amp_dtype", lambda dev: torch.float16)
    train, _ = problem()
    model, opt = model_and_opt()
    ckpt = tmp_path / "amp.ckpt"
    history = fit(model, train, nn.CrossEntropyLoss(), opt, epochs=2, grad_clip=1.0, checkpoint=ckpt, **quiet())
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert torch.load(ckpt, weights_only=True)["scaler"]["scale"] > 0
    model2, opt2 = model_and_opt()
    resumed = fit(model2, train, nn.CrossEntropyLoss(), opt2, epochs=3, grad_clip=1.0, checkpoint=ckpt,
                  resume=True, **quiet())
    assert resumed.epochs_done == 3 and resumed["train_loss"][:2] == history["train_loss"]


def test_max_steps_caps_training_and_validation(monkeypatch):
    train, val = problem(n=128, batch_size=16)  # 8 training batches, 4 validation batches
    calls = {"train": 0, "val": 0}
    ce = nn.CrossEntropyLoss()

    def loss_fn(out, y):
        calls["train" if torch.is_grad_enabled() else "val"] += 1
        return ce(out, y)

    monkeypatch.setenv("DLCORE_MAX_STEPS", "3")
    model, opt = model_and_opt()
    fit(model, train, loss_fn, opt, epochs=2, val_loader=val, **quiet())
    assert calls == {"train": 6, "val": 6}


class InterruptAt:
    """A loss function that raises KeyboardInterrupt on training step ``k`` (1-based)."""

    def __init__(self, k, real_signal=False):
        self.k, self.calls, self.real_signal = k, 0, real_signal
        self.ce = nn.CrossEntropyLoss()

    def __call__(self, out, y):
        if torch.is_grad_enabled():
            self.calls += 1
            if self.calls == self.k:
                if self.real_signal:
                    os.kill(os.getpid(), signal.SIGINT)  # what the notebook's stop button sends
                else:
                    raise KeyboardInterrupt
        return self.ce(out, y)


def test_keyboard_interrupt_returns_the_history_and_keeps_a_valid_checkpoint(tmp_path, capsys):
    train, val = problem()  # 8 steps per epoch
    model, opt = model_and_opt()
    ckpt = tmp_path / "stop.ckpt"
    history = fit(model, train, InterruptAt(8 + 3), opt, epochs=4, val_loader=val, checkpoint=ckpt, **quiet())
    out = capsys.readouterr().out
    assert history.interrupted is True and history.epochs_done == 1
    assert len(history["train_loss"]) == len(history["val_loss"]) == 1
    assert out.count("\n") == 1 and "interrupted in epoch 2" in out and "holds epoch 1" in out
    fresh, fresh_opt = model_and_opt(seed=1)
    info = load_checkpoint(ckpt, fresh, fresh_opt, train_loader=train)
    assert info["epoch"] == 1 and info["history"]["train_loss"] == history["train_loss"]
    resumed = fit(fresh, train, nn.CrossEntropyLoss(), fresh_opt, epochs=4, val_loader=val,
                  checkpoint=ckpt, resume=True, **quiet())
    assert resumed.epochs_done == 4 and not resumed.interrupted


def test_interrupt_in_the_first_epoch_still_leaves_a_checkpoint(tmp_path):
    train, _ = problem()
    model, opt = model_and_opt()
    history = fit(model, train, InterruptAt(2), opt, epochs=2, checkpoint=tmp_path / "c.ckpt", **quiet())
    assert history.interrupted and history.epochs_done == 0
    assert load_checkpoint(tmp_path / "c.ckpt", *model_and_opt(), restore_rng=False)["epoch"] == 0


@pytest.mark.skipif(signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
                    reason="SIGINT is handled by someone else here")
def test_a_real_sigint_stops_after_the_current_step(capsys):
    train, _ = problem()  # 8 steps per epoch
    model, _ = model_and_opt()
    opt = torch.optim.Adam(model.parameters())
    history = fit(model, train, InterruptAt(8 + 3, real_signal=True), opt, epochs=3, **quiet())
    assert history.interrupted and history.epochs_done == 1
    assert opt.state_dict()["state"][0]["step"].item() == 11  # step 11 finished, step 12 never began
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler given back
    assert "interrupted in epoch 2" in capsys.readouterr().out


def test_bad_batches_get_a_clear_error():
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(4, 2)), batch_size=2)
    model, opt = model_and_opt()
    with pytest.raises(ValueError, match=r"batches of \(inputs, targets\); got list of length 1"):
        fit(model, loader, nn.CrossEntropyLoss(), opt, epochs=1, **quiet())


def test_progress_bar_shows_the_loss(capsys):
    train, _ = problem()
    model, opt = model_and_opt()
    fit(model, train, nn.CrossEntropyLoss(), opt, epochs=2, device="cpu", plot=False)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "loss=" in err


# --- figures -------------------------------------------------------------------------------
def test_history_plot_has_labelled_axes():
    import matplotlib

    matplotlib.use("Agg")
    h = History()
    for i in range(3):
        h.append(train_loss=1.0 / (i + 1), val_loss=1.2 / (i + 1), val_accuracy=0.5 + 0.1 * i, seconds=0.1)
    fig = h.plot()
    loss_ax, metric_ax = fig.axes
    assert (loss_ax.get_xlabel(), loss_ax.get_ylabel()) == ("epoch", "loss")
    assert (metric_ax.get_xlabel(), metric_ax.get_ylabel()) == ("epoch", "metric")
    assert [line.get_label() for line in loss_ax.lines] == ["train loss", "val loss"]
    assert list(loss_ax.lines[0].get_xdata()) == [1, 2, 3]
    assert len(History(train_loss=[1.0]).plot().axes) == 1
    import matplotlib.pyplot as plt

    plt.close("all")


class FakeDisplay:
    """Records IPython display calls: display(obj, display_id=True) and handle.update(obj)."""

    def __init__(self):
        self.calls = []

    def __call__(self, obj, display_id=False):
        self.calls.append(("display", display_id))
        return self

    def update(self, obj):
        self.calls.append(("update", None))


@pytest.fixture
def fake_notebook(monkeypatch):
    import IPython.display
    import matplotlib

    matplotlib.use("Agg")
    fake = FakeDisplay()
    monkeypatch.setattr(history_mod, "_ipython_kernel", lambda: object())
    monkeypatch.setattr(IPython.display, "display", fake)
    return fake


def test_live_notebook_shows_one_figure_updated_in_place(fake_notebook):
    import matplotlib.pyplot as plt

    train, _ = problem()
    model, opt = model_and_opt()
    fit(model, train, nn.CrossEntropyLoss(), opt, epochs=3, device="cpu", progress=False, plot="auto")
    assert fake_notebook.calls == [("display", True), ("update", None), ("update", None), ("update", None)]
    assert plt.get_fignums() == []  # closed, so the inline backend does not show it again


@pytest.mark.parametrize("env", ["CI", "DLCORE_NONINTERACTIVE"])
def test_non_interactive_notebook_runs_show_the_final_figure_once(fake_notebook, monkeypatch, env):
    monkeypatch.setenv(env, "1")
    train, _ = problem()
    model, opt = model_and_opt()
    fit(model, train, nn.CrossEntropyLoss(), opt, epochs=3, device="cpu", progress=False, plot="auto")
    assert fake_notebook.calls == [("display", False)]


def test_plain_scripts_draw_nothing_unless_asked(monkeypatch):
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    plt.close("all")
    train, _ = problem()
    model, opt = model_and_opt()
    fit(model, train, nn.CrossEntropyLoss(), opt, epochs=1, device="cpu", progress=False, plot="auto")
    assert plt.get_fignums() == []
    fit(model, train, nn.CrossEntropyLoss(), opt, epochs=1, device="cpu", progress=False, plot=True)
    assert len(plt.get_fignums()) == 1  # left open for plt.show() / savefig
    plt.close("all")
    with pytest.raises(ValueError, match="plot must be"):
        fit(model, train, nn.CrossEntropyLoss(), opt, epochs=1, device="cpu", progress=False, plot="live")


def test_compile_trains_the_compiled_module_and_checkpoints_the_original(monkeypatch, tmp_path):
    compiled = []

    def fake_compile(module):  # torch.compile itself costs tens of seconds on a CPU
        compiled.append(module)
        return module

    monkeypatch.setattr(torch, "compile", fake_compile)
    train, _ = problem()
    model, opt = model_and_opt()
    fit(model, train, nn.CrossEntropyLoss(), opt, epochs=1, checkpoint=tmp_path / "c.ckpt", **quiet())
    assert compiled == []  # off by default
    fit(model, train, nn.CrossEntropyLoss(), opt, epochs=1, compile=True, **quiet())
    assert compiled == [model]


def test_reduce_lr_on_plateau_gets_the_validation_loss():
    train, val = problem()
    model, opt = model_and_opt(lr=0.1)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", patience=0, factor=0.5)
    history = fit(model, train, nn.CrossEntropyLoss(), opt, epochs=3, val_loader=val, scheduler=sched, **quiet())
    # mode="max" on a falling loss: every epoch after the first is "no improvement"
    assert history["val_loss"][2] < history["val_loss"][0]
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**2)


def test_a_loader_that_dies_after_a_stop_request_counts_as_the_interrupt():
    """Ctrl-C in a notebook reaches DataLoader workers too; their exit must not crash fit."""
    train, _ = problem()

    class DyingLoader:
        def __init__(self, stop_holder):
            self.stop_holder = stop_holder

        def __len__(self):
            return 4

        def __iter__(self):
            yield next(iter(train))
            self.stop_holder["stop"].requested = True  # as if SIGINT had arrived
            raise RuntimeError("DataLoader worker (pid 1234) exited unexpectedly")

    holder = {}
    original = train_mod._StopRequest.__enter__

    def remember(self):
        holder["stop"] = self
        return original(self)

    model, opt = model_and_opt()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train_mod._StopRequest, "__enter__", remember)
        history = fit(model, DyingLoader(holder), nn.CrossEntropyLoss(), opt, epochs=2, **quiet())
    assert history.interrupted and history.epochs_done == 0
    with pytest.raises(RuntimeError, match="exited unexpectedly"):  # without a stop request: a real error
        fit(model, DyingLoader({"stop": train_mod._StopRequest()}), nn.CrossEntropyLoss(), opt, epochs=1,
            **quiet())

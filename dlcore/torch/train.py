"""The training loop of Part II: :func:`fit`, :func:`evaluate`, :func:`predict` (chapter 08).

Chapter 08 writes the loop by hand first; :func:`fit` is that same loop plus what a
real run needs: eval mode for validation, a progress bar, a live loss curve,
mixed precision on a GPU, gradient clipping, checkpoints and a clean stop.

Conventions:

* a batch is ``(inputs, targets)``; the model is called as ``model(inputs)`` and
  ``loss_fn(outputs, targets)`` returns the batch's mean loss;
* per-epoch numbers are means over samples (each batch weighted by its size);
* the scheduler, if any, is stepped once per epoch, after validation (epoch-based
  schedulers such as ``StepLR`` and ``CosineAnnealingLR``; a per-batch schedule
  such as ``OneCycleLR`` needs its ``total_steps`` counted in epochs);
* ``DLCORE_MAX_STEPS=N`` stops every loop here after N batches per epoch
  (:func:`~dlcore.torch.devices.max_steps`), for the full-size smoke run.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn

from .checkpoint import load_checkpoint, save_checkpoint
from .devices import amp_dtype, capped, max_steps
from .devices import device as default_device
from .history import History, LivePlot

Metric = Callable[[torch.Tensor, torch.Tensor], float]


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of rows whose largest logit is the target class.

    ``logits`` ``(B, K)`` (any float dtype), ``targets`` ``(B,)`` integer class indices.
    """
    if logits.ndim < 1 or logits.shape[0] != targets.shape[0]:
        raise ValueError(f"accuracy expected logits (B, K) and targets (B,), got {tuple(logits.shape)} "
                         f"and {tuple(targets.shape)}")
    if targets.numel() == 0:
        raise ValueError("accuracy of an empty batch is undefined")
    return (logits.argmax(dim=-1) == targets).float().mean().item()


def to_device(obj, dev: torch.device):
    """Move a tensor, or the tensors in a tuple/list/dict, to ``dev`` (``non_blocking=True``).

    ``non_blocking`` overlaps the copy with computation when the source is in pinned
    memory (``make_loader`` pins on CUDA); otherwise it is an ordinary copy.
    """
    if isinstance(obj, torch.Tensor):
        return obj.to(dev, non_blocking=True)
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(o, dev) for o in obj)
    if isinstance(obj, dict):
        return {k: to_device(v, dev) for k, v in obj.items()}
    return obj


def _split(batch):
    if isinstance(batch, (list, tuple)) and len(batch) == 2:
        return batch[0], batch[1]
    raise ValueError("fit and evaluate expect batches of (inputs, targets); got "
                     f"{type(batch).__name__}" + (f" of length {len(batch)}" if hasattr(batch, "__len__") else ""))


def _batch_size(targets) -> int:
    return int(targets.shape[0]) if isinstance(targets, torch.Tensor) and targets.ndim else 1


def _resolve_device(dev) -> torch.device:
    return default_device() if dev is None else torch.device(dev)


def _amp_plan(amp, dev: torch.device) -> torch.dtype | None:
    """The autocast dtype fit uses, or None for float32."""
    if amp is False or amp is None:
        return None
    if amp not in ("auto", True):
        raise ValueError(f"amp must be 'auto', True or False, got {amp!r}")
    dtype = amp_dtype(dev)
    if dtype is None and amp is True:
        print(f"amp=True: mixed precision needs a CUDA GPU; training on {dev.type} in float32 instead")
    return dtype


def _autocast(dev: torch.device, dtype: torch.dtype | None):
    """``torch.autocast`` to ``dtype`` on ``dev``, or nothing when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=dev.type, dtype=dtype)


@contextlib.contextmanager
def _modes_restored(model: nn.Module) -> Iterator[None]:
    """Put ``model`` in eval mode; afterwards give every submodule back its own mode."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def _batches(loader, limit, stop=None):
    """The loader's batches (at most ``limit``). After a stop request, a failing fetch (a
    DataLoader worker that got the same Ctrl-C and exited) counts as the interrupt."""
    it = iter(capped(loader, limit) if limit is not None else loader)
    while True:
        try:
            batch = next(it)
        except StopIteration:
            return
        except Exception:
            if stop is not None and stop.requested:
                raise KeyboardInterrupt from None
            raise
        yield batch


def _evaluate(model, loader, loss_fn, metrics, dev, dtype, stop=None) -> dict[str, float]:
    sums: dict[str, float] = {}
    n = 0
    with _modes_restored(model), torch.inference_mode():
        for batch in _batches(loader, max_steps(), stop):
            xb, yb = to_device(_split(batch), dev)
            with _autocast(dev, dtype):
                out = model(xb)
                values = {"loss": loss_fn(out, yb).item()} if loss_fn is not None else {}
            out = out.float()
            for name, fn in (metrics or {}).items():
                values[name] = float(fn(out, yb))
            b = _batch_size(yb)
            n += b
            for name, value in values.items():
                sums[name] = sums.get(name, 0.0) + value * b
    if n == 0:
        raise ValueError("evaluate: the loader yielded no batches")
    return {name: total / n for name, total in sums.items()}


def evaluate(model: nn.Module, loader, loss_fn=None, metrics: dict[str, Metric] | None = None,
             device=None) -> dict[str, float]:
    """Mean loss and metrics of ``model`` over ``loader``, in eval mode without gradients.

    Returns:
        ``{"loss": ..., "<metric>": ...}`` (``"loss"`` only with a ``loss_fn``), each a
        mean over samples. The model's train/eval modes are restored afterwards,
        submodule by submodule, also when an error occurs.
    """
    dev = _resolve_device(device)
    return _evaluate(model, loader, loss_fn, metrics, dev, None)


def predict(model: nn.Module, loader, device=None) -> torch.Tensor:
    """The model's outputs for every batch of ``loader``, concatenated, on the CPU.

    Batches may be ``(inputs, targets)`` or just ``inputs``. Runs in eval mode under
    ``torch.inference_mode()`` and restores the model's modes afterwards.
    """
    dev = _resolve_device(device)
    outs = []
    with _modes_restored(model), torch.inference_mode():
        for batch in _batches(loader, max_steps()):
            xb = batch[0] if isinstance(batch, (list, tuple)) else batch
            outs.append(model(to_device(xb, dev)).cpu())
    if not outs:
        raise ValueError("predict: the loader yielded no batches")
    return torch.cat(outs)


class _StopRequest:
    """Turn the first Ctrl-C / notebook stop into a request honoured after the current step.

    A second Ctrl-C raises KeyboardInterrupt at once (the previous handler is back).
    Only the main thread may install signal handlers; elsewhere nothing changes.
    """

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            current = signal.getsignal(signal.SIGINT)
            if current is signal.default_int_handler:
                self._previous = current
                signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _progress(loader, epoch: int, epochs: int, limit, enabled: bool):
    from tqdm.auto import tqdm

    try:
        total = len(loader)
    except TypeError:
        total = None
    if total is not None and limit is not None:
        total = min(total, limit)
    return tqdm(total=total, desc=f"epoch {epoch}/{epochs}", disable=not enabled, leave=True)


def _train_epoch(model, loader, loss_fn, optimizer, dev, dtype, scaler, grad_clip, bar, stop) -> float:
    total = torch.zeros((), device=dev)
    n = 0
    for step, batch in enumerate(_batches(loader, max_steps(), stop)):
        xb, yb = to_device(_split(batch), dev)
        optimizer.zero_grad(set_to_none=True)
        with _autocast(dev, dtype):
            loss = loss_fn(model(xb), yb)
        if scaler is not None:
            scaler.scale(loss).backward()
            if grad_clip is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
        b = _batch_size(yb)
        total += loss.detach().float() * b
        n += b
        bar.update(1)
        if step % 10 == 0 or step + 1 == bar.total:  # .item() waits for the GPU: not every step
            bar.set_postfix(loss=f"{total.item() / n:.4f}")
        stop.check()
    if n == 0:
        raise ValueError("fit: the training loader yielded no batches")
    return total.item() / n


def fit(model: nn.Module, train_loader, loss_fn, optimizer, *, epochs: int, val_loader=None,
        metrics: dict[str, Metric] | None = None, scheduler=None, device=None, amp="auto",
        grad_clip: float | None = None, compile: bool = False, checkpoint=None, resume: bool = False,
        progress: bool = True, plot="auto") -> History:
    """Train ``model`` for ``epochs`` epochs and return its :class:`History`.

    Args:
        epochs: the total number of epochs (with ``resume``, the ones already done count).
        val_loader: evaluated after every epoch: ``val_loss`` and ``val_<metric>``.
        metrics: ``{name: fn(outputs, targets) -> float}``, e.g. ``{"accuracy": accuracy}``.
        scheduler: a learning-rate scheduler, stepped once per epoch, after validation
            (``ReduceLROnPlateau`` is given ``val_loss``, or ``train_loss`` without a
            validation loader).
        device: where to train (default :func:`~dlcore.torch.devices.device`). The
            model moves there; batches move with ``non_blocking=True``.
        amp: ``"auto"``: mixed precision on CUDA (bfloat16 from compute capability
            8.0, else float16 with a ``GradScaler``), float32 elsewhere. ``True``: the
            same, but says in one line when it falls back to float32. ``False``: off.
        grad_clip: clip the gradient norm to this value (after unscaling with AMP).
        compile: train ``torch.compile(model)``. Off by default: the book's models are
            small, and compiling costs more than it saves. On a 2-core CPU (shared, so
            only indicative), compiling a 784-128-10 MLP took 66 s before the first step,
            and the steps after it were no faster (3.6 ms against 2.4 ms eager). On a GPU
            such as a T4, a small model is limited by kernel launches and data loading
            more than by the fusion compile offers; measure before switching it on.
        checkpoint: a file path. A checkpoint is written before the first epoch and
            after every epoch (see :mod:`dlcore.torch.checkpoint`), so a disconnect
            loses at most one epoch.
        resume: continue from ``checkpoint`` after its last completed epoch (RNG states
            included, so the result equals an uninterrupted run); without the file,
            start from scratch and say so.
        progress: one ``tqdm`` bar per epoch with the running loss.
        plot: ``"auto"`` (a live figure in a notebook someone watches; the final figure
            once in a notebook run by a tool; nothing in a script), ``True`` (always the
            final figure), ``False``.

    Interrupting (Ctrl-C, the notebook's stop button) ends training after the current
    step and returns the history of the completed epochs with ``interrupted=True``.
    The model keeps the weights of its last step, while the checkpoint keeps the last
    completed epoch, so that ``resume=True`` continues exactly.
    """
    if int(epochs) < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=<path> to resume from")
    dev = _resolve_device(device)
    model.to(dev, non_blocking=True)
    dtype = _amp_plan(amp, dev)
    scaler = torch.amp.GradScaler(dev.type) if dtype == torch.float16 else None
    live = LivePlot(plot)
    metric_keys = [f"val_{k}" for k in (metrics or {})]
    history = History({"train_loss": [], **({"val_loss": []} if val_loader is not None else {}),
                       **({k: [] for k in metric_keys} if val_loader is not None else {}), "seconds": []})
    start = 0
    if resume:
        if Path(checkpoint).is_file():
            info = load_checkpoint(checkpoint, model, optimizer, scheduler, scaler, train_loader=train_loader)
            history, start = info["history"], info["epoch"]
            history.interrupted = False
            print(f"resuming from {checkpoint}: {start} of {epochs} epochs done")
        else:
            print(f"no checkpoint at {checkpoint} yet: starting from scratch")
    if checkpoint is not None and start == 0:
        save_checkpoint(checkpoint, model, optimizer, scheduler, scaler, epoch=0, history=history,
                        train_loader=train_loader)
    saved = start if checkpoint is not None else None
    run = torch.compile(model) if compile else model
    if not model.training:
        model.train()  # submodules put in eval mode by hand (a frozen backbone) stay so
    epoch = start
    with _StopRequest() as stop:
        try:
            for epoch in range(start + 1, int(epochs) + 1):
                t0 = time.perf_counter()
                with _progress(train_loader, epoch, epochs, max_steps(), progress) as bar:
                    row = {"train_loss": _train_epoch(run, train_loader, loss_fn, optimizer, dev, dtype,
                                                      scaler, grad_clip, bar, stop)}
                    if val_loader is not None:
                        scores = _evaluate(run, val_loader, loss_fn, metrics, dev, dtype, stop)
                        row.update({f"val_{k}": v for k, v in scores.items()})
                    bar.set_postfix({k: f"{v:.4f}" for k, v in row.items()})
                stop.check()
                if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    scheduler.step(row.get("val_loss", row["train_loss"]))  # it needs the number it watches
                elif scheduler is not None:
                    scheduler.step()
                row["seconds"] = time.perf_counter() - t0
                history.append(**row)
                if checkpoint is not None:
                    save_checkpoint(checkpoint, model, optimizer, scheduler, scaler, epoch=epoch,
                                    history=history, train_loader=train_loader)
                    saved = epoch
                live.update(history)
        except KeyboardInterrupt:
            history.interrupted = True
            where = f"; {checkpoint} holds epoch {saved} (resume=True continues from there)" if saved is not None else ""
            print(f"interrupted in epoch {epoch}: kept {history.epochs_done} completed epoch(s){where}")
    live.close(history)
    return history

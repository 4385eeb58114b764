"""Checkpoints that survive a Colab disconnect and resume exactly (chapter 08).

A checkpoint holds everything needed to continue training as if nothing had
happened: the model, optimizer, scheduler and grad-scaler states, the number of
completed epochs, the :class:`~dlcore.torch.history.History`, and every random
number generator that training draws from (Python's ``random``, NumPy's global
generator, torch's CPU and CUDA generators, and the training DataLoader's own
shuffling generator).

* :func:`save_checkpoint` writes atomically: a temporary file in the same folder,
  flushed and fsync'ed, then renamed over the old one. A crash mid-write leaves the
  previous checkpoint intact, never half a file.
* :func:`load_checkpoint` reads with ``torch.load(weights_only=True)`` only, so a
  checkpoint can hold tensors, lists, dicts, numbers and strings but never code.
  It checks everything before it changes anything: an unreadable file (truncated,
  or with a record whose CRC32 checksum fails), or one
  from another architecture, raises :class:`CheckpointError` naming the file and
  the tensors that do not match, and leaves the model and optimizer untouched.
"""

from __future__ import annotations

import os
import random
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .history import History

FORMAT = "dlcore.torch checkpoint"
VERSION = 1
_SHOW = 8  # how many mismatching tensor names an error lists

#: Optimizer state entries that have the shape of their parameter (the others,
#: such as Adam's ``step``, are scalars; factored optimizers keep other shapes).
PARAM_SHAPED_STATE = ("momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "square_avg",
                      "acc_delta", "sum", "ax", "prev", "step_size", "grad_avg")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read, or does not fit the model/optimizer given."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """There is no checkpoint file at the path."""


# --- random number generators ------------------------------------------------------------
def _loader_generators(loader) -> dict[str, torch.Generator]:
    """The torch.Generator objects a DataLoader shuffles with, by where they sit."""
    if loader is None:
        return {}
    found = {}
    for name, obj in (("generator", loader),
                      ("sampler.generator", getattr(loader, "sampler", None)),
                      ("batch_sampler.sampler.generator",
                       getattr(getattr(loader, "batch_sampler", None), "sampler", None))):
        gen = getattr(obj, "generator", None)
        if isinstance(gen, torch.Generator):
            found[name] = gen
    return found


def rng_state(train_loader=None) -> dict[str, Any]:
    """Every RNG state training uses, as tensors, lists, ints and floats (weights_only-safe)."""
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 (the global one, on purpose)
    state = {
        "python": {"version": int(version), "state": torch.tensor(mt, dtype=torch.int64),
                   "gauss": None if gauss is None else float(gauss)},
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "loader": {name: gen.get_state() for name, gen in _loader_generators(train_loader).items()},
    }
    return state


def _check_rng_state(state, train_loader, path) -> None:
    try:
        _ = int(state["python"]["version"]), state["python"]["state"].tolist()
        if state["numpy"]["keys"].numel() != 624:
            raise ValueError("NumPy MT19937 state must have 624 keys")
        if state["torch"].shape != torch.get_rng_state().shape:
            raise ValueError(f"torch CPU RNG state has shape {tuple(state['torch'].shape)}, "
                             f"expected {tuple(torch.get_rng_state().shape)}")
        for name, gen in _loader_generators(train_loader).items():
            saved = state["loader"].get(name)
            if saved is not None and saved.shape != gen.get_state().shape:
                raise ValueError(f"the DataLoader's {name} state has the wrong size")
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise CheckpointError(f"{path}: the saved random number generator states are damaged ({err})") from None


def set_rng_state(state: dict[str, Any], train_loader=None) -> None:
    """Restore what :func:`rng_state` saved (the loader's generators only if it is given)."""
    py = state["python"]
    random.setstate((py["version"], tuple(int(x) for x in py["state"].tolist()), py["gauss"]))
    npst = state["numpy"]
    np.random.set_state((npst["kind"], npst["keys"].numpy().astype(np.uint32),  # noqa: NPY002
                         npst["pos"], npst["has_gauss"], npst["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if torch.cuda.is_available() and state["cuda"]:
        for i, s in enumerate(state["cuda"][:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(s, i)
    for name, gen in _loader_generators(train_loader).items():
        if name in state["loader"]:
            gen.set_state(state["loader"][name])


# --- saving -------------------------------------------------------------------------------
def save_checkpoint(path, model, optimizer=None, scheduler=None, scaler=None, *, epoch: int,
                    history: History | None = None, train_loader=None, extra: dict | None = None) -> Path:
    """Save a training checkpoint to ``path`` atomically; returns the path.

    Args:
        epoch: the number of completed epochs (training resumes with the next one).
        history: the :class:`History` so far.
        train_loader: the training DataLoader, whose shuffling generator is saved.
        extra: anything else to keep (tensors, lists, dicts, numbers, strings).
    """
    path = Path(path)
    if isinstance(model, torch.nn.Module) and hasattr(model, "_orig_mod"):  # torch.compile wrapper
        model = model._orig_mod
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "epoch": int(epoch),
        "model_class": type(model).__name__,
        "model": model.state_dict(),
        "optimizer_class": type(optimizer).__name__ if optimizer is not None else None,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler_class": type(scheduler).__name__ if scheduler is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        "history": (history if history is not None else History()).to_state(),
        "rng": rng_state(train_loader),
        "extra": extra if extra is not None else {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable (POSIX); not possible on every platform
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return path
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return path


# --- loading ------------------------------------------------------------------------------
def _read(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointNotFoundError(f"no checkpoint file at {path}")
    # torch.load does not check the zip records' CRC32 checksums: flipped bytes inside a
    # tensor would load silently as wrong weights. zipfile checks every record.
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise CheckpointError(f"{path}: not a readable checkpoint; the file is truncated or corrupted "
                              f"({type(err).__name__}: {err})") from None
    if bad is not None:
        raise CheckpointError(f"{path}: the file is corrupted: its record {bad!r} fails its CRC32 check")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, bad pickle, refused global, ...
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise CheckpointError(f"{path}: not a readable checkpoint; the file is truncated or corrupted "
                              f"({type(err).__name__}: {first[:200]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a dlcore.torch checkpoint (written by save_checkpoint or fit)")
    missing = [k for k in ("epoch", "model", "history", "rng") if k not in payload]
    if missing or not isinstance(payload["model"], dict):
        raise CheckpointError(f"{path}: the checkpoint is incomplete (missing {missing or ['model']})")
    return payload


def _names(keys) -> str:
    keys = sorted(keys)
    more = f" and {len(keys) - _SHOW} more" if len(keys) > _SHOW else ""
    return ", ".join(keys[:_SHOW]) + more


def _check_model(path, payload, model) -> None:
    expected = model.state_dict()
    saved = payload["model"]
    missing = expected.keys() - saved.keys()
    extra = saved.keys() - expected.keys()
    shapes = [f"{k}: checkpoint {tuple(saved[k].shape)} vs model {tuple(expected[k].shape)}"
              for k in sorted(expected.keys() & saved.keys())
              if isinstance(saved[k], torch.Tensor) and saved[k].shape != expected[k].shape]
    not_tensors = [k for k in expected.keys() & saved.keys() if not isinstance(saved[k], torch.Tensor)]
    problems = []
    if missing:
        problems.append(f"missing from the checkpoint: {_names(missing)}")
    if extra:
        problems.append(f"in the checkpoint but not in the model: {_names(extra)}")
    if shapes:
        problems.append("mis-shaped: " + "; ".join(shapes[:_SHOW]) + (" ..." if len(shapes) > _SHOW else ""))
    if not_tensors:
        problems.append(f"not tensors: {_names(not_tensors)}")
    if problems:
        name = payload.get("model_class") or "another model"
        raise CheckpointError(f"{path}: the checkpoint ({name}) does not fit this {type(model).__name__}; "
                              + " | ".join(problems))


def _check_optimizer(path, payload, optimizer) -> None:
    saved = payload.get("optimizer")
    if saved is None:
        raise CheckpointError(f"{path}: the checkpoint has no optimizer state, but an optimizer was given")
    cls = payload.get("optimizer_class")
    if cls is not None and cls != type(optimizer).__name__:
        raise CheckpointError(f"{path}: the checkpoint's optimizer is {cls}, not {type(optimizer).__name__}")
    try:
        groups, state = saved["param_groups"], saved["state"]
        ours = optimizer.param_groups
        if len(groups) != len(ours):
            raise CheckpointError(f"{path}: the checkpoint's optimizer has {len(groups)} parameter "
                                  f"group(s), this one has {len(ours)}")
        params = {}
        for i, (g_saved, g_ours) in enumerate(zip(groups, ours)):
            if len(g_saved["params"]) != len(g_ours["params"]):
                raise CheckpointError(f"{path}: optimizer parameter group {i} holds "
                                      f"{len(g_saved['params'])} tensors in the checkpoint but "
                                      f"{len(g_ours['params'])} here")
            params.update(zip(g_saved["params"], g_ours["params"]))
        bad = []
        for pid, entry in state.items():
            if pid not in params:
                raise CheckpointError(f"{path}: the optimizer state refers to parameter {pid}, "
                                      f"which no parameter group holds")
            for key, value in entry.items():
                if (key in PARAM_SHAPED_STATE and isinstance(value, torch.Tensor)
                        and value.shape != params[pid].shape):
                    bad.append(f"param {pid} {key}: checkpoint {tuple(value.shape)} vs "
                               f"parameter {tuple(params[pid].shape)}")
        if bad:
            raise CheckpointError(f"{path}: optimizer state does not fit the parameters: "
                                  + "; ".join(bad[:_SHOW]))
    except (KeyError, TypeError, AttributeError) as err:
        raise CheckpointError(f"{path}: the optimizer state is damaged ({type(err).__name__}: {err})") from None


def _check_other(path, payload, scheduler, scaler) -> None:
    if scheduler is not None:
        if payload.get("scheduler") is None:
            raise CheckpointError(f"{path}: the checkpoint has no scheduler state, but a scheduler was given")
        cls = payload.get("scheduler_class")
        if cls is not None and cls != type(scheduler).__name__:
            raise CheckpointError(f"{path}: the checkpoint's scheduler is {cls}, not {type(scheduler).__name__}")
    try:
        History.from_state(payload["history"])
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise CheckpointError(f"{path}: the saved history is damaged ({err})") from None


def load_checkpoint(path, model, optimizer=None, scheduler=None, scaler=None, *, train_loader=None,
                    restore_rng: bool = True) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` (or ``fit(checkpoint=...)``).

    Everything is checked first; only then are the model, optimizer, scheduler,
    scaler and (with ``restore_rng``) the random generators, including
    ``train_loader``'s, set.

    Returns:
        ``{"epoch": completed epochs, "history": History, "extra": dict}``.

    Raises:
        CheckpointError: the file is unreadable (truncated, corrupted), is not a
            checkpoint, or does not fit (missing, extra or mis-shaped tensors, another
            optimizer); nothing has been changed. ``CheckpointNotFoundError`` (also a
            ``FileNotFoundError``) when there is no file.
    """
    path = Path(path)
    payload = _read(path)
    if hasattr(model, "_orig_mod"):  # torch.compile wrapper
        model = model._orig_mod
    _check_model(path, payload, model)
    if optimizer is not None:
        _check_optimizer(path, payload, optimizer)
    _check_other(path, payload, scheduler, scaler)
    if restore_rng:
        _check_rng_state(payload["rng"], train_loader, path)
    try:
        model.load_state_dict(payload["model"])
        if optimizer is not None:
            optimizer.load_state_dict(payload["optimizer"])
    except (RuntimeError, ValueError) as err:  # should not happen after the checks above
        raise CheckpointError(f"{path}: loading failed after the checks passed: {err}") from err
    if scheduler is not None:
        scheduler.load_state_dict(payload["scheduler"])
    if scaler is not None and scaler.is_enabled() and payload.get("scaler"):
        # A checkpoint saved without float16 AMP (on a CPU, or a bfloat16 GPU) has no scaler
        # state; the scaler then starts afresh (its state is only the current loss scale).
        scaler.load_state_dict(payload["scaler"])
    if restore_rng:
        set_rng_state(payload["rng"], train_loader)
    return {"epoch": int(payload["epoch"]), "history": History.from_state(payload["history"]),
            "extra": payload.get("extra", {})}

"""Train once, reuse afterwards: models cached by a hash of what made them (chapter 13).

A pretrained model is only worth caching if a stale one can never be mistaken for
a fresh one. :func:`cached_train` therefore names each checkpoint by a key, the
SHA-256 of

* the training **config** (a JSON-serialisable dict: data, epochs, learning rate...),
* the **code version** (a string; :func:`source_version` hashes the source code of
  the functions and classes that build and train the model),
* the **seed**, and
* the ``DLCORE_MAX_STEPS`` cap (a smoke run's three-batch model is not a real one).

Change any of them and the key changes, so the model is retrained and saved under
the new key; the old file is left alone. The checkpoint is written by
:func:`~dlcore.torch.checkpoint.save_checkpoint` (atomically) into
``dlcore.data.cache_dir() / "models"`` and read back by
:func:`~dlcore.torch.checkpoint.load_checkpoint`, i.e. with
``torch.load(weights_only=True)``: a cached file can hold tensors and numbers, never
code. A file that cannot be read, or does not fit the model, is reported in one line
and the model is retrained.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from .checkpoint import CheckpointError, CheckpointNotFoundError, load_checkpoint, save_checkpoint
from .devices import max_steps

__all__ = ["CacheInfo", "cache_key", "cached_train", "source_version"]

KEY_FORMAT = 1  # bump when the meaning of a key changes


@dataclass(frozen=True)
class CacheInfo:
    """What :func:`cached_train` did: ``trained`` is False when the model came from the cache."""

    key: str
    path: Path
    trained: bool
    seconds: float
    reason: str


def source_version(*objects) -> str:
    """A short hash of the source code of ``objects`` (functions, classes or modules).

    Editing any of them changes the result, so a cached model trained by old code is
    not reused. Objects whose source cannot be read (built-ins) contribute their
    qualified name only.
    """
    if not objects:
        raise ValueError("source_version needs at least one function, class or module")
    digest = hashlib.sha256()
    for obj in objects:
        try:
            text = inspect.getsource(obj)
        except (OSError, TypeError):
            text = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}"
        digest.update(text.encode())
    return digest.hexdigest()[:12]


def _canonical(config: dict) -> str:
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    try:
        return json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as err:
        raise TypeError(f"config must hold only JSON values (str, int, float, bool, None, "
                        f"lists and dicts), so that its hash is stable: {err}") from None


def cache_key(config: dict, *, code_version: str, seed: int) -> str:
    """The 16-hex-digit key of a trained model: SHA-256 of config, code version, seed and cap."""
    if not isinstance(code_version, str) or not code_version:
        raise TypeError(f"code_version must be a non-empty string, got {code_version!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    text = json.dumps({"format": KEY_FORMAT, "config": _canonical(config), "code": code_version,
                       "seed": seed, "max_steps": max_steps()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _default_dir() -> Path:
    from dlcore.data import cache_dir  # NumPy-only; imported here to keep this module light

    return cache_dir() / "models"


def cached_train(name: str, build: Callable[[], nn.Module], train: Callable[[nn.Module], Any], *,
                 config: dict, code_version: str, seed: int, directory=None,
                 verbose: bool = True) -> tuple[nn.Module, CacheInfo]:
    """Return the model ``train(build())`` would give, training it only if it is not cached.

    Args:
        name: a short file-name prefix, e.g. ``"digits04-cnn"`` (letters, digits, ``-_.``).
        build: makes the untrained model (called every time, also to receive cached weights).
        train: trains the model in place (its return value is ignored). It is called
            after :func:`~dlcore.torch.seed_everything` (``seed``), only when needed.
        config, code_version, seed: what the key hashes (see :func:`cache_key`).
        directory: where checkpoints live; default ``dlcore.data.cache_dir() / "models"``.
        verbose: print one line saying whether the model was trained or loaded.

    Returns:
        ``(model, info)``: the model in eval mode, and a :class:`CacheInfo`.
    """
    from .devices import seed_everything

    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_." for c in name):
        raise ValueError(f"name must be a non-empty file-name prefix (letters, digits, '-', '_', '.'), "
                         f"got {name!r}")
    key = cache_key(config, code_version=code_version, seed=seed)
    folder = Path(directory) if directory is not None else _default_dir()
    path = folder / f"{name}-{key}.pt"
    model = build()
    if not isinstance(model, nn.Module):
        raise TypeError(f"build() must return a torch.nn.Module, got {type(model).__name__}")
    start = time.perf_counter()
    try:
        info = load_checkpoint(path, model, restore_rng=False)
        if info["extra"].get("key") != key:
            raise CheckpointError(f"{path}: its stored key {info['extra'].get('key')!r} is not {key!r}")
        reason = "loaded from the cache"
        trained = False
    except CheckpointNotFoundError:
        reason = "no cached model with this key"
        trained = True
    except CheckpointError as err:
        reason = f"the cached file was unusable ({str(err)[:160]}); retrained"
        trained = True
        model = build()
    if trained:
        seed_everything(seed)
        model.train()
        train(model)
        save_checkpoint(path, model, epoch=0, extra={"key": key, "config": _canonical(config),
                                                     "code_version": code_version, "seed": seed})
    seconds = time.perf_counter() - start
    model.eval()
    if verbose:
        verb = "trained and cached" if trained else "loaded (weights_only=True), not retrained"
        print(f"{name}: {verb} in {seconds:.1f} s [key {key}, {path.parent}]")
    return model, CacheInfo(key=key, path=path, trained=trained, seconds=seconds, reason=reason)


"""Devices, seeds, mixed precision and the step cap (chapter 08).

* :func:`device` -- the best device here (cuda, then mps, then cpu); ``DLCORE_DEVICE`` overrides.
* :func:`seed_everything` -- one seed for Python, NumPy, torch and CUDA.
* :func:`amp_dtype` -- which autocast dtype a device should use, or None.
* :func:`max_steps` / :func:`capped` -- the ``DLCORE_MAX_STEPS`` batch cap of the
  full-size smoke run (``make smoke-full``): every loop stops after that many batches.
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Iterable, Iterator
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

DEVICE_ENV = "DLCORE_DEVICE"
MAX_STEPS_ENV = "DLCORE_MAX_STEPS"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def device(prefer: str | None = None) -> torch.device:
    """The device to compute on, as a ``torch.device``.

    Order of precedence: the environment variable ``DLCORE_DEVICE`` (e.g. ``cpu``,
    ``cuda``, ``cuda:1``, ``mps``), then ``prefer``, then the best available device:
    CUDA, then Apple's MPS, then the CPU.

    Raises:
        ValueError: the requested device is not a device name, or is not available here.
    """
    requested = os.environ.get(DEVICE_ENV, "").strip() or (prefer or "").strip()
    if not requested:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    where = f"{DEVICE_ENV}={requested!r}" if os.environ.get(DEVICE_ENV, "").strip() else f"prefer={requested!r}"
    try:
        dev = torch.device(requested.lower())
    except (RuntimeError, ValueError):
        raise ValueError(f"{where} is not a device; expected 'cpu', 'cuda', 'cuda:N' or 'mps'") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"{where} asks for CUDA, but torch sees no CUDA GPU here; use 'cpu'")
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"{where} asks for GPU {dev.index}, but only {count} GPU(s) exist (0..{count - 1})")
    elif dev.type == "mps" and not _mps_available():
        raise ValueError(f"{where} asks for Apple's MPS, which is not available here; use 'cpu'")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{where}: the book supports 'cpu', 'cuda' and 'mps', not {dev.type!r}")
    return dev


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python's ``random``, NumPy's global generator, torch and every CUDA device.

    With ``deterministic=True`` torch also picks deterministic kernels where it has
    them (``torch.use_deterministic_algorithms(True, warn_only=True)``, which warns
    instead of failing when an operation has none) and cuDNN stops benchmarking.
    Deterministic kernels can be slower; the default leaves torch's choice alone.
    """
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (legacy code and libraries draw from the global one)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        # cuBLAS needs this to be deterministic on CUDA >= 10.2 (read when CUDA starts).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def amp_dtype(dev: torch.device | str) -> torch.dtype | None:
    """The autocast dtype for ``dev``: None (no AMP), ``torch.bfloat16`` or ``torch.float16``.

    * CPU and MPS: None; the book trains in float32 there.
    * CUDA with compute capability >= 8.0 (A100, L4, RTX 30xx and newer): bfloat16,
      which has float32's range, so it needs no loss scaling.
    * Older CUDA GPUs (a Colab T4 is 7.5): float16, used with a ``GradScaler``.

    ``torch.cuda.is_bf16_supported()`` is deliberately not used: it answers True on
    a T4, where bfloat16 is emulated and slow.
    """
    dev = torch.device(dev)
    if dev.type != "cuda":
        return None
    major, minor = torch.cuda.get_device_capability(dev)
    return torch.bfloat16 if (major, minor) >= (8, 0) else torch.float16


def positive_int_env(name: str) -> int | None:
    """The positive integer in environment variable ``name``, or None when it is unset/blank."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"{name} must be a positive integer (at least 1), got {value!r}")
    return number


def max_steps() -> int | None:
    """The batch cap from ``DLCORE_MAX_STEPS`` (a positive integer), or None when unset."""
    return positive_int_env(MAX_STEPS_ENV)


def capped(iterable: Iterable[T], limit: int | None = None) -> Iterator[T]:
    """Yield at most ``limit`` items (default :func:`max_steps`; all of them when unset).

    For a notebook's own loops, so the full-size smoke run stays short::

        for xb, yb in capped(train_loader):
            ...
    """
    limit = max_steps() if limit is None else limit
    if limit is None:
        yield from iterable
    else:  # islice stops without fetching item limit + 1 (a DataLoader batch costs time)
        yield from itertools.islice(iterable, limit)

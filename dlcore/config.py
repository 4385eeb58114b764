"""Run-time settings shared by every notebook: size, seed and device.

Introduced in chapter 01. Every chapter's second code cell calls :func:`setup`,
which prints the size the notebook runs at, the device and the seed.

Two sizes exist:

* ``quick``: small data and few epochs; every notebook finishes in about a minute
  on two CPU cores and still shows the real effect. The default without a GPU.
* ``full``: real dataset sizes and epochs, designed for a Colab T4 GPU. The
  default when CUDA is available.

The environment variable ``DLCORE_SIZE`` (``quick`` or ``full``) overrides the
default, and ``DLCORE_SEED`` overrides the seed (default 0).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

import numpy as np

SIZES = ("quick", "full")
DEFAULT_SEED = 0


def _cuda_available() -> bool:
    """True when torch is installed and sees a CUDA GPU.

    torch is imported only if it is installed *and* the caller did not ask for a
    size explicitly, so ``import dlcore`` stays free of torch.
    """
    if importlib.util.find_spec("torch") is None:
        return False
    import torch  # noqa: PLC0415  (deliberately lazy)

    return bool(torch.cuda.is_available())


def get_size() -> str:
    """Return ``"quick"`` or ``"full"``, from ``DLCORE_SIZE`` or the hardware."""
    value = os.environ.get("DLCORE_SIZE", "").strip().lower()
    if value:
        if value not in SIZES:
            raise ValueError(f"DLCORE_SIZE must be one of {SIZES}, got {value!r}")
        return value
    return "full" if _cuda_available() else "quick"


def get_seed() -> int:
    """Return the seed from ``DLCORE_SEED`` (default 0)."""
    value = os.environ.get("DLCORE_SEED", str(DEFAULT_SEED))
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"DLCORE_SEED must be an integer, got {value!r}") from None


def rng(seed: int | None = None) -> np.random.Generator:
    """A fresh, seeded NumPy generator (seed from ``DLCORE_SEED`` by default)."""
    return np.random.default_rng(get_seed() if seed is None else seed)


def pick(quick, full, size: str | None = None):
    """Choose a setting by size: ``pick(quick=2_000, full=60_000)``."""
    return full if (size or get_size()) == "full" else quick


def describe_device(dev) -> str:
    """``"cuda (Tesla T4, 15.8 GB)"``, ``"mps (Apple GPU)"`` or ``"cpu (no GPU found)"``."""
    import torch  # noqa: PLC0415  (only the PyTorch chapters get here)

    dev = torch.device(dev)
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        return f"{dev} ({props.name}, {props.total_memory / 1e9:.1f} GB)"
    if dev.type == "mps":
        return "mps (Apple GPU)"
    return "cpu (no GPU found)" if not torch.cuda.is_available() else "cpu (chosen; a GPU exists)"


def _torch_setup(seed: int) -> tuple[str, str]:
    """Seed everything; return the device's name (``"cuda"``) and its description."""
    from dlcore.torch import device, seed_everything  # noqa: PLC0415  (imports torch)

    seed_everything(seed)
    dev = device()
    return str(dev), describe_device(dev)


@dataclass(frozen=True)
class Setup:
    """What :func:`setup` decided: size, device, seed and a seeded generator.

    ``device`` is ``"cpu (NumPy)"`` in Part I and a torch device name such as
    ``"cuda"`` or ``"cpu"`` with ``setup(torch=True)`` (``torch.device(cfg.device)`` works).
    """

    size: str
    device: str
    seed: int
    rng: np.random.Generator

    @property
    def quick(self) -> bool:
        return self.size == "quick"

    def pick(self, quick, full):
        """``quick`` in quick mode, ``full`` in full mode."""
        return full if self.size == "full" else quick


def setup(seed: int | None = None, *, torch: bool = False, verbose: bool = True,
          style: bool = True) -> Setup:
    """Decide the size, seed and device for a notebook and print them on one line.

    Args:
        seed: seed for the returned generator (default ``DLCORE_SEED`` or 0).
        torch: True in the PyTorch chapters: seed Python, NumPy and torch
            (:func:`dlcore.torch.seed_everything`) and report the device that
            :func:`dlcore.torch.device` picks, with the GPU's name and memory.
        verbose: print the one-line summary.
        style: apply the book's figure style (:func:`dlcore.plot.use_style`).

    Returns:
        A :class:`Setup` with ``size``, ``device``, ``seed`` and ``rng``.
    """
    seed = get_seed() if seed is None else int(seed)
    size = get_size()
    device = described = "cpu (NumPy)"
    if torch:
        device, described = _torch_setup(seed)
    if style:
        from .plot import use_style  # noqa: PLC0415  (matplotlib only when plotting)

        use_style()
    if verbose:
        print(f"size: {size} | device: {described} | seed: {seed}")
    return Setup(size=size, device=device, seed=seed, rng=np.random.default_rng(seed))

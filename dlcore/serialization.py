"""Saving and loading a module's parameters as ``.npz`` (introduced in chapter 06).

``save`` writes ``module.state_dict()`` (names as in PyTorch, e.g. ``"0.weight"``) to a
NumPy ``.npz`` archive; ``load`` reads one back into a module of the same architecture.
No pickle is involved, so loading a file cannot run code. The file is written to a
temporary file next to the target and then renamed over it, so an interrupted save
never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from dlcore.nn.module import Module


def save(module, path) -> None:
    """Write ``module.state_dict()`` to ``path`` (an ``.npz`` file), atomically.

    The file is written exactly at ``path``; give it an ``.npz`` extension by convention.
    """
    path = os.fspath(path)
    if not hasattr(module, "state_dict"):
        raise TypeError(f"save expects a dlcore Module, got {type(module).__name__}")
    state = module.state_dict()
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as file:
            np.savez(file, **state)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_path, path)  # atomic: readers see the old file or the new one
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


_NPZ_MAGIC = b"PK"  # an .npz file is a zip archive
_NPY_MAGIC = b"\x93NUMPY"


def load(module, path):
    """Load arrays saved by ``save`` into ``module`` in place; return the module.

    Every array is checked before any is copied (see ``Module.load_state_dict``): names,
    shapes, dtypes (real float32/float64 or integers; not complex, strings, records,
    booleans or float16), NaN or inf, and values too large for the parameter's dtype. On
    any error a ValueError names each bad array and the module is left unchanged.
    A ``.npy`` file (one array, from ``np.save``) or any other non-``.npz`` file is
    refused with a message saying so.
    """
    if not isinstance(module, Module):
        raise TypeError(f"load expects a dlcore Module to load into, got {type(module).__name__}")
    path = os.fspath(path)
    with open(path, "rb") as file:
        start = file.read(6)
    if start.startswith(_NPY_MAGIC):
        raise ValueError(
            f"{path} is a .npy file (a single array saved by np.save), not a .npz archive of "
            f"named arrays; save the model with dlcore.save(model, path)"
        )
    if not start.startswith(_NPZ_MAGIC):
        raise ValueError(f"{path} is not an .npz file written by dlcore.save (it does not start like a zip archive)")
    state = {}
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as error:  # a damaged zip, for example
        raise ValueError(f"{path} could not be read as an .npz archive: {error}") from None
    with archive:
        for name in archive.files:
            try:
                state[name] = archive[name]
            except ValueError as error:  # object arrays need pickle, which we refuse
                raise ValueError(
                    f"{path}: array {name!r} cannot be loaded without allow_pickle (it holds "
                    f"Python objects, and unpickling can run code): {error}"
                ) from None
            except Exception as error:
                raise ValueError(f"{path}: array {name!r} could not be read: {error}") from None
    try:
        module.load_state_dict(state)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    return module

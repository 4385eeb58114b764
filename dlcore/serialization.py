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


def save(module, path) -> None:
    """Write ``module.state_dict()`` to ``path`` (an ``.npz`` file), atomically.

    The file is written exactly at ``path``; give it an ``.npz`` extension by convention.
    """
    path = os.fspath(path)
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


def load(module, path):
    """Load arrays saved by ``save`` into ``module`` in place; return the module.

    Raises ValueError naming every missing, unexpected or mis-shaped array if the file
    does not match the module's architecture.
    """
    path = os.fspath(path)
    with np.load(path, allow_pickle=False) as archive:
        state = {name: archive[name] for name in archive.files}
    try:
        module.load_state_dict(state)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    return module

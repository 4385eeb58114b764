"""Default floating-point dtype for new parameters (introduced in chapter 05).

Parameters are float32 by default, as in PyTorch: half the memory and roughly twice the
speed of float64, and plenty of precision for training. Gradient checks need float64,
because a finite-difference step of 1e-6 is lost in float32's 7 significant digits::

    dlcore.set_default_dtype(np.float64)   # every layer built from now on is float64

Only *new* parameters are affected. Computations follow the dtype of their input: a
float32 batch gives float32 activations and gradients, a float64 batch float64 ones.
"""

from __future__ import annotations

import numpy as np

_ALLOWED = (np.dtype(np.float32), np.dtype(np.float64))
_default_dtype = np.dtype(np.float32)


def resolve_dtype(dtype=None) -> np.dtype:
    """Return ``dtype`` as a ``np.dtype``, or the default dtype when ``dtype`` is None.

    Raises ValueError for anything other than float32 or float64.
    """
    if dtype is None:
        return _default_dtype
    try:
        resolved = np.dtype(dtype)
    except TypeError as error:
        raise ValueError(f"dtype must be np.float32 or np.float64, got {dtype!r}") from error
    if resolved not in _ALLOWED:
        raise ValueError(f"dtype must be np.float32 or np.float64, got {resolved}")
    return resolved


def set_default_dtype(dtype) -> None:
    """Set the dtype of parameters created from now on: ``np.float32`` or ``np.float64``."""
    global _default_dtype
    _default_dtype = resolve_dtype(dtype)


def get_default_dtype() -> np.dtype:
    """Return the dtype new parameters get (``np.dtype('float32')`` unless changed)."""
    return _default_dtype

"""Weight initialisation (introduced in chapter 06) and the one default random generator.

Every random draw in ``dlcore`` goes through a ``numpy.random.Generator``. Functions and
layers accept ``generator=...``; without one they use the default generator of this
module, seeded with 0, so a notebook gives the same numbers on every run. Reseed it with
``manual_seed(seed)``. There is no other hidden random state.

The rules are PyTorch's (``torch.nn.init``), with ``fan_in = in_features`` for a Linear
weight of shape (out, in) and ``fan_in = in_channels * k * k`` for a Conv2d weight:

* He / Kaiming (for ReLU networks): ``std = gain / sqrt(fan)``, gain ``sqrt(2)`` for ReLU.
* Xavier / Glorot (for tanh and sigmoid): ``std = gain * sqrt(2 / (fan_in + fan_out))``.

A uniform distribution U(-b, b) has standard deviation b / sqrt(3), which is where the
``sqrt(3)`` and ``sqrt(6)`` in the uniform variants come from.
"""

from __future__ import annotations

import math

import numpy as np

from dlcore.nn.module import Parameter, real_number

_default_generator = np.random.default_rng(0)


def default_generator() -> np.random.Generator:
    """Return the generator used when no ``generator`` argument is given."""
    return _default_generator


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the default generator (like ``torch.manual_seed``) and return it."""
    global _default_generator
    _default_generator = np.random.default_rng(seed)
    return _default_generator


def _array_of(tensor) -> np.ndarray:
    """The ndarray to fill: a Parameter's ``.data`` or the array itself."""
    return tensor.data if isinstance(tensor, Parameter) else tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain PyTorch recommends for ``nonlinearity``: 'linear', 'sigmoid', 'tanh',
    'relu' or 'leaky_relu' (with ``param`` the negative slope, default 0.01)."""
    if nonlinearity in ("linear", "sigmoid", "conv2d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1.0 + slope**2))
    raise ValueError(
        f"unknown nonlinearity {nonlinearity!r}; "
        "use 'linear', 'sigmoid', 'tanh', 'relu' or 'leaky_relu'"
    )


def calculate_fan_in_and_fan_out(shape: tuple[int, ...]) -> tuple[int, int]:
    """Fan-in and fan-out of a weight of shape ``(out, in, *kernel)``, as in PyTorch."""
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a weight with at least 2 axes, got {shape}")
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fan(shape, mode: str) -> int:
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill ``tensor`` (a Parameter or ndarray) in place from U(a, b); return it."""
    a, b = real_number(a, "uniform_ a"), real_number(b, "uniform_ b")
    if a > b:
        raise ValueError(f"uniform_ needs a <= b, got a={a}, b={b}")
    array = _array_of(tensor)
    rng = generator if generator is not None else default_generator()
    array[...] = rng.uniform(a, b, size=array.shape)
    return tensor


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill ``tensor`` in place from N(mean, std^2); return it."""
    mean, std = real_number(mean, "normal_ mean"), real_number(std, "normal_ std", low=0.0)
    array = _array_of(tensor)
    rng = generator if generator is not None else default_generator()
    array[...] = rng.normal(mean, std, size=array.shape)
    return tensor


def zeros_(tensor):
    """Fill ``tensor`` with zeros in place; return it."""
    _array_of(tensor).fill(0)
    return tensor


def ones_(tensor):
    """Fill ``tensor`` with ones in place; return it."""
    _array_of(tensor).fill(1)
    return tensor


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="relu", generator=None):
    """He initialisation, uniform: U(-b, b) with ``b = gain * sqrt(3 / fan)``.

    ``tensor`` has shape ``(out, in, *kernel)``; ``a`` is the negative slope used when
    ``nonlinearity='leaky_relu'``. Keeps the variance of activations constant through
    ReLU layers (He et al., 2015).
    """
    array = _array_of(tensor)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(array.shape, mode))
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="relu", generator=None):
    """He initialisation, normal: N(0, std^2) with ``std = gain / sqrt(fan)``."""
    array = _array_of(tensor)
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(array.shape, mode))
    return normal_(tensor, 0.0, std, generator)


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """Xavier/Glorot initialisation, uniform: U(-b, b), ``b = gain*sqrt(6/(fan_in+fan_out))``."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(_array_of(tensor).shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """Xavier/Glorot initialisation, normal: ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(_array_of(tensor).shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)

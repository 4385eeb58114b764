"""``Optimizer``: what SGD and Adam share (introduced in chapter 06).

An optimizer holds a list of Parameters. ``zero_grad()`` clears their gradients and
``step()`` updates their ``.data`` in place from their ``.grad``.

NaN and inf policy: ``step()`` first checks every gradient. If one contains NaN or inf it
raises FloatingPointError and changes nothing, so a single bad batch cannot silently
turn the model into NaN. In the same way a gradient whose shape differs from its
parameter's (``p.grad = np.ones(3)`` for a (2, 3) parameter), or whose dtype is not
float32/float64, raises before any update instead of being broadcast.

Hyperparameters are checked when the optimizer is built, and ``lr`` again at every
step (a scheduler or a user may have changed it): each must be a finite real number in
its range, or ValueError says which one and why.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from dlcore.nn.module import Module, Parameter


class Optimizer:
    """Base class: keeps the parameters and the learning rate ``lr``.

    Args:
        params: an iterable of Parameters, usually ``net.parameters()``.
        lr: the learning rate, >= 0. Schedulers change ``optimizer.lr`` between steps.
    """

    def __init__(self, params, lr: float):
        who = type(self).__name__
        if isinstance(params, Module):
            raise TypeError(f"{who} got a {type(params).__name__} module; pass its parameters: net.parameters()")
        if callable(params) and not hasattr(params, "__iter__"):
            raise TypeError(
                f"{who} got the method {getattr(params, '__name__', 'parameters')} itself, not "
                f"its result: pass net.parameters() (call it, with the parentheses)"
            )
        if isinstance(params, Parameter):
            raise TypeError(f"{who} expects an iterable of Parameters; wrap a single one in a list: [param]")
        if isinstance(params, (str, bytes, dict)) or not hasattr(params, "__iter__"):
            raise TypeError(
                f"{who} expects an iterable of Parameters such as net.parameters(), got "
                f"{type(params).__name__}"
            )
        self.params = list(params)
        if not self.params:
            raise ValueError(
                f"{type(self).__name__} got an empty list of parameters; pass "
                f"net.parameters() of a network that has some"
            )
        for index, param in enumerate(self.params):
            if not isinstance(param, Parameter):
                raise TypeError(
                    f"{type(self).__name__} expects Parameters, but item {index} is a "
                    f"{type(param).__name__}; pass net.parameters()"
                )
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{type(self).__name__} got the same parameter more than once")
        check_hyperparameter(lr, "lr", type(self).__name__)
        self.lr = float(lr)
        self._shapes = [p.shape for p in self.params]

    def zero_grad(self) -> None:
        """Set the gradient of every parameter to zero."""
        for param in self.params:
            param.zero_grad()

    def step(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

    def _check_finite_gradients(self) -> None:
        """Raise, before any update, if ``lr`` is no longer valid, if a parameter or its
        gradient has another shape than when the optimizer was built, if a gradient is
        not float32/float64, or (FloatingPointError) if a gradient has NaN or inf."""
        who = type(self).__name__
        check_hyperparameter(self.lr, "lr", who)
        for index, (param, shape) in enumerate(zip(self.params, self._shapes, strict=True)):
            grad = param.grad
            if not isinstance(param.data, np.ndarray) or param.data.shape != shape:
                raise ValueError(
                    f"{who}.step(): parameter {index} had shape {shape} when the optimizer was "
                    f"built, but its data now has shape {np.shape(param.data)}; update "
                    f"param.data in place (param.data[...] = new) instead of replacing it"
                )
            if grad is None:
                raise ValueError(
                    f"{who}.step(): parameter {index} (shape {shape}) has no gradient (grad is "
                    f"None); call zero_grad() and backward() before step(), so no parameter "
                    f"was updated"
                )
            if not isinstance(grad, np.ndarray) or grad.shape != shape:
                raise ValueError(
                    f"{who}.step(): the gradient of parameter {index} has shape "
                    f"{np.shape(grad)}, but the parameter has shape {shape}; a gradient must "
                    f"have exactly its parameter's shape (nothing is broadcast), so no "
                    f"parameter was updated"
                )
            if grad.dtype not in (np.float32, np.float64):
                raise TypeError(
                    f"{who}.step(): the gradient of parameter {index} (shape {shape}) has dtype "
                    f"{grad.dtype}; it must be float32 or float64, so no parameter was updated"
                )
            if not np.isfinite(param.grad).all():
                raise FloatingPointError(
                    f"{type(self).__name__}.step(): the gradient of parameter {index} "
                    f"(shape {param.shape}) contains NaN or inf, so no parameter was updated. "
                    f"Check the inputs for NaN, or lower the learning rate if the loss was "
                    f"growing."
                )


def check_hyperparameter(
    value, name: str, who: str, upper: float | None = None, positive: bool = False
) -> None:
    """Raise ValueError unless ``value`` is a finite real number (not a bool) with
    ``0 <= value`` (``0 < value`` if ``positive``) and ``value < upper`` when given."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{who} {name} must be a finite number, got {value!r}")
    if positive and not value > 0:
        raise ValueError(f"{who} {name} must be a number > 0, got {value!r}")
    if not value >= 0:
        raise ValueError(f"{who} {name} must be a number >= 0, got {value!r}")
    if upper is not None and not value < upper:
        raise ValueError(f"{who} {name} must be in [0, {upper}), got {value!r}")

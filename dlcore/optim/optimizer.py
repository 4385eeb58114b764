"""``Optimizer``: what SGD and Adam share (introduced in chapter 06).

An optimizer holds a list of Parameters. ``zero_grad()`` clears their gradients and
``step()`` updates their ``.data`` in place from their ``.grad``.

NaN and inf policy: ``step()`` first checks every gradient. If one contains NaN or inf it
raises FloatingPointError and changes nothing, so a single bad batch cannot silently
turn the model into NaN.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from dlcore.nn.module import Parameter


class Optimizer:
    """Base class: keeps the parameters and the learning rate ``lr``.

    Args:
        params: an iterable of Parameters, usually ``net.parameters()``.
        lr: the learning rate, >= 0. Schedulers change ``optimizer.lr`` between steps.
    """

    def __init__(self, params, lr: float):
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

    def zero_grad(self) -> None:
        """Set the gradient of every parameter to zero."""
        for param in self.params:
            param.zero_grad()

    def step(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

    def _check_finite_gradients(self) -> None:
        """Raise FloatingPointError, before any update, if a gradient has NaN or inf."""
        for index, param in enumerate(self.params):
            if not np.isfinite(param.grad).all():
                raise FloatingPointError(
                    f"{type(self).__name__}.step(): the gradient of parameter {index} "
                    f"(shape {param.shape}) contains NaN or inf, so no parameter was updated. "
                    f"Check the inputs for NaN, or lower the learning rate if the loss was "
                    f"growing."
                )


def check_hyperparameter(value, name: str, who: str, upper: float | None = None) -> None:
    """Raise ValueError unless ``0 <= value`` (and ``value < upper`` when given)."""
    if not isinstance(value, Real) or not value >= 0:
        raise ValueError(f"{who} {name} must be a number >= 0, got {value!r}")
    if upper is not None and not value < upper:
        raise ValueError(f"{who} {name} must be in [0, {upper}), got {value!r}")

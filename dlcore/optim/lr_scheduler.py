"""Learning-rate schedules (introduced in chapter 06).

A scheduler changes ``optimizer.lr``. Call ``scheduler.step()`` once per epoch, after
the optimizer steps of that epoch, as in PyTorch::

    scheduler = StepLR(optimizer, step_size=10, gamma=0.5)
    for epoch in range(30):
        train_one_epoch()
        scheduler.step()
"""

from __future__ import annotations

import math


class LRScheduler:
    """Base class: remembers the starting learning rate and counts epochs.

    Subclasses give ``get_lr()``, the learning rate for epoch ``last_epoch``.
    """

    def __init__(self, optimizer):
        if not hasattr(optimizer, "lr"):
            raise TypeError(
                f"{type(self).__name__} expects an optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0

    def get_lr(self) -> float:
        raise NotImplementedError

    def step(self) -> None:
        """Move to the next epoch and set ``optimizer.lr`` for it."""
        self.last_epoch += 1
        self.optimizer.lr = self.get_lr()

    def get_last_lr(self) -> list[float]:
        """The current learning rate, in a list as in PyTorch (one entry per group)."""
        return [self.optimizer.lr]


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs:
    ``lr = base_lr * gamma ** (epoch // step_size)``."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        if not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR step_size must be a positive integer, got {step_size!r}")
        self.step_size = step_size
        self.gamma = float(gamma)

    def get_lr(self) -> float:
        return self.base_lr * self.gamma ** (self.last_epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """Follow half a cosine from ``base_lr`` down to ``eta_min`` over ``T_max`` epochs:
    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``.

    After ``T_max`` epochs the cosine continues and the rate rises again, as in PyTorch.
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):
        super().__init__(optimizer)
        if not isinstance(T_max, int) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR T_max must be a positive integer, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = float(eta_min)

    def get_lr(self) -> float:
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return self.eta_min + (self.base_lr - self.eta_min) * cosine

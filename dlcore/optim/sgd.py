"""``SGD``: stochastic gradient descent with momentum (introduced in chapter 06)."""

from __future__ import annotations

import numpy as np

from dlcore.optim.optimizer import Optimizer, check_hyperparameter


class SGD(Optimizer):
    """Stochastic gradient descent, with exactly ``torch.optim.SGD``'s update rule.

    For each parameter p with gradient g, on every ``step()``::

        g = g + weight_decay * p                 # L2 penalty, added to the gradient
        b = g            (first step)            # momentum buffer
        b = momentum * b + g   (later steps)
        g = g + momentum * b  if nesterov  else  b
        p = p - lr * g

    With ``momentum=0`` this is plain ``p = p - lr * g``.

    Args:
        params: iterable of Parameters.
        lr: learning rate.
        momentum: momentum factor in [0, 1).
        weight_decay: L2 penalty coefficient.
        nesterov: use Nesterov momentum (needs momentum > 0).
    """

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, lr)
        check_hyperparameter(momentum, "momentum", "SGD", upper=1.0)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise ValueError(f"SGD nesterov must be True or False, got {nesterov!r}")
        check_hyperparameter(weight_decay, "weight_decay", "SGD")
        if nesterov and momentum == 0:
            raise ValueError("SGD with nesterov=True needs a momentum > 0")
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self.nesterov = bool(nesterov)
        self.momentum_buffers = [None] * len(self.params)

    def step(self) -> None:
        """Update every parameter in place from its ``.grad``."""
        self._check_finite_gradients()
        for index, p in enumerate(self.params):
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                buffer = self.momentum_buffers[index]
                if buffer is None:
                    buffer = self.momentum_buffers[index] = g.copy()
                else:
                    buffer *= self.momentum
                    buffer += g
                g = g + self.momentum * buffer if self.nesterov else buffer
            p.data -= self.lr * g

"""``Adam``: adaptive moment estimation (introduced in chapter 06)."""

from __future__ import annotations

import math

import numpy as np

from dlcore.optim.optimizer import Optimizer, check_hyperparameter


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), with exactly ``torch.optim.Adam``'s update rule.

    For each parameter p with gradient g, at step t = 1, 2, ...::

        g = g + weight_decay * p                       # L2 penalty (not AdamW)
        m = beta1 * m + (1 - beta1) * g                # running mean of gradients
        v = beta2 * v + (1 - beta2) * g**2             # running mean of squared gradients
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    The divisions by ``1 - beta**t`` undo the bias of m and v towards their zero start.
    The updates are done in place with one scratch array per parameter, so a step
    allocates no new arrays and keeps the parameters' dtype.

    Args:
        params: iterable of Parameters.
        lr: learning rate.
        betas: (beta1, beta2), decay rates of the two running means, each in [0, 1).
        eps: added to the denominator for numerical safety.
        weight_decay: L2 penalty coefficient.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        beta1, beta2 = betas
        check_hyperparameter(beta1, "betas[0]", "Adam", upper=1.0)
        check_hyperparameter(beta2, "betas[1]", "Adam", upper=1.0)
        check_hyperparameter(eps, "eps", "Adam")
        check_hyperparameter(weight_decay, "weight_decay", "Adam")
        self.betas = (float(beta1), float(beta2))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.t = 0
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self._scratch = [np.empty_like(p.data) for p in self.params]

    def step(self) -> None:
        """Update every parameter in place from its ``.grad``."""
        self._check_finite_gradients()
        self.t += 1
        beta1, beta2 = self.betas
        step_size = self.lr / (1 - beta1**self.t)
        bias_correction2_sqrt = math.sqrt(1 - beta2**self.t)
        for p, m, v, tmp in zip(self.params, self.m, self.v, self._scratch, strict=True):
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            np.subtract(g, m, out=tmp)  # m += (1 - beta1) * (g - m)
            tmp *= 1 - beta1
            m += tmp
            v *= beta2  # v = beta2 * v + (1 - beta2) * g * g
            np.multiply(g, g, out=tmp)
            tmp *= 1 - beta2
            v += tmp
            np.sqrt(v, out=tmp)  # tmp = sqrt(v) / sqrt(1 - beta2**t) + eps
            tmp /= bias_correction2_sqrt
            tmp += self.eps
            np.divide(m, tmp, out=tmp)  # p -= step_size * m / tmp
            tmp *= step_size
            p.data -= tmp

"""``Adam``: adaptive moment estimation (introduced in chapter 06)."""

from __future__ import annotations

import math

import numpy as np

from dlcore.optim.optimizer import Optimizer, check_hyperparameter


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), with ``torch.optim.Adam``'s update rule and arithmetic.

    For each parameter p with gradient g, at step t = 1, 2, ...::

        g = g + weight_decay * p                       # L2 penalty (not AdamW)
        m = beta1 * m + (1 - beta1) * g                # running mean of gradients
        v = beta2 * v + (1 - beta2) * g**2             # running mean of squared gradients
        v_max = max(v_max, v); use v_max for v         # only with amsgrad=True
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    The divisions by ``1 - beta**t`` undo the bias of m and v towards their zero start.

    The operations are done in the order PyTorch's single-tensor Adam does them (its
    ``lerp`` for m, which for ``beta1 < 0.5`` computes ``g - (g - m) * beta1``, so that
    ``beta1 = 0`` gives m = g exactly; ``(1 - beta2) * g * g`` for v; and
    ``p + (-step_size * m) / denominator``), so in float32 as in float64 the results agree
    with torch's to within rounding (torch's vectorised kernels may fuse a multiply and an
    add, which can change the last bit). The updates are done in place with two scratch
    arrays per parameter, so a step allocates no new arrays and keeps the parameters' dtype.

    Args:
        params: iterable of Parameters, usually ``net.parameters()``.
        lr: learning rate, a finite number >= 0.
        betas: (beta1, beta2), decay rates of the two running means, each in [0, 1).
        eps: added to the denominator for numerical safety, > 0.
        weight_decay: L2 penalty coefficient, >= 0.
        amsgrad: use the maximum of all v so far (Reddi et al., 2018), as in torch.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(params, lr)
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise ValueError(f"Adam betas must be a pair (beta1, beta2), e.g. (0.9, 0.999), got {betas!r}")
        beta1, beta2 = betas
        check_hyperparameter(beta1, "betas[0]", "Adam", upper=1.0)
        check_hyperparameter(beta2, "betas[1]", "Adam", upper=1.0)
        check_hyperparameter(eps, "eps", "Adam", positive=True)
        check_hyperparameter(weight_decay, "weight_decay", "Adam")
        if not isinstance(amsgrad, (bool, np.bool_)):
            raise ValueError(f"Adam amsgrad must be True or False, got {amsgrad!r}")
        self.betas = (float(beta1), float(beta2))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.amsgrad = bool(amsgrad)
        self.t = 0
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self.v_max = [np.zeros_like(p.data) for p in self.params] if self.amsgrad else None
        self._scratch = [(np.empty_like(p.data), np.empty_like(p.data)) for p in self.params]

    def step(self) -> None:
        """Update every parameter in place from its ``.grad``."""
        self._check_finite_gradients()
        self.t += 1
        beta1, beta2 = self.betas
        step_size = self.lr / (1 - beta1**self.t)
        bias_correction2_sqrt = math.sqrt(1 - beta2**self.t)
        weight = 1 - beta1  # m = lerp(m, g, weight), as torch's exp_avg.lerp_(grad, 1 - beta1)
        for index, p in enumerate(self.params):
            m, v = self.m[index], self.v[index]
            tmp, tmp2 = self._scratch[index]
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            np.subtract(g, m, out=tmp)  # tmp = g - m
            if weight < 0.5:  # torch's lerp: m + weight * (g - m) ...
                tmp *= weight
                m += tmp
            else:  # ... or g - (g - m) * (1 - weight), exact for weight = 1
                tmp *= p.data.dtype.type(1) - p.data.dtype.type(weight)
                np.subtract(g, tmp, out=m)
            v *= beta2  # v = beta2 * v + ((1 - beta2) * g) * g
            np.multiply(g, 1 - beta2, out=tmp)
            tmp *= g
            v += tmp
            if self.amsgrad:
                np.maximum(self.v_max[index], v, out=self.v_max[index])
                v = self.v_max[index]
            np.sqrt(v, out=tmp)  # tmp = sqrt(v) / sqrt(1 - beta2**t) + eps
            tmp /= bias_correction2_sqrt
            tmp += self.eps
            np.multiply(m, -step_size, out=tmp2)  # p += (-step_size * m) / tmp
            tmp2 /= tmp
            p.data += tmp2

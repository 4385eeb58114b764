"""``Dropout``: randomly zero activations during training (introduced in chapter 07)."""

from __future__ import annotations

from numbers import Real

import numpy as np

from dlcore.nn.init import default_generator
from dlcore.nn.module import Module, as_float_array, check_grad_shape


class Dropout(Module):
    """Inverted dropout.  x: any shape -> same shape.

    In training mode each element is zeroed with probability ``p`` and the survivors are
    multiplied by ``1 / (1 - p)``, so the expected output equals the input and nothing
    has to change at test time. In evaluation mode (``eval()``) it is the identity.

    Args:
        p: probability of zeroing an element, 0 <= p <= 1 (p = 1 zeroes everything).
        generator: ``numpy.random.Generator`` for the masks; default: the shared
            generator of ``dlcore.nn.init``.
    """

    def __init__(self, p: float = 0.5, generator: np.random.Generator | None = None):
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout probability p must be between 0 and 1, got {p!r}")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(
                f"Dropout generator must be a numpy.random.Generator (np.random.default_rng(seed)), "
                f"got {type(generator).__name__}"
            )
        self.p = float(p)
        self.generator = generator
        self._mask = None

    def forward(self, x):
        x = as_float_array(x, "Dropout")
        self._shape = x.shape
        if not self.training or self.p == 0.0:
            self._mask = 1  # identity
            return x
        rng = self.generator if self.generator is not None else default_generator()
        keep = rng.random(x.shape) >= self.p
        scale = 0.0 if self.p == 1.0 else 1.0 / (1.0 - self.p)
        self._mask = keep.astype(x.dtype) * x.dtype.type(scale)  # mask / (1 - p)
        return x * self._mask

    def backward(self, grad_output):
        """dL/dx = grad_output * mask / (1 - p): the same elements are dropped."""
        mask = self._cached("_mask")
        return check_grad_shape(grad_output, self._shape, "Dropout") * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"

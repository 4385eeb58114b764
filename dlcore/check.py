"""Gradient checking: compare a backward pass with finite differences (chapter 05).

``numerical_gradient`` nudges each entry of an array up and down and watches a scalar
function change. ``gradcheck`` uses it to test a whole layer: its input gradient and the
gradient of every parameter. Both need float64: a step of 1e-6 is below float32's
resolution (about 1e-7 relative), so in float32 the differences would be mostly noise.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from dlcore.nn.init import default_generator


def _check_eps(eps) -> float:
    if isinstance(eps, bool) or not isinstance(eps, Real) or not math.isfinite(eps) or not eps > 0:
        raise ValueError(f"the finite-difference step eps must be a finite number > 0, got {eps!r}")
    return float(eps)


def _scalar(value, what: str) -> float:
    """``value`` as a float, raising if it is not one number or is NaN or inf."""
    if np.size(value) != 1:
        raise ValueError(f"{what} must return one number (a scalar), got an array of shape {np.shape(value)}")
    result = float(np.asarray(value).reshape(()))
    if not math.isfinite(result):
        raise FloatingPointError(f"{what} returned {result}, so no finite difference can be taken")
    return result


def _require_float64(array: np.ndarray, what: str) -> None:
    if not isinstance(array, np.ndarray) or array.dtype != np.float64:
        dtype = getattr(array, "dtype", type(array).__name__)
        raise TypeError(
            f"gradient checks need float64 arrays, but {what} is {dtype}; build the layer "
            f"after dlcore.set_default_dtype(np.float64) and use x.astype(np.float64)"
        )


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar function ``f`` at ``x``.

    ``grad[i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` for every entry i. The error
    is of order eps^2, much smaller than the eps of one-sided differences.

    ``x`` (a float64 array of any shape) is changed in place while ``f`` is evaluated and
    restored afterwards, so ``f`` may ignore its argument and read ``x`` itself, for
    example through a layer's ``weight.data``.

    Returns: an array of ``x``'s shape.
    """
    _require_float64(x, "x")
    eps = _check_eps(eps)
    if not callable(f):
        raise TypeError(f"numerical_gradient needs a function f, got {type(f).__name__}")
    grad = np.zeros_like(x)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)  # views of x and grad
    if not np.shares_memory(flat_x, x):
        raise ValueError("numerical_gradient needs a contiguous array x to perturb in place")
    for i in range(flat_x.size):
        original = flat_x[i]
        try:
            flat_x[i] = original + eps
            f_plus = _scalar(f(x), "f")
            flat_x[i] = original - eps
            f_minus = _scalar(f(x), "f")
        finally:
            flat_x[i] = original
        flat_grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """Norm-wise relative error ``|a - n| / (|a| + |n|)``, 0.0 when both are zero.

    Measured over the whole array, so one tiny entry with a large relative error cannot
    dominate the result. The two arrays must have the same shape (nothing is broadcast);
    NaN in either gives NaN, which fails every comparison with a tolerance.
    """
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    if analytic.shape != numeric.shape:
        raise ValueError(
            f"relative_error needs two arrays of the same shape, got {analytic.shape} and {numeric.shape}"
        )
    if not (np.isfinite(analytic).all() and np.isfinite(numeric).all()):
        return float("nan")
    denominator = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    if denominator == 0:
        return 0.0
    return float(np.linalg.norm(analytic - numeric) / denominator)


def gradcheck(module, x, *args, eps: float = 1e-6, generator=None) -> float:
    """Check ``module.backward`` against finite differences; return the relative error.

    The module's output ``y = module(x, *args)`` is reduced to a scalar with a fixed random
    projection, ``L = sum(r * y)`` with r ~ N(0, 1), so every output entry matters. Then
    ``backward(r)`` is compared with the numerical gradient of L for the input x and for
    every parameter. The result is the largest of the norm-wise relative errors (see
    ``relative_error``). A correct layer scores below about 1e-7; a wrong backward far
    above 1e-2.

    Args:
        module: a Module in float64 (layers, losses and Sequential all work). Its forward
            must be deterministic: for Dropout in training mode, reseed its generator.
        x: float64 input, the first argument of forward.
        *args: further arguments of forward, e.g. a loss's target. Not differentiated.
        eps: finite-difference step.
        generator: ``numpy.random.Generator`` for r.

    Parameter gradients, parameter values and buffers (BatchNorm's running statistics)
    are restored afterwards.
    """
    _require_float64(x, "the input x")
    eps = _check_eps(eps)
    x = np.ascontiguousarray(x)
    params = dict(module.named_parameters())
    for name, param in params.items():
        _require_float64(param.data, f"parameter {name!r}")
    saved_grads = {name: p.grad.copy() for name, p in params.items()}
    saved_state = module.state_dict()
    rng = generator if generator is not None else default_generator()

    y = np.asarray(module(x, *args))
    r = rng.standard_normal(y.shape)

    def loss(_):
        return np.sum(r * module(x, *args))

    try:
        module.zero_grad()
        module(x, *args)
        analytic = {"input": module.backward(r if r.ndim else float(r))}
        analytic.update({name: p.grad.copy() for name, p in params.items()})
        numeric = {"input": numerical_gradient(loss, x, eps)}
        numeric.update({name: numerical_gradient(loss, p.data, eps) for name, p in params.items()})
    finally:
        module.load_state_dict(saved_state)
        for name, param in params.items():
            param.grad[...] = saved_grads[name]
    if analytic["input"] is None:
        raise ValueError("gradcheck needs the input gradient; set module.needs_input_grad = True")
    errors = [relative_error(np.asarray(analytic[key]), numeric[key]) for key in analytic]
    if any(math.isnan(error) for error in errors):  # max() would silently skip a NaN
        return float("nan")
    return max(errors)

"""``Parameter`` and ``Module``: the base of every layer (introduced in chapter 05).

A layer is a small object with two methods side by side:

* ``forward(x)`` computes the output and keeps what the backward pass will need;
* ``backward(grad_output)`` receives dL/d(output), **adds** dL/d(parameter) into each
  parameter's ``.grad``, and returns dL/d(input) for the layer below.

Gradients accumulate, as in PyTorch, so a training step calls ``zero_grad()`` first.
``Module`` finds parameters and sub-layers by looking at the instance's attributes, so a
new layer only has to assign them (``self.weight = Parameter(...)``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from numbers import Real

import numpy as np

from dlcore.dtype import resolve_dtype


class Parameter:
    """A trainable array and the gradient accumulated for it.

    ``Parameter(array)`` copies the array and keeps its dtype when it is float32 or
    float64; other data (lists, integers) gets ``dtype``, by default
    ``dlcore.get_default_dtype()``.

    Attributes:
        data: the values, an ndarray of any shape.
        grad: dL/d(data), an ndarray of the same shape and dtype, zeros at creation.
    """

    def __init__(self, data, dtype=None):
        if isinstance(data, (str, bytes)) or data is None:
            raise TypeError(f"Parameter needs an array of numbers, got {type(data).__name__}")
        keep_dtype = isinstance(data, np.ndarray)  # lists and scalars get the default dtype
        if not keep_dtype:
            try:
                data = np.asarray(data)
            except ValueError as error:  # ragged nested lists
                raise TypeError(f"Parameter needs an array of numbers: {error}") from None
        if data.dtype.kind not in "biuf":  # complex would silently lose its imaginary part
            raise TypeError(f"Parameter needs real numbers, got dtype {data.dtype}")
        if dtype is None and keep_dtype and data.dtype.kind == "f":
            dtype = data.dtype
        self.data = np.array(data, dtype=resolve_dtype(dtype))  # always our own copy
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def zero_grad(self) -> None:
        """Set ``grad`` to zeros in place."""
        self.grad.fill(0)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"


class Module:
    """Base class of all layers, losses and networks.

    Subclasses implement ``forward`` and ``backward``. Parameters and sub-modules are
    ordinary attributes: ``parameters()`` finds this module's own parameters in the order
    they were assigned, then those of each sub-module, as PyTorch does.

    Attributes:
        training: True in training mode (the default), False after ``eval()``. Only
            Dropout and BatchNorm1d behave differently.
        needs_input_grad: set it to False on the first layer of a network: its input is
            data, whose gradient nobody uses. Layers whose input gradient is expensive
            (Linear, Conv2d) then skip computing it and return None from ``backward``,
            like a PyTorch function whose ``ctx.needs_input_grad`` is False.
    """

    training: bool = True
    needs_input_grad: bool = True
    _buffer_names: tuple[str, ...] = ()

    # -- the two methods every layer implements ---------------------------------------
    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} must implement backward()")

    def __call__(self, *inputs):
        # If forward raises, what an earlier forward cached must not be used by backward:
        # that would silently give the gradient of the previous batch.
        self._forward_failed = True
        output = self.forward(*inputs)
        self._forward_failed = False
        return output

    # -- helpers for subclasses --------------------------------------------------------
    def _cached(self, name: str):
        """Return what ``forward`` stored under ``name``; raise if forward never ran."""
        self._check_forward_succeeded()
        value = getattr(self, name, None)
        if value is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward() was called before forward(): call the "
                f"layer on an input first (y = layer(x)), then backward(grad_of_y)."
            )
        return value

    def _check_forward_succeeded(self) -> None:
        """Raise if the last call of this module raised (its caches are stale)."""
        if getattr(self, "_forward_failed", False):
            raise RuntimeError(
                f"{type(self).__name__}.backward() was called after the last forward() raised "
                f"an error, so there is nothing to differentiate: call the layer on a valid "
                f"input again first"
            )

    def register_buffer(self, name: str, array: np.ndarray) -> None:
        """Store a non-trainable array (like BatchNorm's running mean) that is saved in
        ``state_dict()`` but is not returned by ``parameters()``."""
        self._buffer_names = (*self._buffer_names, name)
        setattr(self, name, array)

    # -- walking the tree of modules ---------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Yield ``(name, module)`` for each direct sub-module."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator[Module]:
        """Yield each direct sub-module."""
        for _, module in self.named_children():
            yield module

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield ``(name, parameter)`` pairs, with dotted names as in PyTorch
        (``"0.weight"`` is the weight of the first layer of a Sequential): this module's
        own parameters first, then those of each sub-module."""
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child.named_parameters(prefix + name + ".")

    def parameters(self) -> Iterator[Parameter]:
        """Yield every Parameter of this module and of its sub-modules."""
        for _, parameter in self.named_parameters():
            yield parameter

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(name, array)`` for every buffer (e.g. ``"1.running_mean"``)."""
        for name in self._buffer_names:
            yield prefix + name, getattr(self, name)
        for child_name, child in self.named_children():
            yield from child.named_buffers(prefix + child_name + ".")

    def zero_grad(self) -> None:
        """Set the gradient of every parameter to zero."""
        for parameter in self.parameters():
            parameter.zero_grad()

    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode, here and in sub-modules."""
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"train(mode) takes True or False, got {mode!r}")
        self.training = bool(mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode: the same as ``train(False)``."""
        return self.train(False)

    # -- saving and loading ------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Return ``{name: array}`` for every parameter and buffer.

        The arrays are **copies**, so a snapshot taken during training stays as it was
        (PyTorch returns references, which then change as training goes on).
        """
        state = {}
        self._collect_state(state, prefix="")
        return state

    def _collect_state(self, state: dict, prefix: str) -> None:
        """PyTorch's order: own parameters, own buffers, then each sub-module's."""
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                state[prefix + name] = value.data.copy()
        for name in self._buffer_names:
            state[prefix + name] = np.array(getattr(self, name), copy=True)
        for name, child in self.named_children():
            child._collect_state(state, prefix + name + ".")

    def _named_state_targets(self, prefix: str = ""):
        """Yield ``(full_name, module, local_name, array)`` for every parameter and buffer,
        in ``state_dict()`` order."""
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, self, name, value.data
        for name in self._buffer_names:
            yield prefix + name, self, name, getattr(self, name)
        for name, child in self.named_children():
            yield from child._named_state_targets(prefix + name + ".")

    def _check_state_value(self, name: str, array: np.ndarray) -> str | None:
        """Extra checks a layer makes on an array it is about to load (e.g. a variance
        must not be negative); return a description of the problem, or None."""
        return None

    def load_state_dict(self, state_dict, strict: bool = True) -> None:
        """Copy arrays from ``state_dict`` into this module's parameters and buffers.

        The copy is in place (so an optimizer that holds the parameters keeps working)
        and casts to each parameter's dtype. **Every** array is checked before any is
        copied, so on an error the module is left exactly as it was. Missing names,
        unexpected names, arrays of the wrong shape, arrays that are not real numbers
        (complex, strings, records, booleans, float16), and arrays with NaN or inf or with
        values too large for the parameter's dtype raise one ValueError that lists all of
        them. With ``strict=False`` missing and unexpected names are ignored; the other
        problems never are.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(
                f"load_state_dict expects a dict of name -> array (as returned by "
                f"state_dict()), got {type(state_dict).__name__}"
            )
        targets = {name: (module, local, array) for name, module, local, array in self._named_state_targets()}
        missing = [name for name in targets if name not in state_dict]
        unexpected = [name for name in state_dict if name not in targets]
        bad = []
        arrays = {}
        for name, (module, local, target) in targets.items():
            if name not in state_dict:
                continue
            problem, array = _check_loadable(state_dict[name], target)
            if problem is None:
                problem = module._check_state_value(local, array)
            if problem is None:
                arrays[name] = array
            else:
                bad.append(f"{name}: {problem}")
        problems = []
        if strict and missing:
            problems.append(f"missing arrays: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected arrays: {unexpected}")
        if bad:
            problems.append("arrays that cannot be loaded: " + "; ".join(bad))
        if problems:
            raise ValueError(
                f"cannot load state into {type(self).__name__} (nothing was changed): "
                + ", ".join(problems)
            )
        for name, array in arrays.items():
            target = targets[name][2]
            np.copyto(target, array, casting="unsafe")  # safe: checked by _check_loadable

    # -- printing ----------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of ``repr(layer)``; subclasses override it."""
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in children:
            child_text = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_text}")
        lines.append(")")
        return "\n".join(lines)


# -- input checking shared by the layers ---------------------------------------------
_DTYPE_HINT = "use float32 or float64 (e.g. x.astype(np.float32))"


def reject_unsupported_dtype(dtype: np.dtype, who: str, what: str = "input") -> None:
    """Raise TypeError unless ``dtype`` is a real number type dlcore computes with.

    The float16 policy: dlcore rejects float16 everywhere (layers, losses, optimizers,
    ``load``), as ``Parameter`` does, because its 3 significant digits and its maximum of
    65504 give silent wrong answers (a squared error of 300**2 is inf). Convert to
    float32 first.
    """
    if dtype == np.float16:
        raise TypeError(f"{who} does not accept float16 {what}: {_DTYPE_HINT}")
    if dtype.kind == "f" and dtype not in (np.float32, np.float64):
        raise TypeError(f"{who} does not accept {dtype} {what}: {_DTYPE_HINT}")
    if dtype.kind not in "biuf":
        raise TypeError(f"{who} expected a real-valued {what}, got dtype {dtype}: {_DTYPE_HINT}")


def as_float_array(x, who: str, what: str = "input") -> np.ndarray:
    """Return ``x`` as a float32 or float64 ndarray without copying float input.

    Integer and boolean input is converted to the default dtype; float32 and float64
    input is returned unchanged, so the dtype of a computation follows its input.
    float16, complex, string and object input raises TypeError (see
    ``reject_unsupported_dtype``).
    """
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{who} expected an array of numbers as {what}, got {type(x).__name__}")
    try:
        array = np.asarray(x)
    except ValueError as error:  # ragged nested lists
        raise TypeError(f"{who} expected an array of numbers as {what}: {error}") from None
    reject_unsupported_dtype(array.dtype, who, what)
    if array.dtype.kind in "biu":
        return array.astype(resolve_dtype(None))
    return array


def check_grad_shape(grad_output, expected_shape, who: str) -> np.ndarray:
    """Return ``grad_output`` as a float array, raising ValueError unless it has exactly
    the shape of the forward output (a gradient has the shape of what it differentiates;
    nothing is broadcast or reshaped), and TypeError for float16, complex or non-numbers."""
    grad_output = as_float_array(grad_output, f"{who}.backward", "grad_output")
    if grad_output.shape != tuple(expected_shape):
        raise ValueError(
            f"{who}.backward expected grad_output of shape {tuple(expected_shape)} "
            f"(the shape of the forward output), got {grad_output.shape}"
        )
    return grad_output


def shape_text(*dims) -> str:
    """Format a shape pattern for error messages: ``shape_text("N", 3)`` -> ``"(N, 3)"``."""
    return "(" + ", ".join(str(d) for d in dims) + ")"


def real_number(value, what: str, *, low=None, high=None, low_open=False, high_open=False) -> float:
    """Return ``value`` as a finite float, raising ValueError unless it is a real number
    (not a bool, not NaN or inf) within the given bounds."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Real, np.floating, np.integer)):
        raise ValueError(f"{what} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{what} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{what} must be {'<' if high_open else '<='} {high}, got {value}")
    return value


def integer(value, what: str) -> int:
    """Return ``value`` as an int, raising ValueError unless it is a whole number
    (an int or a NumPy integer, not a bool or a float)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    return int(value)


def _check_loadable(value, target: np.ndarray):
    """Check that ``value`` can be copied into ``target`` exactly as numbers.

    Returns ``(problem, array)``: problem is None, or a text saying what is wrong."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        return f"not an array ({error})", None
    if array.dtype.kind not in "iuf" or array.dtype == np.float16 or (
        array.dtype.kind == "f" and array.dtype not in (np.float32, np.float64)
    ):
        kind = {"b": "booleans", "f": "dlcore does not take float16 or extended floats"}.get(
            array.dtype.kind, "not real numbers"
        )
        return f"dtype {array.dtype} ({kind}); expected float32, float64 or integers", None
    if array.shape != target.shape:
        return f"expected shape {target.shape}, got {array.shape} (wrong shape)", None
    if target.dtype.kind == "f":
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            count = int(array.size - np.count_nonzero(np.isfinite(array)))
            return f"contains NaN or inf ({count} of {array.size} values)", None
        limit = np.finfo(target.dtype).max
        if array.size and np.abs(array).max() > limit:
            return (
                f"values up to {np.abs(array).max():.3g} do not fit in {target.dtype} "
                f"(largest {limit:.3g}); they would load as inf"
            ), None
    else:  # an integer buffer (a counter): whole numbers in range only
        if array.dtype.kind == "f" and not (np.isfinite(array).all() and (array == np.round(array)).all()):
            return f"expected whole numbers for a {target.dtype} array, got {array}", None
        info = np.iinfo(target.dtype)
        if array.size and (array.min() < info.min or array.max() > info.max):
            return f"values do not fit in {target.dtype}", None
    return None, array


def positive_int(value, what: str) -> int:
    """Return ``value`` as an int, raising ValueError unless it is a whole number >= 1."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value}")
    return int(value)

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

from collections.abc import Iterator

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
        if dtype is None and isinstance(data, np.ndarray) and data.dtype.kind == "f":
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
        return self.forward(*inputs)

    # -- helpers for subclasses --------------------------------------------------------
    def _cached(self, name: str):
        """Return what ``forward`` stored under ``name``; raise if forward never ran."""
        value = getattr(self, name, None)
        if value is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward() was called before forward(): call the "
                f"layer on an input first (y = layer(x)), then backward(grad_of_y)."
            )
        return value

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

    def load_state_dict(self, state_dict, strict: bool = True) -> None:
        """Copy arrays from ``state_dict`` into this module's parameters and buffers.

        The copy is in place (so an optimizer that holds the parameters keeps working)
        and casts to each parameter's dtype. Missing names, unexpected names and arrays
        of the wrong shape raise one ValueError that lists all of them. With
        ``strict=False`` missing and unexpected names are ignored; wrong shapes never are.
        """
        targets = {name: p.data for name, p in self.named_parameters()}
        targets.update(dict(self.named_buffers()))
        missing = [name for name in targets if name not in state_dict]
        unexpected = [name for name in state_dict if name not in targets]
        wrong_shape = [
            f"{name}: expected shape {targets[name].shape}, got {np.shape(state_dict[name])}"
            for name in targets
            if name in state_dict and np.shape(state_dict[name]) != targets[name].shape
        ]
        problems = []
        if strict and missing:
            problems.append(f"missing arrays: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected arrays: {unexpected}")
        if wrong_shape:
            problems.append("arrays with the wrong shape: " + "; ".join(wrong_shape))
        if problems:
            raise ValueError(
                f"cannot load state into {type(self).__name__}: " + ", ".join(problems)
            )
        for name, target in targets.items():
            if name in state_dict:
                np.copyto(target, np.asarray(state_dict[name]), casting="same_kind")

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
def as_float_array(x, who: str) -> np.ndarray:
    """Return ``x`` as a floating-point ndarray without copying float input.

    Integer and boolean input is converted to the default dtype; float32 and float64
    input is returned unchanged, so the dtype of a computation follows its input.
    """
    array = np.asarray(x)
    if array.dtype.kind in "biu":
        return array.astype(resolve_dtype(None))
    if array.dtype.kind != "f":
        raise TypeError(f"{who} expected a float array, got dtype {array.dtype}")
    return array


def check_grad_shape(grad_output, expected_shape, who: str) -> np.ndarray:
    """Return ``grad_output`` as an array, raising ValueError unless it has the shape of
    the forward output (a gradient has exactly the shape of what it differentiates)."""
    grad_output = np.asarray(grad_output)
    if grad_output.shape != tuple(expected_shape):
        raise ValueError(
            f"{who}.backward expected grad_output of shape {tuple(expected_shape)} "
            f"(the shape of the forward output), got {grad_output.shape}"
        )
    return grad_output


def shape_text(*dims) -> str:
    """Format a shape pattern for error messages: ``shape_text("N", 3)`` -> ``"(N, 3)"``."""
    return "(" + ", ".join(str(d) for d in dims) + ")"


def positive_int(value, what: str) -> int:
    """Return ``value`` as an int, raising ValueError unless it is a whole number >= 1."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value}")
    return int(value)

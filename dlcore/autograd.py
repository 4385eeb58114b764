"""``Value``: a scalar reverse-mode autodiff engine, and ``draw_graph`` (chapter 05).

Each operation builds its output and, right beside it, the rule that sends the output's
gradient back to its inputs (the chain rule, one step)::

    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    loss = (a * b + a.exp()).tanh()
    loss.backward()          # fills a.grad and b.grad
    draw_graph(loss)         # the computation graph, with data and gradients

Calling ``backward()`` twice is safe: it first resets ``grad`` to 0 on every node of
the graph, then accumulates, so a second call gives the same gradients, not twice
them. (PyTorch instead adds into the leaves' ``.grad`` on every call.) A consequence:
if two outputs share inputs, ``backward()`` on the second one discards the gradients the
first one left; add the outputs and call ``backward()`` once instead.
"""

from __future__ import annotations

import math
from numbers import Real


class Value:
    """A scalar that remembers how it was computed, so it can compute its gradients.

    Attributes:
        data: the value, a float.
        grad: d(output)/d(this value) after ``output.backward()``; 0.0 before.
        label: an optional name, shown by ``draw_graph``.
    """

    # NumPy must not broadcast over a Value (array + Value would silently build an array
    # of Values): with this, NumPy hands the operation to Value, which refuses arrays.
    __array_ufunc__ = None

    def __init__(self, data, _children=(), _op: str = "", label: str = ""):
        if isinstance(data, Value) or not isinstance(data, Real):
            raise TypeError(f"Value holds a real number, got {type(data).__name__}")
        if not math.isfinite(data):
            what = f"the result of {_op!r}" if _op else "a Value"
            raise ValueError(
                f"{what} would be {float(data)}: Value holds finite numbers only, so that NaN or "
                f"inf cannot spread silently through the gradients"
            )
        self.data = float(data)
        self.grad = 0.0
        self._backward = lambda: None  # sends self.grad to the children
        self._prev = tuple(_children)
        self._op = _op
        self.label = label

    # -- arithmetic ------------------------------------------------------------------
    def __add__(self, other):
        other = _as_value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = _as_value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent):
        if isinstance(exponent, Value):
            return self._pow_value(exponent)
        if not isinstance(exponent, Real):
            return NotImplemented
        n = float(exponent)
        out = Value(self.data**n, (self,), f"**{exponent:g}")

        def _backward():
            self.grad += n * self.data ** (n - 1) * out.grad

        out._backward = _backward
        return out

    def _pow_value(self, exponent: Value) -> Value:
        """a ** b with b a Value too: d/da = b a^(b-1), d/db = a^b log(a), so a > 0."""
        if self.data <= 0:
            raise ValueError(
                f"a ** b with a Value exponent needs a positive base, because the gradient "
                f"for b is a**b * log(a); got base {self.data}"
            )
        out = Value(self.data**exponent.data, (self, exponent), "**")

        def _backward():
            self.grad += exponent.data * self.data ** (exponent.data - 1) * out.grad
            exponent.grad += out.data * math.log(self.data) * out.grad

        out._backward = _backward
        return out

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-_as_value(other))

    def __truediv__(self, other):
        return self * _as_value(other) ** -1

    def __radd__(self, other):  # other + self
        return self + other

    def __rmul__(self, other):  # other * self
        return self * other

    def __rsub__(self, other):  # other - self
        return _as_value(other) - self

    def __rtruediv__(self, other):  # other / self
        return _as_value(other) / self

    def __rpow__(self, base):  # base ** self
        return _as_value(base) ** self

    # -- functions -------------------------------------------------------------------
    def exp(self):
        if self.data > 709.78:  # math.log(max float)
            raise OverflowError(f"exp({self.data}) is too large for a float (the limit is about exp(709.78))")
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad  # d exp(x)/dx = exp(x)

        out._backward = _backward
        return out

    def log(self):
        if self.data <= 0:
            raise ValueError(f"log needs a positive value, got {self.data}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += out.grad / self.data  # d log(x)/dx = 1/x

        out._backward = _backward
        return out

    def tanh(self):
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():
            self.grad += (1 - out.data**2) * out.grad

        out._backward = _backward
        return out

    def relu(self):
        out = Value(max(self.data, 0.0), (self,), "relu")

        def _backward():
            self.grad += (self.data > 0) * out.grad

        out._backward = _backward
        return out

    def sigmoid(self):
        # split by sign so that exp never overflows
        if self.data >= 0:
            s = 1 / (1 + math.exp(-self.data))
        else:
            e = math.exp(self.data)
            s = e / (1 + e)
        out = Value(s, (self,), "sigmoid")

        def _backward():
            self.grad += s * (1 - s) * out.grad

        out._backward = _backward
        return out

    # -- backpropagation -------------------------------------------------------------
    def topological_order(self) -> list[Value]:
        """Every node of the graph, each one after all the nodes it was computed from.

        An explicit stack instead of recursion, so long chains do not hit Python's
        recursion limit.
        """
        order, visited = [], set()
        stack = [(self, False)]
        while stack:
            node, children_done = stack.pop()
            if children_done:
                order.append(node)
            elif node not in visited:
                visited.add(node)
                stack.append((node, True))
                stack.extend((child, False) for child in node._prev if child not in visited)
        return order

    def backward(self) -> None:
        """Compute d(self)/d(node) for every node of the graph into ``node.grad``.

        Resets every ``grad`` in the graph to 0 first, so calling it again does not
        double-count (see the module docstring).
        """
        order = self.topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            node._backward()

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}{label})"


def _as_value(x) -> Value:
    return x if isinstance(x, Value) else Value(x)


def draw_graph(root: Value, ax=None):
    """Draw the computation graph of ``root`` with matplotlib; return the Axes.

    Inputs are on the left and ``root`` on the right. Each Value is a box showing its
    label, data and grad; each operation is a small circle between its inputs and its
    output. No graphviz is needed.
    """
    import matplotlib.pyplot as plt  # imported here: only drawing needs matplotlib

    order = root.topological_order()
    level = {}  # column: 0 for inputs, 1 + the deepest input for the others
    for node in order:
        level[node] = 1 + max((level[c] for c in node._prev), default=-1)
    columns: dict[int, list[Value]] = {}
    for node in order:
        columns.setdefault(level[node], []).append(node)
    position = {}
    for col, nodes in columns.items():
        for row, node in enumerate(nodes):
            position[node] = (2.5 * col, row - (len(nodes) - 1) / 2)

    if ax is None:
        height = max(len(nodes) for nodes in columns.values())
        _, ax = plt.subplots(figsize=(3.2 * len(columns), 1.0 + 1.0 * height))
    boxes, circles = {}, {}
    for node in order:
        x, y = position[node]
        name = f"{node.label} | " if node.label else ""
        text = f"{name}data {node.data:.4g} | grad {node.grad:.4g}"
        box = dict(boxstyle="round", facecolor="#dbe9f6", edgecolor="#0072b2")
        boxes[node] = ax.text(x, y, text, ha="center", va="center", fontsize=8, bbox=box)
        if node._op:
            circle = dict(boxstyle="circle", facecolor="#fce5cc", edgecolor="#e69f00")
            circles[node] = ax.text(x - 1.0, y, node._op, ha="center", va="center", fontsize=8, bbox=circle)

    def connect(source, target):  # arrow from the right edge of source to the left of target
        arrow = dict(arrowstyle="->", color="0.4", shrinkA=2, shrinkB=2)
        ax.annotate("", (0, 0.5), xycoords=target, xytext=(1, 0.5), textcoords=source, arrowprops=arrow)

    for node, circle in circles.items():
        connect(circle, boxes[node])
        for child in node._prev:
            connect(boxes[child], circle)
    xs = [p[0] for p in position.values()]
    ys = [p[1] for p in position.values()]
    ax.set_xlim(min(xs) - 1.2, max(xs) + 1.2)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.set_title("Computation graph: inputs on the left, output on the right")
    ax.axis("off")
    return ax

"""Chapter 03 explorer: step through the perceptron's updates on 2-D data.

Introduced in chapter 03 ("The perceptron"). Each click on *Step* applies one update
of Rosenblatt's rule: the explorer walks through the points in order, starting after
the last point it used, finds the next one the current boundary gets wrong, and moves
the boundary towards it,

    w <- w + lr * (y - y_hat) * x,        b <- b + lr * (y - y_hat).

The figure shows the boundary, the weight vector (normal to it), the two predicted
regions, the misclassified points (ringed) and the point that caused the last update.
The updates come in exactly the order that ``dlcore.perceptron.Perceptron.fit`` makes
them, so after k steps the weights equal ``Perceptron.history[k - 1]``.

Driving it without a browser, as ``tests/test_widgets_ch03.py`` does::

    stepper = perceptron_stepper({"separable": (X, y)})
    stepper.controls["step"].click()
    stepper.state["weight"], stepper.state["misclassified"]
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np

from ..plot import PALETTE


def _as_binary_data(X, y, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Check one dataset: X (N, 2) finite floats, y (N,) of 0/1 labels."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2 or len(X) == 0:
        raise ValueError(f"perceptron_stepper: dataset {name!r} needs X of shape (N, 2), got {X.shape}")
    if y.shape != (len(X),):
        raise ValueError(f"perceptron_stepper: dataset {name!r} needs y of shape ({len(X)},), got {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"perceptron_stepper: dataset {name!r} needs labels 0 or 1, got {np.unique(y)}")
    if not np.isfinite(X).all():
        raise ValueError(f"perceptron_stepper: dataset {name!r} contains NaN or inf")
    return X, y.astype(np.int64)


def _limits(X: np.ndarray, pad: float = 0.15) -> tuple[tuple[float, float], tuple[float, float]]:
    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.maximum(hi - lo, 1e-9)
    return (lo[0] - pad * span[0], hi[0] + pad * span[0]), (lo[1] - pad * span[1], hi[1] + pad * span[1])


def draw_perceptron(ax, X, y, weight, bias: float, *, highlight: int | None = None, xlim=None, ylim=None,
                    arrow: bool = True, legend: bool = True) -> None:
    """Draw 2-D points, the perceptron's regions and boundary, and its mistakes, on ``ax``.

    Args:
        ax: a matplotlib Axes.
        X: points (N, 2); y: labels (N,) of 0 and 1.
        weight: (2,) and bias: the perceptron; it predicts 1 where ``weight . x + bias > 0``.
        highlight: index of a point to mark (the one that caused the last update).
        xlim, ylim: the region drawn (default: the data plus a margin).
        arrow: draw the weight vector, from the boundary point nearest the origin.
        legend: add a legend.
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    weight = np.asarray(weight, dtype=np.float64)
    if xlim is None or ylim is None:
        xlim, ylim = _limits(X)
    if np.any(weight != 0):
        xs, ys = np.linspace(*xlim, 120), np.linspace(*ylim, 120)
        XX, YY = np.meshgrid(xs, ys)
        region = (weight[0] * XX + weight[1] * YY + bias > 0).astype(float)
        ax.contourf(XX, YY, region, levels=[-0.5, 0.5, 1.5], colors=[PALETTE[0], PALETTE[1]], alpha=0.12)
        ax.contour(XX, YY, weight[0] * XX + weight[1] * YY + bias, levels=[0.0], colors="black",
                   linewidths=1.5)
        if arrow:
            foot = -bias * weight / (weight @ weight)          # boundary point nearest the origin
            scale = 0.25 * min(xlim[1] - xlim[0], ylim[1] - ylim[0]) / np.linalg.norm(weight)
            ax.annotate("", xy=foot + scale * weight, xytext=foot,
                        arrowprops=dict(arrowstyle="-|>", color="black", lw=1.5))
            ax.annotate("w", foot + 1.1 * scale * weight, fontsize=11, ha="center", va="center")
    predicted = (X @ weight + bias > 0).astype(int)
    wrong = predicted != y
    ax.scatter(*X[y == 0].T, marker="o", s=28, color=PALETTE[0], edgecolor="white", lw=0.5, label="class 0")
    ax.scatter(*X[y == 1].T, marker="^", s=34, color=PALETTE[1], edgecolor="white", lw=0.5, label="class 1")
    if wrong.any():
        ax.scatter(*X[wrong].T, s=120, facecolor="none", edgecolor=PALETTE[3], lw=1.6, label="misclassified")
    if highlight is not None:
        ax.scatter(*X[highlight], s=220, facecolor="none", edgecolor="black", lw=2.2, label="last update")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if legend:
        ax.legend(loc="lower right", fontsize=8, framealpha=0.8)


class PerceptronStepper(widgets.VBox):
    """Buttons that apply perceptron updates one at a time, and a figure of the result.

    Attributes:
        controls: dict of the control widgets: ``"dataset"`` (Dropdown), ``"step"``,
            ``"step10"`` and ``"reset"`` (Buttons).
        label: ``HTML`` widget with one sentence about the current state.
        image: ``Image`` widget with the PNG of the figure.
        state: dict with ``dataset`` (name), ``weight`` (2,), ``bias``, ``updates`` (how
            many so far), ``last_index`` (the point of the last update, or None),
            ``misclassified`` (indices), ``accuracy``, ``converged`` (True once a full
            pass over the data found no mistake) and ``history`` (list of
            ``(index, weight, bias)`` after each update).
    """

    def __init__(self, datasets, *, lr: float = 1.0, dataset: str | None = None):
        if isinstance(datasets, tuple):
            datasets = {"data": datasets}
        if not datasets:
            raise ValueError("perceptron_stepper needs at least one dataset")
        self.datasets = {name: _as_binary_data(X, y, name) for name, (X, y) in dict(datasets).items()}
        if not lr > 0:
            raise ValueError(f"perceptron_stepper: lr must be positive, got {lr!r}")
        self.lr = float(lr)
        name = dataset or next(iter(self.datasets))
        if name not in self.datasets:
            raise ValueError(f"unknown dataset {name!r}; choose one of {list(self.datasets)}")
        self.controls = {
            "dataset": widgets.Dropdown(options=list(self.datasets), value=name, description="data"),
            "step": widgets.Button(description="Step", button_style="primary", icon="step-forward",
                                   tooltip="apply one perceptron update"),
            "step10": widgets.Button(description="10 steps", tooltip="apply ten updates"),
            "reset": widgets.Button(description="Reset", tooltip="start again from w = 0, b = 0"),
        }
        self.label = widgets.HTML()
        self.image = widgets.Image(format="png")
        buttons = widgets.HBox([self.controls[k] for k in ("dataset", "step", "step10", "reset")])
        super().__init__([buttons, self.label, self.image])
        self.controls["dataset"].observe(lambda change: self.reset(), names="value")
        self.controls["step"].on_click(lambda button: self.step())
        self.controls["step10"].on_click(lambda button: self.step(10))
        self.controls["reset"].on_click(lambda button: self.reset())
        self.reset()

    # -- the algorithm --------------------------------------------------------------------
    def _data(self) -> tuple[np.ndarray, np.ndarray]:
        return self.datasets[self.controls["dataset"].value]

    def reset(self) -> None:
        """Start again from ``w = 0, b = 0`` on the chosen dataset."""
        self._weight, self._bias, self._pointer = np.zeros(2), 0.0, 0
        self._history: list[tuple[int, np.ndarray, float]] = []
        self._converged = False
        self._refresh()

    def step(self, n: int = 1) -> None:
        """Apply up to ``n`` updates (fewer if the data become correctly classified)."""
        X, y = self._data()
        for _ in range(int(n)):
            for offset in range(len(y)):
                i = (self._pointer + offset) % len(y)
                error = y[i] - int(X[i] @ self._weight + self._bias > 0)      # -1, 0 or +1
                if error:
                    self._weight = self._weight + self.lr * error * X[i]
                    self._bias = float(self._bias + self.lr * error)
                    self._history.append((i, self._weight.copy(), self._bias))
                    self._pointer = (i + 1) % len(y)
                    break
            else:                                   # a full pass without a mistake
                self._converged = True
                break
        self._refresh()

    # -- display --------------------------------------------------------------------------
    def _refresh(self) -> None:
        X, y = self._data()
        wrong = np.flatnonzero((X @ self._weight + self._bias > 0).astype(int) != y)
        self.state = {
            "dataset": self.controls["dataset"].value, "weight": self._weight.copy(), "bias": self._bias,
            "updates": len(self._history), "last_index": self._history[-1][0] if self._history else None,
            "misclassified": wrong, "accuracy": 1 - len(wrong) / len(y),
            "converged": self._converged or len(wrong) == 0,    # no mistake left: no update to make
            "history": list(self._history),
        }
        self.label.value = self._sentence()
        self.image.value = self._render_png()

    def _sentence(self) -> str:
        s = self.state
        w, b = s["weight"], s["bias"]
        head = (f"After <b>{s['updates']}</b> update(s): w = ({w[0]:.2f}, {w[1]:.2f}), b = {b:.2f}; "
                f"<b>{len(s['misclassified'])}</b> point(s) misclassified, accuracy {s['accuracy']:.0%}.")
        if s["converged"]:
            return head + " Every point is on its side: the perceptron has converged."
        if s["updates"] == 0:
            return head + " Press <i>Step</i> to apply the first update."
        return head + " The ringed black point caused the last update."

    def _render_png(self) -> bytes:
        from matplotlib.figure import Figure  # noqa: PLC0415  (no pyplot: no global figure state)

        s = self.state
        X, y = self._data()
        fig = Figure(figsize=(5.6, 4.6), dpi=80)
        ax = fig.add_axes((0.12, 0.12, 0.84, 0.8))
        draw_perceptron(ax, X, y, s["weight"], s["bias"], highlight=s["last_index"])
        ax.set_title(f"{s['dataset']}: update {s['updates']}, {len(s['misclassified'])} misclassified")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()


def perceptron_stepper(datasets, *, lr: float = 1.0, dataset: str | None = None) -> PerceptronStepper:
    """Step through Rosenblatt's perceptron updates on 2-D data, one click per update.

    Args:
        datasets: ``{name: (X, y)}`` with X (N, 2) and y (N,) of 0/1 labels, or one
            ``(X, y)`` tuple.
        lr: the learning rate of the rule (from w = 0 it only rescales w and b).
        dataset: the dataset shown first (default: the first).

    Returns:
        A :class:`PerceptronStepper` (an ``ipywidgets.VBox``). Display it in a notebook,
        or call ``.step()`` / ``.controls["step"].click()`` and read ``.state`` without one.
    """
    return PerceptronStepper(datasets, lr=lr, dataset=dataset)

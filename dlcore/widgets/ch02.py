"""Chapter 02 explorer: gradient descent, with or without momentum, on 2-D surfaces.

Introduced in chapter 02 ("Tensors, derivatives and gradient descent"). Pick a
function (a round bowl, an elongated valley or Rosenbrock's curved valley), a
learning rate, a momentum and a start point. The explorer runs gradient descent
from there and draws the path over the contour lines, next to the loss at every step.

The update is heavy-ball momentum, written the way ``torch.optim.SGD`` and
``dlcore.optim.SGD`` write it::

    v <- momentum * v + grad f(w)      (v starts at 0, so the first v is the gradient)
    w <- w - lr * v

With momentum 0 it is plain gradient descent. Each run is flagged from its losses
(:func:`classify`): *diverged* (the point flew off), *diverging* (the loss grew and is still
growing), *overshot* (the loss jumped up and, at the last step, is still above its start),
*bouncing* (the loss stayed where it started, as at lr exactly 2/lambda_max on a quadratic),
*converged* or *converging*; on the two quadratics the label also states the
stability limit lr < 2 (1 + momentum) / lambda_max, with lambda_max the largest eigenvalue of
the Hessian. The learning-rate slider has base 2, so 1 and 2 are positions on it, and a loss of
exactly 0 is drawn at a floor instead of stretching the log axis. The explorer is an ordinary
``ipywidgets.VBox`` whose controls and results are attributes, which is how
``tests/test_widgets_ch02.py`` drives it without a browser::

    explorer = gradient_descent_explorer()
    explorer.controls["lr"].value = 0.5
    explorer.state["losses"][-1]       # loss after the last step
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np

from ..plot import PALETTE

#: A path is stopped when a coordinate grows beyond this size: it has diverged.
DIVERGED_AT = 1e6

#: What the explorer can say about a run, from worst to best.
STATUSES = ("diverged", "diverging", "overshot", "bouncing", "converging", "converged")


def classify(losses: np.ndarray, blew_up: bool) -> str:
    """Name the outcome of a run from its losses (K + 1,), the first being the start.

    * ``"diverged"``: the path blew up (a coordinate beyond :data:`DIVERGED_AT`, or NaN);
    * ``"diverging"``: the loss ended above where it started and is at its highest in the last
      tenth of the run, so it is still growing;
    * ``"overshot"``: the loss ended above where it started but below its peak: early steps
      overshot (the loss jumped up) and it has not yet come back down to its start;
    * ``"bouncing"``: the loss ended where it started (within 1e-6), e.g. lr exactly 2/lambda on a
      quadratic, where the iterates jump between two points for ever;
    * ``"converged"``: the loss fell below 1e-10 of its start (or to exactly 0);
    * ``"converging"``: anything else, a loss lower than at the start.
    """
    if blew_up:
        return "diverged"
    first, last = float(losses[0]), float(losses[-1])
    tail = losses[-max(2, len(losses) // 10):]
    if last > first * (1 + 1e-6) and tail.max() >= losses.max():
        return "diverging"
    if last > first * (1 + 1e-6):
        return "overshot"
    if first > 0 and abs(last - first) <= 1e-6 * first:
        return "bouncing"
    if last <= 1e-10 * first:
        return "converged"
    return "converging"


@dataclass(frozen=True)
class Surface:
    """A 2-D test function with everything needed to draw it and descend on it.

    Attributes:
        name: what the explorer's menu calls it.
        formula: the function in LaTeX-free plain text, for titles.
        f: the function; takes points of shape (..., 2), returns values of shape (...).
        grad: its gradient; takes a point (2,), returns (2,).
        minimum: the point where f is smallest (f is 0 there for all three surfaces).
        xlim, ylim: the region that is drawn.
        start, lr, steps: the explorer's starting settings for this surface.
        levels: contour levels.
        max_curvature: for a quadratic surface, the largest eigenvalue of its (constant)
            Hessian, which sets the stability limit lr < 2 (1 + momentum) / max_curvature;
            ``None`` for a surface whose curvature changes from place to place.
    """

    name: str
    formula: str
    f: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    minimum: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    start: tuple[float, float]
    lr: float
    steps: int
    levels: tuple[float, ...]
    max_curvature: float | None = None


def _bowl(w):
    w = np.asarray(w, dtype=np.float64)
    return 0.5 * (w[..., 0] ** 2 + w[..., 1] ** 2)


def _bowl_grad(w):
    return np.array([w[0], w[1]], dtype=np.float64)


VALLEY_CURVATURE = 25.0


def _valley(w):
    w = np.asarray(w, dtype=np.float64)
    return 0.5 * (w[..., 0] ** 2 + VALLEY_CURVATURE * w[..., 1] ** 2)


def _valley_grad(w):
    return np.array([w[0], VALLEY_CURVATURE * w[1]], dtype=np.float64)


def _rosenbrock(w):
    w = np.asarray(w, dtype=np.float64)
    x, y = w[..., 0], w[..., 1]
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def _rosenbrock_grad(w):
    x, y = float(w[0]), float(w[1])
    return np.array([-2 * (1 - x) - 400 * x * (y - x ** 2), 200 * (y - x ** 2)])


#: The three surfaces of the explorer, by menu name.
SURFACES: dict[str, Surface] = {
    "quadratic bowl": Surface(
        "quadratic bowl", "f(x, y) = (x² + y²) / 2", _bowl, _bowl_grad, (0.0, 0.0),
        (-3.0, 3.0), (-3.0, 3.0), (-2.5, 2.0), 0.3, 30, tuple(np.linspace(0.25, 9, 12)), 1.0),
    "elongated valley": Surface(
        "elongated valley", "f(x, y) = (x² + 25 y²) / 2", _valley, _valley_grad, (0.0, 0.0),
        (-6.0, 6.0), (-2.0, 2.0), (-5.0, 1.5), 0.07, 60, tuple(np.geomspace(0.05, 50, 12)),
        VALLEY_CURVATURE),
    "Rosenbrock": Surface(
        "Rosenbrock", "f(x, y) = (1 - x)² + 100 (y - x²)²", _rosenbrock, _rosenbrock_grad, (1.0, 1.0),
        (-2.0, 2.0), (-1.0, 3.0), (-1.5, 2.0), 1e-3, 1000, tuple(np.geomspace(0.05, 2000, 14))),
}


def run_descent(grad, start, lr: float, momentum: float = 0.0, steps: int = 100) -> np.ndarray:
    """Gradient descent with heavy-ball momentum from ``start``.

    Args:
        grad: the gradient, a function from a point (D,) to (D,).
        start: the first point, shape (D,).
        lr: learning rate, > 0.
        momentum: momentum factor in [0, 1); 0 gives plain gradient descent.
        steps: number of updates.

    Returns:
        The path, shape (K + 1, D): the start and the point after each update. K is
        ``steps``, or fewer when the path diverged (a coordinate beyond ``DIVERGED_AT``,
        or NaN), in which case the last row is the first diverged point.
    """
    w = np.array(start, dtype=np.float64)
    velocity = np.zeros_like(w)
    path = [w.copy()]
    for _ in range(int(steps)):
        velocity = momentum * velocity + grad(w)
        w = w - lr * velocity
        path.append(w.copy())
        if not np.all(np.isfinite(w)) or np.abs(w).max() > DIVERGED_AT:
            break
    return np.array(path)


def draw_surface(ax, surface: Surface | str, *, resolution: int = 160) -> None:
    """Draw the contour lines of a surface and mark its minimum on the Axes ``ax``."""
    surface = SURFACES[surface] if isinstance(surface, str) else surface
    xs = np.linspace(*surface.xlim, resolution)
    ys = np.linspace(*surface.ylim, resolution)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)            # (resolution, resolution, 2)
    ax.contour(xs, ys, surface.f(grid), levels=list(surface.levels), cmap="viridis",
               linewidths=0.8, alpha=0.8)
    ax.plot(*surface.minimum, marker="*", color="black", ms=11, ls="none", label="minimum")
    ax.set_xlim(*surface.xlim)
    ax.set_ylim(*surface.ylim)
    ax.set_xlabel("x")
    ax.set_ylabel("y")


class GradientDescentExplorer(widgets.VBox):
    """Controls for function, learning rate, momentum, start and steps; path and loss figure.

    Attributes:
        controls: dict of the control widgets: ``"function"`` (Dropdown), ``"lr"``
            (FloatLogSlider), ``"momentum"``, ``"x0"``, ``"y0"`` (FloatSliders) and
            ``"steps"`` (IntSlider).
        label: ``HTML`` widget with one sentence about the outcome.
        image: ``Image`` widget with the PNG of the figure.
        state: the current result, a dict with ``function``, ``lr``, ``momentum``,
            ``start`` (2,), ``steps``, ``path`` (K + 1, 2), ``losses`` (K + 1,),
            ``status`` (one of :data:`STATUSES`), ``diverged`` (True when the status is
            ``"diverged"`` or ``"diverging"``), ``final_loss`` (float, inf when the path blew up)
            and ``limit`` (the largest stable lr of a quadratic surface, else None).
    """

    def __init__(self, surfaces: dict[str, Surface] | None = None, *, function: str | None = None,
                 lr: float | None = None, momentum: float = 0.0, start=None, steps: int | None = None):
        self.surfaces = dict(SURFACES if surfaces is None else surfaces)
        if not self.surfaces:
            raise ValueError("gradient_descent_explorer needs at least one surface")
        name = function or next(iter(self.surfaces))
        if name not in self.surfaces:
            raise ValueError(f"unknown function {name!r}; choose one of {list(self.surfaces)}")
        surface = self.surfaces[name]
        style = {"description_width": "90px"}
        layout = widgets.Layout(width="360px")
        self.controls = {
            "function": widgets.Dropdown(options=list(self.surfaces), value=name, description="function",
                                         style=style, layout=layout),
            # base 2, so that 1 and 2 (the bowl's 1/lambda and 2/lambda) are slider positions
            "lr": widgets.FloatLogSlider(value=surface.lr, base=2, min=-14, max=1.6, step=0.05,
                                         description="learning rate", readout_format=".3g",
                                         continuous_update=False, style=style, layout=layout),
            "momentum": widgets.FloatSlider(value=momentum, min=0.0, max=0.99, step=0.01,
                                            description="momentum", continuous_update=False,
                                            style=style, layout=layout),
            "x0": widgets.FloatSlider(description="start x", continuous_update=False, step=0.1,
                                      style=style, layout=layout),
            "y0": widgets.FloatSlider(description="start y", continuous_update=False, step=0.1,
                                      style=style, layout=layout),
            "steps": widgets.IntSlider(min=1, max=2000, step=1, description="steps",
                                       continuous_update=False, style=style, layout=layout),
        }
        self.label = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.state: dict = {}
        self._quiet = True
        self._set_surface_defaults(surface)
        if lr is not None:
            self.controls["lr"].value = lr
        if start is not None:
            self.controls["x0"].value, self.controls["y0"].value = map(float, start)
        if steps is not None:
            self.controls["steps"].value = int(steps)
        self._quiet = False
        left = widgets.VBox(list(self.controls.values()))
        super().__init__([widgets.HBox([left, self.label]), self.image])
        self.controls["function"].observe(self._on_function, names="value")
        for key in ("lr", "momentum", "x0", "y0", "steps"):
            self.controls[key].observe(self._on_change, names="value")
        self.update()

    def _set_surface_defaults(self, surface: Surface) -> None:
        """Move the start sliders into the surface's region and reset lr, start and steps."""
        c = self.controls
        for key, lim, value in (("x0", surface.xlim, surface.start[0]), ("y0", surface.ylim, surface.start[1])):
            c[key].min, c[key].max = -1e9, 1e9          # widen first so min <= max always holds
            c[key].min, c[key].max = lim
            c[key].value = value
        c["lr"].value = surface.lr
        c["steps"].value = surface.steps

    def _on_function(self, change) -> None:
        self._quiet = True
        try:
            self._set_surface_defaults(self.surfaces[change["new"]])
        finally:
            self._quiet = False
        self.update()

    def _on_change(self, change) -> None:
        if not self._quiet:
            self.update()

    def update(self) -> None:
        """Run gradient descent with the current settings; refresh state, label and figure."""
        c = self.controls
        surface = self.surfaces[c["function"].value]
        start = np.array([c["x0"].value, c["y0"].value])
        path = run_descent(surface.grad, start, c["lr"].value, c["momentum"].value, c["steps"].value)
        blew_up = len(path) < c["steps"].value + 1 or not np.all(np.isfinite(path[-1]))
        with np.errstate(over="ignore", invalid="ignore"):
            losses = surface.f(path)
        status = classify(losses, blew_up)
        limit = (None if surface.max_curvature is None
                 else 2 * (1 + float(c["momentum"].value)) / surface.max_curvature)
        self.state = {
            "function": surface.name, "lr": float(c["lr"].value), "momentum": float(c["momentum"].value),
            "start": start, "steps": int(c["steps"].value), "path": path, "losses": losses,
            "status": status, "diverged": status in ("diverged", "diverging"), "limit": limit,
            "final_loss": float("inf") if blew_up else float(losses[-1]),
        }
        self.label.value = self._sentence()
        self.image.value = self._render_png(surface)

    def _sentence(self) -> str:
        s = self.state
        if s["limit"] is None:
            rule = ""
        else:
            what = "2 / λ_max" if s["momentum"] == 0 else "2 (1 + momentum) / λ_max"
            side = "above" if s["lr"] > s["limit"] * (1 + 1e-9) else (
                "exactly at" if s["lr"] >= s["limit"] * (1 - 1e-9) else "below")
            rule = (f" On this quadratic the stability limit is lr = {what} = {s['limit']:.3g}; "
                    f"lr {s['lr']:.3g} is {side} it.")
        if s["status"] == "diverged":
            return (f"<b>Diverged</b> after {len(s['path']) - 1} steps: the point flew off (a coordinate "
                    f"beyond {DIVERGED_AT:.0e}). The learning rate {s['lr']:.3g} is too large." + rule)
        first, last = s["losses"][0], s["losses"][-1]
        if s["status"] == "diverging":
            return (f"<b>Diverging</b>: after {s['steps']} steps the loss has <i>grown</i> from {first:.3g} "
                    f"to {last:.3g}, and it is still growing. Every step overshoots by more than the last."
                    + rule)
        if s["status"] == "overshot":
            return (f"<b>Overshot</b>: the loss jumped from {first:.3g} up to {np.max(s['losses']):.3g}, "
                    f"and after {s['steps']} steps it is back down only to {last:.3g}, still "
                    "<i>above</i> where it started. The learning rate is too large here, or the "
                    "momentum too high, for the run to be settling." + rule)
        if s["status"] == "bouncing":
            return (f"<b>Neither converging nor diverging</b>: after {s['steps']} steps the loss is still "
                    f"{last:.3g}, where it started. The point jumps back and forth between two places."
                    + rule)
        x, y = s["path"][-1]
        head = "<b>Converged</b>: a" if s["status"] == "converged" else "A"
        return (f"{head}fter <b>{s['steps']}</b> steps the point is ({x:.3f}, {y:.3f}) and the loss is "
                f"<b>{s['final_loss']:.3g}</b> (it started at {first:.3g})." + rule)

    def _render_png(self, surface: Surface) -> bytes:
        """Contours with the path on the left, loss per step (log scale) on the right."""
        from matplotlib.figure import Figure  # noqa: PLC0415  (no pyplot: no global figure state)

        s = self.state
        fig = Figure(figsize=(9.6, 3.8), dpi=80)
        ax = fig.add_axes((0.07, 0.14, 0.42, 0.76))               # fixed positions: no layout engine
        ax_loss = fig.add_axes((0.58, 0.14, 0.39, 0.76))
        draw_surface(ax, surface, resolution=120)
        ax.plot(s["path"][:, 0], s["path"][:, 1], "-o", color=PALETTE[3], ms=2.5, lw=1.2,
                label="path")
        ax.plot(*s["start"], "o", color=PALETTE[3], ms=7, mfc="white", label="start")
        ax.set_title(surface.formula)
        ax.legend(loc="lower right", fontsize=8)
        finite = np.isfinite(s["losses"])
        steps, losses = np.arange(len(s["losses"]))[finite], s["losses"][finite]
        # A loss of exactly 0 has no logarithm: draw it at a floor 16 decades below the largest
        # loss (float64 round-off), so the axis cannot stretch down to 1e-300.
        floor = 1e-16 * max(float(losses.max()), 1e-300)
        if np.all(losses > 0):
            floor = max(floor, float(losses.min()) / 3)
        ax_loss.semilogy(steps, np.maximum(losses, floor), color=PALETTE[0])
        exact_zero = losses <= 0
        if exact_zero.any():
            ax_loss.plot(steps[exact_zero], np.full(exact_zero.sum(), floor), "v", color=PALETTE[3],
                         ms=5, ls="none", label="loss exactly 0 (drawn at the floor)")
            ax_loss.legend(loc="upper right", fontsize=8)
        ax_loss.set_ylim(bottom=floor / 3)
        ax_loss.set_xlabel("step")
        ax_loss.set_ylabel("loss f(x, y)  (log scale)")
        titles = {"diverged": "DIVERGED", "diverging": "DIVERGING: the loss grows",
                  "overshot": "OVERSHOT: the loss is above its start",
                  "bouncing": "bouncing: the loss stays put"}
        ax_loss.set_title(titles.get(s["status"], f"loss per step (lr {s['lr']:.3g}, "
                                                  f"momentum {s['momentum']:.2f})"),
                          color=PALETTE[3] if s["status"] in titles else "black")
        ax_loss.grid(alpha=0.3)
        self.loss_ylim = ax_loss.get_ylim()          # read by the tests: the axis never collapses
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()


def gradient_descent_explorer(surfaces: dict[str, Surface] | None = None, *, function: str | None = None,
                              lr: float | None = None, momentum: float = 0.0, start=None,
                              steps: int | None = None) -> GradientDescentExplorer:
    """Explore gradient descent and momentum on a bowl, a valley and Rosenbrock's function.

    Args:
        surfaces: the functions to offer, ``{name: Surface}`` (default :data:`SURFACES`).
        function: the surface shown first (default: the first one).
        lr, start, steps: starting settings (default: the surface's own).
        momentum: starting momentum (default 0, plain gradient descent).

    Returns:
        A :class:`GradientDescentExplorer` (an ``ipywidgets.VBox``). Display it in a
        notebook, or set ``.controls[...]`` values and read ``.state`` without one.
    """
    return GradientDescentExplorer(surfaces, function=function, lr=lr, momentum=momentum, start=start,
                                   steps=steps)

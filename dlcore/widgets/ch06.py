"""Chapter 06 explorer: an optimizer race between SGD, momentum and Adam on a 2-D surface.

Introduced in chapter 06 ("Training networks: losses, optimizers, initialisation").
The three optimizers start from the same point of the same surface (the round bowl,
the elongated valley and Rosenbrock's curved valley of chapter 02) and take the same
number of steps. The updates are made by ``dlcore.optim.SGD`` and ``dlcore.optim.Adam``
themselves, acting on a 2-element :class:`dlcore.nn.Parameter`, so the race runs the
very code that trains the chapter's MNIST network.

SGD and momentum share one learning rate, because their steps are both the gradient
times ``lr``. Adam has its own: its step is ``lr`` times a ratio that is close to +-1
in every coordinate, so its learning rate is a distance in parameter space, on another
scale altogether.

The explorer is an ordinary ``ipywidgets.VBox`` whose controls and results are
attributes, which is how ``tests/test_widgets_ch06.py`` drives it without a browser::

    race = optimizer_race()
    race.controls["lr"].value = 0.01
    race.state["final_loss"]["momentum"]      # loss after the last step
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np

from ..nn import Parameter
from ..optim import SGD, Adam
from ..plot import PALETTE
from .ch02 import SURFACES, Surface, draw_surface

#: A path is stopped when a coordinate grows beyond this size: it has diverged.
DIVERGED_AT = 1e6
#: Losses are drawn no lower than this fraction of the starting loss, so that a loss of
#: exactly 0 (a racer that lands on the minimum) cannot stretch the log axis to 1e-300.
LOSS_FLOOR = 1e-12
#: Final losses this close (relative) count as a tie.
TIE_RTOL = 1e-9
#: The racers, in drawing order, with their colours.
OPTIMIZERS = ("SGD", "momentum", "Adam")
COLORS = {"SGD": PALETTE[0], "momentum": PALETTE[1], "Adam": PALETTE[2]}
#: Starting settings per surface: (SGD/momentum lr, Adam lr, steps). The SGD rate is a safe
#: one, well below 2 / (largest curvature), which is where plain SGD is usually run.
DEFAULTS = {"quadratic bowl": (0.05, 0.1, 50), "elongated valley": (0.02, 0.1, 100),
            "Rosenbrock": (1e-3, 0.1, 500)}


def make_optimizer(name: str, params, lr: float, adam_lr: float, momentum: float = 0.9):
    """The ``dlcore.optim`` object for one racer: ``"SGD"``, ``"momentum"`` or ``"Adam"``."""
    if name == "SGD":
        return SGD(params, lr=lr)
    if name == "momentum":
        return SGD(params, lr=lr, momentum=momentum)
    if name == "Adam":
        return Adam(params, lr=adam_lr)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}")


def run_optimizer(name: str, surface: Surface, lr: float, adam_lr: float, steps: int,
                  start=None, momentum: float = 0.9) -> np.ndarray:
    """Let one ``dlcore.optim`` optimizer descend ``surface`` from ``start``.

    Args:
        name: ``"SGD"``, ``"momentum"`` or ``"Adam"``.
        surface: a :class:`~dlcore.widgets.ch02.Surface` (its ``grad`` gives the gradient).
        lr: learning rate of SGD and momentum; adam_lr: learning rate of Adam.
        steps: number of optimizer steps.
        start: first point (2,), default the surface's own start.
        momentum: momentum factor of the ``"momentum"`` racer.

    Returns:
        The path, shape (K + 1, 2): the start and the point after each step. K is
        ``steps``, or fewer when the path diverged (a coordinate beyond ``DIVERGED_AT``).
    """
    w = Parameter(np.array(surface.start if start is None else start, dtype=np.float64))
    optimizer = make_optimizer(name, [w], lr, adam_lr, momentum)
    path = [w.data.copy()]
    for _ in range(int(steps)):
        optimizer.zero_grad()
        w.grad += surface.grad(w.data)          # what net.backward() does for a network
        optimizer.step()
        path.append(w.data.copy())
        if not np.all(np.isfinite(w.data)) or np.abs(w.data).max() > DIVERGED_AT:
            break
    return np.array(path)


def race(surface: Surface | str, lr: float, adam_lr: float, steps: int, start=None,
         momentum: float = 0.9) -> dict:
    """Run all three racers; return their paths, losses and outcomes.

    Returns:
        A dict with ``surface`` (name), ``lr``, ``adam_lr``, ``steps``, ``momentum``,
        ``effective_lr`` (momentum's effective step ``lr / (1 - momentum)``), and per racer
        (dicts keyed by ``"SGD"``, ``"momentum"``, ``"Adam"``): ``paths`` (K + 1, 2),
        ``losses`` (K + 1,), ``diverged`` (bool), ``growing`` (bool: not diverged, but the
        final loss is above the starting one) and ``final_loss`` (inf if diverged);
        ``winners``: the racers tied for the lowest final loss, and ``winner``: that racer,
        or ``"tie"`` when several share it.
    """
    surface = SURFACES[surface] if isinstance(surface, str) else surface
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    paths = {name: run_optimizer(name, surface, lr, adam_lr, steps, start, momentum)
             for name in OPTIMIZERS}
    with np.errstate(over="ignore", invalid="ignore"):
        losses = {name: surface.f(path) for name, path in paths.items()}
    diverged = {name: len(path) < steps + 1 or not np.all(np.isfinite(path[-1]))
                for name, path in paths.items()}
    final = {name: float("inf") if diverged[name] else float(losses[name][-1]) for name in OPTIMIZERS}
    growing = {name: not diverged[name] and final[name] > float(losses[name][0]) for name in OPTIMIZERS}
    low = min(final.values())
    floor = LOSS_FLOOR * max(float(losses["SGD"][0]), 1e-300)
    winners = [name for name in OPTIMIZERS if np.isfinite(low) and
               (final[name] <= low * (1 + TIE_RTOL) or (final[name] <= floor and low <= floor))]
    return {"surface": surface.name, "lr": float(lr), "adam_lr": float(adam_lr), "steps": int(steps),
            "momentum": float(momentum), "effective_lr": float(lr) / (1 - float(momentum)),
            "paths": paths, "losses": losses, "diverged": diverged, "growing": growing,
            "final_loss": final, "winners": winners,
            "winner": winners[0] if len(winners) == 1 else ("tie" if winners else "none")}


def draw_race(result: dict, fig=None):
    """Draw a race: paths over the contours (left) and loss per step (right).

    Args:
        result: what :func:`race` returned.
        fig: a matplotlib Figure to draw into (default: a new one, made without pyplot).

    Returns:
        The Figure.
    """
    if fig is None:
        from matplotlib.figure import Figure  # noqa: PLC0415  (no pyplot: no global figure state)

        fig = Figure(figsize=(9.6, 3.8), dpi=80)
    surface = SURFACES[result["surface"]]
    ax = fig.add_axes((0.07, 0.14, 0.42, 0.76))                # fixed positions: no layout engine
    ax_loss = fig.add_axes((0.58, 0.14, 0.39, 0.76))
    draw_surface(ax, surface, resolution=120)
    floor = LOSS_FLOOR * max(float(result["losses"]["SGD"][0]), 1e-300)
    for name in OPTIMIZERS:
        path = result["paths"][name]
        inside = np.all(np.abs(path) < 1e3, axis=1)
        ax.plot(path[inside, 0], path[inside, 1], "-o", color=COLORS[name], ms=2, lw=1.2)
        losses = result["losses"][name]
        finite = np.isfinite(losses)
        label = (f"{name} (diverged)" if result["diverged"][name]
                 else f"{name} (growing)" if result["growing"][name] else name)
        ax_loss.semilogy(np.arange(len(losses))[finite], np.maximum(losses[finite], floor),
                         color=COLORS[name], label=label)
    start = result["paths"]["SGD"][0]
    ax.plot(*start, "o", color="black", ms=7, mfc="white", label="start")
    ax.set_title(f"{surface.name}: paths (colours as on the right)")
    ax.legend(loc="lower right", fontsize=8)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel(f"loss (log scale, floor {LOSS_FLOOR:g} x start)")
    ax_loss.set_ylim(bottom=floor / 2)
    ax_loss.set_title(f"loss per step (lr {result['lr']:.3g}, mu {result['momentum']:.2g}, "
                      f"Adam lr {result['adam_lr']:.3g})")
    ax_loss.legend(fontsize=8)
    ax_loss.grid(alpha=0.3)
    return fig


class OptimizerRace(widgets.VBox):
    """Controls for surface, learning rates and steps; a figure of the three races.

    Attributes:
        controls: dict of the control widgets: ``"surface"`` (Dropdown), ``"lr"`` and
            ``"adam_lr"`` (FloatLogSliders), ``"momentum"`` (FloatSlider, mu) and ``"steps"``
            (IntSlider).
        label: ``HTML`` widget with one sentence per racer.
        image: ``Image`` widget with the PNG of the figure.
        state: the current result of :func:`race`.
    """

    def __init__(self, *, surface: str = "elongated valley", lr: float | None = None,
                 adam_lr: float | None = None, steps: int | None = None):
        if surface not in SURFACES:
            raise ValueError(f"unknown surface {surface!r}; choose one of {list(SURFACES)}")
        style = {"description_width": "130px"}
        layout = widgets.Layout(width="400px")
        self.controls = {
            "surface": widgets.Dropdown(options=list(SURFACES), value=surface, description="surface",
                                        style=style, layout=layout),
            "lr": widgets.FloatLogSlider(value=0.01, base=10, min=-4, max=0.5, step=0.02,
                                         description="SGD/momentum lr", readout_format=".2g",
                                         continuous_update=False, style=style, layout=layout),
            "adam_lr": widgets.FloatLogSlider(value=0.1, base=10, min=-3, max=0.5, step=0.02,
                                              description="Adam lr", readout_format=".2g",
                                              continuous_update=False, style=style, layout=layout),
            "momentum": widgets.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01,
                                            description="momentum mu", readout_format=".2f",
                                            continuous_update=False, style=style, layout=layout),
            "steps": widgets.IntSlider(value=100, min=1, max=500, description="steps",
                                       continuous_update=False, style=style, layout=layout),
        }
        self.label = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.state: dict = {}
        self._quiet = True
        self._defaults(surface)
        for key, value in (("lr", lr), ("adam_lr", adam_lr), ("steps", steps)):
            if value is not None:
                self.controls[key].value = value
        self._quiet = False
        super().__init__([widgets.HBox([widgets.VBox(list(self.controls.values())), self.label]),
                          self.image])
        self.controls["surface"].observe(self._on_surface, names="value")
        for key in ("lr", "adam_lr", "momentum", "steps"):
            self.controls[key].observe(self._on_change, names="value")
        self.update()

    def _defaults(self, name: str) -> None:
        """Reset the learning rates and steps to values that suit the surface."""
        lr, adam_lr, steps = DEFAULTS.get(name, (SURFACES[name].lr, 0.1, 100))
        self.controls["lr"].value = lr
        self.controls["adam_lr"].value = adam_lr
        self.controls["steps"].value = steps

    def _on_surface(self, change) -> None:
        self._quiet = True
        try:
            self._defaults(change["new"])
        finally:
            self._quiet = False
        self.update()

    def _on_change(self, change) -> None:
        if not self._quiet:
            self.update()

    def update(self) -> None:
        """Run the race with the current settings; refresh state, label and figure."""
        c = self.controls
        self.state = race(c["surface"].value, c["lr"].value, c["adam_lr"].value, c["steps"].value,
                          momentum=c["momentum"].value)
        self.label.value = self._sentences()
        fig = draw_race(self.state)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        self.image.value = buffer.getvalue()

    def _sentences(self) -> str:
        s = self.state
        lines = []
        for name in OPTIMIZERS:
            if s["diverged"][name]:
                lines.append(f"<b>{name}</b>: diverged (learning rate too large)")
            elif s["growing"][name]:
                lines.append(f"<b>{name}</b>: loss <b>growing</b>, {s['losses'][name][0]:.3g} → "
                             f"{s['final_loss'][name]:.3g} (learning rate too large)")
            else:
                lines.append(f"<b>{name}</b>: loss {s['final_loss'][name]:.3g}")
        if s["winner"] == "tie":
            best = "tie between " + " and ".join(f"<b>{w}</b>" for w in s["winners"])
        elif s["winner"] == "none":
            best = "none (all diverged)"
        else:
            best = f"<b>{s['winner']}</b>"
        lines.append(f"after {s['steps']} steps. Lowest: {best}.")
        lines.append(f"Momentum's effective step lr / (1 - mu) = {s['effective_lr']:.3g}, "
                     f"against plain SGD's {s['lr']:.3g}.")
        return "<br>".join(lines)


def optimizer_race(*, surface: str = "elongated valley", lr: float | None = None,
                   adam_lr: float | None = None, steps: int | None = None) -> OptimizerRace:
    """Race SGD, momentum and Adam (``dlcore.optim``) on a 2-D surface.

    Args:
        surface: ``"quadratic bowl"``, ``"elongated valley"`` or ``"Rosenbrock"``.
        lr: learning rate of SGD and momentum (default: one that suits the surface).
        adam_lr: learning rate of Adam (default: one that suits the surface).
        steps: optimizer steps for each racer (default: enough to see the outcome).

    Returns:
        An :class:`OptimizerRace` (an ``ipywidgets.VBox``). Display it in a notebook,
        or set ``.controls[...]`` values and read ``.state`` without one.
    """
    return OptimizerRace(surface=surface, lr=lr, adam_lr=adam_lr, steps=steps)

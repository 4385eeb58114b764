"""What :func:`~dlcore.torch.fit` returns: the per-epoch history, and its loss curve (chapter 08).

:class:`History` is a plain ``dict`` of lists, one float per completed epoch::

    history["train_loss"]    # mean training loss of each epoch
    history["val_loss"]      # with a validation loader
    history["val_accuracy"]  # one "val_<name>" per metric
    history["seconds"]       # wall time of each epoch

plus ``history.epochs_done``, ``history.interrupted`` and ``history.plot()``.

Live figures. In a live notebook ``fit(plot="auto")`` shows ONE figure and redraws
it in place after every epoch (an IPython display handle). Anywhere else it draws
no live updates; in a notebook that is run non-interactively it displays the final
figure once, at the end, so the executed notebook (and the book) has it. See
:func:`live_notebook` for how a live notebook is told apart.
"""

from __future__ import annotations

import os

_TRUE = ("1", "true", "yes", "on")


class History(dict):
    """Per-epoch training history: ``{name: [one float per epoch]}``.

    Attributes:
        epochs_done: how many epochs completed (also after a resume: all of them).
        interrupted: True when training stopped early (KeyboardInterrupt).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.epochs_done = max((len(v) for v in self.values()), default=0)
        self.interrupted = False

    def append(self, **values: float) -> None:
        """Record one completed epoch: ``history.append(train_loss=0.3, seconds=1.2)``."""
        for name, value in values.items():
            self.setdefault(name, []).append(float(value))
        self.epochs_done += 1

    def last(self) -> dict[str, float]:
        """The values of the last completed epoch (empty before the first)."""
        return {k: v[-1] for k, v in self.items() if v}

    # --- checkpoints: only lists, floats, ints, strings and bools (torch.load(weights_only=True)) ---
    def to_state(self) -> dict:
        return {"values": {k: [float(x) for x in v] for k, v in self.items()},
                "epochs_done": int(self.epochs_done), "interrupted": bool(self.interrupted)}

    @classmethod
    def from_state(cls, state: dict) -> History:
        history = cls({k: [float(x) for x in v] for k, v in state["values"].items()})
        history.epochs_done = int(state["epochs_done"])
        history.interrupted = bool(state.get("interrupted", False))
        return history

    def __repr__(self) -> str:
        flag = ", interrupted" if self.interrupted else ""
        return f"History(epochs_done={self.epochs_done}{flag}, {dict.__repr__(self)})"

    # --- figures --------------------------------------------------------------------------
    def metric_names(self) -> list[str]:
        """The validation metrics recorded, e.g. ``["val_accuracy"]`` (not the losses)."""
        return [k for k in self if k.startswith("val_") and k != "val_loss"]

    def plot(self, ax=None):
        """Draw the losses (and the validation metrics) per epoch.

        Args:
            ax: None (a new figure: one panel for the losses, a second one for the
                metrics if there are any), one Axes (losses only) or two Axes.

        Returns:
            The matplotlib Figure.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            ncols = 2 if self.metric_names() else 1
            fig, axes = plt.subplots(1, ncols, figsize=(4.8 * ncols, 3.6), squeeze=False)
            axes = list(axes[0])
        else:
            axes = list(ax) if isinstance(ax, (list, tuple)) else [ax]
            fig = axes[0].figure
        self._draw(axes)
        if ax is None:
            fig.tight_layout()
        return fig

    def _draw(self, axes) -> None:
        from matplotlib.ticker import MaxNLocator

        epochs = list(range(1, self.epochs_done + 1))
        panels = [("Loss per epoch", "loss", [k for k in ("train_loss", "val_loss") if k in self])]
        if len(axes) > 1:
            panels.append(("Validation metrics per epoch", "metric", self.metric_names()))
        for ax, (title, ylabel, keys) in zip(axes, panels):
            ax.clear()
            for key in keys:
                values = self[key][-len(epochs):] if epochs else []
                ax.plot(epochs[-len(values):] if values else [], values, marker="o", label=key.replace("_", " "))
            ax.set_title(title)
            ax.set_xlabel("epoch")
            ax.set_ylabel(ylabel)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if keys:
                ax.legend()


def _ipython_kernel():
    """The running IPython shell if it is a Jupyter kernel (a notebook), else None."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    ip = get_ipython()
    return ip if ip is not None and getattr(ip, "kernel", None) is not None else None


def non_interactive_reason() -> str | None:
    """Why this process counts as a non-interactive run, or None when it may be live.

    Non-interactive: ``DLCORE_NONINTERACTIVE`` set to 1/true, ``CI`` set (GitHub
    Actions and most CI services set it). Notebook runners (nbclient, nbval) leave no
    trace in the kernel that could be detected reliably, so the runners of this
    repository (``tools/smoke_full.py``, the test configuration) set
    ``DLCORE_NONINTERACTIVE=1`` for the kernels they start.
    """
    if os.environ.get("DLCORE_NONINTERACTIVE", "").strip().lower() in _TRUE:
        return "DLCORE_NONINTERACTIVE"
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return "CI"
    return None


def live_notebook() -> bool:
    """True in a notebook kernel that a person is watching.

    That is: an IPython *kernel* (not plain Python, not the terminal IPython) and
    no sign of a non-interactive run (:func:`non_interactive_reason`). If a runner
    slips through, nothing breaks: the live figure is one display whose last update
    is the final figure, so the saved notebook holds the same single figure.
    """
    return _ipython_kernel() is not None and non_interactive_reason() is None


class LivePlot:
    """One figure for a whole ``fit`` run: updated in place live, or shown once at the end.

    ``mode`` is ``"live"`` (redraw after every epoch), ``"final"`` (draw once in
    :meth:`close`) or ``"off"``.
    """

    def __init__(self, plot: bool | str):
        if plot not in ("auto", True, False):
            raise ValueError(f"plot must be 'auto', True or False, got {plot!r}")
        in_kernel = _ipython_kernel() is not None
        if plot is False:
            self.mode = "off"
        elif plot == "auto":
            self.mode = "live" if live_notebook() else ("final" if in_kernel else "off")
        else:
            self.mode = "live" if live_notebook() else "final"
        self.in_kernel = in_kernel
        self._fig = None
        self._handle = None

    def update(self, history: History) -> None:
        """Called after each completed epoch."""
        if self.mode != "live" or history.epochs_done == 0:
            return
        from IPython.display import display

        self._draw(history)
        if self._handle is None:
            self._handle = display(self._fig, display_id=True)
        else:
            self._handle.update(self._fig)

    def close(self, history: History):
        """Called once when fit ends (also after an interrupt). Returns the figure or None."""
        if self.mode == "off" or history.epochs_done == 0:
            self._close_figure()
            return None
        self._draw(history)
        fig = self._fig
        if self.in_kernel:
            from IPython.display import display

            if self._handle is None:
                display(fig)
            else:
                self._handle.update(fig)
            self._close_figure()  # shown once; keep the inline backend from showing it again
        return fig

    def _draw(self, history: History) -> None:
        import matplotlib.pyplot as plt

        ncols = 2 if history.metric_names() else 1
        if self._fig is None or len(self._fig.axes) != ncols:
            self._close_figure()
            self._fig, axes = plt.subplots(1, ncols, figsize=(4.8 * ncols, 3.6), squeeze=False)
        history._draw(self._fig.axes)
        self._fig.tight_layout()

    def _close_figure(self) -> None:
        if self._fig is not None:
            import matplotlib.pyplot as plt

            plt.close(self._fig)

"""Chapter 13 explorer: transfer strategies against the number of labels per class.

Introduced in chapter 13 ("Transfer learning"). The chapter trains, for every number of
labels per class, strategy (fine-tune everything, a linear probe on frozen features, or
training from scratch), learning rate and seed, one small network, and records its test
accuracy. The explorer does not train anything: it looks those precomputed runs up, so it
answers at once. Pick the labels per class, the strategy and the learning rate; it shows the
mean and spread over seeds, the gap to training from scratch at the same labels and learning
rate, and a flag for what to notice:

* ``"worse than scratch"`` -- the pretrained start hurt (negative transfer) by more than
  the spread over seeds;
* ``"within the noise"`` -- the gap to scratch is smaller than the spread over seeds;
* ``"transfer helps"`` -- better than scratch by more than the spread;
* ``"near chance"`` -- the run learned almost nothing (e.g. a learning rate far too high);
* ``"this is scratch"`` when the strategy is scratch itself.

Runs are records ``{"strategy", "lr", "labels", "seed", "accuracy"}``; ``tests/test_widgets_ch13.py``
drives the explorer without a browser::

    explorer = transfer_explorer(runs, chance=0.2)
    explorer.controls["labels"].value = 1
    explorer.state["flag"]
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable

import ipywidgets as widgets
import numpy as np

from ..plot import PALETTE

SCRATCH = "scratch"
_KEYS = ("strategy", "lr", "labels", "seed", "accuracy")


def _check_runs(runs: Iterable[dict]) -> list[dict]:
    runs = list(runs)
    if not runs:
        raise ValueError("transfer_explorer needs at least one run; got none")
    for i, r in enumerate(runs):
        if not isinstance(r, dict) or any(k not in r for k in _KEYS):
            got = sorted(r) if isinstance(r, dict) else type(r).__name__
            raise ValueError(f"run {i} must be a dict with keys {list(_KEYS)}; got {got}")
        acc = float(r["accuracy"])
        if not (0.0 <= acc <= 1.0):
            raise ValueError(f"run {i} has accuracy {acc}, expected a fraction in [0, 1]")
    if not any(r["strategy"] == SCRATCH for r in runs):
        raise ValueError(f"the runs need a {SCRATCH!r} strategy to compare against; got strategies "
                         f"{sorted({r['strategy'] for r in runs})}")
    return [{"strategy": str(r["strategy"]), "lr": float(r["lr"]), "labels": int(r["labels"]),
             "seed": int(r["seed"]), "accuracy": float(r["accuracy"])} for r in runs]


def summarise(runs: list[dict], strategy: str, lr: float, labels: int) -> dict | None:
    """Mean, standard deviation (over seeds, ddof=0) and count of the matching runs, or None."""
    accs = [r["accuracy"] for r in runs
            if r["strategy"] == strategy and math.isclose(r["lr"], lr) and r["labels"] == labels]
    if not accs:
        return None
    return {"mean": float(np.mean(accs)), "std": float(np.std(accs)), "n": len(accs)}


def explore(runs: list[dict], strategy: str, lr: float, labels: int, *, chance: float) -> dict:
    """The explorer's state for one choice: this strategy's summary, scratch's, the gap and a flag."""
    mine = summarise(runs, strategy, lr, labels)
    scratch = summarise(runs, SCRATCH, lr, labels)
    state = {"strategy": strategy, "lr": lr, "labels": labels, "summary": mine, "scratch": scratch,
             "gap": None, "best": None}
    at_labels = {(r["strategy"], r["lr"]) for r in runs if r["labels"] == labels}
    means = {k: summarise(runs, k[0], k[1], labels)["mean"] for k in at_labels}
    if means:
        state["best"] = max(means, key=means.get)
    if mine is None:
        state["flag"] = "not computed"
        return state
    if mine["mean"] < chance + 0.1 * (1 - chance):          # within 10% of the way up from chance
        state["flag"] = "near chance"
    elif strategy == SCRATCH:
        state["flag"] = "this is scratch"
    elif scratch is None:
        state["flag"] = "no scratch run to compare"
    else:
        gap = mine["mean"] - scratch["mean"]
        noise = max(mine["std"], scratch["std"])
        state["gap"] = gap
        state["flag"] = ("transfer helps" if gap > noise else "worse than scratch" if gap < -noise
                         else "within the noise")
    return state


def draw_curves(runs: list[dict], state: dict, *, chance: float, fig=None):
    """Accuracy against labels per class for every strategy at the chosen learning rate."""
    if fig is None:
        from matplotlib.figure import Figure  # noqa: PLC0415  (no pyplot: no global figure state)

        fig = Figure(figsize=(7, 4), dpi=80)
    ax = fig.add_subplot(1, 1, 1)
    strategies = sorted({r["strategy"] for r in runs}, key=lambda s: (s == SCRATCH, s))
    for strategy, colour in zip(strategies, PALETTE):
        xs = sorted({r["labels"] for r in runs if r["strategy"] == strategy and math.isclose(r["lr"], state["lr"])})
        stats = [summarise(runs, strategy, state["lr"], x) for x in xs]
        if not xs:
            continue
        mean = np.array([s["mean"] for s in stats])
        std = np.array([s["std"] for s in stats])
        ax.plot(xs, mean, "o-", color=colour, label=strategy, lw=2.5 if strategy == state["strategy"] else 1.2)
        ax.fill_between(xs, mean - std, mean + std, color=colour, alpha=0.2)
    if state["summary"] is not None:
        ax.plot([state["labels"]], [state["summary"]["mean"]], "k*", ms=14, label="your choice")
    ax.axhline(chance, color="grey", ls=":", lw=1, label="chance")
    ax.set_xscale("log")
    ax.set(xlabel="labels per class (log scale)", ylabel="test accuracy",
           title=f"Label efficiency at learning rate {state['lr']:g} (band: ±1 std over seeds)", ylim=(0, 1))
    ax.legend(fontsize=8, loc="lower right")
    return fig


def _sentence(state: dict) -> str:
    s = state["summary"]
    if s is None:
        return (f"<b>{state['strategy']}</b> at lr {state['lr']:g} with {state['labels']} labels per class "
                "was not computed in this run.")
    text = (f"<b>{state['strategy']}</b>, lr {state['lr']:g}, {state['labels']} labels per class: "
            f"accuracy <b>{s['mean']:.1%}</b> ± {s['std']:.1%} over {s['n']} seeds")
    if state["gap"] is not None:
        text += f"; {state['gap'] * 100:+.1f} points against scratch ({state['scratch']['mean']:.1%})"
    colour = PALETTE[3] if state["flag"] in ("worse than scratch", "near chance") else "black"
    text += f"<br><b style='color:{colour}'>{state['flag']}</b>"
    if state["best"] is not None:
        text += f"; best here: {state['best'][0]} at lr {state['best'][1]:g}"
    return text


class TransferExplorer(widgets.VBox):
    """Controls: labels per class, strategy, learning rate; a sentence and the curves.

    Attributes:
        controls: ``"labels"`` (SelectionSlider over the label counts in the runs),
            ``"strategy"`` (Dropdown) and ``"lr"`` (Dropdown over the learning rates).
        label: ``HTML`` widget with the summary and the flag.
        image: ``Image`` widget with the PNG of :func:`draw_curves`.
        state: the current result of :func:`explore`.
    """

    def __init__(self, runs, *, chance: float):
        self.runs = _check_runs(runs)
        if not (0.0 <= chance < 1.0):
            raise ValueError(f"chance must be an accuracy in [0, 1), got {chance}")
        self.chance = float(chance)
        labels = sorted({r["labels"] for r in self.runs})
        strategies = sorted({r["strategy"] for r in self.runs}, key=lambda s: (s == SCRATCH, s))
        lrs = sorted({r["lr"] for r in self.runs})
        style = {"description_width": "120px"}
        self.controls = {
            "labels": widgets.SelectionSlider(options=labels, value=labels[0], description="labels per class",
                                              continuous_update=False, style=style),
            "strategy": widgets.Dropdown(options=strategies, value=strategies[0], description="strategy",
                                         style=style),
            "lr": widgets.Dropdown(options=[(f"{lr:g}", lr) for lr in lrs], value=lrs[0],
                                   description="learning rate", style=style),
        }
        self.label = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.state: dict = {}
        super().__init__([widgets.HBox([widgets.VBox(list(self.controls.values())), self.label]), self.image])
        for control in self.controls.values():
            control.observe(lambda change: self.update(), names="value")
        self.update()

    def update(self) -> None:
        """Look the current choice up; refresh state, sentence and figure."""
        c = self.controls
        self.state = explore(self.runs, c["strategy"].value, c["lr"].value, c["labels"].value,
                             chance=self.chance)
        self.label.value = _sentence(self.state)
        fig = draw_curves(self.runs, self.state, chance=self.chance)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        self.image.value = buffer.getvalue()


def transfer_explorer(runs, *, chance: float = 0.2) -> TransferExplorer:
    """Explore precomputed transfer runs: accuracy by labels per class, strategy and learning rate.

    Args:
        runs: records ``{"strategy", "lr", "labels", "seed", "accuracy"}`` (accuracy in [0, 1]),
            with at least one ``"scratch"`` strategy to compare against.
        chance: the accuracy of guessing (0.2 for five classes).

    Returns:
        A :class:`TransferExplorer` (an ``ipywidgets.VBox``).
    """
    return TransferExplorer(runs, chance=chance)

"""Chapter 05 explorer: a small "neural network playground" for 2-D classification.

Introduced in chapter 05 ("Multilayer perceptrons and backpropagation"), in the spirit
of TensorFlow Playground. Choose a synthetic 2-D dataset (moons, circles, spirals, XOR),
the hidden width and depth of a multilayer perceptron, its activation, the learning
rate and the number of epochs. A fresh network, built from ``dlcore.nn`` layers, trains
with mini-batch Adam on 70% of the points, and the figure shows the decision regions and
the training and test loss, redrawn a few times while it trains.

The label flags a run that diverged or is stuck at chance (:func:`training_status`), and
the loss plot marks the chance level log K.

The helpers are plain functions that the chapter also uses: :func:`make_mlp`,
:func:`train_mlp`, :func:`predict_proba` and :func:`plot_decision_regions`.

The explorer is an ordinary ``ipywidgets.VBox`` that a test can drive without a
browser::

    playground = playground_explorer()
    playground.controls["dataset"].value = "circles"   # retrains
    playground.state["test_accuracy"]
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np

from .. import nn, optim
from ..data import make_circles, make_moons, make_spirals, make_xor, train_val_test_split
from ..plot import PALETTE

#: The datasets offered: name -> function (n_samples, generator) -> Dataset (all synthetic).
DATASETS = {
    "moons": lambda n, gen: make_moons(n, noise=0.15, seed=gen),
    "circles": lambda n, gen: make_circles(n, noise=0.1, factor=0.5, seed=gen),
    "spirals": lambda n, gen: make_spirals(n, n_classes=3, noise=0.2, seed=gen),
    "xor": lambda n, gen: make_xor(n, noise=0.1, seed=gen),
}

#: The activations offered: name -> dlcore layer class.
ACTIVATIONS = {
    "tanh": nn.Tanh,
    "ReLU": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "leaky ReLU": nn.LeakyReLU,
    "GELU": nn.GELU,
}


def make_mlp(n_inputs: int, n_classes: int, width: int, depth: int, activation: str = "tanh", *,
             generator: np.random.Generator) -> nn.Sequential:
    """A multilayer perceptron: ``depth`` hidden layers of ``width`` units, then the logits.

    ``depth=0`` gives a linear model (softmax regression). Parameters are float64.
    Shapes: x (N, n_inputs) -> logits (N, n_classes).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}")
    if depth < 0 or width < 1:
        raise ValueError(f"make_mlp needs depth >= 0 and width >= 1, got depth={depth}, width={width}")
    layers, fan_in = [], n_inputs
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width, dtype=np.float64, generator=generator), ACTIVATIONS[activation]()]
        fan_in = width
    layers.append(nn.Linear(fan_in, n_classes, dtype=np.float64, generator=generator))
    return nn.Sequential(*layers)


def predict_proba(net: nn.Module, X: np.ndarray) -> np.ndarray:
    """Class probabilities, the softmax of the network's logits.  X: (N, 2) -> (N, K)."""
    logits = net(np.asarray(X, dtype=np.float64))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def train_mlp(net: nn.Module, X: np.ndarray, y: np.ndarray, *, lr: float, epochs: int, generator,
              batch_size: int = 32, X_test=None, y_test=None, callback=None, every: int = 0) -> dict:
    """Train ``net`` with mini-batch Adam on cross-entropy; return the loss history.

    Args:
        X, y: training inputs (N, D) and integer labels (N,).
        lr, epochs, batch_size: Adam's learning rate, passes over the data, batch size.
        generator: ``numpy.random.Generator`` for the shuffles.
        X_test, y_test: optional held-out data, whose loss is recorded after every epoch.
        callback: called as ``callback(epoch, history)`` every ``every`` epochs and at the end.

    Returns:
        ``{"train_loss": [...], "test_loss": [...], "diverged": bool}``, one loss per epoch
        (the mean over the epoch's mini-batches). Training stops, with ``diverged`` True, if
        the loss or a gradient becomes NaN or inf.
    """
    loss_fn, opt = nn.CrossEntropyLoss(), optim.Adam(net.parameters(), lr=lr)
    history = {"train_loss": [], "test_loss": [], "diverged": False}
    for epoch in range(1, epochs + 1):
        order, total = generator.permutation(len(y)), 0.0
        try:
            for start in range(0, len(y), batch_size):
                rows = order[start:start + batch_size]
                opt.zero_grad()
                total += float(loss_fn(net(X[rows]), y[rows])) * len(rows)
                net.backward(loss_fn.backward())
                opt.step()
            if X_test is not None:
                history["test_loss"].append(float(loss_fn(net(X_test), y_test)))
        except FloatingPointError:
            history["diverged"] = True
            break
        history["train_loss"].append(total / len(y))
        if callback is not None and ((every and epoch % every == 0) or epoch == epochs):
            callback(epoch, history)
    return history


def decision_image(net: nn.Module, extent: tuple[float, float, float, float], n_classes: int,
                   resolution: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities on a grid and the RGB image of the decision regions.

    Returns:
        ``probs`` (resolution, resolution, K), row 0 at the bottom, and ``rgb`` of shape
        (resolution, resolution, 3): each point's class colour, faded towards white where
        the network is unsure.
    """
    x0, x1, y0, y1 = extent
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    probs = predict_proba(net, np.column_stack([gx.ravel(), gy.ravel()])).reshape(resolution, resolution, -1)
    colours = np.array([_rgb(PALETTE[k]) for k in range(n_classes)])
    mix = probs @ colours
    confidence = (probs.max(axis=2, keepdims=True) - 1 / n_classes) / (1 - 1 / n_classes)
    strength = 0.15 + 0.5 * confidence
    return probs, (1 - strength) * 1.0 + strength * mix


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])


def data_extent(X: np.ndarray, margin: float = 0.4) -> tuple[float, float, float, float]:
    """(xmin, xmax, ymin, ymax) around the points X (N, 2), with a margin."""
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def plot_decision_regions(ax, net: nn.Module, X: np.ndarray, y: np.ndarray, *, X_test=None, y_test=None,
                          extent=None, resolution: int = 80, title: str | None = None) -> np.ndarray:
    """Draw the network's decision regions and the points on ``ax``; return the grid probabilities.

    Training points are filled circles; test points, if given, are white-edged squares.
    """
    n_classes = int(max(y.max(), -1 if y_test is None else y_test.max())) + 1
    extent = extent or data_extent(X if X_test is None else np.vstack([X, X_test]))
    probs, rgb = decision_image(net, extent, n_classes, resolution)
    ax.imshow(rgb, origin="lower", extent=extent, aspect="auto", interpolation="bilinear")
    colours = [PALETTE[k] for k in range(n_classes)]
    for k in range(n_classes):
        ax.scatter(*X[y == k].T, s=12, color=colours[k], edgecolor="black", linewidth=0.3)
        if X_test is not None:
            ax.scatter(*X_test[y_test == k].T, s=14, marker="s", color=colours[k], edgecolor="white",
                       linewidth=0.6)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.grid(False)
    if title:
        ax.set_title(title)
    return probs


def accuracy(net: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows of X (N, D) whose largest logit is at the label y (N,)."""
    return float(np.mean(net(X).argmax(axis=1) == y))


def describe_network(depth: int, width: int, activation: str) -> str:
    """"a linear model (no hidden layer)", "1 hidden layer of 8 tanh units", "2 hidden layers of ..."."""
    if depth == 0:
        return "a linear model (no hidden layer)"
    return f"{depth} hidden layer{'s' if depth > 1 else ''} of {width} {activation} unit{'s' if width > 1 else ''}"


def training_status(train_loss: list[float], n_classes: int, *, stopped: bool = False,
                    train_accuracy: float | None = None, majority: float | None = None) -> tuple[str, str]:
    """Classify a run from its loss per epoch; return (status, an HTML note for the label).

    ``"diverged"``: the loss became NaN or inf (``stopped``), or ended above twice the
    loss of guessing at random, log K. ``"chance"``: it ended within 10% of log K or above,
    or the final network's training accuracy is no better than always answering the most
    common class (``majority``, plus 5 points), so it has learnt next to nothing.
    ``"ok"`` otherwise.
    """
    chance = float(np.log(n_classes))
    red = "<b style='color:#b00000'>"
    if stopped or not train_loss or not np.isfinite(train_loss[-1]):
        return "diverged", (f"{red}diverged</b>: the loss became NaN or inf, so training stopped; lower the "
                            "learning rate. ")
    last = train_loss[-1]
    if last > 2 * chance:
        return "diverged", (f"{red}diverged</b>: the training loss ended at {last:.3g}, far above the "
                            f"{chance:.3g} of guessing at random; lower the learning rate. ")
    if train_accuracy is not None and majority is not None and train_accuracy <= majority + 0.05:
        return "chance", (f"{red}stuck at chance</b>: the network classifies the training points no "
                          f"better than always answering the most common class ({majority:.0%}); lower "
                          "the learning rate or train longer. ")
    if last > 0.9 * chance:
        return "chance", (f"{red}stuck at chance</b>: the training loss ended at {last:.3g}, about the "
                          f"{chance:.3g} of guessing at random; lower the learning rate or train longer. ")
    return "ok", ""


class PlaygroundExplorer(widgets.VBox):
    """Controls for the data, the network and the training, a sentence and a figure.

    Every change of a control trains a fresh network (same initial seed) and redraws;
    the "new initialisation" button draws a new seed and trains again.

    Attributes:
        controls: dict of the control widgets: ``"dataset"``, ``"activation"`` (Dropdowns),
            ``"width"``, ``"depth"``, ``"epochs"`` (IntSliders), ``"lr"`` (FloatLogSlider)
            and ``"reinit"`` (Button).
        label: ``HTML`` widget with the accuracies.
        image: ``Image`` widget with the PNG of the decision regions and the loss curves.
        state: dict with the settings, ``train_loss`` and ``test_loss`` (one per epoch),
            ``train_accuracy``, ``test_accuracy``, ``probabilities`` (the grid, (R, R, K)),
            ``status`` (:func:`training_status`: "ok", "chance" or "diverged"), ``diverged``
            (status is "diverged"), ``redraws`` (how many times the figure was drawn during training)
            and ``net`` (the trained network).
        data: dict name -> (X_train, y_train, X_test, y_test).
    """

    def __init__(self, *, n_samples: int = 200, dataset: str = "moons", width: int = 8, depth: int = 2,
                 activation: str = "tanh", lr: float = 0.03, epochs: int = 150, live: bool = True,
                 resolution: int = 70, rng: np.random.Generator | None = None):
        self._rng = np.random.default_rng(0) if rng is None else rng
        self.data = {}
        for name, make in DATASETS.items():
            ds = make(n_samples, self._rng)
            (X_train, y_train), (X_test, y_test) = train_val_test_split(ds.X, ds.y, (0.7, 0.3), seed=self._rng)
            self.data[name] = (X_train, y_train, X_test, y_test)
        self._seed = int(self._rng.integers(2**31))
        self.live, self.resolution = live, resolution
        style = {"description_width": "90px"}
        self.controls = {
            "dataset": widgets.Dropdown(options=list(DATASETS), value=dataset, description="dataset", style=style),
            "activation": widgets.Dropdown(options=list(ACTIVATIONS), value=activation, description="activation",
                                           style=style),
            "width": widgets.IntSlider(value=width, min=1, max=32, description="hidden width",
                                       continuous_update=False, style=style),
            "depth": widgets.IntSlider(value=depth, min=0, max=4, description="hidden layers",
                                       continuous_update=False, style=style),
            "lr": widgets.FloatLogSlider(value=lr, base=10, min=-3, max=0, step=0.25, description="learning rate",
                                         readout_format=".3g", continuous_update=False, style=style),
            "epochs": widgets.IntSlider(value=epochs, min=10, max=400, step=10, description="epochs",
                                        continuous_update=False, style=style),
            "reinit": widgets.Button(description="new initialisation", icon="refresh"),
        }
        self.label = widgets.HTML()
        self.image = widgets.Image(format="png")
        c = self.controls
        rows = widgets.HBox([widgets.VBox([c["dataset"], c["activation"], c["reinit"]]),
                             widgets.VBox([c["width"], c["depth"]]), widgets.VBox([c["lr"], c["epochs"]])])
        super().__init__([rows, self.label, self.image])
        for name, control in c.items():
            if name != "reinit":
                control.observe(self._on_change, names="value")
        c["reinit"].on_click(self._on_reinit)
        self.train()

    def _on_change(self, change) -> None:
        self.train()

    def _on_reinit(self, button=None) -> None:
        self._seed = int(self._rng.integers(2**31))
        self.train()

    def train(self) -> dict:
        """Train a fresh network with the current settings; update ``state``, label and image."""
        c = {name: control.value for name, control in self.controls.items() if name != "reinit"}
        X_train, y_train, X_test, y_test = self.data[c["dataset"]]
        n_classes = int(max(y_train.max(), y_test.max())) + 1
        gen = np.random.default_rng(self._seed)
        net = make_mlp(2, n_classes, c["width"], c["depth"], c["activation"], generator=gen)
        self.controls["width"].disabled = c["depth"] == 0             # a linear model has no hidden width
        self.state = dict(c, net=net, train_loss=[], test_loss=[], redraws=0, diverged=False, n_classes=n_classes,
                          n_parameters=int(sum(p.data.size for p in net.parameters())))
        self._extent = data_extent(np.vstack([X_train, X_test]))

        def redraw(epoch, history):
            self._refresh(history, epoch)

        every = max(1, c["epochs"] // 3) if self.live else 0        # three redraws while training
        history = train_mlp(net, X_train, y_train, lr=c["lr"], epochs=c["epochs"], generator=gen,
                            X_test=X_test, y_test=y_test, callback=redraw, every=every)
        if history["diverged"]:
            self._refresh(history, len(history["train_loss"]))
        return self.state

    def _refresh(self, history: dict, epoch: int) -> None:
        X_train, y_train, X_test, y_test = self.data[self.state["dataset"]]
        net = self.state["net"]
        finite = all(np.isfinite(p.data).all() for p in net.parameters())
        self.state.update(train_loss=list(history["train_loss"]), test_loss=list(history["test_loss"]),
                          diverged=history["diverged"], epochs_done=epoch,
                          train_accuracy=accuracy(net, X_train, y_train) if finite else float("nan"),
                          test_accuracy=accuracy(net, X_test, y_test) if finite else float("nan"))
        s = self.state
        majority = float(np.bincount(y_train).max() / len(y_train))
        s["status"], note = training_status(s["train_loss"], s["n_classes"], stopped=s["diverged"],
                                            train_accuracy=s["train_accuracy"] if finite else None,
                                            majority=majority)
        s["diverged"] = s["status"] == "diverged"
        self.label.value = (f"{note}Epoch {epoch} of {s['epochs']}: {describe_network(s['depth'], s['width'], s['activation'])} "
                            f"({s['n_parameters']} parameters). "
                            f"Training accuracy <b>{s['train_accuracy']:.1%}</b>, "
                            f"test accuracy <b>{s['test_accuracy']:.1%}</b>.")
        self.image.value = self._render_png(finite)
        self.state["redraws"] += 1

    def _render_png(self, finite: bool) -> bytes:
        from matplotlib.figure import Figure  # noqa: PLC0415  (no pyplot: no global figure state)

        X_train, y_train, X_test, y_test = self.data[self.state["dataset"]]
        fig = Figure(figsize=(9.0, 3.6), dpi=80)
        ax_regions = fig.add_axes((0.07, 0.14, 0.43, 0.76))     # fixed positions: no layout engine,
        ax_loss = fig.add_axes((0.60, 0.14, 0.38, 0.76))        # which would dominate the redraw time
        if finite:
            self.state["probabilities"] = plot_decision_regions(
                ax_regions, self.state["net"], X_train, y_train, X_test=X_test, y_test=y_test,
                extent=self._extent, resolution=self.resolution,
                title=f"{self.state['dataset']}: decision regions (squares: test points)")
        else:
            ax_regions.set_title("the network's weights are NaN or inf")
            ax_regions.set_xlabel("$x_1$")
            ax_regions.set_ylabel("$x_2$")
        epochs = np.arange(1, len(self.state["train_loss"]) + 1)
        floor = 1e-8                                   # a loss of exactly 0 must not stretch the log axis
        train = np.clip(np.nan_to_num(self.state["train_loss"], nan=np.inf), floor, 1e12)
        test = np.clip(np.nan_to_num(self.state["test_loss"], nan=np.inf), floor, 1e12)
        ax_loss.plot(epochs, train, color=PALETTE[0], label="training loss")
        ax_loss.plot(epochs[:len(test)], test, color=PALETTE[1], label="test loss")
        ax_loss.axhline(np.log(self.state["n_classes"]), color="0.5", ls=":", lw=1,
                        label="chance level, log K")
        if self.state.get("status") in ("diverged", "chance"):
            ax_loss.text(0.03, 0.05, self.state["status"].upper() if self.state["status"] == "diverged"
                         else "STUCK AT CHANCE", transform=ax_loss.transAxes, color="#b00000",
                         fontweight="bold")
        ax_loss.set_xlim(0, self.state["epochs"])
        ax_loss.set_yscale("log")
        ax_loss.set_xlabel("epoch")
        ax_loss.set_ylabel("cross-entropy (log scale)")
        ax_loss.set_title("Loss while training")
        ax_loss.legend(loc="upper right")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()


def playground_explorer(*, n_samples: int = 200, dataset: str = "moons", width: int = 8, depth: int = 2,
                        activation: str = "tanh", lr: float = 0.03, epochs: int = 150, live: bool = True,
                        resolution: int = 70, rng: np.random.Generator | None = None) -> PlaygroundExplorer:
    """A neural network playground: train small MLPs on 2-D data and watch the decision regions.

    Args:
        n_samples: points per dataset (70% for training, 30% for testing).
        dataset, width, depth, activation, lr, epochs: the controls' starting values
            (``dataset`` a key of :data:`DATASETS`, ``activation`` of :data:`ACTIVATIONS`).
        live: redraw the figure a few times while training (False: only at the end).
        resolution: grid points per axis for the decision regions.
        rng: generator for the data, the splits and the initial weights (default: seeded with 0).

    Returns:
        A :class:`PlaygroundExplorer` (an ``ipywidgets.VBox``). Display it in a notebook, or
        set ``.controls[...].value`` and read ``.state`` without one.
    """
    return PlaygroundExplorer(n_samples=n_samples, dataset=dataset, width=width, depth=depth,
                              activation=activation, lr=lr, epochs=epochs, live=live,
                              resolution=resolution, rng=rng)

"""Chapter 01 explorer: watch a learned classifier improve as it sees more examples.

Introduced in chapter 01 ("What is deep learning?"). The model is the one the
chapter writes out by hand: each class's *template* is the average of its training
images, and a new image gets the class of the closest template (after scaling every
image to length 1). A slider sets how many training examples per class the
templates are averaged from; the explorer shows the held-out accuracy, where it sits on
the whole learning curve, how much that curve varies with the random choice of
examples (a *Reshuffle* button draws another order), and the ten templates themselves.

The explorer is an ordinary ``ipywidgets.VBox``; its state can be read and set
without a browser, which is how ``tests/test_widgets_ch01.py`` drives it::

    explorer = learning_curve_explorer(X_train, y_train, X_val, y_val)
    explorer.slider.value = 20
    explorer.accuracy          # validation accuracy with 20 examples per class
    explorer.shuffle()         # a new random order (what the Reshuffle button does)
    explorer.spread            # (lowest, highest) accuracy at 20 over the orders so far
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np

from ..plot import PALETTE


def _flat(X) -> np.ndarray:
    """(N, ...) images -> (N, D) float64 rows."""
    X = np.asarray(X, dtype=np.float64)
    return X.reshape(len(X), -1)


def _image_shape(X: np.ndarray) -> tuple[int, int]:
    """(H, W) of one image in X: (N, H, W), (N, 1, H, W), or (N, D) with D a square number."""
    if X.ndim == 4 and X.shape[1] != 1:
        raise ValueError(f"learning_curve_explorer expects grey images (N, 1, H, W), got {X.shape}")
    if X.ndim >= 3:
        return tuple(X.shape[-2:])
    side = int(round(np.sqrt(X.shape[-1])))
    return (side, side) if side * side == X.shape[-1] else (1, X.shape[-1])


def _unit_length(X: np.ndarray) -> np.ndarray:
    """Scale each row of X (N, D) to Euclidean length 1 (rows of zeros stay zero)."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def templates_from(X: np.ndarray, y: np.ndarray, num_classes: int) -> np.ndarray:
    """Average image of each class.  X: (N, D), y: (N,) -> templates (num_classes, D)."""
    return np.stack([X[y == k].mean(axis=0) for k in range(num_classes)])


def closest_template(X: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """Index of the closest template for each row.  X: (N, D), templates: (K, D) -> (N,)."""
    # For rows of length 1, |a - b|^2 = 2 - 2 a.b: the closest template has the largest dot product.
    return (_unit_length(X) @ _unit_length(templates).T).argmax(axis=1)


def balanced_order(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A shuffled order of the indices of ``y`` in which every prefix is class-balanced.

    The first K indices hold one example of each of the K classes, the next K a
    second example of each, and so on, so that "the first ``k * K`` examples" means
    ``k`` examples per class.
    """
    perm = rng.permutation(len(y))
    rank = np.empty(len(y), dtype=np.int64)        # rank[i]: how many earlier examples share y[i]
    for k in np.unique(y):
        members = perm[y[perm] == k]
        rank[members] = np.arange(len(members))
    return perm[np.argsort(rank[perm], kind="stable")]


class LearningCurveExplorer(widgets.VBox):
    """A slider for the training examples per class, a reshuffle button, the accuracy and a figure.

    The accuracy is measured on held-out images that the templates never saw: in the chapter a
    *validation* set, so that choosing the number of examples never touches the test set.

    Attributes:
        slider: the ``IntSlider`` (examples per class).
        reshuffle: the ``Button`` that draws a new random order of the training examples.
        label: ``HTML`` widget with the sentence that reports the accuracy and its spread.
        image: ``Image`` widget with the PNG of the learning curves and the templates.
        per_class: examples per class used for the current state.
        accuracy: held-out accuracy of the current order at ``per_class`` (a float in [0, 1]).
        templates: the current templates, shape (num_classes, H, W).
        curve: held-out accuracy of the current order for every slider position, shape
            (max_per_class,); ``curve[k - 1]`` is the accuracy with ``k`` examples per class.
        curves: the same for every order drawn so far (the last row is the current one),
            shape (n_orders, max_per_class); at most ``max_orders`` rows are kept.
        spread: (lowest, highest) accuracy at ``per_class`` over the orders in ``curves``.
    """

    def __init__(self, X_train, y_train, X_val, y_val, *, rng: np.random.Generator | None = None,
                 per_class: int = 1, orders: int = 5, max_orders: int = 20,
                 held_out: str = "validation"):
        self._shape = _image_shape(np.asarray(X_train))
        self._X_train, self._y_train = _flat(X_train), np.asarray(y_train, dtype=np.int64)
        self._X_val, self._y_val = _flat(X_val), np.asarray(y_val, dtype=np.int64)
        if len(self._X_train) != len(self._y_train) or len(self._X_val) != len(self._y_val):
            raise ValueError("learning_curve_explorer expects X_train, y_train (and X_val, y_val) "
                             "with the same number of rows")
        if not 1 <= int(orders) <= int(max_orders):
            raise ValueError(f"learning_curve_explorer needs 1 <= orders <= max_orders, got "
                             f"orders={orders}, max_orders={max_orders}")
        self.num_classes = int(max(self._y_train.max(), self._y_val.max())) + 1
        counts = np.bincount(self._y_train, minlength=self.num_classes)
        if counts.min() == 0:
            raise ValueError("every class needs at least one training example")
        self.held_out = held_out
        self.max_orders = int(max_orders)
        self._rng = np.random.default_rng(0) if rng is None else rng
        self._max_per_class = int(counts.min())
        self._orders: list[np.ndarray] = []
        self._curves: list[np.ndarray] = []
        for _ in range(int(orders)):
            self._add_order()

        self.slider = widgets.IntSlider(value=min(max(per_class, 1), self._max_per_class), min=1,
                                        max=self._max_per_class, description="per class",
                                        continuous_update=False)
        self.reshuffle = widgets.Button(description="Reshuffle", icon="random",
                                        tooltip="draw a new random order of the training examples")
        self.label = widgets.HTML()
        self.image = widgets.Image(format="png")
        super().__init__([widgets.HBox([self.slider, self.reshuffle]), self.label, self.image])
        self.slider.observe(self._on_change, names="value")
        self.reshuffle.on_click(lambda button: self.shuffle())
        self._update(self.slider.value)

    @property
    def curve(self) -> np.ndarray:
        return self._curves[-1]

    @property
    def curves(self) -> np.ndarray:
        return np.array(self._curves)

    def _add_order(self) -> None:
        order = balanced_order(self._y_train, self._rng)
        self._orders.append(order)
        self._curves.append(self._curve_for(order))
        if len(self._orders) > self.max_orders:
            del self._orders[0], self._curves[0]

    def _curve_for(self, order: np.ndarray) -> np.ndarray:
        """Held-out accuracy for every k = 1..max_per_class at once, shape (max_per_class,).

        Block j of a balanced order holds one example of each class, so the templates from the
        first k blocks are running sums divided by k; only their directions matter.
        """
        m, k = self._max_per_class, self.num_classes
        rows = order[: m * k].reshape(m, k)
        rows = np.take_along_axis(rows, np.argsort(self._y_train[rows], axis=1), axis=1)
        sums = np.cumsum(self._X_train[rows], axis=0)                 # (m, K, D)
        units = sums / np.maximum(np.linalg.norm(sums, axis=2, keepdims=True), 1e-300)
        scores = np.einsum("vd,mkd->mvk", _unit_length(self._X_val), units)
        return np.mean(scores.argmax(axis=2) == self._y_val[None, :], axis=1)

    def shuffle(self) -> None:
        """Draw a new random order of the training examples; it becomes the current one."""
        self._add_order()
        self._update(self.slider.value)

    def _evaluate(self, order: np.ndarray, per_class: int) -> tuple[float, np.ndarray]:
        """Held-out accuracy and templates when each class contributes ``per_class`` examples."""
        rows = order[: per_class * self.num_classes]
        templates = templates_from(self._X_train[rows], self._y_train[rows], self.num_classes)
        accuracy = float(np.mean(closest_template(self._X_val, templates) == self._y_val))
        return accuracy, templates

    def _on_change(self, change) -> None:
        self._update(int(change["new"]))

    def _update(self, per_class: int) -> None:
        self.per_class = per_class
        self.accuracy, templates = self._evaluate(self._orders[-1], per_class)
        self.templates = templates.reshape(self.num_classes, *self._shape)
        column = self.curves[:, per_class - 1]
        self.spread = (float(column.min()), float(column.max()))
        self.label.value = (
            f"Templates averaged from <b>{per_class}</b> training example(s) per class "
            f"({per_class * self.num_classes} in all): {self.held_out} accuracy "
            f"<b>{self.accuracy:.1%}</b> on {len(self._y_val)} held-out images with this random "
            f"order. Over the {len(column)} random orders drawn so far it ranges from "
            f"<b>{self.spread[0]:.1%}</b> to <b>{self.spread[1]:.1%}</b>"
            + (": with so few examples, <i>which</i> ones you drew matters a lot."
               if self.spread[1] - self.spread[0] > 0.05 else ".")
            + " <i>Reshuffle</i> draws another order.")
        self.image.value = self._render_png()

    def _render_png(self) -> bytes:
        """Draw the learning curves (spread, current order, current point) and the templates."""
        from matplotlib.figure import Figure  # noqa: PLC0415  (no pyplot: no global figure state)

        fig = Figure(figsize=(8.4, 2.9), dpi=80)
        ax = fig.add_axes((0.08, 0.17, 0.42, 0.72))
        sizes = np.arange(1, self._max_per_class + 1)
        curves = self.curves
        ax.fill_between(sizes, curves.min(axis=0), curves.max(axis=0), color=PALETTE[0], alpha=0.2,
                        label=f"range over {len(curves)} orders")
        ax.plot(sizes, self.curve, color=PALETTE[0], lw=1.5, label="this order")
        ax.plot([self.per_class], [self.accuracy], "o", color=PALETTE[3], ms=8, label="now")
        ax.set_xscale("log")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
        ax.set_xlabel("training examples per class (log scale)")
        ax.set_ylabel(f"{self.held_out} accuracy")
        ax.set_title("Learning curve")
        ax2 = fig.add_axes((0.56, 0.04, 0.42, 0.85))
        ax2.imshow(_mosaic(self.templates, ncols=5), cmap="gray_r")
        ax2.axis("off")
        ax2.set_title("Learned templates, 0-4 above 5-9")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()


def _mosaic(images: np.ndarray, ncols: int, gap: int = 1) -> np.ndarray:
    """Tile images (N, H, W) into one (rows*(H+gap)-gap, ncols*(W+gap)-gap) array, gaps left blank."""
    n, h, w = images.shape
    nrows = int(np.ceil(n / ncols))
    out = np.full((nrows * (h + gap) - gap, ncols * (w + gap) - gap), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = img
    return out


def learning_curve_explorer(X_train, y_train, X_val, y_val, *, rng: np.random.Generator | None = None,
                            per_class: int = 1, orders: int = 5, max_orders: int = 20,
                            held_out: str = "validation") -> LearningCurveExplorer:
    """Explore how held-out accuracy grows with the number of training examples.

    Args:
        X_train: training images, shape (N, 1, H, W), (N, H, W) or (N, D).
        y_train: integer labels 0..K-1, shape (N,); every class must occur.
        X_val, y_val: held-out images and labels, shapes as above. Use a validation set (not the
            test set) when the reader is invited to choose the number of examples from it.
        rng: generator for the random orders in which training examples are added
            (default: seeded with 0).
        per_class: the slider's starting value.
        orders: how many random orders to draw at the start; the figure shows their spread.
        max_orders: the most orders kept when *Reshuffle* adds more.
        held_out: what the held-out set is called in the label and on the axis.

    Returns:
        A :class:`LearningCurveExplorer` (an ``ipywidgets.VBox``); display it in a
        notebook, or set ``.slider.value``, call ``.shuffle()`` and read ``.accuracy``
        and ``.spread`` without one.
    """
    return LearningCurveExplorer(X_train, y_train, X_val, y_val, rng=rng, per_class=per_class,
                                 orders=orders, max_orders=max_orders, held_out=held_out)

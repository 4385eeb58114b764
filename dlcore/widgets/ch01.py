"""Chapter 01 explorer: watch a learned classifier improve as it sees more examples.

Introduced in chapter 01 ("What is deep learning?"). The model is the one the
chapter writes out by hand: each class's *template* is the average of its training
images, and a new image gets the class of the closest template (after scaling every
image to length 1). A slider sets how many training examples per class the
templates are averaged from; the explorer shows the test accuracy, where it sits on
the whole learning curve, and the ten templates themselves.

The explorer is an ordinary ``ipywidgets.VBox``; its state can be read and set
without a browser, which is how ``tests/test_widgets_ch01.py`` drives it::

    explorer = learning_curve_explorer(X_train, y_train, X_test, y_test)
    explorer.slider.value = 20
    explorer.accuracy          # test accuracy with 20 examples per class
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
    """A slider for the training examples per class, the test accuracy and a figure.

    Attributes:
        slider: the ``IntSlider`` (examples per class).
        label: ``HTML`` widget with the sentence that reports the accuracy.
        image: ``Image`` widget with the PNG of the learning curve and the templates.
        per_class: examples per class used for the current state.
        accuracy: test accuracy of the current state (a float in [0, 1]).
        templates: the current templates, shape (num_classes, H, W).
        curve: test accuracy for every slider position, shape (max_per_class,);
            ``curve[k - 1]`` is the accuracy with ``k`` examples per class.
    """

    def __init__(self, X_train, y_train, X_test, y_test, *, rng: np.random.Generator | None = None,
                 per_class: int = 1):
        self._shape = _image_shape(np.asarray(X_train))
        self._X_train, self._y_train = _flat(X_train), np.asarray(y_train, dtype=np.int64)
        self._X_test, self._y_test = _flat(X_test), np.asarray(y_test, dtype=np.int64)
        if len(self._X_train) != len(self._y_train) or len(self._X_test) != len(self._y_test):
            raise ValueError("learning_curve_explorer expects X_train, y_train (and X_test, y_test) "
                             "with the same number of rows")
        self.num_classes = int(max(self._y_train.max(), self._y_test.max())) + 1
        counts = np.bincount(self._y_train, minlength=self.num_classes)
        if counts.min() == 0:
            raise ValueError("every class needs at least one training example")
        rng = np.random.default_rng(0) if rng is None else rng
        self._order = balanced_order(self._y_train, rng)
        max_per_class = int(counts.min())
        self.curve = np.array([self._evaluate(k)[0] for k in range(1, max_per_class + 1)])

        self.slider = widgets.IntSlider(value=min(max(per_class, 1), max_per_class), min=1,
                                        max=max_per_class, description="per class",
                                        continuous_update=False)
        self.label = widgets.HTML()
        self.image = widgets.Image(format="png")
        super().__init__([self.slider, self.label, self.image])
        self.slider.observe(self._on_change, names="value")
        self._update(self.slider.value)

    def _evaluate(self, per_class: int) -> tuple[float, np.ndarray]:
        """Test accuracy and templates when each class contributes ``per_class`` examples."""
        rows = self._order[: per_class * self.num_classes]
        templates = templates_from(self._X_train[rows], self._y_train[rows], self.num_classes)
        accuracy = float(np.mean(closest_template(self._X_test, templates) == self._y_test))
        return accuracy, templates

    def _on_change(self, change) -> None:
        self._update(int(change["new"]))

    def _update(self, per_class: int) -> None:
        self.per_class = per_class
        self.accuracy, templates = self._evaluate(per_class)
        self.templates = templates.reshape(self.num_classes, *self._shape)
        self.label.value = (f"Templates averaged from <b>{per_class}</b> training example(s) per class "
                            f"({per_class * self.num_classes} in all): test accuracy "
                            f"<b>{self.accuracy:.1%}</b> on {len(self._y_test)} held-out images.")
        self.image.value = self._render_png()

    def _render_png(self) -> bytes:
        """Draw the learning curve (current point marked) and the templates; return PNG bytes."""
        from matplotlib.figure import Figure  # noqa: PLC0415  (no pyplot: no global figure state)

        fig = Figure(figsize=(8.4, 2.9), dpi=80)
        ax = fig.add_axes((0.08, 0.17, 0.42, 0.72))
        sizes = np.arange(1, len(self.curve) + 1)
        ax.plot(sizes, self.curve, color=PALETTE[0], lw=1.5, label="all slider positions")
        ax.plot([self.per_class], [self.accuracy], "o", color=PALETTE[3], ms=8, label="now")
        ax.set_xscale("log")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
        ax.set_xlabel("training examples per class (log scale)")
        ax.set_ylabel("test accuracy")
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


def learning_curve_explorer(X_train, y_train, X_test, y_test, *, rng: np.random.Generator | None = None,
                            per_class: int = 1) -> LearningCurveExplorer:
    """Explore how test accuracy grows with the number of training examples.

    Args:
        X_train: training images, shape (N, 1, H, W), (N, H, W) or (N, D).
        y_train: integer labels 0..K-1, shape (N,); every class must occur.
        X_test, y_test: held-out images and labels, shapes as above.
        rng: generator that fixes the order in which training examples are added
            (default: seeded with 0).
        per_class: the slider's starting value.

    Returns:
        A :class:`LearningCurveExplorer` (an ``ipywidgets.VBox``); display it in a
        notebook, or set ``.slider.value`` and read ``.accuracy`` without one.
    """
    return LearningCurveExplorer(X_train, y_train, X_test, y_test, rng=rng, per_class=per_class)

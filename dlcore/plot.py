"""One shared, colour-blind-safe figure style for every chapter.

Introduced in chapter 01. ``dlcore.plot.use_style()`` is called by the setup cell;
the palette is Okabe & Ito's eight colours, which stay distinct under the common
forms of colour blindness.
"""

from __future__ import annotations

import numpy as np

#: Okabe-Ito colour-blind-safe palette (black first is skipped for lines).
PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)

#: Sequential colour map for images and heat maps (perceptually uniform, CVD-safe).
CMAP = "viridis"
#: Diverging colour map for signed quantities (weights, gradients).
DIVERGING_CMAP = "RdBu_r"


def describe_figure(fig) -> str:
    """A short text description of a figure, from its titles and axis labels.

    Used as the alt text of figures in the rendered book, e.g.
    ``"Figure: Loss per step (x: step, y: loss)"``.
    """
    parts = []
    axes = fig.get_axes()
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text():
        parts.append(suptitle.get_text())
        if len(axes) > 4:  # a grid of images: the overall title says it best
            return "Figure: " + " ".join(f"{parts[0]} ({len(axes)} panels)".split())
    for ax in axes:
        title = ax.get_title() or ax.get_title(loc="left") or ax.get_title(loc="right")
        labels = [f"{k}: {v}" for k, v in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if v]
        if title or labels:
            parts.append((title or "panel") + (f" ({', '.join(labels)})" if labels else ""))
    text = "; ".join(parts[:8]) or "a figure without titles or axis labels"
    return "Figure: " + " ".join(text.split())


def _wrap_figure_formatter(ip) -> None:
    """Wrap IPython's PNG printer for Figures so that it also returns ``alt`` metadata."""
    from matplotlib.figure import Figure

    formatter = ip.display_formatter.formatters["image/png"]
    try:
        original = formatter.lookup_by_type(Figure)
    except KeyError:  # the inline backend registers its printer after the cell that imports pyplot
        return
    if getattr(original, "_dlcore_alt", False):
        return

    def png_with_alt(fig):
        data = original(fig)
        if data is None or isinstance(data, tuple):
            return data
        return data, {"alt": describe_figure(fig)}

    png_with_alt._dlcore_alt = True
    formatter.for_type(Figure, png_with_alt)


def _add_alt_text_to_inline_figures() -> None:
    """In IPython, attach :func:`describe_figure` to each PNG figure as ``alt`` metadata.

    The book build (book/_ext/book_site.py) turns that metadata into the ``alt``
    attribute of the image, so screen readers get a description.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to do
        return
    ip = get_ipython()
    if ip is None or not hasattr(ip, "events") or getattr(ip, "_dlcore_alt_hook", False):
        return
    ip._dlcore_alt_hook = True
    import matplotlib.pyplot as plt

    plt.close(plt.figure())  # loads the inline backend now, which registers its PNG printer
    _wrap_figure_formatter(ip)
    # and again after any cell that re-configured it (e.g. `%matplotlib inline`)
    ip.events.register("post_run_cell", lambda *_: _wrap_figure_formatter(ip))


def use_style() -> None:
    """Apply the book's matplotlib style (palette, sizes, grid).

    In a notebook it also gives every figure an alt text (see :func:`describe_figure`).
    """
    import matplotlib as mpl
    from cycler import cycler

    _add_alt_text_to_inline_figures()

    mpl.rcParams.update(
        {
            "axes.prop_cycle": cycler(color=PALETTE),
            "figure.figsize": (6.4, 4.0),
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 12,
            "axes.labelsize": 11,
            "legend.frameon": False,
            "image.cmap": CMAP,
            "font.size": 10,
        }
    )


def image_grid(images, labels=None, *, ncols: int = 10, title: str | None = None, cmap: str = "gray_r"):
    """Show images in a grid.

    Args:
        images: array of shape (N, H, W) or (N, 1, H, W) or (N, 3, H, W) (NCHW).
        labels: optional sequence of N labels, written above each image.
        ncols: images per row.
        title: figure title.

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    if images.ndim == 4:
        images = images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)
    if images.ndim not in (3, 4):
        raise ValueError(f"image_grid expected images of shape (N, H, W) or (N, C, H, W), got {images.shape}")
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.1 * ncols, 1.25 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap=cmap)
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix_plot(cm, class_names=None, *, title: str = "Confusion matrix", ax=None):
    """Draw a confusion matrix (rows: true class, columns: predicted class).

    Args:
        cm: integer array of shape (K, K).
        class_names: optional K names.

    Returns:
        The matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"confusion matrix must be square (K, K), got {cm.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 4.2))
    k = cm.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    ax.imshow(cm, cmap="Blues")
    ax.grid(False)
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    threshold = cm.max() / 2 if cm.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if cm[i, j] > threshold else "black")
    return ax

"""Chapter 09 explorer: a 3x3 convolution kernel applied to a real image.

Pick a preset (identity, blur, sharpen, edge, horizontal and vertical Sobel) or edit the
nine weights, and choose a digit or a grayscale photo from scikit-learn's
``load_sample_images()``. The explorer shows the input and the filtered image side by side
and the sum of the weights: a kernel that sums to 1 keeps the brightness of flat regions,
one that sums to 0 turns them black and responds only where the image changes. Controls
and results are attributes, which is how ``tests/test_widgets_ch09.py`` drives it::

    explorer = kernel_explorer()
    explorer.controls["preset"].value = "edge"
    explorer.state["sum"]          # 0.0
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np

__all__ = ["PRESETS", "apply_kernel", "kernel_explorer", "sample_photo"]

PRESETS = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], float),
    "blur": np.full((3, 3), 1 / 9),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float),
    "edge": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], float),
    "sobel x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float),
    "sobel y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], float),
}


def apply_kernel(image, kernel) -> np.ndarray:
    """Cross-correlate a 2-D image with a 3x3 kernel, zero padding, same-size output."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {image.shape}")
    if kernel.shape != (3, 3):
        raise ValueError(f"kernel must have shape (3, 3), got {kernel.shape}")
    padded = np.pad(image, 1)
    h, w = image.shape
    out = np.zeros((h, w))
    for u in range(3):
        for v in range(3):
            out += kernel[u, v] * padded[u:u + h, v:v + w]
    return out


def sample_photo(size: int = 128) -> np.ndarray:
    """scikit-learn's ``china.jpg`` in grayscale, in [0, 1], cropped and subsampled to ``size``."""
    from sklearn.datasets import load_sample_images

    rgb = load_sample_images().images[0].astype(float) / 255
    gray = rgb @ np.array([0.299, 0.587, 0.114])
    side = min(gray.shape)
    step = max(side // size, 1)
    return gray[:side:step, :side:step][:size, :size]


def _png(a: np.ndarray, b: np.ndarray) -> bytes:
    # A bare Figure draws itself with Agg; never call matplotlib.use() here, which would
    # switch pyplot away from the notebook's inline backend and hide every later figure.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3))
    for i, (img, title) in enumerate([(a, "input"), (b, "filtered")]):
        ax = fig.add_subplot(1, 2, i + 1)
        ax.imshow(img, cmap="gray")
        ax.set_title(title)
        ax.axis("off")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=70)
    return buf.getvalue()


def kernel_explorer(digit=None) -> widgets.VBox:
    """The explorer; ``digit`` is an optional 28x28 image (default: a drawn 7-like stroke)."""
    if digit is None:
        digit = np.zeros((28, 28))
        digit[6, 6:22] = 1.0
        for r in range(7, 23):
            digit[r, 21 - (r - 7) // 2] = 1.0
    digit = np.asarray(digit, dtype=float)
    if digit.shape != (28, 28):
        digit = digit.reshape(28, 28)
    images = {"digit": digit, "photo": None}

    preset = widgets.Dropdown(options=list(PRESETS), value="edge", description="preset")
    source = widgets.Dropdown(options=["digit", "photo"], value="digit", description="image")
    cells = [widgets.FloatText(value=0.0, layout=widgets.Layout(width="70px")) for _ in range(9)]
    grid = widgets.VBox([widgets.HBox(cells[3 * r:3 * r + 3]) for r in range(3)])
    total = widgets.HTML()
    picture = widgets.Image(format="png")
    box = widgets.VBox([widgets.HBox([preset, source]), grid, total, picture])
    box.controls = {"preset": preset, "image": source, "weights": cells}
    box.state = {}
    busy = {"on": False}

    def redraw(_=None):
        if busy["on"]:
            return
        k = np.array([c.value for c in cells], float).reshape(3, 3)
        name = source.value
        if images[name] is None:
            images[name] = sample_photo()
        img = images[name]
        out = apply_kernel(img, k)
        s = float(k.sum())
        note = ("flat regions keep their brightness" if abs(s - 1) < 1e-9 else
                "flat regions go black: only changes show" if abs(s) < 1e-9 else
                f"flat regions are scaled by {s:g}")
        total.value = f"<b>sum of weights: {s:g}</b> ({note})"
        picture.value = _png(img, out)
        box.state.update(kernel=k, sum=s, output=out, image=name)

    def load_preset(_=None):
        busy["on"] = True
        for c, v in zip(cells, PRESETS[preset.value].ravel()):
            c.value = float(v)
        busy["on"] = False
        redraw()

    preset.observe(load_preset, names="value")
    source.observe(redraw, names="value")
    for c in cells:
        c.observe(redraw, names="value")
    load_preset()
    return box

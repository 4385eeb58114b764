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
        # a fixed [0, 1] scale, as a screen shows pixels: values below 0 are black and
        # above 1 white, so the brightness of flat regions (the sum of the weights) shows
        ax.imshow(np.clip(img, 0, 1), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title)
        ax.axis("off")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=70)
    return buf.getvalue()


def kernel_notes(kernel, total, output) -> list[str]:
    """What the reader must notice about ``kernel`` (weights summing to ``total``) and
    its ``output``: the fate of flat regions, and how much of the output is clipped."""
    if not np.any(kernel):
        return ["all weights are 0: the output is 0 everywhere, a black image"]
    if abs(total - 1) < 1e-9:
        notes = ["flat regions keep their brightness"]
    elif abs(total) < 1e-9:
        notes = ["flat regions go black: only changes show"]
    elif total < 0:
        notes = [f"flat regions are scaled by {total:g}, to negative values, shown black"]
    else:
        notes = [f"flat regions are scaled by {total:g}, so they look "
                 + ("brighter" if total > 1 else "darker")]
    below, above = float(np.mean(output < 0)), float(np.mean(output > 1))
    if below + above > 0:
        notes.append(f"{below:.0%} of the output is below 0 (shown black) and {above:.0%} "
                     f"above 1 (shown white); range [{output.min():.3g}, {output.max():.3g}]")
    return notes


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
        finite = bool(np.isfinite(k).all())
        if not finite:
            k = np.nan_to_num(k, nan=0.0, posinf=0.0, neginf=0.0)
        name = source.value
        if images[name] is None:
            images[name] = sample_photo()
        img = images[name]
        out = apply_kernel(img, k)
        s = float(k.sum())
        notes = kernel_notes(k, s, out)
        if not finite:
            notes.insert(0, "a weight was not a finite number and counts as 0")
        total.value = f"<b>sum of weights: {s:g}</b> ({'; '.join(notes)})"
        picture.value = _png(img, out)
        clipped = float(np.mean((out < 0) | (out > 1)))
        box.state.update(kernel=k, sum=s, output=out, image=name, clipped=clipped,
                         notes=notes)

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

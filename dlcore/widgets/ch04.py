"""Chapter 04 explorer: what an activation function does to signals and gradients in depth.

Introduced in chapter 04 ("Activation functions"). A stack of ``n`` layers, each a
bias-free ``Linear(width, width)`` followed by the chosen activation, receives inputs
drawn from N(0, input_std^2). The explorer shows

* the activation and its derivative, over the distribution of the first layer's
  pre-activations (where on the curve the inputs land),
* the distribution of the outputs of layer ``n``, and
* the distribution of the gradient that reaches the input after backpropagating a
  random upstream gradient through all ``n`` layers (on a log scale, because it can
  shrink by many powers of ten).

The sentence under the controls gives the gradient's growth factor through the stack and
per layer, and flags it as vanishing (below :data:`VANISHING_BELOW`) or exploding (above
:data:`EXPLODING_ABOVE`). For ReLU and leaky ReLU it also says why the input-std slider
cannot change the gradient: both are positively homogeneous and the layers have no biases.

The weights, inputs and upstream gradient are drawn once, as standard normal numbers,
and only rescaled when a control moves, so moving a slider changes one thing at a time.
The explorer is an ordinary ``ipywidgets.VBox`` that a test can drive without a
browser::

    explorer = activation_explorer()
    explorer.controls["activation"].value = "sigmoid"
    explorer.controls["layers"].value = 10
    explorer.state["grad_rms"]       # RMS of the gradient at the input
"""

from __future__ import annotations

import io
import math

import ipywidgets as widgets
import numpy as np

from .. import nn
from ..plot import PALETTE

#: The activations the explorer offers: name -> a function that builds the dlcore layer.
ACTIVATIONS = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "ReLU": nn.ReLU,
    "leaky ReLU": nn.LeakyReLU,
    "GELU": nn.GELU,
}

#: Weight scales: name -> standard deviation of the weights for a layer with ``fan_in`` inputs.
INITS = {
    "Xavier (Glorot)": lambda fan_in: math.sqrt(1.0 / fan_in),   # 2 / (fan_in + fan_out), square layers
    "He": lambda fan_in: math.sqrt(2.0 / fan_in),
}


def derivative(activation: str, z: np.ndarray) -> np.ndarray:
    """f'(z) of a named activation, from its dlcore layer's backward pass.  z: any shape."""
    layer = ACTIVATIONS[activation]()
    layer(z)
    return layer.backward(np.ones_like(z))


#: Thresholds on the gradient's growth through the whole stack (RMS at the input / RMS at the top).
VANISHING_BELOW, EXPLODING_ABOVE = 1e-2, 10.0


def gradient_regime(growth: float) -> str:
    """"vanishing", "shrinking", "stable", "growing" or "exploding", from the total growth factor.

    Below :data:`VANISHING_BELOW` the gradient has vanished; above :data:`EXPLODING_ABOVE` it
    has exploded; within a factor of 2 either way it is stable.
    """
    if not np.isfinite(growth):
        return "exploding"
    if growth < VANISHING_BELOW:
        return "vanishing"
    if growth > EXPLODING_ABOVE:
        return "exploding"
    if growth < 0.5:
        return "shrinking"
    if growth > 2.0:
        return "growing"
    return "stable"


#: Activations with f(c z) = c f(z) for c > 0: without biases, the input scale cancels out.
HOMOGENEOUS = ("ReLU", "leaky ReLU")


def stack_statistics(activation: str, n_layers: int, input_std: float = 1.0, init: str = "He", *,
                     weights: np.ndarray, inputs: np.ndarray, upstream: np.ndarray) -> dict:
    """Run inputs forward through ``n_layers`` layers and a gradient back to the input.

    Args:
        activation: a key of :data:`ACTIVATIONS`.
        n_layers: how many (Linear, activation) layers, 1 <= n_layers <= len(weights).
        input_std: standard deviation of the inputs.
        init: a key of :data:`INITS`, the scale of the weights.
        weights: standard normal weights, shape (max_layers, width, width); layer l uses
            ``weights[l] * INITS[init](width)``.
        inputs: standard normal inputs, shape (N, width); scaled by ``input_std``.
        upstream: the gradient arriving at the output, shape (N, width).

    Returns:
        A dict with ``outputs`` (N, width) of layer n, ``input_grad`` (N, width) at the
        input, ``first_preactivations`` (N, width), ``layer_output_std`` (n_layers,),
        ``layer_grad_rms`` (n_layers + 1,) with entry l the RMS of the gradient at the input
        of layer l + 1 (entry 0: the network's input; the last: the upstream gradient),
        ``output_std``, ``grad_rms``, ``growth`` (RMS at the input over RMS at the output),
        ``growth_per_layer`` (its n-th root) and ``regime`` (:func:`gradient_regime`).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}")
    if init not in INITS:
        raise ValueError(f"init must be one of {list(INITS)}, got {init!r}")
    if not 1 <= n_layers <= len(weights):
        raise ValueError(f"n_layers must be between 1 and {len(weights)}, got {n_layers}")
    mats = weights[:n_layers] * INITS[init](weights.shape[2])
    acts = [ACTIVATIONS[activation]() for _ in range(n_layers)]
    h, first, output_std = inputs * input_std, None, []
    for W, act in zip(mats, acts):
        z = h @ W.T                      # a bias-free Linear layer: (N, width) @ (width, width)
        first = z if first is None else first
        h = act(z)
        output_std.append(float(h.std()))
    g = upstream
    grad_rms = [float(np.sqrt(np.mean(g * g)))]
    for W, act in zip(mats[::-1], acts[::-1]):
        g = act.backward(g) @ W          # the chain rule through f, then through the weights
        grad_rms.append(float(np.sqrt(np.mean(g * g))))
    ratio = grad_rms[-1] / grad_rms[0] if grad_rms[0] > 0 else float("nan")
    return {
        "activation": activation, "n_layers": int(n_layers), "input_std": float(input_std), "init": init,
        "growth": ratio, "growth_per_layer": ratio ** (1 / n_layers), "regime": gradient_regime(ratio),
        "first_preactivations": first, "outputs": h, "input_grad": g,
        "layer_output_std": np.array(output_std), "layer_grad_rms": np.array(grad_rms[::-1]),
        "output_std": output_std[-1], "grad_rms": grad_rms[-1],
    }


def plot_stack_statistics(stats: dict, axes=None):
    """Draw the three panels of the explorer into ``axes`` (three Axes) or a new figure.

    Returns:
        The list of three Axes: activation and derivative over the first layer's
        pre-activations; outputs of the last layer; log10 |gradient| at the input.
    """
    if axes is None:
        from matplotlib.figure import Figure  # noqa: PLC0415  (no pyplot: no global figure state)

        fig = Figure(figsize=(10.5, 3.0), dpi=80)
        axes = [fig.add_axes((x0, 0.16, 0.25, 0.74)) for x0 in (0.02, 0.39, 0.72)]  # no layout engine: fast
    ax_f, ax_out, ax_grad = axes[:3]
    twin = axes[3] if len(axes) > 3 else ax_f.twinx()   # a 4th Axes: reuse it as the twin (fast redraws)
    name, n = stats["activation"], stats["n_layers"]
    z_first = stats["first_preactivations"].ravel()
    reach = max(4.0, float(np.percentile(np.abs(z_first), 99)))
    z = np.linspace(-reach, reach, 401)
    density, edges = np.histogram(z_first, bins=60, range=(-reach, reach), density=True)
    ax_f.stairs(density, edges, fill=True, color="0.85", label="first-layer inputs")   # one artist: fast
    density_top = max(float(density.max()), 1e-12)
    f = ACTIVATIONS[name]()(z)
    twin.plot(z, f, color=PALETTE[0], lw=2, label="f(z)")
    twin.plot(z, derivative(name, z), color=PALETTE[3], lw=2, ls="--", label="f'(z)")
    twin.legend(loc="upper left", fontsize=8)
    twin.tick_params(labelsize=8)
    twin.grid(False)
    ax_f.set_ylim(0, density_top * 1.05)
    ax_f.set_yticks([])
    ax_f.set_xlabel("pre-activation z")
    ax_f.set_title(f"{name}: f, f' and the inputs (grey)")

    out = stats["outputs"].ravel()
    counts, edges = np.histogram(out, bins=60)
    ax_out.stairs(counts, edges, fill=True, color=PALETTE[0])
    ax_out.set_xlabel(f"output of layer {n}")
    ax_out.set_ylabel("count")
    ax_out.set_title(f"Outputs after {n} layer(s): std {stats['output_std']:.2g}")

    grad = np.abs(stats["input_grad"].ravel())
    logs = np.log10(grad[grad > 0]) if np.any(grad > 0) else np.array([0.0])
    counts, edges = np.histogram(logs, bins=60)
    ax_grad.stairs(counts, edges, fill=True, color=PALETTE[2])
    ax_grad.axvline(0, color="0.3", lw=1, ls=":")        # |gradient| = 1
    ax_grad.set_xlim(min(float(logs.min()), -3.0) - 0.5, max(float(logs.max()), 1.0) + 0.5)
    ax_grad.set_xlabel("log10 |gradient| at the input")
    ax_grad.set_ylabel("count")
    ax_grad.set_title(f"Gradient at the input: RMS {stats['grad_rms']:.2g}")
    regime = stats.get("regime", "")
    if regime in ("vanishing", "exploding"):                 # flag what the reader must notice
        ax_grad.text(0.03, 0.93, f"{regime.upper()}: x{stats['growth']:.2g}", transform=ax_grad.transAxes,
                     color="#b00000", fontweight="bold", va="top")
    return [ax_f, ax_out, ax_grad]


_REGIME_WORDS = {
    "vanishing": "<b style='color:#b00000'>VANISHING</b>: the layers near the input barely learn",
    "exploding": "<b style='color:#b00000'>EXPLODING</b>: updates to the layers near the input "
                 "would be huge",
    "shrinking": "shrinking, and it would vanish in a deeper stack",
    "growing": "growing, and it would explode in a deeper stack",
    "stable": "stable",
}


def describe(s: dict) -> str:
    """The explorer's sentence about a :func:`stack_statistics` result (HTML)."""
    text = (f"<b>{s['activation']}</b>, {s['n_layers']} layer(s), {s['init']} weights, input std "
            f"{s['input_std']:.2g}: output std <b>{s['output_std']:.3g}</b>. The gradient left the top "
            f"with RMS {s['layer_grad_rms'][-1]:.3g} and reached the input with RMS <b>{s['grad_rms']:.3g}</b>, "
            f"a factor of {s['growth']:.3g} ({s['growth_per_layer']:.3g} per layer): "
            f"{_REGIME_WORDS[s['regime']]}.")
    if s["activation"] in HOMOGENEOUS:
        text += (f"<br><i>The input std changes nothing but the scale here: {s['activation']} satisfies "
                 "f(cz) = c f(z) for c &gt; 0, so without biases every layer's output scales by the same c, "
                 "and the slopes, hence the gradient, do not change at all.</i>")
    return text


class ActivationExplorer(widgets.VBox):
    """Four controls (activation, layers, input std, initialisation), a sentence and a figure.

    Attributes:
        controls: dict of the control widgets: ``"activation"`` (Dropdown), ``"layers"``
            (IntSlider), ``"input_std"`` (FloatSlider), ``"init"`` (Dropdown).
        label: ``HTML`` widget with one sentence about the current state.
        image: ``Image`` widget with the PNG of the three panels.
        state: the dict of :func:`stack_statistics` for the current controls.
    """

    def __init__(self, *, width: int = 128, n_samples: int = 256, max_layers: int = 20,
                 activation: str = "sigmoid", layers: int = 10, input_std: float = 1.0, init: str = "He",
                 rng: np.random.Generator | None = None):
        rng = np.random.default_rng(0) if rng is None else rng
        self._weights = rng.standard_normal((max_layers, width, width))
        self._inputs = rng.standard_normal((n_samples, width))
        self._upstream = rng.standard_normal((n_samples, width))
        style = {"description_width": "110px"}
        self.controls = {
            "activation": widgets.Dropdown(options=list(ACTIVATIONS), value=activation,
                                           description="activation", style=style),
            "layers": widgets.IntSlider(value=layers, min=1, max=max_layers, description="layers n",
                                        continuous_update=False, style=style),
            "input_std": widgets.FloatSlider(value=input_std, min=0.1, max=5.0, step=0.1,
                                             description="input std", continuous_update=False, style=style),
            "init": widgets.Dropdown(options=list(INITS), value=init, description="weights", style=style),
        }
        self.label = widgets.HTML()
        self.image = widgets.Image(format="png")
        row = widgets.HBox([widgets.VBox([self.controls["activation"], self.controls["init"]]),
                            widgets.VBox([self.controls["layers"], self.controls["input_std"]])])
        super().__init__([row, self.label, self.image])
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self._update()

    def _on_change(self, change) -> None:
        self._update()

    def _update(self) -> None:
        c = self.controls
        self.state = stack_statistics(c["activation"].value, c["layers"].value, c["input_std"].value,
                                      c["init"].value, weights=self._weights, inputs=self._inputs,
                                      upstream=self._upstream)
        s = self.state
        self.label.value = describe(s)
        self.image.value = self._render_png()

    def _render_png(self) -> bytes:
        if getattr(self, "_axes", None) is None:            # one figure, reused: creating Axes is slow
            from matplotlib.figure import Figure  # noqa: PLC0415

            fig = Figure(figsize=(10.5, 3.0), dpi=80)
            axes = [fig.add_axes((x0, 0.16, 0.25, 0.74)) for x0 in (0.02, 0.39, 0.72)]
            self._axes = axes + [axes[0].twinx()]
        for ax in self._axes:
            ax.cla()
        plot_stack_statistics(self.state, self._axes)
        buffer = io.BytesIO()
        self._axes[0].figure.savefig(buffer, format="png")
        return buffer.getvalue()


def activation_explorer(*, width: int = 128, n_samples: int = 256, max_layers: int = 20,
                        activation: str = "sigmoid", layers: int = 10, input_std: float = 1.0,
                        init: str = "He", rng: np.random.Generator | None = None) -> ActivationExplorer:
    """Explore how an activation shapes the signals and gradients of a deep stack of layers.

    Args:
        width: units per layer.
        n_samples: number of input vectors.
        max_layers: the largest depth the slider offers.
        activation, layers, input_std, init: the controls' starting values
            (``activation`` a key of :data:`ACTIVATIONS`, ``init`` a key of :data:`INITS`).
        rng: generator for the weights, inputs and upstream gradient (default: seeded with 0).

    Returns:
        An :class:`ActivationExplorer` (an ``ipywidgets.VBox``). Display it in a notebook,
        or set ``.controls[...].value`` and read ``.state`` without one.
    """
    return ActivationExplorer(width=width, n_samples=n_samples, max_layers=max_layers,
                              activation=activation, layers=layers, input_std=input_std, init=init,
                              rng=rng)

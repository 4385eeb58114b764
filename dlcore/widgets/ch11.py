"""Chapter 11 explorer: the attention weights of a trained character-level GPT on one name.

Introduced in chapter 11 ("Attention and Transformers"). The model reads a name as token ids
``[start, c_1, ..., c_n]``; at position ``t`` it has seen the start token and the first ``t``
characters and predicts the next one (``c_{t+1}``, or the end token after the last
character). The explorer shows, for the chosen name and position, the attention weights of
every head in every layer of that query over the keys ``0..t`` (a causal model cannot look
further), the model's next-character distribution at the chosen sampling temperature, and a
few names sampled at that temperature. It flags what the reader should notice: a head that
puts almost all its weight on one character, a temperature so low that sampling is nearly
greedy (the samples repeat), or so high that the distribution is close to uniform.

The model must follow one protocol: ``model(idx, return_attn=True)`` with ``idx`` a
``(1, T)`` long tensor returns ``(logits, weights)``, logits ``(1, T, vocab)`` and weights a
list (one per layer) of ``(1, heads, T, T)`` tensors. ``chars[i]`` is the text of token
``i``, and ``start`` the id of the start (and end) token. Controls and results are
attributes, which is how ``tests/test_widgets_ch11.py`` drives it without a browser::

    explorer = attention_explorer(model, chars, ["emma", "olivia"])
    explorer.controls["position"].value = 2
    explorer.state["weights"]        # (layers, heads, t + 1) array
    explorer.state["flags"]          # list of sentences
"""

from __future__ import annotations

import html
import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from ..plot import PALETTE

#: Temperature slider range; below LOW the samples are nearly greedy, above HIGH nearly uniform.
TEMPERATURE_RANGE = (0.05, 3.0)
LOW_TEMPERATURE, HIGH_TEMPERATURE = 0.3, 2.0
#: A head whose largest weight is above this "looks almost only at" one key.
FOCUSED = 0.9


def _encode(name: str, chars, start: int) -> list[int]:
    index = {c: i for i, c in enumerate(chars) if i != start}
    unknown = sorted({c for c in name if c not in index})
    if unknown:
        raise ValueError(f"the name {name!r} has characters the model does not know: {unknown}; "
                         f"expected only {''.join(c for i, c in enumerate(chars) if i != start)!r}")
    return [start] + [index[c] for c in name]


def _device(model) -> torch.device:
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return torch.device("cpu")


@torch.no_grad()
def sample_names(model, chars, *, start: int = 0, temperature: float = 1.0, n: int = 5,
                 max_len: int = 20, seed: int = 0) -> list[str]:
    """``n`` names sampled from ``model`` at ``temperature`` (reproducible for a seed)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    block = getattr(model, "block_size", max_len + 1)
    gen = torch.Generator().manual_seed(seed)
    was_training = getattr(model, "training", False)
    model.eval()
    names = []
    try:
        for _ in range(n):
            ids = [start]
            for _ in range(max_len):
                idx = torch.tensor([ids[-block:]], device=_device(model))
                logits = model(idx, return_attn=True)[0][0, -1].float().cpu()
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = int(torch.multinomial(probs, 1, generator=gen))
                if nxt == start:
                    break
                ids.append(nxt)
            names.append("".join(chars[i] for i in ids[1:]))
    finally:
        model.train(was_training)
    return names


@torch.no_grad()
def explore(model, chars, name: str, position: int, temperature: float = 1.0, *, start: int = 0,
            seed: int = 0, n_samples: int = 5) -> dict:
    """Everything the explorer shows for one name, query position and temperature.

    Returns a dict with ``tokens`` (the characters of positions ``0..len(name)``, the start
    token first), ``weights`` (layers, heads, position + 1), ``next_probs`` (vocab,) at the
    temperature, ``target`` (the true next character), ``samples`` and ``flags``.
    """
    ids = _encode(name, chars, start)
    if not 0 <= position < len(ids):
        raise ValueError(f"position must be between 0 and {len(ids) - 1} for {name!r}, got {position}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        logits, attn = model(torch.tensor([ids], device=_device(model)), return_attn=True)
    finally:
        model.train(was_training)
    weights = np.stack([w[0, :, position, :position + 1].float().cpu().numpy() for w in attn])
    probs = torch.softmax(logits[0, position].float().cpu() / temperature, dim=-1).numpy()
    tokens = [chars[i] for i in ids]
    target = name[position] if position < len(name) else chars[start]
    flags = []
    for layer, head in zip(*np.nonzero(weights.max(-1) > FOCUSED)):
        key = int(weights[layer, head].argmax())
        flags.append(f"layer {layer} head {head} looks almost only at position {key} "
                     f"('{tokens[key]}', weight {weights[layer, head, key]:.2f})")
    if temperature <= LOW_TEMPERATURE:
        flags.append(f"temperature {temperature:.2f}: nearly greedy, the samples repeat the likeliest name")
    elif temperature >= HIGH_TEMPERATURE:
        flags.append(f"temperature {temperature:.2f}: the distribution is close to uniform, "
                     "the samples are noise")
    samples = sample_names(model, chars, start=start, temperature=temperature, n=n_samples, seed=seed)
    return {"name": name, "position": position, "temperature": temperature, "tokens": tokens,
            "weights": weights, "next_probs": probs, "target": target, "samples": samples,
            "flags": flags, "chars": list(chars)}


def draw_attention(state: dict, fig=None):
    """Heads x layers bar charts of the query's weights, plus the next-character distribution."""
    weights = state["weights"]
    layers, heads, n_keys = weights.shape
    fig = fig or plt.figure(figsize=(2.4 * heads + 3.2, 1.9 * layers + 0.9))
    grid = fig.add_gridspec(layers, heads + 1, width_ratios=[1] * heads + [1.5])
    labels = [repr(t)[1:-1] for t in state["tokens"][:n_keys]]
    for layer in range(layers):
        for head in range(heads):
            ax = fig.add_subplot(grid[layer, head])
            ax.bar(range(n_keys), weights[layer, head], color=PALETTE[0])
            ax.set_ylim(0, 1)
            ax.set_xticks(range(n_keys), labels)
            ax.set_title(f"layer {layer}, head {head}", fontsize=9)
            if head == 0:
                ax.set_ylabel("weight")
    ax = fig.add_subplot(grid[:, heads])
    probs, chars = state["next_probs"], state["chars"]
    top = np.argsort(probs)[::-1][:10]
    colours = [PALETTE[1] if chars[i] == state["target"] else PALETTE[2] for i in top]
    ax.barh(range(len(top))[::-1], probs[top], color=colours)
    ax.set_yticks(range(len(top))[::-1], [repr(chars[i])[1:-1] for i in top])
    ax.set(xlabel="probability", title=f"next character (T = {state['temperature']:.2f})")
    ax.set_xlim(0, 1)
    fig.suptitle(f"'{state['name']}': query at position {state['position']} "
                 f"(has read '{''.join(state['tokens'][:state['position'] + 1])}')", fontsize=10)
    fig.set_layout_engine("constrained")
    return fig


def _sentences(state: dict) -> str:
    lines = [f"<b>true next character:</b> '{html.escape(state['target'])}' "
             f"(probability {state['next_probs'][state['chars'].index(state['target'])]:.2f})",
             "<b>samples:</b> " + ", ".join(html.escape(s) or "(empty)" for s in state["samples"])]
    lines += [f"⚠ {html.escape(f)}" for f in state["flags"]]
    return "<br>".join(lines)


class AttentionExplorer(widgets.VBox):
    """Pick a name, a query position and a sampling temperature; see every head's weights.

    Attributes:
        controls: ``"name"`` (Dropdown of the names given), ``"position"`` (IntSlider,
            0 to the name's length; its maximum follows the name) and ``"temperature"``
            (FloatSlider, 0.05 to 3).
        label: ``HTML`` widget with the true next character, the samples and the flags.
        image: ``Image`` widget with the PNG of :func:`draw_attention`.
        state: the current result of :func:`explore`.
    """

    def __init__(self, model, chars, names, *, start: int = 0, name=None, position: int = 1,
                 temperature: float = 1.0, seed: int = 0):
        names = list(names)
        if not names:
            raise ValueError("attention_explorer needs at least one name, got none")
        for n in names:
            _encode(n, chars, start)                       # a clear error before any widget
        self.model, self.chars, self.start, self.seed = model, list(chars), start, seed
        name = names[0] if name is None else name
        if name not in names:
            raise ValueError(f"name {name!r} is not among the names given")
        style = {"description_width": "90px"}
        layout = widgets.Layout(width="340px")
        self.controls = {
            "name": widgets.Dropdown(options=names, value=name, description="name", style=style,
                                     layout=layout),
            "position": widgets.IntSlider(value=min(max(position, 0), len(name)), min=0, max=len(name),
                                          description="position", continuous_update=False,
                                          style=style, layout=layout),
            "temperature": widgets.FloatSlider(value=temperature, min=TEMPERATURE_RANGE[0],
                                               max=TEMPERATURE_RANGE[1], step=0.05,
                                               description="temperature", readout_format=".2f",
                                               continuous_update=False, style=style, layout=layout),
        }
        self.label = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.state: dict = {}
        super().__init__([widgets.HBox([widgets.VBox(list(self.controls.values())), self.label]),
                          self.image])
        self.controls["name"].observe(self._on_name, names="value")
        self.controls["position"].observe(lambda change: self.update(), names="value")
        self.controls["temperature"].observe(lambda change: self.update(), names="value")
        self.update()

    def _on_name(self, change) -> None:
        slider = self.controls["position"]
        with self.hold_trait_notifications():
            slider.max = len(change["new"])
            slider.value = min(slider.value, slider.max)
        self.update()

    def update(self) -> None:
        """Recompute the state for the current controls; refresh the label and the figure."""
        self.state = explore(self.model, self.chars, self.controls["name"].value,
                             self.controls["position"].value, self.controls["temperature"].value,
                             start=self.start, seed=self.seed)
        self.label.value = _sentences(self.state)
        fig = draw_attention(self.state)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        self.image.value = buffer.getvalue()


def attention_explorer(model, chars, names, *, start: int = 0, name=None, position: int = 1,
                       temperature: float = 1.0, seed: int = 0) -> AttentionExplorer:
    """Explore the attention weights of a character-level GPT on the given names.

    Args:
        model: follows ``model(idx, return_attn=True) -> (logits, [weights per layer])``.
        chars: ``chars[i]`` is the text of token ``i``.
        names: the names offered in the dropdown.
        start: the id of the start/end token.

    Returns:
        An :class:`AttentionExplorer` (an ``ipywidgets.VBox``). Display it in a notebook, or
        set ``.controls[...]`` values and read ``.state`` without one.
    """
    return AttentionExplorer(model, chars, names, start=start, name=name, position=position,
                             temperature=temperature, seed=seed)

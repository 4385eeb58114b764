"""Chapter 10 explorer: sampling names from a trained character-level language model.

Introduced in chapter 10 ("Recurrent networks and LSTMs"). The model follows the protocol of
:mod:`dlcore.torch.text` (``(B, T)`` ids in, ``(B, T, V)`` scores out, id 0 the boundary
token). Three controls change how names are drawn from it:

* the **temperature** ``T`` divides the scores before the softmax: near 0 sampling becomes
  greedy (the same name every time), at 1 it is the model's own distribution, and well
  above 1 it flattens towards uniform (rare characters come up often);
* **top-k** keeps only the ``k`` likeliest characters at each step (``k = V``: all of them;
  ``k = 1``: greedy);
* a **prefix** that every name starts with.

The explorer shows the names, sorts each into a training name, a real name the model never
saw (held out) or a new string, and the model's next-character distribution after the prefix.
It flags what the reader should notice: near-greedy repetition, a flattened distribution,
samples that mostly copy the training set, a prefix no training name starts with, samples cut
at the length limit, a prefix too long to add anything to. A prefix with characters outside the vocabulary
gets a message, not a traceback. Controls and results are attributes, which is how
``tests/test_widgets_ch10.py`` drives it without a browser::

    sampler = name_sampler(model, train, val + test)
    sampler.controls["temperature"].value = 0.1
    sampler.state["counts"]        # {"train": ..., "held-out": ..., "new": ...}
    sampler.state["flags"]         # list of sentences
"""

from __future__ import annotations

import html
import io
import math
from collections import Counter

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from ..plot import PALETTE
from ..torch.text import CharVocab, sample_names

__all__ = ["HIGH_TEMPERATURE", "LOW_TEMPERATURE", "MAX_LEN", "REPEAT", "TEMPERATURE_RANGE", "draw_next_char",
           "draw_sweep", "explore", "name_sampler", "next_char_probs", "temperature_sweep"]

#: Temperature slider range; at or below LOW sampling is nearly greedy, at or above HIGH the
#: distribution is flattened towards uniform.
TEMPERATURE_RANGE = (0.1, 3.0)
LOW_TEMPERATURE, HIGH_TEMPERATURE = 0.3, 2.0
#: When one name makes up at least this share of the samples, "the same name" is flagged.
REPEAT = 0.5
#: Samples are cut at this many characters (prefix included), as :func:`sample_names` does.
MAX_LEN = 30
KINDS = ("train", "held-out", "new")


def _vocab(model, vocab):
    return vocab or getattr(model, "vocab", None) or CharVocab()


def _check_settings(temperature, top_k, vocab) -> tuple[float, int | None]:
    temperature = float(temperature)
    if not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}")
    if top_k is not None:
        if int(top_k) != top_k or not 1 <= top_k <= vocab.size:
            raise ValueError(f"top_k must be None or an integer in 1..{vocab.size}, got {top_k!r}")
        top_k = None if int(top_k) == vocab.size else int(top_k)
    return temperature, top_k


def _check_prefix(prefix, vocab) -> str:
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a string, got {type(prefix).__name__}")
    prefix = prefix.strip()
    boundary = vocab.itos[vocab.boundary]
    unknown = sorted({c for c in prefix if c not in vocab.stoi or c == boundary})
    if unknown:
        hint = (" (names are lowercase)" if any(c.lower() in vocab.stoi and c.lower() != boundary
                                                for c in unknown) else "")
        if boundary in unknown:
            hint += f" ({boundary!r} is the boundary token that marks a name's start and end)"
        raise ValueError(f"the prefix {prefix!r} has characters the model does not know: {unknown}{hint}; "
                         f"it knows only {''.join(vocab.itos[1:])!r}")
    return prefix


@torch.no_grad()
def next_char_probs(model, prefix: str = "", *, vocab=None, temperature: float = 1.0,
                    top_k: int | None = None) -> np.ndarray:
    """``(V,)`` probabilities of the character after ``prefix``, as the sampler draws it.

    The scores are divided by ``temperature``, all but the ``top_k`` largest are dropped,
    and a softmax is taken. Index 0 is the end token.
    """
    vocab = _vocab(model, vocab)
    temperature, top_k = _check_settings(temperature, top_k, vocab)
    ids = [vocab.boundary, *vocab.encode(_check_prefix(prefix, vocab))]
    try:
        dev = next(model.parameters()).device
    except (StopIteration, AttributeError):
        dev = torch.device("cpu")
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        scores = model(torch.tensor([ids], dtype=torch.long, device=dev))[0, -1].double().cpu()
    finally:
        if was_training:
            model.train()
    scores = scores / temperature
    if top_k is not None:
        kth = torch.topk(scores, top_k).values[-1]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    return torch.softmax(scores, dim=-1).numpy()


def _kind(name: str, train: set, held_out: set) -> str:
    return "train" if name in train else "held-out" if name in held_out else "new"


def explore(model, train_names, held_out_names, *, prefix: str = "", temperature: float = 1.0,
            top_k: int | None = None, n: int = 20, seed: int = 0, vocab=None) -> dict:
    """Everything the explorer shows for one setting of temperature, top-k and prefix.

    Returns a dict with ``samples`` (``n`` names), ``kinds`` (each ``"train"``,
    ``"held-out"`` or ``"new"``), ``counts`` (per kind), ``distinct`` (number of different
    samples), ``most_common`` (``(name, count)``), ``next_probs`` ``(V,)`` and ``chars``
    (the vocabulary, end token first), and ``flags`` (sentences). Raises ``ValueError``
    with a plain message for a prefix outside the vocabulary or a bad setting.
    """
    vocab = _vocab(model, vocab)
    temperature, top_k = _check_settings(temperature, top_k, vocab)
    prefix = _check_prefix(prefix, vocab)
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    train, held_out = set(train_names), set(held_out_names)
    samples = sample_names(model, int(n), vocab=vocab, temperature=temperature, top_k=top_k,
                           prefix=prefix, seed=seed, max_len=MAX_LEN)
    kinds = [_kind(s, train, held_out) for s in samples]
    counts = {k: kinds.count(k) for k in KINDS}
    top_name, top_count = Counter(samples).most_common(1)[0]
    probs = next_char_probs(model, prefix, vocab=vocab, temperature=temperature, top_k=top_k)
    flags = []
    shown = repr(top_name) if top_name else "(empty)"
    if len(prefix) >= MAX_LEN:
        flags.append(f"the prefix has {len(prefix)} characters, at or past the sampler's limit of "
                     f"{MAX_LEN}: nothing is added to it, so every sample is the prefix itself")
    elif prefix and not any(name.startswith(prefix) for name in train):
        flags.append(f"no training name starts with {prefix!r}: the model never saw this prefix, "
                     "so what it adds is extrapolation, not something it learned from names")
    cut = sum(len(s) >= MAX_LEN for s in samples)
    if cut and len(prefix) < MAX_LEN:
        flags.append(f"{cut} of {n} samples reached the {MAX_LEN}-character limit without the end "
                     "token: they were cut off, not finished")
    if len(prefix) >= MAX_LEN:
        pass                                                # flagged above: nothing was sampled
    elif top_k == 1:
        flags.append(f"top-k = 1 is greedy decoding: every sample is the same name, {shown}")
    elif temperature <= LOW_TEMPERATURE:
        flags.append(f"temperature {temperature:.2f} is near 0: sampling is nearly greedy, "
                     f"so the same name comes up again and again ({shown}, {top_count} of {n})")
    elif top_count >= REPEAT * n:
        flags.append(f"the same name {shown} comes up {top_count} of {n} times")
    if temperature >= HIGH_TEMPERATURE and top_k != 1 and len(prefix) < MAX_LEN:
        if top_k is not None and top_k <= 5:
            flags.append(f"temperature {temperature:.2f} flattens the distribution, but top-k = {top_k} "
                         f"keeps only the {top_k} likeliest characters, so the names stay plausible")
        else:
            flags.append(f"temperature {temperature:.2f} flattens the distribution towards uniform: "
                         f"rare characters come up often, and most samples are new strings that do "
                         f"not look like names ({counts['new']} of {n} new)")
    if counts["train"] >= REPEAT * n and top_k != 1:
        flags.append(f"{counts['train']} of {n} samples copy a training name: the model reproduces "
                     "what it has memorised")
    return {"prefix": prefix, "temperature": temperature, "top_k": top_k, "n": int(n),
            "samples": samples, "kinds": kinds, "counts": counts, "distinct": len(set(samples)),
            "most_common": (top_name, top_count), "next_probs": probs, "chars": list(vocab.itos),
            "flags": flags}


def temperature_sweep(model, train_names, held_out_names, temperatures=(0.1, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
                      *, n: int = 200, seed: int = 0, top_k: int | None = None, prefix: str = "",
                      vocab=None) -> dict:
    """Shares of training / held-out / new samples, and of distinct samples, per temperature.

    Returns a dict of arrays, one entry per temperature: ``temperature``, ``train``,
    ``held-out``, ``new`` (fractions of ``n`` samples that sum to 1) and ``distinct``.
    """
    rows = {k: [] for k in ("temperature", *KINDS, "distinct")}
    for t in temperatures:
        state = explore(model, train_names, held_out_names, prefix=prefix, temperature=t, top_k=top_k,
                        n=n, seed=seed, vocab=vocab)
        rows["temperature"].append(float(t))
        for k in KINDS:
            rows[k].append(state["counts"][k] / n)
        rows["distinct"].append(state["distinct"] / n)
    return {k: np.array(v) for k, v in rows.items()}


def draw_sweep(sweep: dict, ax=None):
    """Stacked bars of the kinds of sample per temperature, and the share of distinct ones."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
    pos = np.arange(len(sweep["temperature"]))
    bottom = np.zeros(len(pos))
    labels = {"train": "copies a training name", "held-out": "real name, held out", "new": "new string"}
    for colour, kind in zip(PALETTE, KINDS):
        ax.bar(pos, sweep[kind], bottom=bottom, color=colour, label=labels[kind])
        bottom += sweep[kind]
    ax.plot(pos, sweep["distinct"], "ko-", label="distinct samples")
    ax.set_xticks(pos, [f"{t:g}" for t in sweep["temperature"]])
    ax.set(xlabel="sampling temperature", ylabel="share of the samples", ylim=(0, 1.05),
           title="What the sampled names are, by temperature")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return ax.figure


def draw_next_char(state: dict, fig=None):
    """Bar chart of the ten likeliest next characters after the prefix, as sampled."""
    fig = fig or plt.figure(figsize=(4.2, 3.2))
    ax = fig.add_subplot()
    probs, chars = state["next_probs"], state["chars"]
    top = np.argsort(probs)[::-1][:10]
    names = ["end" if i == 0 else chars[i] for i in top]
    ax.barh(range(len(top))[::-1], probs[top], color=PALETTE[0])
    ax.set_yticks(range(len(top))[::-1], names)
    k = "all" if state["top_k"] is None else state["top_k"]
    ax.set(xlabel="probability", xlim=(0, 1),
           title=f"after '{state['prefix']}': T = {state['temperature']:.2f}, top-k = {k}")
    fig.set_layout_engine("constrained")
    return fig


def _sentences(state: dict) -> str:
    colours = {"train": PALETTE[0], "held-out": PALETTE[1], "new": PALETTE[2]}
    names = ", ".join(f"<span style='color:{colours[k]}'>{html.escape(s) or '(empty)'}</span>"
                      for s, k in zip(state["samples"], state["kinds"]))
    c, n = state["counts"], state["n"]
    lines = [f"<b>samples:</b> {names}",
             f"{c['train']} of {n} copy a training name, {c['held-out']} are real names the model "
             f"never saw, {c['new']} are new; {state['distinct']} distinct"]
    lines += [f"⚠ {html.escape(f)}" for f in state["flags"]]
    return "<br>".join(lines)


class NameSampler(widgets.VBox):
    """Sample names at a temperature, with top-k and a prefix; see what kind of names come out.

    Attributes:
        controls: ``"temperature"`` (FloatSlider, 0.1 to 3), ``"top_k"`` (IntSlider, 1 to V;
            V keeps every character) and ``"prefix"`` (Text).
        label: ``HTML`` widget with the samples, the counts and the flags (or the message for
            a bad prefix).
        image: ``Image`` widget with the PNG of :func:`draw_next_char`.
        state: the current result of :func:`explore`; on a bad prefix ``{"error": message}``.
    """

    def __init__(self, model, train_names, held_out_names, *, vocab=None, temperature: float = 1.0,
                 top_k: int | None = None, prefix: str = "", n: int = 20, seed: int = 0):
        self.model, self.vocab = model, _vocab(model, vocab)
        self.train_names, self.held_out_names = list(train_names), list(held_out_names)
        self.n, self.seed = n, seed
        temperature, top_k = _check_settings(temperature, top_k, self.vocab)
        _check_prefix(prefix, self.vocab)                    # a clear error before any widget
        style = {"description_width": "90px"}
        layout = widgets.Layout(width="340px")
        V = self.vocab.size
        self.controls = {
            "temperature": widgets.FloatSlider(value=min(max(temperature, TEMPERATURE_RANGE[0]),
                                                         TEMPERATURE_RANGE[1]),
                                               min=TEMPERATURE_RANGE[0], max=TEMPERATURE_RANGE[1],
                                               step=0.05, description="temperature", readout_format=".2f",
                                               continuous_update=False, style=style, layout=layout),
            "top_k": widgets.IntSlider(value=V if top_k is None else top_k, min=1, max=V,
                                       description=f"top-k ({V} = all)", continuous_update=False,
                                       style=style, layout=layout),
            "prefix": widgets.Text(value=prefix, description="prefix", continuous_update=False,
                                   style=style, layout=layout),
        }
        self.label = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.state: dict = {}
        super().__init__([widgets.HBox([widgets.VBox(list(self.controls.values())), self.image]),
                          self.label])
        for control in self.controls.values():
            control.observe(lambda change: self.update(), names="value")
        self.update()

    def update(self) -> None:
        """Resample for the current controls; refresh the label and the figure."""
        try:
            self.state = explore(self.model, self.train_names, self.held_out_names,
                                 prefix=self.controls["prefix"].value,
                                 temperature=self.controls["temperature"].value,
                                 top_k=self.controls["top_k"].value, n=self.n, seed=self.seed,
                                 vocab=self.vocab)
        except ValueError as err:
            self.state = {"error": str(err)}
            self.label.value = f"⚠ {html.escape(str(err))}"
            return
        self.label.value = _sentences(self.state)
        fig = draw_next_char(self.state)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        self.image.value = buffer.getvalue()


def name_sampler(model, train_names, held_out_names, *, vocab=None, temperature: float = 1.0,
                 top_k: int | None = None, prefix: str = "", n: int = 20, seed: int = 0) -> NameSampler:
    """Explore how temperature, top-k and a prefix change the names a model samples.

    Args:
        model: a language model following :mod:`dlcore.torch.text`'s protocol.
        train_names: the names it was trained on (samples equal to one are "train").
        held_out_names: real names it never saw (samples equal to one are "held-out").
        vocab: default ``model.vocab``, else the lowercase alphabet.
        n: names drawn per setting; seed: the sampling seed (the same for every setting).

    Returns:
        A :class:`NameSampler` (an ``ipywidgets.VBox``). Display it in a notebook, or set
        ``.controls[...]`` values and read ``.state`` without one.
    """
    return NameSampler(model, train_names, held_out_names, vocab=vocab, temperature=temperature,
                       top_k=top_k, prefix=prefix, n=n, seed=seed)

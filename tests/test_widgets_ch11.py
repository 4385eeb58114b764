"""The chapter 11 attention explorer, driven headless: set the controls, read the state."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest
import torch
from torch import nn

from dlcore.widgets.ch11 import (
    FOCUSED,
    HIGH_TEMPERATURE,
    LOW_TEMPERATURE,
    TEMPERATURE_RANGE,
    attention_explorer,
    draw_attention,
    explore,
    sample_names,
)

CHARS = ["."] + list("abcdefghijklmnopqrstuvwxyz")
NAMES = ["emma", "al", "christopher", "o"]


class TinyGPT(nn.Module):
    """A small causal model following the explorer's protocol (2 layers, 2 heads)."""

    def __init__(self, vocab=27, d=16, heads=2, layers=2, block_size=16):
        super().__init__()
        torch.manual_seed(0)
        self.block_size, self.heads = block_size, heads
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(block_size, d)
        self.attn = nn.ModuleList(nn.MultiheadAttention(d, heads, batch_first=True)
                                  for _ in range(layers))
        self.head = nn.Linear(d, vocab)

    def forward(self, idx, return_attn=False):
        T = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(T))
        banned = ~torch.ones(T, T, dtype=torch.bool).tril()
        weights = []
        for layer in self.attn:
            y, w = layer(x, x, x, attn_mask=banned, average_attn_weights=False)
            x = x + y
            weights.append(w)
        logits = self.head(x)
        return (logits, weights) if return_attn else logits


@pytest.fixture(scope="module")
def model():
    return TinyGPT().eval()


def test_explorer_is_a_widget_with_its_controls(model):
    explorer = attention_explorer(model, CHARS, NAMES)
    assert isinstance(explorer, widgets.VBox)
    assert set(explorer.controls) == {"name", "position", "temperature"}
    assert explorer.image in explorer.children
    assert explorer.image.value[:4] == b"\x89PNG"
    assert explorer.state["name"] == "emma" and explorer.state["position"] == 1
    assert explorer.controls["position"].max == len("emma")


def test_weights_are_the_causal_rows_of_the_model(model):
    state = explore(model, CHARS, "emma", 3, 1.0)
    ids = torch.tensor([[0] + [CHARS.index(c) for c in "emma"]])
    _, attn = model(ids, return_attn=True)
    assert state["weights"].shape == (2, 2, 4)
    for layer in range(2):
        np.testing.assert_allclose(state["weights"][layer], attn[layer][0, :, 3, :4].detach().numpy(),
                                   rtol=1e-6)
    np.testing.assert_allclose(state["weights"].sum(-1), 1.0, rtol=1e-5)
    assert state["tokens"] == [".", "e", "m", "m", "a"] and state["target"] == "a"
    assert explore(model, CHARS, "emma", 4, 1.0)["target"] == "."       # the end token


@pytest.mark.parametrize("temperature", [TEMPERATURE_RANGE[0], 1.0, TEMPERATURE_RANGE[1]])
def test_temperature_changes_the_distribution(model, temperature):
    state = explore(model, CHARS, "al", 1, temperature)
    logits = model(torch.tensor([[0, 1]]))[0, 1].detach()
    np.testing.assert_allclose(state["next_probs"], torch.softmax(logits / temperature, -1).numpy(),
                               rtol=1e-5, atol=1e-7)
    assert abs(state["next_probs"].sum() - 1) < 1e-5


def test_drive_every_control_to_its_extremes(model):
    explorer = attention_explorer(model, CHARS, NAMES)
    for name in ("o", "christopher"):                  # the shortest and the longest name
        explorer.controls["name"].value = name
        slider = explorer.controls["position"]
        assert slider.max == len(name) and slider.value <= slider.max
        for position in (slider.min, slider.max):
            slider.value = position
            assert explorer.state["position"] == position
            assert explorer.state["weights"].shape[-1] == position + 1
    explorer.controls["position"].value = 11
    explorer.controls["name"].value = "o"            # a shorter name clips the position
    assert explorer.controls["position"].value == 1 and explorer.state["position"] == 1
    temp = explorer.controls["temperature"]
    temp.value = temp.min
    assert any("nearly greedy" in f for f in explorer.state["flags"])
    assert "nearly greedy" in explorer.label.value
    greedy = explorer.state["samples"]
    most = max(greedy.count(s) for s in greedy)
    assert most >= 3                                    # near-greedy sampling repeats itself
    temp.value = temp.max
    assert any("close to uniform" in f for f in explorer.state["flags"])
    temp.value = 1.0
    assert not any("greedy" in f or "uniform" in f for f in explorer.state["flags"])
    assert TEMPERATURE_RANGE[0] < LOW_TEMPERATURE < 1.0 < HIGH_TEMPERATURE < TEMPERATURE_RANGE[1]


def test_focused_heads_are_flagged():
    class OneKey(TinyGPT):
        def forward(self, idx, return_attn=False):
            logits, weights = super().forward(idx, return_attn=True)
            T = idx.shape[1]
            w = torch.zeros(1, 2, T, T)
            w[:, 0, :, 0] = 1.0                        # head 0 always looks at the start token
            w[:, 1] = torch.ones(T, T).tril() / torch.arange(1, T + 1)[:, None]
            return (logits, [w, w]) if return_attn else logits

    state = explore(OneKey().eval(), CHARS, "emma", 3, 1.0)
    flagged = [f for f in state["flags"] if "looks almost only" in f]
    assert len(flagged) == 2 and all("head 0" in f and "'.'" in f for f in flagged)
    assert FOCUSED < 1.0


def test_samples_are_reproducible_and_use_known_characters(model):
    a = sample_names(model, CHARS, temperature=1.0, n=4, seed=3)
    b = sample_names(model, CHARS, temperature=1.0, n=4, seed=3)
    assert a == b and len(a) == 4
    assert all(set(s) <= set(CHARS[1:]) and len(s) <= 20 for s in a)
    assert model.training is False


def test_bad_input_gets_a_clear_error(model):
    with pytest.raises(ValueError, match="does not know"):
        explore(model, CHARS, "Emma", 1)
    with pytest.raises(ValueError, match="between 0 and 4"):
        explore(model, CHARS, "emma", 5)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        explore(model, CHARS, "emma", 1, 0.0)
    with pytest.raises(ValueError, match="at least one name"):
        attention_explorer(model, CHARS, [])
    with pytest.raises(ValueError, match="does not know"):
        attention_explorer(model, CHARS, ["zoë"])


def test_static_figure_has_one_panel_per_head_and_layer(model):
    import matplotlib.pyplot as plt

    fig = draw_attention(explore(model, CHARS, "emma", 2, 1.0))
    assert len(fig.axes) == 2 * 2 + 1
    plt.close(fig)

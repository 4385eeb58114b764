"""The chapter 10 name sampler, driven headless: set the controls, read the state."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest
import torch

from dlcore.torch.text import BigramModel, CharVocab, names_split, sample_names
from dlcore.widgets.ch10 import (
    HIGH_TEMPERATURE,
    LOW_TEMPERATURE,
    MAX_LEN,
    TEMPERATURE_RANGE,
    draw_next_char,
    draw_sweep,
    explore,
    name_sampler,
    next_char_probs,
    temperature_sweep,
)


@pytest.fixture(scope="module")
def split():
    train, val, test = names_split(seed=0)
    return train, val + test


@pytest.fixture(scope="module")
def model(split):
    return BigramModel(alpha=1.0).fit(split[0])


def test_sampler_is_a_widget_with_its_controls(model, split):
    sampler = name_sampler(model, *split)
    assert isinstance(sampler, widgets.VBox)
    assert set(sampler.controls) == {"temperature", "top_k", "prefix"}
    assert sampler.image.value[:4] == b"\x89PNG"
    assert sampler.controls["top_k"].max == 27 and sampler.controls["top_k"].value == 27
    assert sampler.state["top_k"] is None                      # k = V keeps every character
    assert (sampler.controls["temperature"].min, sampler.controls["temperature"].max) == TEMPERATURE_RANGE
    assert len(sampler.state["samples"]) == 20
    assert sum(sampler.state["counts"].values()) == 20
    assert "copy a training name" in sampler.label.value


def test_samples_are_the_library_sampler_and_are_sorted_by_kind(model, split):
    train, held_out = split
    state = explore(model, train, held_out, temperature=1.0, n=50, seed=4)
    assert state["samples"] == sample_names(model, 50, temperature=1.0, seed=4)
    for name, kind in zip(state["samples"], state["kinds"]):
        assert kind == ("train" if name in set(train) else "held-out" if name in set(held_out) else "new")
    assert state["counts"] == {k: state["kinds"].count(k) for k in ("train", "held-out", "new")}
    assert state["distinct"] == len(set(state["samples"]))


@pytest.mark.parametrize("temperature", [TEMPERATURE_RANGE[0], 1.0, TEMPERATURE_RANGE[1]])
@pytest.mark.parametrize("top_k", [None, 1, 5])
def test_next_char_probs_follow_temperature_and_top_k(model, temperature, top_k):
    probs = next_char_probs(model, "em", temperature=temperature, top_k=top_k)
    scores = model.log_probs[CharVocab().stoi["m"]] / temperature
    if top_k is not None:
        scores = scores.masked_fill(scores < torch.topk(scores, top_k).values[-1], float("-inf"))
    np.testing.assert_allclose(probs, torch.softmax(scores, -1).numpy(), rtol=1e-10, atol=1e-12)
    assert (probs > 0).sum() == (top_k or 27)


def test_drive_every_control_to_its_extremes(model, split):
    sampler = name_sampler(model, *split)
    temp, top_k, prefix = (sampler.controls[k] for k in ("temperature", "top_k", "prefix"))
    temp.value = temp.min                                        # near 0: the same name again
    state = sampler.state
    assert state["temperature"] == pytest.approx(0.1)
    assert any("near 0" in f and "nearly greedy" in f for f in state["flags"])
    assert state["most_common"][1] >= 10 and state["distinct"] <= 10
    assert "nearly greedy" in sampler.label.value
    temp.value = temp.max                                        # high: new strings, no repeats
    state = sampler.state
    assert any("towards uniform" in f for f in state["flags"])
    assert state["counts"]["new"] >= 15 and state["distinct"] >= 18
    assert not any("greedy" in f for f in state["flags"])
    top_k.value = 3                                              # top-k tames the temperature
    assert any("top-k = 3" in f for f in sampler.state["flags"])
    assert not any("towards uniform" in f for f in sampler.state["flags"])
    top_k.value = 1                                              # greedy whatever the temperature
    state = sampler.state
    assert state["distinct"] == 1 and any("greedy decoding" in f for f in state["flags"])
    top_k.value, temp.value = top_k.max, 1.0
    assert not any("greedy" in f or "uniform" in f for f in sampler.state["flags"])
    prefix.value = "chr"
    assert all(s.startswith("chr") for s in sampler.state["samples"])
    assert "chr" in draw_next_char(sampler.state).axes[0].get_title()
    assert LOW_TEMPERATURE < 1.0 < HIGH_TEMPERATURE < TEMPERATURE_RANGE[1]
    assert TEMPERATURE_RANGE[0] < LOW_TEMPERATURE


def test_copying_the_training_set_is_flagged(split):
    train, held_out = split
    memoriser = BigramModel(alpha=0.0).fit(["ab"])             # can only ever say "ab"
    state = explore(memoriser, ["ab"], held_out, n=10)
    assert state["counts"] == {"train": 10, "held-out": 0, "new": 0}
    assert any("copy a training name" in f for f in state["flags"])
    assert any("same name 'ab'" in f for f in state["flags"])


@pytest.mark.parametrize("bad, match", [("Emma", r"does not know: \['E'\] \(names are lowercase\)"),
                                        ("zoë", r"does not know: \['ë'\]"), ("a.b", r"\['\.'\]"),
                                        ("4x", r"\['4'\]"), (".", r"boundary token"),
                                        ("mary ann", r"\[' '\]")])
def test_a_bad_prefix_gets_a_message_not_a_crash(model, split, bad, match):
    with pytest.raises(ValueError, match=match):
        explore(model, *split, prefix=bad)
    with pytest.raises(ValueError, match=match):
        name_sampler(model, *split, prefix=bad)
    sampler = name_sampler(model, *split)
    image = sampler.image.value
    sampler.controls["prefix"].value = bad                       # typed into the widget
    assert "error" in sampler.state and "does not know" in sampler.label.value
    assert sampler.image.value == image                          # the old figure stays
    sampler.controls["prefix"].value = "  em "                   # surrounding spaces are fine
    assert sampler.state["prefix"] == "em" and all(s.startswith("em") for s in sampler.state["samples"])


def test_bad_settings_get_clear_errors(model, split):
    for t in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="temperature must be"):
            explore(model, *split, temperature=t)
    for k in (0, 28, 2.5):
        with pytest.raises(ValueError, match="top_k must be"):
            explore(model, *split, top_k=k)
    with pytest.raises(ValueError, match="n must be"):
        explore(model, *split, n=0)
    with pytest.raises(TypeError, match="prefix must be a string"):
        explore(model, *split, prefix=None)


def test_temperature_sweep_and_its_figure(model, split):
    import matplotlib.pyplot as plt

    sweep = temperature_sweep(model, *split, temperatures=(0.1, 1.0, 3.0), n=60)
    total = sweep["train"] + sweep["held-out"] + sweep["new"]
    np.testing.assert_allclose(total, 1.0)
    assert sweep["distinct"][0] < sweep["distinct"][1] <= sweep["distinct"][2]
    assert sweep["new"][2] > sweep["new"][1]
    fig = draw_sweep(sweep)
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    plt.close(fig)


def test_the_boundary_token_is_not_called_a_capital(model, split):
    with pytest.raises(ValueError) as err:
        explore(model, *split, prefix="a.")
    assert "lowercase" not in str(err.value) and "boundary token" in str(err.value)


def test_a_prefix_no_training_name_starts_with_is_flagged(model, split):
    train, held_out = split
    assert not any(n.startswith("xqz") for n in train)
    state = explore(model, train, held_out, prefix="xqz", n=10)
    assert all(s.startswith("xqz") for s in state["samples"])
    assert any("no training name starts with 'xqz'" in f for f in state["flags"])
    assert not any("no training name" in f for f in explore(model, train, held_out, prefix="chr")["flags"])
    assert not any("no training name" in f for f in explore(model, train, held_out, prefix="")["flags"])


def test_a_prefix_at_the_length_limit_and_cut_samples_are_flagged(model, split):
    train, held_out = split
    for prefix in ("a" * MAX_LEN, "b" * (MAX_LEN + 15)):
        state = explore(model, train, held_out, prefix=prefix, n=5, temperature=0.1)
        assert state["samples"] == [prefix] * 5
        assert len(state["flags"]) == 1 and "nothing is added" in state["flags"][0]
    sampler = name_sampler(model, train, held_out)
    sampler.controls["prefix"].value = "z" * 60                  # typed into the widget: no crash
    assert "nothing is added" in sampler.label.value
    state = explore(model, train, held_out, prefix="a" * (MAX_LEN - 1), n=20, temperature=3.0)
    cut = sum(len(s) == MAX_LEN for s in state["samples"])
    assert all(len(s) <= MAX_LEN for s in state["samples"])
    assert cut > 0 and any(f"{cut} of 20 samples reached" in f for f in state["flags"])
    assert not any("reached the" in f for f in explore(model, train, held_out, n=20)["flags"])


def test_greedy_top_k_gets_one_flag_whatever_the_temperature(model, split):
    state = explore(model, *split, temperature=TEMPERATURE_RANGE[1], top_k=1, n=10)
    assert state["distinct"] == 1
    assert [f for f in state["flags"] if "greedy" in f or "flattens" in f] == [
        f for f in state["flags"] if "greedy decoding" in f]

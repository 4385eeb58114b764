"""The chapter 13 transfer explorer, driven headless: set the controls, read the state."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest

from dlcore.widgets.ch13 import draw_curves, explore, summarise, transfer_explorer

LABELS = (1, 5, 50)


def _runs():
    """Known accuracies: fine-tune +20 points at 1 label, +0 at 50; probe worse; lr 0.5 diverges."""
    base = {1: 0.5, 5: 0.7, 50: 0.9}
    gain = {"fine-tune": {1: 0.2, 5: 0.1, 50: 0.0}, "linear probe": {1: 0.1, 5: -0.1, 50: -0.2},
            "scratch": {1: 0.0, 5: 0.0, 50: 0.0}}
    runs = []
    for strategy, g in gain.items():
        for labels in LABELS:
            for seed, noise in enumerate((-0.01, 0.0, 0.01)):
                runs.append({"strategy": strategy, "lr": 1e-3, "labels": labels, "seed": seed,
                             "accuracy": base[labels] + g[labels] + noise})
                runs.append({"strategy": strategy, "lr": 0.5, "labels": labels, "seed": seed,
                             "accuracy": 0.2 + noise / 2 + 0.01})
    return runs


def test_explorer_is_a_widget_with_its_controls():
    ex = transfer_explorer(_runs())
    assert isinstance(ex, widgets.VBox)
    assert set(ex.controls) == {"labels", "strategy", "lr"}
    assert list(ex.controls["labels"].options) == list(LABELS)
    assert ex.image in ex.children and ex.image.value[:4] == b"\x89PNG"
    assert ex.controls["strategy"].options[-1] == "scratch"


@pytest.mark.parametrize("labels, flag, gap", [(1, "transfer helps", 0.2), (5, "transfer helps", 0.1),
                                               (50, "within the noise", 0.0)])
def test_fine_tune_gap_and_flag_at_each_label_count(labels, flag, gap):
    ex = transfer_explorer(_runs())
    ex.controls["strategy"].value = "fine-tune"
    ex.controls["lr"].value = 1e-3
    ex.controls["labels"].value = labels
    assert ex.state["flag"] == flag
    assert ex.state["gap"] == pytest.approx(gap, abs=1e-9)
    assert ex.state["summary"]["n"] == 3
    assert ex.state["summary"]["std"] == pytest.approx(np.std([-0.01, 0, 0.01]))
    assert f"{gap * 100:+.1f} points" in ex.label.value


def test_negative_transfer_is_flagged_and_best_is_named():
    ex = transfer_explorer(_runs())
    ex.controls["strategy"].value = "linear probe"
    ex.controls["labels"].value = 50                   # the other extreme of the slider
    assert ex.state["flag"] == "worse than scratch"
    assert ex.state["gap"] == pytest.approx(-0.2)
    assert "worse than scratch" in ex.label.value
    assert ex.state["best"] in {("fine-tune", 1e-3), ("scratch", 1e-3)}


def test_diverged_learning_rate_reads_near_chance():
    ex = transfer_explorer(_runs())
    ex.controls["lr"].value = 0.5                      # the largest learning rate
    for strategy in ex.controls["strategy"].options:
        ex.controls["strategy"].value = strategy
        assert ex.state["flag"] == "near chance", strategy
    assert ex.state["best"][1] == pytest.approx(1e-3)


def test_scratch_against_itself():
    ex = transfer_explorer(_runs())
    ex.controls["strategy"].value = "scratch"
    assert ex.state["flag"] == "this is scratch" and ex.state["gap"] is None


def test_missing_combination_says_not_computed():
    runs = [r for r in _runs() if not (r["strategy"] == "fine-tune" and r["labels"] == 5)]
    ex = transfer_explorer(runs)
    ex.controls["strategy"].value = "fine-tune"
    ex.controls["labels"].value = 5
    assert ex.state["flag"] == "not computed" and "not computed" in ex.label.value


def test_summarise_and_explore_directly():
    runs = _runs()
    s = summarise(runs, "scratch", 1e-3, 5)
    assert s["mean"] == pytest.approx(0.7) and s["n"] == 3
    assert summarise(runs, "scratch", 1e-2, 5) is None
    state = explore(runs, "fine-tune", 1e-3, 1, chance=0.2)
    fig = draw_curves(runs, state, chance=0.2)
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("labels per class") and ax.get_ylabel() == "test accuracy"


@pytest.mark.parametrize("runs, match", [([], "at least one run"),
                                         ([{"strategy": "scratch"}], "keys"),
                                         ([{"strategy": "scratch", "lr": 1, "labels": 1, "seed": 0,
                                            "accuracy": 87.0}], "fraction"),
                                         ([{"strategy": "probe", "lr": 1, "labels": 1, "seed": 0,
                                            "accuracy": 0.5}], "'scratch'")])
def test_bad_runs_are_named(runs, match):
    with pytest.raises(ValueError, match=match):
        transfer_explorer(runs)


def test_bad_chance():
    with pytest.raises(ValueError, match="chance"):
        transfer_explorer(_runs(), chance=1.5)

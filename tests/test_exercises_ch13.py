"""Direct tests of the chapter 13 checkers: correct answers pass, wrong and odd ones fail by name."""

from __future__ import annotations

import numpy as np
import pytest
from checker_helpers import SHARED_BAD, run_checker

from dlcore.exercises import ch13 as check

# ---- reference solutions (the same as in exercises/solutions/13_transfer.ipynb) -----------------


def freeze_all_but(model, head):
    for p in model.parameters():
        p.requires_grad = False
    for p in head.parameters():
        p.requires_grad = True
    return model


def discriminative_groups(model, head, lr, factor):
    head_ids = {id(p) for p in head.parameters()}
    body = [p for p in model.parameters() if id(p) not in head_ids]
    return [{"params": body, "lr": lr * factor}, {"params": list(head.parameters()), "lr": lr}]


def few_labels(y, k, seed):
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    picks = [rng.choice(np.flatnonzero(y == c), size=k, replace=False) for c in np.unique(y)]
    return np.concatenate(picks)


REFERENCE = {"ex1": freeze_all_but, "ex2": discriminative_groups, "ex3": few_labels}


def _run(capsys, name, answer):
    return run_checker(capsys, check, name, answer)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_solution_passes(capsys, name):
    passed, out = _run(capsys, name, REFERENCE[name])
    assert passed, out
    assert out.startswith("✓")


@pytest.mark.parametrize("name", sorted(check.REFERENCE_ANSWERS))
def test_module_reference_answers_and_rewrites_pass(capsys, name):
    for answer in [check.REFERENCE_ANSWERS[name], *check.CORRECT_REWRITES.get(name, [])]:
        passed, out = _run(capsys, name, answer)
        assert passed, (answer.__name__, out)


def test_every_checker_has_a_reference_answer():
    from dlcore.exercises import checkers_of

    assert checkers_of("ch13") == ["ex1", "ex2", "ex3"] == sorted(check.REFERENCE_ANSWERS)


COMMON_BAD = SHARED_BAD + [("a function with the wrong arguments", lambda: 1, "TypeError")]


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("desc, answer, words", COMMON_BAD, ids=[c[0] for c in COMMON_BAD])
def test_odd_answers_fail_with_a_message(capsys, name, desc, answer, words):
    passed, out = _run(capsys, name, answer)
    assert passed is False, f"{name} accepted {desc}"
    assert out.startswith("✗") and words in out, out


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_returning_none_fails(capsys, name):
    passed, out = _run(capsys, name, lambda *a: None)
    assert passed is False and out.startswith("✗"), out


# ---- exercise 1 -----------------------------------------------------------------------------------


def _freeze_head_too(model, head):
    for p in model.parameters():
        p.requires_grad = False
    return model


def _freeze_last_child(model, head):
    children = list(model.children())
    for p in model.parameters():
        p.requires_grad = False
    for p in children[-1].parameters():           # assumes the head is the last layer
        p.requires_grad = True
    return model


def _only_unfreeze_head(model, head):             # assumes everything else was already frozen
    for p in head.parameters():
        p.requires_grad = True
    return model


def _reinit_head(model, head):
    freeze_all_but(model, head)
    head.apply(lambda m: m.reset_parameters() if hasattr(m, "reset_parameters") else None)
    return model


def _returns_none(model, head):
    freeze_all_but(model, head)


@pytest.mark.parametrize("answer, words", [
    (_freeze_head_too, "head's parameters"),
    (_freeze_last_child, "frozen"),
    (_only_unfreeze_head, "still trainable"),
    (_reinit_head, "changed parameter values"),
    (_returns_none, "not the model"),
], ids=["head frozen", "last child", "body not frozen", "re-initialised", "returns None"])
def test_ex1_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex1", answer)
    assert passed is False and words in out, out


# ---- exercise 2 -----------------------------------------------------------------------------------


def _factor_hard_coded(model, head, lr, factor):
    return discriminative_groups(model, head, lr, 0.1)


def _body_missing(model, head, lr, factor):
    return [{"params": list(head.parameters()), "lr": lr}]


def _head_twice(model, head, lr, factor):
    return [{"params": list(model.parameters()), "lr": lr * factor}, {"params": list(head.parameters()), "lr": lr}]


def _swapped(model, head, lr, factor):
    groups = discriminative_groups(model, head, lr, factor)
    groups[0]["lr"], groups[1]["lr"] = groups[1]["lr"], groups[0]["lr"]
    return groups


def _last_child_is_head(model, head, lr, factor):
    return discriminative_groups(model, list(model.children())[-1], lr, factor)


def _no_lr(model, head, lr, factor):
    return [{"params": list(model.parameters())}]


@pytest.mark.parametrize("answer, words", [
    (_factor_hard_coded, "lr * factor"),
    (_body_missing, "in no group"),
    (_head_twice, "two groups"),
    (_swapped, "expected"),
    (_last_child_is_head, "expected"),
    (_no_lr, "lacks"),
], ids=["factor 0.1", "body missing", "head twice", "swapped", "last child", "no lr"])
def test_ex2_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex2", answer)
    assert passed is False and words in out, out


def test_ex2_accepts_a_tuple_and_a_generator_of_params(capsys):
    def gen_groups(model, head, lr, factor):
        ids = {id(p) for p in head.parameters()}
        return ({"params": head.parameters(), "lr": lr},
                {"params": (p for p in model.parameters() if id(p) not in ids), "lr": lr * factor})

    passed, out = _run(capsys, "ex2", gen_groups)
    # A generator would be used up by the optimizer's own pass; the checker lists it once.
    assert passed, out


# ---- exercise 3 -----------------------------------------------------------------------------------


def _first_k(y, k, seed):
    y = np.asarray(y)
    return np.concatenate([np.flatnonzero(y == c)[:k] for c in np.unique(y)])


def _with_replacement(y, k, seed):
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    return np.concatenate([rng.choice(np.flatnonzero(y == c), size=k, replace=True) for c in np.unique(y)])


def _global_rng(y, k, seed):
    y = np.asarray(y)
    return np.concatenate([np.random.choice(np.flatnonzero(y == c), size=k, replace=False)  # noqa: NPY002
                           for c in np.unique(y)])


def _range_ten(y, k, seed):
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    return np.concatenate([rng.choice(np.flatnonzero(y == c), size=k, replace=False)
                           for c in range(10) if np.any(y == c)][:3])


def _k_total(y, k, seed):
    rng = np.random.default_rng(seed)
    return rng.choice(len(y), size=k, replace=False)


def _labels_not_indices(y, k, seed):
    return np.asarray(y)[few_labels(y, k, seed)].astype(float)


@pytest.mark.parametrize("answer, words", [
    (_first_k, "first k"),
    (_with_replacement, "repeated index"),
    (_global_rng, "same seed"),
    (_range_ten, "got no example"),
    (_k_total, "got no example"),
    (_labels_not_indices, "integer indices"),
], ids=["first k", "replacement", "global rng", "range(10)", "k in total", "labels"])
def test_ex3_wrong_answers_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex3", answer)
    assert passed is False and words in out, out

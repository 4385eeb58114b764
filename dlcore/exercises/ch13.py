"""Checkers for the chapter 13 exercises ("Transfer learning").

Used in ``exercises/13_transfer.ipynb``::

    from dlcore.exercises import ch13 as check
    check.ex1(freeze_all_but)

* :func:`ex1` -- ``freeze_all_but(model, head)`` -> ``model``: freeze every parameter of
  ``model`` except those of its submodule ``head`` (which stay trainable); return the model.
* :func:`ex2` -- ``discriminative_groups(model, head, lr, factor)`` -> optimizer parameter
  groups: the head at ``lr``, everything else at ``lr * factor``.
* :func:`ex3` -- ``few_labels(y, k, seed)`` -> indices of ``k`` examples of every class of
  ``y``, drawn at random (without replacement) with a generator seeded by ``seed``.

Each checker builds several models (the head first, last or in the middle; batch norm;
bias-free layers) or label vectors (several class counts, ``k`` and seeds), and names the
mistake: the head frozen too, a layer missed, a parameter in two groups, a hard-coded
factor, a class left out, a repeated index, a seed ignored. None of them raises.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from torch import nn

from ._core import call, checker, expect

# ---- shared: models whose head sits in different places ------------------------------------


class _HeadFirst(nn.Module):
    """A module whose head is registered before its body (so 'the last layer' is wrong)."""

    def __init__(self):
        super().__init__()
        self.classifier = nn.Linear(6, 3)
        self.body = nn.Sequential(nn.Linear(4, 6, bias=False), nn.BatchNorm1d(6), nn.ReLU())

    def forward(self, x):
        return self.classifier(self.body(x))


def _models():
    """(what, model, head) cases."""
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 5))
    first = _HeadFirst()
    mid = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, 1))
    two = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)))
    return [("a 3-layer MLP, head = its last Linear", seq, seq[4]),
            ("a small CNN with batch norm, head = its last Linear", cnn, cnn[4]),
            ("a module whose head 'classifier' is registered first", first, first.classifier),
            ("an MLP whose 'head' is its middle layer", mid, mid[2]),
            ("an MLP whose head is a 2-layer block", two, two[2])]


def _head_ids(head) -> set[int]:
    return {id(p) for p in head.parameters()}


# ---- exercise 1: freeze all but the head ----------------------------------------------------------


def _freeze_reference(model, head):
    """The model answer of exercise 1."""
    for p in model.parameters():
        p.requires_grad_(False)
    for p in head.parameters():
        p.requires_grad_(True)
    return model


@checker("freeze all but the head")
def ex1(freeze_all_but):
    """``freeze_all_but(model, head)`` sets ``requires_grad`` False outside ``head``; returns ``model``."""
    for what, model, head in _models():
        # Start from a mixed state, as a model left over from an earlier experiment would be.
        for i, p in enumerate(model.parameters()):
            p.requires_grad_(i % 2 == 0)
        before = [p.detach().clone() for p in model.parameters()]
        out = call(freeze_all_but, model, head)
        ids = _head_ids(head)
        names = dict((id(p), n) for n, p in model.named_parameters())
        frozen_head = [names[id(p)] for p in head.parameters() if not p.requires_grad]
        trainable_body = [n for n, p in model.named_parameters() if id(p) not in ids and p.requires_grad]
        expect(not frozen_head, f"On {what}, the head's parameters {frozen_head} are frozen.",
               "The head is the part that must learn the new task: its parameters keep requires_grad=True "
               "(set it explicitly; do not assume it was True before).")
        expect(not trainable_body, f"On {what}, {trainable_body} outside the head are still trainable.",
               "Loop over model.parameters() (every parameter, however deeply nested) and freeze all "
               "of them, then unfreeze head.parameters(); do not rely on the head being the last layer.")
        expect(out is model, f"On {what}, freeze_all_but returned {type(out).__name__}, not the model it was "
               "given.", "Change the model in place and return it (as model.requires_grad_() does).")
        after = list(model.parameters())
        expect(len(after) == len(before) and all(torch.equal(a.detach(), b) for a, b in zip(after, before)),
               f"On {what}, freeze_all_but changed parameter values or replaced parameters.",
               "Freezing only sets requires_grad; it must not re-initialise or replace any weight.")
    return "Five models (head last, first, in the middle, or a block) frozen exactly outside the head."


# ---- exercise 2: discriminative learning rates ----------------------------------------------------


def _groups_reference(model, head, lr, factor):
    """The model answer of exercise 2."""
    ids = _head_ids(head)
    body = [p for p in model.parameters() if id(p) not in ids]
    return [{"params": body, "lr": lr * factor}, {"params": list(head.parameters()), "lr": lr}]


_LRS = [(1e-3, 0.1), (3e-2, 0.5), (0.2, 0.01), (5e-4, 1.0)]


@checker("discriminative learning rates")
def ex2(discriminative_groups):
    """``discriminative_groups(model, head, lr, factor)`` -> parameter groups for an optimizer."""
    for (what, model, head), (lr, factor) in zip(_models() * 2, _LRS * 3):
        name = f"discriminative_groups on {what} with lr={lr:g}, factor={factor:g}"
        groups = call(discriminative_groups, model, head, lr, factor)
        expect(isinstance(groups, (list, tuple)) and all(isinstance(g, dict) for g in groups),
               f"{name} returned {type(groups).__name__}, not a list of dicts.",
               'Return a list like [{"params": [...], "lr": ...}, ...], what torch.optim.SGD accepts.')
        seen: dict[int, float] = {}
        for g in groups:
            expect("params" in g and "lr" in g, f"{name}: a group {sorted(g)} lacks 'params' or 'lr'.",
                   "Every group needs its own 'params' and 'lr'.")
            params = list(g["params"])
            expect(all(isinstance(p, torch.Tensor) for p in params),
                   f"{name}: a group's 'params' holds something that is not a parameter tensor.",
                   "Put the parameters themselves (model.parameters()) in the groups, not names or modules.")
            for p in params:
                expect(id(p) not in seen, f"{name}: a parameter appears in two groups.",
                       "Every parameter goes into exactly one group: split by whether it belongs to the head.")
                expect(isinstance(g["lr"], numbers.Real), f"{name}: a group's lr is {g['lr']!r}.",
                       "lr must be a number.")
                seen[id(p)] = float(g["lr"])
        all_ids = {id(p) for p in model.parameters()}
        names = {id(p): n for n, p in model.named_parameters()}
        missing = [names[i] for i in all_ids - seen.keys()]
        expect(not missing, f"{name}: {missing} are in no group, so the optimizer would never train them.",
               "Collect the body's parameters from model.parameters(), leaving out only the head's.")
        expect(seen.keys() <= all_ids, f"{name}: a group holds parameters that are not the model's.",
               "Use the parameters of the model given.")
        ids = _head_ids(head)
        wrong_head = [names[i] for i in ids if not np.isclose(seen[i], lr, rtol=1e-9)]
        expect(not wrong_head, f"{name}: the head {wrong_head} gets lr {seen[next(iter(ids))]:g}, "
               f"expected {lr:g}.", "The head (new, randomly initialised) gets the full learning rate lr.")
        wrong_body = sorted({seen[i] for i in all_ids - ids if not np.isclose(seen[i], lr * factor, rtol=1e-9)})
        expect(not wrong_body, f"{name}: body parameters get lr {wrong_body}, expected lr * factor = "
               f"{lr * factor:g}.", "Use both arguments: the body's learning rate is lr * factor.")
        torch.optim.SGD(groups, lr=1.0)            # the optimizer accepts them
    return "Groups cover every parameter once: the head at lr, the rest at lr * factor (8 cases)."


# ---- exercise 3: k labels per class -----------------------------------------------------------------


def _few_labels_reference(y, k, seed):
    """The model answer of exercise 3."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    return np.concatenate([rng.choice(np.flatnonzero(y == c), size=k, replace=False) for c in np.unique(y)])


def _label_cases():
    rng = np.random.default_rng(13)
    return [("10 classes, 300 labels, k=1", rng.integers(0, 10, 300), 1),
            ("5 classes 5..9, 200 labels, k=7", rng.integers(5, 10, 200), 7),
            ("3 classes as a list, unbalanced, k=4", [0] * 5 + [1] * 40 + [2] * 9, 4),
            ("2 classes, k equal to the smaller class", np.array([3] * 6 + [8] * 20), 6)]


def _as_indices(value, name, n):
    expect(value is not None, f"{name} returned None.", "Return the array of chosen indices.")
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001
        arr = None
    expect(arr is not None and arr.ndim == 1 and (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)),
           f"{name} returned {type(value).__name__} that is not a 1-D array of integer indices.",
           "Return indices into y (e.g. from np.flatnonzero), not labels, masks or images.")
    expect(bool(np.all((arr >= 0) & (arr < n))), f"{name} returned indices outside 0..{n - 1}.",
           "Return positions in y.")
    return arr.astype(np.int64)


@checker("k labels per class")
def ex3(few_labels):
    """``few_labels(y, k, seed)`` -> indices of exactly ``k`` random examples of every class."""
    for what, y, k in _label_cases():
        yy = np.asarray(y)
        draws = {}
        for seed in (0, 1, 2, 0):
            name = f"few_labels on {what}, seed={seed}"
            idx = _as_indices(call(few_labels, y, k, seed), name, len(yy))
            expect(len(np.unique(idx)) == len(idx), f"{name} returned a repeated index.",
                   "Draw without replacement (replace=False): one example counted twice is one label less.")
            counts = {int(c): int(np.sum(yy[idx] == c)) for c in np.unique(yy)}
            missing = [c for c, m in counts.items() if m == 0]
            expect(not missing, f"{name}: classes {missing} got no example.",
                   "Loop over the classes that occur in y (np.unique(y)), not over range(10) or 0..4.")
            off = {c: m for c, m in counts.items() if m != k}
            expect(not off, f"{name}: counts per class {off}, expected {k} each.",
                   "Pick exactly k indices from each class's positions (np.flatnonzero(y == c)).")
            if seed in draws:
                expect(np.array_equal(np.sort(draws[seed]), np.sort(idx)),
                       f"{name}: the same seed gave a different draw the second time.",
                       "Make a generator from the seed (np.random.default_rng(seed)); no global state.")
            draws[seed] = idx
        if min(np.bincount(yy)[np.unique(yy)]) > k:
            firsts = np.concatenate([np.flatnonzero(yy == c)[:k] for c in np.unique(yy)])
            expect(not all(np.array_equal(np.sort(draws[s]), np.sort(firsts)) for s in (0, 1, 2)),
                   f"few_labels on {what} took the first k examples of each class.",
                   "Draw at random: the first examples are not a random sample.")
            expect(not np.array_equal(np.sort(draws[0]), np.sort(draws[1])) or
                   not np.array_equal(np.sort(draws[0]), np.sort(draws[2])),
                   f"few_labels on {what}: seeds 0, 1 and 2 all gave the same draw.",
                   "Use the seed: different seeds must give different random draws.")
    return "Exactly k distinct random examples per class, reproducible per seed, on four label vectors."


REFERENCE_ANSWERS = {"ex1": _freeze_reference, "ex2": _groups_reference, "ex3": _few_labels_reference}


def _freeze_by_names(model, head):
    head_params = {id(p) for p in head.parameters()}
    for _, p in model.named_parameters():
        p.requires_grad = id(p) in head_params
    return model


def _groups_filter(model, head, lr, factor):
    head_ids = {id(p) for p in head.parameters()}
    return ({"params": list(head.parameters()), "lr": float(lr)},
            {"params": list(filter(lambda p: id(p) not in head_ids, model.parameters())), "lr": factor * lr})


def _few_labels_permutation(y, k, seed):
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    out = []
    for c in sorted(set(y.tolist())):
        where = np.flatnonzero(y == c)
        out.extend(where[rng.permutation(len(where))[:k]].tolist())
    return out


#: Other correct answers, written differently (the battery checks that they pass).
CORRECT_REWRITES = {"ex1": [_freeze_by_names], "ex2": [_groups_filter], "ex3": [_few_labels_permutation]}

"""Checkers for the chapter 01 exercises ("What is deep learning?").

Used in ``exercises/01_introduction.ipynb``::

    from dlcore.exercises import ch01 as check
    check.ex1(accuracy)

* :func:`ex1` -- ``accuracy(predictions, labels)``: the fraction of correct predictions.
* :func:`ex2` -- ``class_means(X, y, num_classes)``: the learned templates.
* :func:`ex3` -- ``zero_or_one(images)``: a hand-written rule that tells 0s from 1s.

Each checker tries the learner's function on small cases with known answers and
says what differs; none of them raises.
"""

from __future__ import annotations

import contextlib
import functools
import warnings

import numpy as np

from ._core import call, checker, expect, expect_array, expect_close

#: Accuracy a hand-written 0-versus-1 rule must reach in exercise 3.
RULE_TARGET = 0.9


def _one_number(value, name: str) -> float:
    """The learner's answer as one finite float, or a CheckFailure that says why not."""
    arr = expect_array(value, name=name)
    expect(arr.ndim == 0 or arr.size == 1,
           f"{name} should be one number, but it has shape {arr.shape}.",
           "Compare the two arrays element by element, then average the comparisons "
           "into a single number with .mean().")
    return float(arr.reshape(()))


def _means_shaped(value, shape: tuple[int, int], name: str) -> np.ndarray:
    """The learner's class means as an array of ``shape`` (K, D), or a CheckFailure saying why not."""
    arr = expect_array(value, name=name, finite=False)
    k, d = shape
    if arr.shape == (d, k) and d != k:
        expect(False, f"{name} has shape {arr.shape}, expected {shape}: one row per class.",
               "Stack the class means as rows (np.stack(list_of_means)), not as columns.")
    if arr.ndim == 2 and arr.shape[1] == d:
        expect(arr.shape[0] == k, f"{name} has shape {arr.shape}, expected {shape}: one row per class.",
               "Make one row for each class 0, 1, ..., num_classes - 1, e.g. with range(num_classes).")
    arr = expect_array(arr, shape=shape, name=name, finite=False)
    if np.issubdtype(arr.dtype, np.number):
        bad_rows = [int(r) for r in np.flatnonzero(~np.isfinite(arr.astype(float)).all(axis=1))]
        expect(not bad_rows,
               f"{name}: row(s) {bad_rows} contain NaN, although every class 0..{k - 1} has examples. "
               "NaN is what .mean() returns for an empty selection.",
               "Row k must average X[y == k], for k = 0, 1, ..., num_classes - 1 (range(num_classes)); "
               "check that your selection of rows for class k is not empty (print its shape).")
    return expect_array(arr, shape=shape, name=name)


def _expect_unchanged(before: np.ndarray, after: np.ndarray, arg: str) -> None:
    """Fail if the learner's function edited the array ``arg`` it was given (``after``) in place."""
    expect(np.array_equal(before, after, equal_nan=True),
           f"your function changed the array {arg} that was passed in.",
           f"Compute new arrays instead of editing {arg} in place (X -= ..., X[...] = ...): the "
           "caller's data would change too. Copy it first (X = X.copy()) if you need to.")


@contextlib.contextmanager
def _quiet():
    """Run student code with NumPy's floating-point errors and warnings silenced (NaN is checked after)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@checker("accuracy")
def ex1(accuracy):
    """``accuracy(predictions, labels)`` -> the fraction of positions where they agree."""
    predictions = np.array([0, 1, 2, 2])
    labels = np.array([0, 1, 1, 2])
    got = _one_number(call(accuracy, predictions.copy(), labels.copy()),
                      "accuracy([0, 1, 2, 2], [0, 1, 1, 2])")
    expect(not np.isclose(got, 3), "accuracy([0, 1, 2, 2], [0, 1, 1, 2]) returned 3, the number of "
           "correct predictions.", "Divide by the number of examples to get a fraction.")
    expect(not np.isclose(got, 75), "accuracy([0, 1, 2, 2], [0, 1, 1, 2]) returned 75, a percentage.",
           "Return a fraction between 0 and 1 (here 0.75); format it as a percentage only when printing.")
    expect(not np.isclose(got, 0.25), "accuracy([0, 1, 2, 2], [0, 1, 1, 2]) returned 0.25, the "
           "fraction of *wrong* predictions.", "Count the positions where the two arrays are equal.")
    expect_close(got, 0.75, name="accuracy([0, 1, 2, 2], [0, 1, 1, 2])",
                 hint="3 of the 4 predictions are right, so the answer is 0.75.")

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, size=200)
    predictions = np.where(rng.random(200) < 0.7, labels, (labels + 1) % 10)
    expected = float(np.mean(predictions == labels))      # about 0.7
    got = _one_number(call(accuracy, predictions.copy(), labels.copy()), "accuracy on 200 random labels")
    expect_close(got, expected, name="accuracy on 200 random labels",
                 hint="Does your function use its arguments, rather than fixed numbers?")
    got = _one_number(call(accuracy, labels.copy(), labels.copy()), "accuracy(labels, labels)")
    expect_close(got, 1.0, name="accuracy(labels, labels)", hint="Identical arrays agree everywhere.")
    return "It also agrees on 200 random labels and on two identical arrays."


@checker("class means")
def ex2(class_means):
    """``class_means(X, y, num_classes)`` -> (num_classes, D), row k the mean of the rows with label k."""
    X = np.array([[0.0, 0.0], [2.0, 2.0], [4.0, 0.0], [1.0, 1.0], [3.0, 3.0]])
    y = np.array([0, 0, 1, 2, 2])
    expected = np.array([[1.0, 1.0], [4.0, 0.0], [2.0, 2.0]])
    name = "class_means(X, y, 3) for X of shape (5, 2)"
    X_in, y_in = X.copy(), y.copy()
    with _quiet():
        result = call(class_means, X_in, y_in, 3)
    _expect_unchanged(X, X_in, "X")
    _expect_unchanged(y, y_in, "y")
    with _quiet():
        arr = _means_shaped(result, (3, 2), name)
    expect(np.issubdtype(arr.dtype, np.floating),
           f"{name} has dtype {arr.dtype}; averages are fractions, so it should be a float dtype.",
           "Use .mean(), which returns floats, rather than integer division.")
    expect(not np.allclose(arr, [[2.0, 2.0], [4.0, 0.0], [4.0, 4.0]]),
           f"{name} returned the *sums* of each class's rows, not their averages.",
           "Divide by the number of rows in each class, or use .mean(axis=0).")
    expect_close(arr, expected, name=name,
                 hint="Row k should be the average of the rows of X whose label is k: X[y == k].mean(axis=0).")

    rng = np.random.default_rng(2)
    X = rng.random((60, 64))
    y = rng.permutation(np.arange(60) % 4)
    expected = np.stack([X[y == k].mean(axis=0) for k in range(4)])
    name = "class_means(X, y, 4) for X of shape (60, 64)"
    X_in, y_in = X.copy(), y.copy()
    with _quiet():
        result = call(class_means, X_in, y_in, 4)
    _expect_unchanged(X, X_in, "X")
    _expect_unchanged(y, y_in, "y")
    with _quiet():
        arr = _means_shaped(result, (4, 64), name)
    expect_close(arr, expected, name=name,
                 hint="Does your function use num_classes and work for any number of features D?")
    return "These rows are exactly the templates the chapter's learned classifier uses."


@functools.lru_cache(maxsize=1)
def _zeros_and_ones() -> tuple[np.ndarray, np.ndarray]:
    """The digits dataset's 0s and 1s: images (N, 1, 8, 8) in [0, 1] and labels (N,)."""
    from ..data import load_digits  # noqa: PLC0415  (scikit-learn only when this checker runs)

    data = load_digits(verbose=False)
    keep = data.y < 2
    return data.X[keep], data.y[keep]


@checker("a rule for 0 versus 1")
def ex3(zero_or_one):
    """``zero_or_one(images)`` -> (N,) of 0/1; must be right on at least 90% of the 0s and 1s."""
    images, labels = _zeros_and_ones()
    n = len(labels)
    name = f"your rule's answer for the {n} images of shape ({n}, 1, 8, 8)"
    got = call(zero_or_one, images.copy())
    pred = expect_array(got, name=name, finite=False)
    expect(pred.shape == (n,), f"{name} has shape {pred.shape}, expected ({n},).",
           "Return one 0-or-1 answer per image, as a 1-D array: reduce over the pixel axes "
           "(e.g. .mean(axis=(1, 2, 3))), and do not drop or add images.")
    pred = expect_array(pred, shape=(n,), name=name)
    values = np.unique(pred)
    expect(np.isin(values, [0, 1]).all(),
           f"{name} should hold only 0s and 1s, but it contains {values[~np.isin(values, [0, 1])][:5]}.",
           "Turn your measurement into a decision, e.g. (score > threshold).astype(int).")
    accuracy = float(np.mean(pred == labels))
    zeros_as_one = int(np.sum((labels == 0) & (pred == 1)))
    ones_as_zero = int(np.sum((labels == 1) & (pred == 0)))
    expect(accuracy >= RULE_TARGET,
           f"your rule is right on {accuracy:.1%} of the images; the target is {RULE_TARGET:.0%}. "
           f"It calls {zeros_as_one} of the {int(np.sum(labels == 0))} zeros a 1, "
           f"and {ones_as_zero} of the {int(np.sum(labels == 1))} ones a 0.",
           "Look at where a 0 has ink and a 1 has none (and the other way round), "
           "e.g. the pixels in the middle of the image.")
    # A second, shuffled subset: the rule must answer for the images it is given (not memorise).
    subset = np.random.default_rng(6).permutation(n)[:150]
    name = "your rule's answer for 150 of those images, in a shuffled order"
    again = expect_array(call(zero_or_one, images[subset].copy()), name=name, finite=False)
    expect(again.shape == (150,), f"{name} has shape {again.shape}, expected (150,).",
           "Compute the answer from the images passed in, for however many there are.")
    expect(np.array_equal(np.asarray(again).astype(float), pred[subset].astype(float)),
           f"{name} differs from its answers for the same images in the full set.",
           "Decide each image from its own pixels only, and do not remember earlier calls.")
    return f"Your rule is right on {accuracy:.1%} of the {n} zeros and ones."


# ---- reference answers and correct rewrites (used by tests/test_checker_battery.py) -------------


def _accuracy(predictions, labels):
    return float(np.mean(predictions == labels))


def _accuracy_loop(predictions, labels):
    right = 0
    for p, t in zip(predictions, labels):
        right += int(p == t)
    return right / len(labels)


def _class_means(X, y, num_classes):
    return np.stack([X[y == k].mean(axis=0) for k in range(num_classes)])


def _class_means_onehot(X, y, num_classes):
    onehot = np.eye(num_classes)[y]                       # (N, K)
    return (onehot.T @ X) / onehot.sum(axis=0)[:, None]


def _class_means_float32(X, y, num_classes):
    return _class_means(X, y, num_classes).astype(np.float32)


def _zero_or_one(images):
    centre = images[:, 0, 2:6, 3:5].mean(axis=(1, 2))
    return (centre > 0.5).astype(int)


def _zero_or_one_list(images):
    return [bool(img[0, 2:6, 3:5].mean() > 0.5) for img in images]


REFERENCE_ANSWERS = {"ex1": _accuracy, "ex2": _class_means, "ex3": _zero_or_one}
CORRECT_REWRITES = {
    "ex1": [_accuracy_loop, lambda p, t: np.count_nonzero(p == t) / p.size,
            lambda p, t: np.float32(np.mean(p == t))],
    "ex2": [_class_means_onehot, _class_means_float32,
            lambda X, y, k: [list(X[y == c].sum(axis=0) / np.sum(y == c)) for c in range(k)]],
    "ex3": [_zero_or_one_list, lambda images: _zero_or_one(images).astype(np.float64)],
}

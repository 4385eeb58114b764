"""Checkers for the chapter 07 exercises ("Generalisation").

Used in ``exercises/07_generalization.ipynb``::

    from dlcore.exercises import ch07 as check
    check.ex1(per_class_metrics)

* :func:`ex1` -- ``per_class_metrics(cm)``: precision, recall and F1 of every class from a
  confusion matrix, 0 (not NaN) where a ratio would divide by zero.
* :func:`ex2` -- ``ridge_fit(Phi, y, lam)``: least squares with an L2 penalty.
* :func:`ex3` -- ``early_stopping(val_losses, patience)``: the best epoch and the epoch at
  which training stops.

Each checker tries the learner's function on small cases with known answers and says
what differs; none of them raises.
"""

from __future__ import annotations

import numpy as np

from ._core import (
    CheckFailure,
    _describe_student_error,
    _StudentError,
    call,
    checker,
    expect,
    expect_array,
    expect_close,
)

# ---- reference implementations (the checkers compare with these) -----------------------


def _ridge(Phi: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    return np.linalg.solve(Phi.T @ Phi + lam * np.eye(Phi.shape[1]), Phi.T @ y)


def _early_stopping(losses, patience: int) -> tuple[int, int]:
    best, best_epoch = np.inf, 0
    for epoch, loss in enumerate(losses):
        if loss < best:
            best, best_epoch = loss, epoch
        elif epoch - best_epoch >= patience:
            return best_epoch, epoch
    return best_epoch, len(losses) - 1


# ---- exercise 1: per-class metrics from a confusion matrix ------------------------------


def _per_class(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(tp), where=total > 0)
    return precision, recall, f1


def _three_arrays(value, k: int, name: str) -> list[np.ndarray]:
    """The learner's answer as three finite float arrays of shape (k,), or a CheckFailure."""
    what = "precision, recall, f1"
    expect(value is not None, f"{name} returned None.", "Did you forget a `return` statement?")
    if isinstance(value, np.ndarray) and value.shape == (3, k):
        value = tuple(value)                       # the three rows of one (3, K) array are fine too
    expect(isinstance(value, (tuple, list)) and len(value) == 3,
           f"{name} should return a tuple ({what}), got "
           + (f"a {type(value).__name__} of length {len(value)}."
              if isinstance(value, (tuple, list)) else f"a {type(value).__name__}."),
           "Return the three arrays: `return precision, recall, f1`.")
    out = []
    for part, label in zip(value, what.split(", ")):
        arr = expect_array(part, name=f"the {label} returned by {name}", finite=False)
        expect(arr.shape == (k,), f"the {label} returned by {name} has shape {arr.shape}, expected ({k},): "
               "one value per class.", "Sum the confusion matrix along one axis: cm.sum(axis=0) or cm.sum(axis=1).")
        expect(bool(np.all(np.isfinite(arr.astype(float)))),
               f"the {label} returned by {name} contains NaN or inf.",
               "A class that is never predicted (or never occurs) divides by zero; return 0.0 for it, "
               "e.g. with np.divide(a, b, out=np.zeros_like(a), where=b > 0).")
        out.append(arr.astype(float))
    return out


def _call_metrics(per_class_metrics, cm):
    """Call the learner's function on a copy of ``cm``; explain a casting error on integer counts."""
    try:
        with np.errstate(all="ignore"):
            return call(per_class_metrics, cm.copy())
    except _StudentError as err:
        text = f"{type(err.original).__name__}: {err.original}"
        if "cast" in text.lower():
            message, _ = _describe_student_error(err.original)
            raise CheckFailure(
                f"{message} The confusion matrix holds integer counts (dtype {cm.dtype}), and a ratio "
                "of them is a float.",
                "np.zeros_like(tp) of an integer tp is an integer array, so np.divide cannot write "
                "fractions into it: convert first, tp = np.diag(cm).astype(float).") from None
        raise


@checker("per-class precision, recall and F1")
def ex1(per_class_metrics):
    """``per_class_metrics(cm)`` -> (precision, recall, f1), each (K,), from a (K, K) confusion matrix
    with true classes in rows and predicted classes in columns; 0 where a ratio is undefined."""
    cm = np.array([[5, 1, 0],
                   [2, 3, 1],
                   [0, 4, 4]])
    name = "per_class_metrics(cm) for a 3x3 confusion matrix"
    p, r, f = _three_arrays(_call_metrics(per_class_metrics, cm), 3, name)
    ref_p, ref_r, ref_f = _per_class(cm)
    expect(not (np.allclose(p, ref_r) and np.allclose(r, ref_p)),
           f"{name}: precision and recall are swapped.",
           "Rows are true classes, columns predicted ones. Precision divides the diagonal by the column "
           "sums (all predictions of a class); recall divides it by the row sums (all true members).")
    expect_close(p, ref_p, name=f"the precision of {name}",
                 hint="precision[k] = cm[k, k] / cm[:, k].sum(): of everything predicted k, the share that is k.")
    expect_close(r, ref_r, name=f"the recall of {name}",
                 hint="recall[k] = cm[k, k] / cm[k, :].sum(): of everything that is k, the share found.")
    expect(not np.allclose(f, (ref_p + ref_r) / 2),
           f"the F1 of {name} is the arithmetic mean of precision and recall.",
           "F1 is their harmonic mean: 2 P R / (P + R).")
    expect_close(f, ref_f, name=f"the F1 of {name}", hint="F1 = 2 P R / (P + R), class by class.")

    cm = np.array([[4, 0, 1, 0],
                   [0, 0, 0, 0],
                   [2, 0, 3, 0],
                   [1, 0, 2, 0]])
    name = "per_class_metrics(cm) where class 1 never occurs and classes 1 and 3 are never predicted"
    p, r, f = _three_arrays(_call_metrics(per_class_metrics, cm), 4, name)
    ref = _per_class(cm)
    for label, mine, theirs in zip(("precision", "recall", "F1"), (p, r, f), ref):
        expect_close(mine, theirs, name=f"the {label} of {name}",
                     hint="Return 0.0 where the denominator is 0, as scikit-learn does with zero_division=0.")

    rng = np.random.default_rng(9)
    cm = rng.integers(0, 6, size=(10, 10)) + np.diag(rng.integers(50, 100, size=10))
    for matrix, kind in [(cm, "integer counts"), (cm.astype(np.int32), "int32 counts"),
                         (cm.astype(np.float64), "counts stored as floats")]:
        name = f"per_class_metrics(cm) for a random 10x10 confusion matrix of {kind}"
        p, r, f = _three_arrays(_call_metrics(per_class_metrics, matrix), 10, name)
        for label, mine, theirs in zip(("precision", "recall", "F1"), (p, r, f), _per_class(cm)):
            expect_close(mine, theirs, name=f"the {label} of {name}",
                         hint="Does your function work for any number of classes K, and for integer "
                              "or float counts?")
    # Counts of a large test set (tens of thousands per class) overflow an int8 or int16 cast.
    big = rng.integers(0, 400, size=(10, 10)) + np.diag(rng.integers(5_000, 70_000, size=10))
    name = "per_class_metrics(cm) for a 10x10 confusion matrix with up to 70,000 images per class"
    p_big, r_big, f_big = _three_arrays(_call_metrics(per_class_metrics, big), 10, name)
    for label, mine, theirs in zip(("precision", "recall", "F1"), (p_big, r_big, f_big), _per_class(big)):
        expect_close(mine, theirs, name=f"the {label} of {name}",
                     hint="Large counts overflow a small integer type: keep the counts as they are (or use "
                          "float64), never cast them to int8, int16 or uint8.")
    return (f"Their means over the classes are the 'macro average' of scikit-learn's report: "
            f"F1 {np.mean(f):.3f} for the random 10-class matrix.")


# ---- exercise 2: ridge regression ------------------------------------------------------


def _call_ridge(ridge_fit, Phi, y, lam):
    """Call the learner's ridge_fit on copies; explain a size error from a fixed identity."""
    try:
        return call(ridge_fit, Phi.copy(), y.copy(), lam)
    except _StudentError as err:
        if isinstance(err.original, ValueError) and ("broadcast" in str(err.original)
                                                     or "mismatch" in str(err.original)):
            message, _ = _describe_student_error(err.original)
            raise CheckFailure(f"{message} This call has Phi of shape {Phi.shape}.",
                               "Size the identity from the data, np.eye(Phi.shape[1]), so that it "
                               "matches Phi^T Phi for any number of features.") from None
        raise


@checker("ridge regression")
def ex2(ridge_fit):
    """``ridge_fit(Phi, y, lam)`` -> w (D,) minimising ||Phi w - y||^2 + lam ||w||^2."""
    rng = np.random.default_rng(3)
    Phi, y = rng.normal(size=(8, 3)), rng.normal(size=8)
    for lam in (0.5, 0.0, 20.0):
        name = f"ridge_fit(Phi (8, 3), y (8,), lam={lam})"
        w = expect_array(_call_ridge(ridge_fit, Phi, y, lam), name=name, finite=False)
        expect(w.shape != (3, 1), f"{name} has shape (3, 1), expected (3,).",
               "Pass y as a 1-D array, or flatten the result with .ravel().")
        w = expect_array(w, shape=(3,), name=name)
        if lam > 0:
            expect(not np.allclose(w, _ridge(Phi, y, 0.0)),
                   f"{name} equals the unpenalised least-squares fit: lam is ignored.",
                   "Add lam times the identity to Phi^T Phi before solving.")
            expect(not np.allclose(w, _ridge(Phi, y, lam * len(y))) or len(y) == 1,
                   f"{name} is the fit for lam * n; the penalty here is not divided by n.",
                   "Solve (Phi^T Phi + lam I) w = Phi^T y, with the sum (not the mean) of squares.")
            expect(not np.allclose(w, _ridge(Phi, y, lam / 2)),
                   f"{name} is the fit for lam / 2.",
                   "The penalty here is lam ||w||^2 (not lam/2 ||w||^2): its gradient 2 lam w gives "
                   "(Phi^T Phi + lam I) w = Phi^T y.")
            expect(not np.allclose(w, _ridge(Phi, y, 2 * lam)),
                   f"{name} is the fit for 2 lam.",
                   "Setting the gradient 2 Phi^T (Phi w - y) + 2 lam w to zero gives "
                   "(Phi^T Phi + lam I) w = Phi^T y: the 2s cancel.")
            expect(not np.allclose(w, _ridge(Phi, y, np.sqrt(lam))),
                   f"{name} is the fit for sqrt(lam).", "The matrix to add is lam * I, not sqrt(lam) * I.")
        expect_close(w, _ridge(Phi, y, lam), name=name, rtol=1e-6, atol=1e-9,
                     hint="w = (Phi^T Phi + lam I)^(-1) Phi^T y; use np.linalg.solve rather than inv.")
    for n, D, lam in [(5, 7, 0.3), (20, 4, 2.0), (6, 1, 1.5)]:     # more features than points; others
        Phi_k, y_k = rng.normal(size=(n, D)), rng.normal(size=n)
        name = f"ridge_fit(Phi ({n}, {D}), y ({n},), lam={lam})"
        w = expect_array(_call_ridge(ridge_fit, Phi_k, y_k, lam), name=name, finite=False)
        expect(w.shape == (D,), f"{name} has shape {w.shape}, expected ({D},).",
               "Size the identity from Phi: np.eye(Phi.shape[1]), not a fixed number.")
        expect_close(w, _ridge(Phi_k, y_k, lam), name=name, rtol=1e-6, atol=1e-9,
                     hint="w = (Phi^T Phi + lam I)^(-1) Phi^T y, with I of size D = Phi.shape[1].")
    big = expect_array(call(ridge_fit, Phi.copy(), y.copy(), 1e6), shape=(3,), name="ridge_fit(..., lam=1e6)")
    expect(np.linalg.norm(big) < 1e-3 * np.linalg.norm(_ridge(Phi, y, 0.0)),
           "with lam = 1e6 the weights should shrink almost to zero.", "Check the sign of the penalty term.")
    return "A large lam shrinks the weights towards zero; lam = 0 is ordinary least squares."


# ---- exercise 3: early stopping --------------------------------------------------------


def _epochs(value, name: str) -> tuple[int, int]:
    expect(value is not None, f"{name} returned None.", "Did you forget a `return` statement?")
    if isinstance(value, np.ndarray) and value.shape == (2,):
        value = tuple(value)                       # an array of two epochs is a fine pair
    expect(isinstance(value, (tuple, list)) and len(value) == 2,
           f"{name} should return a tuple (best_epoch, stop_epoch), got "
           + (f"a {type(value).__name__} of length {len(value)}."
              if isinstance(value, (tuple, list)) else f"a {type(value).__name__}."),
           "Return both epochs: `return best_epoch, stop_epoch`.")
    out = []
    for part, label in zip(value, ("best_epoch", "stop_epoch")):
        arr = expect_array(part, name=f"the {label} returned by {name}")
        expect(arr.size == 1 and float(arr.reshape(())) == int(arr.reshape(())),
               f"the {label} returned by {name} should be a whole number (an epoch index), "
               f"got {arr.reshape(-1)[:3]}.", "Return the index of the epoch, not the loss value.")
        out.append(int(arr.reshape(())))
    return out[0], out[1]


@checker("early stopping")
def ex3(early_stopping):
    """``early_stopping(val_losses, patience)`` -> (best_epoch, stop_epoch), epochs counted from 0."""
    cases = [
        ([1.0, 0.8, 0.7, 0.75, 0.72, 0.71, 0.9], 2,
         "The best loss 0.7 is at epoch 2; epochs 3 and 4 do not beat it, so with patience 2 "
         "training stops after epoch 4."),
        ([0.9, 0.8, 0.7, 0.6, 0.5], 3, "The loss improves every epoch, so training runs to the last one."),
        ([1.0, 0.5, 0.5, 0.5, 0.4], 2,
         "Only a strictly lower loss is an improvement: a tie (0.5 again) is not."),
        ([2.0, 1.0, 3.0, 0.5, 0.4], 1, "With patience 1, one epoch without improvement stops training."),
        ([1.0, 0.9, 0.95, 0.8, 0.85, 0.7, 0.75, 0.78, 0.6], 2,
         "Patience counts the epochs since the *last improvement* (reset it whenever the loss beats the "
         "best so far), not all epochs without improvement: here it stops after epoch 7."),
    ]
    for losses, patience, explanation in cases:
        name = f"early_stopping({losses}, patience={patience})"
        best, stop = _epochs(call(early_stopping, list(losses), patience), name)
        ref_best, ref_stop = _early_stopping(losses, patience)
        if (best, stop) == (ref_best + 1, ref_stop + 1):
            raise CheckFailure(f"{name} returned ({best}, {stop}), one more than expected "
                               f"({ref_best}, {ref_stop}).", "Count epochs from 0, as Python indexes lists.")
        expect(best == ref_best, f"{name} returned best_epoch {best}, expected {ref_best}.", explanation)
        expect(stop == ref_stop, f"{name} returned stop_epoch {stop}, expected {ref_stop}.", explanation)
    rng = np.random.default_rng(5)
    losses = list(np.exp(-np.arange(40) / 8) + np.arange(40) / 80 + 0.02 * rng.random(40))
    name = "early_stopping(a U-shaped validation curve of 40 epochs, patience=5)"
    ref = _early_stopping(losses, 5)
    as_list = _epochs(call(early_stopping, list(losses), 5), name)
    expect(as_list == ref, f"{name} returned {as_list}, expected {ref}.",
           "Track the best loss so far and the epoch it came from; stop at the first epoch that is "
           "patience epochs after that best one.")
    got = _epochs(call(early_stopping, np.array(losses), 5), name + " (as a NumPy array)")
    expect(got == ref, f"{name} returned {got} for a NumPy array of losses, but {ref} for a list.",
           "Does it also work when val_losses is a NumPy array? (e.g. `if losses:` or list methods fail.)")
    return "Keep the weights of best_epoch: that is the model early stopping returns."


# ---- answers for the property battery (tests/test_checker_battery.py) ------------------


def _metrics_reference(cm):
    return _per_class(np.asarray(cm))


def _metrics_loops(cm):
    K = len(cm)
    precision, recall, f1 = [0.0] * K, [0.0] * K, [0.0] * K
    for k in range(K):
        column, row = sum(cm[i][k] for i in range(K)), sum(cm[k][j] for j in range(K))
        precision[k] = cm[k][k] / column if column else 0.0
        recall[k] = cm[k][k] / row if row else 0.0
        total = precision[k] + recall[k]
        f1[k] = 2 * precision[k] * recall[k] / total if total else 0.0
    return precision, recall, f1


def _metrics_float32(cm):
    return tuple(a.astype(np.float32) for a in _per_class(np.asarray(cm)))


def _ridge_reference(Phi, y, lam):
    return np.linalg.solve(Phi.T @ Phi + lam * np.eye(Phi.shape[1]), Phi.T @ y)


def _ridge_lstsq(Phi, y, lam):
    D = Phi.shape[1]
    A = np.vstack([Phi, np.sqrt(lam) * np.eye(D)])
    return np.linalg.lstsq(A, np.concatenate([y, np.zeros(D)]), rcond=None)[0]


def _ridge_inv(Phi, y, lam):
    return np.linalg.inv(Phi.T @ Phi + lam * np.identity(len(Phi.T))) @ Phi.T @ y


def _early_reference(val_losses, patience):
    return _early_stopping(list(val_losses), patience)


def _early_argmin(val_losses, patience):
    losses = np.asarray(val_losses, dtype=float)
    for epoch in range(len(losses)):
        best = int(np.argmin(losses[:epoch + 1]))      # first occurrence: strict improvement
        if epoch - best >= patience:
            return best, epoch
    return int(np.argmin(losses)), len(losses) - 1


def _early_array(val_losses, patience):
    return np.array(_early_stopping(list(val_losses), patience))


REFERENCE_ANSWERS = {"ex1": _metrics_reference, "ex2": _ridge_reference, "ex3": _early_reference}
CORRECT_REWRITES = {
    "ex1": [_metrics_loops, _metrics_float32],
    "ex2": [_ridge_lstsq, _ridge_inv],
    "ex3": [_early_argmin, _early_array],
}

"""Direct tests of the chapter 07 checkers: the reference answers pass, odd answers fail kindly."""

from __future__ import annotations

import numpy as np
import pytest
from checker_helpers import SHARED_BAD, run_checker

from dlcore.exercises import ch07 as check

# ---- reference solutions (the same as in exercises/solutions/07_generalization.ipynb) ----


def per_class_metrics(cm):
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(tp), where=total > 0)
    return precision, recall, f1


def ridge_fit(Phi, y, lam):
    D = Phi.shape[1]
    return np.linalg.solve(Phi.T @ Phi + lam * np.eye(D), Phi.T @ y)


def early_stopping(val_losses, patience):
    best_loss, best_epoch = float("inf"), 0
    for epoch, loss in enumerate(val_losses):
        if loss < best_loss:
            best_loss, best_epoch = loss, epoch
        elif epoch - best_epoch >= patience:
            return best_epoch, epoch
    return best_epoch, len(val_losses) - 1


REFERENCE = {"ex1": per_class_metrics, "ex2": ridge_fit, "ex3": early_stopping}


def _run(capsys, name, answer):
    """Run checker ``name`` on ``answer``; return (passed, printed text)."""
    return run_checker(capsys, check, name, answer)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_solution_passes(capsys, name):
    passed, out = _run(capsys, name, REFERENCE[name])
    assert passed, out
    assert out.startswith("✓")


def test_module_answers_pass(capsys):
    assert set(check.REFERENCE_ANSWERS) == set(REFERENCE)
    for name, answers in [(k, [v]) for k, v in check.REFERENCE_ANSWERS.items()] + \
            list(check.CORRECT_REWRITES.items()):
        for answer in answers:
            passed, out = _run(capsys, name, answer)
            assert passed, (name, answer.__name__, out)


def test_references_work_under_seterr_raise(capsys):
    old = np.seterr(all="raise")
    try:
        for name, answer in REFERENCE.items():
            passed, out = _run(capsys, name, answer)
            assert passed, out
    finally:
        np.seterr(**old)


def test_ex1_integer_counts_get_a_casting_hint(capsys):
    def no_float(cm):                       # the hint's np.divide without converting the counts
        tp = np.diag(cm)
        predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
        precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
        recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
        return precision, recall, 2 * precision * recall / (precision + recall)

    passed, out = _run(capsys, "ex1", no_float)
    assert passed is False and "integer counts" in out and ".astype(float)" in out, out

    def float_only(cm):                     # correct only when cm is already float
        if not np.issubdtype(np.asarray(cm).dtype, np.floating):
            return no_float(cm)
        return per_class_metrics(cm)

    passed, out = _run(capsys, "ex1", float_only)
    assert passed is False


COMMON_BAD = SHARED_BAD + [
    ("a function that returns None", lambda *a, **k: None, "forget a `return`"),
    ("a function with the wrong arguments", lambda: 1, "TypeError"),
]


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("desc, answer, words", COMMON_BAD, ids=[c[0] for c in COMMON_BAD])
def test_odd_answers_fail_with_a_message(capsys, name, desc, answer, words):
    passed, out = _run(capsys, name, answer)
    assert passed is False, f"{name} accepted {desc}"
    assert out.startswith("✗") and words in out, out


def test_ex1_specific_feedback(capsys):
    def naive(cm):
        tp = np.diag(cm)
        precision, recall = tp / cm.sum(axis=0), tp / cm.sum(axis=1)
        return precision, recall, 2 * precision * recall / (precision + recall)

    def arithmetic(cm):
        p, r, _ = per_class_metrics(cm)
        return p, r, (p + r) / 2

    cases = [
        (lambda cm: per_class_metrics(cm.T), "swapped"),
        (arithmetic, "arithmetic mean"),
        (naive, "return 0.0 for it"),
        (lambda cm: per_class_metrics(cm)[:2], "tuple (precision, recall, f1)"),
        (lambda cm: tuple(m.mean() for m in per_class_metrics(cm)), "shape (), expected (3,)"),
        (lambda cm: tuple(m[:, None] for m in per_class_metrics(cm)), "shape (3, 1), expected (3,)"),
        (lambda cm: (np.diag(cm) / cm.sum(), *per_class_metrics(cm)[1:]), "precision"),
        (lambda cm: per_class_metrics(cm[:3, :3]) if len(cm) > 3 else per_class_metrics(cm), "(4,)"),
        (lambda cm: "0.6", "got a str"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex1", answer)
        assert passed is False and words in out, out
        assert "Hint:" in out
    passed, out = _run(capsys, "ex1", lambda cm: (["a"] * len(cm), *per_class_metrics(cm)[1:]))
    assert passed is False and "should hold numbers" in out, out


def test_ex2_specific_feedback(capsys):
    cases = [
        (lambda Phi, y, lam: ridge_fit(Phi, y, 0.0), "lam is ignored"),
        (lambda Phi, y, lam: ridge_fit(Phi, y, lam * len(y)), "lam * n"),
        (lambda Phi, y, lam: ridge_fit(Phi, y, np.sqrt(lam)), "sqrt(lam)"),
        (lambda Phi, y, lam: ridge_fit(Phi, y, lam)[:, None], "shape (3, 1), expected (3,)"),
        (lambda Phi, y, lam: ridge_fit(Phi, y, lam)[:2], "expected (3,)"),
        (lambda Phi, y, lam: ridge_fit(Phi, y, -lam), "wrong values"),
        (lambda Phi, y, lam: np.full(3, np.nan), "NaN"),
        (lambda Phi, y, lam: "w", "should hold numbers"),
        (lambda Phi, y, lam: np.linalg.solve(Phi.T @ Phi + lam * np.eye(3), Phi.T @ y), "np.eye(Phi.shape[1])"),
        (lambda Phi, y, lam: ridge_fit(Phi, y, lam) if Phi.shape == (8, 3) else np.zeros(Phi.shape[1]),
         "ridge_fit(Phi (5, 7)"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex2", answer)
        assert passed is False and words in out, out


def test_ex3_specific_feedback(capsys):
    def non_strict(losses, patience):
        best_loss, best_epoch = float("inf"), 0
        for epoch, loss in enumerate(losses):
            if loss <= best_loss:
                best_loss, best_epoch = loss, epoch
            elif epoch - best_epoch >= patience:
                return best_epoch, epoch
        return best_epoch, len(losses) - 1

    cases = [
        (lambda l, p: tuple(e + 1 for e in early_stopping(l, p)), "one more than expected"),
        (non_strict, "strictly lower"),
        (lambda l, p: (int(np.argmin(l)), len(l) - 1), "stop_epoch 6, expected 4"),
        (lambda l, p: (min(l), early_stopping(l, p)[1]), "whole number"),
        (lambda l, p: early_stopping(l, p)[0], "tuple (best_epoch, stop_epoch)"),
        (lambda l, p: np.array(early_stopping(l, p) + (0,)), "tuple (best_epoch, stop_epoch)"),
        (lambda l, p: early_stopping(l, p + 1), "expected 4"),
        (lambda l, p: early_stopping(list(l)[:5] if isinstance(l, np.ndarray) else l, p),
         "NumPy array"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex3", answer)
        assert passed is False and words in out, out


def test_every_checker_is_registered():
    from dlcore.exercises import checkers_of

    assert checkers_of("ch07") == ["ex1", "ex2", "ex3"]


# ---- review of issue 10: more wrong variants and correct alternatives ------------------------


def _safe(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def _metrics_int8(cm):
    return per_class_metrics(np.asarray(cm).astype(np.int8))      # overflows on large counts


def _metrics_int16(cm):
    return per_class_metrics(np.asarray(cm).astype(np.int16))


def _metrics_last_class_dropped(cm):                           # off by one in a loop's range
    return tuple(np.append(a[:-1], 0.0) for a in per_class_metrics(np.asarray(cm)))


def _metrics_wrong_axis(cm):
    cm = np.asarray(cm)
    tp = np.diag(cm)
    return _safe(tp, cm.sum(axis=1)), _safe(tp, cm.sum(axis=0)), per_class_metrics(cm)[2]


@pytest.mark.parametrize("answer, words", [
    (_metrics_int8, "overflow"),
    (_metrics_int16, "overflow"),
    (_metrics_last_class_dropped, "wrong values"),
    (_metrics_wrong_axis, "swapped"),
], ids=["int8 cast", "int16 cast", "last class dropped", "wrong axis"])
def test_ex1_more_wrong_variants_fail(capsys, answer, words):
    passed, out = _run(capsys, "ex1", answer)
    assert passed is False and words in out, out


def _metrics_f1_from_counts(cm):
    cm = np.asarray(cm)
    tp = np.diag(cm)
    return _safe(tp, cm.sum(0)), _safe(tp, cm.sum(1)), _safe(2 * tp, cm.sum(0) + cm.sum(1))


def _metrics_one_array(cm):
    return np.array(per_class_metrics(np.asarray(cm)))          # shape (3, K)


@pytest.mark.parametrize("answer", [_metrics_f1_from_counts, _metrics_one_array],
                         ids=["F1 = 2TP / (2TP + FP + FN)", "one (3, K) array"])
def test_ex1_more_correct_forms_pass(capsys, answer):
    passed, out = _run(capsys, "ex1", answer)
    assert passed, out


@pytest.mark.parametrize("answer, words", [
    (lambda Phi, y, lam: ridge_fit(Phi, y, lam / 2), "lam / 2"),
    (lambda Phi, y, lam: ridge_fit(Phi, y, 2 * lam), "2 lam"),
], ids=["lam/2", "2 lam"])
def test_ex2_penalty_conventions_are_named(capsys, answer, words):
    passed, out = _run(capsys, "ex2", answer)
    assert passed is False and words in out, out


def _early_counter_not_reset(val_losses, patience):
    best, best_epoch, waited = float("inf"), 0, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best:
            best, best_epoch = loss, epoch
        else:
            waited += 1
            if waited >= patience:
                return best_epoch, epoch
    return best_epoch, len(val_losses) - 1


def _early_counter(val_losses, patience):
    best, best_epoch, waited = float("inf"), 0, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best:
            best, best_epoch, waited = loss, epoch, 0
        else:
            waited += 1
            if waited >= patience:
                return best_epoch, epoch
    return best_epoch, len(val_losses) - 1


def test_ex3_patience_counter_must_reset(capsys):
    passed, out = _run(capsys, "ex3", _early_counter_not_reset)
    assert passed is False and "last improvement" in out, out
    passed, out = _run(capsys, "ex3", _early_counter)
    assert passed, out

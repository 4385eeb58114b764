"""Losses (chapter 06): against torch, gradient checks, stability at +-1000, bad input."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dlcore.check import gradcheck
from dlcore.nn import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss


def assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-8, atol=1e-12)


def make_case(name, shape, rng):
    """(dlcore loss, torch loss, prediction, dlcore target, torch target)."""
    prediction = 2 * rng.standard_normal(shape)
    if name == "mse":
        target = rng.standard_normal(shape)
        return MSELoss(), torch.nn.MSELoss(), prediction, target, torch.from_numpy(target)
    if name == "bce":
        target = rng.random(shape)
        return (BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss(), prediction, target, torch.from_numpy(target))
    labels = rng.integers(0, shape[1], size=shape[0])
    return CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), prediction, labels, torch.from_numpy(labels)


CASES = [
    ("mse", (4,)),
    ("mse", (3, 5)),
    ("mse", (2, 3, 2)),
    ("bce", (6,)),
    ("bce", (4, 3)),
    ("ce", (1, 2)),
    ("ce", (5, 3)),
    ("ce", (8, 10)),
]


@pytest.mark.parametrize("name, shape", CASES)
def test_matches_torch_in_float64(name, shape):
    rng = np.random.default_rng(sum(shape))
    loss, reference, prediction, target, target_t = make_case(name, shape, rng)
    prediction_t = torch.tensor(prediction, requires_grad=True)
    value_t = reference(prediction_t, target_t)
    value_t.backward()
    value = loss(prediction, target)
    assert np.ndim(value) == 0 and isinstance(float(value), float)
    assert_close(value, value_t.item())
    assert_close(loss.backward(), prediction_t.grad.numpy())


@pytest.mark.parametrize("name, shape", CASES)
def test_backward_scales_with_grad_output(name, shape):
    rng = np.random.default_rng(0)
    loss, _, prediction, target, _ = make_case(name, shape, rng)
    loss(prediction, target)
    assert_close(loss.backward(2.5), 2.5 * loss.backward())


@pytest.mark.parametrize("name, shape", CASES)
def test_gradcheck(name, shape):
    rng = np.random.default_rng(1)
    loss, _, prediction, target, _ = make_case(name, shape, rng)
    assert gradcheck(loss, prediction, target) < 1e-7


@pytest.mark.parametrize("loss", [MSELoss(), CrossEntropyLoss(), BCEWithLogitsLoss()])
def test_backward_before_forward_says_so(loss):
    with pytest.raises(RuntimeError, match="before forward"):
        loss.backward()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_exact_and_warning_free_at_plus_minus_1000(dtype):
    logits = np.array([[1000.0, -1000.0], [-1000.0, 1000.0], [1000.0, 1000.0]], dtype=dtype)
    labels = np.array([1, 1, 0])
    loss = CrossEntropyLoss()
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        value = loss(logits, labels)
        grad = loss.backward()
    # per row: 2000, 0 and log(2)
    assert value == pytest.approx((2000 + 0 + np.log(2)) / 3, rel=1e-6 if dtype == np.float32 else 1e-15)
    assert value.dtype == dtype and grad.dtype == dtype
    np.testing.assert_allclose(grad, np.array([[1, -1], [0, 0], [-0.5, 0.5]]) / 3, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_is_exact_and_warning_free_at_plus_minus_1000(dtype):
    logits = np.array([1000.0, -1000.0, 1000.0, -1000.0], dtype=dtype)
    targets = np.array([0.0, 1.0, 1.0, 0.0])
    loss = BCEWithLogitsLoss()
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        value = loss(logits, targets)
        grad = loss.backward()
    assert value == (1000 + 1000 + 0 + 0) / 4
    assert value.dtype == dtype and grad.dtype == dtype
    np.testing.assert_array_equal(grad, np.array([1, -1, 0, 0]) / 4)


def test_cross_entropy_matches_torch_on_large_logits():
    rng = np.random.default_rng(5)
    logits = 1000 * rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, size=6)
    expected = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels))
    assert_close(CrossEntropyLoss()(logits, labels), expected.item())


def test_cross_entropy_label_out_of_range():
    with pytest.raises(ValueError, match=r"class label 3 at position 1.*3 classes.*0\.\.2"):
        CrossEntropyLoss()(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"class label -1"):
        CrossEntropyLoss()(np.zeros((2, 3)), np.array([0, -1]))


def test_cross_entropy_fractional_label():
    with pytest.raises(ValueError, match=r"whole-number class labels 0\.\.2, got 0\.5 at position 1"):
        CrossEntropyLoss()(np.zeros((2, 3)), np.array([1.0, 0.5]))


def test_cross_entropy_accepts_whole_number_float_labels():
    logits = np.random.default_rng(0).standard_normal((3, 4))
    loss = CrossEntropyLoss()
    assert loss(logits, np.array([0.0, 3.0, 1.0])) == loss(logits, np.array([0, 3, 1]))


def test_cross_entropy_target_shape():
    with pytest.raises(ValueError, match=r"target of shape \(N,\) = \(4,\).*got \(4, 1\)"):
        CrossEntropyLoss()(np.zeros((4, 3)), np.zeros((4, 1), dtype=int))
    with pytest.raises(ValueError, match=r"prediction of shape \(N, C\), got \(4,\)"):
        CrossEntropyLoss()(np.zeros(4), np.zeros(4, dtype=int))


def test_mse_refuses_to_broadcast():
    with pytest.raises(ValueError, match=r"same shape as prediction \(4, 1\), got \(4,\)"):
        MSELoss()(np.zeros((4, 1)), np.zeros(4))


def test_bce_targets_must_be_probabilities():
    with pytest.raises(ValueError, match=r"targets in \[0, 1\].*from 0\.0 to 2\.0"):
        BCEWithLogitsLoss()(np.zeros(3), np.array([0.0, 1.0, 2.0]))


def test_backward_takes_a_scalar():
    loss = MSELoss()
    loss(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="scalar grad_output"):
        loss.backward(np.ones(3))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name, shape", [("mse", (3, 2)), ("bce", (3, 2)), ("ce", (3, 2))])
def test_nan_or_inf_in_the_prediction_raises(name, shape, bad):
    rng = np.random.default_rng(0)
    loss, _, prediction, target, _ = make_case(name, shape, rng)
    prediction[1, 0] = bad
    with pytest.raises(FloatingPointError, match=r"prediction containing NaN or inf \(1 of 6 values\)"):
        loss(prediction, target)


def test_nan_in_the_target_raises():
    with pytest.raises(FloatingPointError, match="target containing NaN"):
        MSELoss()(np.zeros(3), np.array([0.0, np.nan, 1.0]))


def test_float32_stays_float32():
    rng = np.random.default_rng(0)
    for name, shape in CASES:
        loss, _, prediction, target, _ = make_case(name, shape, rng)
        value = loss(prediction.astype(np.float32), target)
        assert value.dtype == np.float32 and loss.backward().dtype == np.float32


@settings(max_examples=40, deadline=None)
@given(
    logits=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6), elements=st.floats(-1e3, 1e3)),
    seed=st.integers(0, 2**16),
)
def test_cross_entropy_matches_torch_for_any_logits(logits, seed):
    labels = np.random.default_rng(seed).integers(0, logits.shape[1], size=logits.shape[0])
    loss = CrossEntropyLoss()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = loss(logits, labels)
        grad = loss.backward()
    logits_t = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(logits_t, torch.from_numpy(labels))
    expected.backward()
    np.testing.assert_allclose(value, expected.item(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(grad, logits_t.grad.numpy(), rtol=1e-8, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    logits=hnp.arrays(
        st.sampled_from([np.float32, np.float64]), hnp.array_shapes(max_dims=3, max_side=5), elements=st.floats(-1e3, 1e3, width=32)
    ),
    seed=st.integers(0, 2**16),
)
def test_bce_with_logits_is_finite_and_keeps_the_dtype(logits, seed):
    targets = np.random.default_rng(seed).random(logits.shape)
    loss = BCEWithLogitsLoss()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = loss(logits, targets)
        grad = loss.backward()
    assert np.isfinite(value) and value >= 0 and value.dtype == logits.dtype
    assert grad.shape == logits.shape and grad.dtype == logits.dtype

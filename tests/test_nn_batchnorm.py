"""BatchNorm1d (chapter 06): against torch in training and evaluation mode."""

import numpy as np
import pytest
import torch

from dlcore.check import gradcheck
from dlcore.nn import BatchNorm1d


def assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-8, atol=1e-12)


def make_pair(C, rng, momentum=0.1):
    layer = BatchNorm1d(C, momentum=momentum, dtype=np.float64)
    layer.weight.data[:] = 1 + 0.5 * rng.standard_normal(C)
    layer.bias.data[:] = rng.standard_normal(C)
    reference = torch.nn.BatchNorm1d(C, momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(layer.weight.data))
        reference.bias.copy_(torch.from_numpy(layer.bias.data))
    return layer, reference


def step_both(layer, reference, x, g):
    x_t = torch.tensor(x, requires_grad=True)
    y_t = reference(x_t)
    y_t.backward(torch.from_numpy(g))
    assert_close(layer(x), y_t.detach().numpy())
    assert_close(layer.backward(g), x_t.grad.numpy())
    assert_close(layer.weight.grad, reference.weight.grad.numpy())
    assert_close(layer.bias.grad, reference.bias.grad.numpy())


@pytest.mark.parametrize("shape", [(2, 1), (8, 3), (5, 4, 3), (3, 2, 6)])
def test_matches_torch_over_training_steps_then_eval(shape):
    rng = np.random.default_rng(sum(shape))
    layer, reference = make_pair(shape[1], rng, momentum=0.3)
    for _ in range(3):  # several steps, so the running statistics move
        layer.zero_grad()
        reference.zero_grad()
        x = 2 + 3 * rng.standard_normal(shape)
        step_both(layer, reference, x, rng.standard_normal(shape))
        assert_close(layer.running_mean, reference.running_mean.numpy())
        assert_close(layer.running_var, reference.running_var.numpy())
    layer.eval()
    reference.eval()
    layer.zero_grad()
    reference.zero_grad()
    running_mean = layer.running_mean.copy()
    step_both(layer, reference, rng.standard_normal(shape), rng.standard_normal(shape))
    np.testing.assert_array_equal(layer.running_mean, running_mean)  # eval does not update


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 4)])
def test_gradcheck(training, shape):
    rng = np.random.default_rng(2)
    layer, _ = make_pair(shape[1], rng)
    layer.running_mean[:] = rng.standard_normal(shape[1])
    layer.running_var[:] = 1 + rng.random(shape[1])
    layer.train(training)
    assert gradcheck(layer, rng.standard_normal(shape)) < 1e-7


def test_gradcheck_leaves_running_statistics_unchanged():
    layer = BatchNorm1d(3, dtype=np.float64)
    gradcheck(layer, np.random.default_rng(0).standard_normal((4, 3)))
    np.testing.assert_array_equal(layer.running_mean, np.zeros(3))
    np.testing.assert_array_equal(layer.running_var, np.ones(3))


def test_state_dict_names_match_torch():
    names = set(BatchNorm1d(3).state_dict())
    torch_names = set(torch.nn.BatchNorm1d(3).state_dict()) - {"num_batches_tracked"}
    assert names == torch_names == {"weight", "bias", "running_mean", "running_var"}
    assert [name for name, _ in BatchNorm1d(3).named_parameters()] == ["weight", "bias"]


def test_wrong_number_of_features():
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3\) or \(N, 3, L\), got \(4, 5\)"):
        BatchNorm1d(3)(np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"got \(3,\)"):
        BatchNorm1d(3)(np.zeros(3))


def test_a_batch_of_one_in_training_mode_is_refused():
    with pytest.raises(ValueError, match=r"more than one value per channel.*\(1, 3\).*eval\(\)"):
        BatchNorm1d(3)(np.zeros((1, 3)))
    assert BatchNorm1d(3).eval()(np.zeros((1, 3))).shape == (1, 3)


@pytest.mark.parametrize("kwargs", [{"num_features": 0}, {"num_features": 3, "eps": 0}, {"num_features": 3, "momentum": 1.5}])
def test_bad_constructor_arguments(kwargs):
    with pytest.raises(ValueError):
        BatchNorm1d(**kwargs)


def test_backward_before_forward_says_so():
    with pytest.raises(RuntimeError, match="before forward"):
        BatchNorm1d(3).backward(np.zeros((2, 3)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_follows_the_input(dtype):
    layer = BatchNorm1d(3)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(dtype)
    y = layer(x)
    assert y.dtype == dtype and layer.backward(np.ones_like(y)).dtype == dtype
    assert layer.running_mean.dtype == np.float32

"""Dropout (chapter 07): inverted dropout, eval identity, seeded masks, gradient."""

import numpy as np
import pytest
import torch

from dlcore.check import gradcheck
from dlcore.nn import Dropout, Module


def test_zeroes_a_fraction_p_and_scales_the_rest():
    x = np.ones((200, 100))
    y = Dropout(0.3, generator=np.random.default_rng(0))(x)
    assert set(np.unique(y)) == {0.0, 1 / 0.7}
    assert np.mean(y == 0) == pytest.approx(0.3, abs=0.01)
    assert y.mean() == pytest.approx(1.0, abs=0.02)  # inverted dropout keeps the mean


def test_statistics_match_torch():
    x = np.ones((400, 100))
    ours = Dropout(0.4, generator=np.random.default_rng(1))(x)
    torch.manual_seed(1)
    theirs = torch.nn.Dropout(0.4)(torch.from_numpy(x)).numpy()
    assert set(np.unique(ours)) == set(np.unique(theirs))  # same values: 0 and 1/(1-p)
    assert np.mean(ours == 0) == pytest.approx(np.mean(theirs == 0), abs=0.01)


def test_backward_matches_torch_for_the_same_mask():
    rng = np.random.default_rng(2)
    x, g = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    layer = Dropout(0.5, generator=rng)
    y = layer(x)
    mask = torch.from_numpy((y != 0).astype(np.float64))
    x_t = torch.tensor(x, requires_grad=True)
    y_t = x_t * mask / (1 - 0.5)
    y_t.backward(torch.from_numpy(g))
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.backward(g), x_t.grad.numpy(), rtol=1e-12)


def test_eval_mode_is_the_identity():
    layer = Dropout(0.5).eval()
    x = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.backward(np.ones((3, 4))), np.ones((3, 4)))


def test_p_zero_and_p_one():
    x = np.ones((3, 4))
    np.testing.assert_array_equal(Dropout(0.0)(x), x)
    layer = Dropout(1.0)
    assert not layer(x).any() and not layer.backward(x).any()


def test_same_seed_gives_the_same_mask():
    x = np.ones((10, 10))
    a = Dropout(0.5, generator=np.random.default_rng(3))(x)
    b = Dropout(0.5, generator=np.random.default_rng(3))(x)
    np.testing.assert_array_equal(a, b)


class FixedMaskDropout(Module):
    """Dropout whose generator is reseeded on every forward, so gradcheck sees one mask."""

    def __init__(self, p):
        self.dropout = Dropout(p)

    def forward(self, x):
        self.dropout.generator = np.random.default_rng(0)
        return self.dropout(x)

    def backward(self, grad_output):
        return self.dropout.backward(grad_output)


def test_gradcheck():
    x = np.random.default_rng(0).standard_normal((4, 5))
    assert gradcheck(FixedMaskDropout(0.5), x) < 1e-7
    assert gradcheck(Dropout(0.5).eval(), x) < 1e-7


@pytest.mark.parametrize("p", [1.5, -0.1, "0.5", None])
def test_bad_probability(p):
    with pytest.raises(ValueError, match="between 0 and 1"):
        Dropout(p)


def test_backward_before_forward_says_so():
    with pytest.raises(RuntimeError, match="before forward"):
        Dropout().backward(np.ones(3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_follows_the_input(dtype):
    layer = Dropout(0.5)
    y = layer(np.ones((4, 4), dtype))
    assert y.dtype == dtype and layer.backward(np.ones((4, 4), dtype)).dtype == dtype

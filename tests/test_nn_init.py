"""Initialisation (chapter 06): torch's gains and fans, distributions, generators."""

import math

import numpy as np
import pytest
import torch

from dlcore.nn import Linear, Parameter, init


@pytest.mark.parametrize(
    "nonlinearity, param", [("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2)]
)
def test_gains_match_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param))


def test_unknown_nonlinearity():
    with pytest.raises(ValueError, match="unknown nonlinearity 'swish'"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("shape", [(3, 5), (4, 2, 3, 3), (6, 1, 5, 2)])
def test_fans_match_torch(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.calculate_fan_in_and_fan_out(shape) == expected


def test_fans_need_two_axes():
    with pytest.raises(ValueError, match="at least 2 axes"):
        init.calculate_fan_in_and_fan_out((5,))


SHAPE = (300, 200)
FAN_IN, FAN_OUT = 200, 300


@pytest.mark.parametrize(
    "fill, expected_std, bound",
    [
        (lambda w, g: init.kaiming_uniform_(w, generator=g), math.sqrt(2 / FAN_IN), math.sqrt(6 / FAN_IN)),
        (lambda w, g: init.kaiming_normal_(w, generator=g), math.sqrt(2 / FAN_IN), None),
        (lambda w, g: init.kaiming_normal_(w, mode="fan_out", generator=g), math.sqrt(2 / FAN_OUT), None),
        (lambda w, g: init.xavier_uniform_(w, generator=g), math.sqrt(2 / (FAN_IN + FAN_OUT)), math.sqrt(6 / (FAN_IN + FAN_OUT))),
        (lambda w, g: init.xavier_normal_(w, gain=5 / 3, generator=g), 5 / 3 * math.sqrt(2 / (FAN_IN + FAN_OUT)), None),
    ],
)
def test_distributions_have_the_stated_spread(fill, expected_std, bound):
    weight = Parameter(np.zeros(SHAPE))
    assert fill(weight, np.random.default_rng(0)) is weight
    assert weight.data.std() == pytest.approx(expected_std, rel=0.02)
    assert abs(weight.data.mean()) < 0.05 * expected_std * 10
    if bound is not None:
        assert np.abs(weight.data).max() <= bound


def test_init_fills_plain_arrays_and_keeps_dtype():
    array = np.zeros((4, 3), np.float32)
    init.xavier_uniform_(array, generator=np.random.default_rng(0))
    assert array.dtype == np.float32 and array.any()
    init.zeros_(array)
    assert not array.any()
    init.ones_(array)
    assert (array == 1).all()


def test_default_generator_is_seeded_and_resettable():
    init.manual_seed(123)
    a = Linear(3, 3).weight.data.copy()
    b = Linear(3, 3).weight.data.copy()
    init.manual_seed(123)
    np.testing.assert_array_equal(Linear(3, 3).weight.data, a)
    assert not np.array_equal(a, b)  # one generator, consumed in turn
    generator = init.manual_seed(5)
    assert init.default_generator() is generator


def test_bad_mode():
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_uniform_(np.zeros((2, 2)), mode="fan_middle")

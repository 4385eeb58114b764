"""Optimizers and schedules (chapter 06): exactly torch.optim's updates, NaN guard, errors."""

import numpy as np
import pytest
import torch

from dlcore.nn import Linear, Parameter
from dlcore.optim import SGD, Adam
from dlcore.optim.lr_scheduler import CosineAnnealingLR, StepLR

SHAPES = [(3, 4), (4,), (2, 2, 3)]


def run_both(make_ours, make_theirs, steps=6, seed=0):
    """Apply the same random gradients to both optimizers; compare after every step."""
    rng = np.random.default_rng(seed)
    initial = [rng.standard_normal(shape) for shape in SHAPES]
    ours = [Parameter(a.copy()) for a in initial]
    theirs = [torch.nn.Parameter(torch.tensor(a)) for a in initial]
    optimizer, reference = make_ours(ours), make_theirs(theirs)
    for _ in range(steps):
        optimizer.zero_grad()
        reference.zero_grad()
        for p, p_t in zip(ours, theirs, strict=True):
            g = rng.standard_normal(p.shape)
            p.grad += g
            p_t.grad = torch.tensor(g)
        optimizer.step()
        reference.step()
        for p, p_t in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(p.data, p_t.detach().numpy(), rtol=1e-8, atol=1e-12)
    return ours


SGD_SETTINGS = [
    {"lr": 0.1},
    {"lr": 0.05, "weight_decay": 0.01},
    {"lr": 0.05, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.1},
    {"lr": 0.05, "momentum": 0.8, "nesterov": True},
    {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05},
]


@pytest.mark.parametrize("kwargs", SGD_SETTINGS)
def test_sgd_matches_torch(kwargs):
    run_both(lambda p: SGD(p, **kwargs), lambda p: torch.optim.SGD(p, **kwargs))


ADAM_SETTINGS = [
    {},
    {"lr": 0.01, "betas": (0.8, 0.99)},
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.003, "betas": (0.5, 0.9), "eps": 1e-6, "weight_decay": 0.01},
]


@pytest.mark.parametrize("kwargs", ADAM_SETTINGS)
def test_adam_matches_torch(kwargs):
    run_both(lambda p: Adam(p, **kwargs), lambda p: torch.optim.Adam(p, **kwargs), steps=8)


def test_step_updates_in_place_and_keeps_float32():
    layer = Linear(3, 2)  # float32 parameters
    arrays = [p.data for p in layer.parameters()]
    for optimizer in (SGD(layer.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1), Adam(layer.parameters(), weight_decay=0.1)):
        for p in layer.parameters():
            p.grad[...] = 1.0
        optimizer.step()
        optimizer.step()
        for p, array in zip(layer.parameters(), arrays, strict=True):
            assert p.data is array and p.data.dtype == np.float32


def test_zero_grad():
    layer = Linear(3, 2)
    optimizer = SGD(layer.parameters(), lr=0.1)
    for p in layer.parameters():
        p.grad += 1
    optimizer.zero_grad()
    assert not any(p.grad.any() for p in layer.parameters())


@pytest.mark.parametrize("make", [lambda p: SGD(p, lr=0.1, momentum=0.9), lambda p: Adam(p)])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_gradient_raises_and_updates_nothing(make, bad):
    params = [Parameter(np.ones(3)), Parameter(np.ones(2))]
    optimizer = make(params)
    params[0].grad[:] = 0.5
    params[1].grad[1] = bad
    with pytest.raises(FloatingPointError, match=r"gradient of parameter 1 \(shape \(2,\)\) contains NaN or inf"):
        optimizer.step()
    for p in params:
        np.testing.assert_array_equal(p.data, 1.0)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: SGD(p, lr=-0.1), "lr must be a number >= 0"),
        (lambda p: SGD(p, lr=0.1, momentum=1.5), r"momentum must be in \[0, 1.0\)"),
        (lambda p: SGD(p, lr=0.1, weight_decay=-1), "weight_decay must be a number >= 0"),
        (lambda p: SGD(p, lr=0.1, nesterov=True), "nesterov=True needs a momentum > 0"),
        (lambda p: Adam(p, betas=(0.9, 1.0)), r"betas\[1\] must be in \[0, 1.0\)"),
        (lambda p: Adam(p, eps=-1e-8), "eps must be a number > 0"),
        (lambda p: Adam(p, lr="fast"), "lr must be a finite number"),
        (lambda p: SGD([], lr=0.1), "empty list of parameters"),
        (lambda p: SGD(p + p, lr=0.1), "same parameter more than once"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make([Parameter(np.ones(2))])


def test_arrays_instead_of_parameters():
    with pytest.raises(TypeError, match="item 0 is a ndarray; pass net.parameters"):
        SGD([np.ones(2)], lr=0.1)


def torch_lrs(make_scheduler, epochs, lr=0.5):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(epochs):
        optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr()[0])
    return rates


def our_lrs(make_scheduler, epochs, lr=0.5):
    optimizer = SGD([Parameter(np.zeros(1))], lr=lr)
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(epochs):
        optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr()[0])
        assert optimizer.lr == rates[-1]
    return rates


@pytest.mark.parametrize("step_size, gamma", [(1, 0.5), (3, 0.1), (4, 0.9)])
def test_step_lr_matches_torch(step_size, gamma):
    ours = our_lrs(lambda o: StepLR(o, step_size, gamma), 13)
    theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size, gamma), 13)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("T_max, eta_min", [(5, 0.0), (10, 0.01), (1, 0.1)])
def test_cosine_matches_torch_including_past_t_max(T_max, eta_min):
    epochs = 2 * T_max + 3
    ours = our_lrs(lambda o: CosineAnnealingLR(o, T_max, eta_min), epochs)
    theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max, eta_min), epochs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14)
    assert ours[T_max - 1] == pytest.approx(eta_min)


def test_scheduler_arguments():
    optimizer = SGD([Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="step_size must be a positive integer"):
        StepLR(optimizer, 0)
    with pytest.raises(ValueError, match="T_max must be a positive integer"):
        CosineAnnealingLR(optimizer, 2.5)
    with pytest.raises(TypeError, match="expects an optimizer"):
        StepLR([Parameter(np.zeros(1))], 2)

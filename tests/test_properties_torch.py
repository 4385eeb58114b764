"""Property-based tests (Hypothesis): dlcore against PyTorch in float64.

For random shapes, values and settings, every layer's forward output and backward
gradients (input and parameters), every loss and its gradient, and the SGD and Adam
updates over several steps must agree with torch to float64 rounding. Adam is also
compared in float32, where dlcore follows torch's order of operations.

The runs are deterministic (``derandomize=True``) and small, so the file takes seconds.
Arrays are drawn from a NumPy generator seeded by Hypothesis, with a drawn scale, so each
example covers many values at once.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dlcore.nn as nn
from dlcore.nn import Parameter
from dlcore.optim import SGD, Adam

SETTINGS = settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
seeds = st.integers(0, 2**32 - 1)
scales = st.sampled_from([1e-3, 0.5, 1.0, 3.0, 30.0])
small = st.integers(1, 5)

RTOL, ATOL = 1e-10, 1e-12


def close(ours, theirs, rtol=RTOL, atol=ATOL):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    ours = np.asarray(ours)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    scale = max(1.0, float(np.abs(theirs).max(initial=0.0)))
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol * scale)


def tensor(array, grad=False):
    return torch.tensor(array, dtype=torch.float64, requires_grad=grad)


def backward_both(layer, x, forward_torch, params_torch=()):
    """Run our layer and torch's function on x with a random upstream gradient; compare
    the output, dL/dx and the parameter gradients (in order)."""
    rng = np.random.default_rng(int(abs(x).sum() * 1e6) % 2**32)
    out = layer(x)
    g = rng.standard_normal(out.shape)
    layer.zero_grad()
    dx = layer.backward(g)
    xt = tensor(x, grad=True)
    out_t = forward_torch(xt)
    out_t.backward(tensor(g))
    close(out, out_t)
    close(dx, xt.grad)
    for p, pt in zip(layer.parameters(), params_torch, strict=True):
        close(p.grad, pt.grad)


# -- layers ----------------------------------------------------------------------------------
@SETTINGS
@given(seeds, scales, small, small, small, st.booleans())
def test_linear(seed, scale, n, d_in, d_out, bias):
    rng = np.random.default_rng(seed)
    layer = nn.Linear(d_in, d_out, bias=bias, dtype=np.float64, generator=rng)
    x = rng.standard_normal((n, d_in)) * scale
    w = tensor(layer.weight.data, grad=True)
    b = tensor(layer.bias.data, grad=True) if bias else None
    backward_both(layer, x, lambda t: F.linear(t, w, b), [w] + ([b] if bias else []))


ACTIVATIONS = {
    "relu": (nn.ReLU, torch.relu),
    "leaky": (lambda: nn.LeakyReLU(0.2), lambda t: F.leaky_relu(t, 0.2)),
    "sigmoid": (nn.Sigmoid, torch.sigmoid),
    "tanh": (nn.Tanh, torch.tanh),
    "gelu": (nn.GELU, F.gelu),
    "softmax_last": (lambda: nn.Softmax(-1), lambda t: torch.softmax(t, -1)),
    "softmax_0": (lambda: nn.Softmax(0), lambda t: torch.softmax(t, 0)),
    "flatten": (nn.Flatten, lambda t: torch.flatten(t, 1)),
    "dropout_p0": (lambda: nn.Dropout(0.0), lambda t: F.dropout(t, 0.0, training=True)),
    "dropout_eval": (lambda: nn.Dropout(0.7).eval(), lambda t: F.dropout(t, 0.7, training=False)),
}


@SETTINGS
@given(seeds, scales, st.sampled_from(sorted(ACTIVATIONS)), st.lists(small, min_size=2, max_size=4))
def test_activations_softmax_flatten_dropout(seed, scale, name, shape):
    make, torch_fn = ACTIVATIONS[name]
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    backward_both(make(), x, torch_fn)


@SETTINGS
@given(seeds, st.integers(2, 5), st.integers(-4, 3), st.integers(-4, 3))
def test_flatten_any_dims(seed, ndim, start, end):
    shape = tuple(np.random.default_rng(seed).integers(1, 4, size=ndim))
    start, end = start % ndim, end % ndim
    if start > end:
        start, end = end, start
    x = np.random.default_rng(seed).standard_normal(shape)
    backward_both(nn.Flatten(start, end), x, lambda t: torch.flatten(t, start, end))


@SETTINGS
@given(seeds, scales, st.integers(2, 6), st.integers(1, 4), st.sampled_from([None, 2, 3]), st.booleans())
def test_batchnorm_train_and_eval(seed, scale, n, c, length, momentum_none):
    rng = np.random.default_rng(seed)
    momentum = None if momentum_none else float(rng.uniform(0.0, 1.0))
    ours = nn.BatchNorm1d(c, momentum=momentum, dtype=np.float64)
    theirs = torch.nn.BatchNorm1d(c, momentum=momentum, dtype=torch.float64)
    weight, bias = rng.standard_normal(c), rng.standard_normal(c)
    ours.weight.data[...] = weight
    ours.bias.data[...] = bias
    with torch.no_grad():
        theirs.weight.copy_(tensor(weight))
        theirs.bias.copy_(tensor(bias))
    shape = (n, c) if length is None else (n, c, length)
    for _ in range(3):  # training steps: output, gradients and running statistics
        x = rng.standard_normal(shape) * scale + rng.standard_normal()
        theirs.zero_grad()
        backward_both(ours, x, theirs, [theirs.weight, theirs.bias])
        close(ours.running_mean, theirs.running_mean)
        close(ours.running_var, theirs.running_var)
    ours.eval()
    theirs.eval()
    theirs.zero_grad()
    backward_both(ours, rng.standard_normal(shape) * scale, theirs, [theirs.weight, theirs.bias])


@SETTINGS
@given(
    seeds,
    scales,
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(0, 2),
    st.booleans(),
)
def test_conv2d(seed, scale, n, c_in, c_out, kernel, stride, padding, bias):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(max(1, kernel - 2 * padding), 8, size=2)
    layer = nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=bias, dtype=np.float64, generator=rng)
    x = rng.standard_normal((n, c_in, h, w)) * scale
    wt = tensor(layer.weight.data, grad=True)
    bt = tensor(layer.bias.data, grad=True) if bias else None
    backward_both(layer, x, lambda t: F.conv2d(t, wt, bt, stride, padding), [wt] + ([bt] if bias else []))


@SETTINGS
@given(seeds, scales, st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.sampled_from([None, 1, 2, 3]))
def test_maxpool2d(seed, scale, n, c, kernel, stride):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(kernel, 9, size=2)
    x = rng.standard_normal((n, c, h, w)) * scale
    backward_both(nn.MaxPool2d(kernel, stride), x, lambda t: F.max_pool2d(t, kernel, stride))


# -- losses ------------------------------------------------------------------------------------
def loss_both(loss, z, target, torch_loss, torch_target):
    g = 0.7
    value = loss(z, target)
    grad = loss.backward(g)
    zt = tensor(z, grad=True)
    value_t = torch_loss(zt, torch_target)
    (value_t * g).backward()
    close(value, value_t)
    close(grad, zt.grad)


@SETTINGS
@given(seeds, scales, st.integers(1, 6), st.integers(1, 5))
def test_cross_entropy(seed, scale, n, c):
    rng = np.random.default_rng(seed)
    z, y = rng.standard_normal((n, c)) * scale * 10, rng.integers(0, c, size=n)
    loss_both(nn.CrossEntropyLoss(), z, y, F.cross_entropy, torch.tensor(y))


@SETTINGS
@given(seeds, scales, st.lists(small, min_size=1, max_size=3))
def test_mse_and_bce(seed, scale, shape):
    rng = np.random.default_rng(seed)
    z, t = rng.standard_normal(shape) * scale * 10, rng.standard_normal(shape)
    loss_both(nn.MSELoss(), z, t, F.mse_loss, tensor(t))
    p = rng.uniform(size=shape) if rng.uniform() < 0.5 else rng.integers(0, 2, size=shape).astype(float)
    loss_both(nn.BCEWithLogitsLoss(), z, p, F.binary_cross_entropy_with_logits, tensor(p))


# -- optimizers --------------------------------------------------------------------------------
def run_optimizers(seed, dtype, ours_factory, torch_factory, steps, shapes=((3, 4), (5,))):
    rng = np.random.default_rng(seed)
    torch_dtype = {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    starts = [rng.standard_normal(s).astype(dtype) for s in shapes]
    params = [Parameter(a.copy()) for a in starts]
    tensors = [torch.tensor(a.copy(), dtype=torch_dtype, requires_grad=True) for a in starts]
    ours, theirs = ours_factory(params), torch_factory(tensors)
    for _ in range(steps):
        for p, t in zip(params, tensors, strict=True):
            g = (rng.standard_normal(p.shape) * 10 ** rng.uniform(-2, 1)).astype(dtype)
            p.grad[...] = g
            t.grad = torch.tensor(g.copy())
        ours.step()
        theirs.step()
    return params, tensors


@SETTINGS
@given(
    seeds,
    st.sampled_from([1e-3, 0.05, 0.5]),
    st.sampled_from([0.0, 0.5, 0.9, 0.99]),
    st.sampled_from([0.0, 1e-4, 0.1]),
    st.booleans(),
    st.integers(1, 12),
)
def test_sgd_steps(seed, lr, momentum, weight_decay, nesterov, steps):
    nesterov = nesterov and momentum > 0
    kwargs = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)
    params, tensors = run_optimizers(
        seed, np.float64, lambda ps: SGD(ps, **kwargs), lambda ts: torch.optim.SGD(ts, **kwargs), steps
    )
    for p, t in zip(params, tensors, strict=True):
        close(p.data, t, rtol=1e-12, atol=1e-13)


@settings(SETTINGS, max_examples=60)
@given(
    seeds,
    st.sampled_from([np.float64, np.float32]),
    st.sampled_from([1e-4, 1e-3, 0.1]),
    st.sampled_from([0.0, 0.3, 0.5, 0.9, 0.99]),
    st.sampled_from([0.0, 0.5, 0.9, 0.999]),
    st.sampled_from([1e-8, 1e-6, 1e-3]),
    st.sampled_from([0.0, 1e-2]),
    st.booleans(),
    st.integers(1, 25),
)
def test_adam_steps(seed, dtype, lr, beta1, beta2, eps, weight_decay, amsgrad, steps):
    kwargs = dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
    params, tensors = run_optimizers(
        seed, dtype, lambda ps: Adam(ps, **kwargs), lambda ts: torch.optim.Adam(ts, **kwargs), steps
    )
    # An Adam step has size about lr; compare the distance travelled, relative to lr.
    # float32: a few units of rounding (2**-24 = 6e-8) per step, relative to the step.
    tol = 1e-12 if dtype == np.float64 else 2e-5
    for p, t in zip(params, tensors, strict=True):
        assert p.data.dtype == dtype
        error = np.abs(p.data - t.detach().numpy()).max()
        assert error <= tol * max(1.0, np.abs(p.data).max()) + tol * lr * steps, (error, kwargs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_beta1_zero_first_moment_is_the_gradient_exactly(dtype):
    """With beta1 = 0, torch's lerp makes m equal to the last gradient bit for bit, even
    after a much larger earlier gradient (m + (g - m) would lose g's low digits)."""
    rng = np.random.default_rng(1)
    p = Parameter(rng.standard_normal((4, 5)).astype(dtype))
    t = torch.tensor(p.data.copy(), requires_grad=True)
    ours, theirs = Adam([p], lr=0.01, betas=(0.0, 0.999)), torch.optim.Adam([t], lr=0.01, betas=(0.0, 0.999))
    for scale in (1e3, 1e-4, 1e2, 1e-3):
        g = (rng.standard_normal(p.shape) * scale).astype(dtype)
        p.grad[...] = g
        t.grad = torch.tensor(g.copy())
        ours.step()
        theirs.step()
        np.testing.assert_array_equal(ours.m[0], g)
        np.testing.assert_array_equal(ours.m[0], theirs.state[t]["exp_avg"].numpy())
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=4 * np.finfo(dtype).eps)

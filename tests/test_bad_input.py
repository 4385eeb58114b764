"""dlcore under bad input: a clear error or a correct result, never a silent wrong answer.

One test (or one parametrized case) per class of defect from issue 10: gradient shapes,
stateful layers and non-finite input, ``load`` validation, aliasing of cached arrays,
optimizer gradients and hyperparameters, empty batches, the float16 policy, dataset
splitting, the DataLoader's copies, and constructor arguments.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dlcore
from dlcore.autograd import Value
from dlcore.check import gradcheck, numerical_gradient, relative_error
from dlcore.data.loader import DataLoader
from dlcore.data.split import train_val_test_split
from dlcore.nn import (
    GELU,
    BatchNorm1d,
    BCEWithLogitsLoss,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    LeakyReLU,
    Linear,
    MaxPool2d,
    MSELoss,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from dlcore.optim import SGD, Adam

RNG = np.random.default_rng(0)


def x64(*shape):
    return RNG.standard_normal(shape)


# -- 1. backward checks the exact shape of grad_output -----------------------------------
LAYERS_AND_INPUTS = [
    (lambda: Linear(3, 2, dtype=np.float64), (4, 3)),
    (ReLU, (2, 3)),
    (LeakyReLU, (2, 3)),
    (Sigmoid, (2, 3)),
    (Tanh, (2, 3)),
    (Softmax, (2, 3)),
    (GELU, (2, 3)),
    (lambda: Dropout(0.5, generator=np.random.default_rng(0)), (2, 3)),
    (lambda: BatchNorm1d(3, dtype=np.float64), (4, 3)),
    (lambda: Conv2d(2, 3, 3, dtype=np.float64), (2, 2, 5, 5)),
    (lambda: MaxPool2d(2), (2, 3, 4, 4)),
    (Flatten, (2, 3, 4)),
    (Flatten, (2, 3)),
]


@pytest.mark.parametrize(("make", "shape"), LAYERS_AND_INPUTS)
def test_backward_refuses_a_gradient_of_another_shape(make, shape):
    layer = make()
    out = layer(x64(*shape))
    wrong = out.shape[::-1] if out.shape[::-1] != out.shape else (*out.shape, 1)
    with pytest.raises(ValueError, match=rf"expected grad_output of shape {re_shape(out.shape)}.*got {re_shape(wrong)}"):
        layer.backward(np.ones(wrong))
    with pytest.raises(ValueError, match="expected grad_output of shape"):
        layer.backward(np.ones(out.size))  # same size, flat
    with pytest.raises(TypeError, match="float16"):
        layer.backward(np.ones(out.shape, np.float16))
    with pytest.raises(TypeError, match="real-valued"):
        layer.backward(np.ones(out.shape, complex))


def re_shape(shape) -> str:
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def test_flatten_backward_transposed_gradient_of_the_same_size():
    flatten = Flatten()
    flatten(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"expected grad_output of shape \(2, 3\).*got \(3, 2\)"):
        flatten.backward(np.zeros((3, 2)))


@pytest.mark.parametrize(("make", "shape"), LAYERS_AND_INPUTS)
def test_backward_after_a_failed_forward_raises(make, shape):
    layer = make()
    out = layer(x64(*shape))
    with pytest.raises((ValueError, TypeError)):
        layer(np.ones(shape, complex))  # refused by every layer
    with pytest.raises(RuntimeError, match="last forward\\(\\) raised"):
        layer.backward(np.ones(out.shape))


def test_sequential_backward_after_a_failed_forward_raises():
    net = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
    net(np.ones((5, 3)))
    with pytest.raises(ValueError):
        net(np.ones((5, 4)))
    with pytest.raises(RuntimeError, match="last forward"):
        net.backward(np.ones((5, 2)))


# -- 2. stateful layers: non-finite input changes nothing ---------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_batchnorm_refuses_non_finite_input_before_updating_statistics(bad):
    bn = BatchNorm1d(3, dtype=np.float64)
    bn(x64(8, 3))
    mean, var = bn.running_mean.copy(), bn.running_var.copy()
    x = x64(8, 3)
    x[2, 1] = bad
    with pytest.raises(FloatingPointError, match=r"NaN or inf \(1 of 24 values\).*not updated"):
        bn(x)
    np.testing.assert_array_equal(bn.running_mean, mean)
    np.testing.assert_array_equal(bn.running_var, var)
    bn.eval()
    with pytest.raises(FloatingPointError):
        bn(x)


def test_batchnorm_momentum_none_is_torchs_cumulative_average():
    ours = BatchNorm1d(3, momentum=None, dtype=np.float64)
    theirs = torch.nn.BatchNorm1d(3, momentum=None, dtype=torch.float64)
    for k in range(5):
        x = x64(6, 3) * (k + 1) + k
        np.testing.assert_allclose(ours(x), theirs(torch.from_numpy(x)).detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-13)
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 5
    assert set(ours.state_dict()) == set(theirs.state_dict())
    # the count is saved and loaded, so a reloaded layer keeps averaging correctly
    copy = BatchNorm1d(3, momentum=None, dtype=np.float64)
    copy.load_state_dict(ours.state_dict())
    assert int(copy.num_batches_tracked) == 5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"momentum": 1.5}, r"momentum \(or None\) must be <= 1"),
        ({"momentum": -0.1}, "must be >= 0"),
        ({"momentum": float("nan")}, "finite"),
        ({"momentum": "fast"}, "real number"),
        ({"eps": 0.0}, "eps must be > 0"),
        ({"eps": float("inf")}, "finite"),
    ],
)
def test_batchnorm_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BatchNorm1d(3, **kwargs)


# -- 3. load validates every array before assigning any ------------------------------------
def small_net():
    return Sequential(Linear(3, 2, generator=np.random.default_rng(1)), BatchNorm1d(2), Linear(2, 1))


BAD_ARRAYS = [
    (np.ones((2, 3), complex), r"0\.weight: dtype complex128"),
    (np.array([["a", "b", "c"]] * 2), r"0\.weight: dtype <U1"),
    (np.zeros((2, 3), dtype=[("a", float)]), r"0\.weight: dtype \[\('a'"),
    (np.ones((2, 3), np.float16), r"0\.weight: dtype float16"),
    (np.ones((2, 3), bool), r"0\.weight: dtype bool"),
    (np.full((2, 3), 1e39), r"0\.weight: values up to 1e\+39 do not fit in float32.*inf"),
    (np.full((2, 3), np.nan), r"0\.weight: contains NaN or inf \(6 of 6"),
    (np.ones((3, 2)), r"0\.weight: expected shape \(2, 3\), got \(3, 2\)"),
]


@pytest.mark.parametrize(("bad", "match"), BAD_ARRAYS)
def test_load_refuses_a_bad_array_and_changes_nothing(tmp_path, bad, match):
    net = small_net()
    net(x64(4, 3).astype(np.float32))  # move the running statistics away from their start
    before = net.state_dict()
    state = small_net().state_dict()  # otherwise valid arrays, which must not be loaded
    state["0.weight"] = bad
    path = tmp_path / "model.npz"
    np.savez(path, **state)
    with pytest.raises(ValueError, match=match) as error:
        dlcore.load(net, path)
    assert "nothing was changed" in str(error.value)
    after = net.state_dict()
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)


def test_load_refuses_a_negative_running_variance(tmp_path):
    net = small_net()
    state = net.state_dict()
    state["1.running_var"] = -np.ones(2, np.float32)
    with pytest.raises(ValueError, match=r"1\.running_var: a variance cannot be negative"):
        net.load_state_dict(state)


def test_load_lists_every_bad_array(tmp_path):
    net = small_net()
    state = net.state_dict()
    state["0.weight"] = np.ones((2, 3), complex)
    state["2.bias"] = np.array([np.inf], np.float32)
    with pytest.raises(ValueError, match=r"0\.weight: dtype complex128.*2\.bias: contains NaN or inf"):
        net.load_state_dict(state)


def test_load_of_a_npy_file_says_so(tmp_path):
    path = tmp_path / "weights.npy"
    np.save(path, np.ones(3))
    with pytest.raises(ValueError, match=r"\.npy file.*not a \.npz archive.*dlcore\.save"):
        dlcore.load(small_net(), path)
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not an .npz file"):
        dlcore.load(small_net(), text)
    with pytest.raises(TypeError, match="Module"):
        dlcore.load({"0.weight": 1}, path)


def test_load_state_dict_refuses_a_non_dict():
    with pytest.raises(TypeError, match="dict of name -> array"):
        small_net().load_state_dict([np.ones(3)])


def test_load_of_integers_and_float64_is_exact():
    net = Linear(2, 2)
    net.load_state_dict({"weight": np.arange(4).reshape(2, 2), "bias": np.array([0.5, -1.0])})
    np.testing.assert_array_equal(net.weight.data, [[0, 1], [2, 3]])
    assert net.weight.dtype == np.float32


# -- 4. aliasing: editing an input or output in place cannot change a gradient ----------
ELEMENTWISE = [Sigmoid, Tanh, Softmax, ReLU, LeakyReLU, GELU, lambda: Dropout(0.0)]


def _backward_with_edits(make, x, g, edit_input, edit_output):
    layer = make()
    xx = x.copy()
    out = layer(xx)
    if edit_output:
        out += 1.0
        out *= -3.0
    if edit_input:
        xx += 5.0
    return layer.backward(g)


@pytest.mark.parametrize("make", ELEMENTWISE)
def test_in_place_edits_after_forward_do_not_change_the_gradient(make):
    x, g = x64(4, 5), x64(4, 5)
    clean = _backward_with_edits(make, x, g, False, False)
    for edit_input, edit_output in [(True, False), (False, True), (True, True)]:
        np.testing.assert_array_equal(_backward_with_edits(make, x, g, edit_input, edit_output), clean)


@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (lambda: Linear(3, 2, dtype=np.float64, generator=np.random.default_rng(0)), (4, 3)),
        (lambda: BatchNorm1d(3, dtype=np.float64), (4, 3)),
        (lambda: Conv2d(2, 3, 3, dtype=np.float64, generator=np.random.default_rng(0)), (2, 2, 5, 5)),
        (lambda: MaxPool2d(2), (2, 3, 4, 4)),
        (Flatten, (2, 3, 4)),
    ],
)
def test_layers_with_parameters_keep_private_copies(make, shape):
    x = x64(*shape)
    results = []
    for edit in (False, True):
        layer = make()
        xx = x.copy()
        out = layer(xx)
        g = np.ones(out.shape)
        if edit:
            xx *= 7.0
            out += 3.0
        grads = [layer.backward(g)] + [p.grad.copy() for p in layer.parameters()]
        results.append(grads)
    for clean, edited in zip(*results, strict=True):
        np.testing.assert_array_equal(edited, clean)


@pytest.mark.parametrize(
    ("loss", "prediction", "target"),
    [
        (MSELoss, x64(4, 3), x64(4, 3)),
        (BCEWithLogitsLoss, x64(4, 3), RNG.uniform(size=(4, 3))),
        (CrossEntropyLoss, x64(4, 3), np.array([0, 2, 1, 2])),
    ],
)
def test_losses_keep_private_copies(loss, prediction, target):
    clean = loss()
    clean(prediction, target)
    expected = clean.backward()
    edited = loss()
    z, y = prediction.copy(), target.copy()
    edited(z, y)
    z += 4.0
    y[...] = 0
    np.testing.assert_array_equal(edited.backward(), expected)


def test_sigmoid_output_edit_matches_torch_gradient():
    """The issue's example: h = s(x); h += 1; backward gives the gradient at x."""
    x = x64(3, 4)
    s = Sigmoid()
    h = s(x)
    h += 1
    ours = s.backward(np.ones((3, 4)))
    t = torch.from_numpy(x).requires_grad_()
    torch.sigmoid(t).sum().backward()
    np.testing.assert_allclose(ours, t.grad.numpy(), rtol=1e-12)


# -- 5. optimizers --------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1), lambda ps: SGD(ps, lr=0.1, momentum=0.9), Adam])
@pytest.mark.parametrize("grad_shape", [(3,), (1, 3), (2, 1), (3, 2), ()])
def test_optimizers_refuse_gradients_of_another_shape(make, grad_shape):
    p = Parameter(np.ones((2, 3)))
    q = Parameter(np.ones(4))
    optimizer = make([q, p])
    q.grad[...] = 1.0
    p.grad = np.ones(grad_shape)
    with pytest.raises(ValueError, match=rf"parameter 1 has shape {re_shape(grad_shape)}.*parameter has shape \(2, 3\)"):
        optimizer.step()
    np.testing.assert_array_equal(q.data, 1.0)  # nothing was updated
    np.testing.assert_array_equal(p.data, 1.0)


def test_optimizers_refuse_a_replaced_parameter_array_and_odd_gradient_dtypes():
    p = Parameter(np.ones((2, 3)))
    optimizer = Adam([p])
    p.grad = np.ones((2, 3), np.float16)
    with pytest.raises(TypeError, match="dtype float16"):
        optimizer.step()
    p.grad = np.ones((2, 3))
    p.data = np.ones(6)
    with pytest.raises(ValueError, match=r"had shape \(2, 3\).*now has shape \(6,\)"):
        optimizer.step()


def test_optimizers_refuse_a_missing_gradient():
    p = Parameter(np.ones(2))
    optimizer = SGD([p], lr=0.1)
    p.grad = None
    with pytest.raises(ValueError, match=r"parameter 0 \(shape \(2,\)\) has no gradient"):
        optimizer.step()


def make_params():
    return [Parameter(np.ones(2))]


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: SGD(make_params(), lr=float("inf")), ValueError, "lr must be a finite number"),
        (lambda: SGD(make_params(), lr=float("nan")), ValueError, "lr must be a finite number"),
        (lambda: SGD(make_params(), lr=-1.0), ValueError, "lr must be a number >= 0"),
        (lambda: SGD(make_params(), lr=True), ValueError, "lr must be a finite number"),
        (lambda: SGD(make_params(), lr=0.1, momentum=1.0), ValueError, r"momentum must be in \[0, 1.0\)"),
        (lambda: SGD(make_params(), lr=0.1, momentum=-0.5), ValueError, "momentum must be a number >= 0"),
        (lambda: SGD(make_params(), lr=0.1, weight_decay=-1e-4), ValueError, "weight_decay must be a number >= 0"),
        (lambda: SGD(make_params(), lr=0.1, weight_decay=float("inf")), ValueError, "finite"),
        (lambda: SGD(make_params(), lr=0.1, momentum=0.9, nesterov="yes"), ValueError, "nesterov must be True or False"),
        (lambda: Adam(make_params(), lr=float("inf")), ValueError, "lr must be a finite number"),
        (lambda: Adam(make_params(), betas=(1.0, 0.999)), ValueError, r"betas\[0\] must be in \[0, 1.0\)"),
        (lambda: Adam(make_params(), betas=(-0.1, 0.999)), ValueError, r"betas\[0\] must be a number >= 0"),
        (lambda: Adam(make_params(), betas=(0.9, 1.5)), ValueError, r"betas\[1\] must be in"),
        (lambda: Adam(make_params(), betas=0.9), ValueError, "betas must be a pair"),
        (lambda: Adam(make_params(), eps=0.0), ValueError, "eps must be a number > 0"),
        (lambda: Adam(make_params(), eps=-1e-8), ValueError, "eps must be a number > 0"),
        (lambda: Adam(make_params(), weight_decay=-0.1), ValueError, "weight_decay must be a number >= 0"),
        (lambda: Adam(make_params(), amsgrad="no"), ValueError, "amsgrad must be True or False"),
        (lambda: SGD([], lr=0.1), ValueError, "empty list of parameters"),
        (lambda: SGD(Linear(2, 2).parameters, lr=0.1), TypeError, r"pass net\.parameters\(\) \(call it"),
        (lambda: Adam(Sequential(Linear(2, 2)).parameters), TypeError, r"pass net\.parameters\(\) \(call it"),
        (lambda: SGD(Linear(2, 2), lr=0.1), TypeError, r"Linear module; pass its parameters"),
        (lambda: SGD(Sequential(Linear(2, 2)), lr=0.1), TypeError, r"Sequential module"),
        (lambda: SGD(Parameter(np.ones(2)), lr=0.1), TypeError, r"wrap a single one in a list"),
        (lambda: SGD(3, lr=0.1), TypeError, "iterable of Parameters"),
        (lambda: SGD({"params": make_params()}, lr=0.1), TypeError, "iterable of Parameters"),
    ],
)
def test_optimizer_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_lr_is_checked_again_at_step():
    p = Parameter(np.ones(2))
    optimizer = SGD([p], lr=0.1)
    optimizer.lr = float("inf")
    with pytest.raises(ValueError, match="lr must be a finite number"):
        optimizer.step()
    np.testing.assert_array_equal(p.data, 1.0)


# -- 6. losses: empty batches, overflow, bad targets ---------------------------------------
@pytest.mark.parametrize(
    ("loss", "prediction", "target"),
    [
        (MSELoss(), np.zeros((0, 3)), np.zeros((0, 3))),
        (MSELoss(), np.zeros(0), np.zeros(0)),
        (BCEWithLogitsLoss(), np.zeros((0, 1)), np.zeros((0, 1))),
        (CrossEntropyLoss(), np.zeros((0, 3)), np.zeros(0, dtype=int)),
    ],
)
def test_losses_refuse_an_empty_batch(loss, prediction, target):
    with np.errstate(all="raise"):  # no warning may be emitted on the way
        with pytest.raises(ValueError, match=r"empty batch \(prediction of shape"):
            loss(prediction, target)


def test_losses_refuse_overflow_instead_of_returning_inf():
    big = np.full(4, 1e20, np.float32)
    with pytest.raises(FloatingPointError, match="MSELoss overflowed"):
        MSELoss()(big, -big)
    assert np.isfinite(MSELoss()(big.astype(np.float64), -big.astype(np.float64)))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: CrossEntropyLoss()(x64(3, 2), np.array([0, 1, 2])), ValueError, "class label 2"),
        (lambda: CrossEntropyLoss()(x64(3, 2), np.array([0, 1.5, 1])), ValueError, "whole-number"),
        (lambda: CrossEntropyLoss()(x64(3, 2), np.array([0, np.nan, 1])), FloatingPointError, "NaN"),
        (lambda: CrossEntropyLoss()(x64(3, 2), np.array(["a", "b", "c"])), TypeError, "numeric target"),
        (lambda: BCEWithLogitsLoss()(x64(3), np.array([0, 1, 1.5])), ValueError, r"targets in \[0, 1\]"),
        (lambda: BCEWithLogitsLoss()(x64(3), np.array([0, -1, 1])), ValueError, r"targets in \[0, 1\]"),
        (lambda: MSELoss()(x64(3, 1), x64(3)), ValueError, "same shape"),
        (lambda: MSELoss()(x64(3), x64(3).astype(complex)), TypeError, "numeric target"),
        (lambda: MSELoss()("abc", x64(3)), TypeError, "array of numbers"),
        (lambda: MSELoss()(x64(3), None), TypeError, "numeric target"),
    ],
)
def test_losses_refuse_bad_targets(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("grad", ["1", [1.0, 2.0], float("nan"), None])
def test_loss_backward_refuses_a_non_scalar_or_non_finite_grad(grad):
    loss = MSELoss()
    loss(x64(3), x64(3))
    with pytest.raises(ValueError, match="grad_output"):
        loss.backward(grad)


# -- 7. float16 is refused everywhere, as Parameter refuses it -------------------------------
F16 = np.ones((2, 3), np.float16)


@pytest.mark.parametrize(
    "call",
    [
        lambda: Linear(3, 2)(F16),
        lambda: ReLU()(F16),
        lambda: LeakyReLU()(F16),
        lambda: Sigmoid()(F16),
        lambda: Tanh()(F16),
        lambda: Softmax()(F16),
        lambda: GELU()(F16),
        lambda: Dropout(0.5)(F16),
        lambda: BatchNorm1d(3)(F16),
        lambda: Flatten()(F16),
        lambda: Conv2d(1, 1, 1)(np.ones((1, 1, 2, 2), np.float16)),
        lambda: MaxPool2d(1)(np.ones((1, 1, 2, 2), np.float16)),
        lambda: MSELoss()(F16, F16),
        lambda: MSELoss()(F16.astype(np.float32), F16),
        lambda: BCEWithLogitsLoss()(F16, F16),
        lambda: CrossEntropyLoss()(F16, np.zeros(2, np.float16)),
        lambda: CrossEntropyLoss()(F16.astype(np.float32), np.zeros(2, np.float16)),
    ],
)
def test_float16_is_refused_with_a_message(call):
    with pytest.raises(TypeError, match=r"float16.*float32 or float64"):
        call()


def test_float16_parameter_and_default_dtype_are_refused():
    with pytest.raises(ValueError, match="float32 or np.float64"):
        Parameter(np.zeros(2, np.float16))
    with pytest.raises(ValueError, match="float32 or np.float64"):
        dlcore.set_default_dtype(np.float16)


def test_the_mse_of_300_is_exact_in_float32():
    # the example: float16 gave inf; float32 gives the exact 90000
    assert MSELoss()(np.full(3, 300.0, np.float32), np.zeros(3, np.float32)) == 90000.0


@pytest.mark.parametrize("x", [np.ones(3, complex), np.array(["a", "b"]), np.array([{}], dtype=object), "abc", None])
def test_layers_refuse_non_numbers(x):
    with pytest.raises(TypeError):
        ReLU()(x)


# -- 8. constructors and modules --------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Linear(0, 2), "positive integer"),
        (lambda: Linear(-3, 2), "positive integer"),
        (lambda: Linear(2.0, 2), "positive integer"),
        (lambda: Linear(True, 2), "positive integer"),
        (lambda: Conv2d(1, 1, 0), "kernel_size must be >= 1"),
        (lambda: Conv2d(1, 1, 3, stride=0), "stride must be >= 1"),
        (lambda: Conv2d(1, 1, 3, padding=-1), "padding must be >= 0"),
        (lambda: Conv2d(1, 1, True), "integer or a pair"),
        (lambda: MaxPool2d((2, 2.5)), "integer or a pair"),
        (lambda: BatchNorm1d(0), "positive integer"),
        (lambda: Dropout(1.5), "between 0 and 1"),
        (lambda: Dropout(True), "between 0 and 1"),
        (lambda: Dropout(float("nan")), "between 0 and 1"),
        (lambda: LeakyReLU(float("nan")), "finite"),
        (lambda: LeakyReLU("0.1"), "real number"),
        (lambda: Softmax(1.5), "integer"),
        (lambda: Flatten(0.5), "integer"),
        (lambda: dlcore.nn.init.normal_(np.zeros(3), std=-1.0), "std must be >= 0"),
        (lambda: dlcore.nn.init.uniform_(np.zeros(3), 1.0, 0.0), "a <= b"),
        (lambda: dlcore.nn.init.uniform_(np.zeros(3), 0.0, float("nan")), "finite"),
    ],
)
def test_constructor_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_dropout_generator_and_train_mode_types():
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        Dropout(0.5, generator=0)
    with pytest.raises(TypeError, match="True or False"):
        Linear(2, 2).train("no")


def test_parameter_refuses_complex_and_non_numbers():
    with pytest.raises(TypeError, match="real numbers"):
        Parameter(np.ones(2, complex))
    with pytest.raises(TypeError, match="array of numbers"):
        Parameter("abc")


def test_softmax_refuses_a_scalar():
    with pytest.raises(ValueError, match=r"Softmax\(dim=0\) got an input of shape \(\)"):
        Softmax(dim=0)(np.array(1.0))


def test_sequential_refuses_the_same_layer_object_twice():
    relu = ReLU()
    with pytest.raises(ValueError, match=r"same ReLU object at positions 1 and 3"):
        Sequential(Linear(2, 2), relu, Linear(2, 2), relu)
    net = Sequential(Linear(2, 2), relu)
    with pytest.raises(ValueError, match=r"positions 1 and 2"):
        net.append(relu)


def test_load_state_dict_missing_and_unexpected_names():
    net = Sequential(Linear(2, 2))
    state = net.state_dict()
    state["9.weight"] = state.pop("0.bias")
    with pytest.raises(ValueError, match=r"missing arrays: \['0.bias'\].*unexpected arrays: \['9.weight'\]"):
        net.load_state_dict(state)


# -- 9. splitting and loading data ------------------------------------------------------------
X10 = np.arange(20.0).reshape(10, 2)
Y10 = np.array([0, 1] * 5)


@pytest.mark.parametrize(
    ("X", "y", "kwargs", "match"),
    [
        (np.zeros((0, 2)), np.zeros(0), {}, "empty arrays"),
        (X10, np.where(np.arange(10) == 3, np.nan, 1.0), {}, r"labels y containing NaN.*index 3"),
        (X10, np.where(np.arange(10) == 3, np.inf, 1.0), {}, "labels y containing NaN or inf"),
        (np.where(X10 == 4, np.nan, X10), Y10, {}, "inputs X containing NaN"),
        (X10, Y10, {"fractions": (float("nan"), 0.5, 0.5)}, "fractions must be"),
        (X10, Y10, {"fractions": (1.2, -0.2)}, "fractions must be"),
        (X10, Y10, {"fractions": (0.5, 0.4)}, "fractions must be"),
        (X10, Y10, {"fractions": (1.0,)}, "fractions must be"),
        (X10, Y10, {"fractions": "abc"}, "fractions must be"),
        (X10, Y10, {"fractions": ((0.5, 0.5), (0.5, 0.5))}, "fractions must be"),
    ],
)
def test_split_refuses_bad_input(X, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        train_val_test_split(X, y, **kwargs)


def test_split_type_errors():
    with pytest.raises(TypeError, match="stratify must be True or False"):
        train_val_test_split(X10, Y10, stratify="yes")
    with pytest.raises(TypeError, match="seed"):
        train_val_test_split(X10, Y10, seed=True)


@pytest.mark.parametrize("shuffle", [False, True])
def test_dataloader_batches_are_copies_either_way(shuffle):
    X, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    X_before, y_before = X.copy(), y.copy()
    for xb, yb in DataLoader(X, y, batch_size=4, shuffle=shuffle, seed=0):
        xb -= 100
        yb[...] = -1
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"shuffle": "no"}, TypeError, "shuffle must be True or False"),
        ({"shuffle": 1}, TypeError, "shuffle must be True or False"),
        ({"drop_last": "yes"}, TypeError, "drop_last must be True or False"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive integer"),
        ({"batch_size": -4}, ValueError, "batch_size must be a positive integer"),
        ({"batch_size": 2.0}, ValueError, "batch_size must be a positive integer"),
        ({"batch_size": True}, ValueError, "batch_size must be a positive integer"),
        ({"seed": 1.5}, TypeError, "seed must be"),
    ],
)
def test_dataloader_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        DataLoader(X10, Y10, **kwargs)


def test_dataloader_refuses_empty_arrays():
    with pytest.raises(ValueError, match="empty arrays"):
        DataLoader(np.zeros((0, 2)), np.zeros(0))


# -- 10. gradient checks and Value -------------------------------------------------------------
@pytest.mark.parametrize("eps", [0.0, -1e-6, float("nan"), float("inf"), "small"])
def test_gradient_checks_refuse_a_bad_eps(eps):
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        numerical_gradient(lambda a: float(np.sum(a**2)), np.ones(3), eps=eps)
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        gradcheck(Tanh(), np.ones((2, 2)), eps=eps)


def test_numerical_gradient_refuses_a_non_scalar_or_nan_function():
    with pytest.raises(ValueError, match="one number"):
        numerical_gradient(lambda a: a * 2, np.ones(3))
    with pytest.raises(FloatingPointError, match="nan"):
        numerical_gradient(lambda a: float("nan"), np.ones(3))


def test_relative_error_refuses_shapes_that_would_broadcast():
    with pytest.raises(ValueError, match=r"same shape, got \(3,\) and \(3, 1\)"):
        relative_error(np.ones(3), np.ones((3, 1)))
    assert np.isnan(relative_error(np.array([np.nan, 1.0]), np.ones(2)))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: Value("3"), TypeError, "real number"),
        (lambda: Value(1.0) + "a", TypeError, "real number"),
        (lambda: Value(1.0) * None, TypeError, "real number"),
        (lambda: np.array([1.0, 2.0]) + Value(1.0), TypeError, "real number"),
        (lambda: Value(1.0) + np.array([1.0, 2.0]), TypeError, "real number"),
        (lambda: Value(float("nan")), ValueError, "finite numbers only"),
        (lambda: Value(1e200) * Value(1e200), ValueError, r"result of '\*' would be inf"),
        (lambda: Value(1000.0).exp(), OverflowError, "too large"),
        (lambda: Value(-1.0).log(), ValueError, "positive"),
    ],
)
def test_value_refuses_non_numbers_and_non_finite_results(call, error, match):
    with pytest.raises(error, match=match):
        call()

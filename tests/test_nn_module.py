"""Parameter, Module and Sequential (chapter 05): discovery, modes, state dicts, errors."""

import numpy as np
import pytest
import torch

from dlcore.check import gradcheck
from dlcore.nn import (
    BatchNorm1d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    Module,
    Parameter,
    ReLU,
    Sequential,
    Tanh,
)


def small_net():
    g = np.random.default_rng(0)
    return Sequential(Linear(4, 3, generator=g), ReLU(), BatchNorm1d(3), Dropout(0.1), Linear(3, 2, generator=g))


def test_parameter_keeps_float_arrays_and_defaults_the_rest():
    assert Parameter(np.zeros(2, np.float64)).dtype == np.float64
    assert Parameter([1.0, 2.0]).dtype == np.float32
    assert Parameter(np.arange(3)).dtype == np.float32
    p = Parameter(np.ones((2, 3)))
    assert p.grad.shape == (2, 3) and not p.grad.any()
    with pytest.raises(ValueError, match="float32 or np.float64"):
        Parameter(np.zeros(2, np.float16))


def test_parameter_copies_its_data():
    array = np.zeros(3)
    p = Parameter(array)
    p.data[0] = 1
    assert array[0] == 0


def test_parameters_are_found_in_order_through_submodules():
    net = small_net()
    names = [name for name, _ in net.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    assert len(list(net.parameters())) == 6


def test_state_dict_names_match_torch():
    ours = small_net().state_dict()
    theirs = torch.nn.Sequential(
        torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.BatchNorm1d(3), torch.nn.Dropout(0.1), torch.nn.Linear(3, 2)
    ).state_dict()
    assert list(ours) == [name for name in theirs if not name.endswith("num_batches_tracked")]
    for name, value in ours.items():
        assert value.shape == tuple(theirs[name].shape)


def test_state_dict_is_a_snapshot():
    net = small_net()
    state = net.state_dict()
    net[0].weight.data += 1
    assert not np.array_equal(state["0.weight"], net[0].weight.data)


def test_load_state_dict_round_trip_in_place():
    source, target = small_net(), Sequential(Linear(4, 3), ReLU(), BatchNorm1d(3), Dropout(0.1), Linear(3, 2))
    source[2].running_mean[:] = 5
    weight_array = target[0].weight.data
    target.load_state_dict(source.state_dict())
    assert target[0].weight.data is weight_array  # copied in place: optimizers keep working
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[name], value)


def test_load_state_dict_names_every_problem():
    net = small_net()
    state = net.state_dict()
    del state["0.bias"]
    state["9.weight"] = np.zeros(2)
    state["4.weight"] = np.zeros((3, 3))
    with pytest.raises(ValueError) as error:
        net.load_state_dict(state)
    message = str(error.value)
    assert "missing arrays: ['0.bias']" in message
    assert "unexpected arrays: ['9.weight']" in message
    assert "4.weight: expected shape (2, 3), got (3, 3)" in message


def test_load_state_dict_not_strict_ignores_names_but_not_shapes():
    net = small_net()
    net.load_state_dict({"0.bias": np.ones(3), "extra": np.zeros(1)}, strict=False)
    np.testing.assert_array_equal(net[0].bias.data, np.ones(3))
    with pytest.raises(ValueError, match="wrong shape"):
        net.load_state_dict({"0.bias": np.ones(4)}, strict=False)


def test_train_and_eval_reach_every_submodule():
    net = small_net()
    assert net.training and all(m.training for m in net)
    assert net.eval() is net
    assert not net.training and not any(m.training for m in net)
    net.train()
    assert all(m.training for m in net)


def test_zero_grad_clears_every_parameter():
    net = small_net()
    for p in net.parameters():
        p.grad += 1
    net.zero_grad()
    assert not any(p.grad.any() for p in net.parameters())


def test_sequential_indexing_slicing_and_length():
    net = small_net()
    assert len(net) == 5
    assert isinstance(net[0], Linear) and isinstance(net[-1], Linear)
    head = net[:2]
    assert isinstance(head, Sequential) and len(head) == 2 and head[0] is net[0]
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "BatchNorm1d", "Dropout", "Linear"]
    net.append(Tanh())
    assert isinstance(net[5], Tanh)


def test_sequential_rejects_classes_and_non_modules():
    with pytest.raises(TypeError, match=r"argument 1 is a type; did you forget the parentheses"):
        Sequential(Linear(2, 2), ReLU)
    with pytest.raises(TypeError, match="takes a module"):
        Sequential().append(3)


def test_sequential_matches_torch():
    rng = np.random.default_rng(0)
    net = Sequential(Linear(4, 5, dtype=np.float64, generator=rng), Tanh(), Linear(5, 2, dtype=np.float64, generator=rng))
    reference = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)).double()
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})
    x, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
    x_t = torch.tensor(x, requires_grad=True)
    reference(x_t).backward(torch.from_numpy(g))
    np.testing.assert_allclose(net(x), reference(x_t).detach().numpy(), rtol=1e-8)
    np.testing.assert_allclose(net.backward(g), x_t.grad.numpy(), rtol=1e-8)
    for (name, p), (_, p_t) in zip(net.named_parameters(), reference.named_parameters(), strict=True):
        np.testing.assert_allclose(p.grad, p_t.grad.numpy(), rtol=1e-8, err_msg=name)


def test_small_cnn_gradcheck():
    rng = np.random.default_rng(1)
    net = Sequential(
        Conv2d(1, 2, 3, padding=1, dtype=np.float64, generator=rng),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(8, 3, dtype=np.float64, generator=rng),
    )
    assert gradcheck(net, rng.standard_normal((2, 1, 4, 4))) < 1e-7


def test_needs_input_grad_on_the_first_layer_only():
    rng = np.random.default_rng(0)
    net = Sequential(Linear(3, 4, dtype=np.float64, generator=rng), ReLU(), Linear(4, 2, dtype=np.float64, generator=rng))
    x = rng.standard_normal((5, 3))
    net(x)
    full = net.backward(np.ones((5, 2)))
    grads = [p.grad.copy() for p in net.parameters()]
    net.zero_grad()
    net[0].needs_input_grad = False
    net(x)
    assert net.backward(np.ones((5, 2))) is None and full.shape == (5, 3)
    for p, expected in zip(net.parameters(), grads, strict=True):
        np.testing.assert_array_equal(p.grad, expected)
    net[0].needs_input_grad, net[2].needs_input_grad = True, False
    net(x)
    with pytest.raises(RuntimeError, match=r"module 2 \(Linear\) returned no input gradient.*module 1 \(ReLU\)"):
        net.backward(np.ones((5, 2)))


def test_repr_reads_like_torch():
    text = repr(Sequential(Linear(2, 3), ReLU(), Conv2d(1, 2, 3, padding=1)))
    assert "(0): Linear(in_features=2, out_features=3, bias=True)" in text
    assert "(1): ReLU()" in text
    assert "(2): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))" in text


def test_a_custom_module_without_super_init_still_works():
    class Affine(Module):
        def __init__(self):
            self.scale = Parameter(np.ones(1))

        def forward(self, x):
            self._x = x
            return self.scale.data * x

        def backward(self, grad_output):
            self.scale.grad += np.sum(grad_output * self._cached("_x"))
            return grad_output * self.scale.data

    layer = Affine()
    assert layer.training and [n for n, _ in layer.named_parameters()] == ["scale"]
    assert gradcheck(layer, np.array([1.0, 2.0])) < 1e-7
    with pytest.raises(RuntimeError, match=r"Affine.backward\(\) was called before forward"):
        Affine().backward(np.ones(2))


def test_base_module_methods_must_be_implemented():
    with pytest.raises(NotImplementedError, match="must implement forward"):
        Module()(np.ones(2))
    with pytest.raises(NotImplementedError, match="must implement backward"):
        Module().backward(np.ones(2))

"""Direct tests of the chapter 08 checkers: correct answers pass, wrong and odd ones fail by name."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from checker_helpers import SHARED_BAD, run_checker
from torch import nn

from dlcore import nn as dnn
from dlcore.exercises import ch08 as check

# ---- reference solutions (the same as in exercises/solutions/08_pytorch.ipynb) -----------------


def train_step(model, xb, yb, loss_fn, optimizer):
    optimizer.zero_grad()
    loss = loss_fn(model(xb), yb)
    loss.backward()
    optimizer.step()
    return loss.item()


ACTIVATIONS = {dnn.ReLU: nn.ReLU, dnn.Tanh: nn.Tanh, dnn.Sigmoid: nn.Sigmoid}


def to_torch(dl_net):
    layers = []
    for layer in dl_net:
        if isinstance(layer, dnn.Linear):
            linear = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None,
                               dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(layer.weight.data))
                if layer.bias is not None:
                    linear.bias.copy_(torch.from_numpy(layer.bias.data))
            layers.append(linear)
        else:
            layers.append(ACTIVATIONS[type(layer)]())
    return nn.Sequential(*layers)


def restore(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


REFERENCE = {"ex1": train_step, "ex2": to_torch, "ex3": restore}


def _run(capsys, name, answer):
    return run_checker(capsys, check, name, answer)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_solution_passes(capsys, name):
    passed, out = _run(capsys, name, REFERENCE[name])
    assert passed, out
    assert out.startswith("✓")


@pytest.mark.parametrize("name", sorted(check.REFERENCE_ANSWERS))
def test_module_reference_answers_and_rewrites_pass(capsys, name):
    for answer in [check.REFERENCE_ANSWERS[name], *check.CORRECT_REWRITES.get(name, [])]:
        passed, out = _run(capsys, name, answer)
        assert passed, (answer.__name__, out)


def test_every_checker_has_a_reference_answer():
    from dlcore.exercises import checkers_of

    assert checkers_of("ch08") == ["ex1", "ex2", "ex3"] == sorted(check.REFERENCE_ANSWERS)


COMMON_BAD = SHARED_BAD + [
    ("a function that returns None", lambda *a, **k: None, "None"),
    ("a function with the wrong arguments", lambda: 1, "TypeError"),
]


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("desc, answer, words", COMMON_BAD, ids=[c[0] for c in COMMON_BAD])
def test_odd_answers_fail_with_a_message(capsys, name, desc, answer, words):
    if name == "ex1" and desc == "a function that returns None":
        words = "did not change the parameters"     # the first mistake: it does not train at all
    passed, out = _run(capsys, name, answer)
    assert passed is False, f"{name} accepted {desc}"
    assert out.startswith("✗") and words in out, out


def test_system_exit_inside_the_answer_is_feedback(capsys):
    def leaves(*args):
        raise SystemExit(3)

    for name in REFERENCE:
        passed, out = _run(capsys, name, leaves)
        assert passed is False and "exit" in out, out


# ---- exercise 1 -----------------------------------------------------------------------------


def _no_zero_grad(model, xb, yb, loss_fn, optimizer):
    loss = loss_fn(model(xb), yb)
    loss.backward()
    optimizer.step()
    return loss.item()


def _no_step(model, xb, yb, loss_fn, optimizer):
    optimizer.zero_grad()
    loss = loss_fn(model(xb), yb)
    loss.backward()
    return loss.item()


def _backward_twice(model, xb, yb, loss_fn, optimizer):
    optimizer.zero_grad()
    loss = loss_fn(model(xb), yb)
    loss.backward()
    loss.backward()
    optimizer.step()
    return loss.item()


def _backward_twice_retained(model, xb, yb, loss_fn, optimizer):
    optimizer.zero_grad()
    loss = loss_fn(model(xb), yb)
    loss.backward(retain_graph=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def _returns_tensor(model, xb, yb, loss_fn, optimizer):
    optimizer.zero_grad()
    loss = loss_fn(model(xb), yb)
    loss.backward()
    optimizer.step()
    return loss


def _loss_after_step(model, xb, yb, loss_fn, optimizer):
    train_step(model, xb, yb, loss_fn, optimizer)
    with torch.no_grad():
        return loss_fn(model(xb), yb).item()


def _summed(model, xb, yb, loss_fn, optimizer):
    return train_step(model, xb, yb, loss_fn, optimizer) * len(xb)


def _own_optimizer(model, xb, yb, loss_fn, optimizer):
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)          # a hard-coded optimizer and rate
    return train_step(model, xb, yb, loss_fn, sgd)


def _step_before_backward(model, xb, yb, loss_fn, optimizer):
    optimizer.zero_grad()
    loss = loss_fn(model(xb), yb)
    optimizer.step()
    loss.backward()
    return loss.item()


def _float16_loss(model, xb, yb, loss_fn, optimizer):
    return np.float16(train_step(model, xb, yb, loss_fn, optimizer))


def _hard_coded_loss(model, xb, yb, loss_fn, optimizer):
    train_step(model, xb, yb, loss_fn, optimizer)
    return 1.0986


def test_ex1_names_each_mistake(capsys):
    cases = [
        (_no_zero_grad, "left over from an earlier backward"),
        (_no_step, "did not change the parameters"),
        (_backward_twice, "backward through the graph a second time"),
        (_backward_twice_retained, "backward() ran twice"),
        (_returns_tensor, "returned a torch.Tensor"),
        (_loss_after_step, "*after* the update"),
        (_summed, "batch size N = 8 times"),
        (_own_optimizer, "not as one step of the given optimizer"),
        (_step_before_backward, "did not change the parameters"),
        (_float16_loss, "float16"),
        (_hard_coded_loss, "expected the batch loss"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex1", answer)
        assert passed is False, (answer.__name__, out)
        assert words in out, (answer.__name__, out)


def test_ex1_accepts_other_correct_forms(capsys):
    def model_zero_grad(model, xb, yb, loss_fn, optimizer):
        model.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        return np.float64(loss.detach().numpy())

    def float32_number(model, xb, yb, loss_fn, optimizer):
        return np.float32(train_step(model, xb, yb, loss_fn, optimizer))

    for answer in (model_zero_grad, float32_number):
        passed, out = _run(capsys, "ex1", answer)
        assert passed, (answer.__name__, out)


# ---- exercise 2 -----------------------------------------------------------------------------


def _port(dl_net, *, transpose=False, share=False, skip_bias=False, activation=None, dtype=torch.float64,
          drop_last_activation=False):
    layers = []
    for layer in dl_net:
        if isinstance(layer, dnn.Linear):
            w = layer.weight.data.T if transpose else layer.weight.data
            linear = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None,
                               dtype=dtype)
            with torch.no_grad():
                if share:
                    linear.weight = nn.Parameter(torch.from_numpy(w))
                elif transpose:
                    linear.weight = nn.Parameter(torch.tensor(w))
                else:
                    linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
                if layer.bias is not None and not skip_bias:
                    linear.bias.copy_(torch.from_numpy(layer.bias.data))
            layers.append(linear)
        else:
            layers.append(activation() if activation else ACTIVATIONS[type(layer)]())
    if drop_last_activation and not isinstance(layers[-1], nn.Linear):
        layers = layers[:-1]
    return nn.Sequential(*layers)


def _hard_coded_net(dl_net):
    """Right for the first test network only: its sizes are written in."""
    net = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2)).double()
    with torch.no_grad():
        for t_layer, d_layer in zip(net[::2], [m for m in dl_net if isinstance(m, dnn.Linear)]):
            if t_layer.weight.shape == d_layer.weight.shape:
                t_layer.weight.copy_(torch.from_numpy(d_layer.weight.data))
                t_layer.bias.copy_(torch.from_numpy(d_layer.bias.data))
    return net


def _fresh_weights(dl_net):
    return nn.Sequential(*[nn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
                           if isinstance(m, dnn.Linear) else ACTIVATIONS[type(m)]() for m in dl_net])


def _plain_tensors(dl_net):
    class Frozen(nn.Module):
        def __init__(self):
            super().__init__()
            self.port = _port(dl_net)
            for p in self.port.parameters():
                p.requires_grad_(False)

        def forward(self, x):
            return self.port(x)

    return Frozen()


def test_ex2_names_each_mistake(capsys):
    cases = [
        (lambda net: _port(net, transpose=True), "the transpose"),
        (lambda net: _port(net, share=True), "shares memory"),
        (lambda net: _port(net, skip_bias=True), "not dlcore's bias"),
        (lambda net: _port(net, activation=nn.ReLU), "outputs differ"),
        (lambda net: _port(net, drop_last_activation=True), "outputs differ"),
        (_hard_coded_net, "nn.Linear layers; the dlcore network has 3"),
        (_fresh_weights, "not dlcore's values"),
        (_plain_tensors, "not a trainable nn.Parameter"),
        (lambda net: net, "returned a dlcore network"),
        (lambda net: [m for m in net], "not a torch.nn.Module"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex2", answer)
        assert passed is False, (words, out)
        assert words in out, (words, out)


def test_ex2_accepts_float32_ports(capsys):
    passed, out = _run(capsys, "ex2", lambda net: _port(net, dtype=torch.float32))
    assert passed, out


def test_ex2_refuses_an_answer_that_edits_the_dlcore_weights(capsys):
    def vandal(dl_net):
        dl_net[0].weight.data[...] = 0.0
        return to_torch(dl_net)

    passed, out = _run(capsys, "ex2", vandal)
    assert passed is False and "changed the weights of the dlcore network" in out, out


# ---- exercise 3 -----------------------------------------------------------------------------


def _weights_only_false(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=False)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


def _no_optimizer(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    return checkpoint["epoch"]


def _new_optimizer(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    optimizer = torch.optim.Adam(model.parameters())
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


def _no_model(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


def _next_epoch(path, model, optimizer):
    return restore(path, model, optimizer) + 1


def _float_epoch(path, model, optimizer):
    return float(restore(path, model, optimizer))


def _tensor_epoch(path, model, optimizer):
    return torch.tensor(restore(path, model, optimizer))


def _fixed_epoch(path, model, optimizer):
    restore(path, model, optimizer)
    return 3


def _whole_dict(path, model, optimizer):
    model.load_state_dict(torch.load(path, weights_only=True))
    return 0


def test_ex3_names_each_mistake(capsys):
    cases = [
        (_weights_only_false, "unpickled an arbitrary Python object"),
        (_no_optimizer, "optimizer state was not restored"),
        (_new_optimizer, "optimizer state was not restored"),
        (_no_model, "weights are not those of the checkpoint"),
        (_next_epoch, "the next epoch"),
        (_float_epoch, "not an int"),
        (_tensor_epoch, "returned a tensor"),
        (_fixed_epoch, "expected the stored epoch 7"),
        (_whole_dict, "RuntimeError"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex3", answer)
        assert passed is False, (answer.__name__, out)
        assert words in out, (answer.__name__, out)


def test_ex3_canary_is_not_left_set(capsys):
    _run(capsys, "ex3", _weights_only_false)
    passed, out = _run(capsys, "ex3", restore)
    assert passed, out
    with pytest.raises(pickle.UnpicklingError):           # the canary really is refused by weights_only
        import io

        buffer = io.BytesIO()
        torch.save({"x": check._Canary()}, buffer)
        buffer.seek(0)
        torch.load(buffer, weights_only=True)


def test_checkers_leave_torch_global_rng_alone(capsys):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    for name in ("ex1", "ex3"):          # ex2's answer draws initial weights: that is the learner's
        _run(capsys, name, REFERENCE[name])
    assert torch.equal(torch.rand(3), expected)

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


# ---- review battery: subtler wrong answers and other correct ones -------------------------------


def _zero_grad_after_step(model, xb, yb, loss_fn, optimizer):
    """Right inside a loop that starts from clean gradients, wrong for one step given stale ones."""
    loss = loss_fn(model(xb), yb)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()


def _forward_under_no_grad(model, xb, yb, loss_fn, optimizer):
    optimizer.zero_grad()
    with torch.no_grad():
        loss = loss_fn(model(xb), yb)
    try:
        loss.backward()
    except RuntimeError:
        pass
    optimizer.step()
    return loss.item()


def _detached_loss(model, xb, yb, loss_fn, optimizer):
    optimizer.zero_grad()
    loss = loss_fn(model(xb), yb).detach().requires_grad_()
    loss.backward()
    optimizer.step()
    return loss.item()


def _to_float64(model, xb, yb, loss_fn, optimizer):
    model.double()
    return train_step(model, xb.double(), yb if yb.dtype == torch.long else yb.double(), loss_fn, optimizer)


def _to_float32(model, xb, yb, loss_fn, optimizer):
    model.float()
    return train_step(model, xb.float(), yb if yb.dtype == torch.long else yb.float(), loss_fn, optimizer)


def _eval_mode(model, xb, yb, loss_fn, optimizer):
    model.eval()
    return train_step(model, xb, yb, loss_fn, optimizer)


def _eval_forward_then_train(model, xb, yb, loss_fn, optimizer):
    optimizer.zero_grad()
    model.eval()
    loss = loss_fn(model(xb), yb)
    model.train()
    loss.backward()
    optimizer.step()
    return loss.item()


def _python_int(model, xb, yb, loss_fn, optimizer):
    return int(train_step(model, xb, yb, loss_fn, optimizer))


def _clipped(model, xb, yb, loss_fn, optimizer):
    optimizer.zero_grad()
    loss = loss_fn(model(xb), yb)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 0.1)
    optimizer.step()
    return loss.item()


def _doubled_loss(model, xb, yb, loss_fn, optimizer):
    optimizer.zero_grad()
    loss = loss_fn(model(xb), yb)
    (2 * loss).backward()
    optimizer.step()
    return loss.item()


def _manual_sgd(model, xb, yb, loss_fn, optimizer):
    model.zero_grad()
    loss = loss_fn(model(xb), yb)
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= optimizer.param_groups[0]["lr"] * p.grad
    return loss.item()


def test_ex1_review_battery_wrong(capsys):
    cases = [
        (_zero_grad_after_step, "left over from an earlier backward"),
        (_forward_under_no_grad, "did not change the parameters"),
        (_detached_loss, "did not change the parameters"),
        (_to_float64, "changed the model's parameters from float32 to float64"),
        (_to_float32, "changed the model's parameters from float64 to float32"),
        (_eval_mode, "left the model in evaluation mode"),
        (_eval_forward_then_train, "forward pass in evaluation mode"),
        (_python_int, "expected the batch loss"),
        (_clipped, "not as one step of the given optimizer"),
        (_doubled_loss, "used twice the gradient"),
        (_manual_sgd, "not as one step of the given optimizer"),
    ]
    for answer, words in cases:
        passed, out = _run(capsys, "ex1", answer)
        assert passed is False, (answer.__name__, out)
        assert words in out, (answer.__name__, out)
        assert "could not be checked" not in out, (answer.__name__, out)


def test_ex1_review_battery_correct(capsys):
    def set_to_none(model, xb, yb, loss_fn, optimizer):
        for p in model.parameters():
            p.grad = None
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        return loss.detach().item()

    def item_before_backward(model, xb, yb, loss_fn, optimizer):
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        value = loss.item()
        loss.backward()
        optimizer.step()
        return value

    def autograd_grad(model, xb, yb, loss_fn, optimizer):
        params = list(model.parameters())
        loss = loss_fn(model(xb), yb)
        for p, g in zip(params, torch.autograd.grad(loss, params)):
            p.grad = g
        optimizer.step()
        return float(loss.detach())

    def train_mode_first(model, xb, yb, loss_fn, optimizer):
        model.train()
        return train_step(model, xb, yb, loss_fn, optimizer)

    for answer in (set_to_none, item_before_backward, autograd_grad, train_mode_first):
        passed, out = _run(capsys, "ex1", answer)
        assert passed, (answer.__name__, out)


def _port_with(dl_net, how):
    layers = []
    for layer in dl_net:
        if not isinstance(layer, dnn.Linear):
            layers.append(ACTIVATIONS[type(layer)]())
            continue
        dtype = torch.from_numpy(layer.weight.data).dtype
        linear = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None, dtype=dtype)
        if how == "data":
            linear.weight.data = torch.from_numpy(layer.weight.data)
            if layer.bias is not None:
                linear.bias.data = torch.from_numpy(layer.bias.data)
        else:
            if how in ("float16", "bfloat16"):
                linear = linear.to(getattr(torch, how))
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(layer.weight.data))
            if layer.bias is not None and how == "shared_bias":
                linear.bias = nn.Parameter(torch.from_numpy(layer.bias.data))
            elif layer.bias is not None:
                with torch.no_grad():
                    linear.bias.copy_(torch.from_numpy(layer.bias.data))
        layers.append(linear)
    if how == "detached_output":
        seq = nn.Sequential(*layers)

        class Detached(nn.Module):
            def __init__(self):
                super().__init__()
                self.seq = seq

            def forward(self, x):
                return self.seq(x).detach()

        return Detached()
    if how == "extra_softmax":
        layers.append(nn.Softmax(dim=-1))
    if how == "modulelist":
        class Stack(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList(layers)

            def forward(self, x):
                for m in self.layers:
                    x = m(x)
                return x

        return Stack()
    return nn.Sequential(*layers)


def test_ex2_review_battery(capsys):
    wrong = [
        ("data", "shares memory with the dlcore weight"),
        ("shared_bias", "shares memory with the dlcore bias"),
        ("float16", "stores its weight in float16"),
        ("bfloat16", "stores its weight in bfloat16"),
        ("detached_output", "does not depend on any trainable parameter"),
        ("extra_softmax", "outputs differ"),
    ]
    for how, words in wrong:
        passed, out = _run(capsys, "ex2", lambda net, how=how: _port_with(net, how))
        assert passed is False, (how, out)
        assert words in out, (how, out)
        assert "could not be checked" not in out, (how, out)
    for how in ("plain", "modulelist"):
        passed, out = _run(capsys, "ex2", lambda net, how=how: _port_with(net, how))
        assert passed, (how, out)


def _assign_true(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"], assign=True)     # new Parameter objects
    optimizer.load_state_dict(checkpoint["optimizer"])
    return int(checkpoint["epoch"])


def _epoch_not_loaded(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return 0


def _renamed_keys_not_strict(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict({"net." + k: v for k, v in checkpoint["model"].items()}, strict=False)
    optimizer.load_state_dict(checkpoint["optimizer"])
    return int(checkpoint["epoch"])


def test_ex3_review_battery(capsys):
    wrong = [
        (_assign_true, "not the ones the optimizer holds"),
        (_epoch_not_loaded, "expected the stored epoch 3"),
        (_renamed_keys_not_strict, "weights are not those of the checkpoint"),
    ]
    for answer, words in wrong:
        passed, out = _run(capsys, "ex3", answer)
        assert passed is False, (answer.__name__, out)
        assert words in out, (answer.__name__, out)

    def not_strict(path, model, optimizer):
        checkpoint = torch.load(path, weights_only=True)
        model.load_state_dict(checkpoint["model"], strict=False)
        optimizer.load_state_dict(checkpoint["optimizer"])
        return np.int64(checkpoint["epoch"])

    def memory_mapped(path, model, optimizer):
        checkpoint = torch.load(path, weights_only=True, mmap=True)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        return int(checkpoint["epoch"])

    for answer in (not_strict, memory_mapped):
        passed, out = _run(capsys, "ex3", answer)
        assert passed, (answer.__name__, out)

"""Checkers for the chapter 08 exercises ("From NumPy to PyTorch").

Used in ``exercises/08_pytorch.ipynb``::

    from dlcore.exercises import ch08 as check
    check.ex1(train_step)

* :func:`ex1` -- ``train_step(model, xb, yb, loss_fn, optimizer) -> float``: one training step.
* :func:`ex2` -- ``to_torch(dl_net) -> torch.nn.Module``: port a ``dlcore.nn.Sequential`` of
  ``Linear``, ``ReLU``, ``Tanh`` and ``Sigmoid`` layers to ``torch.nn``, weights copied.
* :func:`ex3` -- ``restore(path, model, optimizer) -> int``: load a checkpoint saved as
  ``{"epoch": ..., "model": ..., "optimizer": ...}``, safely, and return its epoch.

Each checker runs the learner's function on several models, optimizers and sizes, next to a
reference run from the same start, and names the mistake when the two differ: a forgotten
``zero_grad()`` or ``step()``, a second ``backward()``, a tensor returned where a float is
asked, a transposed or shared weight, an optimizer state that was not restored. None of them
raises.
"""

from __future__ import annotations

import numbers
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import nn as dnn
from ._core import call, checker, expect

# ---- shared helpers ----------------------------------------------------------------------------


def _seeded(seed: int):
    """A context in which torch's global generator is seeded, restored afterwards."""
    ctx = torch.random.fork_rng(devices=[])
    ctx.__enter__()
    torch.manual_seed(seed)
    return ctx


def _params(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor], dtype) -> bool:
    """Same shapes, dtypes and (to the tolerance of ``dtype``) values; never raises."""
    rtol, atol = (1e-9, 1e-12) if dtype == torch.float64 else (1e-5, 1e-6)
    return len(a) == len(b) and all(x.shape == y.shape and x.dtype == y.dtype
                                    and torch.allclose(x, y, rtol=rtol, atol=atol) for x, y in zip(a, b))


def _attempt(fn, *args):
    """Run the learner's function and report whether it raised an ordinary exception.

    Called through :func:`call`, so time limits and ``SystemExit`` are handled there.
    """
    try:
        return "returned", fn(*args)
    except Exception as err:  # noqa: BLE001  (ex3 expects some inputs to be refused)
        return "raised", err


def _reraise(err: BaseException):
    raise err


# ---- exercise 1: one training step ------------------------------------------------------------


def _mlp(sizes, activation=nn.ReLU):
    """Linear layers with ``activation`` between them; ``activation="bn-relu"`` puts a
    BatchNorm1d before each ReLU, so that a step run in eval() mode gives other numbers."""
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        if activation == "bn-relu":
            layers += [nn.Linear(n_in, n_out), nn.Sequential(nn.BatchNorm1d(n_out), nn.ReLU())]
        else:
            layers += [nn.Linear(n_in, n_out), activation()]
    return nn.Sequential(*layers[:-1])


#: (what, model sizes, activation, dtype, loss, optimizer factory, batch size, seed)
_STEP_CASES = [
    ("a Linear(5, 3) classifier with CrossEntropyLoss and SGD(lr=0.1)", [5, 3], nn.ReLU,
     torch.float32, "ce", lambda ps: torch.optim.SGD(ps, lr=0.1), 8, 1),
    ("a 4-8-2 float64 MLP with MSELoss and SGD(lr=0.03, momentum=0.9)", [4, 8, 2], nn.ReLU,
     torch.float64, "mse", lambda ps: torch.optim.SGD(ps, lr=0.03, momentum=0.9), 6, 2),
    ("a 3-6-1 Tanh MLP with MSELoss and Adam(lr=0.01)", [3, 6, 1], nn.Tanh,
     torch.float32, "mse", lambda ps: torch.optim.Adam(ps, lr=0.01), 5, 3),
    ("a 7-9-4 float64 MLP with CrossEntropyLoss and Adam(lr=0.002, betas=(0.8, 0.95))", [7, 9, 4],
     nn.ReLU, torch.float64, "ce", lambda ps: torch.optim.Adam(ps, lr=0.002, betas=(0.8, 0.95)), 12, 4),
    ("a 6-10-3 MLP with BatchNorm1d, CrossEntropyLoss and SGD(lr=0.2)", [6, 10, 3], "bn-relu",
     torch.float32, "ce", lambda ps: torch.optim.SGD(ps, lr=0.2), 10, 5),
]


def _step_setup(case):
    """A fresh model and optimizer for a case (the same every time), with stale gradients."""
    _, sizes, activation, dtype, loss, make_opt, _, seed = case
    ctx = _seeded(seed)
    try:
        model = _mlp(sizes, activation).to(dtype)
    finally:
        ctx.__exit__(None, None, None)
    optimizer = make_opt(model.parameters())
    for i, p in enumerate(model.parameters()):        # left over from an earlier backward pass
        p.grad = torch.full_like(p, 0.5 if i % 2 == 0 else -0.25)
    loss_fn = nn.CrossEntropyLoss() if loss == "ce" else nn.MSELoss()
    return model, optimizer, loss_fn


def _step_batch(case, step):
    _, sizes, _, dtype, loss, _, n, seed = case
    g = torch.Generator().manual_seed(100 * seed + step)
    xb = torch.randn(n, sizes[0], generator=g, dtype=dtype)
    if loss == "ce":
        yb = torch.randint(0, sizes[-1], (n,), generator=g)
    else:
        yb = torch.randn(n, sizes[-1], generator=g, dtype=dtype)
    return xb, yb


def _reference_step(model, xb, yb, loss_fn, optimizer, *, zero=True, backward_twice=False,
                    eval_forward=False) -> float:
    if zero:
        optimizer.zero_grad()
    model.train(not eval_forward)
    loss = loss_fn(model(xb), yb)
    model.train()
    loss.backward(retain_graph=backward_twice)
    if backward_twice:
        loss.backward()
    optimizer.step()
    return loss.item()


def _train_step_reference(model, xb, yb, loss_fn, optimizer):
    """The model answer of exercise 1."""
    optimizer.zero_grad()
    loss = loss_fn(model(xb), yb)
    loss.backward()
    optimizer.step()
    return loss.item()


def _variant_params(case, steps, **kw) -> list[torch.Tensor]:
    """Parameters after ``steps`` steps of a (possibly wrong) reference from the case's start."""
    model, optimizer, loss_fn = _step_setup(case)
    for step in range(steps):
        xb, yb = _step_batch(case, step)
        _reference_step(model, xb, yb, loss_fn, optimizer, **kw)
    return _params(model)


def _check_loss_value(value, expected, name, case, step, ref_model_after, n):
    expect(value is not None, f"{name} returned None.", "Return the loss as a number: `return loss.item()`.")
    if isinstance(value, torch.Tensor):
        expect(False, f"{name} returned a torch.Tensor ({tuple(value.shape)}, {value.dtype}), not a float.",
               "Return `loss.item()`: a Python float. Keeping the tensor would also keep its whole graph "
               "alive, and on a GPU every .item() waits for the GPU.")
    expect(isinstance(value, numbers.Real) and not isinstance(value, bool),
           f"{name} returned a {type(value).__name__}, not a float.", "Return `loss.item()`.")
    if isinstance(value, np.floating) and np.dtype(type(value)).itemsize < 4:
        expect(False, f"{name} returned a {np.dtype(type(value))} number, which keeps only about 3 digits.",
               "Return `loss.item()`, a Python float.")
    value = float(value)
    expect(np.isfinite(value), f"{name} returned {value}.", "Return the loss of the forward pass, `loss.item()`.")
    if np.isclose(value, expected, rtol=1e-5, atol=1e-7):
        return
    xb, yb = _step_batch(case, step)
    _, _, loss_fn = _step_setup(case)
    with torch.no_grad():
        after = loss_fn(ref_model_after(xb), yb).item()
    expect(not np.isclose(value, after, rtol=1e-5, atol=1e-7),
           f"{name} returned {value:.6g}, the loss *after* the update; expected {expected:.6g}, the loss of "
           "the forward pass that the gradients came from.", "Return `loss.item()` of the loss you called "
           "backward() on; do not compute the loss again after optimizer.step().")
    expect(not np.isclose(value, expected * n, rtol=1e-5),
           f"{name} returned {value:.6g}, the batch size N = {n} times the mean loss {expected:.6g}.",
           "loss_fn already averages over the batch: return `loss.item()` as it is.")
    expect(False, f"{name} returned {value:.6g}, expected the batch loss {expected:.6g}.",
           "Compute `loss = loss_fn(model(xb), yb)` with the arguments given, and return `loss.item()`.")


@checker("one training step")
def ex1(train_step):
    """``train_step(model, xb, yb, loss_fn, optimizer)`` -> the batch loss as a float; updates the model."""
    for case in _STEP_CASES:
        what, dtype, n = case[0], case[3], case[6]
        model, optimizer, loss_fn = _step_setup(case)
        ref_model, ref_opt, ref_loss_fn = _step_setup(case)
        start = _params(model)
        for step in range(2):
            xb, yb = _step_batch(case, step)
            name = f"train_step on {what} (step {step + 1}, batch of {n})"
            expected = _reference_step(ref_model, xb.clone(), yb.clone(), ref_loss_fn, ref_opt)
            value = call(train_step, model, xb.clone(), yb.clone(), loss_fn, optimizer)
            dtypes = sorted({str(p.dtype).replace("torch.", "") for p in model.parameters()})
            expect(dtypes == [str(dtype).replace("torch.", "")],
                   f"{name} changed the model's parameters from {str(dtype).replace('torch.', '')} to "
                   f"{', '.join(dtypes)}.",
                   "Use the model as it is given: no model.float(), .double() or .half() inside a training "
                   "step (it would also leave the optimizer updating the old tensors' dtype).")
            expect(all(m.training for m in model.modules()),
                   f"{name} left the model in evaluation mode (model.eval()).",
                   "A training step runs in training mode, where dropout drops and batch norm uses the "
                   "batch's statistics; do not call model.eval() in train_step.")
            got = _params(model)
            want = _params(ref_model)
            if not _same(got, want, dtype):
                before = start if step == 0 else _variant_params(case, step)
                expect(not _same(got, before, dtype),
                       f"{name} did not change the parameters.",
                       "Call optimizer.step(), and call it after loss.backward(): backward() computes the "
                       "gradients, and step() uses them to change the parameters.")
                expect(not _same(got, _variant_params(case, step + 1, zero=False), dtype),
                       f"{name} added the new gradients to ones left over from an earlier backward pass.",
                       "Start every step with optimizer.zero_grad(): PyTorch adds into .grad on every "
                       "backward().")
                expect(not _same(got, _variant_params(case, step + 1, backward_twice=True), dtype),
                       f"{name} used twice the gradient: backward() ran twice on the same loss.",
                       "Call loss.backward() once per step (without retain_graph); gradients add up.")
                expect(not _same(got, _variant_params(case, step + 1, eval_forward=True), dtype),
                       f"{name} ran the forward pass in evaluation mode: batch norm used its running "
                       "statistics instead of the batch's.",
                       "Leave the model in training mode for the training step; eval() is for evaluation.")
                expect(False, f"{name} changed the parameters, but not as one step of the given optimizer "
                       "on this batch would.",
                       "Use the optimizer, loss_fn and data you are given (no optimizer or learning rate of "
                       "your own), in the order zero_grad(), forward and loss, backward(), step().")
            _check_loss_value(value, expected, name, case, step, ref_model, n)
    return ("Five models and optimizers (one with batch norm), two steps each, match "
            "zero_grad -> forward -> backward -> step.")


# ---- exercise 2: port a dlcore network to torch.nn ---------------------------------------------


def _dl_nets():
    """(what, dlcore net, dtype) cases with non-square layers, every activation, and no bias."""
    rng = np.random.default_rng(8)
    a = dnn.Sequential(dnn.Linear(3, 5, dtype=np.float64, generator=rng), dnn.ReLU(),
                       dnn.Linear(5, 2, dtype=np.float64, generator=rng))
    b = dnn.Sequential(dnn.Linear(4, 7, dtype=np.float32, generator=rng), dnn.Tanh(),
                       dnn.Linear(7, 6, dtype=np.float32, generator=rng), dnn.Sigmoid(),
                       dnn.Linear(6, 1, dtype=np.float32, generator=rng))
    c = dnn.Sequential(dnn.Linear(6, 3, bias=False, dtype=np.float64, generator=rng), dnn.ReLU(),
                       dnn.Linear(3, 4, dtype=np.float64, generator=rng), dnn.Tanh())
    for net in (a, b, c):                                      # nonzero biases, so a lost bias shows
        for layer in net:
            if isinstance(layer, dnn.Linear) and layer.bias is not None:
                layer.bias.data[...] = rng.uniform(-0.5, 0.5, size=layer.bias.shape)
    return [("Linear(3, 5) - ReLU - Linear(5, 2), float64", a),
            ("Linear(4, 7) - Tanh - Linear(7, 6) - Sigmoid - Linear(6, 1), float32", b),
            ("Linear(6, 3, bias=False) - ReLU - Linear(3, 4) - Tanh, float64", c)]


def _to_torch_reference(dl_net):
    """The model answer of exercise 2."""
    activations = {dnn.ReLU: nn.ReLU, dnn.Tanh: nn.Tanh, dnn.Sigmoid: nn.Sigmoid}
    layers = []
    for layer in dl_net:
        if isinstance(layer, dnn.Linear):
            linear = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None,
                               dtype=torch.from_numpy(layer.weight.data).dtype)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(layer.weight.data))
                if layer.bias is not None:
                    linear.bias.copy_(torch.from_numpy(layer.bias.data))
            layers.append(linear)
        else:
            layers.append(activations[type(layer)]())
    return nn.Sequential(*layers)


def _pointer(array: np.ndarray) -> int:
    return array.__array_interface__["data"][0]


@checker("port a dlcore network to torch.nn")
def ex2(to_torch):
    """``to_torch(dl_net)`` -> a ``torch.nn.Module`` computing the same function, weights copied."""
    for what, dl_net in _dl_nets():
        name = f"to_torch({what})"
        dl_linears = [layer for layer in dl_net if isinstance(layer, dnn.Linear)]
        saved = [(layer.weight.data.copy(), None if layer.bias is None else layer.bias.data.copy())
                 for layer in dl_linears]
        model = call(to_torch, dl_net)
        expect(model is not None, f"{name} returned None.", "Return the torch network you built.")
        expect(not isinstance(model, dnn.Module), f"{name} returned a dlcore network.",
               "Build torch.nn layers (nn.Linear, nn.ReLU, ...) and return an nn.Sequential of them.")
        expect(isinstance(model, nn.Module), f"{name} returned a {type(model).__name__}, not a torch.nn.Module.",
               "Return nn.Sequential(*layers).")
        for layer, (w, b) in zip(dl_linears, saved):
            expect(np.array_equal(layer.weight.data, w) and (b is None or np.array_equal(layer.bias.data, b)),
                   f"{name} changed the weights of the dlcore network it was given.",
                   "Read dl_net's weights; do not modify them.")
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        expect(len(linears) == len(dl_linears),
               f"{name} has {len(linears)} nn.Linear layers; the dlcore network has {len(dl_linears)}.",
               "Loop over the dlcore layers and make one torch layer for each, in order, using each "
               "layer's in_features and out_features (no sizes of your own).")
        for i, (t_layer, d_layer) in enumerate(zip(linears, dl_linears)):
            where = f"in {name}, Linear layer {i}"
            want = tuple(d_layer.weight.shape)
            got = tuple(t_layer.weight.shape)
            expect(got != want[::-1] or want[0] == want[1],
                   f"{where} has a weight of shape {got}, the transpose of dlcore's {want}.",
                   "torch.nn.Linear and dlcore.nn.Linear both store weight as (out_features, in_features): "
                   "copy it as it is, without .T.")
            expect(got == want, f"{where} has a weight of shape {got}, expected {want}.",
                   "Use the dlcore layer's in_features and out_features.")
            expect((t_layer.bias is None) == (d_layer.bias is None),
                   f"{where} " + ("has no bias, but the dlcore layer has one." if t_layer.bias is None
                                  else "has a bias, but the dlcore layer has none (bias=False)."),
                   "Pass bias=(layer.bias is not None) to nn.Linear.")
            expect(isinstance(t_layer.weight, nn.Parameter) and t_layer.weight.requires_grad,
                   f"{where}: its weight is not a trainable nn.Parameter.",
                   "Copy values into the layer's own parameters under torch.no_grad(): "
                   "layer.weight.copy_(torch.from_numpy(...)).")
            expect(_pointer(d_layer.weight.data) != t_layer.weight.data_ptr(),
                   f"{where} shares memory with the dlcore weight: training one network would change the other.",
                   "Copy the values: weight.copy_(torch.from_numpy(w)) or torch.tensor(w), not torch.from_numpy(w) "
                   "as the parameter itself.")
            expect(d_layer.bias is None or t_layer.bias is None
                   or _pointer(d_layer.bias.data) != t_layer.bias.data_ptr(),
                   f"{where} shares memory with the dlcore bias: training one network would change the other.",
                   "Copy the bias too: bias.copy_(torch.from_numpy(b)), not nn.Parameter(torch.from_numpy(b)).")
            expect(t_layer.weight.dtype in (torch.float32, torch.float64),
                   f"{where} stores its weight in {str(t_layer.weight.dtype).replace('torch.', '')}, which "
                   "rounds dlcore's values away.",
                   "Build the torch network in float32 (the default) or float64 (dtype=torch.float64).")
            w = torch.from_numpy(d_layer.weight.data).to(torch.float64)
            expect(torch.allclose(t_layer.weight.detach().double(), w, rtol=1e-6, atol=1e-7),
                   f"{where} has a weight of the right shape but not dlcore's values.",
                   "Copy dl_layer.weight.data into it: a new nn.Linear starts from random weights.")
            if d_layer.bias is not None:
                b = torch.from_numpy(d_layer.bias.data).to(torch.float64)
                expect(torch.allclose(t_layer.bias.detach().double(), b, rtol=1e-6, atol=1e-7),
                       f"{where} has the right weight but not dlcore's bias.",
                       "Copy dl_layer.bias.data too.")
        dtype = next(iter(model.parameters())).dtype
        x = torch.from_numpy(np.random.default_rng(3).normal(size=(5, dl_linears[0].in_features))).to(dtype)
        out = call(model, x)
        expect(isinstance(out, torch.Tensor), f"calling the network from {name} returned a {type(out).__name__}.",
               "Return an nn.Module whose forward returns a tensor, e.g. nn.Sequential.")
        ref = dl_net(x.detach().numpy().astype(dl_linears[0].weight.dtype))
        expect(tuple(out.shape) == ref.shape,
               f"the network from {name} maps a (5, {x.shape[1]}) batch to {tuple(out.shape)}, expected {ref.shape}.",
               "Keep every layer, including a final activation.")
        expect(np.allclose(out.detach().double().numpy(), ref, rtol=1e-5, atol=1e-6),
               f"the network from {name} has dlcore's weights, but its outputs differ from dlcore's.",
               "Check the activations: the same kind (ReLU, Tanh, Sigmoid) at the same places.")
        expect(out.requires_grad,
               f"the output of the network from {name} does not depend on any trainable parameter: "
               "autograd cannot train it.",
               "Do not detach the output or run the forward pass under torch.no_grad() inside the module.")
        model.zero_grad()
        out.sum().backward()
        dl_net.zero_grad()
        dl_net.backward(np.ones_like(ref))
        g = linears[0].weight.grad
        expect(g is not None, f"no gradient reached the first weight of the network from {name}.",
               "Do not create the weights under torch.no_grad() as plain tensors or .detach() them: "
               "copy into nn.Linear's own parameters.")
        expect(np.allclose(g.double().numpy(), dl_linears[0].weight.grad, rtol=1e-4, atol=1e-6),
               f"the gradient of the first weight of the network from {name} differs from dlcore's.",
               "Build the same layers in the same order.")
    return "Three networks (float32 and float64, every activation, a layer without bias) match dlcore, " \
        "outputs and gradients."


# ---- exercise 3: restore a checkpoint ----------------------------------------------------------

_CANARY = {"hit": False}


def _canary_hit():
    """Runs only if a checkpoint is unpickled without weights_only=True."""
    _CANARY["hit"] = True
    return "unpickled"


class _Canary:
    def __reduce__(self):
        return (_canary_hit, ())


#: (what, sizes, dtype, optimizer factory, epoch, seed)
_RESTORE_CASES = [
    ("a 5-8-3 MLP with Adam(lr=0.01), after epoch 3", [5, 8, 3], torch.float32,
     lambda ps: torch.optim.Adam(ps, lr=0.01), 3, 11),
    ("a Linear(4, 2) with SGD(lr=0.1, momentum=0.9), after epoch 7", [4, 2], torch.float32,
     lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9), 7, 12),
    ("a 3-4-4-1 float64 MLP with Adam(lr=0.003, betas=(0.8, 0.99)), after epoch 12", [3, 4, 4, 1],
     torch.float64, lambda ps: torch.optim.Adam(ps, lr=0.003, betas=(0.8, 0.99)), 12, 13),
]


def _restore_setup(case, seed_offset=0):
    _, sizes, dtype, make_opt, _, seed = case
    ctx = _seeded(seed + seed_offset)
    try:
        model = _mlp(sizes).to(dtype)
    finally:
        ctx.__exit__(None, None, None)
    return model, make_opt(model.parameters())


def _restore_batch(case, step):
    _, sizes, dtype, _, _, seed = case
    g = torch.Generator().manual_seed(10 * seed + step)
    return torch.randn(6, sizes[0], generator=g, dtype=dtype), torch.randn(6, sizes[-1], generator=g, dtype=dtype)


def _restore_step(model, optimizer, case, step):
    xb, yb = _restore_batch(case, step)
    optimizer.zero_grad()
    nn.functional.mse_loss(model(xb), yb).backward()
    optimizer.step()


def _restore_reference(path, model, optimizer):
    """The model answer of exercise 3."""
    checkpoint = torch.load(path, weights_only=True, map_location="cpu")
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return int(checkpoint["epoch"])


@checker("restore a checkpoint")
def ex3(restore):
    """``restore(path, model, optimizer)`` loads weights and optimizer state, returns the epoch (int)."""
    if not callable(restore):
        call(restore)                           # explains None or a value that is not a function
    with tempfile.TemporaryDirectory(prefix="dlcore-ex3-") as tmp:
        for k, case in enumerate(_RESTORE_CASES):
            what, dtype, epoch = case[0], case[2], case[4]
            trained, opt = _restore_setup(case)
            for step in range(3):
                _restore_step(trained, opt, case, step)
            path = Path(tmp) / f"case{k}.pt"
            torch.save({"epoch": epoch, "model": trained.state_dict(), "optimizer": opt.state_dict()}, path)
            model, optimizer = _restore_setup(case, seed_offset=100)      # a fresh start, other weights
            name = f"restore on {what}"
            outcome, value = call(_attempt, restore, str(path), model, optimizer)
            if outcome == "raised":
                call(_reraise, value)           # explained like any error in the learner's code
            expect(value is not None, f"{name} returned None.", "Return the epoch stored in the checkpoint.")
            expect(not isinstance(value, torch.Tensor), f"{name} returned a tensor, not an int.",
                   "Return int(checkpoint['epoch']).")
            expect(isinstance(value, numbers.Integral) and not isinstance(value, bool),
                   f"{name} returned {value!r} (a {type(value).__name__}), not an int.",
                   "Return the epoch as an int: int(checkpoint['epoch']).")
            expect(int(value) != epoch + 1, f"{name} returned {value}, the next epoch; expected {epoch}.",
                   "Return the number of completed epochs as stored, checkpoint['epoch'].")
            expect(int(value) == epoch, f"{name} returned {value}, expected the stored epoch {epoch}.",
                   "Read it from the checkpoint: checkpoint['epoch'].")
            expect(_same(_params(model), _params(trained), dtype),
                   f"after {name}, the model's weights are not those of the checkpoint.",
                   "model.load_state_dict(checkpoint['model']) loads them into the model you were given.")
            held = [p for group in optimizer.param_groups for p in group["params"]]
            expect(len(held) == len(list(model.parameters()))
                   and all(a is b for a, b in zip(held, model.parameters())),
                   f"after {name}, the model's parameters are new tensors, not the ones the optimizer "
                   "holds: every optimizer step would update the old ones, and the model would never change.",
                   "Load the values into the existing parameters: model.load_state_dict(checkpoint['model']), "
                   "without assign=True.")
            _restore_step(model, optimizer, case, 3)
            _restore_step(trained, opt, case, 3)
            expect(_same(_params(model), _params(trained), dtype),
                   f"after {name}, the weights are right, but the next training step differs from the "
                   "uninterrupted run's: the optimizer state was not restored.",
                   "Adam's running averages and SGD's momentum live in the optimizer: call "
                   "optimizer.load_state_dict(checkpoint['optimizer']) on the optimizer you were given.")
        _CANARY["hit"] = False
        path = Path(tmp) / "untrusted.pt"
        model, optimizer = _restore_setup(_RESTORE_CASES[0])
        payload = {"epoch": 1, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                   "note": _Canary()}
        torch.save(payload, path)
        call(_attempt, restore, str(path), model, optimizer)
        expect(not _CANARY["hit"],
               "restore unpickled an arbitrary Python object from a checkpoint: a file from someone else "
               "could run any code on your machine this way.",
               "Load with torch.load(path, weights_only=True), which reads tensors, numbers, strings, lists "
               "and dicts only, and refuses anything else.")
    return "Weights, optimizer state and epoch come back, and an untrusted object is refused."


#: Reference answers for the checker battery: one per checker.
REFERENCE_ANSWERS = {"ex1": _train_step_reference, "ex2": _to_torch_reference, "ex3": _restore_reference}


def _train_step_model_zero(model, xb, yb, loss_fn, optimizer):
    model.zero_grad(set_to_none=False)
    out = model(xb)
    loss = loss_fn(out, yb)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def _to_torch_state_dict(dl_net):
    """Build the layers first, then load all weights at once through a state dict."""
    activations = {"ReLU": nn.ReLU(), "Tanh": nn.Tanh(), "Sigmoid": nn.Sigmoid()}
    layers = [nn.Linear(m.in_features, m.out_features, bias=m.bias is not None).double()
              if isinstance(m, dnn.Linear) else activations[type(m).__name__] for m in dl_net]
    net = nn.Sequential(*layers)
    net.load_state_dict({k: torch.tensor(v, dtype=torch.float64) for k, v in dl_net.state_dict().items()})
    return net


def _restore_mapped(path, model, optimizer):
    state = torch.load(Path(path), map_location=torch.device("cpu"))
    optimizer.load_state_dict(state["optimizer"])
    model.load_state_dict(state["model"], strict=True)
    return state["epoch"]


#: Other correct answers, written differently (the battery checks that they pass).
CORRECT_REWRITES = {"ex1": [_train_step_model_zero], "ex2": [_to_torch_state_dict], "ex3": [_restore_mapped]}

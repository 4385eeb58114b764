"""dlcore/torch/train.py: evaluate, predict and accuracy (eval mode, inference mode, caps)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from dlcore.torch import accuracy, evaluate, predict, to_device  # noqa: E402


class Probe(nn.Module):
    """A linear model that records the mode and autograd state it was called in."""

    def __init__(self, fail=False):
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.head = nn.Dropout(0.5)
        self.seen, self.fail = [], fail

    def forward(self, x):
        self.seen.append((self.training, torch.is_inference_mode_enabled(), torch.is_grad_enabled()))
        if self.fail:
            raise RuntimeError("boom")
        return self.head(self.linear(x))


@pytest.fixture(autouse=True)
def no_cap(monkeypatch):
    monkeypatch.delenv("DLCORE_MAX_STEPS", raising=False)


def data(n=10, batch_size=4):
    torch.manual_seed(0)
    X, y = torch.randn(n, 3), torch.randint(0, 2, (n,))
    return X, y, DataLoader(TensorDataset(X, y), batch_size=batch_size)


def test_evaluate_runs_in_eval_and_inference_mode_and_restores_each_submodule():
    X, y, loader = data()
    model = Probe()
    model.train()
    model.head.eval()  # e.g. a frozen part: its own mode must come back as it was
    result = evaluate(model, loader, nn.CrossEntropyLoss(), {"accuracy": accuracy}, device="cpu")
    assert set(model.seen) == {(False, True, False)}
    assert model.training and model.linear.training and not model.head.training
    with torch.no_grad():
        logits = model.linear(X)
    assert result["loss"] == pytest.approx(nn.functional.cross_entropy(logits, y).item(), rel=1e-6)
    assert result["accuracy"] == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert set(result) == {"loss", "accuracy"}
    assert evaluate(model, loader, metrics={"accuracy": accuracy}).keys() == {"accuracy"}


def test_modes_are_restored_after_an_error():
    _, _, loader = data()
    model = Probe(fail=True)
    model.train()
    with pytest.raises(RuntimeError, match="boom"):
        evaluate(model, loader, nn.CrossEntropyLoss())
    assert model.training and model.head.training
    model.eval()
    with pytest.raises(RuntimeError, match="boom"):
        predict(model, loader)
    assert not model.training


def test_predict_concatenates_outputs_on_the_cpu():
    X, _, loader = data(n=10, batch_size=4)
    model = Probe()
    model.train()
    out = predict(model, loader)
    assert out.shape == (10, 2) and out.device.type == "cpu"
    with torch.no_grad():
        torch.testing.assert_close(out, model.linear(X))
    assert model.training
    bare = DataLoader(X, batch_size=3)  # batches of inputs only
    torch.testing.assert_close(predict(model, bare), out)


def test_max_steps_caps_evaluate_and_predict(monkeypatch):
    X, y, loader = data(n=20, batch_size=4)
    monkeypatch.setenv("DLCORE_MAX_STEPS", "2")
    assert predict(Probe(), loader).shape == (8, 2)
    model = Probe()
    evaluate(model, loader, nn.CrossEntropyLoss())
    assert len(model.seen) == 2


def test_empty_loaders_are_clear_errors():
    empty = DataLoader(TensorDataset(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)), batch_size=4)
    with pytest.raises(ValueError, match="evaluate: the loader yielded no batches"):
        evaluate(Probe(), empty, nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match="predict: the loader yielded no batches"):
        predict(Probe(), empty)


def test_accuracy():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1, 1])) == 0.75
    assert accuracy(logits.double(), torch.tensor([0, 1, 0, 1])) == 1.0
    with pytest.raises(ValueError, match=r"logits \(B, K\) and targets \(B,\), got \(4, 2\) and \(3,\)"):
        accuracy(logits, torch.tensor([0, 1, 1]))


def test_to_device_moves_nested_batches():
    batch = {"x": torch.zeros(2), "pair": (torch.ones(1), [torch.ones(1)]), "name": "keep"}
    moved = to_device(batch, torch.device("cpu"))
    assert moved["name"] == "keep" and isinstance(moved["pair"], tuple) and isinstance(moved["pair"][1], list)

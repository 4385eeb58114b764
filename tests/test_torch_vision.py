"""dlcore.torch.vision: the chapter 09 digit CNN shared with chapters 12 and 13."""

import numpy as np
import pytest
import torch

from dlcore.torch.vision import (
    BasicBlock,
    DeepCNN,
    DigitCNN,
    ResNet,
    as_images,
    random_shift_rotate,
    train_digit_classifier,
    train_images,
)


def test_shapes_and_parameter_count():
    model = DigitCNN().eval()
    x = torch.rand(5, 1, 28, 28)
    assert model(x).shape == (5, 10)
    assert model.features(x).shape == (5, 64)
    assert DigitCNN(num_classes=5)(x).shape == (5, 5)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params < 235_146  # fewer than chapter 06's MLP
    # the logits are the output layer applied to the features (dropout off in eval mode)
    assert torch.allclose(model(x), model.out(model.features(x)))


@pytest.mark.parametrize("shape", [(3, 784), (3, 28, 28), (3, 1, 28, 28)])
def test_as_images_accepts_the_three_layouts(shape):
    x = np.random.default_rng(0).random(shape)
    t = as_images(x)
    assert t.shape == (3, 1, 28, 28) and t.dtype == torch.float32
    assert np.allclose(t.numpy().reshape(3, -1), x.reshape(3, -1))


@pytest.mark.parametrize(
    ("x", "error", "words"),
    [
        (torch.rand(2, 3, 28, 28), ValueError, "(2, 3, 28, 28)"),
        (torch.rand(2, 784), ValueError, "(2, 784)"),
        (torch.rand(28, 28), ValueError, "(28, 28)"),
        (torch.zeros(2, 1, 28, 28, dtype=torch.uint8), TypeError, "uint8"),
    ],
)
def test_model_rejects_bad_input_naming_expected_and_actual(x, error, words):
    with pytest.raises(error) as info:
        DigitCNN()(x)
    assert words in str(info.value)
    if error is ValueError:
        assert "(N, 1, 28, 28)" in str(info.value)


def test_as_images_rejects_bad_values_and_shapes():
    with pytest.raises(ValueError, match=r"\[0, 1\].*255"):
        as_images(np.full((2, 784), 255.0))
    with pytest.raises(ValueError, match=r"\(2, 100\)"):
        as_images(np.zeros((2, 100)))
    with pytest.raises(TypeError, match="list"):
        as_images([[0.0] * 784])


def test_training_rejects_mismatched_labels():
    x = np.zeros((4, 784), np.float32)
    with pytest.raises(ValueError, match=r"\(4,\)"):
        train_digit_classifier(x, np.zeros(3, int), epochs=1, seed=0, device="cpu")
    with pytest.raises(TypeError, match="integer"):
        train_digit_classifier(x, np.zeros(4), epochs=1, seed=0, device="cpu")


def test_shift_rotate_keeps_shape_and_zero_transform_is_identity():
    x = torch.rand(4, 1, 28, 28)
    assert random_shift_rotate(x).shape == x.shape
    same = random_shift_rotate(x, max_shift=0, max_degrees=0)
    assert torch.allclose(same, x, atol=1e-5)
    assert not torch.allclose(random_shift_rotate(x, max_shift=2, max_degrees=10), x, atol=1e-3)


def _blobs(n, rng):
    """Two synthetic classes: a bright square top-left or bottom-right, plus noise."""
    y = rng.integers(0, 2, n)
    x = rng.random((n, 1, 28, 28)) * 0.3
    for i, label in enumerate(y):
        r = 4 if label == 0 else 18
        x[i, 0, r:r + 6, r:r + 6] = 1.0
    return x.astype(np.float32), y


def test_tiny_training_run_improves_accuracy_and_is_seeded(monkeypatch):
    monkeypatch.delenv("DLCORE_MAX_STEPS", raising=False)
    rng = np.random.default_rng(0)
    x, y = _blobs(256, rng)
    xt, yt = _blobs(200, rng)
    xt_t = torch.from_numpy(xt)
    torch.manual_seed(0)
    untrained = DigitCNN(num_classes=2).eval()
    with torch.no_grad():
        before = (untrained(xt_t).argmax(1).numpy() == yt).mean()
    model = train_digit_classifier(x, y, epochs=2, seed=1, batch_size=32, device="cpu")
    assert not model.training
    with torch.no_grad():
        after = (model(xt_t).argmax(1).numpy() == yt).mean()
    assert after >= 0.95 and after > before
    again = train_digit_classifier(x, y, epochs=2, seed=1, batch_size=32, device="cpu")
    with torch.no_grad():
        assert torch.equal(again(xt_t), model(xt_t))


def test_deep_cnn_plain_and_residual_have_the_same_parameters():
    torch.manual_seed(0)
    plain = DeepCNN(6, 4, residual=False)
    torch.manual_seed(0)
    res = DeepCNN(6, 4, residual=True)
    assert [p.shape for p in plain.parameters()] == [p.shape for p in res.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), res.parameters()))
    x = torch.rand(3, 1, 28, 28)
    assert plain(x).shape == res(x).shape == (3, 10)
    assert not torch.allclose(plain(x), res(x))  # only the skip differs, and it matters
    with pytest.raises(ValueError, match="even"):
        DeepCNN(5, 4)


def test_deep_cnn_batch_norm_adds_only_batch_norm():
    torch.manual_seed(0)
    plain = DeepCNN(4, 4)
    torch.manual_seed(0)
    bn = DeepCNN(4, 4, batch_norm=True)
    convs = [m for m in bn.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(torch.equal(a.weight, b.weight) for a, b in
               zip([m for m in plain.modules() if isinstance(m, torch.nn.Conv2d)], convs))
    norms = [m for m in bn.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 4 and not any(isinstance(m, torch.nn.BatchNorm2d)
                                       for m in plain.modules())
    assert "pairs.0.2.weight" in plain.state_dict()  # conv, ReLU, conv as before
    x = torch.rand(8, 1, 28, 28)
    h = bn.pairs[0][1](bn.pairs[0][0](bn.stem(x)))  # batch norm in training mode
    assert torch.allclose(h.mean(dim=(0, 2, 3)), torch.zeros(4), atol=1e-5)
    assert bn(x).shape == (8, 10)


def test_deep_cnn_residual_pair_adds_its_input():
    torch.manual_seed(0)
    res = DeepCNN(2, 3, residual=True)
    for p in res.pairs[0].parameters():
        torch.nn.init.zeros_(p)  # the pair computes f(h) = 0, so the block is relu(h)
    x = torch.rand(2, 1, 28, 28)
    h = res.stem(x)
    assert torch.allclose(res(x), res.head(torch.relu(h).flatten(1)))


def test_basic_block_shapes_shortcuts_and_residual_sum():
    torch.manual_seed(0)
    same = BasicBlock(4, 4).eval()
    assert isinstance(same.shortcut, torch.nn.Identity)
    x = torch.randn(2, 4, 9, 9)
    assert torch.allclose(same(x), torch.relu(same.residual(x) + x))
    down = BasicBlock(4, 8, stride=2).eval()
    assert down(x).shape == (2, 8, 5, 5)
    assert not isinstance(down.shortcut, torch.nn.Identity)


def test_resnet_shapes_and_zero_init_starts_as_identity_blocks():
    model = ResNet(1, 10, widths=(4, 8), blocks=(2, 1))
    assert len(model.stages) == 3
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert ResNet(3, 5, widths=(4,))(torch.rand(2, 3, 32, 32)).shape == (2, 5)
    zero = ResNet(1, 10, widths=(4, 4), zero_init_residual=True).eval()
    block = zero.stages[0]
    h = torch.rand(2, 4, 7, 7)
    assert torch.allclose(block(h), torch.relu(h))
    with pytest.raises(ValueError, match="one entry per stage"):
        ResNet(widths=(4, 8), blocks=(1,))


def test_train_images_returns_one_loss_per_step_and_trains_any_model(monkeypatch):
    monkeypatch.delenv("DLCORE_MAX_STEPS", raising=False)
    rng = np.random.default_rng(0)
    x, y = _blobs(128, rng)
    model = ResNet(1, 2, widths=(4, 8))
    losses = train_images(model, torch.from_numpy(x), y, epochs=3, seed=0, batch_size=32,
                          device="cpu")
    assert len(losses) == 12 and not model.training
    assert np.mean(losses[-4:]) < np.mean(losses[:4])
    monkeypatch.setenv("DLCORE_MAX_STEPS", "2")
    assert len(train_images(model, torch.from_numpy(x), y, epochs=3, seed=0,
                            device="cpu")) == 2
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        train_images(model, x, y, epochs=1, seed=0, device="cpu")

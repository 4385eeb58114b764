"""dlcore.torch.vision: the chapter 09 digit CNN shared with chapters 12 and 13."""

import numpy as np
import pytest
import torch

from dlcore.torch.vision import DigitCNN, as_images, random_shift_rotate, train_digit_classifier


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

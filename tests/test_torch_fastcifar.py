"""dlcore.torch.fastcifar: the fast GPU training code of chapter 09, checked on the CPU.

Every input here is synthetic (random tensors or coloured squares made up in the
test), small enough to run in seconds on a CPU.
"""

import numpy as np
import pytest
import torch

from dlcore.torch.fastcifar import (
    FastNet,
    amp_policy,
    predict_tta,
    random_flip,
    random_translate,
    to_gpu_tensors,
    train_fast,
    warmup_decay,
)


def test_amp_policy_uses_the_compute_capability_not_is_bf16_supported():
    assert amp_policy("cpu") == (None, False)
    assert amp_policy("cuda", capability=(7, 5)) == (torch.float16, True)   # T4
    assert amp_policy("cuda", capability=(7, 0)) == (torch.float16, True)   # V100
    assert amp_policy("cuda", capability=(8, 0)) == (torch.bfloat16, False)  # A100
    assert amp_policy("cuda", capability=(9, 0)) == (torch.bfloat16, False)  # H100


def test_to_gpu_tensors_normalises_with_the_training_statistics():
    rng = np.random.default_rng(0)
    synthetic = rng.random((50, 3, 8, 8)).astype(np.float32)
    x, y, mean, std = to_gpu_tensors(synthetic, np.arange(50) % 10, "cpu")
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(x.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-4)
    test, _, _, _ = to_gpu_tensors(synthetic[:5] + 1, np.zeros(5, int), "cpu", mean=mean, std=std)
    assert torch.allclose(test, x[:5] + 1 / std[:, None, None], atol=1e-5)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        to_gpu_tensors(synthetic[0], np.zeros(3, int), "cpu")
    with pytest.raises(ValueError, match=r"\(50,\)"):
        to_gpu_tensors(synthetic, np.zeros(49, int), "cpu")


def test_random_flip_mirrors_some_images_exactly_and_leaves_the_rest():
    x = torch.randn(64, 3, 5, 7)
    out = random_flip(x, generator=torch.Generator().manual_seed(0))
    flipped = torch.tensor([torch.equal(o, i.flip(2)) for o, i in zip(out, x)])
    kept = torch.tensor([torch.equal(o, i) for o, i in zip(out, x)])
    assert torch.all(flipped ^ kept)  # each image is one or the other
    assert 10 < flipped.sum() < 54     # about half, each with its own coin
    assert torch.equal(random_flip(x, p=1.0), x.flip(3))
    assert torch.equal(random_flip(x, p=0.0), x)


def test_random_translate_shifts_each_image_by_at_most_pad():
    x = torch.zeros(200, 1, 9, 9)
    x[:, 0, 4, 4] = 1.0  # one bright pixel in the centre of each synthetic image
    out = random_translate(x, 2, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    where = out[:, 0].reshape(200, -1).argmax(1)
    rows, cols = where // 9, where % 9
    assert torch.all((rows - 4).abs() <= 2) and torch.all((cols - 4).abs() <= 2)
    assert torch.all(out.sum(dim=(1, 2, 3)) == 1)  # the pixel moved, nothing was lost
    assert len(set(zip(rows.tolist(), cols.tolist()))) == 25  # all 5x5 shifts occur
    assert torch.equal(random_translate(x, 0), x)


def test_warmup_decay_rises_to_one_then_falls_to_zero():
    factors = [warmup_decay(s, 100, warmup=0.2) for s in range(100)]
    assert factors[19] == pytest.approx(1.0) and max(factors) == pytest.approx(1.0)
    assert all(a < b for a, b in zip(factors[:19], factors[1:20]))
    assert all(a > b for a, b in zip(factors[19:], factors[20:]))
    assert factors[-1] == pytest.approx(1 / 81) and warmup_decay(100, 100) == 0.0
    with pytest.raises(ValueError):
        warmup_decay(0, 0)


@pytest.mark.parametrize(("shape", "classes"), [((2, 3, 32, 32), 10), ((2, 1, 28, 28), 5)])
def test_fastnet_shapes(shape, classes):
    net = FastNet(shape[1], classes, widths=(8, 16, 16), stem=4)
    assert net(torch.randn(shape)).shape == (shape[0], classes)


def test_predict_tta_averages_the_image_and_its_mirror():
    torch.manual_seed(0)
    net = FastNet(3, 4, widths=(8, 8, 8), stem=4).eval()
    x = torch.randn(6, 3, 20, 20)
    with torch.no_grad():
        expected = (net(x) + net(x.flip(3))) / 2
        assert torch.allclose(predict_tta(net, x, batch_size=4), expected, atol=1e-6)
        assert torch.allclose(predict_tta(net, x, flip=False), net(x), atol=1e-6)


def _synthetic_colours(n, rng):
    """Two made-up classes of 3x20x20 noise images: reddish or bluish."""
    y = rng.integers(0, 2, n)
    x = rng.random((n, 3, 20, 20)) * 0.5
    x[y == 0, 0] += 0.5
    x[y == 1, 2] += 0.5
    return x.astype(np.float32), y


def test_train_fast_learns_a_synthetic_task_and_records_times(monkeypatch):
    monkeypatch.delenv("DLCORE_MAX_STEPS", raising=False)
    rng = np.random.default_rng(0)
    xtr, ytr = _synthetic_colours(256, rng)
    xte, yte = _synthetic_colours(128, rng)
    net = FastNet(3, 2, widths=(8, 16, 16), stem=4)
    result = train_fast(xtr, ytr, xte, yte, epochs=3, batch_size=64, lr=0.2,
                        targets=(0.6, 0.99999), device="cpu", model=net, progress=False)
    assert result.epochs == [1, 2, 3] and result.steps == 12 and result.amp == "float32"
    assert all(a < b for a, b in zip(result.seconds, result.seconds[1:]))
    assert result.accuracy[-1] >= 0.9
    assert result.time_to[0.6] is not None and result.time_to[0.6] <= result.seconds[-1]
    assert "not reached" in result.report() or result.time_to[0.99999] is not None
    assert result.model is net and not net.training


def test_train_fast_obeys_the_step_cap(monkeypatch):
    monkeypatch.setenv("DLCORE_MAX_STEPS", "3")
    rng = np.random.default_rng(1)
    xtr, ytr = _synthetic_colours(256, rng)
    result = train_fast(xtr, ytr, xtr[:32], ytr[:32], epochs=5, batch_size=32, lr=0.05,
                        device="cpu", model=FastNet(3, 2, widths=(4, 4, 4), stem=4),
                        progress=False)
    assert result.steps == 3 and result.epochs == [1]


@pytest.mark.parametrize(("amp_dtype", "use_scaler"),
                         [(torch.float16, True), (torch.bfloat16, False)])
def test_the_gpu_precision_paths_run_on_the_cpu(monkeypatch, amp_dtype, use_scaler):
    """The code a T4 (float16 data, float16 autocast, GradScaler) or an A100 (bfloat16
    autocast, no scaler) runs, simulated on the CPU: no dtype mismatch anywhere in the
    augmentation, the training step, batch norm or test-time flips, and it still learns."""
    import dlcore.torch.fastcifar as fastcifar

    monkeypatch.delenv("DLCORE_MAX_STEPS", raising=False)
    original = fastcifar.to_gpu_tensors

    def half_data(images, labels, dev, **kwargs):  # what to_gpu_tensors does on CUDA
        x, y, mean, std = original(images, labels, dev, **kwargs)
        return x.half().contiguous(memory_format=torch.channels_last), y, mean, std

    monkeypatch.setattr(fastcifar, "to_gpu_tensors", half_data)
    monkeypatch.setattr(fastcifar, "amp_policy", lambda dev: (amp_dtype, use_scaler))
    rng = np.random.default_rng(2)
    xtr, ytr = _synthetic_colours(256, rng)
    xte, yte = _synthetic_colours(128, rng)
    net = FastNet(3, 2, widths=(8, 16, 16), stem=4)
    result = train_fast(xtr, ytr, xte, yte, epochs=3, batch_size=64, lr=0.2, device="cpu",
                        model=net, progress=False)
    assert result.amp == str(amp_dtype).replace("torch.", "") and result.steps == 12
    assert result.accuracy[-1] >= 0.9 and result.accuracy_without_tta >= 0.9
    assert all(p.dtype == torch.float32 for p in net.parameters())  # master weights
    x16 = torch.from_numpy(xte[:8]).half()
    logits = predict_tta(net, x16, amp_dtype=amp_dtype)
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()


def test_fastnet_feature_map_sizes_are_those_its_docstring_gives():
    net = FastNet(3, 10, widths=(4, 4, 4), stem=4)
    sizes, h = [], net.stem(torch.zeros(1, 3, 32, 32))
    sizes.append(h.shape[-1])
    for block in net.blocks:
        h = block(h)
        sizes.append(h.shape[-1])
    assert sizes == [31, 15, 7, 3]

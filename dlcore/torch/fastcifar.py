"""Fast image-classifier training on a GPU, in the style of airbench (chapter 09).

Chapter 09 ends by training a CIFAR-10 classifier as fast as a single GPU allows.
Every trick here is small; together they decide whether an epoch takes seconds or
minutes (Jordan, 2024, "94% on CIFAR-10 in 3.29 seconds on a single GPU").

* :func:`to_gpu_tensors` -- the whole dataset, normalised, on the device once, as
  half-precision ``channels_last`` tensors on CUDA (float32 on the CPU): no
  ``DataLoader``, no per-batch copies.
* :func:`random_flip`, :func:`random_translate` -- augmentation of a whole batch on
  the device it is on, with a different flip and shift for every image.
* :class:`FastNet` -- a small VGG-like network (airbench's layout: conv, max-pool,
  batch norm, GELU, three times; global max pooling).
* :func:`amp_policy` -- which autocast dtype to use and whether a ``GradScaler`` is
  needed, from the GPU's compute capability (bfloat16 from 8.0 up, else float16).
* :func:`warmup_decay` -- the learning-rate factor: linear warm-up, then linear
  decay to zero.
* :func:`predict_tta` -- logits averaged over each image and its mirror image
  (test-time augmentation).
* :func:`train_fast` -- all of it together; returns a :class:`FastResult` with the
  training time at which each target accuracy was first reached.

Everything also runs on the CPU (float32, no autocast), which is how the tests
check it; only on a GPU is it fast.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .devices import device as _default_device
from .devices import max_steps, seed_everything

__all__ = ["FastNet", "FastResult", "amp_policy", "predict_tta", "random_flip",
           "random_translate", "to_gpu_tensors", "train_fast", "warmup_decay"]


def amp_policy(dev, capability: tuple[int, int] | None = None) -> tuple[torch.dtype | None, bool]:
    """``(autocast dtype or None, use a GradScaler?)`` for device ``dev``.

    * CPU and MPS: ``(None, False)``, plain float32.
    * CUDA with compute capability >= 8.0 (A100, L4, H100, RTX 30xx+): bfloat16,
      which has float32's exponent range, so gradients do not underflow and no
      loss scaling is needed: ``(torch.bfloat16, False)``.
    * Older CUDA GPUs (a Colab T4 is 7.5): float16 tensor cores, whose narrow range
      needs a ``GradScaler``: ``(torch.float16, True)``.

    ``torch.cuda.is_bf16_supported()`` is not consulted: it can answer True on a T4,
    where bfloat16 is emulated and slow. ``capability`` overrides the query (tests).
    """
    dev = torch.device(dev)
    if dev.type != "cuda":
        return None, False
    major, minor = capability if capability is not None else torch.cuda.get_device_capability(dev)
    if (major, minor) >= (8, 0):
        return torch.bfloat16, False
    return torch.float16, True


def to_gpu_tensors(images, labels, dev, *, mean=None, std=None):
    """Images ``(N, C, H, W)`` in [0, 1] -> normalised tensors on ``dev``; return ``(x, y, mean, std)``.

    ``mean`` and ``std`` (per channel) default to the statistics of ``images``; pass
    the training set's to normalise a test set the same way. On CUDA ``x`` is
    float16 (half the memory and bandwidth of float32), elsewhere float32, and in
    ``channels_last`` layout, the one tensor cores prefer. ``y`` is int64.
    """
    dev = torch.device(dev)
    x = torch.as_tensor(np.asarray(images) if not isinstance(images, torch.Tensor) else images)
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"images must be floats of shape (N, C, H, W), got {x.dtype} {tuple(x.shape)}")
    y = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels)
    if y.shape != (len(x),) or y.is_floating_point():
        raise ValueError(f"labels must be integers of shape ({len(x)},), got {y.dtype} {tuple(y.shape)}")
    x = x.to(dev, torch.float32)
    if mean is None:
        mean = x.mean(dim=(0, 2, 3))
        std = x.std(dim=(0, 2, 3)).clamp_min(1e-6)
    mean = torch.as_tensor(mean, dtype=torch.float32, device=dev)
    std = torch.as_tensor(std, dtype=torch.float32, device=dev)
    x = (x - mean[:, None, None]) / std[:, None, None]
    x = x.to(torch.float16 if dev.type == "cuda" else torch.float32)
    return x.contiguous(memory_format=torch.channels_last), y.to(dev).long(), mean, std


def _uniform(n: int, generator: torch.Generator | None, dev) -> torch.Tensor:
    # drawn on the CPU from a CPU generator, so results do not depend on the device
    return torch.rand(n, generator=generator).to(dev)


def random_flip(x: torch.Tensor, *, generator: torch.Generator | None = None,
                p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability ``p`` (its own coin per image)."""
    flip = _uniform(len(x), generator, x.device) < p
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def random_translate(x: torch.Tensor, pad: int = 2, *,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image by its own random ``(dy, dx)``, each in ``[-pad, pad]`` pixels.

    The batch is padded by reflection and each image cropped back to ``(H, W)`` at
    its own offset, with one gather for the whole batch. ``pad=0`` returns ``x``.
    """
    if pad == 0:
        return x
    n, c, h, w = x.shape
    dev = x.device
    padded = F.pad(x.float(), (pad, pad, pad, pad), mode="reflect").to(x.dtype)
    offsets = (torch.randint(0, 2 * pad + 1, (2, n), generator=generator)).to(dev)
    rows = offsets[0][:, None] + torch.arange(h, device=dev)  # (n, h)
    cols = offsets[1][:, None] + torch.arange(w, device=dev)  # (n, w)
    out = padded[torch.arange(n, device=dev)[:, None, None, None],
                 torch.arange(c, device=dev)[None, :, None, None],
                 rows[:, None, :, None], cols[:, None, None, :]]
    return out.contiguous(memory_format=torch.channels_last)


def warmup_decay(step: int, total: int, warmup: float = 0.2) -> float:
    """Learning-rate factor at ``step`` of ``total``: 0 -> 1 linearly over the first
    ``warmup`` fraction of the steps, then 1 -> 0 linearly to the end."""
    if total < 1:
        raise ValueError(f"total must be a positive number of steps, got {total}")
    peak = max(1, round(warmup * total))
    if step < peak:
        return (step + 1) / peak
    return max(0.0, (total - step) / (total - peak + 1))


def _bn(channels: int) -> nn.BatchNorm2d:
    # momentum 0.4 (PyTorch's default is 0.1): in a run of a few hundred steps the
    # running averages used in eval mode must keep up with the fast-changing weights
    return nn.BatchNorm2d(channels, momentum=0.4)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.MaxPool2d(2), _bn(cout), nn.GELU(),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), _bn(cout), nn.GELU())


class FastNet(nn.Module):
    """airbench's layout: a 2x2 stem, three conv-pool-BN-GELU blocks, global max pooling.

    Each block halves the image, rounding down: the stem's 2x2 convolution takes 32 to 31,
    then 31 -> 15 -> 7 -> 3 (28 -> 27 -> 13 -> 6 -> 3 for digits). The logits
    are scaled down by ``1/9``, as in airbench, which keeps the initial loss near
    ``log(num_classes)`` even though max pooling makes the features large.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10,
                 widths: tuple[int, int, int] = (64, 256, 256), stem: int = 24):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, stem, 2), nn.GELU())
        self.blocks = nn.Sequential(_block(stem, widths[0]), _block(widths[0], widths[1]),
                                    _block(widths[1], widths[2]))
        self.head = nn.Linear(widths[2], num_classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_channels, H, W)`` with ``H, W >= 17`` -> logits ``(N, num_classes)``."""
        h = self.blocks(self.stem(x))
        return self.head(h.amax(dim=(2, 3))) / 9


@torch.no_grad()
def predict_tta(model: nn.Module, x: torch.Tensor, *, flip: bool = True,
                batch_size: int = 2000, amp_dtype: torch.dtype | None = None) -> torch.Tensor:
    """Float32 logits of ``model`` on ``x``, averaged with those of the mirrored images
    when ``flip`` (test-time augmentation). ``model`` should be in eval mode."""
    outs = []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        with torch.autocast(x.device.type, dtype=amp_dtype or torch.float32,
                            enabled=amp_dtype is not None):
            logits = model(xb).float()
            if flip:
                logits = (logits + model(xb.flip(3)).float()) / 2
        outs.append(logits)
    return torch.cat(outs)


@dataclass
class FastResult:
    """What :func:`train_fast` measured. ``seconds[i]`` is the training time (evaluation
    excluded) after epoch ``epochs[i]``, ``accuracy[i]`` the test accuracy then."""

    epochs: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    time_to: dict[float, float | None] = field(default_factory=dict)
    accuracy_without_tta: float | None = None
    amp: str = "float32"
    steps: int = 0
    model: nn.Module | None = field(default=None, repr=False)

    def report(self) -> str:
        """One line per target: the time it was first reached, or 'not reached'."""
        lines = [f"{len(self.epochs)} epochs, {self.steps} steps, {self.amp}; final test accuracy "
                 f"{self.accuracy[-1]:.2%} (without flip TTA {self.accuracy_without_tta:.2%})"]
        for target, seconds in sorted(self.time_to.items()):
            when = f"{seconds:.1f} s of training" if seconds is not None else "not reached"
            lines.append(f"  {target:.0%}: {when}")
        return "\n".join(lines)


def train_fast(train_images, train_labels, test_images, test_labels, *, epochs: int = 10,
               batch_size: int = 512, lr: float = 0.4, weight_decay: float = 5e-4,
               label_smoothing: float = 0.2, flip: bool = True, translate: int = 2,
               targets=(0.90, 0.93, 0.94), seed: int = 0, device=None,
               model: nn.Module | None = None, progress: bool = True) -> FastResult:
    """Train a :class:`FastNet` (or ``model``) fast and record the time to each target accuracy.

    SGD with Nesterov momentum 0.9, the :func:`warmup_decay` schedule peaking at
    ``lr``, label smoothing, ``flip`` and ``translate`` augmentation on the device,
    AMP by :func:`amp_policy`, ``channels_last``; after each epoch the test accuracy
    with flip TTA (when ``flip``) is measured, off the clock. ``DLCORE_MAX_STEPS``
    caps the total number of steps. Images are NumPy arrays or tensors
    ``(N, C, H, W)`` in [0, 1].
    """
    from tqdm.auto import tqdm

    dev = torch.device(device) if device is not None else _default_device()
    seed_everything(seed)
    xtr, ytr, mean, std = to_gpu_tensors(train_images, train_labels, dev)
    xte, yte, _, _ = to_gpu_tensors(test_images, test_labels, dev, mean=mean, std=std)
    num_classes = int(max(ytr.max(), yte.max())) + 1
    net = model if model is not None else FastNet(xtr.shape[1], num_classes)
    net = net.to(dev).to(memory_format=torch.channels_last)
    amp_dtype, use_scaler = amp_policy(dev)
    scaler = torch.amp.GradScaler(dev.type, enabled=use_scaler)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, nesterov=True,
                          weight_decay=weight_decay)
    per_epoch = math.ceil(len(xtr) / batch_size)
    total = per_epoch * int(epochs)
    cap = max_steps()
    total = min(total, cap) if cap is not None else total
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_decay(s, total))
    gen = torch.Generator().manual_seed(int(seed))
    result = FastResult(amp=str(amp_dtype).replace("torch.", "") if amp_dtype else "float32",
                        time_to={float(t): None for t in targets})
    clock = 0.0
    for epoch in tqdm(range(1, int(epochs) + 1), desc="epochs", leave=False, disable=not progress):
        if result.steps >= total:
            break
        _sync(dev)
        start = time.perf_counter()
        net.train()
        order = torch.randperm(len(xtr), generator=gen).to(dev)
        for i in range(0, len(xtr), batch_size):
            if result.steps >= total:
                break
            idx = order[i:i + batch_size]
            xb = random_translate(xtr[idx], translate, generator=gen)
            if flip:
                xb = random_flip(xb, generator=gen)
            with torch.autocast(dev.type, dtype=amp_dtype or torch.float32,
                                enabled=amp_dtype is not None):
                loss = F.cross_entropy(net(xb), ytr[idx], label_smoothing=label_smoothing)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            result.steps += 1
        _sync(dev)
        clock += time.perf_counter() - start
        net.eval()
        acc = (predict_tta(net, xte, flip=flip, amp_dtype=amp_dtype).argmax(1) == yte)
        result.epochs.append(epoch)
        result.seconds.append(clock)
        result.accuracy.append(acc.float().mean().item())
        for target in result.time_to:
            if result.time_to[target] is None and result.accuracy[-1] >= target:
                result.time_to[target] = clock
    plain = predict_tta(net, xte, flip=False, amp_dtype=amp_dtype).argmax(1) == yte
    result.accuracy_without_tta = plain.float().mean().item()
    result.model = net.eval()
    return result


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)

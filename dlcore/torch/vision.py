"""The book's small MNIST CNN (chapter 09), shared with chapters 12 and 13.

* :class:`DigitCNN` -- a LeNet-style convolutional network for ``(N, 1, 28, 28)``
  float images in [0, 1]; :meth:`DigitCNN.features` returns the penultimate
  activations (the classifier's feature space), :meth:`DigitCNN.forward` the logits.
* :func:`train_digit_classifier` -- train one from arrays, seeded, with optional
  shift-and-rotate augmentation, and return it in eval mode.
* :func:`train_images` -- the training loop behind it, for any image classifier;
  returns the loss of every step.
* :func:`random_shift_rotate` -- that augmentation, per image, on whatever device the
  batch is on.
* :func:`as_images` -- check and convert ``(N, 784)`` or ``(N, 1, 28, 28)`` input.
* :class:`DeepCNN` -- a deep stack of 3x3 convolutions, plain or with a skip
  connection around every pair (the chapter's residual experiment; no batch norm,
  so the skip is the only difference between the two).
* :class:`BasicBlock` and :class:`ResNet` -- a small residual network in the style
  of He et al. (2016): 3x3 convolutions with batch norm, identity shortcuts, and a
  1x1 projection where the shape changes.

The network: two 5x5 convolutions (16 and 32 channels, each followed by batch norm,
ReLU and 2x2 max pooling, so 28 -> 14 -> 7), then a 64-unit hidden layer (the
features) and the output layer: about 114k parameters with ``num_classes=10``,
half of chapter 06's 235k-parameter MLP.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .devices import device as _default_device
from .devices import max_steps, seed_everything

__all__ = ["BasicBlock", "DeepCNN", "DigitCNN", "ResNet", "as_images", "random_shift_rotate",
           "train_digit_classifier", "train_images"]

IMAGE_SHAPE = (1, 28, 28)


def as_images(x, *, name: str = "x") -> torch.Tensor:
    """``x`` as a float32 tensor of shape ``(N, 1, 28, 28)``.

    Accepts a NumPy array or tensor of shape ``(N, 784)``, ``(N, 28, 28)`` or
    ``(N, 1, 28, 28)`` with values in [0, 1] (a tensor keeps its device).

    Raises:
        TypeError: ``x`` is not an array or tensor of real numbers.
        ValueError: the shape is none of the above, or values lie outside [0, 1].
    """
    if isinstance(x, np.ndarray):
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(x))
    elif isinstance(x, torch.Tensor):
        if x.is_complex() or x.dtype == torch.bool:
            raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
        t = x
    else:
        raise TypeError(f"{name} must be a NumPy array or a torch tensor, got {type(x).__name__}")
    shape = tuple(t.shape)
    if t.ndim == 2 and shape[1] == 784:
        t = t.reshape(-1, *IMAGE_SHAPE)
    elif t.ndim == 3 and shape[1:] == (28, 28):
        t = t.unsqueeze(1)
    elif not (t.ndim == 4 and shape[1:] == IMAGE_SHAPE):
        raise ValueError(
            f"{name} must have shape (N, 1, 28, 28), (N, 28, 28) or (N, 784), got {shape}"
        )
    t = t.float()
    if t.numel() and (t.min() < 0 or t.max() > 1 or not torch.isfinite(t).all()):
        raise ValueError(
            f"{name} must hold pixel values in [0, 1], got range "
            f"[{t.min().item():.4g}, {t.max().item():.4g}] (divide uint8 images by 255)"
        )
    return t


class DigitCNN(nn.Module):
    """A LeNet-style CNN for 28x28 grayscale digits.

    Args:
        num_classes: number of outputs (logits).
        channels: output channels of the two convolutions.
        hidden: width of the penultimate layer, the size of :meth:`features`.
        dropout: dropout probability before the output layer.
    """

    def __init__(self, num_classes: int = 10, channels: tuple[int, int] = (16, 32),
                 hidden: int = 64, dropout: float = 0.25):
        super().__init__()
        if int(num_classes) != num_classes or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
        if len(channels) != 2 or min(channels) < 1:
            raise ValueError(f"channels must be two positive integers, got {channels!r}")
        c1, c2 = (int(c) for c in channels)
        self.num_classes = int(num_classes)
        self.conv = nn.Sequential(
            nn.Conv2d(1, c1, 5, padding=2, bias=False), nn.BatchNorm2d(c1), nn.ReLU(),
            nn.MaxPool2d(2),  # 28 -> 14
            nn.Conv2d(c1, c2, 5, padding=2, bias=False), nn.BatchNorm2d(c2), nn.ReLU(),
            nn.MaxPool2d(2),  # 14 -> 7
        )
        self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(c2 * 7 * 7, hidden), nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, self.num_classes)

    @staticmethod
    def _check(x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"DigitCNN expects a torch tensor, got {type(x).__name__}")
        if x.ndim != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE:
            raise ValueError(
                f"DigitCNN expects input of shape (N, 1, 28, 28), got {tuple(x.shape)} "
                "(use dlcore.torch.vision.as_images to reshape (N, 784) arrays)"
            )
        if not x.is_floating_point():
            raise TypeError(f"DigitCNN expects float pixels in [0, 1], got dtype {x.dtype}")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate activations, shape ``(N, hidden)`` (after the ReLU)."""
        self._check(x)
        return self.hidden(self.conv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits, shape ``(N, num_classes)``."""
        return self.out(self.dropout(self.features(x)))


def random_shift_rotate(x: torch.Tensor, *, max_shift: float = 2.0, max_degrees: float = 10.0,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image by up to ``max_shift`` pixels and rotate it by up to ``max_degrees``.

    Every image gets its own uniformly drawn shift and angle (one ``affine_grid`` and
    one ``grid_sample`` call for the batch, bilinear, zeros outside). No flips: a
    mirrored 2 or 5 is not a 2 or a 5.
    """
    n, _, h, w = x.shape
    dev = x.device
    u = torch.rand(n, 3, generator=generator, device="cpu").to(dev)
    angle = (2 * u[:, 0] - 1) * math.radians(max_degrees)
    # affine_grid works in [-1, 1] coordinates: one pixel is 2 / size
    tx = (2 * u[:, 1] - 1) * max_shift * 2 / w
    ty = (2 * u[:, 2] - 1) * max_shift * 2 / h
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1
    ).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def train_digit_classifier(x, y, *, epochs: int, seed: int, batch_size: int = 128,
                           lr: float = 3e-3, augment: bool = False, device=None,
                           verbose: bool = False, num_classes: int | None = None,
                           **model_kwargs) -> DigitCNN:
    """Train a :class:`DigitCNN` on images ``x`` and integer labels ``y``; return it in eval mode.

    The model is built after ``seed_everything(seed)`` and trained by
    :func:`train_images` (AdamW, one-cycle, label smoothing 0.1; see there).

    Args:
        x: ``(N, 1, 28, 28)``, ``(N, 28, 28)`` or ``(N, 784)`` floats in [0, 1].
        y: ``(N,)`` integer labels in ``[0, num_classes)``.
        num_classes: number of outputs; default ``max(y) + 1``.
        model_kwargs: passed on to :class:`DigitCNN` (``channels``, ``hidden``, ``dropout``).
    """
    xt = as_images(x)
    yt, k = _labels(y, len(xt), num_classes)
    seed_everything(seed)
    model = DigitCNN(num_classes=k, **model_kwargs)
    train_images(model, xt, yt, epochs=epochs, seed=seed, batch_size=batch_size, lr=lr,
                 augment=augment, device=device, verbose=verbose)
    return model


def _labels(y, n: int, num_classes: int | None) -> tuple[torch.Tensor, int]:
    yt = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y)
    if yt.ndim != 1 or len(yt) != n:
        raise ValueError(f"y must have shape ({n},) to match x, got {tuple(yt.shape)}")
    if yt.is_floating_point() or yt.is_complex() or yt.dtype == torch.bool:
        raise TypeError(f"y must hold integer labels, got dtype {yt.dtype}")
    if len(yt) == 0:
        raise ValueError("x and y are empty")
    yt = yt.long()
    k = int(yt.max()) + 1 if num_classes is None else int(num_classes)
    if yt.min() < 0 or yt.max() >= k:
        raise ValueError(f"labels must lie in [0, {k}), got [{int(yt.min())}, {int(yt.max())}]")
    return yt, k


def train_images(model: nn.Module, x: torch.Tensor, y, *, epochs: int, seed: int,
                 batch_size: int = 128, lr: float = 3e-3, augment: bool = False,
                 device=None, verbose: bool = False) -> list[float]:
    """Train ``model`` in place on images ``x`` ``(N, C, H, W)``; return the loss of every step.

    AdamW (weight decay 5e-4), a one-cycle learning-rate schedule peaking at ``lr``,
    label smoothing 0.1, shuffled mini-batches drawn from a generator seeded with
    ``seed`` (so the same call on the same model gives the same result on the same
    device). With ``augment=True`` each batch goes through :func:`random_shift_rotate`.
    The total number of steps is capped by ``DLCORE_MAX_STEPS`` when set. The model
    is left on ``device`` (default :func:`dlcore.torch.device`) in eval mode.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point():
        raise ValueError("x must be a float tensor of shape (N, C, H, W), got "
                         f"{type(x).__name__} {tuple(getattr(x, 'shape', ()))}")
    yt, _ = _labels(y, len(x), None)
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    dev = torch.device(device) if device is not None else _default_device()
    model.to(dev)
    xt, yt = x.to(dev), yt.to(dev)
    gen = torch.Generator().manual_seed(int(seed))
    n = len(xt)
    total = math.ceil(n / batch_size) * int(epochs)
    cap = max_steps()
    if cap is not None:
        total = min(total, cap)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total)
    losses: list[float] = []
    model.train()
    for epoch in range(int(epochs)):
        order = torch.randperm(n, generator=gen).to(dev)
        for i in range(0, n, batch_size):
            if len(losses) >= total:
                break
            idx = order[i:i + batch_size]
            xb, yb = xt[idx], yt[idx]
            if augment:
                xb = random_shift_rotate(xb, generator=gen)
            loss = F.cross_entropy(model(xb), yb, label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: training loss "
                  f"{np.mean(losses[-math.ceil(n / batch_size):]):.4f}")
        if len(losses) >= total:
            break
    model.eval()
    return losses

def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class DeepCNN(nn.Module):
    """A stem, ``depth`` 3x3 convolutions of ``width`` channels, and a linear layer.

    The stem (a stride-2 3x3 convolution and 2x2 average pooling) takes a
    ``(N, in_channels, image_size, image_size)`` image to ``(N, width, s, s)`` with
    ``s = image_size // 4`` (7 for digits); the head is a linear layer on those
    ``width * s * s`` numbers. The body's
    convolutions come in pairs, ``conv -> ReLU -> conv``; with ``residual=True``
    each pair's input is added to its output (``x + f(x)``) before the ReLU that
    follows, otherwise not. Nothing else differs: the same layers, the same
    parameters, PyTorch's default initialisation, and no batch norm.

    Args:
        depth: number of 3x3 convolutions in the body (even).
        width: channels of every body convolution.
        residual: add the skip connection around every pair.
        batch_norm: put a batch norm after every body convolution
            (``conv -> BN -> ReLU -> conv -> BN``); the convolutions, and with the same
            seed their initial weights, are those of the network without it.
    """

    def __init__(self, depth: int = 16, width: int = 8, *, residual: bool = False,
                 in_channels: int = 1, num_classes: int = 10, image_size: int = 28,
                 batch_norm: bool = False):
        super().__init__()
        depth, width = _positive_int(depth, "depth"), _positive_int(width, "width")
        if depth % 2:
            raise ValueError(f"depth counts convolutions in pairs, so it must be even, got {depth}")
        self.residual = bool(residual)
        self.stem = nn.Sequential(
            nn.Conv2d(_positive_int(in_channels, "in_channels"), width, 3, stride=2, padding=1),
            nn.ReLU(), nn.AvgPool2d(2))
        self.batch_norm = bool(batch_norm)

        def pair() -> nn.Sequential:
            a, b = nn.Conv2d(width, width, 3, padding=1), nn.Conv2d(width, width, 3, padding=1)
            if self.batch_norm:
                return nn.Sequential(a, nn.BatchNorm2d(width), nn.ReLU(), b, nn.BatchNorm2d(width))
            return nn.Sequential(a, nn.ReLU(), b)

        self.pairs = nn.ModuleList(pair() for _ in range(depth // 2))
        side = ((_positive_int(image_size, "image_size") - 1) // 2 + 1) // 2
        if side < 1:
            raise ValueError(f"image_size must be at least 4, got {image_size}")
        self.head = nn.Linear(width * side * side, _positive_int(num_classes, "num_classes"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_channels, image_size, image_size)`` -> logits ``(N, num_classes)``."""
        h = self.stem(x)
        for pair in self.pairs:
            h = torch.relu(h + pair(h) if self.residual else pair(h))
        return self.head(h.flatten(1))


class BasicBlock(nn.Module):
    """The ResNet basic block: ``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))``.

    Both convolutions are 3x3; the first has stride ``stride``. The shortcut is the
    identity when the shape is unchanged, else a 1x1 convolution with stride
    ``stride`` followed by batch norm (He et al.'s projection shortcut).
    ``(N, in_channels, H, W)`` -> ``(N, out_channels, ceil(H/stride), ceil(W/stride))``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        cin = _positive_int(in_channels, "in_channels")
        cout = _positive_int(out_channels, "out_channels")
        stride = _positive_int(stride, "stride")
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The residual branch ``f(x)``, before the addition."""
        return self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.residual(x) + self.shortcut(x))


class ResNet(nn.Module):
    """A small ResNet: a 3x3 stem, stages of :class:`BasicBlock`, global average pooling.

    Stage ``i`` has ``blocks[i]`` blocks of ``widths[i]`` channels; every stage after
    the first starts with a stride-2 block, halving the image. With the defaults
    (widths 16, 32, 64, one block each) a 28x28 digit becomes 28 -> 14 -> 7.

    Args:
        widths: channels of each stage.
        blocks: blocks per stage (an int for all stages, or one per stage).
        zero_init_residual: start each block's last batch-norm scale at 0, so every
            block begins as the identity (a common trick; off by default).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10,
                 widths: tuple[int, ...] = (16, 32, 64), blocks: int | tuple[int, ...] = 1,
                 *, zero_init_residual: bool = False):
        super().__init__()
        widths = tuple(_positive_int(w, "widths") for w in widths)
        if not widths:
            raise ValueError("widths must name at least one stage")
        blocks = (blocks,) * len(widths) if isinstance(blocks, int) else tuple(blocks)
        if len(blocks) != len(widths):
            raise ValueError(f"blocks must have one entry per stage ({len(widths)}), got {blocks!r}")
        blocks = tuple(_positive_int(b, "blocks") for b in blocks)
        self.stem = nn.Sequential(
            nn.Conv2d(_positive_int(in_channels, "in_channels"), widths[0], 3, padding=1,
                      bias=False),
            nn.BatchNorm2d(widths[0]), nn.ReLU())
        layers, cin = [], widths[0]
        for i, (w, b) in enumerate(zip(widths, blocks)):
            for j in range(b):
                layers.append(BasicBlock(cin, w, stride=2 if i > 0 and j == 0 else 1))
                cin = w
        self.stages = nn.Sequential(*layers)
        self.head = nn.Linear(cin, _positive_int(num_classes, "num_classes"))
        if zero_init_residual:
            for block in self.stages:
                nn.init.zeros_(block.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_channels, H, W)`` -> logits ``(N, num_classes)``."""
        return self.head(self.stages(self.stem(x)).mean(dim=(2, 3)))

"""PyTorch helpers for Part II of the book (introduced in chapter 08).

Only the PyTorch chapters import this package, and it is the only part of
``dlcore`` that imports torch: ``import dlcore`` and ``import dlcore.data`` stay
NumPy-only.

* :mod:`dlcore.torch.devices` -- :func:`device`, :func:`seed_everything`,
  :func:`amp_dtype`, and the ``DLCORE_MAX_STEPS`` cap (:func:`max_steps`, :func:`capped`).
* :mod:`dlcore.torch.train` -- :func:`fit`, :func:`evaluate`, :func:`predict`, :func:`accuracy`.
* :mod:`dlcore.torch.history` -- :class:`History`, what ``fit`` returns, and its live figure.
* :mod:`dlcore.torch.checkpoint` -- :func:`save_checkpoint`, :func:`load_checkpoint`,
  :class:`CheckpointError`.
* :mod:`dlcore.torch.data` -- the NumPy datasets of :mod:`dlcore.data` as
  ``TensorDataset`` and ``DataLoader`` objects, with ``transforms.v2`` augmentation.

Chapter modules, imported on their own (``from dlcore.torch.vision import DigitCNN``):

* :mod:`dlcore.torch.vision` -- chapter 09's digit CNN, deep plain/residual CNNs, a small ResNet.
* :mod:`dlcore.torch.fastcifar` -- chapter 09's fast CIFAR-10 training on a GPU.
* :mod:`dlcore.torch.text` -- chapters 10 and 11: names split, vocabulary, metric, models.
* :mod:`dlcore.torch.generative` -- chapter 12's autoencoders, VAE, GANs and sample measures.
* :mod:`dlcore.torch.cache` -- chapter 13's cached training runs.
* :mod:`dlcore.torch.parallel` -- chapter 13's seeded runs side by side in forked processes.
"""

from .checkpoint import CheckpointError, CheckpointNotFoundError, load_checkpoint, save_checkpoint
from .devices import amp_dtype, capped, device, max_steps, seed_everything
from .history import History
from .train import accuracy, evaluate, fit, predict, to_device

__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "History",
    "accuracy",
    "amp_dtype",
    "capped",
    "device",
    "evaluate",
    "fit",
    "load_checkpoint",
    "max_steps",
    "predict",
    "save_checkpoint",
    "seed_everything",
    "to_device",
]

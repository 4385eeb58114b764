"""PyTorch helpers for Part II of the book.

Only the PyTorch chapters import this package, and it is the only part of
``dlcore`` that imports torch: ``import dlcore`` and ``import dlcore.data`` stay
NumPy-only.

* :mod:`dlcore.torch.data` -- the NumPy datasets of :mod:`dlcore.data` as
  ``TensorDataset`` and ``DataLoader`` objects.
"""

"""dlcore: the small NumPy deep learning library built chapter by chapter in the book.

``import dlcore`` never imports torch. PyTorch helpers live in :mod:`dlcore.torch`,
which only the PyTorch chapters import.
"""

__version__ = "0.1.0"

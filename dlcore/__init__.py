"""dlcore: the small NumPy deep learning library built chapter by chapter in the book.

``import dlcore`` never imports torch. PyTorch helpers live in :mod:`dlcore.torch`,
which only the PyTorch chapters import.
"""

from dlcore.dtype import get_default_dtype, set_default_dtype
from dlcore.serialization import load, save

__version__ = "0.1.0"

__all__ = ["get_default_dtype", "load", "save", "set_default_dtype"]

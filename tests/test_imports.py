"""Importing dlcore never imports torch, and `import dlcore` stays light."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def modules_loaded_by(statement: str) -> set[str]:
    """Run ``statement`` in a fresh interpreter and return the top-level modules it loaded."""
    code = f"import sys; {statement}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(result.stdout.split())


def test_dlcore_and_its_numpy_core_do_not_import_torch():
    loaded = modules_loaded_by("import dlcore, dlcore.nn, dlcore.optim, dlcore.autograd, dlcore.check, dlcore.perceptron")
    assert "dlcore" in loaded
    assert "torch" not in loaded


def test_dlcore_data_and_config_do_not_import_torch():
    loaded = modules_loaded_by("import dlcore.data, dlcore.config")
    assert "dlcore" in loaded and "torch" not in loaded
    # setup() of Part I asks torch about a GPU only to choose the default size
    loaded = modules_loaded_by("import os; os.environ['DLCORE_SIZE'] = 'quick'; import dlcore.config; "
                               "dlcore.config.setup(verbose=False, style=False)")
    assert "torch" not in loaded


def test_dlcore_torch_loads_neither_matplotlib_nor_torchvision_until_needed():
    loaded = modules_loaded_by("import dlcore.torch, dlcore.torch.data")
    assert "torch" in loaded
    assert not {"matplotlib", "torchvision", "IPython"} & loaded


def test_dlcore_torch_public_api():
    import pytest

    pytest.importorskip("torch")
    import dlcore.torch as dt

    for name in ("device", "seed_everything", "fit", "History", "evaluate", "predict", "save_checkpoint",
                 "load_checkpoint", "CheckpointError", "accuracy", "max_steps", "capped", "amp_dtype"):
        assert hasattr(dt, name) and name in dt.__all__, name
    assert callable(dt.device) and isinstance(dt.device(prefer="cpu"), __import__("torch").device)


def test_import_dlcore_loads_nothing_heavy():
    loaded = modules_loaded_by("import dlcore")
    assert not {"torch", "matplotlib", "scipy"} & loaded


def test_the_core_imports_neither_matplotlib_nor_scipy_until_needed():
    loaded = modules_loaded_by("import dlcore.nn, dlcore.optim, dlcore.autograd")
    assert not {"torch", "matplotlib", "scipy"} & loaded


def test_public_names():
    import dlcore
    import dlcore.nn as nn
    import dlcore.optim as optim

    for name in ("save", "load", "set_default_dtype", "get_default_dtype", "__version__"):
        assert hasattr(dlcore, name)
    for name in nn.__all__:
        assert hasattr(nn, name)
    for name in ("SGD", "Adam", "lr_scheduler"):
        assert hasattr(optim, name)
    assert hasattr(optim.lr_scheduler, "StepLR") and hasattr(optim.lr_scheduler, "CosineAnnealingLR")

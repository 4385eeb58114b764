"""Interactive explorers for the chapters, one function per explorer.

Each explorer teaches one idea with few controls. It returns an ``ipywidgets``
object whose controls and results are plain attributes, so a test can drive it
without a browser (set the slider, read the result). The chapter shows a static
figure next to it, so the printed page says the same thing.

===============================  =======  =============================================
explorer                         chapter  idea
===============================  =======  =============================================
``learning_curve_explorer``      01       accuracy against training examples per class
``gradient_descent_explorer``    02       gradient-descent paths over a loss surface
``perceptron_stepper``           03       one perceptron update per click
``activation_explorer``          04       activations, derivatives and depth
``playground_explorer``          05       a small neural-network playground
``optimizer_race``               06       SGD, momentum and Adam side by side
``capacity_explorer``            07       capacity, regularisation and data size
``number_format_explorer``       08       a value in float32, float16 and bfloat16
``kernel_explorer``              09       a 3x3 convolution kernel on a real image
``name_sampler``                 10       sampling names: temperature, top-k, a prefix
``attention_explorer``           11       each head's attention weights on a name
``gan_stepper``                  12       a 2-D GAN, one training step at a time
``transfer_explorer``            13       transfer strategies against labels per class
===============================  =======  =============================================

Each explorer's module is imported on first use, so ``import dlcore.widgets`` stays cheap.

The explorers work with ipywidgets 7.7 (what Colab ships) and 8.x: they use only what both
have (boxes, sliders, dropdowns, buttons, ``HTML``, ``Image``, ``Layout``, style dicts,
``observe``/``on_click``), and no 8.x-only API (``tests/test_ipywidgets7.py`` lists the
ones it scans for, such as HTML descriptions and tab titles set as a list; use
``set_title``). That test also runs every widget test under 7.7, where an unknown keyword
argument is an error rather than silently ignored.
"""

from __future__ import annotations

import importlib

_EXPLORERS = {
    "learning_curve_explorer": "ch01",
    "gradient_descent_explorer": "ch02",
    "perceptron_stepper": "ch03",
    "activation_explorer": "ch04",
    "playground_explorer": "ch05",
    "optimizer_race": "ch06",
    "capacity_explorer": "ch07",
    "number_format_explorer": "ch08",
    "kernel_explorer": "ch09",
    "name_sampler": "ch10",
    "attention_explorer": "ch11",
    "gan_stepper": "ch12",
    "transfer_explorer": "ch13",
}

__all__ = list(_EXPLORERS)


def __getattr__(name: str):
    if name in _EXPLORERS:
        module = importlib.import_module(f".{_EXPLORERS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)

"""``dlcore.optim``: optimizers and learning-rate schedules, named as in ``torch.optim``
(introduced in chapter 06).

    optimizer = SGD(net.parameters(), lr=0.1, momentum=0.9)
    optimizer.zero_grad(); ...; optimizer.step()

``step()`` raises FloatingPointError, and updates nothing, if a gradient contains NaN
or inf.
"""

from dlcore.optim import lr_scheduler
from dlcore.optim.adam import Adam
from dlcore.optim.optimizer import Optimizer
from dlcore.optim.sgd import SGD

__all__ = ["SGD", "Adam", "Optimizer", "lr_scheduler"]

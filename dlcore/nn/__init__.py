"""``dlcore.nn``: layers, losses and the Module base class, named as in ``torch.nn``.

Every layer has ``forward(x)`` (also reached by calling the layer) and
``backward(grad_output)``, which adds the parameter gradients into ``param.grad`` and
returns the gradient for the layer's input. A training step reads::

    net = Sequential(Linear(784, 256), ReLU(), Linear(256, 10))
    loss_fn = CrossEntropyLoss()
    optimizer = dlcore.optim.Adam(net.parameters(), lr=1e-3)

    optimizer.zero_grad()
    loss = loss_fn(net(x), y)          # x: (N, 784), y: (N,) labels
    net.backward(loss_fn.backward())   # gradients flow from the loss back to the input
    optimizer.step()

Parameters are float32 unless ``dlcore.set_default_dtype(np.float64)`` is called; the
dtype of every computation follows its input. NaN or inf reaching a loss, or a gradient
reaching an optimizer, raises FloatingPointError (see ``dlcore.nn.loss``).

Bad input gets a clear error, never a silently wrong result: ``backward`` checks that
its gradient has exactly the shape of the forward output (nothing is broadcast or
reshaped); float16, complex and non-numeric arrays are refused everywhere; what a layer
keeps for ``backward`` is its private copy, so editing an input or output in place after
``forward`` cannot change a gradient; and ``backward`` after a ``forward`` that raised
refuses to reuse the previous batch's cache.
"""

from dlcore.nn import init
from dlcore.nn.activation import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from dlcore.nn.batchnorm import BatchNorm1d
from dlcore.nn.container import Sequential
from dlcore.nn.conv import Conv2d
from dlcore.nn.dropout import Dropout
from dlcore.nn.linear import Linear
from dlcore.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from dlcore.nn.module import Module, Parameter
from dlcore.nn.pooling import Flatten, MaxPool2d

__all__ = [
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "GELU",
    "LeakyReLU",
    "Linear",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "init",
]

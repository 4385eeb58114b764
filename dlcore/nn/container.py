"""``Sequential``: a chain of modules (introduced in chapter 05)."""

from __future__ import annotations

from dlcore.nn.module import Module


class Sequential(Module):
    """Apply modules one after another; backward visits them in reverse.

    ``net[0]`` is the first module, ``net[-1]`` the last and ``net[1:]`` a new Sequential
    of the same module objects. Parameter names are the module's position and the
    parameter's name, as in PyTorch: ``"0.weight"``, ``"2.bias"``.

    Shapes: whatever the first module takes -> whatever the last module returns.
    """

    def __init__(self, *modules: Module):
        for index, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(
                    f"Sequential takes modules, but argument {index} is a "
                    f"{type(module).__name__}; did you forget the parentheses, as in ReLU()?"
                )
            setattr(self, str(index), module)
        self._check_distinct(modules)

    @staticmethod
    def _check_distinct(modules) -> None:
        """A layer keeps what its last forward saw, so the same layer object used twice
        in one chain would give the first use the second use's cache: a wrong gradient."""
        seen = {}
        for index, module in enumerate(modules):
            if id(module) in seen:
                raise ValueError(
                    f"Sequential got the same {type(module).__name__} object at positions "
                    f"{seen[id(module)]} and {index}; a dlcore layer remembers only its last "
                    f"forward pass, so create a separate layer for each position, e.g. ReLU() "
                    f"twice"
                )
            seen[id(module)] = index

    def _module_list(self) -> list[Module]:
        return [module for _, module in self.named_children()]

    def __getitem__(self, index):
        modules = self._module_list()
        if isinstance(index, slice):
            return Sequential(*modules[index])
        return modules[index]

    def __len__(self) -> int:
        return len(self._module_list())

    def __iter__(self):
        return iter(self._module_list())

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end; return self."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append takes a module, got {type(module).__name__}")
        self._check_distinct([*self._module_list(), module])
        setattr(self, str(len(self)), module)
        return self

    def forward(self, x):
        for module in self._module_list():
            x = module(x)
        return x

    def backward(self, grad_output):
        """Run each module's backward, last to first; return dL/d(input of the first)."""
        self._check_forward_succeeded()
        modules = self._module_list()
        grad = grad_output
        for i in reversed(range(len(modules))):
            if grad is None and i < len(modules) - 1:
                raise RuntimeError(
                    f"module {i + 1} ({type(modules[i + 1]).__name__}) returned no input "
                    f"gradient because its needs_input_grad is False, but module {i} "
                    f"({type(modules[i]).__name__}) below it needs that gradient; set "
                    f"needs_input_grad = False only on the first module"
                )
            grad = modules[i].backward(grad)
        return grad

"""Containers: Sequential, ModuleList, ModuleDict (as in torch.nn)."""
import operator
from collections import OrderedDict

from .module import Module, _addindent

__all__ = ['Sequential', 'ModuleList', 'ModuleDict']


def _position(index, length, owner):
    """A list position in range(length) from a possibly negative int index."""
    index = operator.index(index)
    if not -length <= index < length:
        raise IndexError(f'{owner}: index {index} is out of range for {length} modules')
    return index % length


class Sequential(Module):
    """Modules applied one after the other: ``Sequential(conv, bn, relu)`` names them
    '0', '1', '2'; ``Sequential(OrderedDict(conv=..., bn=...))`` keeps the given names."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(args):
                self.add_module(str(index), module)

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(OrderedDict(list(self._modules.items())[index]))
        keys = list(self._modules)
        return self._modules[keys[_position(index, len(keys), 'Sequential')]]

    def __setitem__(self, index, module):
        keys = list(self._modules)
        setattr(self, keys[_position(index, len(keys), 'Sequential')], module)

    def __delitem__(self, index):
        keys = list(self._modules)
        if isinstance(index, slice):
            doomed = keys[index]
        else:
            doomed = [keys[_position(index, len(keys), 'Sequential')]]
        for key in doomed:
            del self._modules[key]
        # renumber so that the names stay 0..n-1, as PyTorch does
        self._modules = OrderedDict((str(i), m) for i, m in enumerate(self._modules.values()))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        if not isinstance(module, Module):
            raise TypeError(f'Sequential.insert: {type(module).__name__} is not a Module')
        n = len(self._modules)
        if not -n <= index <= n:
            raise IndexError(f'Sequential.insert: index {index} is out of range for {n} modules')
        index = index % (n + 1) if index < 0 else index
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules = OrderedDict((str(i), m) for i, m in enumerate(modules))
        return self

    def pop(self, index):
        module = self[index]
        del self[index]
        return module


class ModuleList(Module):
    """A list of modules, registered so that their parameters are found; it has no
    forward (the owner decides how to call them)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(list(self._modules.values())[index])
        keys = list(self._modules)
        return self._modules[keys[_position(index, len(keys), 'ModuleList')]]

    def __setitem__(self, index, module):
        keys = list(self._modules)
        setattr(self, keys[_position(index, len(keys), 'ModuleList')], module)

    def __delitem__(self, index):
        keys = list(self._modules)
        if isinstance(index, slice):
            doomed = keys[index]
        else:
            doomed = [keys[_position(index, len(keys), 'ModuleList')]]
        for key in doomed:
            del self._modules[key]
        self._modules = OrderedDict((str(i), m) for i, m in enumerate(self._modules.values()))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        if isinstance(modules, Module) and not isinstance(modules, (ModuleList, Sequential)):
            raise TypeError(f'ModuleList.extend should be called with an iterable of modules, '
                            f'got {type(modules).__name__}')
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules = OrderedDict()
        for module in modules:
            self.append(module)

    def pop(self, index):
        module = self[index]
        del self[index]
        return module

    def __repr__(self):
        """PyTorch's: runs of identical consecutive modules are printed once,
        as ``(1-3): 3 x BasicBlock(...)``."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + '()'
        runs = []                                   # [first, last, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = []
        for first, last, r in runs:
            if first == last:
                lines.append(_addindent(f'({first}): {r}', 2))
            else:
                lines.append(_addindent(f'({first}-{last}): {last - first + 1} x {r}', 2))
        return self._get_name() + '(\n  ' + '\n  '.join(lines) + '\n)'


class ModuleDict(Module):
    """A dict of modules (insertion ordered), registered so their parameters are found."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def clear(self):
        self._modules.clear()

    def pop(self, key):
        module = self[key]
        del self[key]
        return module

    def update(self, modules):
        """Add (name, module) pairs from a mapping or an iterable of pairs."""
        items = modules.items() if hasattr(modules, 'items') else modules
        for entry in items:
            if len(entry) != 2:
                raise ValueError(f'ModuleDict.update: expected (name, module) pairs, got '
                                 f'an element of length {len(entry)}')
            self[entry[0]] = entry[1]

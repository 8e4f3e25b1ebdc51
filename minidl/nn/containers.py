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


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: modules named '0', '1', ... kept in order,
    indexed like a list, renumbered after a deletion or insertion (as PyTorch does)."""

    def _key(self, index):
        keys = list(self._modules)
        return keys[_position(index, len(keys), type(self).__name__)]

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._from_items(list(self._modules.items())[index])
        return self._modules[self._key(index)]

    def __setitem__(self, index, module):
        setattr(self, self._key(index), module)

    def __delitem__(self, index):
        doomed = list(self._modules)[index] if isinstance(index, slice) else [self._key(index)]
        for key in doomed:
            del self._modules[key]
        self._renumber(self._modules.values())

    def _renumber(self, modules):
        self._modules = OrderedDict((str(i), m) for i, m in enumerate(modules))

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
        if isinstance(modules, Module) and not isinstance(modules, _ModuleSequence):
            raise TypeError(f'{type(self).__name__}.extend should be called with an iterable '
                            f'of modules, got {type(modules).__name__}')
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        if not isinstance(module, Module):
            raise TypeError(f'{type(self).__name__}.insert: {type(module).__name__} is not a '
                            f'Module')
        n = len(self._modules)
        if not -n <= index <= n:
            raise IndexError(f'{type(self).__name__}.insert: index {index} is out of range '
                             f'for {n} modules')
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._renumber(modules)
        return self

    def pop(self, index):
        module = self[index]
        del self[index]
        return module


class Sequential(_ModuleSequence):
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

    @classmethod
    def _from_items(cls, items):
        return cls(OrderedDict(items))

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input


class ModuleList(_ModuleSequence):
    """A list of modules, registered so that their parameters are found; it has no
    forward (the owner decides how to call them)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    @classmethod
    def _from_items(cls, items):
        return cls([m for _, m in items])

    def __iadd__(self, modules):
        return self.extend(modules)

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

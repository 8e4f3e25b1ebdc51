"""Module: the base class of every layer and model, with PyTorch's semantics.

A Module owns parameters, buffers and sub-modules, registered in order by plain
attribute assignment::

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)       # a sub-module
            self.scale = nn.Parameter(...)       # a parameter
            self.register_buffer('steps', t)     # a buffer: state that is not trained

        def forward(self, x):
            return self.conv(x) * self.scale

``net(x)`` runs the forward pre-hooks, ``forward`` and the forward hooks. An error
raised inside a sub-module comes out with the sub-module's path in the model in front
of its message (``layer2.0.conv1 (Conv2d): conv2d: input has 3 channels, ...``),
keeping the exception's type.
"""
import itertools
import threading
from collections import OrderedDict, namedtuple

import numpy as np

from ..autograd import RemovableHandle, no_grad
from ..backend import Device, array_of, device_of, get_array_module, to_device
from ..tensor import Tensor, parse_to_args, zero_grads
from .parameter import Parameter

__all__ = ['Module', 'RemovableHandle', 'register_module_forward_pre_hook',
           'register_module_forward_hook']


class _IncompatibleKeys(namedtuple('IncompatibleKeys', ['missing_keys', 'unexpected_keys'])):
    """What ``load_state_dict`` returns: the keys it did not find and did not use."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return '<All keys matched successfully>'
        return super().__repr__()

    __str__ = __repr__


# Hooks run around every module's forward (torch.nn.modules.module's global hooks);
# the profiler uses them to attribute operator costs to modules.
_global_forward_pre_hooks = {}
_global_forward_hooks = {}


def register_module_forward_pre_hook(hook):
    """``hook(module, args)`` before every module's forward; may return new args."""
    handle = RemovableHandle(_global_forward_pre_hooks)
    _global_forward_pre_hooks[handle.id] = hook
    return handle


def register_module_forward_hook(hook):
    """``hook(module, args, output)`` after every module's forward; may return a new output."""
    handle = RemovableHandle(_global_forward_hooks)
    _global_forward_hooks[handle.id] = hook
    return handle


# The modules whose __call__ is running, outermost first (per thread). When an error
# leaves the outermost one, its path to the module that raised is known.
_calls = threading.local()


def _call_stack():
    stack = getattr(_calls, 'stack', None)
    if stack is None:
        stack = _calls.stack = []
    return stack


def _addindent(text, spaces):
    lines = text.split('\n')
    if len(lines) == 1:
        return text
    return lines[0] + '\n' + '\n'.join(' ' * spaces + line for line in lines[1:])


def _as_array(value, key):
    """The array in a state_dict entry: a NumPy/CuPy array, a minidl Tensor, a PyTorch
    tensor (detached and brought to the host), anything with ``.numpy()``, or a number."""
    array = array_of(value)
    if array is not None:
        return array
    if hasattr(value, 'numpy'):
        return value.numpy()
    if isinstance(value, (int, float, bool, np.generic)):
        return np.asarray(value)
    raise TypeError(f'load_state_dict: the value of {key!r} is a {type(value).__name__}; '
                    f'expected an array, a Tensor or something with .numpy()')


class Module:
    """Base class of layers and models (``torch.nn.Module``'s semantics)."""

    training: bool

    def __init__(self):
        object.__setattr__(self, 'training', True)
        object.__setattr__(self, '_parameters', OrderedDict())
        object.__setattr__(self, '_buffers', OrderedDict())
        object.__setattr__(self, '_non_persistent_buffers_set', set())
        object.__setattr__(self, '_modules', OrderedDict())
        object.__setattr__(self, '_forward_pre_hooks', OrderedDict())
        object.__setattr__(self, '_forward_hooks', OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  f'"forward" function')

    # ------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        stack = _call_stack()
        stack.append(self)
        try:
            if _global_forward_pre_hooks or self._forward_pre_hooks:
                for hook in (*_global_forward_pre_hooks.values(),
                             *self._forward_pre_hooks.values()):
                    result = hook(self, args)
                    if result is not None:
                        args = result if isinstance(result, tuple) else (result,)
            output = self.forward(*args, **kwargs)
            if _global_forward_hooks or self._forward_hooks:
                for hook in (*_global_forward_hooks.values(), *self._forward_hooks.values()):
                    result = hook(self, args, output)
                    if result is not None:
                        output = result
            return output
        except Exception as error:
            if getattr(error, '_minidl_module', None) is None:
                error._minidl_module = self      # the innermost module the error left
            if len(stack) == 1:                  # leaving the outermost module: name it
                self._prefix_error_with_path(error)
            raise
        finally:
            stack.pop()

    def _prefix_error_with_path(self, error):
        """Put ``path (Type): `` in front of the message of ``error``, raised inside the
        module ``error._minidl_module`` of the model ``self``; the type stays the same."""
        if getattr(error, '_minidl_path_added', False):
            return
        error._minidl_path_added = True
        culprit = error._minidl_module
        path = next((name for name, m in self.named_modules(remove_duplicate=False)
                     if m is culprit), None)
        where = (f'{path} ({type(culprit).__name__})' if path else type(culprit).__name__)
        if error.args and isinstance(error.args[0], str):
            error.args = (f'{where}: {error.args[0]}',) + error.args[1:]
        elif not error.args:
            error.args = (f'{where}: {type(error).__name__}',)
        else:
            error.add_note(f'raised in {where}')

    def register_forward_pre_hook(self, hook, prepend=False):
        """``hook(module, args)`` runs before ``forward``; a non-None result replaces the
        positional arguments."""
        return self._add_hook(self._forward_pre_hooks, hook, prepend)

    def register_forward_hook(self, hook, prepend=False):
        """``hook(module, args, output)`` runs after ``forward``; a non-None result
        replaces the output."""
        return self._add_hook(self._forward_hooks, hook, prepend)

    @staticmethod
    def _add_hook(hooks, hook, prepend):
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    # ------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        params = self.__dict__.get('_parameters')
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError('cannot assign parameters before Module.__init__() call')
            self._forget(name, keep='_parameters')
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter "
                                f"'{name}' (minidl.nn.Parameter or None expected)")
            self.register_parameter(name, None)
        else:
            modules = self.__dict__.get('_modules')
            if isinstance(value, Module):
                if modules is None:
                    raise AttributeError('cannot assign module before Module.__init__() call')
                self._forget(name, keep='_modules')
                modules[name] = value
            elif modules is not None and name in modules:
                if value is not None:
                    raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                    f"'{name}' (minidl.nn.Module or None expected)")
                modules[name] = None
            else:
                buffers = self.__dict__.get('_buffers')
                if buffers is not None and name in buffers:
                    if value is not None and not isinstance(value, Tensor):
                        raise TypeError(f"cannot assign '{type(value).__name__}' as buffer "
                                        f"'{name}' (minidl Tensor or None expected)")
                    buffers[name] = value
                else:
                    object.__setattr__(self, name, value)

    def _forget(self, name, keep):
        """Drop ``name`` from the instance and from every registry but ``keep`` (where
        it is about to be set again, keeping its place in the order)."""
        self.__dict__.pop(name, None)
        for registry in ('_parameters', '_buffers', '_modules'):
            if registry != keep:
                self.__dict__[registry].pop(name, None)
        self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name):
        # called only when normal lookup fails: look in the registries
        d = self.__dict__
        for registry in ('_parameters', '_buffers', '_modules'):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for registry in ('_parameters', '_buffers', '_modules'):
            if name in self.__dict__[registry]:
                del self.__dict__[registry][name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = set(dir(type(self))) | set(self.__dict__)
        keys |= set(self._parameters) | set(self._buffers) | set(self._modules)
        return sorted(k for k in keys if not k[0].isdigit())

    def _check_new_name(self, kind, name):
        if '_parameters' not in self.__dict__:
            raise AttributeError(f'cannot assign {kind} before Module.__init__() call')
        if not isinstance(name, str):
            raise TypeError(f'{kind} name should be a string, got {type(name).__name__}')
        if name == '':
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if '.' in name:
            raise KeyError(f'{kind} name can\'t contain ".", got {name!r}')

    def register_buffer(self, name, tensor, persistent=True):
        """A Tensor that belongs to the module's state but is not trained (BatchNorm's
        running statistics). It moves with ``to()`` and, when ``persistent``, is saved
        in ``state_dict()``."""
        self._check_new_name('buffer', name)
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer "
                            f"'{name}' (minidl Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name, param):
        self._check_new_name('parameter', name)
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (minidl.nn.Parameter or None required)")
        if param is not None and not param.is_leaf:
            raise ValueError(f"cannot assign a computed tensor to parameter '{name}': "
                             f"a Parameter must be a leaf (use .detach())")
        self._parameters[name] = param

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f'{type(module).__name__} is not a Module subclass')
        self._check_new_name('module', name)
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        """The module at dotted path ``target`` ('' is the module itself)."""
        module = self
        if target == '':
            return module
        walked = []
        for item in target.split('.'):
            if item not in module._modules or module._modules[item] is None:
                where = '.'.join(walked) or type(self).__name__
                raise AttributeError(f'{where} has no submodule `{item}` (looking up {target!r})')
            module = module._modules[item]
            walked.append(item)
        return module

    def get_parameter(self, target):
        module_path, _, name = target.rpartition('.')
        module = self.get_submodule(module_path)
        if name not in module._parameters:
            raise AttributeError(f'`{name}` is not a parameter of {module_path or type(self).__name__}')
        return module._parameters[name]

    # ------------------------------------------------------------ walking the tree
    def named_modules(self, memo=None, prefix='', remove_duplicate=True):
        """(path, module) for this module and every module below it, depth first;
        a module reachable by two paths is given once unless ``remove_duplicate=False``."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ('.' if prefix else '') + name,
                                            remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        seen = set()
        walk = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                if recurse else [(prefix, self)])
        for module_prefix, module in walk:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield module_prefix + ('.' if module_prefix else '') + name, value

    def named_parameters(self, prefix='', recurse=True, remove_duplicate=True):
        """(name, Parameter) pairs under state_dict names; a shared parameter once."""
        yield from self._named_members('_parameters', prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix='', recurse=True, remove_duplicate=True):
        yield from self._named_members('_buffers', prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module (children first) and on self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ modes and gradients
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError('training mode is expected to be boolean')
        for module in self.modules():
            object.__setattr__(module, 'training', mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        zero_grads(self.parameters(), set_to_none)

    # ------------------------------------------------------------ moving and casting
    def _apply_to_arrays(self, fn):
        """Replace the array of every parameter, gradient and buffer by ``fn(array)``,
        keeping the Parameter and buffer objects (an optimizer holding them still works)."""
        for module in self.modules():
            for registry in (module._parameters, module._buffers):
                for tensor in registry.values():
                    if tensor is None:
                        continue
                    tensor.array = fn(tensor.array)
                    if tensor.grad is not None:
                        tensor.grad = Tensor(fn(tensor.grad.array))
        return self

    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(tensor)``: moves the
        parameters and buffers in place; a dtype applies to floating-point ones only."""
        device, dtype = parse_to_args('Module.to', args, kwargs)
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind not in 'fc':
                raise TypeError(f'Module.to only accepts floating point dtypes, got {dtype}')
        target = None if device is None else Device(device)

        def convert(array):
            if target is not None and device_of(array) != target:
                array = to_device(array, target)
            if dtype is not None and array.dtype.kind == 'f' and array.dtype != dtype:
                array = array.astype(dtype)
            return array
        return self._apply_to_arrays(convert)

    def cuda(self, device=None):
        return self.to('cuda' if device is None else
                       f'cuda:{device}' if isinstance(device, int) else device)

    def cpu(self):
        return self.to('cpu')

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def half(self):
        return self.to(np.float16)

    # ------------------------------------------------------------ state_dict
    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.array
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buffer if keep_vars else buffer.array

    def state_dict(self, destination=None, prefix='', keep_vars=False):
        """The parameters and persistent buffers of the model, as arrays (shared with the
        model, not copies) under PyTorch's key names (``layer1.0.bn1.running_mean``)."""
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + '.',
                                  keep_vars=keep_vars)
        return destination

    def _load_from_state_dict(self, state_dict, prefix, missing_keys, unexpected_keys,
                              error_msgs):
        """Copy this module's own entries (not its children's) from ``state_dict``."""
        persistent = {name: t for name, t in self._buffers.items()
                      if name not in self._non_persistent_buffers_set}
        for name, target in itertools.chain(self._parameters.items(), persistent.items()):
            if target is None:
                continue
            key = prefix + name
            if key not in state_dict:
                missing_keys.append(key)
                continue
            source = _as_array(state_dict[key], key)
            if tuple(source.shape) != tuple(target.shape):
                error_msgs.append(f'size mismatch for {key}: copying a param with shape '
                                  f'{tuple(source.shape)} from checkpoint, the shape in current '
                                  f'model is {tuple(target.shape)}.')
                continue
            xp = get_array_module(target.array)
            source = xp.asarray(to_device(source, target.device))
            with no_grad():
                target.array[...] = source.astype(target.dtype, copy=False)

    def load_state_dict(self, state_dict, strict=True):
        """Copy ``state_dict``'s arrays into the parameters and buffers, keeping their
        dtype and device. Values may be NumPy or CuPy arrays, minidl Tensors or PyTorch
        tensors. Returns ``(missing_keys, unexpected_keys)``; with ``strict`` either being
        non-empty is an error, and a shape mismatch always is."""
        if not hasattr(state_dict, 'keys') or not hasattr(state_dict, '__getitem__'):
            raise TypeError(f'Expected state_dict to be dict-like, got {type(state_dict).__name__}.')
        state_dict = OrderedDict(state_dict)   # modules' loaders may add entries
        missing, unexpected, errors = [], [], []
        for name, module in self.named_modules(remove_duplicate=False):
            module._load_from_state_dict(state_dict, name + '.' if name else '',
                                         missing, unexpected, errors)
        expected = set(self.state_dict().keys())
        unexpected.extend(k for k in state_dict if k not in expected)
        if strict:
            if unexpected:
                errors.insert(0, 'Unexpected key(s) in state_dict: {}. '.format(
                    ', '.join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, 'Missing key(s) in state_dict: {}. '.format(
                    ', '.join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError('Error(s) in loading state_dict for {}:\n\t{}'.format(
                type(self).__name__, '\n\t'.join(errors)))
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ printing
    def extra_repr(self):
        """The text between the parentheses of this module's repr (its settings)."""
        return ''

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split('\n') if extra else []
        child_lines = [f'({name}): ' + _addindent(repr(module), 2)
                       for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + '('
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += '\n  ' + '\n  '.join(lines) + '\n'
        return text + ')'

"""Optimizer: parameter groups, per-parameter state, zero_grad, state_dict (as torch.optim).

An optimizer holds ``param_groups``, a list of dicts each with its ``'params'`` and its
options (``lr``, ``momentum``, ...), and ``state``, a dict from parameter to that
parameter's buffers (SGD's ``'momentum_buffer'``, an array like the parameter's).
"""
import copy

import numpy as np

from ..backend import get_array_module, is_array, to_device
from ..tensor import Tensor, zero_grads

__all__ = ['Optimizer', 'required']


class _Required:
    """The default of an option every group must set (PyTorch's ``required``)."""

    def __repr__(self):
        return '<required parameter>'


required = _Required()


def _host_or_device_array(value):
    """The array inside a saved state entry: an array, a minidl Tensor or a PyTorch tensor."""
    if isinstance(value, Tensor):
        return value.array
    if is_array(value):
        return value
    if hasattr(value, 'detach') and hasattr(value, 'cpu'):
        return value.detach().cpu().numpy()
    return None


class Optimizer:
    """Base class of optimizers. Subclasses call ``super().__init__(params, defaults)``
    and define ``step()``.

    ``params`` is an iterable of Tensors, or of dicts ``{'params': [...], 'lr': ...}``
    that give some groups their own options (the others take ``defaults``).
    """

    def __init__(self, params, defaults):
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f'{name}: params argument given to the optimizer should be an '
                            f'iterable of Tensors or dicts, but got a Tensor of shape '
                            f'{params.shape}')
        self.defaults = defaults
        self.state = {}
        self.param_groups = []
        groups = list(params)
        if not groups:
            raise ValueError(f'{name}: optimizer got an empty parameter list')
        if not isinstance(groups[0], dict):
            groups = [{'params': groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Add a group of parameters with its options (missing ones from ``defaults``)."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f'{name}: a parameter group must be a dict, got '
                            f'{type(param_group).__name__}')
        group = dict(param_group)
        params = group['params']
        if isinstance(params, Tensor):
            group['params'] = [params]
        elif isinstance(params, set):
            raise TypeError(f'{name}: optimizer parameters need to be organized in ordered '
                            f'collections, but the ordering of tensors in sets will change '
                            f'between runs. Please use a list instead.')
        else:
            group['params'] = list(params)
        for p in group['params']:
            if not isinstance(p, Tensor):
                raise TypeError(f'{name}: can only optimize Tensors, got {type(p).__name__}')
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (shape {p.shape})")
        for option, default in self.defaults.items():
            if default is required and option not in group:
                raise ValueError(f"{name}: parameter group didn't specify a value of required "
                                 f"optimization parameter {option}")
            group.setdefault(option, default)
        if len({id(p) for p in group['params']}) != len(group['params']):
            raise ValueError(f'{name}: a parameter group holds the same parameter twice')
        seen = {id(p) for g in self.param_groups for p in g['params']}
        if any(id(p) in seen for p in group['params']):
            raise ValueError(f'{name}: some parameters appear in more than one parameter group')
        self.param_groups.append(group)

    def step(self, closure=None):
        raise NotImplementedError(f'{type(self).__name__} must define step()')

    def zero_grad(self, set_to_none=True):
        """Drop every parameter's gradient (or set it to zeros with ``set_to_none=False``)."""
        zero_grads((p for group in self.param_groups for p in group['params']), set_to_none)

    # ------------------------------------------------------------ checkpoints
    def state_dict(self):
        """PyTorch's format: ``{'state': {index: {...}}, 'param_groups': [{..., 'params':
        [index, ...]}]}``, parameters numbered in order across the groups. The state's
        arrays are copies."""
        index, groups = {}, []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != 'params'}
            packed['params'] = []
            for p in group['params']:
                index.setdefault(id(p), len(index))
                packed['params'].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group['params']:
                if p in self.state:
                    state[index[id(p)]] = {k: v.copy() if is_array(v) else copy.deepcopy(v)
                                           for k, v in self.state[p].items()}
        return {'state': state, 'param_groups': groups}

    def load_state_dict(self, state_dict):
        """Restore ``state_dict()``'s output (also a PyTorch optimizer's): options of every
        group, and the state, copied to each parameter's device; floating-point state
        takes the parameter's dtype."""
        name = type(self).__name__
        saved_groups = state_dict['param_groups']
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f'{name}.load_state_dict: loaded state dict has a different number '
                             f'of parameter groups ({len(saved_groups)}, the optimizer has '
                             f'{len(self.param_groups)})')
        by_index = {}
        for k, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved['params']) != len(group['params']):
                raise ValueError(f"{name}.load_state_dict: loaded state dict contains a parameter "
                                 f"group that doesn't match the size of optimizer's group "
                                 f"(group {k}: {len(saved['params'])} saved, "
                                 f"{len(group['params'])} here)")
            by_index.update(zip(saved['params'], group['params']))
        for saved, group in zip(saved_groups, self.param_groups):
            group.update({k: copy.deepcopy(v) for k, v in saved.items() if k != 'params'})
        self.state = {}
        for key, entries in state_dict['state'].items():
            p = by_index[int(key)]
            self.state[p] = {k: _restore(v, p) for k, v in entries.items()}

    def __repr__(self):
        lines = [f'{type(self).__name__} (']
        for i, group in enumerate(self.param_groups):
            lines.append(f'Parameter Group {i}')
            for key in sorted(k for k in group if k != 'params'):
                lines.append(f'    {key}: {group[key]}')
        lines.append(')')
        return '\n'.join(lines)


def _restore(value, param):
    """A saved state entry as this optimizer keeps it: arrays copied onto ``param``'s
    device (floating ones in its dtype); other values deep-copied."""
    array = _host_or_device_array(value)
    if array is None:
        return copy.deepcopy(value)
    array = to_device(array, param.device)
    xp = get_array_module(array)
    dtype = param.dtype if np.dtype(array.dtype).kind == 'f' else array.dtype
    return xp.array(array, dtype=dtype, copy=True)

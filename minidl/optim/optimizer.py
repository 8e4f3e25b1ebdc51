"""Optimizer: parameter groups, per-parameter state, zero_grad, state_dict (as torch.optim)."""
import copy

from ..tensor import Tensor


class _Required:
    def __repr__(self):
        return '<required parameter>'


required = _Required()


class Optimizer:
    """Base class: holds ``param_groups`` (dicts with 'params' and options) and ``state``
    (per-parameter dicts, e.g. the momentum buffer)."""

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = {}
        self.param_groups = []
        params = list(params)
        if not params:
            raise ValueError(f'{type(self).__name__}: got an empty parameter list')
        if not isinstance(params[0], dict):
            params = [{'params': params}]
        for group in params:
            self.add_param_group(group)

    def add_param_group(self, group):
        group = dict(group)
        params = group['params']
        group['params'] = [params] if isinstance(params, Tensor) else list(params)
        for p in group['params']:
            if not isinstance(p, Tensor):
                raise TypeError(f'{type(self).__name__}: can only optimize Tensors, got '
                                f'{type(p).__name__}')
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f'{type(self).__name__}: parameter group didn\'t specify a '
                                 f'value of required optimization parameter {name}')
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g['params']}
        if any(id(p) in seen for p in group['params']):
            raise ValueError(f'{type(self).__name__}: some parameters appear in more than one '
                             f'parameter group')
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group['params']:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad.data[...] = 0

    def state_dict(self):
        """PyTorch's format: parameters are numbered across groups; state is keyed by number."""
        index, groups = {}, []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != 'params'}
            packed['params'] = []
            for p in group['params']:
                index.setdefault(id(p), len(index))
                packed['params'].append(index[id(p)])
            groups.append(packed)
        state = {index[id(p)]: {k: (v.copy() if hasattr(v, 'copy') else v) for k, v in s.items()}
                 for group in self.param_groups for p in group['params']
                 if (s := self.state.get(p)) is not None}
        return {'state': state, 'param_groups': groups}

    def load_state_dict(self, state_dict):
        groups = state_dict['param_groups']
        if len(groups) != len(self.param_groups):
            raise ValueError(f'{type(self).__name__}.load_state_dict: {len(groups)} parameter '
                             f'groups saved, the optimizer has {len(self.param_groups)}')
        by_index = {}
        for saved, group in zip(groups, self.param_groups):
            if len(saved['params']) != len(group['params']):
                raise ValueError(f'{type(self).__name__}.load_state_dict: a group of '
                                 f'{len(saved["params"])} parameters was saved for one of '
                                 f'{len(group["params"])}')
            for i, p in zip(saved['params'], group['params']):
                by_index[i] = p
            group.update({k: copy.deepcopy(v) for k, v in saved.items() if k != 'params'})
        self.state = {}
        for i, s in state_dict['state'].items():
            p = by_index[int(i)]
            self.state[p] = {k: (_like(v, p) if hasattr(v, 'shape') else v) for k, v in s.items()}

    def __repr__(self):
        lines = [f'{type(self).__name__} (']
        for i, group in enumerate(self.param_groups):
            lines.append(f'Parameter Group {i}')
            for key in sorted(k for k in group if k != 'params'):
                lines.append(f'    {key}: {group[key]}')
        lines.append(')')
        return '\n'.join(lines)


def _like(array, param):
    """``array`` as an array of ``param``'s device and dtype."""
    from ..backend import get_array_module, to_device
    array = to_device(array.data if isinstance(array, Tensor) else array, param.device)
    return get_array_module(array).array(array, dtype=param.dtype, copy=True)

"""Optimizer: parameter groups, per-parameter state, zero_grad, state_dict (as torch.optim).

An optimizer holds ``param_groups``, a list of dicts each with its ``'params'`` and its
options (``lr``, ``momentum``, ...), and ``state``, a dict from parameter to that
parameter's buffers (SGD's ``'momentum_buffer'``, Adam's ``'exp_avg'`` and
``'exp_avg_sq'``: arrays like the parameter's) and, for the adaptive optimizers, the
``'step'`` count, kept as PyTorch keeps it: a 0-d float32 array on the host.

A subclass either defines ``step()`` itself (SGD) or lets the base ``step()`` walk the
parameters and defines two methods: ``_initial_state(p, group)``, the state of a
parameter before its first update, and ``_update(p, grad, state, group)``, one update
of one parameter. Every subclass says how many parameter-sized arrays it keeps
(``param_state_arrays``), which the memory profiler counts.
"""
import copy

import numpy as np

from ..autograd import enable_grad
from ..backend import array_of, get_array_module, is_array, to_device
from ..tensor import Tensor, zero_grads

__all__ = ['Optimizer', 'required']


class _Required:
    """The default of an option every group must set (PyTorch's ``required``)."""

    def __repr__(self):
        return '<required parameter>'


required = _Required()


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
        _reject_unsupported_flags(name, **{flag: group[flag] for flag in UNSUPPORTED_FLAGS
                                         if flag in group})
        if len({id(p) for p in group['params']}) != len(group['params']):
            raise ValueError(f'{name}: a parameter group holds the same parameter twice')
        seen = {id(p) for g in self.param_groups for p in g['params']}
        if any(id(p) in seen for p in group['params']):
            raise ValueError(f'{name}: some parameters appear in more than one parameter group')
        self.param_groups.append(group)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; ``closure`` (re-evaluating
        the loss with gradients on) is called first when given, and its loss returned.
        A parameter's state is created (``_initial_state``) before its first update."""
        loss = self._evaluate(closure)
        for group in self.param_groups:
            for p in group['params']:
                grad = self._gradient(p)
                if grad is None:
                    continue
                state = self.state.setdefault(p, {})
                if not state:
                    state.update(self._initial_state(p, group))
                p._mark_changed(f'{type(self).__name__}.step')  # a graph that saved p sees it
                self._update(p, grad, state, group)
        return loss

    def _initial_state(self, p, group):
        """The state of parameter ``p`` before its first update (a dict)."""
        raise NotImplementedError(f'{type(self).__name__} must define step(), or '
                                  f'_initial_state() and _update()')

    def _update(self, p, grad, state, group):
        """One update of parameter ``p`` (in place) from its gradient array ``grad``."""
        raise NotImplementedError(f'{type(self).__name__} must define step(), or '
                                  f'_initial_state() and _update()')

    @staticmethod
    def _evaluate(closure):
        """The loss of ``closure()``, evaluated with gradients on; None without a closure."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _gradient(self, p):
        """The raw gradient array of ``p`` (None when it has none), checked against p's shape."""
        if p.grad is None:
            return None
        grad = p.grad.array
        if grad.shape != p.array.shape:
            raise RuntimeError(f'{type(self).__name__}: the gradient of a parameter of shape '
                               f'{p.shape} has shape {tuple(grad.shape)}')
        return grad

    # ------------------------------------------------------------ memory
    def param_state_arrays(self, group):
        """How many arrays of a parameter's shape and dtype this optimizer keeps for each
        parameter of ``group`` (SGD with momentum 1, Adam 2, Adam with amsgrad 3). Scalars
        such as the 4-byte ``step`` count are not counted."""
        raise NotImplementedError(f'{type(self).__name__} must define param_state_arrays()')

    def update_scratch_arrays(self, group):
        """At most how many temporary arrays of a parameter's size one update of a
        parameter of ``group`` holds at once (NumPy path, measured with tracemalloc for
        parameters large enough for NumPy to reuse temporaries; CuPy may hold more, the
        CUDA kernels none). The memory profiler adds it for the largest parameter."""
        return 1

    def state_bytes(self):
        """Bytes of the per-parameter state arrays this optimizer holds once every
        parameter has been updated: ``param_state_arrays`` times each parameter's size."""
        return sum(self.param_state_arrays(group) * int(p.array.nbytes)
                   for group in self.param_groups for p in group['params'])

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
            self.state[p] = {k: _restore(k, v, p) for k, v in entries.items()}

    def __repr__(self):
        lines = [f'{type(self).__name__} (']
        for i, group in enumerate(self.param_groups):
            lines.append(f'Parameter Group {i}')
            for key in sorted(k for k in group if k != 'params'):
                lines.append(f'    {key}: {group[key]}')
        lines.append(')')
        return '\n'.join(lines)


def _gradient_copied(group):
    """Whether an update makes a new gradient array (negated for maximize, or with the
    L2 penalty added) before its own temporaries."""
    return bool(group.get('maximize') or (group.get('weight_decay', 0) != 0
                                          and not group.get('decoupled_weight_decay')))


def step_counter(value=0.0):
    """A parameter's ``'step'`` count as PyTorch keeps it: a 0-d float32 array on the host
    (whatever the parameter's device and dtype)."""
    return np.array(float(value), dtype=np.float32)


def _restore(key, value, param):
    """A saved state entry as this optimizer keeps it: ``'step'`` as ``step_counter``
    (PyTorch does not cast it either); arrays copied onto ``param``'s device (floating
    ones in its dtype); other values deep-copied."""
    array = array_of(value)
    if key == 'step':
        return step_counter(value if array is None else to_device(array, 'cpu'))
    if array is None:
        return copy.deepcopy(value)
    array = to_device(array, param.device)
    xp = get_array_module(array)
    dtype = param.dtype if np.dtype(array.dtype).kind == 'f' else array.dtype
    return xp.array(array, dtype=dtype, copy=True)


# PyTorch options that choose an implementation; minidl accepts them switched off
UNSUPPORTED_FLAGS = ('capturable', 'differentiable', 'fused')


def _reject_unsupported_flags(name, **flags):
    """Raise for an option of UNSUPPORTED_FLAGS switched on (in the constructor or a
    group): minidl has one implementation of each update (and a CUDA kernel of it, see
    ``minidl.backend.use_cuda_kernels``)."""
    for flag, value in flags.items():
        if value:
            raise ValueError(f'{name}: {flag}={value!r} is not supported by minidl (one '
                             f'implementation, on NumPy or CuPy arrays; its CUDA kernel is '
                             f'switched on by MINIDL_CUDA_KERNELS=1)')

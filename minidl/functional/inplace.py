"""In-place operations: ``x.add_(y)``, ``x += y``, ``x[i] = v``, ``relu(x, inplace=True)``.

An in-place operation is its out-of-place operator with the result written back into the
tensor's storage (``apply_inplace``): the Tensor keeps its identity and its array, its
version goes up by one, and when the operation is recorded the operator's node becomes
the tensor's ``grad_fn`` (PyTorch "rebases" the history the same way). So
``y = x * 2; y.add_(1); y.sum().backward()`` differentiates ``x * 2 + 1``.

What the operator saved for backward is kept right: a saved input that the write
overwrites is copied first (PyTorch's "original self"), a saved output becomes the
storage itself, checked by its version (``minidl/autograd.py``).

An in-place change of a view (``x[0].mul_(2)``, or ``x[0] = v``) also changes its base.
The base's new history is ``CopySlices``: the base with the view's region replaced by the
new values; the view's own ``grad_fn`` is then rebuilt from the base when next used.

PyTorch's rules are kept: an in-place change of a leaf that requires grad (or of a view
of one) raises while grad mode is on; under ``no_grad()`` nothing is recorded.
"""
import numpy as np

from ..autograd import (ArrayFunction as Function, Context, Cost, broadcasts_to,
                        is_grad_enabled, keep_saved_input, point_saved_output, rebase)
from ..backend import get_array_module, is_array, to_device
from ..tensor import Tensor
from ._util import check_tensor, raw, sum_to_shape
from .shape import GetItem, raw_index

__all__ = []


# ---------------------------------------------------------------- the operators

class Fill(Function):
    @staticmethod
    def forward(ctx, x, *, value):
        """``value``: a number, or an array broadcast to x's shape (the random fills)."""
        xp = get_array_module(x)
        return xp.broadcast_to(xp.asarray(value, dtype=x.dtype), x.shape).copy()

    @staticmethod
    def backward(ctx, grad):
        """y = c whatever x was: dy/dx = 0."""
        return get_array_module(grad).zeros_like(grad)

    cost = staticmethod(lambda ctx, i, o: Cost(forward_flops=o[0].size))


class Copy(Function):
    @staticmethod
    def forward(ctx, x, src):
        ctx.src_shape, ctx.src_dtype = src.shape, src.dtype
        return get_array_module(x).broadcast_to(src, x.shape).astype(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        """y = src, broadcast to x's shape and cast to x's dtype: dy/dx = 0, and
        dy/dsrc = 1, summed over the dimensions the broadcast added."""
        xp = get_array_module(grad)
        return (xp.zeros_like(grad) if ctx.needs_input_grad[0] else None,
                sum_to_shape(grad, ctx.src_shape).astype(ctx.src_dtype)
                if ctx.needs_input_grad[1] else None)

    cost = staticmethod(lambda ctx, i, o: Cost(forward_flops=o[0].size))


class CopySlices(Function):
    """``base`` with the region that ``steps`` select replaced by ``src``: what an
    in-place change of a view, or ``base[index] = src``, does to the base. ``steps`` are
    a view's steps (``autograd.ViewOf``), replayed on arrays."""

    @staticmethod
    def forward(ctx, base, src, *, steps):
        out = base.copy()
        _write_region(out, steps, src)
        ctx.steps, ctx.src_shape = steps, np.shape(src)
        ctx.src_dtype = getattr(src, 'dtype', None)
        return out

    @staticmethod
    def backward(ctx, grad):
        """y = base outside the region and src inside it: dy/dbase is 1 outside the
        region and 0 inside; dy/dsrc is 1 on the region (summed where src was
        broadcast to fill it)."""
        grad_base = grad_src = None
        if ctx.needs_input_grad[1]:
            grad_src = sum_to_shape(_replay(grad, ctx.steps), ctx.src_shape)
            grad_src = grad_src.astype(ctx.src_dtype)          # a copy: grad is reused
        if ctx.needs_input_grad[0]:
            grad_base = grad.copy()
            _write_region(grad_base, ctx.steps, 0)
        return grad_base, grad_src

    cost = staticmethod(lambda ctx, i, o: Cost(forward_flops=o[0].size,
                                               backward_input_flops=o[0].size))


def _replay(array, steps):
    """The view that ``steps`` make from ``array``, on raw arrays."""
    for function, position, args, kwargs, output in steps:
        args = list(args)
        args[position] = array
        array = function.forward(Context((False,) * len(args)), *args, **kwargs)
        if output is not None:
            array = array[output]
    return array


def _write_region(array, steps, values):
    """Write ``values`` into the part of ``array`` that ``steps`` select."""
    parent = _replay(array, steps[:-1])
    function, position, args, kwargs, output = steps[-1]
    if function is GetItem:               # through the index: integer arrays select copies
        parent[kwargs['index']] = values
        return
    region = _replay(parent, steps[-1:])
    xp = get_array_module(array)
    if not xp.may_share_memory(region, array) or not getattr(region.flags, 'writeable', True):
        raise RuntimeError(f'in-place change of a view made by {function.__name__}: minidl '
                           f'cannot write through that view (a broadcast from expand(), or '
                           f'a copy); change a clone() instead')
    region[...] = values


# ---------------------------------------------------------------- the in-place machinery

def check_inplace(name, target, args):
    """Whether changing ``target`` in place must be recorded; raises where PyTorch does."""
    if not is_grad_enabled():
        return False
    view = target._view
    if view is not None and view.base.requires_grad:
        if not view.tracked:
            raise RuntimeError(
                f'{name}: A view was created in no_grad mode and is being modified inplace '
                f'with grad mode enabled. Make the view and the change both inside the '
                f'no_grad block, or both outside it.')
        if view.base.is_leaf:
            raise RuntimeError(f'{name}: a view of a leaf Variable that requires grad is being '
                               f'used in an in-place operation.')
    elif target.requires_grad and target.is_leaf:
        raise RuntimeError(f'{name}: a leaf Variable that requires grad is being used in an '
                           f'in-place operation.')
    recording = target.requires_grad or any(isinstance(a, Tensor) and a.requires_grad
                                            for a in args)
    if view is not None:
        recording = recording or view.base.requires_grad
        if recording and view.steps is None:
            raise RuntimeError(f'{name}: this view was made by an operator with several tensor '
                               f'inputs and cannot be changed in place while recording; '
                               f'change a clone() instead')
    return recording


def _write(target, values, name):
    """Write ``values`` (broadcast) into ``target``'s storage and count the change."""
    storage = target.array
    if not getattr(storage.flags, 'writeable', True):
        raise RuntimeError(f'{name}: the tensor is a read-only view (a broadcast from '
                           f'expand(), or a read-only array); change a clone() instead')
    if values is not storage:
        storage[...] = values
    target._version_counter.bump(name)


def apply_inplace(name, target, fn, *args, **kwargs):
    """``fn(target, *args, **kwargs)``, an out-of-place operator, written into
    ``target``'s storage. Returns ``target``.

    Raises RuntimeError when the result's shape differs from the target's (PyTorch does
    not broadcast the tensor changed in place) or its dtype cannot be cast to the
    target's without changing kind (float into an integer tensor).
    """
    check_tensor(target, name, 'self')
    recording = check_inplace(name, target, args + tuple(kwargs.values()))
    result = fn(target, *args, **kwargs)
    if result is target:
        return target
    if result.shape != target.shape:
        raise RuntimeError(f"{name}: output with shape {list(target.shape)} doesn't match the "
                           f"broadcast shape {list(result.shape)}")
    if result.dtype != target.dtype and not np.can_cast(result.dtype, target.dtype, 'same_kind'):
        raise RuntimeError(f"{name}: result type {result.dtype} can't be cast to the desired "
                           f"output type {target.dtype}")
    node = result.grad_fn if recording else None
    view = target._view
    if node is not None:
        keep_saved_input(node, target.array)
        if view is not None:          # the base's new history, made before the write
            new_base = CopySlices.apply(view.base, result, steps=view.steps)
    _write(target, result.array, name)           # a view writes through into its base
    if node is not None:
        if view is not None:
            rebase(view.base, new_base.grad_fn)  # the view's grad_fn follows on next use
        else:
            rebase(target, node)
        point_saved_output(node, result.array, target)
    return target


def reshape_inplace(name, target, fn, *args):
    """``t_()``, ``unsqueeze_()``, ...: ``target`` becomes ``fn(target, *args)``, a view of
    itself with a new shape, keeping its identity."""
    check_tensor(target, name, 'self')
    recording = check_inplace(name, target, args)
    result = fn(target, *args)
    node = result.grad_fn if recording else None   # read before the bump makes it stale
    target.array = result.array
    if target._view is not None:
        target._view = result._view
    target._version_counter.bump(name)
    if node is not None:
        rebase(target, node)
    return target


# ---------------------------------------------------------------- fills, copy_, setitem

def fill(target, value, name='fill_'):
    """Every element of ``target`` set to ``value`` (a number, or an array of values
    broadcast to its shape); differentiable (zero gradient to what was there)."""
    check_tensor(target, name, 'self')
    if isinstance(value, Tensor):
        return copy(target, value, name)
    if check_inplace(name, target, ()):
        return apply_inplace(name, target, Fill.apply, value=value)
    _write(target, to_device(value, target.device) if is_array(value) else value, name)
    return target


def copy(target, src, name='copy_'):
    """``target.copy_(src)``: ``src`` (a Tensor, array or number, broadcast to the
    target's shape, from any device) copied into ``target``; differentiable in ``src``."""
    check_tensor(target, name, 'self')
    if isinstance(src, Tensor):
        _check_broadcast_into(name, src.shape, target.shape)
        if src.device != target.device:
            src = src.to(target.device)
        if check_inplace(name, target, (src,)):
            return apply_inplace(name, target, Copy.apply, src)
        src = src.array
    elif is_array(src):
        _check_broadcast_into(name, src.shape, target.shape)
        src = to_device(src, target.device)
    _write(target, src, name)
    return target


def _check_broadcast_into(name, shape, target_shape):
    if not broadcasts_to(shape, target_shape):
        raise RuntimeError(f'{name}: a tensor of shape {tuple(shape)} cannot be broadcast to '
                           f'the shape {tuple(target_shape)} of the tensor written to')


def setitem(target, index, value):
    """``target[index] = value`` in place; recorded (through ``CopySlices``) when
    ``target`` or ``value`` requires grad."""
    name = '__setitem__'
    check_tensor(target, name, 'self')
    xp = get_array_module(target.array)
    index = raw_index(index, xp)
    if isinstance(value, Tensor) and value.device != target.device:
        value = value.to(target.device)
    if check_inplace(name, target, (value,)):
        steps = ((GetItem, 0, (None,), {'index': index}, None),)
        return apply_inplace(name, target, CopySlices.apply, value, steps=steps)
    value = raw(value)
    target.array[index] = to_device(value, target.device) if is_array(value) else value
    target._version_counter.bump(name)
    return target

"""Operators that move values by an index tensor: gather, scatter, scatter_add,
index_select, index_add, index_fill, masked_fill, and the sorting ones, sort, argsort
and topk; nonzero and one_hot, which compute indices and have no gradient.

Along ``dim``, an index tensor names for each position which position of the other
tensor it reads (gather) or writes (scatter). Backward runs the same movement in the
other direction: what gather read, its gradient scatter-adds back, and the reverse.
"""
from collections import namedtuple

import numpy as np

from ..autograd import ArrayFunction as Function, Cost
from ..backend import get_array_module
from ..tensor import Tensor
from ._util import check_tensor, normalize_dim, raw, scatter_add as _scatter_add_arrays
from .shape import GetItem

__all__ = ['gather', 'scatter', 'scatter_add', 'index_select', 'index_add', 'index_fill',
           'masked_fill', 'sort', 'argsort', 'topk', 'nonzero', 'one_hot']

# torch.return_types.sort / .topk: tuples that also have .values and .indices
sort_result = namedtuple('sort', ['values', 'indices'])
topk_result = namedtuple('topk', ['values', 'indices'])


def _moved_cost(ctx, inputs, outputs):
    """Moving values costs no FLOPs; backward adds one gradient per moved element."""
    return Cost(backward_input_flops=sum(o.size for o in outputs))


def _along(index, dim):
    """The full index tuple that picks ``index[p]`` along ``dim`` at every position p
    of ``index`` (the other coordinates being p's own)."""
    xp = get_array_module(index)
    ndim = index.ndim
    parts = [xp.arange(n).reshape((-1,) + (1,) * (ndim - d - 1))
             for d, n in enumerate(index.shape)]
    parts[dim] = index
    return tuple(parts)


def _leading(array, shape):
    """The leading block of ``array`` of ``shape`` (scatter reads src[p] for each index
    position p, so only that block of src is used)."""
    return array[tuple(slice(0, n) for n in shape)]


class Gather(Function):
    @staticmethod
    def forward(ctx, x, *, dim, index):
        ctx.shape, ctx.dim = x.shape, dim
        ctx.save_for_backward(index)
        return x[_along(index, dim)]

    @staticmethod
    def backward(ctx, grad):
        """y[p] = x[p with p_dim replaced by index[p]]: each y[p] is one x element, so
        dL/dx is the scatter-add of dL/dy to the picked positions."""
        (index,) = ctx.saved_tensors
        grad_x = get_array_module(grad).zeros(ctx.shape, dtype=grad.dtype)
        _scatter_add_arrays(grad_x, _along(index, ctx.dim), grad)
        return grad_x

    cost = staticmethod(_moved_cost)


class Scatter(Function):
    @staticmethod
    def forward(ctx, x, src, *, dim, index, add):
        """``src``: a tensor whose leading block of index's shape is written, or a number."""
        xp = get_array_module(x)
        out = x.copy()
        where = _along(index, dim)
        values = _leading(src, index.shape) if getattr(src, 'ndim', 0) else src
        if add:
            _scatter_add_arrays(out, where, xp.asarray(values, dtype=x.dtype))
        else:
            out[where] = values
        ctx.save_for_backward(index)
        ctx.dim, ctx.add, ctx.src_shape = dim, add, getattr(src, 'shape', None)
        return out

    @staticmethod
    def backward(ctx, grad):
        """scatter: y = x except at the written positions, which hold src values: dy/dx is
        1 off them and 0 on them; dL/dsrc reads (gathers) dL/dy at the written positions.
        scatter_add: y = x + the added src values: dy/dx = 1, and dL/dsrc is the same
        gather."""
        (index,) = ctx.saved_tensors
        xp = get_array_module(grad)
        where = _along(index, ctx.dim)
        grad_x = grad_src = None
        if ctx.needs_input_grad[0]:
            grad_x = grad
            if not ctx.add:
                grad_x = grad.copy()
                grad_x[where] = 0
        if ctx.needs_input_grad[1]:
            grad_src = xp.zeros(ctx.src_shape, dtype=grad.dtype)
            _leading(grad_src, index.shape)[...] = grad[where]
        return grad_x, grad_src

    cost = staticmethod(_moved_cost)


class IndexAdd(Function):
    @staticmethod
    def forward(ctx, x, source, *, dim, index, alpha):
        out = x.copy()
        _scatter_add_arrays(out, (slice(None),) * dim + (index,),
                            source * alpha if alpha != 1 else source)
        ctx.save_for_backward(index)
        ctx.dim, ctx.alpha = dim, alpha
        return out

    @staticmethod
    def backward(ctx, grad):
        """y = x + alpha * (source added at the rows ``index`` along dim): dy/dx = 1 and
        dL/dsource = alpha * the rows ``index`` of dL/dy."""
        (index,) = ctx.saved_tensors
        xp = get_array_module(grad)
        grad_source = None
        if ctx.needs_input_grad[1]:
            grad_source = xp.take(grad, index, axis=ctx.dim)
            if ctx.alpha != 1:
                grad_source = grad_source * ctx.alpha
        return grad if ctx.needs_input_grad[0] else None, grad_source

    cost = staticmethod(_moved_cost)


class MaskedFill(Function):
    @staticmethod
    def forward(ctx, x, value, *, mask):
        xp = get_array_module(x)
        ctx.save_for_backward(mask)
        ctx.value_shape = getattr(value, 'shape', None)
        return xp.where(mask, xp.asarray(value, dtype=x.dtype), x)

    @staticmethod
    def backward(ctx, grad):
        """y = value where mask, x elsewhere: dy/dx = [not mask]; dy/dvalue = [mask],
        summed over every masked position (value is one number)."""
        (mask,) = ctx.saved_tensors
        xp = get_array_module(grad)
        zero = xp.zeros((), dtype=grad.dtype)
        grad_value = None
        if ctx.needs_input_grad[1]:
            grad_value = xp.where(mask, grad, zero).sum().reshape(ctx.value_shape)
        return xp.where(mask, zero, grad), grad_value

    cost = staticmethod(_moved_cost)


class Sort(Function):
    """The first ``k`` elements along ``dim`` in increasing or decreasing order (sort
    takes k = the whole dimension), with their indices; stable, so ties keep their
    order."""

    @staticmethod
    def forward(ctx, x, *, dim, k, descending):
        xp = get_array_module(x)
        key = x
        if descending:
            key = -(x.astype(np.int64) if x.dtype.kind in 'ub' else x)
        order = xp.argsort(key, axis=dim, kind='stable')
        indices = order[(slice(None),) * dim + (slice(0, k),)]
        ctx.save_for_backward(indices)
        ctx.shape, ctx.dim = x.shape, dim
        return xp.take_along_axis(x, indices, axis=dim), indices.astype(np.int64, copy=False)

    @staticmethod
    def backward(ctx, grad, grad_indices):
        """values[p] = x[indices[p] along dim], each x element taken at most once: the
        gradient goes back to where each value came from (zero for the others)."""
        (indices,) = ctx.saved_tensors
        grad_x = get_array_module(grad).zeros(ctx.shape, dtype=grad.dtype)
        grad_x[_along(indices, ctx.dim)] = grad
        return grad_x

    @staticmethod
    def cost(ctx, inputs, outputs):
        """A comparison sort: about n log2 n comparisons per sorted row."""
        x = inputs[0]
        n = x.shape[ctx.dim] if x.ndim else 1
        return Cost(forward_flops=int(x.size * max(np.log2(max(n, 1)), 1)),
                    backward_input_flops=outputs[0].size if ctx.needs_input_grad[0] else 0)


# ---------------------------------------------------------------- the public functions

def _index(op, index, name='index'):
    check_tensor(index, op, name)
    if index.dtype.kind not in 'iu':
        raise TypeError(f'{op}: {name} must be an integer tensor, got {index.dtype}')
    return index


def _check_gather_index(op, input, dim, index, src=None):
    """PyTorch's rule: the index has the input's number of dimensions, is no larger than
    the input (src for scatter) except along dim, and its values are in range."""
    if input.ndim == 0:
        raise RuntimeError(f'{op}: the input is 0-d; reshape it to 1-D first')
    if index.ndim != input.ndim:
        raise RuntimeError(f'{op}: index has {index.ndim} dimensions, the input has '
                           f'{input.ndim} (index {index.shape}, input {input.shape})')
    for d in range(index.ndim):
        if d != dim and index.shape[d] > input.shape[d]:
            raise RuntimeError(f'{op}: index {index.shape} is larger than the input '
                               f'{input.shape} in dimension {d}')
        if src is not None and index.shape[d] > src.shape[d]:
            raise RuntimeError(f'{op}: index {index.shape} is larger than src {src.shape} '
                               f'in dimension {d}')
    if index.numel():
        size = input.shape[dim]
        low, high = int(index.array.min()), int(index.array.max())
        if low < 0 or high >= size:
            raise IndexError(f'{op}: index {low if low < 0 else high} is out of bounds '
                             f'for dimension {dim} with size {size}')


def gather(input, dim, index, sparse_grad=False):
    """out[i][j] = input[index[i][j]][j] for dim 0 (and likewise for the others): along
    ``dim`` each output element reads the input position its index names. An empty
    index gives an empty result of its shape, whatever its dimensions."""
    check_tensor(input, 'gather')
    _index('gather', index)
    d = normalize_dim(dim, input.ndim, 'gather')
    if index.numel() == 0:
        return input.reshape(-1)[:0].reshape(index.shape)
    if input.ndim == 0:  # as a 1-D tensor of one element, as PyTorch does
        return gather(input.reshape(-1), 0, index.reshape(-1)).reshape(index.shape)
    _check_gather_index('gather', input, d, index)
    return Gather.apply(input, dim=d, index=index.array)


def _scatter(op, input, dim, index, src, add):
    check_tensor(input, op)
    _index(op, index)
    d = normalize_dim(dim, input.ndim, op)
    if isinstance(src, Tensor) and src.dtype != input.dtype:
        raise TypeError(f'{op}: src is {src.dtype} but the input is {input.dtype}; '
                        f'they must share a dtype')
    if input.ndim == 0:  # as a 1-D tensor of one element, as PyTorch does
        src = src.reshape(-1) if isinstance(src, Tensor) else src
        return _scatter(op, input.reshape(-1), 0, index.reshape(-1), src, add).reshape(())
    _check_gather_index(op, input, d, index, src if isinstance(src, Tensor) else None)
    return Scatter.apply(input, src, dim=d, index=index.array, add=add)


def scatter(input, dim, index, src=None, value=None, reduce=None):
    """A copy of ``input`` with out[index[i][j]][j] = src[i][j] for dim 0 (and likewise for
    the others); ``value=`` (or a number as ``src``) writes one number. Where an index
    repeats, one of the written values wins, as in PyTorch. ``reduce='add'`` is
    ``scatter_add``; 'multiply' is not provided."""
    if reduce == 'add':
        return scatter_add(input, dim, index, src)
    if reduce is not None:
        raise ValueError(f"scatter: reduce={reduce!r} is not supported (only 'add')")
    if src is None:
        if value is None:
            raise TypeError('scatter: give src= (a tensor) or value= (a number)')
        src = value
    return _scatter('scatter', input, dim, index, src, add=False)


def scatter_add(input, dim, index, src):
    """A copy of ``input`` with src[i][j] added to out[index[i][j]][j] for dim 0 (and
    likewise for the others); repeated indices add up."""
    check_tensor(src, 'scatter_add', 'src')
    return _scatter('scatter_add', input, dim, index, src, add=True)


def index_select(input, dim, index):
    """The entries of ``input`` at positions ``index`` (a 1-D integer tensor) along
    ``dim``."""
    check_tensor(input, 'index_select')
    _index('index_select', index)
    if index.ndim > 1:
        raise RuntimeError(f'index_select: index must be 0- or 1-D, got shape {index.shape}')
    d = normalize_dim(dim, input.ndim, 'index_select')
    if input.ndim == 0:
        return GetItem.apply(input, index=())
    return GetItem.apply(input, index=(slice(None),) * d + (index.array.reshape(-1),))


def index_add(input, dim, index, source, alpha=1):
    """A copy of ``input`` with alpha * source[k] added at position index[k] along
    ``dim``; repeated indices add up."""
    check_tensor(input, 'index_add')
    _index('index_add', index)
    check_tensor(source, 'index_add', 'source')
    d = normalize_dim(dim, input.ndim, 'index_add')
    if input.ndim == 0:  # as a 1-D tensor of one element, as PyTorch does
        return index_add(input.reshape(-1), 0, index, source.reshape(-1), alpha).reshape(())
    expected = input.shape[:d] + (index.numel(),) + input.shape[d + 1:]
    if source.shape != expected:
        raise RuntimeError(f'index_add: source has shape {source.shape}, expected {expected} '
                           f'(input {input.shape}, {index.numel()} indices along dim {d})')
    return IndexAdd.apply(input, source, dim=d, index=index.array.reshape(-1), alpha=alpha)


def index_fill(input, dim, index, value):
    """A copy of ``input`` with every entry at positions ``index`` along ``dim`` set to
    ``value``."""
    check_tensor(input, 'index_fill')
    _index('index_fill', index)
    d = normalize_dim(dim, input.ndim, 'index_fill')
    if input.ndim == 0:  # as a 1-D tensor of one element, as PyTorch does
        return index_fill(input.reshape(-1), 0, index, value).reshape(())
    positions = (slice(None),) * d + (index.array.reshape(-1),)
    mask = get_array_module(input.array).zeros(input.shape, dtype=bool)
    mask[positions] = True
    return MaskedFill.apply(input, value, mask=mask)


def masked_fill(input, mask, value):
    """A copy of ``input`` with ``value`` (a number or a 0-d tensor) where the boolean
    ``mask`` is True; mask and input broadcast together."""
    check_tensor(input, 'masked_fill')
    mask_array = raw(mask)
    if getattr(mask_array, 'dtype', None) != np.bool_:
        raise TypeError(f'masked_fill: mask must be a boolean tensor, got '
                        f'{getattr(mask_array, "dtype", type(mask).__name__)}')
    try:
        shape = np.broadcast_shapes(mask_array.shape, input.shape)
    except ValueError:
        raise RuntimeError(f'masked_fill: the mask of shape {mask_array.shape} and the input '
                           f'of shape {input.shape} cannot be broadcast together') from None
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f'masked_fill: value must be a number or a 0-dimensional tensor, '
                           f'got shape {value.shape}')
    if shape != input.shape:  # a larger mask broadcasts the input (out of place, as PyTorch)
        input = input.expand(shape)
    return MaskedFill.apply(input, value, mask=mask_array)


def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices) sorted along ``dim``; ties keep their order (always stable)."""
    check_tensor(input, 'sort')
    if input.ndim == 0:
        values, indices = Sort.apply(input.reshape(1), dim=0, k=1, descending=bool(descending))
        return sort_result(values.reshape(()), indices.reshape(()))
    d = normalize_dim(dim, input.ndim, 'sort')
    return sort_result(*Sort.apply(input, dim=d, k=input.shape[d], descending=bool(descending)))


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort ``input`` along ``dim``."""
    return sort(input, dim, descending, stable).indices


def topk(input, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the ``k`` largest (or smallest) elements along ``dim``, in
    sorted order (minidl always sorts them); ties keep their order."""
    check_tensor(input, 'topk')
    if input.ndim == 0:
        values, indices = topk(input.reshape(1), k, 0, largest)
        return topk_result(values.reshape(()), indices.reshape(())) if k == 1 else \
            topk_result(values, indices)
    d = normalize_dim(dim, input.ndim, 'topk')
    if not 0 <= k <= input.shape[d]:
        raise RuntimeError(f'topk: k ({k}) is out of range for dimension {d} of size '
                           f'{input.shape[d]} (input {input.shape})')
    return topk_result(*Sort.apply(input, dim=d, k=k, descending=bool(largest)))


# ---------------------------------------------------------------- indices, no gradient

def nonzero(input, *, as_tuple=False):
    """The indices of the nonzero elements, in row-major order: an int64 tensor of shape
    (count, ndim), or with ``as_tuple`` one 1-D int64 tensor per dimension (a 0-d input
    counts as 1-D there), as in PyTorch."""
    check_tensor(input, 'nonzero')
    xp = get_array_module(input.array)
    if as_tuple:
        array = input.array.reshape(-1) if input.ndim == 0 else input.array
        return tuple(Tensor(i.astype(np.int64)) for i in xp.nonzero(array))
    if input.ndim == 0:
        return Tensor(xp.zeros((int(input.array != 0), 0), dtype=np.int64))
    return Tensor(xp.stack(xp.nonzero(input.array), axis=1).astype(np.int64))


def one_hot(tensor, num_classes=-1):
    """An int64 tensor of shape ``tensor.shape + (num_classes,)``: 1 at each class index
    of ``tensor`` (an int64 tensor), 0 elsewhere; ``num_classes=-1`` takes the largest
    index + 1. RuntimeError for negative indices, indices >= num_classes, or -1 on an
    empty tensor, as in PyTorch."""
    check_tensor(tensor, 'one_hot', 'tensor')
    if tensor.dtype != np.int64:
        raise RuntimeError(f'one_hot: is only applicable to index tensors of type int64 '
                           f'(LongTensor), got {tensor.dtype}')
    xp = get_array_module(tensor.array)
    classes = tensor.array
    if num_classes == -1:
        if classes.size == 0:
            raise RuntimeError('one_hot: can not infer the total number of classes from an '
                               'empty tensor; give num_classes')
        num_classes = int(classes.max()) + 1
    if classes.size and int(classes.min()) < 0:
        raise RuntimeError(f'one_hot: class values must be non-negative, got '
                           f'{int(classes.min())}')
    if classes.size and int(classes.max()) >= num_classes:
        raise RuntimeError(f'one_hot: class values must be smaller than num_classes '
                           f'({num_classes}), got {int(classes.max())}')
    return Tensor((classes[..., None] == xp.arange(num_classes)).astype(np.int64))

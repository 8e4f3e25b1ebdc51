"""Reductions: sum, mean, max, min, amax, amin, var, std, argmax, argmin, prod,
logsumexp, norm, the running sum cumsum, and the logical all and any.

``dim`` is an int, a tuple of ints (negative ones count from the end) or None for
every dimension. Each backward broadcasts the output gradient back over the reduced
dimensions, so it first restores them as size-1 axes (``_keepdim_shape``).
"""
import builtins
from collections import namedtuple

import numpy as np

from ..autograd import ArrayFunction as Function, Cost
from ..backend import get_array_module
from ..tensor import Tensor
from ._util import check_tensor, keep_where, normalize_dim, quiet
from .elementwise import maximum, minimum

__all__ = ['sum', 'mean', 'max', 'min', 'var', 'std', 'argmax', 'argmin', 'amax', 'amin',
           'prod', 'cumsum', 'logsumexp', 'norm', 'all', 'any']

# torch.return_types.max / .min: a tuple that also has .values and .indices
max_result = namedtuple('max', ['values', 'indices'])
min_result = namedtuple('min', ['values', 'indices'])


def _reduced_dims(dim, ndim, op):
    """``dim`` as a sorted tuple of non-negative axes; None or () means every axis."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        dim = (int(dim),)
    dims = tuple(normalize_dim(int(d), ndim, op) for d in dim)
    if len(set(dims)) != len(dims):
        raise ValueError(f'{op}: dimension listed twice in dim={tuple(dim)}')
    if ndim == 0:  # a 0-d tensor accepts dim 0 or -1 and has nothing to reduce
        return ()
    return tuple(sorted(dims)) if dims else tuple(range(ndim))


def _keepdim_shape(shape, dims):
    """The output shape with the reduced axes kept as size 1."""
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


def _count(shape, dims):
    n = 1
    for d in dims:
        n *= shape[d]
    return n


def _spread(grad, shape, dims):
    """The output gradient broadcast back to the input's ``shape`` (a fresh array)."""
    xp = get_array_module(grad)
    return xp.broadcast_to(grad.reshape(_keepdim_shape(shape, dims)), shape).copy()


def _reduction_cost(flops_per_element):
    """Cost of reading every input element ``flops_per_element`` times forward; the
    backward writes one value per input element."""
    def cost(ctx, inputs, outputs):
        n = inputs[0].size
        return Cost(forward_flops=flops_per_element * n,
                    backward_input_flops=n if ctx.needs_input_grad[0] else 0)
    return staticmethod(cost)


class Sum(Function):
    @staticmethod
    def forward(ctx, x, *, dims, keepdim):
        ctx.shape, ctx.dims = x.shape, dims
        return x.sum(axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        """y = sum_i x_i over the reduced axes: dy/dx_i = 1, so every input element
        receives the gradient of the output it was summed into."""
        return _spread(grad, ctx.shape, ctx.dims)

    cost = _reduction_cost(1)


class Mean(Function):
    @staticmethod
    def forward(ctx, x, *, dims, keepdim):
        ctx.shape, ctx.dims = x.shape, dims
        return x.mean(axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        """y = (1/n) sum_i x_i: dy/dx_i = 1/n, n the number of elements reduced."""
        n = _count(ctx.shape, ctx.dims)
        return _spread(grad / n if n else grad, ctx.shape, ctx.dims)

    cost = _reduction_cost(1)


class MaxAll(Function):
    """max()/min() of every element, a 0-d result."""

    @staticmethod
    def forward(ctx, x, *, is_max):
        xp = get_array_module(x)
        out = xp.asarray(x.max() if is_max else x.min())
        # a NaN anywhere makes the result NaN, and the NaNs are the elements it came from
        ctx.save_for_backward(xp.isnan(x) if xp.isnan(out) else x == out)
        return out

    @staticmethod
    def backward(ctx, grad):
        """y = max_i x_i: dy/dx_i = 1 for the maximal element, an exact 0 elsewhere.
        When k elements tie, each gets 1/k (PyTorch's choice: the mean of the one-sided
        derivatives)."""
        (hits,) = ctx.saved_tensors
        return keep_where(hits, (grad / hits.sum()).astype(grad.dtype, copy=False))

    cost = _reduction_cost(1)


class MaxDim(Function):
    """max(dim)/min(dim): the values and the index of the first extremum."""

    @staticmethod
    def forward(ctx, x, *, dim, keepdim, is_max):
        xp = get_array_module(x)
        source = x.reshape(1) if x.ndim == 0 else x
        pick = xp.argmax if is_max else xp.argmin
        indices = xp.expand_dims(pick(source, axis=dim), dim)
        values = xp.take_along_axis(source, indices, axis=dim)
        ctx.shape, ctx.dim = x.shape, dim
        ctx.save_for_backward(indices)
        if not keepdim or x.ndim == 0:
            out_shape = tuple(n for i, n in enumerate(x.shape) if i != dim)
            values, indices = values.reshape(out_shape), indices.reshape(out_shape)
        return values, indices.astype(np.int64, copy=False)

    @staticmethod
    def backward(ctx, grad, grad_indices):
        """y = x[argmax]: dy/dx_i = 1 at the returned index, 0 elsewhere. A one-hot
        mask compares each position along ``dim`` with the saved index."""
        (indices,) = ctx.saved_tensors
        xp = get_array_module(grad)
        shape, dim = ctx.shape or (1,), ctx.dim
        positions = xp.arange(shape[dim]).reshape([-1 if i == dim else 1
                                                   for i in range(len(shape))])
        grad = grad.reshape(indices.shape)
        zero = xp.zeros((), dtype=grad.dtype)
        return xp.where(positions == indices, grad, zero).reshape(ctx.shape)

    cost = _reduction_cost(1)


class Var(Function):
    @staticmethod
    def forward(ctx, x, *, dims, correction, keepdim, take_sqrt):
        xp = get_array_module(x)
        n = _count(x.shape, dims)
        centred = x - x.mean(axis=dims, keepdims=True)
        denominator = builtins.max(n - correction, 0)
        with quiet(xp):  # n <= correction gives inf or nan, as in PyTorch
            out = xp.asarray((centred * centred).sum(axis=dims, keepdims=True) / denominator)
            if take_sqrt:
                out = xp.sqrt(out)
        ctx.save_for_backward(centred, out if take_sqrt else None)
        ctx.denominator, ctx.dims, ctx.take_sqrt = denominator, dims, take_sqrt
        if not keepdim:
            out = out.reshape(tuple(s for i, s in enumerate(x.shape) if i not in dims))
        return xp.asarray(out)

    @staticmethod
    def backward(ctx, grad):
        """v = sum_i (x_i - m)^2 / (n - c) with m the mean: dv/dx_i = 2 (x_i - m) / (n - c)
        (the term through m vanishes because sum_i (x_i - m) = 0).
        s = sqrt(v): ds/dx_i = dv/dx_i / (2 s) = (x_i - m) / ((n - c) s). Where s = 0
        (a constant slice) that is 0/0; PyTorch's std_backward defines it as 0, so
        (x - mean) / (std + eps) of a constant row has a finite gradient."""
        centred, std = ctx.saved_tensors
        xp = get_array_module(grad)
        grad = grad.reshape(_keepdim_shape(centred.shape, ctx.dims))
        with quiet(xp):
            if ctx.take_sqrt:
                scale = keep_where(std != 0, grad / (ctx.denominator * std))
            else:
                scale = grad * (2 / ctx.denominator) if ctx.denominator else grad / 0
            return (centred * scale).astype(grad.dtype, copy=False)

    cost = _reduction_cost(4)


class ArgExtremum(Function):
    @staticmethod
    def forward(ctx, x, *, dim, keepdim, is_max):
        xp = get_array_module(x)
        pick = xp.argmax if is_max else xp.argmin
        if dim is None:
            out = xp.asarray(pick(x))
            if keepdim:
                out = out.reshape((1,) * x.ndim)
        elif x.ndim == 0:
            out = xp.zeros((), dtype=np.int64)
        else:
            out = xp.asarray(pick(x, axis=dim))
            if keepdim:
                out = xp.expand_dims(out, dim)
        return out.astype(np.int64, copy=False)

    @staticmethod
    def backward(ctx, grad):
        """An index is piecewise constant in x: no gradient flows."""
        return None

    cost = staticmethod(lambda ctx, i, o: Cost(forward_flops=i[0].size))


class Amax(Function):
    """amax/amin over several dimensions at once."""

    @staticmethod
    def forward(ctx, x, *, dims, keepdim, is_max):
        out = x.max(axis=dims, keepdims=True) if is_max else x.min(axis=dims, keepdims=True)
        hits = x == out
        ctx.save_for_backward(hits)
        ctx.dims = dims
        return out if keepdim else out.reshape(tuple(n for i, n in enumerate(x.shape)
                                                     if i not in dims))

    @staticmethod
    def backward(ctx, grad):
        """y = max_i x_i over the reduced dimensions: dy/dx_i = 1 for the largest element;
        k tied elements get 1/k each (PyTorch's amax spreads the gradient evenly)."""
        (hits,) = ctx.saved_tensors
        grad = grad.reshape(_keepdim_shape(hits.shape, ctx.dims))
        share = grad / hits.sum(axis=ctx.dims, keepdims=True)
        return (hits * share).astype(grad.dtype, copy=False)

    cost = _reduction_cost(1)


def _move_to_end(x, dims):
    """``x`` with the ``dims`` moved last and merged into one: shape (kept..., n)."""
    xp = get_array_module(x)
    kept = [d for d in range(x.ndim) if d not in dims]
    moved = xp.transpose(x, kept + list(dims))
    merged = 1
    for d in dims:  # not -1: an empty kept dimension would make it ambiguous
        merged *= x.shape[d]
    return moved.reshape(moved.shape[:len(kept)] + (merged,)), kept + list(dims)


class Prod(Function):
    @staticmethod
    def forward(ctx, x, *, dims, keepdim):
        ctx.save_for_backward(x)
        ctx.dims = dims
        return x.prod(axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        """y = prod_j x_j: dy/dx_i = prod_{j != i} x_j, computed as the product of the
        elements before i times the product of those after i (exclusive running
        products), which stays right when some x_j are zero (y / x_i would not)."""
        (x,) = ctx.saved_tensors
        xp = get_array_module(x)
        if x.size == 0:  # an empty product is 1, and there is no input to differentiate
            return xp.zeros(x.shape, dtype=grad.dtype)
        flat, order = _move_to_end(x, ctx.dims)
        ones = xp.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
        before = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        after = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(flat, -1)[..., :-1]],
                                                  axis=-1), axis=-1), -1)
        others = (before * after).reshape([x.shape[d] for d in order])
        others = xp.transpose(others, tuple(int(i) for i in np.argsort(order)))
        return others * grad.reshape(_keepdim_shape(x.shape, ctx.dims))

    cost = _reduction_cost(1)


class CumSum(Function):
    @staticmethod
    def forward(ctx, x, *, dim):
        ctx.dim = dim
        return get_array_module(x).cumsum(x, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        """y_k = sum_{i <= k} x_i: dy_k/dx_i = 1 for k >= i, so dL/dx_i = sum_{k >= i} g_k,
        the running sum of the gradient taken from the end."""
        xp = get_array_module(grad)
        return xp.flip(xp.cumsum(xp.flip(grad, ctx.dim), axis=ctx.dim), ctx.dim)

    cost = _reduction_cost(1)


class LogSumExp(Function):
    @staticmethod
    def forward(ctx, x, *, dims, keepdim):
        xp = get_array_module(x)
        if x.size:
            peak = x.max(axis=dims, keepdims=True)
            peak = xp.where(xp.isfinite(peak), peak, 0)     # all -inf (or inf) stays so
        else:  # nothing to sum: log 0 = -inf, as in PyTorch
            peak = xp.zeros(_keepdim_shape(x.shape, dims), dtype=x.dtype)
        with quiet(xp):
            out = xp.log(xp.exp(x - peak).sum(axis=dims, keepdims=True)) + peak
        ctx.save_for_backward(x, out)
        ctx.dims = dims
        return out if keepdim else out.reshape(tuple(n for i, n in enumerate(x.shape)
                                                     if i not in dims))

    @staticmethod
    def backward(ctx, grad):
        """y = ln sum_j e^(x_j): dy/dx_i = e^(x_i) / sum_j e^(x_j) = e^(x_i - y), the
        softmax of x."""
        x, out = ctx.saved_tensors
        xp = get_array_module(x)
        return grad.reshape(out.shape) * xp.exp(x - out)

    cost = _reduction_cost(3)


class Norm(Function):
    @staticmethod
    def forward(ctx, x, *, p, dims, keepdim):
        xp = get_array_module(x)
        abs_x = xp.abs(x)
        if p == 2:
            out = xp.sqrt((x * x).sum(axis=dims, keepdims=True))
        elif p == float('inf'):
            out = abs_x.max(axis=dims, keepdims=True)
        elif p == float('-inf'):
            out = abs_x.min(axis=dims, keepdims=True)
        elif p == 0:
            out = (x != 0).sum(axis=dims, keepdims=True).astype(x.dtype)
        elif p == 1:
            out = abs_x.sum(axis=dims, keepdims=True)
        else:
            out = (abs_x ** p).sum(axis=dims, keepdims=True) ** (1.0 / p)
        out = out.astype(x.dtype, copy=False)
        ctx.save_for_backward(x, out)
        ctx.p, ctx.dims = p, dims
        return out if keepdim else out.reshape(tuple(n for i, n in enumerate(x.shape)
                                                     if i not in dims))

    @staticmethod
    def backward(ctx, grad):
        """n = (sum_i |x_i|^p)^(1/p): dn/dx_i = sign(x_i) |x_i|^(p-1) / n^(p-1), which is
        x_i / n for p = 2 and sign(x_i) for p = 1; taken as 0 where n = 0 (PyTorch's
        choice). For p = inf (-inf) the gradient goes to the largest (smallest) |x_i|,
        shared evenly by ties; the 0-"norm" counts and has gradient 0."""
        x, out = ctx.saved_tensors
        xp = get_array_module(x)
        p = ctx.p
        grad = grad.reshape(out.shape)
        with quiet(xp):
            if p == 0:
                local = xp.zeros_like(x)
            elif p == 1:
                local = xp.sign(x)
            elif p in (float('inf'), float('-inf')):
                hits = xp.abs(x) == out
                local = xp.sign(x) * hits / hits.sum(axis=ctx.dims, keepdims=True)
            elif p == 2:
                local = xp.where(out == 0, 0, x / out)
            else:
                local = xp.where(out == 0, 0,
                                 xp.sign(x) * xp.abs(x) ** (p - 1) / out ** (p - 1))
        return (grad * local).astype(x.dtype, copy=False)

    cost = _reduction_cost(2)


# ---------------------------------------------------------------- the public functions

def sum(input, dim=None, keepdim=False):
    check_tensor(input, 'sum')
    return Sum.apply(input, dims=_reduced_dims(dim, input.ndim, 'sum'), keepdim=keepdim)


def mean(input, dim=None, keepdim=False):
    check_tensor(input, 'mean')
    if input.dtype.kind not in 'fc':
        raise TypeError(f'mean: input dtype must be floating point, got {input.dtype} '
                        f'(convert with .float())')
    return Mean.apply(input, dims=_reduced_dims(dim, input.ndim, 'mean'), keepdim=keepdim)


def _extremum(op, is_max, input, dim, keepdim):
    check_tensor(input, op)
    if isinstance(dim, Tensor):  # max(input, other): the elementwise maximum, as in PyTorch
        return (maximum if is_max else minimum)(input, dim)
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError(f'{op}: the input is empty (shape {input.shape}); specify dim')
        return MaxAll.apply(input, is_max=is_max)
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f'{op}: dim must be an int, got {dim!r} (use amax/amin for several)')
    d = normalize_dim(int(dim), input.ndim, op)
    if input.ndim and input.shape[d] == 0:
        raise IndexError(f'{op}: cannot reduce dimension {d} of size 0 (shape {input.shape})')
    values, indices = MaxDim.apply(input, dim=d, keepdim=keepdim, is_max=is_max)
    return (max_result if is_max else min_result)(values, indices)


def max(input, dim=None, keepdim=False):
    """The largest element; with ``dim``, (values, indices) of the largest along it;
    with a tensor in place of ``dim``, the elementwise maximum."""
    return _extremum('max', True, input, dim, keepdim)


def min(input, dim=None, keepdim=False):
    """The smallest element; with ``dim``, (values, indices) of the smallest along it;
    with a tensor in place of ``dim``, the elementwise minimum."""
    return _extremum('min', False, input, dim, keepdim)


def _variance(op, take_sqrt, input, dim, unbiased, keepdim, correction):
    check_tensor(input, op)
    if input.dtype.kind not in 'fc':
        raise TypeError(f'{op}: input dtype must be floating point, got {input.dtype}')
    if isinstance(dim, bool):  # PyTorch's var(input, unbiased) overload
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased else 0
    return Var.apply(input, dims=_reduced_dims(dim, input.ndim, op), correction=correction,
                     keepdim=keepdim, take_sqrt=take_sqrt)


def var(input, dim=None, unbiased=True, keepdim=False, correction=None):
    """Variance over ``dim``, dividing by n - correction (correction=1 unless
    unbiased=False, as in PyTorch). A bool in place of ``dim`` is ``unbiased`` over every
    dimension (PyTorch's ``var(input, unbiased)``)."""
    return _variance('var', False, input, dim, unbiased, keepdim, correction)


def std(input, dim=None, unbiased=True, keepdim=False, correction=None):
    """Standard deviation: the square root of ``var`` with the same arguments."""
    return _variance('std', True, input, dim, unbiased, keepdim, correction)


def _arg(op, is_max, input, dim, keepdim, axis):
    check_tensor(input, op)
    if axis is not None:                  # NumPy's name, which PyTorch also accepts
        if dim is not None:
            raise TypeError(f'{op}: give dim or axis, not both')
        dim = axis
    if input.numel() == 0:
        raise RuntimeError(f'{op}: the input is empty (shape {input.shape})')
    if dim is not None:
        dim = normalize_dim(int(dim), input.ndim, op)
    return ArgExtremum.apply(input, dim=dim, keepdim=keepdim, is_max=is_max)


def argmax(input, dim=None, keepdim=False, *, axis=None):
    """Index of the largest element (of the flattened input when dim is None)."""
    return _arg('argmax', True, input, dim, keepdim, axis)


def argmin(input, dim=None, keepdim=False, *, axis=None):
    """Index of the smallest element (of the flattened input when dim is None)."""
    return _arg('argmin', False, input, dim, keepdim, axis)


def _amax(op, is_max, input, dim, keepdim):
    check_tensor(input, op)
    dims = _reduced_dims(None if dim == () else dim, input.ndim, op)
    for d in dims:
        if input.shape[d] == 0:
            raise IndexError(f'{op}: cannot reduce dimension {d} of size 0 (shape {input.shape})')
    return Amax.apply(input, dims=dims, keepdim=keepdim, is_max=is_max)


def amax(input, dim=(), keepdim=False):
    """The largest value over ``dim`` (an int or a tuple; () means every dimension).
    Unlike ``max(dim)`` it returns values only, and tied maxima share the gradient."""
    return _amax('amax', True, input, dim, keepdim)


def amin(input, dim=(), keepdim=False):
    """The smallest value over ``dim``; see ``amax``."""
    return _amax('amin', False, input, dim, keepdim)


def _float_input(op, input, dtype=None):
    check_tensor(input, op)
    if dtype is not None:
        return input.to(dtype)
    if input.dtype.kind in 'fc':
        return input
    from ..tensor import get_default_dtype
    return input.to(get_default_dtype())


def _accumulating_input(op, input, dtype):
    """The input in ``dtype``; by default integers and booleans as int64, as PyTorch
    accumulates them."""
    check_tensor(input, op)
    if dtype is not None:
        return input.to(dtype)
    return input.to(np.int64) if input.dtype.kind in 'iub' else input


def prod(input, dim=None, keepdim=False, dtype=None):
    """The product of the elements (over ``dim``, or all). Integer and boolean inputs give
    int64, as in PyTorch."""
    input = _accumulating_input('prod', input, dtype)
    dims = _reduced_dims(dim, input.ndim, 'prod')
    return Prod.apply(input, dims=dims, keepdim=keepdim)


def cumsum(input, dim, dtype=None):
    """Running sums along ``dim``: y_k = x_0 + ... + x_k. Integer and boolean inputs give
    int64, as in PyTorch."""
    input = _accumulating_input('cumsum', input, dtype)
    if input.ndim == 0:
        normalize_dim(dim, 0, 'cumsum')
        return input.clone()
    return CumSum.apply(input, dim=normalize_dim(dim, input.ndim, 'cumsum'))


def logsumexp(input, dim, keepdim=False):
    """ln sum exp(input) over ``dim`` (an int or a tuple), computed without overflow by
    taking the maximum out first."""
    input = _float_input('logsumexp', input)
    return LogSumExp.apply(input, dims=_reduced_dims(dim, input.ndim, 'logsumexp'),
                           keepdim=keepdim)


def norm(input, p='fro', dim=None, keepdim=False, dtype=None):
    """The p-norm (sum |x|^p)^(1/p) over ``dim`` (an int, a tuple, or None for every
    element), as torch.norm: p is a number, inf, -inf, 0 (the count of non-zeros) or
    'fro' (the 2-norm). 'nuc' (the nuclear norm) is not provided."""
    input = _float_input('norm', input, dtype)
    if p == 'fro':
        if isinstance(dim, (tuple, list)) and len(dim) > 2:
            raise RuntimeError(f"norm: p='fro' is a matrix norm: dim must be a 2-tuple, got "
                               f"{tuple(dim)}")
        p = 2
    elif isinstance(p, str):
        raise ValueError(f"norm: p={p!r} is not supported (use a number, inf, -inf or 'fro')")
    return Norm.apply(input, p=float(p), dims=_reduced_dims(dim, input.ndim, 'norm'),
                      keepdim=keepdim)


# ---------------------------------------------------------------- logical reductions
# Boolean results, outside the graph (they have no gradient).

def _logical(op, reduce, input, dim, keepdim):
    check_tensor(input, op)
    dims = _reduced_dims(dim, input.ndim, op)
    out = getattr(get_array_module(input.array), reduce)(input.array != 0, axis=dims,
                                                         keepdims=keepdim)
    # uint8 stays uint8 (PyTorch's legacy rule); every other dtype gives bool
    return Tensor(out.astype(np.uint8) if input.dtype == np.uint8 else out)


def all(input, dim=None, keepdim=False):
    """True where every element (over ``dim``: an int, a tuple, or None for all) is
    nonzero; a boolean tensor (uint8 for a uint8 input, as in PyTorch)."""
    return _logical('all', 'all', input, dim, keepdim)


def any(input, dim=None, keepdim=False):
    """True where some element (over ``dim``: an int, a tuple, or None for all) is
    nonzero; a boolean tensor (uint8 for a uint8 input, as in PyTorch)."""
    return _logical('any', 'any', input, dim, keepdim)

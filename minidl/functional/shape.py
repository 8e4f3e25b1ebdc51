"""Shape operators: reshape, flatten, transpose, permute, squeeze, unsqueeze, expand,
indexing, cat, stack, split, chunk, pad, clone, narrow, repeat, flip.

None of them computes anything: forward moves or copies values, backward moves the
gradient back to where each value came from. Where one input value reaches several
outputs (expand, repeated indices, replicate padding) backward adds the gradients.
"""
import math
import warnings

import numpy as np

from ..autograd import ArrayFunction as Function, Cost
from ..backend import get_array_module, is_array
from ..tensor import Tensor
from ._util import check_tensor, normalize_dim, scatter_add, sum_to_shape

__all__ = ['reshape', 'view', 'flatten', 'transpose', 'permute', 'squeeze', 'unsqueeze',
           'expand', 'getitem', 'cat', 'concat', 'stack', 'split', 'chunk', 'pad', 'clone',
           'narrow', 'meshgrid', 'repeat', 'flip', 'fliplr', 'flipud']


def _free(ctx, inputs, outputs):
    """Moving values costs no floating-point operations."""
    return Cost()


def _scatter_add_cost(ctx, inputs, outputs):
    """Backward adds one gradient per output element into the input's gradient."""
    return Cost(backward_input_flops=sum(o.size for o in outputs) if ctx.needs_input_grad[0] else 0)


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, *, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        """A reshape keeps the values in the same (row-major) order, so the gradient is
        the output gradient read back in the input's shape."""
        return grad.reshape(ctx.shape)

    cost = staticmethod(_free)


class Flatten(Reshape):
    """flatten is a reshape; its own class names it in graphs and profiles."""


class Squeeze(Reshape):
    """squeeze is a reshape that drops size-1 dimensions."""


class Unsqueeze(Reshape):
    """unsqueeze is a reshape that inserts a size-1 dimension."""


class Permute(Function):
    @staticmethod
    def forward(ctx, x, *, dims):
        ctx.dims = dims
        return get_array_module(x).transpose(x, dims)

    @staticmethod
    def backward(ctx, grad):
        """y[i_dims[0], ...] = x[i_0, ...]: the gradient goes back through the inverse
        permutation (argsort of ``dims``)."""
        inverse = tuple(int(i) for i in np.argsort(ctx.dims))
        return get_array_module(grad).transpose(grad, inverse)

    cost = staticmethod(_free)


class Transpose(Permute):
    """transpose(dim0, dim1) is the permutation swapping two dimensions."""


class Expand(Function):
    @staticmethod
    def forward(ctx, x, *, shape):
        ctx.shape = x.shape
        return get_array_module(x).broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, grad):
        """Each input element is copied to every position of the new or size-1 axes:
        its gradient is the sum of the gradients of its copies."""
        return sum_to_shape(grad, ctx.shape).copy()

    cost = staticmethod(lambda ctx, i, o: Cost(
        backward_input_flops=o[0].size if ctx.needs_input_grad[0] else 0))


def _is_advanced(index):
    """True when ``index`` (a tuple) has an integer or boolean array in it."""
    return any(is_array(i) or isinstance(i, (list, bool)) for i in index)


class GetItem(Function):
    @staticmethod
    def forward(ctx, x, *, index):
        ctx.shape, ctx.index = x.shape, index
        # the integer and boolean arrays of the index stay alive for backward
        ctx.save_for_backward(*[i for i in index if is_array(i)])
        out = x[index]
        if not is_array(out):  # NumPy gives a scalar for one element; keep a 0-d view
            out = x[index + (Ellipsis,)]
        return out

    @staticmethod
    def backward(ctx, grad):
        """y = x[index] picks elements of x: dL/dx is zero except at the picked
        positions, which receive dL/dy; an element picked k times receives the sum of
        its k gradients (a scatter-add)."""
        xp = get_array_module(grad)
        grad_x = xp.zeros(ctx.shape, dtype=grad.dtype)
        if _is_advanced(ctx.index):
            scatter_add(grad_x, ctx.index, grad)
        else:  # slices, ints, None, Ellipsis: every position is picked at most once
            grad_x[ctx.index] = grad
        return grad_x

    cost = staticmethod(_scatter_add_cost)


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, dim):
        """Arrays of shape (0,) among others are skipped (size None below)."""
        kept = [a for a in arrays if a.shape != (0,)] or list(arrays)
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] if any(a is k for k in kept) else None for a in arrays]
        return get_array_module(*arrays).concatenate(kept, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        """Each input fills a block of the output along ``dim``; its gradient is that
        block of the output gradient (a skipped empty input gets an empty one)."""
        xp = get_array_module(grad)
        grads, start = [], 0
        for need, size in zip(ctx.needs_input_grad, ctx.sizes):
            if size is None:
                grads.append(xp.zeros((0,), dtype=grad.dtype) if need else None)
                continue
            block = (slice(None),) * ctx.dim + (slice(start, start + size),)
            grads.append(grad[block] if need else None)
            start += size
        return tuple(grads)

    cost = staticmethod(_free)


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        return get_array_module(*arrays).stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        """Input k is the slice k of the output along the new axis ``dim``."""
        prefix = (slice(None),) * ctx.dim
        return tuple(grad[prefix + (k,)] if need else None
                     for k, need in enumerate(ctx.needs_input_grad))

    cost = staticmethod(_free)


class Split(Function):
    @staticmethod
    def forward(ctx, x, *, sizes, dim):
        ctx.dim = dim
        pieces, start = [], 0
        for size in sizes:
            pieces.append(x[(slice(None),) * dim + (slice(start, start + size),)])
            start += size
        return tuple(pieces)

    @staticmethod
    def backward(ctx, *grads):
        """The pieces tile the input along ``dim``: their gradients, concatenated in
        order, are the input's gradient (unused pieces arrive as zeros)."""
        return get_array_module(grads[0]).concatenate(grads, axis=ctx.dim)

    cost = staticmethod(_free)


class Pad(Function):
    @staticmethod
    def forward(ctx, x, *, widths, mode, value):
        """``widths``: one (before, after) pair per dimension, possibly negative."""
        xp = get_array_module(x)
        ctx.shape, ctx.widths, ctx.mode = x.shape, widths, mode
        if mode == 'constant':
            out_shape = tuple(n + b + a for n, (b, a) in zip(x.shape, widths))
            out = xp.full(out_shape, value, dtype=x.dtype)
            source, target = _constant_pad_regions(x.shape, widths)
            out[target] = x[source]
            return out
        ctx.sources = _pad_sources(x.shape, widths, mode)
        for axis, source in enumerate(ctx.sources):
            if source is not None:
                x = xp.take(x, xp.asarray(source), axis=axis)
        return x

    @staticmethod
    def backward(ctx, grad):
        """Constant padding: the input occupies one block of the output, whose gradient
        it takes. Reflect, replicate and circular padding copy input elements into the
        border, so along each padded axis the gradients of all copies are added back
        (a scatter-add over the source index of each output position)."""
        xp = get_array_module(grad)
        if ctx.mode == 'constant':
            grad_x = xp.zeros(ctx.shape, dtype=grad.dtype)
            source, target = _constant_pad_regions(ctx.shape, ctx.widths)
            grad_x[source] = grad[target]
            return grad_x
        for axis in reversed(range(len(ctx.shape))):
            source = ctx.sources[axis]
            if source is None:
                continue
            shape = grad.shape[:axis] + (ctx.shape[axis],) + grad.shape[axis + 1:]
            summed = xp.zeros(shape, dtype=grad.dtype)
            scatter_add(summed, (slice(None),) * axis + (xp.asarray(source),), grad)
            grad = summed
        return grad

    cost = staticmethod(_scatter_add_cost)


def _constant_pad_regions(shape, widths):
    """Slices of the input and of the padded output holding the same values (negative
    widths crop the input)."""
    source, target = [], []
    for n, (before, after) in zip(shape, widths):
        source.append(slice(max(-before, 0), n - max(-after, 0)))
        kept = n - max(-before, 0) - max(-after, 0)
        start = max(before, 0)
        target.append(slice(start, start + max(kept, 0)))
    return tuple(source), tuple(target)


def _pad_sources(shape, widths, mode):
    """For each axis, the input position every output position copies (None where the
    axis is not padded)."""
    sources = []
    for n, (before, after) in zip(shape, widths):
        if before == 0 and after == 0:
            sources.append(None)
            continue
        positions = np.arange(-before, n + after)
        if mode == 'replicate':
            positions = np.clip(positions, 0, n - 1)
        elif mode == 'circular':  # PyTorch crops first, then wraps around what is left
            start, stop = max(-before, 0), n - max(-after, 0)
            positions = start + np.arange(-max(before, 0), stop - start + max(after, 0)) % (stop - start)
        else:  # reflect about the edge elements: -1 -> 1, n -> n - 2
            period = 2 * (n - 1)
            positions = np.abs(positions) % period
            positions = np.where(positions >= n, period - positions, positions)
        sources.append(positions)
    return sources


class Clone(Function):
    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        """A copy: dy/dx = 1."""
        return grad

    cost = staticmethod(_free)


class Repeat(Function):
    @staticmethod
    def forward(ctx, x, *, repeats):
        """``repeats`` has one count per output dimension; ``x`` gets leading size-1
        dimensions to match, then is tiled."""
        xp = get_array_module(x)
        shape = (1,) * (len(repeats) - x.ndim) + x.shape
        ctx.shape, ctx.repeats = x.shape, repeats
        return xp.tile(x.reshape(shape), repeats)

    @staticmethod
    def backward(ctx, grad):
        """Output position k r_d + j along each dimension d (copy k of x's j) holds x[j]:
        read as shape (r_1, s_1, r_2, s_2, ...), summing over the copy axes r_d gives
        each input element's summed gradient."""
        padded = (1,) * (len(ctx.repeats) - len(ctx.shape)) + ctx.shape
        split = tuple(n for pair in zip(ctx.repeats, padded) for n in pair)
        summed = grad.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return summed.reshape(ctx.shape)

    cost = staticmethod(_scatter_add_cost)


class Flip(Function):
    @staticmethod
    def forward(ctx, x, *, dims):
        ctx.dims = dims
        return get_array_module(x).flip(x, axis=dims).copy()   # a copy, as PyTorch's

    @staticmethod
    def backward(ctx, grad):
        """y[i] = x[n - 1 - i] along each flipped dimension: the gradient is flipped
        back the same way."""
        return get_array_module(grad).flip(grad, axis=ctx.dims).copy()

    cost = staticmethod(_free)


# ---------------------------------------------------------------- the public functions

def _shape_tuple(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def _reshape(op, input, shape):
    check_tensor(input, op)
    shape = _shape_tuple(shape)
    n = input.numel()
    unknown = [i for i, s in enumerate(shape) if s == -1]
    if len(unknown) > 1 or any(s < -1 for s in shape):
        raise ValueError(f'{op}: shape {shape} is invalid: at most one dimension may be '
                         f'-1 and none may be below -1')
    known = math.prod(s for s in shape if s != -1)
    if unknown:
        if known == 0 or n % known:
            raise ValueError(f'{op}: shape {shape} is invalid for input of shape '
                             f'{input.shape} ({n} elements)')
        shape = tuple(n // known if s == -1 else s for s in shape)
    elif known != n:
        raise ValueError(f'{op}: shape {shape} is invalid for input of shape {input.shape} '
                         f'({n} elements)')
    return Reshape.apply(input, shape=shape)


def reshape(input, shape):
    """The same elements in a new shape; one dimension may be -1 (inferred)."""
    return _reshape('reshape', input, shape)


def view(input, shape):
    """reshape under PyTorch's other name (minidl's arrays need no contiguity check)."""
    return _reshape('view', input, shape)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dimensions start_dim..end_dim into one."""
    check_tensor(input, 'flatten')
    if input.ndim == 0:
        return Flatten.apply(input, shape=(1,))
    start = normalize_dim(start_dim, input.ndim, 'flatten')
    end = normalize_dim(end_dim, input.ndim, 'flatten')
    if start > end:
        raise ValueError(f'flatten: start_dim {start_dim} comes after end_dim {end_dim} '
                         f'(input of shape {input.shape})')
    shape = input.shape
    return Flatten.apply(input, shape=shape[:start] + (math.prod(shape[start:end + 1]),)
                         + shape[end + 1:])


def permute(input, dims):
    """The dimensions reordered: output dimension i is input dimension dims[i]."""
    check_tensor(input, 'permute')
    dims = tuple(normalize_dim(int(d), input.ndim, 'permute') for d in _shape_tuple(dims))
    if sorted(dims) != list(range(input.ndim)):
        raise ValueError(f'permute: dims {dims} are not a permutation of the {input.ndim} '
                         f'dimensions of a tensor of shape {input.shape}')
    return Permute.apply(input, dims=dims)


def transpose(input, dim0, dim1):
    """Swap two dimensions."""
    check_tensor(input, 'transpose')
    if input.ndim == 0:
        normalize_dim(dim0, 0, 'transpose'), normalize_dim(dim1, 0, 'transpose')
        return Transpose.apply(input, dims=())
    d0 = normalize_dim(dim0, input.ndim, 'transpose')
    d1 = normalize_dim(dim1, input.ndim, 'transpose')
    dims = list(range(input.ndim))
    dims[d0], dims[d1] = d1, d0
    return Transpose.apply(input, dims=tuple(dims))


def squeeze(input, dim=None):
    """Drop size-1 dimensions: all of them, or those in ``dim`` (others are kept)."""
    check_tensor(input, 'squeeze')
    shape = input.shape
    if dim is None:
        dims = set(range(input.ndim))
    else:
        dims = {normalize_dim(int(d), input.ndim, 'squeeze') for d in _shape_tuple(dim)}
    return Squeeze.apply(input, shape=tuple(n for i, n in enumerate(shape)
                                            if not (i in dims and n == 1)))


def unsqueeze(input, dim):
    """Insert a size-1 dimension at ``dim`` (negative counts from the end of the result)."""
    check_tensor(input, 'unsqueeze')
    d = normalize_dim(dim, input.ndim + 1, 'unsqueeze')
    return Unsqueeze.apply(input, shape=input.shape[:d] + (1,) + input.shape[d:])


def expand(input, sizes):
    """A broadcast view: size-1 dimensions repeated, new leading ones added; -1 keeps
    a size."""
    check_tensor(input, 'expand')
    sizes = _shape_tuple(sizes)
    shape = input.shape
    if len(sizes) < len(shape):
        raise ValueError(f'expand: sizes {sizes} have fewer dimensions than the input '
                         f'{shape}')
    lead = len(sizes) - len(shape)
    target = []
    for i, s in enumerate(sizes):
        old = shape[i - lead] if i >= lead else None
        if s == -1:
            if old is None:
                raise ValueError(f'expand: -1 is not allowed for a new leading dimension '
                                 f'(sizes {sizes}, input {shape})')
            s = old
        elif old is not None and old != 1 and old != s:
            raise ValueError(f'expand: the size of dimension {i} must match: input {shape} '
                             f'cannot expand to {sizes} ({old} against {s})')
        target.append(s)
    return Expand.apply(input, shape=tuple(target))


def _raw_index_part(part, xp):
    if isinstance(part, Tensor):
        part = part.array
    if isinstance(part, np.ndarray) and xp is not np:
        part = xp.asarray(part)
    if is_array(part) and part.dtype.kind not in 'iub':
        raise IndexError(f'getitem: tensors used as indices must be integer or boolean, '
                         f'got {part.dtype}')
    return part


def raw_index(index, xp):
    """An index as a tuple of ints, slices, None, Ellipsis and arrays on ``xp``'s device."""
    if not isinstance(index, tuple):
        index = (index,)
    return tuple(_raw_index_part(i, xp) for i in index)


def getitem(input, index):
    """``input[index]`` with ints, slices, None, Ellipsis and integer or boolean
    arrays, like NumPy and PyTorch. Basic indexing gives a view sharing storage."""
    check_tensor(input, 'getitem')
    return GetItem.apply(input, index=raw_index(index, get_array_module(input.array)))


def narrow(input, dim, start, length):
    """``length`` elements of ``input`` along ``dim`` from ``start``."""
    check_tensor(input, 'narrow')
    if input.ndim == 0:
        raise ValueError('narrow: cannot be applied to a 0-dim tensor')
    if isinstance(start, Tensor):  # PyTorch accepts a 0-dim integer tensor
        if start.ndim != 0 or start.dtype.kind not in 'iu':
            raise TypeError(f'narrow: start must be an int or a 0-dim integer tensor, got a '
                            f'tensor of shape {start.shape} and dtype {start.dtype}')
        start = int(start.item())
    d = normalize_dim(dim, input.ndim, 'narrow')
    size = input.shape[d]
    if length < 0:
        raise ValueError(f'narrow: length must be non-negative, got {length}')
    if start < 0:
        start += size
    if not (0 <= start and start + length <= size):
        raise IndexError(f'narrow: start {start} + length {length} exceeds dimension {d} of '
                         f'size {size} (input {input.shape})')
    return GetItem.apply(input, index=(slice(None),) * d + (slice(start, start + length),))


def _check_tensors(op, tensors):
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f'{op}: expected a non-empty sequence of tensors')
    for k, t in enumerate(tensors):
        check_tensor(t, op, f'tensor {k}')
    return tensors


def _legacy_empty(t):
    """A 1-D empty tensor, which cat skips whatever the other shapes (as PyTorch does)."""
    return t.shape == (0,)


def cat(tensors, dim=0):
    """Join tensors along an existing dimension; the other sizes must match. Tensors of
    shape (0,) are skipped, as PyTorch does for backward compatibility."""
    tensors = _check_tensors('cat', tensors)
    k0, first = next(((k, t) for k, t in enumerate(tensors) if not _legacy_empty(t)),
                     (0, tensors[0]))
    d = normalize_dim(dim, first.ndim, 'cat')
    if first.ndim == 0:
        raise ValueError('cat: zero-dimensional tensors cannot be concatenated')
    for k, t in enumerate(tensors):
        if _legacy_empty(t):
            continue
        same = t.ndim == first.ndim and all(a == b for i, (a, b) in
                                            enumerate(zip(t.shape, first.shape)) if i != d)
        if not same:
            raise ValueError(f'cat: sizes of tensors must match except in dimension {d}: '
                             f'tensor {k0} has shape {first.shape}, tensor {k} has shape '
                             f'{t.shape}')
    return Cat.apply(*tensors, dim=d)


concat = cat


def stack(tensors, dim=0):
    """Join tensors of one shape along a new dimension ``dim``."""
    tensors = _check_tensors('stack', tensors)
    first = tensors[0]
    d = normalize_dim(dim, first.ndim + 1, 'stack')
    for k, t in enumerate(tensors[1:], 1):
        if t.shape != first.shape:
            raise ValueError(f'stack: expects each tensor to be the same shape: tensor 0 has '
                             f'shape {first.shape}, tensor {k} has shape {t.shape}')
    return Stack.apply(*tensors, dim=d)


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of ``split_size_or_sections`` elements along ``dim`` (the last may be
    smaller), or pieces of the listed sizes. Returns a tuple."""
    check_tensor(tensor, 'split', 'tensor')
    d = normalize_dim(dim, tensor.ndim, 'split')
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f'split: split_size must be positive, got {size}')
        sizes = [min(size, n - start) for start in range(0, n, size)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ValueError(f'split: sections {sizes} do not add up to the size {n} of '
                             f'dimension {d} (input {tensor.shape})')
    return Split.apply(tensor, sizes=tuple(sizes), dim=d)


def chunk(input, chunks, dim=0):
    """At most ``chunks`` pieces of equal size ceil(n / chunks) along ``dim`` (the last
    may be smaller), as torch.chunk."""
    check_tensor(input, 'chunk')
    if chunks <= 0:
        raise ValueError(f'chunk: chunks must be positive, got {chunks}')
    n = input.shape[normalize_dim(dim, input.ndim, 'chunk')]
    return split(input, max(-(-n // chunks), 1), dim)


def pad(input, pad, mode='constant', value=0):
    """Pad with ``pad`` = (left, right) for the last dimension, then (top, bottom) for
    the one before, and so on, as torch.nn.functional.pad. Modes: 'constant', 'reflect',
    'replicate', 'circular'; a negative width crops, in every mode."""
    check_tensor(input, 'pad')
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f'pad: the pad tuple {pad} must have an even length of at most '
                         f'2 x {input.ndim} (input {input.shape})')
    if mode not in ('constant', 'reflect', 'replicate', 'circular'):
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or "
                         f"'circular', got {mode!r}")
    widths = [(0, 0)] * input.ndim
    for k in range(len(pad) // 2):
        widths[input.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    for axis, ((before, after), n) in enumerate(zip(widths, input.shape)):
        if n + before + after < 0:
            raise ValueError(f'pad: padding {pad} makes dimension {axis} of the input '
                             f'{input.shape} negative')
        if mode == 'constant':
            continue
        limit = n - 1 if mode == 'reflect' else n
        if mode == 'circular' and (before or after):
            limit = n + min(before, 0) + min(after, 0)  # what is left after cropping
        if (before or after) and (n == 0 or limit <= 0 or
                                  (mode != 'replicate' and max(before, after) > limit)):
            raise ValueError(f'pad: {mode} padding {pad} is too large for dimension {axis} '
                             f'of size {n} (input {input.shape})')
    return Pad.apply(input, widths=tuple(widths), mode=mode, value=value)


def clone(input):
    """A copy that is part of the graph."""
    check_tensor(input, 'clone')
    return Clone.apply(input)


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-D tensors: with n tensors of sizes s1..sn, n tensors of
    shape (s1, ..., sn), the k-th varying along dimension k ('ij', PyTorch's default)
    or with the first two dimensions swapped ('xy', NumPy's default). Each grid is a
    reshape and an expand of its input, so gradients sum over the copies."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    tensors = _check_tensors('meshgrid', tensors)
    if indexing is None:
        warnings.warn('meshgrid: in an upcoming release, it will be required to pass the '
                      'indexing argument.', UserWarning, stacklevel=2)
        indexing = 'ij'
    if indexing not in ('ij', 'xy'):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for k, t in enumerate(tensors):
        if t.ndim > 1:
            raise ValueError(f'meshgrid: expects 0-D or 1-D tensors, tensor {k} has shape {t.shape}')
    sizes = [t.numel() for t in tensors]
    order = list(range(len(tensors)))
    if indexing == 'xy' and len(tensors) >= 2:
        order[0], order[1] = 1, 0          # x varies along columns, y along rows
    shape = tuple(sizes[i] for i in order)
    grids = []
    for k, t in enumerate(tensors):
        axis = order.index(k)
        view = reshape(t, tuple(-1 if d == axis else 1 for d in range(len(shape))))
        grids.append(expand(view, shape))
    return tuple(grids)


def repeat(input, *sizes):
    """``input`` tiled ``sizes[d]`` times along each dimension d, as ``Tensor.repeat``:
    ``sizes`` may have more entries than ``input`` has dimensions (new leading ones),
    not fewer. Sizes as ``repeat(x, 2, 3)`` or ``repeat(x, (2, 3))``."""
    check_tensor(input, 'repeat')
    repeats = tuple(int(r) for r in (sizes[0] if len(sizes) == 1 and
                                     isinstance(sizes[0], (tuple, list)) else sizes))
    if len(repeats) < input.ndim:
        raise RuntimeError(f'repeat: the number of repeat sizes ({len(repeats)}) can not be '
                           f'smaller than the number of dimensions of the tensor ({input.ndim}, '
                           f'shape {input.shape})')
    if any(r < 0 for r in repeats):
        raise RuntimeError(f'repeat: repeat sizes must be non-negative, got {repeats}')
    return Repeat.apply(input, repeats=repeats)


def flip(input, dims):
    """A copy of ``input`` with the order of elements reversed along each dimension in
    ``dims`` (an int, or a tuple or list of ints, each at most once)."""
    check_tensor(input, 'flip')
    dims = _shape_tuple(dims)
    axes = tuple(normalize_dim(d, input.ndim, 'flip') for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError(f'flip: dims {dims} name dimension {max(axes, key=axes.count)} '
                           f'more than once')
    if input.ndim == 0:
        return Flip.apply(input, dims=())
    return Flip.apply(input, dims=axes)


def _flip_dim(op, input, dim):
    """``input`` flipped along ``dim``, which it must have."""
    check_tensor(input, op)
    if input.ndim <= dim:
        raise RuntimeError(f'{op}: input must be >= {dim + 1}-d, got shape {input.shape}')
    return flip(input, (dim,))


def fliplr(input):
    """Flip left to right: the order of dimension 1 reversed (an input of 2 or more
    dimensions)."""
    return _flip_dim('fliplr', input, 1)


def flipud(input):
    """Flip up to down: the order of dimension 0 reversed (an input of 1 or more
    dimensions)."""
    return _flip_dim('flipud', input, 0)

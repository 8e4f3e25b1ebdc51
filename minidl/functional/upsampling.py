"""Resizing images and feature maps: interpolate ('nearest', 'nearest-exact', 'linear',
'bilinear', 'trilinear') and PyTorch's older names upsample, upsample_nearest and
upsample_bilinear.

The spatial dimensions (those after N and C) are resized one at a time: interpolation
in several dimensions is separable (bilinear is linear along H, then along W). Along
one dimension every output position i reads one input position ('nearest') or mixes
two neighbours ('linear'):

    out[i] = sum_t w_t[i] x[src_t[i]]          (t over the taps: 1 or 2)

Backward adds each output gradient back to the positions it read, times the same
weights (a scatter-add). The source positions and weights follow PyTorch's kernels
(aten/src/ATen/native/UpSample.h), in the same floating-point type, so that results
agree with PyTorch's.
"""
import math
from numbers import Number

import numpy as np

from ..autograd import ArrayFunction as Function, Cost
from ..backend import get_array_module
from ._util import check_tensor, scatter_add

__all__ = ['interpolate', 'upsample', 'upsample_nearest', 'upsample_bilinear']

# mode -> the input dimensions it needs (None: any of 3, 4, 5)
_MODES = {'nearest': None, 'nearest-exact': None, 'linear': 3, 'bilinear': 4, 'trilinear': 5}
_LINEAR = ('linear', 'bilinear', 'trilinear')


def _along(vector, axis, ndim):
    """A 1-D array shaped to broadcast along ``axis`` of an ndim-array."""
    return vector.reshape([-1 if d == axis else 1 for d in range(ndim)])


class Interpolate(Function):
    @staticmethod
    def forward(ctx, x, *, taps):
        """``taps``: for each spatial dimension, None (left as it is) or a tuple of
        (source positions, weights or None) pairs, one pair per tap."""
        xp = get_array_module(x)
        ctx.taps, ctx.shapes, ctx.flops = taps, [], 0
        for axis, axis_taps in enumerate(taps, start=2):
            if axis_taps is None:
                continue
            ctx.shapes.append(x.shape)
            out = None
            for source, weight in axis_taps:
                part = xp.take(x, source, axis=axis)
                if weight is not None:
                    part = part * _along(weight, axis, x.ndim)
                out = part if out is None else out + part
            x = out
            ctx.flops += x.size * (2 * len(axis_taps) - 1 if axis_taps[0][1] is not None else 0)
        return x

    @staticmethod
    def backward(ctx, grad):
        """out[i] = sum_t w_t[i] x[src_t[i]] along each resized dimension:
            dL/dx[j] = sum over (i, t) with src_t[i] = j of w_t[i] dL/dout[i],
        a scatter-add of the weighted gradient, dimension by dimension in reverse order."""
        xp = get_array_module(grad)
        shapes = iter(reversed(ctx.shapes))
        for axis in reversed(range(2, 2 + len(ctx.taps))):
            axis_taps = ctx.taps[axis - 2]
            if axis_taps is None:
                continue
            summed = xp.zeros(next(shapes), dtype=grad.dtype)
            for source, weight in axis_taps:
                part = grad if weight is None else grad * _along(weight, axis, grad.ndim)
                scatter_add(summed, (slice(None),) * axis + (source,), part)
            grad = summed
        return grad

    @staticmethod
    def cost(ctx, inputs, outputs):
        """Per resized dimension and output element: the weighted taps, summed."""
        return Cost(forward_flops=ctx.flops,
                    backward_input_flops=ctx.flops if ctx.needs_input_grad[0] else 0)


def _nearest_taps(size, out_size, scale, exact):
    """PyTorch's nearest_idx: src = min(floor((i [+ 0.5]) s), size - 1) in float32,
    with s = 1 / scale_factor when one was given, else size / out_size."""
    s = np.float32(1.0 / scale) if scale else np.float32(size) / np.float32(out_size)
    i = np.arange(out_size, dtype=np.float32) + np.float32(0.5 if exact else 0)
    return ((np.minimum(np.floor(i * s).astype(np.int64), size - 1), None),)


def _linear_taps(size, out_size, scale, align_corners, dtype):
    """PyTorch's area_pixel_compute_source_index and guard_index_and_lambda, in the
    input's floating-point type (float32 or float64): the real source position r of output i is
    i (size - 1) / (out_size - 1) with align_corners, else (i + 0.5) s - 0.5 (at least
    0), s as for nearest; it mixes positions floor(r) and floor(r) + 1 (the last one
    stays) with weights 1 - lambda and lambda, lambda = r - floor(r)."""
    real = np.dtype(dtype).type
    i = np.arange(out_size).astype(dtype)
    if align_corners:
        s = real(size - 1) / real(out_size - 1) if out_size > 1 else real(0)
        position = s * i
    else:
        s = real(1.0 / scale) if scale else real(size) / real(out_size)
        # (i + 0.5) s - 0.5 rounded once, as PyTorch's compiled kernel does (a fused
        # multiply-add): exact in float64 for float32 operands, then rounded to dtype
        exact = np.float64(s) * (i.astype(np.float64) + 0.5) - 0.5
        position = np.maximum(exact.astype(dtype), real(0))
    low = np.minimum(np.floor(position).astype(np.int64), size - 1)
    weight = np.clip(position - low, 0, 1).astype(dtype)
    high = low + (low < size - 1)
    return ((low, (1 - weight).astype(dtype)), (high, weight))


def _is_identity(taps, size):
    source, weight = taps[0]
    return (len(source) == size and np.array_equal(source, np.arange(size))
            and (weight is None or np.all(weight == 1)))


def _per_dimension(op, value, dims, what, spatial):
    """``value`` (a number or a sequence) as one entry per spatial dimension."""
    if isinstance(value, Number):
        return (value,) * dims
    value = tuple(value)
    if len(value) != dims:
        raise ValueError(f'{op}: the input has {dims} spatial dimensions {list(spatial)}, '
                         f'{what} has {len(value)}: {value} (give one per spatial dimension '
                         f'of the (N, C, d1, ..., dK) input)')
    return value


def interpolate(input, size=None, scale_factor=None, mode='nearest', align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dimensions of an (N, C, d1, ..., dK) input (K = 1, 2 or 3) to
    ``size`` (an int or one per dimension) or by ``scale_factor`` (output size
    floor(d * factor)), as torch.nn.functional.interpolate. Modes: 'nearest' and
    'nearest-exact' (any K), 'linear' (K = 1), 'bilinear' (K = 2), 'trilinear' (K = 3);
    ``align_corners`` (linear modes only; False by default) maps the corner pixels'
    centres onto each other. With a scale factor the source positions use
    1 / scale_factor unless ``recompute_scale_factor=True`` (then in / out), as PyTorch.

    Not provided: 'bicubic', 'area', ``antialias=True`` (NotImplementedError). Raises
    ValueError for a missing or doubled size/scale_factor or one that does not fit the
    input, NotImplementedError for a mode that does not fit the input's dimensions."""
    op = 'interpolate'
    check_tensor(input, op)
    if antialias or mode not in _MODES:
        modes = ' | '.join(_MODES)
        raise NotImplementedError(f'{op}: mode={mode!r}' + (' with antialias=True' if antialias
                                                              else '')
                                  + f' is not supported by minidl (modes: {modes})')
    linear = mode in _LINEAR
    if align_corners is not None and not linear:
        raise ValueError(f'{op}: align_corners option can only be set with the '
                         f'interpolating modes: linear | bilinear | trilinear')
    if input.ndim not in (3, 4, 5):
        raise NotImplementedError(f'{op}: only 3D, 4D and 5D input tensors (N, C, d1, ...) '
                                  f'are supported, got shape {input.shape}')
    if _MODES[mode] not in (None, input.ndim):
        raise NotImplementedError(f'{op}: got {input.ndim}D input, but {mode} mode needs '
                                  f'{_MODES[mode]}D input')
    if linear and input.dtype.kind != 'f':
        raise TypeError(f'{op}: {mode} mode needs a floating-point input, got {input.dtype}')
    spatial = input.shape[2:]
    dims = len(spatial)
    if size is None and scale_factor is None:
        raise ValueError(f'{op}: either size or scale_factor should be defined')
    if size is not None and scale_factor is not None:
        raise ValueError(f'{op}: only one of size or scale_factor should be defined')
    if size is not None:
        sizes = tuple(int(n) for n in _per_dimension(op, size, dims, 'size', spatial))
        scales = (None,) * dims
    else:
        factors = tuple(float(f) for f in _per_dimension(op, scale_factor, dims,
                                                          'scale_factor', spatial))
        sizes = tuple(math.floor(float(n) * f) for n, f in zip(spatial, factors))
        scales = (None,) * dims if recompute_scale_factor else factors
    if any(n <= 0 for n in spatial + sizes):
        raise ValueError(f'{op}: input and output sizes should be greater than 0, got '
                         f'input {list(spatial)} and output {list(sizes)}')
    xp = get_array_module(input.array)
    taps = []
    for n, out, scale in zip(spatial, sizes, scales):
        if linear:
            axis_taps = _linear_taps(n, out, scale, align_corners, input.dtype)
        else:
            axis_taps = _nearest_taps(n, out, scale, mode == 'nearest-exact')
        taps.append(None if _is_identity(axis_taps, n) else tuple(
            (xp.asarray(s), None if w is None else xp.asarray(w)) for s, w in axis_taps))
    return Interpolate.apply(input, taps=tuple(taps))


def upsample(input, size=None, scale_factor=None, mode='nearest', align_corners=None):
    """PyTorch's deprecated name of ``interpolate``."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """PyTorch's deprecated ``interpolate(..., mode='nearest')``."""
    return interpolate(input, size, scale_factor, mode='nearest')


def upsample_bilinear(input, size=None, scale_factor=None):
    """PyTorch's deprecated ``interpolate(..., mode='bilinear', align_corners=True)``."""
    return interpolate(input, size, scale_factor, mode='bilinear', align_corners=True)

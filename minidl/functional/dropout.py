"""Dropout: zero random elements (dropout) or whole channels (dropout2d) while training.

Inverted dropout (Srivastava et al., 2014, as PyTorch does it): the kept values are
scaled by 1/(1-p) during training, so that each value's expectation is unchanged and
evaluation is the identity. The masks come from minidl's seeded generator of the
input's device, so ``minidl.manual_seed`` makes them repeatable.
"""
import warnings
from functools import partial

from ..autograd import ArrayFunction as Function, Cost
from ..backend import cuda_kernel, cuda_kernels_enabled, get_array_module, random_uniform
from ._util import check_tensor
from .inplace import apply_inplace, check_inplace

__all__ = ['dropout', 'dropout2d']


# keep = u >= p, y = x * keep * scale: the mask and the output in one pass.
_DROPOUT_FORWARD_KERNEL = ('ElementwiseKernel', 'dropout_forward',
    'T x, T u, T p, T scale',
    'bool keep, T y',
    'keep = u >= p; y = x * (T)keep * scale;')


def dropout_cuda(x, u, p, scale, out=None):
    """Inverted dropout of ``x`` from uniform samples ``u`` of x's shape and dtype:
    returns (out, keep) with keep = u >= p (bool) and out = x * keep * scale, in one
    pass. ``out=x`` writes the result over x (dropout's inplace=True)."""
    xp = get_array_module(x)
    t = x.dtype.type
    keep = xp.empty(x.shape, dtype=bool)
    if out is None:
        out = xp.empty_like(x)
    cuda_kernel(*_DROPOUT_FORWARD_KERNEL)(x, u, t(p), t(scale), keep, out)
    return out, keep


class Dropout(Function):
    """y = x * keep * scale with a boolean ``keep`` mask (the input's shape, or
    (N, C, 1, ...) for channel dropout, broadcast) and scale = 1/(1-p).

    Saved for backward: the boolean mask only (one byte per element, a quarter of a
    float32 mask) and the scale, a scalar of the input's dtype.
    """

    @staticmethod
    def forward(ctx, x, *, keep, scale, uniform=None, p=None):
        if uniform is not None:
            # the GPU kernel path: keep = uniform >= p and the output in one pass
            out, keep = dropout_cuda(x, uniform, p, scale)
        else:
            out = x * keep
            out *= scale
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, grad):
        """y = x m / (1-p) with m fixed: dy/dx = m / (1-p), the same mask and scale."""
        (keep,) = ctx.saved_tensors
        grad_x = grad * keep
        grad_x *= ctx.scale
        return grad_x

    @staticmethod
    def cost(ctx, inputs, outputs):
        """Per element: the mask product and the scale, forward and backward alike."""
        n = outputs[0].size
        return Cost(forward_flops=2 * n,
                    backward_input_flops=2 * n if ctx.needs_input_grad[0] else 0)


def _check_p(op, p):
    if not 0 <= p <= 1:
        raise ValueError(f'{op}: dropout probability has to be between 0 and 1, but got {p}')


def _dropout(op, input, p, training, inplace, mask_shape):
    if not training or p == 0 or input.numel() == 0:
        return input                           # PyTorch returns the input itself here
    xp = get_array_module(input.array)
    dtype = input.dtype.type
    if p == 1:
        keep = xp.zeros((), dtype=bool)        # everything dropped; no random draw needed
        scale = dtype(0)
        compute = partial(Dropout.apply, keep=keep, scale=scale)
    else:
        # u uniform in [0, 1) is kept with probability P(u >= p) = 1 - p; the scale is
        # computed in the input's dtype, 1/(1-p) as PyTorch rounds it
        uniform = random_uniform(mask_shape, input.dtype, device=input.device)
        scale = dtype(1) / dtype(1 - p)
        if cuda_kernels_enabled(xp) and tuple(mask_shape) == tuple(input.shape):
            # the mask and the scaled output in one kernel (the same numbers); unrecorded
            # and in place, the kernel writes straight into the input
            if inplace and not check_inplace(op + '_', input, ()):
                dropout_cuda(input.array, uniform, p, scale, out=input.array)
                input._mark_changed(op + '_')
                return input
            compute = partial(Dropout.apply, keep=None, scale=scale, uniform=uniform, p=p)
        else:
            compute = partial(Dropout.apply, keep=uniform >= p, scale=scale)
    if inplace:
        return apply_inplace(op + '_', input, compute)
    return compute(input)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (training);
    the input itself when ``training=False`` or ``p=0``; zeros when ``p=1``.

    ``inplace=True`` writes the result into the input and returns it (recorded like any
    in-place operation, see inplace.py).
    """
    check_tensor(input, 'dropout')
    _check_p('dropout', p)
    return _dropout('dropout', input, p, training, inplace, input.shape)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Channel dropout (Tompson et al., 2015): zero whole channels of an (N, C, H, W)
    input with probability ``p`` and scale the rest by 1/(1-p).

    Like PyTorch, a 3-D input is read as (N, C, L) (one mask value per (n, c)); other
    ranks are accepted with PyTorch's deprecation warning.
    """
    op = 'dropout2d'
    check_tensor(input, op)
    _check_p(op, p)
    if input.ndim < 2:
        raise ValueError(f'{op}: expected an (N, C, H, W) input, got shape {tuple(input.shape)}')
    if input.ndim not in (3, 4):
        warnings.warn(f'{op}: received a {input.ndim}-D input; dropout2d is meant for 3-D or '
                      f'4-D inputs (as in PyTorch, where other ranks are deprecated)',
                      stacklevel=2)
    mask_shape = input.shape[:2] + (1,) * (input.ndim - 2)
    return _dropout(op, input, p, training, inplace, mask_shape)

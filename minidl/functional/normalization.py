"""Normalisation layers: batch_norm and local_response_norm.

Both normalise over the channel dimension (dimension 1), so they work on (N, C),
(N, C, L), (N, C, H, W) and deeper inputs alike. The maths of batch norm's backward
and of LRN's cross-channel term is worked through in docs/normalization.md.
"""
import math

import numpy as np

from ..autograd import ArrayFunction as Function, Cost
from .. import backend
from ..backend import (cuda_kernel, cuda_kernels_enabled, get_array_module, grain, parallel_for,
                       parallel_sum)
from ._util import check_tensor, raw

__all__ = ['batch_norm', 'local_response_norm']


def _channel_shape(x):
    """(1, C, 1, ...): the shape a per-channel vector broadcasts to against ``x``."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _channel_dot(xp, a, b):
    """Per channel, the sum of a * b over every other axis: shape (C,), one pass, no
    (N, C, ...) temporary (einsum on an (N, C, rest) view)."""
    n, c = a.shape[:2]
    return xp.einsum('ncx,ncx->c', a.reshape(n, c, -1), b.reshape(n, c, -1))


def _reduce_axes(x):
    """Every axis except the channel axis: the axes batch norm averages over."""
    return (0,) + tuple(range(2, x.ndim))


# ---------------------------------------------------------------- batch norm on a GPU

# Batch norm's mean per channel (the reduction runs over every other axis). The
# variance is sum_of_products of the centred input with itself: a reduction that
# reads a broadcast (1, C, 1, 1) mean was measured 30x slower on an H200 (CuPy 14).
_BATCH_NORM_MEAN_KERNEL = ('ReductionKernel', 'batch_norm_mean',
    'T x, T count', 'T mean', 'x', 'a + b', 'mean = a / count', '0')

# x_hat = (x - mean) inv_std and y = gamma x_hat + beta in one pass.
_BATCH_NORM_NORMALIZE_KERNEL = ('ElementwiseKernel', 'batch_norm_normalize',
    'T x, T mean, T inv_std, T gamma, T beta',
    'T x_hat, T y',
    'x_hat = (x - mean) * inv_std; y = x_hat * gamma + beta;')

# The same when x_hat need not be kept (no gradient is asked for).
_BATCH_NORM_AFFINE_KERNEL = ('ElementwiseKernel', 'batch_norm_affine',
    'T x, T mean, T inv_std, T gamma, T beta',
    'T y',
    'y = (x - mean) * inv_std * gamma + beta;')

# sum(g * x_hat) per channel, the product never stored.
_SUM_OF_PRODUCTS_KERNEL = ('ReductionKernel', 'sum_of_products',
    'T g, T x_hat', 'T total', 'g * x_hat', 'a + b', 'total = a', '0')

# dx = gamma inv_std (g - sum(g)/m - x_hat sum(g x_hat)/m)
_BATCH_NORM_BACKWARD_KERNEL = ('ElementwiseKernel', 'batch_norm_backward',
    'T g, T x_hat, T sum_g, T sum_g_xhat, T gamma, T inv_std, T count',
    'T dx',
    'dx = (g - sum_g / count - x_hat * (sum_g_xhat / count)) * (gamma * inv_std);')


def _channel_layout(x, vector):
    """A per-channel vector (or None) shaped (1, C, 1, ...) in x's dtype."""
    if vector is None:
        return None
    return vector.reshape(_channel_shape(x)).astype(x.dtype, copy=False)


def batch_norm_training_cuda(x, weight, bias, eps, keep_x_hat=True):
    """Batch norm with the batch's statistics over every axis but 1, as
    normalization.BatchNorm.forward computes it in training: returns (out, x_hat, mean,
    var, inv_std), the last three shaped (1, C, 1, ...) with the biased variance;
    x_hat is None when ``keep_x_hat`` is False (no gradient will need it)."""
    xp = get_array_module(x)
    t = x.dtype.type
    axes = _reduce_axes(x)
    count = t(x.size // x.shape[1])
    mean = cuda_kernel(*_BATCH_NORM_MEAN_KERNEL)(x, count, axis=axes, keepdims=True)
    centred = x - mean
    var = cuda_kernel(*_SUM_OF_PRODUCTS_KERNEL)(centred, centred, axis=axes, keepdims=True) / count
    inv_std = 1 / xp.sqrt(var + eps)
    gamma = _channel_layout(x, weight)
    beta = _channel_layout(x, bias)
    gamma = t(1) if gamma is None else gamma
    beta = t(0) if beta is None else beta
    zero = t(0)   # the input is already centred
    if keep_x_hat:
        x_hat, out = cuda_kernel(*_BATCH_NORM_NORMALIZE_KERNEL)(centred, zero, inv_std, gamma,
                                                                  beta)
    else:
        x_hat = None
        out = cuda_kernel(*_BATCH_NORM_AFFINE_KERNEL)(centred, zero, inv_std, gamma, beta)
    return out, x_hat, mean, var, inv_std


def batch_norm_backward_cuda(grad, x_hat, inv_std, gamma, need_x, need_w, need_b):
    """The closed-form training backward of batch norm from the saved x_hat, inv_std
    and gamma ((1, C, 1, ...) or None): (dx, dgamma, dbeta), each None unless asked
    for; dgamma = sum(g x_hat) and dbeta = sum(g) per channel, flat (C,)."""
    t = grad.dtype.type
    axes = _reduce_axes(grad)
    count = t(grad.size // grad.shape[1])
    sum_g = sum_g_xhat = grad_x = None
    if need_x or need_b:
        sum_g = grad.sum(axis=axes, keepdims=True)
    if need_x or need_w:
        sum_g_xhat = cuda_kernel(*_SUM_OF_PRODUCTS_KERNEL)(grad, x_hat, axis=axes, keepdims=True)
    if need_x:
        grad_x = cuda_kernel(*_BATCH_NORM_BACKWARD_KERNEL)(grad, x_hat, sum_g, sum_g_xhat,
                                                t(1) if gamma is None else gamma,
                                                inv_std, count)
    return (grad_x, sum_g_xhat.reshape(-1) if need_w else None,
            sum_g.reshape(-1) if need_b else None)


# ---------------------------------------------------------------- batch norm by blocks

# On the CPU, batch norm's passes run a block of images at a time, the blocks in parallel
# (backend.parallel_for): each block (about backend.BYTES_PER_BLOCK of the input) is read
# while in cache, and two threads share the work. The blocks do not depend on the number
# of threads, and per-channel sums over blocks are added in block order: the same bits.

def _images_per_block(x):
    return grain(x.shape[0], backend.BYTES_PER_BLOCK * max(x.shape[0], 1) // max(x.nbytes, 1))


def _sum_over_ranks(group, array):
    """``array`` summed over the ranks of ``group`` (in place); as it is without a group."""
    if group is not None:
        group.all_reduce(array, 'sum').wait()
    return array


def batch_norm_training(x, weight, bias, eps, keep_x_hat=True, group=None):
    """Batch norm with the batch's statistics over every axis but 1, as
    batch_norm_training_cuda (same results): (out, x_hat, mean, var, inv_std, count),
    mean, var and inv_std shaped (1, C, 1, ...), the variance biased, count the values
    per channel; x_hat is None unless ``keep_x_hat``. With a process group (SyncBatchNorm)
    the statistics are those of every rank's batch together. Three passes over blocks of
    images: per-channel sums (the mean); x_hat = x - mean written with the sum of its
    squares (the variance, from centred values: no cancellation); x_hat scaled by
    inv_std and out = gamma x_hat + beta."""
    xp = get_array_module(x)
    n, c = x.shape[:2]
    flat = x.reshape(n, c, -1)
    grain = _images_per_block(x)
    sums = parallel_sum(xp, n, grain, lambda start, stop: xp.einsum('ncx->c', flat[start:stop]))
    count = x.size // c
    if group is not None:                     # one all-reduce: per-channel sums, count
        both = _sum_over_ranks(group, xp.concatenate([sums.astype(xp.float64),
                                                      xp.asarray([count], xp.float64)]))
        sums, count = both[:-1].astype(x.dtype), int(both[-1])
        if count < 2:
            raise ValueError(f'sync_batch_norm: Expected more than 1 value per channel when '
                             f'training, got {count} over all ranks (input {tuple(x.shape)})')
    mean = sums / count
    x_hat = xp.empty(flat.shape, dtype=x.dtype)

    def centre(start, stop):
        xp.subtract(flat[start:stop], mean[:, None], out=x_hat[start:stop])
        return _channel_dot(xp, x_hat[start:stop], x_hat[start:stop])

    var = _sum_over_ranks(group, parallel_sum(xp, n, grain, centre)) / count
    inv_std = 1 / xp.sqrt(var + eps)
    gamma = None if weight is None else weight.astype(x.dtype, copy=False)[:, None]
    beta = None if bias is None else bias.astype(x.dtype, copy=False)[:, None]
    # the output must not share memory with a saved x_hat
    out = x_hat if gamma is None and beta is None and not keep_x_hat else xp.empty_like(x_hat)

    def normalise(start, stop):
        block, block_out = x_hat[start:stop], out[start:stop]
        block *= inv_std[:, None]
        if gamma is not None:
            xp.multiply(block, gamma, out=block_out)
        elif block_out is not block:
            block_out[...] = block
        if beta is not None:
            block_out += beta

    parallel_for(xp, n, grain, normalise)
    shape = _channel_shape(x)
    return (out.reshape(x.shape), x_hat.reshape(x.shape) if keep_x_hat else None,
            mean.reshape(shape), var.reshape(shape), inv_std.reshape(shape), count)


def batch_norm_backward(grad, x_hat, inv_std, gamma, need_x, need_w, need_b, count,
                        group=None):
    """The closed-form training backward of batch norm, as batch_norm_backward_cuda:
    (dx, dgamma, dbeta), each None unless asked for; ``count`` values per channel in
    the statistics. Two passes over blocks of images: the per-channel sums sum(g) and
    sum(g x_hat); then dx. With a process group (SyncBatchNorm) dx uses the sums over
    every rank; dgamma and dbeta stay this rank's shares (DDP adds them)."""
    xp = get_array_module(grad)
    n, c = grad.shape[:2]
    flat_g = grad.reshape(n, c, -1)
    flat_x_hat = None if x_hat is None else x_hat.reshape(n, c, -1)   # None: dbeta only
    grain = _images_per_block(grad)

    def sums(start, stop):
        g = flat_g[start:stop]
        if flat_x_hat is None:
            return xp.einsum('ncx->c', g)[None]
        return xp.stack([xp.einsum('ncx->c', g), _channel_dot(xp, g, flat_x_hat[start:stop])])

    totals = parallel_sum(xp, n, grain, sums)
    grad_w = totals[-1].copy() if need_w else None
    grad_b = totals[0].copy() if need_b else None
    grad_x = None
    if need_x:
        sum_g, sum_g_xhat = _sum_over_ranks(group, totals)
        scale = inv_std.reshape(c, 1) if gamma is None else (gamma * inv_std).reshape(c, 1)
        mean_g, mean_g_xhat = (sum_g / count)[:, None], (sum_g_xhat / count)[:, None]
        grad_x = xp.empty(flat_g.shape, dtype=grad.dtype)

        def input_gradient(start, stop):
            block = grad_x[start:stop]       # gamma s (g - sum(g)/m - x_hat sum(g x_hat)/m)
            xp.multiply(flat_x_hat[start:stop], mean_g_xhat, out=block)
            xp.subtract(flat_g[start:stop], block, out=block)
            block -= mean_g
            block *= scale

        parallel_for(xp, n, grain, input_gradient)
        grad_x = grad_x.reshape(grad.shape)
    return grad_x, grad_w, grad_b


# ---------------------------------------------------------------- batch norm

# Batch norm is two operators, as in Chainer (BatchNormalization and
# FixedBatchNormalization): BatchNorm normalises with the batch's statistics (training),
# FixedBatchNorm with given ones (evaluation); batch_norm picks one. Their inputs are x,
# weight and bias. running_mean and running_var are keyword settings, not inputs: no
# gradient flows to them (PyTorch refuses to differentiate batch norm by them), BatchNorm
# updates them in place as state and FixedBatchNorm reads them as constants. Being
# settings they arrive as raw arrays, so batch_norm checks their device itself.

def _empty_batch(ctx, x):
    """An empty batch: an empty result, the running statistics untouched (PyTorch)."""
    ctx.channels = x.shape[1]
    return x.copy()


def _empty_batch_gradients(ctx, grad):
    """An empty batch's gradients: nothing flows to x, weight and bias get zeros."""
    xp = get_array_module(grad)
    need_x, need_w, need_b = ctx.needs_input_grad
    zeros = xp.zeros(ctx.channels, dtype=grad.dtype)
    return (xp.zeros(grad.shape, dtype=grad.dtype) if need_x else None,
            zeros if need_w else None, zeros.copy() if need_b else None)


def _normalize_with_batch_stats(ctx, x, weight, bias, running_mean, running_var, momentum,
                                eps, group):
    """BatchNorm's forward: statistics of the batch, which with a process group
    (SyncBatchNorm) is the union of every rank's batch. Saves what ``backward`` needs.
    On a GPU (without a group) the CUDA kernels: a reduction per statistic, one pass for
    the output."""
    need_x, need_w, _ = ctx.needs_input_grad
    if group is None and cuda_kernels_enabled(get_array_module(x)):
        out, x_hat, mean, var, inv_std = batch_norm_training_cuda(
            x, weight, bias, eps, keep_x_hat=need_x or need_w)
        count = x.size // x.shape[1]
    else:
        out, x_hat, mean, var, inv_std, count = batch_norm_training(
            x, weight, bias, eps, keep_x_hat=need_x or need_w, group=group)
    if running_mean is not None:
        # PyTorch's convention: running <- (1 - momentum) running + momentum batch,
        # with the unbiased variance n/(n-1) var for the running estimate
        _move_towards(running_mean, mean.reshape(-1), momentum)
        _move_towards(running_var, var.reshape(-1) * (count / (count - 1)), momentum)
    ctx.group, ctx.count = group, count
    ctx.save_for_backward(x_hat, inv_std if need_x else None,
                          _channel_layout(x, weight) if need_x else None)
    return out


class BatchNorm(Function):
    """Batch norm in training: y = x_hat * gamma + beta with
    x_hat = (x - mean) / sqrt(var + eps), per channel, mean and (biased) var those of the
    batch. The running statistics, when given, move towards the batch's (in place).

    Saved for backward: x_hat (one array of the input's size) and, per channel, inv_std
    and gamma. x_hat is chosen over (input, mean, inv_std): both cost the same memory
    (the input of a batch norm is a convolution's output, which nothing else keeps), but
    x_hat is what both gradients are written in, so backward need not recompute it.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, running_mean, running_var, momentum, eps):
        if x.size == 0:
            return _empty_batch(ctx, x)
        return _normalize_with_batch_stats(ctx, x, weight, bias, running_mean, running_var,
                                           momentum, eps, group=None)

    @staticmethod
    def backward(ctx, grad):
        """Per channel over its m values: x_hat = (x - mu) s with s = 1/sqrt(var + eps),
        y = gamma x_hat + beta. Then dbeta = sum g, dgamma = sum g x_hat, and since
        dmu/dx_i = 1/m and d var/dx_i = 2 (x_i - mu)/m,
            dx_i = gamma s (g_i - sum(g)/m - x_hat_i sum(g x_hat)/m)
        (the mean removes the part of g along 1, the variance the part along x_hat):
        the two sums dx needs are the two parameter gradients.
        """
        if grad.size == 0:
            return _empty_batch_gradients(ctx, grad)
        need_x, need_w, need_b = ctx.needs_input_grad
        x_hat, inv_std, gamma = ctx.saved_tensors
        if ctx.group is None and cuda_kernels_enabled(get_array_module(grad)):
            return batch_norm_backward_cuda(grad, x_hat, inv_std, gamma, need_x, need_w,
                                            need_b)
        return batch_norm_backward(grad, x_hat, inv_std, gamma, need_x, need_w, need_b,
                                   ctx.count, ctx.group)

    @staticmethod
    def cost(ctx, inputs, outputs):
        """FLOPs per element of the input (n elements; per-channel work such as the
        square root and the running-stat update is left out, being C against n).
        Forward: mean 1, centre 1, square 1, variance sum 1, scale 1 (5), plus 1 for
        gamma and 1 for beta when given. Backward: the two sums sum(g) (1) and
        sum(g x_hat) (2) are dbeta and dgamma, so they count as weight work when those
        gradients are asked for and as input work otherwise; dx then adds 4 (two
        subtractions, a product with x_hat, the scale).
        """
        x, weight, bias = inputs
        n = x.size
        need_x, need_w, need_b = ctx.needs_input_grad
        back_input = n * (4 + 2 * (not need_w) + (not need_b)) if need_x else 0
        return Cost(forward_flops=n * (5 + (weight is not None) + (bias is not None)),
                    backward_input_flops=back_input,
                    backward_weight_flops=n * (2 * need_w + need_b))


class FixedBatchNorm(Function):
    """Batch norm with given statistics (evaluation: the running ones): per channel the
    affine map y = x * scale + shift, scale = gamma / sqrt(var + eps) and
    shift = beta - mean * scale.

    Saved for backward: the per-channel scale when x needs a gradient, and the input
    with mean and inv_std only when gamma does: with gamma frozen (fine-tuning) nothing
    of the input's size is kept, where BatchNorm keeps x_hat.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, running_mean, running_var, eps):
        if x.size == 0:
            return _empty_batch(ctx, x)
        xp = get_array_module(x)
        need_x, need_w, _ = ctx.needs_input_grad
        shape = _channel_shape(x)
        mean = running_mean.reshape(shape).astype(x.dtype)   # copies: the buffers may move
        inv_std = 1 / xp.sqrt(running_var.reshape(shape).astype(x.dtype) + eps)
        scale = inv_std if weight is None else _channel_layout(x, weight) * inv_std
        shift = -mean * scale
        if bias is not None:
            shift += _channel_layout(x, bias)
        ctx.save_for_backward(x if need_w else None, mean if need_w else None,
                              inv_std if need_w else None, scale if need_x else None)
        out = x * scale
        out += shift
        return out

    @staticmethod
    def backward(ctx, grad):
        """y = x (gamma s) + (beta - mu gamma s) with mu and s = 1/sqrt(var + eps) fixed,
        so per channel (the sums over every other axis)
            dx = g gamma s,   dgamma = sum g (x - mu) s = sum g x_hat,   dbeta = sum g.
        """
        if grad.size == 0:
            return _empty_batch_gradients(ctx, grad)
        need_x, need_w, need_b = ctx.needs_input_grad
        x, mean, inv_std, scale = ctx.saved_tensors
        xp = get_array_module(grad)
        return (grad * scale if need_x else None,
                _channel_dot(xp, grad, x - mean) * inv_std.reshape(-1) if need_w else None,
                grad.sum(axis=_reduce_axes(grad)) if need_b else None)

    @staticmethod
    def cost(ctx, inputs, outputs):
        """FLOPs per element of the input (n elements): forward 2 (x scale + shift);
        backward dx 1, dbeta 1, dgamma 3 (centre, product, sum)."""
        n = inputs[0].size
        need_x, need_w, need_b = ctx.needs_input_grad
        return Cost(forward_flops=2 * n, backward_input_flops=n * need_x,
                    backward_weight_flops=n * (3 * need_w + need_b))


class SyncBatchNorm(BatchNorm):
    """Batch norm in training with the statistics of the whole data-parallel batch: the
    union of every rank's batch (``nn.SyncBatchNorm``). Forward all-reduces the
    per-channel sums and count, then the sums of squared deviations (two passes, as
    BatchNorm's own); backward all-reduces the two sums that dx needs, sum(g) and
    sum(g x_hat). dgamma and dbeta stay this rank's shares: DistributedDataParallel
    adds the ranks' shares like any other gradient. So each rank's dx is the gradient
    of the sum of every rank's loss, as on one process with the whole batch."""

    @staticmethod
    def forward(ctx, x, weight, bias, *, running_mean, running_var, momentum, eps, group):
        return _normalize_with_batch_stats(ctx, x, weight, bias, running_mean, running_var,
                                           momentum, eps, group)

    @staticmethod
    def backward(ctx, grad):
        """BatchNorm's gradient with m, sum(g) and sum(g x_hat) taken over every rank's
        values (the loss being the sum of the ranks' losses):
            dx_i = gamma s (g_i - sum_all(g)/m - x_hat_i sum_all(g x_hat)/m),
        while dgamma = sum(g x_hat) and dbeta = sum(g) over this rank's values only.
        """
        return BatchNorm.backward(ctx, grad)


def _check_batch_norm_vectors(op, input, running_mean, running_var, weight, bias):
    for name, vector in (('running_mean', running_mean), ('running_var', running_var),
                         ('weight', weight), ('bias', bias)):
        _check_channel_vector(op, name, vector, input)


def sync_batch_norm(input, running_mean, running_var, weight, bias, momentum, eps, group):
    """Training-mode batch norm over the union of the batches of every rank of ``group``
    (a ``minidl.distributed`` process group); the same checks as ``batch_norm``.
    minidl's own function: PyTorch keeps this inside ``nn.SyncBatchNorm``."""
    op = 'sync_batch_norm'
    check_tensor(input, op)
    if input.ndim < 2:
        raise ValueError(f'{op}: expected an input of 2 or more dimensions (N, C, ...), '
                         f'got shape {tuple(input.shape)}')
    _check_batch_norm_vectors(op, input, running_mean, running_var, weight, bias)
    return SyncBatchNorm.apply(input, weight, bias, running_mean=raw(running_mean),
                               running_var=raw(running_var), momentum=momentum, eps=eps,
                               group=group)


def _move_towards(running, batch_stat, momentum):
    """running <- (1 - momentum) * running + momentum * batch_stat, in place."""
    running *= 1 - momentum
    running += momentum * batch_stat.astype(running.dtype, copy=False)


def _check_channel_vector(op, name, vector, x):
    if vector is None:
        return
    check_tensor(vector, op, name)
    channels = x.shape[1]
    if vector.ndim != 1 or vector.shape[0] != channels:
        raise ValueError(f'{op}: input has {channels} channels (input {tuple(x.shape)}), '
                         f'{name} has shape {tuple(vector.shape)}; expected ({channels},)')
    # PyTorch's rule: one dtype for all, except float16 input with float32 parameters
    if vector.dtype != x.dtype and not (x.dtype == np.float16 and vector.dtype == np.float32):
        raise TypeError(f'{op}: input is {x.dtype} but {name} is {vector.dtype}; all must '
                        f'share a dtype (convert the input, or the module with .to(dtype))')
    if vector.device != x.device:   # the running statistics travel as raw arrays
        raise RuntimeError(f'{op}: expected all tensors on the same device, got input on '
                           f'{x.device} and {name} on {vector.device}')


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation over dimension 1 of an (N, C, ...) input (Ioffe & Szegedy, 2015).

    ``training=True`` normalises with the batch's statistics (biased variance) and, when
    ``running_mean``/``running_var`` are given, updates their ``.data`` in place:
    ``running = (1 - momentum) * running + momentum * batch_stat``, the variance's batch
    statistic being the unbiased one. ``training=False`` normalises with the running
    statistics. ``momentum`` is a number here (any, as in PyTorch); ``momentum=None`` (a
    cumulative average) is the module's business: ``nn.BatchNorm`` passes
    1 / num_batches_tracked. An empty batch gives an empty result and leaves the running
    statistics as they are.
    Note that PyTorch's momentum is the weight of the *new* batch: PyTorch's 0.1 is
    Keras's momentum=0.9.
    """
    op = 'batch_norm'
    check_tensor(input, op)
    if input.dtype.kind != 'f':
        raise TypeError(f'{op}: expected a floating-point input, got {input.dtype}')
    if input.ndim < 2:
        raise ValueError(f'{op}: expected an input of 2 or more dimensions (N, C, ...), '
                         f'got shape {tuple(input.shape)}')
    if (running_mean is None) != (running_var is None):
        raise ValueError(f'{op}: running_mean and running_var must be given together '
                         f'(got {"running_var" if running_mean is None else "running_mean"} only)')
    if not training and running_mean is None:
        raise ValueError(f'{op}: running_mean and running_var are needed when training=False')
    _check_batch_norm_vectors(op, input, running_mean, running_var, weight, bias)
    if training:
        if math.prod(input.shape[:1] + input.shape[2:]) == 1:
            raise ValueError(f'{op}: Expected more than 1 value per channel when training, '
                             f'got input size {tuple(input.shape)}')
        if eps <= 0:
            raise ValueError(f'{op}: eps must be positive during training, but got {eps}')
        if momentum is None:
            raise ValueError(f'{op}: momentum must be a number, got None (momentum=None, a '
                             f'cumulative average, is handled by nn.BatchNorm)')
    elif eps < 0:
        raise ValueError(f'{op}: eps must be non-negative, but got {eps}')
    statistics = dict(running_mean=raw(running_mean), running_var=raw(running_var), eps=eps)
    if training:
        return BatchNorm.apply(input, weight, bias, momentum=momentum, **statistics)
    return FixedBatchNorm.apply(input, weight, bias, **statistics)


class LocalResponseNorm(Function):
    """b_c = a_c / S_c^beta with S_c = k + alpha/size * sum_{c' in W(c)} a_{c'}^2,
    W(c) = [c - size//2, c + (size-1)//2] clipped to the channels (zero padding).

    Saved for backward: the input a and the denominator's base S (two arrays of the
    input's size); S^beta is recomputed rather than kept.
    """

    @staticmethod
    def forward(ctx, x, *, size, alpha, beta, k):
        xp = get_array_module(x)
        ctx.size, ctx.alpha, ctx.beta = size, alpha, beta
        if cuda_kernels_enabled(xp):
            out, scale = lrn_cuda(x, size, alpha, beta, k)
            if ctx.needs_input_grad[0]:
                ctx.save_for_backward(x, scale)
            return out
        flat = x.reshape(x.shape[0], x.shape[1], -1)     # (N, C, everything else)
        window_sum = _window_sum(xp, flat * flat, size // 2, (size - 1) // 2)
        scale = window_sum
        scale *= alpha / size
        scale += k
        out = flat / scale ** beta
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(x, scale.reshape(x.shape))
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        """b_j = a_j S_j^-beta and dS_j/da_c = 2 alpha/size a_c when c is in W(j), so
            db/da: dL/da_c = g_c S_c^-beta
                           - 2 alpha beta/size a_c sum_{j: c in W(j)} g_j a_j S_j^(-beta-1).
        The first is the direct term; the second, the cross-channel one, sums over the
        outputs whose window holds c: j in [c - (size-1)//2, c + size//2], the mirror
        of the forward window.
        """
        x, scale = ctx.saved_tensors
        xp = get_array_module(grad)
        size, alpha, beta = ctx.size, ctx.alpha, ctx.beta
        if cuda_kernels_enabled(xp):
            return lrn_backward_cuda(grad, x, scale, size, alpha, beta)
        shape = x.shape
        a = x.reshape(shape[0], shape[1], -1)
        s = scale.reshape(a.shape)
        g = grad.reshape(a.shape)
        s_beta = s ** beta
        direct = g / s_beta
        t = direct * a
        t /= s                                          # g_j a_j S_j^(-beta-1)
        cross = _window_sum(xp, t, (size - 1) // 2, size // 2)
        cross *= a
        cross *= 2 * alpha * beta / size
        return (direct - cross).reshape(shape)

    @staticmethod
    def cost(ctx, inputs, outputs):
        """Per element, forward: square 1, window sum size-1, alpha and k 2, power 1,
        divide 1; backward: power 1, g/S^beta 1, times a and over S 2, window sum size-1,
        times a and the constant 2, subtract 1."""
        n = inputs[0].size
        size = ctx.size
        return Cost(forward_flops=n * (size + 4),
                    backward_input_flops=n * (size + 6) if ctx.needs_input_grad[0] else 0)


def _window_sum(xp, values, before, after):
    """out[:, c] = sum of values[:, c - before : c + after + 1] along axis 1, zero padded.

    One shifted slice per window offset (a loop over the window, never over pixels);
    no cumulative sum, whose differences would cancel badly in float32.
    """
    channels = values.shape[1]
    padded = xp.zeros((values.shape[0], channels + before + after) + values.shape[2:],
                      dtype=values.dtype)
    padded[:, before:before + channels] = values
    out = padded[:, 0:channels].copy()
    for offset in range(1, before + after + 1):
        out += padded[:, offset:offset + channels]
    return out


# ---------------------------------------------------------------- LRN on a GPU

# LRN on (N, C, spatial): S_c = k + alpha/size * sum_{c' = c-before}^{c+after} a_c'^2
# (channels outside [0, C) count as 0), b_c = a_c / S_c^beta.
_LRN_FORWARD_KERNEL = ('ElementwiseKernel', 'lrn_forward',
    'T a, raw T img, int32 C, int32 spatial, int32 before, int32 after, '
    'T alpha_over_size, T beta, T k',
    'T out, T scale',
    '''
    const int c = (i / spatial) % C;
    const long long first = i - (long long)c * spatial;   // channel 0 of this (n, s)
    T total = 0;
    const int lo = max(c - before, 0), hi = min(c + after, C - 1);
    for (int cc = lo; cc <= hi; ++cc) {
        const T v = img[first + (long long)cc * spatial];
        total += v * v;
    }
    const T s = total * alpha_over_size + k;
    scale = s;
    out = a / pow(s, beta);
    ''')

# LRN backward, step 1: t_j = g_j a_j S_j^(-beta-1).
_LRN_BACKWARD_TERM_KERNEL = ('ElementwiseKernel', 'lrn_backward_term',
    'T g, T a, T s, T beta',
    'T t',
    't = g / pow(s, beta) * a / s;')

# LRN backward, step 2: dL/da_c = g_c S_c^-beta - 2 alpha beta/size a_c sum_j t_j over
# the outputs j whose window holds c, j in [c - (size-1)//2, c + size//2].
_LRN_BACKWARD_KERNEL = ('ElementwiseKernel', 'lrn_backward',
    'T g, T a, T s, raw T t, int32 C, int32 spatial, int32 before, int32 after, '
    'T beta, T coef',
    'T dx',
    '''
    const int c = (i / spatial) % C;
    const long long first = i - (long long)c * spatial;
    T cross = 0;
    const int lo = max(c - before, 0), hi = min(c + after, C - 1);
    for (int cc = lo; cc <= hi; ++cc) cross += t[first + (long long)cc * spatial];
    dx = g / pow(s, beta) - cross * a * coef;
    ''')


def lrn_cuda(x, size, alpha, beta, k):
    """local_response_norm's forward on an (N, C, ...) input: the output and the
    denominator's base S = k + alpha/size * (window sum of squares), both x's shape."""
    xp = get_array_module(x)
    x = xp.ascontiguousarray(x)
    t = x.dtype.type
    spatial = x.size // (x.shape[0] * x.shape[1])
    out = xp.empty_like(x)
    scale = xp.empty_like(x)
    cuda_kernel(*_LRN_FORWARD_KERNEL)(x, x, x.shape[1], spatial, size // 2, (size - 1) // 2,
                           t(alpha / size), t(beta), t(k), out, scale)
    return out, scale


def lrn_backward_cuda(grad, x, scale, size, alpha, beta):
    """local_response_norm's input gradient from the saved input ``x`` and base
    ``scale`` (lrn_forward's second output); the cross-channel sum runs over the mirror
    window [c - (size-1)//2, c + size//2]."""
    xp = get_array_module(grad)
    grad, x, scale = (xp.ascontiguousarray(a) for a in (grad, x, scale))
    t = x.dtype.type
    spatial = x.size // (x.shape[0] * x.shape[1])
    term = cuda_kernel(*_LRN_BACKWARD_TERM_KERNEL)(grad, x, scale, t(beta))
    dx = xp.empty_like(x)
    cuda_kernel(*_LRN_BACKWARD_KERNEL)(grad, x, scale, term, x.shape[1], spatial, (size - 1) // 2,
                            size // 2, t(beta), t(2 * alpha * beta / size), dx)
    return dx


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Local response normalisation across channels, PyTorch's definition:

        b_c = a_c / (k + alpha/size * sum_{c'=c-size//2}^{c+(size-1)//2} a_{c'}^2)^beta

    for (N, C, ...) inputs of 3 or more dimensions, zero padded across channels.

    AlexNet (Krizhevsky et al., 2012) writes the same with alpha *not* divided by the
    window size n, and uses k=2, n=5, alpha=1e-4, beta=0.75. With PyTorch's (and
    minidl's) alpha_pytorch = n * alpha_paper, the paper's layer is
    ``LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2)``.
    """
    op = 'local_response_norm'
    check_tensor(input, op)
    if input.dtype.kind != 'f':
        raise TypeError(f'{op}: expected a floating-point input, got {input.dtype}')
    if input.ndim < 3:
        raise ValueError(f'{op}: Expected 3D or higher dimensionality input (got {input.ndim} '
                         f'dimensions, shape {tuple(input.shape)})')
    if not isinstance(size, int) or size < 1:
        raise ValueError(f'{op}: size must be a positive int, got {size!r}')
    if input.numel() == 0:
        return input
    return LocalResponseNorm.apply(input, size=size, alpha=alpha, beta=beta, k=k)

"""Pooling: max_pool2d, avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d.

A pooling window at output (y, x) covers the padded-input pixels
(y*sh + i*dh, x*sw + j*dw) for kernel offsets (i, j). For one fixed offset those pixels,
over all outputs, form a strided slice of the padded input, so a pooling forward is
kh*kw whole-array passes (a running max or a running sum), one per kernel offset -
never a loop over pixels. The inputs are 4-D (N, C, H, W); an unbatched (C, H, W) input
is run as a batch of one, as PyTorch accepts it.

The window geometry (output size with PyTorch's ceil_mode rule, padding, the strided
view of the windows, argument checks) is convolution's too: _window.py.
"""
import numpy as np

from ..autograd import ArrayFunction as Function, Cost
from ..backend import (BYTES_PER_BLOCK, cuda_kernel, cuda_kernels_enabled, get_array_module,
                       grain, parallel_for)
from ._util import check_tensor, scatter_add, with_batch_dim
from ._window import (WINDOW_PARAMS, output_size, padded, padded_size, pair, reach, span,
                      window_args, windows, windows_reading_pixel)

__all__ = ['max_pool2d', 'avg_pool2d', 'adaptive_avg_pool2d', 'adaptive_max_pool2d',
           'pool_output_size']


pool_output_size = output_size   # public since before _window.py; the same function


def _offset_views(buf, conf):
    """What each kernel offset sees in every window of ``buf``: views (N, C, Ho, Wo),
    offset k = i*kw + j in row-major order."""
    kh, kw = conf['kernel']
    seen = windows(buf, conf['kernel'], conf['stride'], conf['dilation'], conf['out'])
    return [seen[:, :, k // kw, k % kw] for k in range(kh * kw)]


# ---------------------------------------------------------------- max_pool2d

def _running_max(xp, buf, conf, has_nan):
    """The running max over the kernel offsets of the windows of ``buf``, and ``arg``:
    the offset k = i*kw + j where it was found. Strict '>' keeps the first max on ties;
    a NaN always wins (PyTorch's CPU rule); the NaN check per offset runs only when
    ``has_nan``."""
    kh, kw = conf['kernel']
    views = _offset_views(buf, conf)
    best = views[0].copy()
    arg = xp.zeros(best.shape, dtype=np.uint8 if kh * kw <= 256 else np.int32)
    better = xp.empty(best.shape, dtype=bool)   # scratch buffers shared by every offset
    mask, flip = xp.empty_like(arg), xp.empty_like(arg)
    for k, seen in enumerate(views[1:], start=1):
        xp.greater(seen, best, out=better)
        if has_nan:
            better |= xp.isnan(seen)
            xp.copyto(best, seen, where=better)
            xp.copyto(arg, k, where=better)
            continue
        # Without NaNs the max is np.maximum, and arg = where(better, k, arg) is done
        # branch-free, arg ^= (arg ^ k) & mask with mask all ones where better: masked
        # copies of random masks run ~25x slower than these plain passes.
        xp.maximum(best, seen, out=best)
        xp.subtract(0, better, out=mask, dtype=mask.dtype)  # 0 or all ones (wraps)
        xp.bitwise_xor(arg, k, out=flip)
        flip &= mask
        arg ^= flip
    return best, arg


# the same on a GPU: one kernel for the forward, one (gathering) for the backward

# Running max over the kernel offsets k = ki*kw + j of one window's real pixels (the
# padding is skipped, never picked). Strict '>' keeps the first max on ties, a NaN
# always wins (PyTorch's rule).
_MAX_POOL2D_FORWARD_KERNEL = ('ElementwiseKernel', 'max_pool2d_forward',
    'raw T img, T neg_inf, ' + WINDOW_PARAMS,
    'T out, S arg',
    '''
    const int x = i % Wo;
    const int y = (i / Wo) % Ho;
    const long long plane = (long long)(i / ((long long)Ho * Wo)) * H * W;
    T best = neg_inf;
    int best_k = -1;  // the padding is never picked: the first real pixel starts
    for (int k = 0; k < kh * kw; ++k) {
        const int row = y * sh - ph + (k / kw) * dh;
        const int column = x * sw - pw + (k % kw) * dw;
        if (row < 0 || row >= H || column < 0 || column >= W) continue;
        const T seen = img[plane + (long long)row * W + column];
        if (best_k < 0 || seen > best || isnan(seen)) {
            best = seen;
            best_k = k;
        }
    }
    out = best;
    arg = best_k;
    ''')

# Gathered max-pool backward: pixel (h, w) collects the gradient of every window
# that covers it and whose saved argmax is this pixel's offset in that window.
_MAX_POOL2D_BACKWARD_KERNEL = ('ElementwiseKernel', 'max_pool2d_backward',
    'raw T grad, raw S arg, ' + WINDOW_PARAMS,
    'T dx',
    '''
    const int w = i % W;
    const long long plane = i / ((long long)H * W);
    const int h = (i / W) % H;
    T total = 0;''' + windows_reading_pixel('''
            const long long o = (plane * Ho + y) * Wo + x;
            if ((int)arg[o] == ki * kw + j) total += grad[o];''') + '''
    dx = total;
    ''')


def max_pool2d_cuda(x, kernel, stride, padding, dilation, out_size):
    """The max of each window of an NCHW input and its kernel offset k = i*kw + j
    (uint8 when kh*kw <= 256, else int32), as pooling.MaxPool2d.forward computes them:
    padding and ceil_mode's overhang are never picked, the first max wins ties, NaN wins."""
    xp = get_array_module(x)
    x = xp.ascontiguousarray(x)
    n, c, h, w = x.shape
    (kh, kw), (ho, wo) = kernel, out_size
    best = xp.empty((n, c, ho, wo), dtype=x.dtype)
    arg = xp.empty((n, c, ho, wo), dtype=np.uint8 if kh * kw <= 256 else np.int32)
    cuda_kernel(*_MAX_POOL2D_FORWARD_KERNEL)(x, x.dtype.type(-np.inf),
                                  *window_args((h, w), out_size, kernel, stride, padding,
                                                dilation), best, arg)
    return best, arg


def max_pool2d_backward_cuda(grad, arg, input_shape, kernel, stride, padding, dilation):
    """The (N, C, H, W) input gradient of max pooling: every pixel gathers the output
    gradients of the windows whose argmax ``arg`` (from max_pool2d_forward) it is."""
    xp = get_array_module(grad)
    grad = xp.ascontiguousarray(grad)
    arg = xp.ascontiguousarray(arg)
    n, c, h, w = input_shape
    dx = xp.empty((n, c, h, w), dtype=grad.dtype)
    geometry = window_args((h, w), grad.shape[2:], kernel, stride, padding, dilation)
    cuda_kernel(*_MAX_POOL2D_BACKWARD_KERNEL)(grad, arg, *geometry, dx)
    return dx


def _first_real_pixel_where_padding_won(xp, arg, conf, size):
    """The padding is -inf, so the running max can settle on it only in a window whose
    real pixels are all -inf too (and begin after some padding). PyTorch never picks
    padding: such a window takes its first real pixel (the value, -inf, is the same;
    the index and the gradient's route change)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = (conf['kernel'], conf['stride'],
                                                        conf['padding'], conf['dilation'],
                                                        conf['out'])
    h, w = size
    rows = np.arange(ho)[:, None] * sh - ph + np.arange(kh) * dh          # (Hout, kh)
    cols = np.arange(wo)[:, None] * sw - pw + np.arange(kw) * dw          # (Wout, kw)
    row_real, col_real = (rows >= 0) & (rows < h), (cols >= 0) & (cols < w)
    # real[y, x, i*kw + j]: offset (i, j) of window (y, x) lies on the input
    real = xp.asarray((row_real[:, None, :, None] & col_real[None, :, None, :])
                      .reshape(ho, wo, kh * kw))
    first_real = real.argmax(axis=-1).astype(arg.dtype)  # every window has a real pixel
    picked_real = real[xp.arange(ho)[:, None], xp.arange(wo), arg]
    return xp.where(picked_real, arg, first_real)


class MaxPool2d(Function):
    @staticmethod
    def forward(ctx, x, *, kernel, stride, padding, dilation, out_size, return_indices):
        xp = get_array_module(x)
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_size
        conf = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation, out=out_size)
        extent = reach(kernel, stride, dilation, out_size)
        # one kernel: the window max and its offset. Changed since the GPU session (the
        # padding is skipped, never picked): untested on a GPU until then
        if cuda_kernels_enabled(xp, tested=False):
            best, arg = max_pool2d_cuda(x, kernel, stride, padding, dilation, out_size)
            buffer_shape = padded_size((h, w), padding, extent)
        else:
            buf = padded(x, padding, -np.inf, extent)
            best, arg = _running_max(xp, buf, conf, has_nan=bool(xp.isnan(x).any()))
            if buf is not x and bool(xp.isneginf(x).any()):
                arg = _first_real_pixel_where_padding_won(xp, arg, conf, (h, w))
            buffer_shape = buf.shape[2:]
        ctx.conf = conf
        ctx.shape = x.shape
        ctx.buffer_shape = buffer_shape
        ctx.save_for_backward(arg)
        if not return_indices:
            return best
        # PyTorch's indices: flat positions y*W + x in the unpadded input plane
        k = arg.astype(np.int64)
        rows = (xp.arange(ho, dtype=np.int64) * sh - padding[0]).reshape(ho, 1) + (k // kw) * dh
        cols = (xp.arange(wo, dtype=np.int64) * sw - padding[1]) + (k % kw) * dw
        return best, rows * w + cols

    @staticmethod
    def backward(ctx, grad, grad_indices=None):
        """y = x[m] with m the position of the window's max, so dy/dx = 1 at m and 0
        elsewhere: each output gradient is routed to its argmax. Windows overlap when
        stride < kernel, so one pixel may collect several gradients: a scatter-ADD of the
        upstream gradients at the saved flat positions (into the padded plane, whose
        padding is then cropped away)."""
        (arg,) = ctx.saved_tensors
        xp = get_array_module(grad)
        conf = ctx.conf
        if cuda_kernels_enabled(xp):  # gathered: every pixel sums the windows it won
            dx = max_pool2d_backward_cuda(grad, arg, ctx.shape, conf['kernel'], conf['stride'],
                                          conf['padding'], conf['dilation'])
            return dx
        n, c, h, w = ctx.shape
        hb, wb = ctx.buffer_shape
        (kh, kw), (sh, sw), (dh, dw), (ho, wo) = (conf['kernel'], conf['stride'],
                                                  conf['dilation'], conf['out'])
        (ph, pw) = conf['padding']
        # flat position in the padded plane: window origin + offset of the chosen pixel
        origin = (xp.arange(ho) * (sh * wb)).reshape(ho, 1) + xp.arange(wo) * sw
        offsets = xp.asarray([(k // kw) * dh * wb + (k % kw) * dw for k in range(kh * kw)])
        planes = (xp.arange(n * c) * (hb * wb)).reshape(n, c, 1, 1)
        index = (planes + origin + offsets[arg]).reshape(-1)
        dx = xp.zeros(n * c * hb * wb, dtype=grad.dtype)
        if sh >= dh * (kh - 1) + 1 and sw >= dw * (kw - 1) + 1:
            dx[index] = grad.reshape(-1)  # windows do not overlap: every index is distinct
        else:
            scatter_add(dx, index, grad.reshape(-1))
        dx = dx.reshape(n, c, hb, wb)
        if (hb, wb) != (h, w):
            dx = xp.ascontiguousarray(dx[:, :, ph:ph + h, pw:pw + w])
        return dx

    @staticmethod
    def cost(ctx, inputs, outputs):
        """One comparison per window element forward; one add per output backward."""
        kh, kw = ctx.conf['kernel']
        size = int(outputs[0].size)
        return Cost(forward_flops=size * kh * kw,
                    backward_input_flops=size if ctx.needs_input_grad[0] else 0)


# ---------------------------------------------------------------- avg_pool2d

def _avg_divisor(size, kernel, stride, padding, out, count_include_pad):
    """Per-output window sizes along one dimension, PyTorch's formula: the window
    [start, end) is clipped to the padded input (ceil_mode's extra window may stick out
    of it); with count_include_pad it counts padding, otherwise only input pixels."""
    start = np.arange(out) * stride - padding
    end = np.minimum(start + kernel, size + padding)
    if count_include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


class AvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, *, kernel, stride, padding, out_size, divisor):
        xp = get_array_module(x)
        n, c = x.shape[:2]
        ho, wo = out_size
        conf = dict(kernel=kernel, stride=stride, padding=padding, dilation=(1, 1), out=out_size)
        extent = reach(kernel, stride, (1, 1), out_size)
        if not isinstance(divisor, (int, float)):
            divisor = xp.asarray(divisor, dtype=x.dtype)
        total = xp.empty((n, c, ho, wo), dtype=x.dtype)

        def images(start, stop):  # a block of images on minidl's threads (parallel_for)
            views = _offset_views(padded(x[start:stop], padding, 0, extent), conf)
            block = total[start:stop]
            block[...] = views[0]
            for seen in views[1:]:
                block += seen
            block /= divisor

        parallel_for(xp, n, grain(n, BYTES_PER_BLOCK * max(n, 1) // max(x.nbytes, 1)), images)
        ctx.conf, ctx.shape, ctx.divisor = conf, x.shape, divisor
        ctx.buffer_shape = padded_size(x.shape[2:], padding, extent)   # padded's
        return total

    @staticmethod
    def backward(ctx, grad):
        """y = (1/D) sum_{window} x, so dy/dx = 1/D for each pixel of the window: the
        gradient g/D is added to every window pixel - kh*kw strided slice-adds into the
        zero-padded plane (overlapping windows add up), then the padding is cropped."""
        xp = get_array_module(grad)
        conf = ctx.conf
        n, c, h, w = ctx.shape
        ph, pw = conf['padding']
        grad_x = xp.empty(ctx.shape, dtype=grad.dtype)

        cropped = tuple(ctx.buffer_shape) != (h, w)   # else the sums go straight into dL/dx

        def images(start, stop):  # a block of images on minidl's threads (parallel_for)
            share = grad[start:stop] / ctx.divisor
            if cropped:
                dx = xp.zeros((stop - start, c) + tuple(ctx.buffer_shape), dtype=grad.dtype)
            else:
                dx = grad_x[start:stop]
                dx[...] = 0
            for seen in _offset_views(dx, conf):
                seen += share
            if cropped:
                grad_x[start:stop] = dx[:, :, ph:ph + h, pw:pw + w]

        parallel_for(xp, n, grain(n, BYTES_PER_BLOCK * max(n, 1) // max(grad_x.nbytes, 1)),
                     images)
        return grad_x

    @staticmethod
    def cost(ctx, inputs, outputs):
        """Forward: kh*kw - 1 adds and 1 divide per output = kh*kw FLOPs per output.
        Backward: 1 divide and kh*kw adds per output."""
        kh, kw = ctx.conf['kernel']
        size = int(outputs[0].size)
        return Cost(forward_flops=size * kh * kw,
                    backward_input_flops=size * (kh * kw + 1) if ctx.needs_input_grad[0] else 0)


# ---------------------------------------------------------------- adaptive pooling

def _adaptive_windows(size, out):
    """PyTorch's adaptive windows: [floor(i*size/out), ceil((i+1)*size/out)), i < out."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def _averaging_matrix(size, out, dtype):
    """A (out, size) matrix whose row i averages window i: 1/len on [start, end)."""
    start, end = _adaptive_windows(size, out)
    pos = np.arange(size)
    inside = (pos >= start[:, None]) & (pos < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


class AdaptiveAvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, *, out_size):
        xp = get_array_module(x)
        n, c, h, w = x.shape
        oh, ow = out_size
        ctx.shape, ctx.out = x.shape, out_size
        if (oh, ow) == (1, 1):
            ctx.mode = 'global'  # the global mean (ResNet's head)
            return x.mean(axis=(2, 3), keepdims=True)
        if h % oh == 0 and w % ow == 0:
            ctx.mode = 'tiles'   # equal, non-overlapping windows: reshape and average
            return x.reshape(n, c, oh, h // oh, ow, w // ow).mean(axis=(3, 5))
        # general windows (they may overlap and differ in size): averaging is separable,
        # out = A_h @ x @ A_w^T with A's rows averaging each window
        ctx.mode = 'matrix'
        a_h = xp.asarray(_averaging_matrix(h, oh, x.dtype))
        a_w = xp.asarray(_averaging_matrix(w, ow, x.dtype))
        ctx.a_h, ctx.a_w = a_h, a_w  # attributes, so the profiler counts their bytes
        return xp.matmul(a_h, xp.matmul(x, a_w.T))

    @staticmethod
    def backward(ctx, grad):
        """Each output is the mean of its window: dy/dx = 1/|window| on the window.
        global: dL/dx = g / (H*W) everywhere. tiles: g / (kh*kw) spread over each tile.
        matrix: y = A_h x A_w^T is linear, so dL/dx = A_h^T G A_w."""
        xp = get_array_module(grad)
        n, c, h, w = ctx.shape
        oh, ow = ctx.out
        if ctx.mode == 'global':
            dx = xp.empty(ctx.shape, dtype=grad.dtype)
            dx[...] = grad / (h * w)
        elif ctx.mode == 'tiles':
            kh, kw = h // oh, w // ow
            dx = xp.empty((n, c, oh, kh, ow, kw), dtype=grad.dtype)
            dx[...] = (grad / (kh * kw)).reshape(n, c, oh, 1, ow, 1)
            dx = dx.reshape(ctx.shape)
        else:
            a_h, a_w = ctx.a_h, ctx.a_w
            dx = xp.matmul(a_h.T, xp.matmul(grad, a_w))
        return dx

    @staticmethod
    def cost(ctx, inputs, outputs):
        """Each output adds its window's elements and divides once: sum of window sizes
        FLOPs forward (= N*C*sum_i len_i * sum_j len_j); backward the same count."""
        n, c, h, w = ctx.shape
        oh, ow = ctx.out
        sh, eh = _adaptive_windows(h, oh)
        sw, ew = _adaptive_windows(w, ow)
        flops = n * c * int((eh - sh).sum()) * int((ew - sw).sum())
        return Cost(forward_flops=flops,
                    backward_input_flops=flops if ctx.needs_input_grad[0] else 0)


class AdaptiveMaxPool2d(Function):
    @staticmethod
    def forward(ctx, x, *, out_size, return_indices):
        xp = get_array_module(x)
        n, c, h, w = x.shape
        oh, ow = out_size
        # pixel rows of each window, padded to the longest window by repeating its last
        # row (a repeat comes after the original, so the first max is still a real one)
        rows, cols = [], []
        for size, out, picks in ((h, oh, rows), (w, ow, cols)):
            start, end = _adaptive_windows(size, out)
            longest = int((end - start).max())
            picks.append(np.minimum(start[:, None] + np.arange(longest), end[:, None] - 1))
        rows, cols = xp.asarray(rows[0]), xp.asarray(cols[0])
        kh, kw = rows.shape[1], cols.shape[1]
        # windows[n, c, y, x, i, j] = x[n, c, rows[y, i], cols[x, j]]  (a gather, one copy)
        windows = x[:, :, rows[:, None, :, None], cols[None, :, None, :]]
        flat = windows.reshape(n, c, oh, ow, kh * kw)
        arg = flat.argmax(axis=-1)  # first max in row-major window order, as PyTorch
        best = xp.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
        index = rows[xp.arange(oh)[:, None], arg // kw] * w + cols[xp.arange(ow), arg % kw]
        index = index.astype(np.int64)
        ctx.shape = x.shape
        ctx.save_for_backward(index)
        return (best, index) if return_indices else best

    @staticmethod
    def backward(ctx, grad, grad_indices=None):
        """y = x[m] (m the window's argmax): each output gradient is scatter-added to its
        argmax pixel; adaptive windows may overlap, so repeated pixels add up."""
        (index,) = ctx.saved_tensors
        xp = get_array_module(grad)
        n, c, h, w = ctx.shape
        flat = (index + (xp.arange(n * c) * (h * w)).reshape(n, c, 1, 1)).reshape(-1)
        dx = xp.zeros(n * c * h * w, dtype=grad.dtype)
        scatter_add(dx, flat, grad.reshape(-1))
        return dx.reshape(ctx.shape)

    @staticmethod
    def cost(ctx, inputs, outputs):
        """One comparison per window element forward; one add per output backward."""
        n, c, h, w = ctx.shape
        oh, ow = outputs[0].shape[2:]
        sh, eh = _adaptive_windows(h, oh)
        sw, ew = _adaptive_windows(w, ow)
        size = int(outputs[0].size)
        return Cost(forward_flops=n * c * int((eh - sh).sum()) * int((ew - sw).sum()),
                    backward_input_flops=size if ctx.needs_input_grad[0] else 0)


# ---------------------------------------------------------------- the public functions

def _is_unbatched(input, op):
    """True for a (C, H, W) input (the public functions then run it as one sample);
    False for (N, C, H, W); an error otherwise."""
    check_tensor(input, op)
    if input.ndim not in (3, 4):
        raise ValueError(f'{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got '
                         f'shape {input.shape}')
    if input.dtype.kind != 'f':
        raise TypeError(f'{op}: expected a floating-point input, got {input.dtype}')
    return input.ndim == 3


def _pool_geometry(op, input, kernel_size, stride, padding, dilation, ceil_mode):
    """Checked (kernel, stride, padding, dilation, output size) pairs."""
    kernel = pair(kernel_size, 'kernel_size', op, minimum=1)
    no_stride = stride is None or stride == [] or stride == ()  # PyTorch: default to kernel
    stride = kernel if no_stride else pair(stride, 'stride', op, minimum=1)
    padding = pair(padding, 'padding', op, minimum=0)
    dilation = pair(dilation, 'dilation', op, minimum=1)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f'{op}: padding should be at most half of the kernel size, '
                         f'got padding {padding}, kernel_size {kernel}, dilation {dilation}')
    out = output_size(input.shape[2:], kernel, stride, padding, dilation, ceil_mode)
    if min(out) < 1:
        raise ValueError(f'{op}: kernel {kernel} (spanning {span(kernel, dilation)}) is larger '
                         f'than the padded input {padded_size(input.shape[2:], padding)} '
                         f'(input {input.shape}, padding {padding}): output size {out}')
    return kernel, stride, padding, dilation, out


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """The max of each kernel_size window (stride defaults to kernel_size; padding counts
    as -inf). With ``return_indices`` also returns the int64 flat index y*W + x of each
    max in its (unpadded) input plane, as PyTorch does (for max_unpool2d)."""
    op = 'max_pool2d'
    if _is_unbatched(input, op):
        return with_batch_dim(max_pool2d, input, kernel_size, stride, padding, dilation,
                              ceil_mode, return_indices)
    kernel, stride, padding, dilation, out = _pool_geometry(op, input, kernel_size, stride,
                                                            padding, dilation, ceil_mode)
    return MaxPool2d.apply(input, kernel=kernel, stride=stride, padding=padding,
                           dilation=dilation, out_size=out, return_indices=bool(return_indices))


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """The mean of each kernel_size window (stride defaults to kernel_size; padding is 0).

    Divisor (PyTorch's rule): ``divisor_override`` when given; else the window's size
    clipped to the padded input (ceil_mode's last window may stick out of it) when
    ``count_include_pad``; else the number of input pixels in the window."""
    op = 'avg_pool2d'
    if _is_unbatched(input, op):
        return with_batch_dim(avg_pool2d, input, kernel_size, stride, padding, ceil_mode,
                              count_include_pad, divisor_override)
    kernel, stride, padding, _, out = _pool_geometry(op, input, kernel_size, stride, padding,
                                                     1, ceil_mode)
    if divisor_override is not None:
        if not isinstance(divisor_override, int) or divisor_override == 0:
            raise ValueError(f'{op}: divisor_override must be a non-zero int, '
                             f'got {divisor_override!r}')
        divisor = divisor_override
    else:
        h, w = input.shape[2:]
        per_row = _avg_divisor(h, kernel[0], stride[0], padding[0], out[0], count_include_pad)
        per_col = _avg_divisor(w, kernel[1], stride[1], padding[1], out[1], count_include_pad)
        if per_row.min() == per_row.max() and per_col.min() == per_col.max():
            divisor = int(per_row[0] * per_col[0])  # one number for every window
        else:
            divisor = np.outer(per_row, per_col)    # (Hout, Wout)
    return AvgPool2d.apply(input, kernel=kernel, stride=stride, padding=padding, out_size=out,
                           divisor=divisor)


def _adaptive_size(op, input, output_size):
    if isinstance(output_size, int) or output_size is None:
        output_size = (output_size, output_size)
    output_size = tuple(output_size)
    if len(output_size) == 1:
        output_size = output_size * 2
    if len(output_size) != 2:
        raise ValueError(f'{op}: output_size must be an int or a pair, got {output_size!r}')
    out = tuple(size if o is None else o for o, size in zip(output_size, input.shape[2:]))
    if not all(isinstance(o, int) and o >= 1 for o in out):
        raise ValueError(f'{op}: output_size must be positive ints (or None), got {output_size!r}')
    return out


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed output size: output (i, j) averages rows
    [floor(i*H/oh), ceil((i+1)*H/oh)) and the same for columns. A None entry keeps that
    input size; output_size 1 is the global average."""
    op = 'adaptive_avg_pool2d'
    if _is_unbatched(input, op):
        return with_batch_dim(adaptive_avg_pool2d, input, output_size)
    return AdaptiveAvgPool2d.apply(input, out_size=_adaptive_size(op, input, output_size))


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a fixed output size over adaptive_avg_pool2d's windows."""
    op = 'adaptive_max_pool2d'
    if _is_unbatched(input, op):
        return with_batch_dim(adaptive_max_pool2d, input, output_size, return_indices)
    return AdaptiveMaxPool2d.apply(input, out_size=_adaptive_size(op, input, output_size),
                                   return_indices=bool(return_indices))

"""CUDA kernels for the GPU hot spots, written with CuPy's kernel API.

The operators in this package are written once against the NumPy API, and on a GPU
the same code runs on CuPy. That is correct everywhere, but some of them launch many
small kernels where one would do: im2col's strided copy, col2im's kh*kw slice-adds,
max pooling's running max over the kernel offsets, LRN's window sums, batch norm's
chain of reductions and broadcasts, dropout's mask and product, SGD's five updates
per parameter. Each function here does the same work in one (or two) hand-written
kernels, with the same inputs, outputs, shapes and dtypes as the generic code it
replaces, so that a call site reads

    if cuda_kernels_enabled(xp):
        cols = cuda_kernels.im2col(x, ...)
    else:
        cols = im2col(x, ...)

Kernels are ``cupy.ElementwiseKernel`` (one thread per output element; ``i`` is that
element's flat index, ``raw`` arrays are indexed by hand) and ``cupy.ReductionKernel``
(a map, a tree reduction, a final map). The element type ``T`` is a template
parameter, so one source serves float32 and float64; CuPy compiles a kernel for a
dtype on its first call and caches the binary. Kernel objects are built on first use
(``_kernel``), so importing this module needs neither CuPy nor a GPU.

Every backward kernel *gathers*: a thread owns one input element and sums the
contributions that reach it, instead of scattering with atomic adds. The result is
deterministic (the same order of additions on every run) and has no write conflicts.

Whether minidl uses these kernels is ``minidl.backend.use_cuda_kernels`` (environment
variable ``MINIDL_CUDA_KERNELS=0`` turns them off); tests/functional/test_cuda_kernels.py compares each
one with the generic path on the GPU.
"""
import functools

import numpy as np

from ..backend import _import_cupy

__all__ = ['im2col', 'col2im', 'max_pool2d_forward', 'max_pool2d_backward', 'lrn_forward',
           'lrn_backward', 'batch_norm_forward_training', 'batch_norm_backward_training',
           'dropout_forward', 'sgd_update']

# The geometry of a convolution or pooling window, passed to the kernels as scalars:
# input plane (H, W), output plane (Ho, Wo), kernel (kh, kw), stride, padding, dilation.
_WINDOW_PARAMS = ('int32 H, int32 W, int32 Ho, int32 Wo, int32 kh, int32 kw, '
                  'int32 sh, int32 sw, int32 ph, int32 pw, int32 dh, int32 dw')

# name -> (kind, arguments of the CuPy constructor). Sources are kept as data so that
# they can be read (and checked) without CuPy.
KERNELS = {
    # cols[(c, i, j), (n, y, x)] = xpad[n, c, y*sh + i*dh, x*sw + j*dw]; one thread per
    # column entry, reading 0 where the window reaches into the padding.
    'im2col': ('ElementwiseKernel', (
        'raw T img, int32 N, int32 C, ' + _WINDOW_PARAMS,
        'T col',
        '''
        long long rest = i;
        const int x = rest % Wo; rest /= Wo;
        const int y = rest % Ho; rest /= Ho;
        const int n = rest % N;  rest /= N;
        const int j = rest % kw; rest /= kw;
        const int ki = rest % kh;
        const int c = rest / kh;
        const int row = y * sh + ki * dh - ph;
        const int column = x * sw + j * dw - pw;
        if (row >= 0 && row < H && column >= 0 && column < W) {
            col = img[(((long long)n * C + c) * H + row) * W + column];
        } else {
            col = 0;
        }
        ''')),
    # The adjoint of im2col, gathered: pixel (n, c, h, w) sits at padded position
    # (h + ph, w + pw); kernel offset (ki, j) of output (y, x) read it when
    # y*sh + ki*dh == h + ph (and the same for columns). Offsets in im2col's order.
    'col2im': ('ElementwiseKernel', (
        'raw T col, int32 N, int32 C, ' + _WINDOW_PARAMS,
        'T img',
        '''
        long long rest = i;
        const int w = rest % W; rest /= W;
        const int h = rest % H; rest /= H;
        const int c = rest % C;
        const int n = rest / C;
        T total = 0;
        for (int ki = 0; ki < kh; ++ki) {
            int y = h + ph - ki * dh;
            if (y < 0 || y % sh != 0) continue;
            y /= sh;
            if (y >= Ho) continue;
            for (int j = 0; j < kw; ++j) {
                int x = w + pw - j * dw;
                if (x < 0 || x % sw != 0) continue;
                x /= sw;
                if (x >= Wo) continue;
                total += col[((((long long)c * kh + ki) * kw + j) * N + n) * Ho * Wo
                             + (long long)y * Wo + x];
            }
        }
        img = total;
        ''')),
    # Running max over the kernel offsets k = ki*kw + j of one window; padding reads
    # -inf. Strict '>' keeps the first max on ties, a NaN always wins (PyTorch's rule).
    'max_pool2d_forward': ('ElementwiseKernel', (
        'raw T img, T neg_inf, ' + _WINDOW_PARAMS,
        'T out, S arg',
        '''
        const int x = i % Wo;
        const int y = (i / Wo) % Ho;
        const long long plane = (long long)(i / ((long long)Ho * Wo)) * H * W;
        T best = neg_inf;
        int best_k = 0;
        for (int k = 0; k < kh * kw; ++k) {
            const int row = y * sh - ph + (k / kw) * dh;
            const int column = x * sw - pw + (k % kw) * dw;
            const T seen = (row >= 0 && row < H && column >= 0 && column < W)
                           ? img[plane + (long long)row * W + column] : neg_inf;
            if (k == 0 || seen > best || isnan(seen)) {
                best = seen;
                best_k = k;
            }
        }
        out = best;
        arg = best_k;
        ''')),
    # Gathered max-pool backward: pixel (h, w) collects the gradient of every window
    # that covers it and whose saved argmax is this pixel's offset in that window.
    'max_pool2d_backward': ('ElementwiseKernel', (
        'raw T grad, raw S arg, ' + _WINDOW_PARAMS,
        'T dx',
        '''
        const int w = i % W;
        const long long plane = i / ((long long)H * W);
        const int h = (i / W) % H;
        T total = 0;
        for (int ki = 0; ki < kh; ++ki) {
            int y = h + ph - ki * dh;
            if (y < 0 || y % sh != 0) continue;
            y /= sh;
            if (y >= Ho) continue;
            for (int j = 0; j < kw; ++j) {
                int x = w + pw - j * dw;
                if (x < 0 || x % sw != 0) continue;
                x /= sw;
                if (x >= Wo) continue;
                const long long o = (plane * Ho + y) * Wo + x;
                if ((int)arg[o] == ki * kw + j) total += grad[o];
            }
        }
        dx = total;
        ''')),
    # LRN on (N, C, spatial): S_c = k + alpha/size * sum_{c' = c-before}^{c+after} a_c'^2
    # (channels outside [0, C) count as 0), b_c = a_c / S_c^beta.
    'lrn_forward': ('ElementwiseKernel', (
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
        ''')),
    # LRN backward, step 1: t_j = g_j a_j S_j^(-beta-1).
    'lrn_backward_term': ('ElementwiseKernel', (
        'T g, T a, T s, T beta',
        'T t',
        't = g / pow(s, beta) * a / s;')),
    # LRN backward, step 2: dL/da_c = g_c S_c^-beta - 2 alpha beta/size a_c sum_j t_j over
    # the outputs j whose window holds c, j in [c - (size-1)//2, c + size//2].
    'lrn_backward': ('ElementwiseKernel', (
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
        ''')),
    # Batch norm's mean per channel (the reduction runs over every other axis). The
    # variance is sum_of_products of the centred input with itself: a reduction that
    # reads a broadcast (1, C, 1, 1) mean was measured 30x slower on an H200 (CuPy 14).
    'batch_norm_mean': ('ReductionKernel', (
        'T x, T count', 'T mean', 'x', 'a + b', 'mean = a / count', '0')),
    # x_hat = (x - mean) inv_std and y = gamma x_hat + beta in one pass.
    'batch_norm_normalize': ('ElementwiseKernel', (
        'T x, T mean, T inv_std, T gamma, T beta',
        'T x_hat, T y',
        'x_hat = (x - mean) * inv_std; y = x_hat * gamma + beta;')),
    # The same when x_hat need not be kept (no gradient is asked for).
    'batch_norm_affine': ('ElementwiseKernel', (
        'T x, T mean, T inv_std, T gamma, T beta',
        'T y',
        'y = (x - mean) * inv_std * gamma + beta;')),
    # sum(g * x_hat) per channel, the product never stored.
    'sum_of_products': ('ReductionKernel', (
        'T g, T x_hat', 'T total', 'g * x_hat', 'a + b', 'total = a', '0')),
    # dx = gamma inv_std (g - sum(g)/m - x_hat sum(g x_hat)/m)
    'batch_norm_backward': ('ElementwiseKernel', (
        'T g, T x_hat, T sum_g, T sum_g_xhat, T gamma, T inv_std, T count',
        'T dx',
        'dx = (g - sum_g / count - x_hat * (sum_g_xhat / count)) * (gamma * inv_std);')),
    # keep = u >= p, y = x * keep * scale: the mask and the output in one pass.
    'dropout_forward': ('ElementwiseKernel', (
        'T x, T u, T p, T scale',
        'bool keep, T y',
        'keep = u >= p; y = x * (T)keep * scale;')),
    # SGD with momentum (PyTorch's step): d = +-g + wd p; b = d (first step) or
    # momentum b + (1 - dampening) d; d = d + momentum b (Nesterov) or b; p -= lr d.
    'sgd_momentum': ('ElementwiseKernel', (
        'T g, T lr, T momentum, T one_minus_dampening, T weight_decay, '
        'bool nesterov, bool maximize, bool first',
        'T p, T buf',
        '''
        T d = maximize ? -g : g;
        if (weight_decay != 0) d = d + weight_decay * p;
        const T b = first ? d : buf * momentum + one_minus_dampening * d;
        buf = b;
        d = nesterov ? d + momentum * b : b;
        p = p - lr * d;
        ''')),
    # SGD without momentum: p -= lr (+-g + wd p).
    'sgd_plain': ('ElementwiseKernel', (
        'T g, T lr, T weight_decay, bool maximize',
        'T p',
        '''
        T d = maximize ? -g : g;
        if (weight_decay != 0) d = d + weight_decay * p;
        p = p - lr * d;
        ''')),
}


@functools.lru_cache(maxsize=None)
def _kernel(name):
    """The CuPy kernel object ``name`` of KERNELS, built on first use and kept."""
    cupy = _import_cupy()
    kind, args = KERNELS[name]
    return getattr(cupy, kind)(*args, name=f'minidl_{name}')


def _window_args(input_hw, out_hw, kernel, stride, padding, dilation):
    """The 12 int32 scalars of _WINDOW_PARAMS, in order."""
    return (*input_hw, *out_hw, *kernel, *stride, *padding, *dilation)


# ---------------------------------------------------------------- convolution

def im2col(x, kernel, stride, padding, dilation, out_size):
    """conv.im2col on the GPU: the (C*kh*kw, N*Hout*Wout) column matrix of an NCHW
    input, rows ordered (c, i, j) and columns (n, y, x), padding read as zeros."""
    cupy = _import_cupy()
    x = cupy.ascontiguousarray(x)
    n, c, h, w = x.shape
    (kh, kw), (ho, wo) = kernel, out_size
    cols = cupy.empty((c * kh * kw, n * ho * wo), dtype=x.dtype)
    _kernel('im2col')(x, n, c, *_window_args((h, w), out_size, kernel, stride, padding,
                                             dilation), cols)
    return cols


def col2im(dcols, input_shape, kernel, stride, padding, dilation, out_size):
    """conv.col2im on the GPU: the (N, C, H, W) gradient of the input from the column
    gradient ``dcols`` (C, kh, kw, N, Hout, Wout) (any shape with that many elements in
    that order), each pixel summing the column entries that read it (no atomics)."""
    cupy = _import_cupy()
    dcols = cupy.ascontiguousarray(dcols)
    n, c, h, w = input_shape
    dx = cupy.empty((n, c, h, w), dtype=dcols.dtype)
    _kernel('col2im')(dcols, n, c, *_window_args((h, w), out_size, kernel, stride, padding,
                                                 dilation), dx)
    return dx


# ---------------------------------------------------------------- max pooling

def max_pool2d_forward(x, kernel, stride, padding, dilation, out_size):
    """The max of each window of an NCHW input and its kernel offset k = i*kw + j
    (uint8 when kh*kw <= 256, else int32), as pooling.MaxPool2d.forward computes them:
    padding and ceil_mode's overhang read -inf, the first max wins ties, NaN wins."""
    cupy = _import_cupy()
    x = cupy.ascontiguousarray(x)
    n, c, h, w = x.shape
    (kh, kw), (ho, wo) = kernel, out_size
    best = cupy.empty((n, c, ho, wo), dtype=x.dtype)
    arg = cupy.empty((n, c, ho, wo), dtype=np.uint8 if kh * kw <= 256 else np.int32)
    _kernel('max_pool2d_forward')(x, x.dtype.type(-np.inf),
                                  *_window_args((h, w), out_size, kernel, stride, padding,
                                                dilation), best, arg)
    return best, arg


def max_pool2d_backward(grad, arg, input_shape, kernel, stride, padding, dilation):
    """The (N, C, H, W) input gradient of max pooling: every pixel gathers the output
    gradients of the windows whose argmax ``arg`` (from max_pool2d_forward) it is."""
    cupy = _import_cupy()
    grad = cupy.ascontiguousarray(grad)
    arg = cupy.ascontiguousarray(arg)
    n, c, h, w = input_shape
    dx = cupy.empty((n, c, h, w), dtype=grad.dtype)
    _kernel('max_pool2d_backward')(grad, arg, *_window_args((h, w), grad.shape[2:], kernel,
                                                           stride, padding, dilation), dx)
    return dx


# ---------------------------------------------------------------- local response norm

def lrn_forward(x, size, alpha, beta, k):
    """local_response_norm's forward on an (N, C, ...) input: the output and the
    denominator's base S = k + alpha/size * (window sum of squares), both x's shape."""
    cupy = _import_cupy()
    x = cupy.ascontiguousarray(x)
    t = x.dtype.type
    spatial = x.size // (x.shape[0] * x.shape[1])
    out = cupy.empty_like(x)
    scale = cupy.empty_like(x)
    _kernel('lrn_forward')(x, x, x.shape[1], spatial, size // 2, (size - 1) // 2,
                           t(alpha / size), t(beta), t(k), out, scale)
    return out, scale


def lrn_backward(grad, x, scale, size, alpha, beta):
    """local_response_norm's input gradient from the saved input ``x`` and base
    ``scale`` (lrn_forward's second output); the cross-channel sum runs over the mirror
    window [c - (size-1)//2, c + size//2]."""
    cupy = _import_cupy()
    grad, x, scale = (cupy.ascontiguousarray(a) for a in (grad, x, scale))
    t = x.dtype.type
    spatial = x.size // (x.shape[0] * x.shape[1])
    term = _kernel('lrn_backward_term')(grad, x, scale, t(beta))
    dx = cupy.empty_like(x)
    _kernel('lrn_backward')(grad, x, scale, term, x.shape[1], spatial, (size - 1) // 2,
                            size // 2, t(beta), t(2 * alpha * beta / size), dx)
    return dx


# ---------------------------------------------------------------- batch norm (training)

def _channel_layout(x, vector):
    """A per-channel vector (or None) shaped (1, C, 1, ...) in x's dtype."""
    if vector is None:
        return None
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return vector.reshape(shape).astype(x.dtype, copy=False)


def batch_norm_forward_training(x, weight, bias, eps, keep_x_hat=True):
    """Batch norm with the batch's statistics over every axis but 1, as
    normalization.BatchNorm.forward computes it in training: returns (out, x_hat, mean,
    var, inv_std), the last three shaped (1, C, 1, ...) with the biased variance;
    x_hat is None when ``keep_x_hat`` is False (no gradient will need it)."""
    cupy = _import_cupy()
    t = x.dtype.type
    axes = (0,) + tuple(range(2, x.ndim))
    count = t(x.size // x.shape[1])
    mean = _kernel('batch_norm_mean')(x, count, axis=axes, keepdims=True)
    centred = x - mean
    var = _kernel('sum_of_products')(centred, centred, axis=axes, keepdims=True) / count
    inv_std = 1 / cupy.sqrt(var + eps)
    gamma = _channel_layout(x, weight)
    beta = _channel_layout(x, bias)
    gamma = t(1) if gamma is None else gamma
    beta = t(0) if beta is None else beta
    zero = t(0)   # the input is already centred
    if keep_x_hat:
        x_hat, out = _kernel('batch_norm_normalize')(centred, zero, inv_std, gamma, beta)
    else:
        x_hat, out = None, _kernel('batch_norm_affine')(centred, zero, inv_std, gamma, beta)
    return out, x_hat, mean, var, inv_std


def batch_norm_backward_training(grad, x_hat, inv_std, gamma, need_x, need_w, need_b):
    """The closed-form training backward of batch norm from the saved x_hat, inv_std
    and gamma ((1, C, 1, ...) or None): (dx, dgamma, dbeta), each None unless asked
    for; dgamma = sum(g x_hat) and dbeta = sum(g) per channel, flat (C,)."""
    t = grad.dtype.type
    axes = (0,) + tuple(range(2, grad.ndim))
    count = t(grad.size // grad.shape[1])
    sum_g = sum_g_xhat = grad_x = None
    if need_x or need_b:
        sum_g = grad.sum(axis=axes, keepdims=True)
    if need_x or need_w:
        sum_g_xhat = _kernel('sum_of_products')(grad, x_hat, axis=axes, keepdims=True)
    if need_x:
        grad_x = _kernel('batch_norm_backward')(grad, x_hat, sum_g, sum_g_xhat,
                                                t(1) if gamma is None else gamma,
                                                inv_std, count)
    return (grad_x, sum_g_xhat.reshape(-1) if need_w else None,
            sum_g.reshape(-1) if need_b else None)


# ---------------------------------------------------------------- dropout

def dropout_forward(x, u, p, scale, out=None):
    """Inverted dropout of ``x`` from uniform samples ``u`` of x's shape and dtype:
    returns (out, keep) with keep = u >= p (bool) and out = x * keep * scale, in one
    pass. ``out=x`` writes the result over x (dropout's inplace=True)."""
    cupy = _import_cupy()
    t = x.dtype.type
    keep = cupy.empty(x.shape, dtype=bool)
    if out is None:
        out = cupy.empty_like(x)
    _kernel('dropout_forward')(x, u, t(p), t(scale), keep, out)
    return out, keep


# ---------------------------------------------------------------- SGD

def sgd_update(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov, maximize,
               first):
    """One SGD step on one parameter array, in place: ``param`` and, with momentum,
    the momentum buffer ``buf`` (``first=True`` fills a fresh buffer with the first
    gradient). The same arithmetic as optim.SGD.step, one kernel per parameter."""
    t = param.dtype.type
    if momentum == 0:
        _kernel('sgd_plain')(grad, t(lr), t(weight_decay), bool(maximize), param)
        return
    _kernel('sgd_momentum')(grad, t(lr), t(momentum), t(1 - dampening), t(weight_decay),
                            bool(nesterov), bool(maximize), bool(first), param, buf)

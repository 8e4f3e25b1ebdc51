"""2-D convolution by im2col: one copy of the input into columns, then one GEMM per group.

For an input x of shape (N, C, H, W) and a weight w of shape (Cout, C/groups, kh, kw),

    out[n, o, y, x] = b[o] + sum_{c, i, j} w[o, c, i, j]
                                  * xpad[n, g*Cg + c, y*sh + i*dh, x*sw + j*dw]

(g the group of output channel o, Cg = C/groups). im2col turns this into a matrix
product: the padded input is *viewed* through strides as an array of shape
(C, kh, kw, N, Hout, Wout) - no data moves - and copied once into the column matrix

    cols[(c, i, j), (n, y, x)] = xpad[n, c, y*sh + i*dh, x*sw + j*dw]

of shape (C*kh*kw, N*Hout*Wout). Group g owns rows g*K .. (g+1)*K (K = Cg*kh*kw), so

    out_g = w_g (Cout/groups, K)  @  cols_g (K, N*Hout*Wout)

is one batched matmul over the groups (one big GEMM when groups == 1). Both operands
are contiguous row-major matrices, which is what BLAS wants. The result (Cout, N, ...)
is transposed to (N, Cout, ...) while the bias is added, in one pass.
docs/im2col.md draws all of this for a 4x4 input. On the CPU, 3x3 stride-1
convolutions with many channels take Winograd's F(2x2, 3x3) instead (_winograd.py:
2.25x fewer multiplications), and narrow stride-1 ones im2col over flattened rows.
"""

import numpy as np

from ..autograd import ArrayFunction as Function, Cost
from ..backend import (cuda_kernel, cuda_kernels_enabled, get_array_module, get_num_threads,
                       grain, matmul, parallel_copy, parallel_for, parallel_sum)
from . import _winograd as winograd
from ._util import check_tensor, with_batch_dim
from ._window import (WINDOW_PARAMS, flat_padded, flat_windows, output_size, padded, padded_size,
                      pair, span, window_args, windows, windows_reading_pixel)
from .shape import pad

__all__ = ['conv2d', 'conv_output_size']


conv_output_size = output_size   # public since before _window.py; the same function


def im2col(x, kernel, stride, padding, dilation, out_size):
    """The column matrix (C*kh*kw, N*Hout*Wout) of x: rows ordered (c, i, j), columns (n, y, x)."""
    xp = get_array_module(x)
    (kh, kw), (ho, wo) = kernel, out_size
    n, c = x.shape[:2]
    # view[c, i, j, n, y, x] = xpad[n, c, y*sh + i*dh, x*sw + j*dw]  (no copy)
    view = windows(padded(x, padding), kernel, stride, dilation, out_size)
    cols = xp.empty((c, kh, kw, n, ho, wo), dtype=x.dtype)
    parallel_copy(cols, view.transpose(1, 2, 3, 0, 4, 5))  # the one copy, by channels
    return cols.reshape(c * kh * kw, n * ho * wo)


def col2im(dcols, input_shape, kernel, stride, padding, dilation, out_size):
    """The adjoint of im2col: add every column entry back to the input pixel it came from.

    ``dcols`` has shape (C, kh, kw, N, Hout, Wout). Kernel offset (i, j) read the pixels
    xpad[:, :, i*dh + y*sh, j*dw + x*sw] for all (y, x): a strided slice. So col2im is one
    slice-add per kernel offset (kh*kw of them) into a zeroed padded buffer, then the
    padding is cropped. The buffer is laid out (C, N, Hp, Wp) like dcols, so every add
    runs over matching layouts; one final transpose makes it (N, C, H, W).
    """
    xp = get_array_module(dcols)
    n, c, h, w = input_shape
    (kh, kw), (ph, pw) = kernel, padding
    buf = xp.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=dcols.dtype)
    seen = windows(buf, kernel, stride, dilation, out_size)   # (C, N, kh, kw, Ho, Wo)
    for i in range(kh):
        for j in range(kw):
            seen[:, :, i, j] += dcols[:, i, j]
    return xp.ascontiguousarray(buf[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3))


def im2col_flat(x, kernel, padding, dilation, out_size):
    """im2col of a stride-1 convolution over flattened rows: the "wide" column matrix
    (C*kh*kw, N*Hout*Wp), Wp the padded width, whose column y*Wp + x of an image is
    output pixel (y, x) for x < Wout and a wasted position otherwise
    (_window.flat_windows). Each row of an image is one contiguous run of its padded
    plane, where im2col copies Hout runs of Wout: for narrow outputs the copy is much
    faster, for (Wp - Wout)/Wout more columns in the product."""
    xp = get_array_module(x)
    n, c = x.shape[:2]
    (kh, kw), ho = kernel, out_size[0]
    buf = flat_padded(x, padding)
    view = flat_windows(buf, kernel, dilation, ho)            # (N, C, kh, kw, Hout*Wp)
    cols = xp.empty((c, kh, kw, n, view.shape[-1]), dtype=x.dtype)
    parallel_copy(cols, view.transpose(1, 2, 3, 0, 4))  # the one copy, by channels
    return cols.reshape(c * kh * kw, -1)


def col2im_flat(dcols, input_shape, kernel, padding, dilation, out_size):
    """The adjoint of im2col_flat: ``dcols`` (C, kh, kw, N, Hout*Wp), zero at the wasted
    positions, added back one contiguous run per kernel offset; returns (N, C, H, W)."""
    xp = get_array_module(dcols)
    n, c, h, w = input_shape
    (ph, pw), ho = padding, out_size[0]
    buf = xp.zeros((c, n, h + 2 * ph + 1, w + 2 * pw), dtype=dcols.dtype)
    seen = flat_windows(buf, kernel, dilation, ho)            # (C, N, kh, kw, Hout*Wp)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            seen[:, :, i, j] += dcols[:, i, j]
    return xp.ascontiguousarray(buf[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3))


def widened(grad, width):
    """A block of output gradients (b, Cout, Hout, Wout) laid out (Cout, b, Hout,
    ``width``) with zeros at the wasted positions of im2col_flat's columns."""
    xp = get_array_module(grad)
    b, c_out, ho, wo = grad.shape
    wide = xp.zeros((c_out, b, ho, width), dtype=grad.dtype)
    wide[..., :wo] = grad.transpose(1, 0, 2, 3)
    return wide


# ---------------------------------------------------------------- the same on a GPU

# cols[(c, i, j), (n, y, x)] = xpad[n, c, y*sh + i*dh, x*sw + j*dw]; one thread per
# column entry, reading 0 where the window reaches into the padding.
_IM2COL_KERNEL = ('ElementwiseKernel', 'im2col',
    'raw T img, int32 N, int32 C, ' + WINDOW_PARAMS,
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
    ''')

# The adjoint of im2col, gathered: pixel (n, c, h, w) sits at padded position
# (h + ph, w + pw); kernel offset (ki, j) of output (y, x) read it when
# y*sh + ki*dh == h + ph (and the same for columns). Offsets in im2col's order.
_COL2IM_KERNEL = ('ElementwiseKernel', 'col2im',
    'raw T col, int32 N, int32 C, ' + WINDOW_PARAMS,
    'T img',
    '''
    long long rest = i;
    const int w = rest % W; rest /= W;
    const int h = rest % H; rest /= H;
    const int c = rest % C;
    const int n = rest / C;
    T total = 0;''' + windows_reading_pixel('''
            total += col[((((long long)c * kh + ki) * kw + j) * N + n) * Ho * Wo
                         + (long long)y * Wo + x];''') + '''
    img = total;
    ''')


def im2col_cuda(x, kernel, stride, padding, dilation, out_size):
    """conv.im2col on the GPU: the (C*kh*kw, N*Hout*Wout) column matrix of an NCHW
    input, rows ordered (c, i, j) and columns (n, y, x), padding read as zeros."""
    xp = get_array_module(x)
    x = xp.ascontiguousarray(x)
    n, c, h, w = x.shape
    (kh, kw), (ho, wo) = kernel, out_size
    cols = xp.empty((c * kh * kw, n * ho * wo), dtype=x.dtype)
    cuda_kernel(*_IM2COL_KERNEL)(x, n, c, *window_args((h, w), out_size, kernel, stride, padding,
                                             dilation), cols)
    return cols


def col2im_cuda(dcols, input_shape, kernel, stride, padding, dilation, out_size):
    """conv.col2im on the GPU: the (N, C, H, W) gradient of the input from the column
    gradient ``dcols`` (C, kh, kw, N, Hout, Wout) (any shape with that many elements in
    that order), each pixel summing the column entries that read it (no atomics)."""
    xp = get_array_module(dcols)
    dcols = xp.ascontiguousarray(dcols)
    n, c, h, w = input_shape
    dx = xp.empty((n, c, h, w), dtype=dcols.dtype)
    cuda_kernel(*_COL2IM_KERNEL)(dcols, n, c, *window_args((h, w), out_size, kernel, stride,
                                                           padding, dilation), dx)
    return dx


# On the CPU a convolution runs a block of images at a time, the blocks in parallel
# (backend.parallel_for). A block is at least PIXELS_PER_BLOCK output pixels or
# COLUMN_BYTES_PER_BLOCK bytes of columns, whichever is more images: the columns stay in
# cache between im2col and the product (one core of the benchmark machine multiplied
# layer1's (64 x 576) weight by 512 columns at ~95 GFLOP/s, by the batch's 32768 at ~61;
# OpenBLAS, benchmarks/NOTES.md), and a block is worth its Python overhead. A batch too
# small for backend.MIN_BLOCKS such blocks is one block, whose products backend.matmul
# still splits over the threads.
PIXELS_PER_BLOCK = 512
COLUMN_BYTES_PER_BLOCK = 1 << 20


# A stride-1 convolution takes im2col_flat's wide columns on the CPU when it has at most
# FLAT_MAX_CHANNELS output channels per group and wastes at most half as many positions
# as it has: the product is cheap next to the copies then. Measured, one thread, per
# block: LeNet-5's conv2 (6->16, 5x5 on 14x14) forward 0.239 -> 0.202 ms, input gradient
# 0.53 -> 0.37; ResNet's layer1 (64->64, 3x3 on 32x32) forward 1.06 -> 0.89; input
# gradient with 32 and 64 channels 7-20% faster, with AlexNet's 192 7% slower.
FLAT_MAX_CHANNELS = 64


def _columns_width(xp, c_out_group, stride, out_width, padded_width):
    """The width of a row of the column matrix of a convolution with ``c_out_group``
    output channels per group whose output rows are ``out_width`` wide, read from a
    plane ``padded_width`` wide (the input's, or in the flipped-kernel route the output
    gradient's): ``padded_width`` where im2col_flat pays (see FLAT_MAX_CHANNELS),
    otherwise ``out_width`` (im2col's). The flat route is taken when they differ."""
    flat = (xp is np and stride == (1, 1) and c_out_group <= FLAT_MAX_CHANNELS
            and 2 * (padded_width - out_width) <= out_width)
    return padded_width if flat else out_width


def _im2col_route(xp, flat):
    """The im2col of a route, called (x, kernel, stride, padding, dilation, out_size):
    im2col_flat where the flat route is taken (stride 1, see _columns_width), else
    im2col, or its CUDA kernel when the kernels are on."""
    if flat:
        return lambda x, kernel, stride, padding, dilation, out_size: im2col_flat(
            x, kernel, padding, dilation, out_size)
    return im2col_cuda if cuda_kernels_enabled(xp) else im2col


def _back_padding(ctx):
    """The padding of the output gradient in the flipped-kernel route: d*(k-1) - p."""
    return tuple(d * (size - 1) - p for p, d, size in zip(ctx.padding, ctx.dilation, ctx.kernel))


def images_per_block(n, pixels_per_image, column_bytes_per_image):
    """Images per block (parallel_for's grain) for a batch of ``n``: see PIXELS_PER_BLOCK."""
    return grain(n, max(PIXELS_PER_BLOCK // max(pixels_per_image, 1),
                        COLUMN_BYTES_PER_BLOCK // max(column_bytes_per_image, 1)))


def _conv_by_im2col(x, weight, bias, stride, padding, dilation, groups, out_size):
    """The convolution (N, Cout, Hout, Wout) of x, a block of images at a time: im2col,
    one (batched over groups) GEMM, then the transpose to (N, Cout, ...) with the bias
    added in the same pass."""
    xp = get_array_module(x)
    n = x.shape[0]
    c_out, c_group, kh, kw = weight.shape
    ho, wo = out_size
    k = c_group * kh * kw
    w_groups = weight.reshape(groups, c_out // groups, k)
    out = xp.empty((n, c_out, ho, wo), dtype=x.dtype)
    width = _columns_width(xp, c_out // groups, stride, wo, x.shape[3] + 2 * padding[1])
    to_columns = _im2col_route(xp, flat=width != wo)
    cols_bytes = groups * k * ho * width * x.itemsize   # one image's columns

    def images(start, stop):
        cols = to_columns(x[start:stop], (kh, kw), stride, padding, dilation, out_size)
        out_groups = matmul(w_groups, cols.reshape(groups, k, (stop - start) * ho * width))
        by_channel = out_groups.reshape(c_out, stop - start, ho, width)[..., :wo].transpose(
            1, 0, 2, 3)
        if bias is None:
            parallel_copy(out[start:stop], by_channel)
        else:  # transpose and bias in one pass
            xp.add(by_channel, bias.reshape(1, c_out, 1, 1), out=out[start:stop])

    parallel_for(xp, n, images_per_block(n, ho * wo, cols_bytes), images)
    return out


def _pointwise_conv(x, weight, bias, groups):
    """A 1x1 convolution (stride 1, no padding) is already a matrix product:
    out[n] = W x[n] per group, a block of images at a time."""
    xp = get_array_module(x)
    n, c, h, w = x.shape
    c_out, c_group = weight.shape[:2]
    w_groups = weight.reshape(groups, c_out // groups, c_group)
    out = xp.empty((n, c_out, h, w), dtype=x.dtype)

    def images(start, stop):
        block = out[start:stop]
        matmul(w_groups, x[start:stop].reshape(stop - start, groups, c_group, h * w),
                  out=block.reshape(stop - start, groups, c_out // groups, h * w))
        if bias is not None:
            block += bias.reshape(1, c_out, 1, 1)

    parallel_for(xp, n, images_per_block(n, h * w, x.nbytes // max(n, 1)), images)
    return out


def _flipped_kernel_pays(ctx, with_weight_grad=False):
    """Whether dL/dx is computed as a convolution of the output gradient with the
    flipped kernel (stride 1, padding at most d*(k-1)) rather than by col2im: when the
    columns of that convolution, Cout*kh*kw x N*H*W, are no larger than the col2im
    route's C*kh*kw x N*Hout*Wout (Cout <= C for 'same' padding), or up to twice as
    large ``with_weight_grad``, where they also replace the weight gradient's columns
    (measured, one thread: Inception's 96->128 and 16->32 'same' convolutions 10-17%
    faster, a 64->192 one 2% slower). Otherwise (an expanding or unpadded convolution)
    it would multiply more values, many of them padding zeros. (A pointwise convolution
    needs no columns at all.)"""
    n, c, h, w = ctx.x_shape
    c_out = ctx.w_shape[0]
    limit = 2 if with_weight_grad else 1
    return (not ctx.pointwise and ctx.stride == (1, 1)
            and all(p <= d * (k - 1) for p, d, k in zip(ctx.padding, ctx.dilation, ctx.kernel))
            and c_out * h * w <= limit * c * ctx.out_size[0] * ctx.out_size[1])


def _transposed_by_group(xp, block, groups, width=None):
    """A block of images (b, groups*m, H, W) as (groups, b*H*W, m): per group, the
    transpose of its m x (b*H*W) matrix of channels by pixels. For one image a view
    (BLAS reads a transposed operand as it is, and on one thread as fast), for more a
    contiguous copy (the images' pixels are not one strided axis). With a ``width`` > W,
    rows of that width, zero beyond W: (groups, b*H*width, m), for im2col_flat."""
    b, _, h, w = block.shape
    if width is not None and width != w:
        wide = xp.zeros((groups, b, h, width, block.shape[1] // groups), dtype=block.dtype)
        wide[:, :, :, :w] = block.reshape(b, groups, -1, h, w).transpose(1, 0, 3, 4, 2)
        return wide.reshape(groups, b * h * width, -1)
    pixels = h * w
    by_group = block.reshape(b, groups, -1, pixels).transpose(1, 0, 3, 2)  # (groups, b, P, m)
    if b == 1:
        return by_group[:, 0]
    copy = xp.empty(by_group.shape, dtype=block.dtype)
    _copy_by_group(copy, by_group)
    return copy.reshape(groups, b * pixels, -1)


def _grad_weight(ctx, grad, x):
    """dL/dW = G @ cols^T per group, with G = dL/dout laid out (Cout, N*Hout*Wout) and
    the columns rebuilt from the saved input: a sum over blocks of images."""
    xp = get_array_module(grad)
    n, c, h, w = ctx.x_shape
    c_out, c_group, kh, kw = ctx.w_shape
    groups, (ho, wo) = ctx.groups, ctx.out_size
    c_group_out, k = c_out // groups, c_group * kh * kw
    width = _columns_width(xp, c_group_out, ctx.stride, wo, w + 2 * ctx.padding[1])
    to_columns = _im2col_route(xp, flat=width != wo)

    def images(start, stop):
        b = stop - start
        if ctx.pointwise:
            # out[n] = W x[n]: dW = sum over images of G[n] x[n]^T
            g = grad[start:stop].reshape(b, groups, c_group_out, h * w)
            x_groups = x[start:stop].reshape(b, groups, c_group, h * w)
            return matmul(g, x_groups.transpose(0, 1, 3, 2)).sum(axis=0)
        # dW^T = cols @ G^T, with G^T (groups, b*Hout*width, Cout/groups), zero at the
        # wasted positions of flat columns
        cols = to_columns(x[start:stop], ctx.kernel, ctx.stride, ctx.padding, ctx.dilation,
                          ctx.out_size)
        return matmul(cols.reshape(groups, k, b * ho * width),
                      _transposed_by_group(xp, grad[start:stop], groups, width))

    cols_bytes = groups * k * ho * width * grad.itemsize   # one image's columns
    total = parallel_sum(xp, n, images_per_block(n, ho * wo, cols_bytes), images)
    if ctx.pointwise:
        return total.reshape(ctx.w_shape)
    # transposed into an array of the weight's shape that owns its memory, so the
    # engine can keep it as the weight's .grad without another copy
    grad_w = xp.empty(ctx.w_shape, dtype=grad.dtype)
    _copy_by_group(grad_w.reshape(groups, c_group_out, k), total.transpose(0, 2, 1))
    return grad_w


def _copy_by_group(out, value):
    """out[...] = value for arrays (groups, ...) of a weight's size: with one group on
    minidl's threads (backend.parallel_copy, along the next axis)."""
    if out.shape[0] == 1:
        parallel_copy(out[0], value[0])
    else:
        out[...] = value


def _grad_input(ctx, grad, weight):
    """dL/dx, by the cheapest of three routes: a matrix product for a pointwise
    convolution, a convolution with the flipped kernel for stride 1, col2im otherwise
    (a block of images at a time)."""
    xp = get_array_module(grad)
    n, c, h, w = ctx.x_shape
    c_out, c_group, kh, kw = ctx.w_shape
    groups, (ho, wo) = ctx.groups, ctx.out_size
    c_group_out, k = c_out // groups, c_group * kh * kw
    w_t = weight.reshape(groups, c_group_out, k).transpose(0, 2, 1)
    if ctx.pointwise:
        # out[n] = W x[n]: dx[n] = W^T G[n], a pointwise convolution with W^T
        flipped = xp.ascontiguousarray(w_t).reshape(c, c_out // groups, 1, 1)
        return _pointwise_conv(grad, flipped, None, groups)
    if _flipped_kernel_pays(ctx):
        return _grads_by_flipped_kernel(ctx, grad, weight)[0]
    from_columns = col2im_cuda if cuda_kernels_enabled(xp) else col2im
    grad_x = xp.empty(ctx.x_shape, dtype=grad.dtype)
    width = _columns_width(xp, c_group_out, ctx.stride, wo, w + 2 * ctx.padding[1])
    flat = width != wo

    def images(start, stop):
        # dL/dcols = W^T G, then col2im adds each column entry back where im2col copied
        # it from: a pixel seen by several windows collects the sum of their gradients
        b = stop - start
        if flat:   # G zero at the wasted positions, so their dL/dcols is zero too
            g = widened(grad[start:stop], width)
        else:
            g = xp.ascontiguousarray(grad[start:stop].transpose(1, 0, 2, 3))
        g = g.reshape(groups, c_group_out, b * ho * width)
        if c_out == groups:  # depthwise: each product is an outer product, a broadcast
            dcols = w_t * g
        else:
            dcols = matmul(w_t, g)
        if flat:
            grad_x[start:stop] = col2im_flat(dcols.reshape(c, kh, kw, b, ho * width),
                                             (b, c, h, w), ctx.kernel, ctx.padding,
                                             ctx.dilation, ctx.out_size)
        else:
            grad_x[start:stop] = from_columns(dcols.reshape(c, kh, kw, b, ho, wo),
                                              (b, c, h, w), ctx.kernel, ctx.stride,
                                              ctx.padding, ctx.dilation, ctx.out_size)

    dcols_bytes = c * kh * kw * ho * width * grad.itemsize   # one image's dL/dcols
    parallel_for(xp, n, images_per_block(n, ho * wo, dcols_bytes), images)
    return grad_x


def _grads_by_flipped_kernel(ctx, grad, weight, x=None):
    """dL/dx for stride 1, and dL/dW from the same columns when ``x`` is given
    (otherwise None): (grad_x, grad_w).

    dL/dx is itself a convolution: of the output gradient with the kernel flipped in both
    spatial axes and its in/out channels swapped (per group), padded by d*(k-1) - p,
    which gives back H x W. (Each input pixel x[i] reached output y[i - a] through tap
    w[a]; so dx[i] = sum_a g[i - a] w[a] = sum_b g[i + b] w_flipped[b], a correlation
    with the flipped kernel.) Its GEMM has the long Cout*kh*kw inner dimension and writes
    C*N*H*W values, where W^T G writes kh*kw times as many for col2im to add up: 20-60%
    faster, the same result. docs/im2col.md draws it.

    Its columns, row (o, a, b) at input pixel u, hold G[o, u + a*d - (d*(k-1) - p)]. The
    weight gradient dW[o, c, i, j] = sum_u G[o, u + p - i*d] x[c, u] reads exactly row
    (o, k-1-i, k-1-j): dW = cols @ x^T, the kernel flipped back. One im2col (of G) serves
    both gradients instead of two (of G and of x); x^T is an input-sized copy."""
    xp = get_array_module(grad)
    n, c, h, w = ctx.x_shape
    c_out, c_group, kh, kw = ctx.w_shape
    groups = ctx.groups
    c_group_out = c_out // groups
    k = c_group_out * kh * kw
    # flipped[g, c, (o, a, b)] = weight[g*Cout/groups + o, c, kh-1-a, kw-1-b]
    flipped = xp.empty((groups, c_group, c_group_out, kh, kw), dtype=weight.dtype)
    _copy_by_group(flipped, weight.reshape(groups, c_group_out, c_group, kh, kw)[
        ..., ::-1, ::-1].transpose(0, 2, 1, 3, 4))
    flipped = flipped.reshape(groups, c_group, k)
    back_padding = _back_padding(ctx)
    grad_x = xp.empty(ctx.x_shape, dtype=grad.dtype)
    width = _columns_width(xp, c_group, (1, 1), w, ctx.out_size[1] + 2 * back_padding[1])
    to_columns = _im2col_route(xp, flat=width != w)

    def input_gradient(start, stop):
        """dL/dx of a block of images; returns the block's columns of G."""
        b = stop - start
        cols = to_columns(grad[start:stop], ctx.kernel, (1, 1), back_padding, ctx.dilation,
                          (h, w)).reshape(groups, k, b * h * width)
        grad_x[start:stop] = matmul(flipped, cols).reshape(c, b, h, width)[..., :w].transpose(
            1, 0, 2, 3)
        return cols

    def both_gradients(start, stop):
        """dL/dx of a block, and the block's share of dW (still flipped) from its columns
        (x^T zero at the wasted positions of flat columns)."""
        cols = input_gradient(start, stop)
        return matmul(cols, _transposed_by_group(xp, x[start:stop], groups, width))

    grain = images_per_block(n, h * w, groups * k * h * width * grad.itemsize)
    if x is None:
        parallel_for(xp, n, grain, input_gradient)
        return grad_x, None
    flipped_grad_w = parallel_sum(xp, n, grain, both_gradients)
    grad_w = xp.empty(ctx.w_shape, dtype=grad.dtype)
    _copy_by_group(grad_w.reshape(groups, c_group_out, c_group, kh, kw), flipped_grad_w.reshape(
        groups, c_group_out, kh, kw, c_group)[:, :, ::-1, ::-1].transpose(0, 1, 4, 2, 3))
    return grad_x, grad_w


# A 3x3 stride-1 convolution runs by Winograd's F(2x2, 3x3) (_winograd.py) on the CPU
# when it has at least WINOGRAD_MIN_CHANNELS input and output channels and an output of
# at least 8x8, in blocks of about WINOGRAD_TILES_PER_BLOCK tiles. Measured, one thread,
# forward + backward, batch 32 (im2col -> Winograd): ResNet's layer2 (128, 16x16) 86 ->
# 60 ms, layer3 (256, 8x8) 84 -> 57-60, Inception's 96 -> 128 at 28x28 (batch 16) 99 ->
# 74; no gain where it is not taken: layer1 (64, 32x32) 100 -> 97, DenseNet's 128 -> 32
# 38 -> 40, layer4 (512, 4x4: four tiles an image) 91 -> 82-121 by block size.
WINOGRAD_MIN_CHANNELS = 96
WINOGRAD_TILES_PER_BLOCK = 256


def _winograd_pays(xp, x_shape, w_shape, stride, dilation, groups, out_size, dtype=np.float32):
    """Whether the Winograd route is taken (see WINOGRAD_MIN_CHANNELS). Floating-point
    only: G's halves would round to 0 in an integer weight transform."""
    return (xp is np and np.dtype(dtype).kind == 'f' and w_shape[2:] == (3, 3)
            and stride == (1, 1) and dilation == (1, 1)
            and groups == 1 and min(x_shape[1], w_shape[0]) >= WINOGRAD_MIN_CHANNELS
            and out_size[0] >= 8 and out_size[1] >= 8)


def _winograd_grain(n, out_size):
    """Images per block for the Winograd route: about WINOGRAD_TILES_PER_BLOCK tiles."""
    tiles_per_image = -(-out_size[0] // 2) * -(-out_size[1] // 2)
    return grain(n, -(-WINOGRAD_TILES_PER_BLOCK // tiles_per_image))


def _conv_by_winograd(x, weight, bias, padding, out_size):
    """The convolution (N, Cout, Hout, Wout) by F(2x2, 3x3), a block of images at a time."""
    n = x.shape[0]
    u = winograd.weight_transform(weight)
    out = np.empty((n, weight.shape[0]) + tuple(out_size), dtype=x.dtype)

    def images(start, stop):
        winograd.forward(x[start:stop], u, padding, out[start:stop])
        if bias is not None:
            out[start:stop] += bias.reshape(1, -1, 1, 1)

    parallel_for(np, n, _winograd_grain(n, out_size), images)
    return out


def _grads_by_winograd(ctx, grad, x, weight):
    """(dL/dx or None, dL/dW or None) by F(2x2, 3x3): dM from the output gradient, then
    dU = dM^T V and dV = dM U per tile position (_winograd.py)."""
    need_x, need_w = ctx.needs_input_grad[:2]
    n = grad.shape[0]
    u = winograd.weight_transform(weight) if need_x else None
    grad_x = np.empty(ctx.x_shape, dtype=grad.dtype) if need_x else None

    def images(start, stop):
        block_x, block_u = winograd.backward(x[start:stop] if need_w else None, grad[start:stop],
                                             u, ctx.x_shape[2:], ctx.padding, need_x, need_w)
        if need_x:
            grad_x[start:stop] = block_x
        return block_u

    blocks = _winograd_grain(n, ctx.out_size)
    if not need_w:
        parallel_for(np, n, blocks, images)
        return grad_x, None
    return grad_x, winograd.weight_gradient(parallel_sum(np, n, blocks, images))


class Conv2d(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, *, stride, padding, dilation, groups):
        kh, kw = weight.shape[2:]
        ho, wo = output_size(x.shape[2:], (kh, kw), stride, padding, dilation)
        ctx.x_shape, ctx.w_shape, ctx.groups = x.shape, weight.shape, groups
        ctx.kernel, ctx.stride, ctx.padding, ctx.dilation = (kh, kw), stride, padding, dilation
        ctx.out_size = (ho, wo)
        ctx.pointwise = (kh, kw) == (1, 1) and stride == (1, 1) and padding == (0, 0)
        need_x, need_w = ctx.needs_input_grad[:2]
        # the weight gradient needs the input (not its columns, kh*kw times larger:
        # backward copies them again), the input gradient needs the weight
        ctx.save_for_backward(x if need_w else None, weight if need_x else None)

        ctx.winograd = _winograd_pays(get_array_module(x), x.shape, weight.shape, stride,
                                      dilation, groups, (ho, wo), x.dtype)
        if ctx.pointwise:
            return _pointwise_conv(x, weight, bias, groups)
        if ctx.winograd:
            return _conv_by_winograd(x, weight, bias, padding, (ho, wo))
        return _conv_by_im2col(x, weight, bias, stride, padding, dilation, groups, (ho, wo))

    @staticmethod
    def backward(ctx, grad):
        """out = W cols + b (per group), so with G = dL/dout laid out (Cout, N*Hout*Wout):
            dL/dW    = G @ cols^T            (_grad_weight; cols rebuilt from the input)
            dL/dcols = W^T @ G,   dL/dx = col2im(dL/dcols)   (_grad_input: im2col's adjoint)
            dL/db    = sum of G over n, y, x
        col2im adds each column entry back where im2col copied it from; an input pixel
        seen by several windows collects the sum of their gradients. With stride 1 the
        same dL/dx is a convolution of G with the flipped kernel, whose columns also give
        dL/dW (_grads_by_flipped_kernel). The Winograd route has its own adjoints
        (_winograd.py)."""
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_b = grad.sum(axis=(0, 2, 3)) if need_b else None
        if ctx.x_shape[0] == 0:   # an empty batch: nothing to add up
            xp = get_array_module(grad)
            return (xp.zeros(ctx.x_shape, dtype=grad.dtype) if need_x else None,
                    xp.zeros(ctx.w_shape, dtype=grad.dtype) if need_w else None, grad_b)
        if ctx.winograd:
            return _grads_by_winograd(ctx, grad, x, weight) + (grad_b,)
        if need_x and need_w and _flipped_kernel_pays(ctx, with_weight_grad=True):
            # one set of columns (of G) serves both gradients
            return _grads_by_flipped_kernel(ctx, grad, weight, x) + (grad_b,)
        grad_w = _grad_weight(ctx, grad, x) if need_w else None
        grad_x = _grad_input(ctx, grad, weight) if need_x else None
        return grad_x, grad_w, grad_b

    @staticmethod
    def cost(ctx, inputs, outputs):
        """MACs = N*Cout*Hout*Wout * (Cin/groups)*kh*kw: each output element is a dot
        product over its group's channels and the kernel. A FLOP is a multiply or an add:
        forward 2*MACs (+1 per output for the bias); backward 2*MACs for dL/dx (W^T G)
        and 2*MACs for dL/dW (G cols^T), each counted only when that gradient is needed,
        plus one add per output element for dL/db. These are the direct convolution's
        counts (what papers print) also where the Winograd route multiplies 2.25x fewer.
        Scratch (``transient_bytes``): _scratch_bytes."""
        x, weight, bias = inputs[:3]
        out = outputs[0]
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        macs = int(out.size) * (int(weight.size) // int(weight.shape[0]))
        return Cost(macs=macs,
                    forward_flops=2 * macs + (int(out.size) if bias is not None else 0),
                    backward_input_flops=2 * macs if need_x else 0,
                    backward_weight_flops=(2 * macs if need_w else 0)
                    + (int(out.size) if need_b else 0),
                    transient_bytes=int(_scratch_bytes(ctx, x, weight, out)))


def _scratch_bytes(ctx, x, weight, out):
    """A convolution's scratch, at its largest in backward, per block of b images
    (images_per_block; the whole batch on a GPU) and for every worker at once.

    im2col routes: the block's columns (C*kh*kw, b*Hout*Wout; b*Hout*Wp for
    im2col_flat), its padded input, a contiguous copy of its output gradient, and the
    block's weight gradient (added to the running sum, which becomes dL/dW); col2im's
    buffers are no larger, and where the columns of G give both gradients (stride 1; up
    to twice the input's columns) they count instead, plus the flipped copy of the
    weight, shared by the workers. A pointwise convolution multiplies the input
    directly: a block's per-image weight gradients (b copies of the weight). Winograd:
    _winograd.scratch_elements per block, plus U and the running sum of dU."""
    need_x, need_w = ctx.needs_input_grad[:2]
    xp = get_array_module(x)
    n, c, h, w = x.shape
    c_out = out.shape[1]
    (kh, kw), (ho, wo) = ctx.kernel, ctx.out_size
    if ctx.winograd:
        images = _winograd_grain(n, ctx.out_size)
        workers = min(get_num_threads(), -(-n // images))
        return (workers * winograd.scratch_elements(images, (h, w), ctx.padding, c, c_out)
                + 2 * 16 * c * c_out) * x.itemsize
    hp, wp = padded_size((h, w), ctx.padding)
    width = _columns_width(xp, c_out // ctx.groups, ctx.stride, wo, wp)
    if width != wo:
        hp += 1   # im2col_flat's buffer has a spare row
    cols = c * kh * kw * ho * width     # one image's columns
    flipped = need_x and _flipped_kernel_pays(ctx, with_weight_grad=need_w)
    if flipped:   # the columns of G, wide when im2col_flat pays for them
        back_width = _columns_width(xp, c // ctx.groups, (1, 1), w,
                                    wo + 2 * _back_padding(ctx)[1])
        cols = max(cols, c_out * kh * kw * h * back_width)
    if xp is np:
        images = images_per_block(n, ho * wo, cols * x.itemsize)
        workers = min(get_num_threads(), -(-n // images))
    else:
        images, workers = n, 1
    if ctx.pointwise:
        scratch = images * weight.nbytes if need_w else 0
    else:
        scratch = images * (cols + c * hp * wp + c_out * ho * width) * x.itemsize + weight.nbytes
    scratch *= workers
    if flipped:
        scratch += weight.nbytes
    return scratch


def _same_padding(kernel, dilation, stride):
    """padding='same': d*(k-1) zeros in all along each dimension, half of them before.
    Returns the symmetric padding (half, rounded down) and the one extra row and column
    an odd total puts after the input, as PyTorch does (an even kernel)."""
    if stride != (1, 1):
        raise ValueError(f"conv2d: padding='same' needs stride 1, got stride {stride}")
    total = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return tuple(t // 2 for t in total), tuple(t % 2 for t in total)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as in PyTorch) of ``input`` (N, C, H, W), or
    an unbatched (C, H, W), with ``weight`` (Cout, C/groups, kh, kw). ``stride``,
    ``padding``, ``dilation``: int or pair; ``padding`` may also be 'valid' (no padding)
    or 'same' (stride 1; an odd total padding puts the extra row and column after the
    input, as PyTorch does). ``groups`` splits the channels into independent
    convolutions (groups == C with Cout a multiple of C is a depthwise convolution)."""
    op = 'conv2d'
    check_tensor(input, op)
    check_tensor(weight, op, 'weight')
    if input.ndim == 3:
        return with_batch_dim(conv2d, input, weight, bias, stride, padding, dilation, groups)
    if input.ndim != 4:
        raise ValueError(f'{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got '
                         f'shape {input.shape}')
    if weight.ndim != 4:
        raise ValueError(f'{op}: expected a 4-D weight (Cout, Cin/groups, kh, kw), '
                         f'got shape {weight.shape}')
    if input.dtype != weight.dtype:
        raise TypeError(f'{op}: input is {input.dtype} but weight is {weight.dtype} '
                        f'(input {input.shape}, weight {weight.shape})')
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f'{op}: groups must be a positive int, got {groups!r}')
    n, c, h, w = input.shape
    c_out, c_group, kh, kw = weight.shape
    if c % groups:
        raise ValueError(f'{op}: groups={groups} does not divide the input\'s {c} channels '
                         f'(input {input.shape})')
    if c_out % groups:
        raise ValueError(f'{op}: groups={groups} does not divide the weight\'s {c_out} output '
                         f'channels (weight {weight.shape})')
    if c != c_group * groups:
        raise ValueError(f'{op}: input has {c} channels, weight expects {c_group * groups} '
                         f'(weight {weight.shape}, groups={groups})')
    if bias is not None:
        check_tensor(bias, op, 'bias')
        if bias.shape != (c_out,):
            raise ValueError(f'{op}: bias must have shape ({c_out},) for weight {weight.shape}, '
                             f'got {bias.shape}')
        if bias.dtype != input.dtype:
            raise TypeError(f'{op}: bias is {bias.dtype} but input is {input.dtype}')
    if kh < 1 or kw < 1:
        raise ValueError(f'{op}: kernel size should be greater than zero, got ({kh}, {kw}) '
                         f'(weight {weight.shape})')
    stride = pair(stride, 'stride', op, minimum=1)
    dilation = pair(dilation, 'dilation', op, minimum=1)
    if padding == 'valid':
        padding = (0, 0)
    elif padding == 'same':
        padding, extra = _same_padding((kh, kw), dilation, stride)
        if any(extra):
            input = pad(input, (0, extra[1], 0, extra[0]))
            h, w = input.shape[2:]
    else:
        padding = pair(padding, 'padding', op, minimum=0)
    covered, plane = span((kh, kw), dilation), padded_size((h, w), padding)
    if covered[0] > plane[0] or covered[1] > plane[1]:
        raise ValueError(f'{op}: kernel ({kh}, {kw}) spans {covered} with dilation {dilation}, '
                         f'larger than the padded input {plane} (input {input.shape}, '
                         f'padding {padding})')
    return Conv2d.apply(input, weight, bias, stride=stride, padding=padding,
                        dilation=dilation, groups=groups)

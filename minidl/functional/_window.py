"""The geometry of a sliding window, shared by convolution and pooling.

A window of ``kernel`` (kh, kw) moves over a (H, W) plane padded by ``padding`` (ph, pw)
in steps of ``stride`` (sh, sw), its taps ``dilation`` (dh, dw) apart; (Ho, Wo) is the
number of positions. Window (y, x) reads, at kernel offset (i, j), the padded pixel

    (y*sh + i*dh, x*sw + j*dw)

Here live the facts both operator families use: the checked (h, w) pairs of their
settings (``pair``), the output size (``output_size``), the padded buffer (``padded``),
the strided view of every window (``windows``; ``flat_windows`` for stride 1 over
flattened rows), and for the CUDA kernels of conv.py and
pooling.py the same geometry as twelve int32 scalars (``WINDOW_PARAMS``).
"""
from numbers import Integral

from ..backend import get_array_module


def pair(value, name, op, minimum=None):
    """(v, v) from an int, or the pair itself, each at least ``minimum`` when given; for
    kernel sizes, strides, padding and dilation. Errors name ``op`` and the argument."""
    if isinstance(value, int):
        values = (value, value)
    else:
        values = tuple(value)
        if len(values) == 1:
            values = values * 2
        if len(values) != 2 or not all(isinstance(v, int) for v in values):
            raise ValueError(f'{op}: {name} must be an int or a pair of ints, got {values!r}')
    if minimum is not None and min(values) < minimum:
        raise ValueError(f'{op}: {name} must be >= {minimum}, got {value!r}')
    return values


_SIZE_ARGS = ('size', 'kernel', 'stride', 'padding', 'dilation')


def output_size(size, kernel, stride=1, padding=0, dilation=1, ceil_mode=False):
    """Number of window positions along one dimension (PyTorch's Conv2d and MaxPool2d
    docs, "Shape"):

        out = floor_or_ceil((size + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1

    rounding down, or up with ``ceil_mode``, where a last window that would start in the
    right padding is dropped (``if (out - 1)*stride >= size + padding: out -= 1``), so
    every window starts inside the input or its left padding.

    Takes ints (returns an int) or any argument as a pair (returns a pair), e.g.
    output_size((224, 224), 7, 2, 3) == (112, 112).
    """
    args = (size, kernel, stride, padding, dilation)
    if not all(isinstance(a, Integral) for a in args):
        pairs = [pair(a, name, 'output_size') for a, name in zip(args, _SIZE_ARGS)]
        return tuple(output_size(*(p[d] for p in pairs), ceil_mode=ceil_mode)
                     for d in range(2))
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def span(kernel, dilation):
    """The (rows, columns) one window covers: dilation*(kernel - 1) + 1."""
    return tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))


def reach(kernel, stride, dilation, out_size):
    """The (rows, columns) of the padded plane that ``out_size`` windows read: the last
    window starts at (out - 1)*stride."""
    return tuple((o - 1) * s + covered
                 for s, o, covered in zip(stride, out_size, span(kernel, dilation)))


def padded_size(size, padding, extent=None):
    """The (rows, columns) of ``padded``'s buffer for an input plane of ``size``."""
    if extent is None:
        return tuple(s + 2 * p for s, p in zip(size, padding))
    return tuple(max(e, s + p) for s, p, e in zip(size, padding, extent))


def padded(x, padding, fill=0, extent=None):
    """x (..., H, W) inside a buffer filled with ``fill``: ``padding`` (ph, pw) rows and
    columns before it, and after it as many again or, when ``extent`` (from ``reach``)
    is given, only as many as the windows read (ceil_mode's last window may read more).
    x itself when nothing is added."""
    size = x.shape[-2:]
    rows, cols = padded_size(size, padding, extent)
    if (rows, cols) == size and not any(padding):
        return x
    xp = get_array_module(x)
    shape = x.shape[:-2] + (rows, cols)
    buf = xp.zeros(shape, dtype=x.dtype) if fill == 0 else xp.full(shape, fill, dtype=x.dtype)
    (ph, pw), (h, w) = padding, size
    buf[..., ph:ph + h, pw:pw + w] = x
    return buf


def windows(buf, kernel, stride, dilation, out_size):
    """Every window of a padded plane ``buf`` (..., Hp, Wp) as a view (no data moves) of
    shape (..., kh, kw, Ho, Wo):

        windows(buf)[..., i, j, y, x] = buf[..., y*sh + i*dh, x*sw + j*dw]

    ``[..., i, j, :, :]`` is what kernel offset (i, j) sees in every window, a strided
    slice; conv's im2col copies the whole view once (transposed), pooling runs over the
    offsets. The view is writeable; windows overlap when stride < span, so only one
    offset at a time should be written to."""
    xp = get_array_module(buf)
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_size
    s_h, s_w = buf.strides[-2:]
    return xp.lib.stride_tricks.as_strided(
        buf, shape=buf.shape[:-2] + (kh, kw, ho, wo),
        strides=buf.strides[:-2] + (dh * s_h, dw * s_w, sh * s_h, sw * s_w))


def flat_padded(x, padding):
    """x (..., H, W) in a zeroed buffer (..., Hp + 1, Wp): ``padded`` with one spare row
    below, which ``flat_windows`` needs (the last row's wasted positions read past the
    plane by up to (kw - 1)*dw elements, fewer than one row)."""
    xp = get_array_module(x)
    (h, w), (ph, pw) = x.shape[-2:], padding
    buf = xp.zeros(x.shape[:-2] + (h + 2 * ph + 1, w + 2 * pw), dtype=x.dtype)
    buf[..., ph:ph + h, pw:pw + w] = x
    return buf


def flat_windows(buf, kernel, dilation, out_rows):
    """The windows of a stride-1 window operator over flattened rows, a view of shape
    (..., kh, kw, out_rows*Wp) of a C-contiguous plane ``buf`` (..., rows, Wp):

        flat_windows(buf)[..., i, j, q] = buf.flat_per_plane[q + i*dh*Wp + j*dw]

    Window (y, x) sits at position q = y*Wp + x, and offset (i, j) reads padded pixel
    (y + i*dh, x + j*dw), flat index q + i*dh*Wp + j*dw: each offset sees ONE contiguous
    run of out_rows*Wp elements (``windows`` gives Ho runs of Wo). Positions x >= Wo are
    not windows (they wrap into the next row): whoever uses them drops them. ``buf`` needs
    rows >= out_rows + (kh - 1)*dh + 1 (``flat_padded``)."""
    xp = get_array_module(buf)
    (kh, kw), (dh, dw) = kernel, dilation
    s_h, s_w = buf.strides[-2:]
    width = buf.shape[-1]
    assert s_h == width * s_w and buf.shape[-2] >= out_rows + (kh - 1) * dh + 1
    return xp.lib.stride_tricks.as_strided(
        buf, shape=buf.shape[:-2] + (kh, kw, out_rows * width),
        strides=buf.strides[:-2] + (dh * s_h, dw * s_w, s_w))


# ---------------------------------------------------------------- for the CUDA kernels

WINDOW_PARAMS = ('int32 H, int32 W, int32 Ho, int32 Wo, int32 kh, int32 kw, '
                 'int32 sh, int32 sw, int32 ph, int32 pw, int32 dh, int32 dw')


def window_args(input_hw, out_hw, kernel, stride, padding, dilation):
    """The twelve scalars of WINDOW_PARAMS, in order."""
    return (*input_hw, *out_hw, *kernel, *stride, *padding, *dilation)


def windows_reading_pixel(body):
    """CUDA source that runs ``body`` for every window (y, x) and kernel offset (ki, j)
    that reads input pixel (h, w): the gather loop of a window operator's backward.
    Offset (ki, j) of window (y, x) reads padded row y*sh + ki*dh, so pixel row h (padded
    row h + ph) is read when h + ph - ki*dh is a non-negative multiple of sh below Ho*sh."""
    return f'''
    for (int ki = 0; ki < kh; ++ki) {{
        int y = h + ph - ki * dh;
        if (y < 0 || y % sh != 0) continue;
        y /= sh;
        if (y >= Ho) continue;
        for (int j = 0; j < kw; ++j) {{
            int x = w + pw - j * dw;
            if (x < 0 || x % sw != 0) continue;
            x /= sw;
            if (x >= Wo) continue;
            {body}
        }}
    }}'''

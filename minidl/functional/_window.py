"""The geometry of a sliding window, shared by convolution and pooling.

A window of ``kernel`` (kh, kw) moves over a (H, W) plane padded by ``padding`` (ph, pw)
in steps of ``stride`` (sh, sw), its taps ``dilation`` (dh, dw) apart; (Ho, Wo) is the
number of positions. The CUDA kernels of conv.py and pooling.py take this geometry as
twelve int32 scalars.
"""

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

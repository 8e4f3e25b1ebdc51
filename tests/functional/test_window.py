"""The window geometry convolution and pooling share (functional/_window.py): the strided
view of the windows over a padded plane, the output size, the argument checks."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minidl.functional._window import output_size, pair, padded, reach, windows
from tests.functional.kernels import windows as window_configs


@settings(max_examples=20, deadline=None)
@given(window_configs(), st.booleans(), st.sampled_from([0.0, -np.inf]))
def test_windows_view_reads_the_padded_pixels_of_every_window(config, ceil_mode, fill):
    shape, kernel, stride, padding, dilation = config
    x = np.random.default_rng(0).standard_normal(shape)
    out = output_size(shape[2:], kernel, stride, padding, dilation, ceil_mode)
    # ceil_mode's last window may reach past the symmetric padding: padded to its reach
    extent = reach(kernel, stride, dilation, out) if ceil_mode else None
    buf = padded(x, padding, fill, extent)
    view = windows(buf, kernel, stride, dilation, out)
    assert view.shape == shape[:2] + kernel + out
    (ph, pw), (h, w) = padding, shape[2:]
    for i, j, y, xx in np.ndindex(*kernel, *out):
        row, col = y * stride[0] + i * dilation[0], xx * stride[1] + j * dilation[1]
        inside = ph <= row < ph + h and pw <= col < pw + w
        expected = x[:, :, row - ph, col - pw] if inside else np.full(shape[:2], fill)
        np.testing.assert_array_equal(view[:, :, i, j, y, xx], expected)
    # with pooling's padding (at most half the kernel), ceil_mode adds no window that
    # starts in the right padding (PyTorch's rule)
    if ceil_mode and all(p <= k // 2 for p, k in zip(padding, kernel)):
        assert all((o - 1) * s < size + p for o, s, size, p in zip(out, stride, (h, w), padding))


def test_padded_is_the_input_itself_when_nothing_is_added():
    x = np.ones((1, 2, 3, 3))
    assert padded(x, (0, 0)) is x
    assert padded(x, (0, 0), extent=(2, 3)) is x
    assert padded(x, (0, 0), extent=(4, 3)).shape == (1, 2, 4, 3)


def test_output_size_on_ints_and_pairs():
    assert output_size(224, 7, 2, 3) == 112
    assert output_size((224, 225), 3, (2, 1), 1) == (112, 225)
    assert output_size(6, 3, 2, 0) == 2
    assert output_size(6, 3, 2, 0, ceil_mode=True) == 3
    assert output_size(5, 2, 2, 1, ceil_mode=True) == 3   # a 4th would start in the right padding


def test_pair_names_the_operator_and_the_argument():
    assert pair(3, 'stride', 'op') == (3, 3) and pair([2], 'stride', 'op') == (2, 2)
    with pytest.raises(ValueError, match=r'op: stride must be an int or a pair of ints'):
        pair((1, 2, 3), 'stride', 'op')
    with pytest.raises(ValueError, match=r'op: padding must be >= 0, got \(1, -1\)'):
        pair((1, -1), 'padding', 'op', minimum=0)

"""Conv2d against torch.nn.Conv2d: weights, outputs, gradients, init, repr, errors."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
import minidl.nn as nn
from tests.nn.common import assert_same_state_layout, compare_with_torch
from tests.parity import require_torch


@st.composite
def conv_configs(draw):
    groups = draw(st.sampled_from([1, 1, 2]))
    cin = groups * draw(st.integers(1, 2))
    cout = groups * draw(st.integers(1, 3))
    kernel = draw(st.sampled_from([1, 2, 3, (1, 3), (3, 2)]))
    stride = draw(st.sampled_from([1, 2, (2, 1)]))
    padding = draw(st.sampled_from([0, 1, (1, 0), 'valid']))
    dilation = draw(st.sampled_from([1, 2]))
    bias = draw(st.booleans())
    return dict(in_channels=cin, out_channels=cout, kernel_size=kernel, stride=stride,
                padding=padding, dilation=dilation, groups=groups, bias=bias)


@settings(max_examples=15, deadline=None)
@given(config=conv_configs(), dtype=st.sampled_from([np.float32, np.float64]))
def test_conv2d_matches_torch(config, dtype):
    torch = require_torch()
    ours, theirs = nn.Conv2d(**config), torch.nn.Conv2d(**config)
    assert_same_state_layout(ours, theirs)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(2).standard_normal((2, config['in_channels'], 7, 6))
    compare_with_torch(ours, theirs, [x], dtype=dtype)


def test_conv2d_same_padding_and_reverse_loading():
    torch = require_torch()
    ours, theirs = nn.Conv2d(2, 3, (3, 5), padding='same'), torch.nn.Conv2d(2, 3, (3, 5), padding='same')
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 6))
    compare_with_torch(ours, theirs, [x], load='ours_to_torch')


def test_conv2d_default_init():
    m = nn.Conv2d(16, 32, 3)
    fan_in = 16 * 9
    bound = 1 / math.sqrt(fan_in)
    w = m.weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(m.bias.numpy()).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.03 * bound


def test_conv2d_unbatched_input_and_even_kernel_same_padding():
    torch = require_torch()
    x = np.random.default_rng(1).standard_normal((4, 3, 4))
    for kwargs in (dict(kernel_size=3), dict(kernel_size=(2, 3), padding='same'),
                   dict(kernel_size=2, padding='same', dilation=3)):
        compare_with_torch(nn.Conv2d(4, 5, **kwargs), torch.nn.Conv2d(4, 5, **kwargs), [x],
                           dtype=np.float64)


@pytest.mark.parametrize('kwargs, message', [
    (dict(kernel_size=0), r'kernel_size must be >= 1, got 0'),
    (dict(kernel_size=(3, -1)), r'kernel_size must be >= 1, got \(3, -1\)'),
    (dict(kernel_size=3, groups=0), r'groups must be a positive integer, got 0'),
    (dict(kernel_size=3, groups=-2), r'groups must be a positive integer, got -2'),
    (dict(kernel_size=3, out_channels=-4), r'out_channels must be a non-negative integer, got -4'),
    (dict(kernel_size=3, in_channels=-3), r'in_channels must be a non-negative integer, got -3'),
    (dict(kernel_size=3, stride=0), r'stride must be >= 1, got 0'),
    (dict(kernel_size=3, dilation=(1, 0)), r'dilation must be >= 1, got \(1, 0\)'),
    (dict(kernel_size=3, padding=-1), r'padding must be >= 0, got -1'),
])
def test_conv2d_refuses_bad_settings(kwargs, message):
    """What PyTorch refuses (at construction or at the first forward) is refused at
    construction, naming the layer, the setting and the value."""
    args = dict(in_channels=3, out_channels=4)
    args.update(kwargs)
    with pytest.raises(ValueError, match='^Conv2d: ' + message):
        nn.Conv2d(**args)


def test_conv2d_errors():
    with pytest.raises(ValueError, match='groups=2 must divide in_channels=3'):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="invalid padding string 'full'"):
        nn.Conv2d(3, 4, 3, padding='full')
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding='same')
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode='reflect')
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(3, 4, 3))
    with pytest.raises(ValueError, match=r'^1 \(Conv2d\): conv2d: input has 4 channels, weight '
                                         r'expects 3 \(weight \(4, 3, 3, 3\), groups=1\)'):
        net(minidl.ones(1, 3, 8, 8))

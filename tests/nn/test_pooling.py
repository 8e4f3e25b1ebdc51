"""Pooling layers against torch.nn."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
import minidl.nn as nn
from tests.nn.common import compare_with_torch
from tests.parity import require_torch


@settings(max_examples=12, deadline=None)
@given(kernel=st.sampled_from([2, 3, (2, 3)]), stride=st.sampled_from([None, 1, 2]),
       padding=st.sampled_from([0, 1]), ceil_mode=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_max_and_avg_pool_match_torch(kernel, stride, padding, ceil_mode, dtype):
    torch = require_torch()
    x = np.random.default_rng(3).standard_normal((2, 3, 7, 8))
    for ours, theirs in [(nn.MaxPool2d(kernel, stride, padding, ceil_mode=ceil_mode),
                          torch.nn.MaxPool2d(kernel, stride, padding, ceil_mode=ceil_mode)),
                         (nn.AvgPool2d(kernel, stride, padding, ceil_mode=ceil_mode),
                          torch.nn.AvgPool2d(kernel, stride, padding, ceil_mode=ceil_mode))]:
        assert repr(ours) == repr(theirs)
        compare_with_torch(ours, theirs, [x], dtype=dtype)


@pytest.mark.parametrize('output_size', [1, 3, (2, 5), (None, 2)])
def test_adaptive_pools_match_torch(output_size):
    torch = require_torch()
    x = np.random.default_rng(4).standard_normal((2, 2, 7, 9))
    for ours, theirs in [(nn.AdaptiveAvgPool2d(output_size), torch.nn.AdaptiveAvgPool2d(output_size)),
                         (nn.AdaptiveMaxPool2d(output_size), torch.nn.AdaptiveMaxPool2d(output_size))]:
        assert repr(ours) == repr(theirs)
        for dtype in (np.float32, np.float64):
            compare_with_torch(ours, theirs, [x], dtype=dtype)


def test_max_pool_return_indices_and_error_path():
    torch = require_torch()
    x = np.random.default_rng(5).standard_normal((1, 2, 4, 4)).astype(np.float32)
    out, idx = nn.MaxPool2d(2, return_indices=True)(minidl.tensor(x))
    ref, ref_idx = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy())
    np.testing.assert_allclose(out.numpy(), ref.numpy())
    net = nn.Sequential(nn.Identity(), nn.MaxPool2d(2))
    with pytest.raises(ValueError, match=r'^1 \(MaxPool2d\): max_pool2d: expected a 3-D '
                                         r'\(C, H, W\) or 4-D'):
        net(minidl.ones(3, 4))


@pytest.mark.parametrize('ours, theirs', [
    (lambda: nn.MaxPool2d(3, 2, 1), lambda torch: torch.nn.MaxPool2d(3, 2, 1)),
    (lambda: nn.AvgPool2d(2), lambda torch: torch.nn.AvgPool2d(2)),
    (lambda: nn.AdaptiveAvgPool2d((2, 3)), lambda torch: torch.nn.AdaptiveAvgPool2d((2, 3))),
    (lambda: nn.AdaptiveMaxPool2d(2), lambda torch: torch.nn.AdaptiveMaxPool2d(2))])
def test_pools_take_unbatched_input(ours, theirs):
    torch = require_torch()
    x = np.random.default_rng(6).standard_normal((3, 6, 5))
    compare_with_torch(ours(), theirs(torch), [x], dtype=np.float64)

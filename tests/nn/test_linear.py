"""Linear, Identity, Flatten, Unflatten against torch.nn."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
import minidl.nn as nn
from tests.nn.common import assert_same_state_layout, compare_with_torch
from tests.parity import require_torch


@settings(max_examples=12, deadline=None)
@given(batch=st.lists(st.integers(1, 3), min_size=1, max_size=2),
       features=st.tuples(st.integers(1, 6), st.integers(1, 6)), bias=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_linear_matches_torch(batch, features, bias, dtype):
    torch = require_torch()
    ours, theirs = nn.Linear(*features, bias=bias), torch.nn.Linear(*features, bias=bias)
    assert_same_state_layout(ours, theirs)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(1).standard_normal((*batch, features[0]))
    compare_with_torch(ours, theirs, [x], dtype=dtype)


def test_linear_default_init_is_uniform_within_one_over_sqrt_fan_in():
    m = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = m.weight.numpy(), m.bias.numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert abs(w.mean()) < 0.01 * bound
    minidl.manual_seed(3)
    first = nn.Linear(4, 2).weight.numpy()
    minidl.manual_seed(3)
    np.testing.assert_array_equal(first, nn.Linear(4, 2).weight.numpy())


def test_linear_factory_dtype_and_error():
    m = nn.Linear(3, 2, dtype=minidl.float64)
    assert m.weight.dtype == np.float64 and m.bias.dtype == np.float64
    with pytest.raises(ValueError, match=r'^Linear: linear: input has 4 features \(shape \(2, 4\)\), '
                                         r'weight expects 3'):
        m(minidl.ones(2, 4, dtype=minidl.float64))


def test_identity_flatten_unflatten():
    torch = require_torch()
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    for ours, theirs in [(nn.Identity(7, k=1), torch.nn.Identity(7, k=1)),
                         (nn.Flatten(), torch.nn.Flatten()),
                         (nn.Flatten(0, 2), torch.nn.Flatten(0, 2))]:
        assert repr(ours) == repr(theirs)
        compare_with_torch(ours, theirs, [x])
    compare_with_torch(nn.Unflatten(1, (3, 1)), torch.nn.Unflatten(1, (3, 1)), [x])
    compare_with_torch(nn.Unflatten(-1, (5, 1)), torch.nn.Unflatten(-1, (5, 1)), [x])
    assert repr(nn.Unflatten(1, (3, 1))) == repr(torch.nn.Unflatten(1, (3, 1)))
    with pytest.raises(ValueError, match='Unflatten'):
        nn.Unflatten(1, (2, 2))(minidl.ones(2, 3))


def test_linear_refuses_bad_sizes_and_mixed_dtypes_naming_the_layer():
    for args, message in (((3, -4), 'out_features must be a non-negative integer, got -4'),
                          ((-1, 4), 'in_features must be a non-negative integer, got -1')):
        with pytest.raises(ValueError, match='^Linear: ' + message):
            nn.Linear(*args)
    layer = nn.Linear(3, 4)
    for dtype in (np.float64, np.int64):
        with pytest.raises(TypeError, match=rf'^Linear: linear: input is {np.dtype(dtype)} but '
                                            r'weight is float32'):
            layer(minidl.tensor(np.ones((2, 3), dtype)))
    assert layer.double()(minidl.tensor(np.ones((2, 3)))).dtype == np.float64

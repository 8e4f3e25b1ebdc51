"""Elementwise functions of one tensor: gradcheck in float64 and PyTorch parity."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
import minidl.functional as F
from tests.parity import check_gradients, check_torch_parity, require_torch

FAST = settings(max_examples=8, deadline=None)
shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)

# name: how to draw values inside the function's domain (away from its singular points)
DOMAINS = {
    'sin': lambda v: v, 'cos': lambda v: v, 'sinh': lambda v: v, 'cosh': lambda v: v,
    'tan': lambda v: np.clip(v, -1.2, 1.2), 'exp2': lambda v: v, 'expm1': lambda v: v,
    'erf': lambda v: v, 'log2': lambda v: np.abs(v) + 0.2, 'log10': lambda v: np.abs(v) + 0.2,
    'log1p': lambda v: np.abs(v) - 0.7, 'rsqrt': lambda v: np.abs(v) + 0.2,
    'reciprocal': lambda v: np.sign(v) * (np.abs(v) + 0.2),
}
ROUNDING = ['sign', 'floor', 'ceil', 'round', 'trunc']


@pytest.mark.parametrize('name', sorted(DOMAINS))
@FAST
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_unary(name, shape, seed):
    torch = require_torch()
    x = DOMAINS[name](np.random.default_rng(seed).standard_normal(shape))
    check_gradients(getattr(F, name), [x])
    check_torch_parity(getattr(F, name), getattr(torch, name), [x])
    check_torch_parity(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x],
                       dtypes=(np.float64,))


@pytest.mark.parametrize('name', ROUNDING)
def test_rounding_has_zero_gradient(name):
    torch = require_torch()
    x = np.array([[-2.5, -1.7, -0.5, 0.0], [0.3, 0.5, 1.5, 2.5]])   # halves round to even
    check_torch_parity(getattr(F, name), getattr(torch, name), [x])
    check_gradients(getattr(F, name), [x + 0.01])


def test_round_decimals():
    torch = require_torch()
    x = np.array([1.2345, -2.71828, 0.125])
    check_torch_parity(lambda t: F.round(t, decimals=2), lambda t: torch.round(t, decimals=2), [x])


@pytest.mark.parametrize('name', sorted(DOMAINS) + ROUNDING)
def test_integer_inputs_follow_pytorchs_dtypes(name):
    torch = require_torch()
    data = np.array([1, 2, 3, 7])
    ours, theirs = getattr(F, name)(minidl.tensor(data)), getattr(torch, name)(torch.tensor(data))
    assert str(ours.dtype) == str(theirs.dtype).replace('torch.', '')
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_sign_of_nan_is_zero_like_pytorch():
    torch = require_torch()
    x = np.array([np.nan, -np.inf, -2.0, -0.0, 0.0, 3.0, np.inf])
    check_torch_parity(F.sign, torch.sign, [x])

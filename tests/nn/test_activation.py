"""Activation layers against torch.nn."""
import numpy as np
import pytest

import minidl.nn as nn
from tests.nn.common import compare_with_torch
from tests.parity import require_torch

LAYERS = [('ReLU', (), {}), ('ReLU', (True,), {}), ('LeakyReLU', (0.2,), {}),
          ('LeakyReLU', (), {'inplace': True}), ('Sigmoid', (), {}), ('Tanh', (), {}),
          ('Softmax', (1,), {}), ('Softmax', (), {'dim': -1}), ('LogSoftmax', (1,), {}),
          ('LogSoftmax', (), {'dim': 0}), ('GELU', (), {}), ('GELU', ('tanh',), {}),
          ('SiLU', (), {}), ('SiLU', (), {'inplace': True}), ('Softplus', (), {}),
          ('Softplus', (2.0, 1.0), {})]


@pytest.mark.parametrize('name, args, kwargs', LAYERS)
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_activation_matches_torch(name, args, kwargs, dtype):
    torch = require_torch()
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(0).standard_normal((3, 4, 2)) * 3
    inplace = any(a is True for a in args) or kwargs.get('inplace') is True
    # torch cannot differentiate an in-place op on a leaf; minidl ignores inplace
    compare_with_torch(ours, theirs, [x], dtype=dtype, backward=not inplace)


@pytest.mark.parametrize('shape', [(5,), (2, 5), (2, 3, 4), (2, 3, 2, 2)])
def test_softmax_without_dim_picks_torch_legacy_dim(shape):
    torch = require_torch()
    x = np.random.default_rng(1).standard_normal(shape)
    for name in ('Softmax', 'LogSoftmax'):
        with pytest.warns(UserWarning, match='Implicit dimension choice'):
            compare_with_torch(getattr(nn, name)(), getattr(torch.nn, name)(), [x],
                               dtype=np.float64)

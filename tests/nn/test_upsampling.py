"""Upsampling layers against torch.nn."""
import numpy as np
import pytest

import minidl.nn as nn
from tests.nn.common import compare_with_torch
from tests.parity import require_torch

LAYERS = [('Upsample', (), dict(scale_factor=2)), ('Upsample', ((5, 3),), dict(mode='bilinear')),
          ('Upsample', (), dict(scale_factor=(1.5, 2), mode='bilinear', align_corners=True)),
          ('Upsample', (), dict(size=4, mode='nearest-exact')),
          ('UpsamplingNearest2d', (), dict(scale_factor=3)),
          ('UpsamplingBilinear2d', ((4, 6),), {})]


@pytest.mark.parametrize('name, args, kwargs', LAYERS)
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_upsampling_layers_match_torch(name, args, kwargs, dtype):
    torch = require_torch()
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(0).standard_normal((2, 3, 3, 4))
    compare_with_torch(ours, theirs, [x], dtype=dtype)

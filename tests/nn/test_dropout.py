"""Dropout and Dropout2d layers: training vs eval, scaling, channel masks, repr."""
import numpy as np
import pytest

import minidl
import minidl.nn as nn
from tests.parity import require_torch


def test_dropout_training_and_eval():
    layer = nn.Dropout(0.25)
    x = minidl.ones(200, 100)
    out = layer(x).numpy()
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6)
    layer.eval()
    assert layer(x) is x                         # the identity in eval mode, as in PyTorch
    minidl.manual_seed(5)
    first = nn.Dropout(0.5)(x).numpy()
    minidl.manual_seed(5)
    np.testing.assert_array_equal(first, nn.Dropout(0.5)(x).numpy())


def test_dropout_gradient_uses_the_same_mask():
    x = minidl.ones(50, 20, requires_grad=True)
    out = nn.Dropout(0.5)(x)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.numpy())


def test_dropout2d_drops_whole_channels():
    out = nn.Dropout2d(0.5)(minidl.ones(40, 30, 3, 3)).numpy()
    per_channel = out.reshape(40, 30, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    assert 0.4 < (per_channel[..., 0] == 0).mean() < 0.6
    layer = nn.Dropout2d(0.5).eval()
    assert not layer.training


def test_dropout_repr_and_argument_check():
    torch = require_torch()
    for ours, theirs in [(nn.Dropout(), torch.nn.Dropout()),
                         (nn.Dropout2d(0.1, inplace=True), torch.nn.Dropout2d(0.1, inplace=True))]:
        assert repr(ours) == repr(theirs)
    with pytest.raises(ValueError, match='between 0 and 1, but got 1.5'):
        nn.Dropout(1.5)

"""Gradient clipping against torch.nn.utils."""
import math

import numpy as np
import pytest

import minidl
import minidl.nn as nn
from tests.parity import require_torch


def _twins(torch, dtype=np.float64, scale=1.0, seed=0):
    """Parameters with gradients (one without), in minidl and PyTorch."""
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (4,), (2, 2, 2)]
    grads = [rng.standard_normal(s).astype(dtype) * scale for s in shapes]
    ours = [minidl.tensor(np.ones(s, dtype), requires_grad=True) for s in shapes + [(2,)]]
    theirs = [torch.ones(s, dtype=getattr(torch, str(np.dtype(dtype))), requires_grad=True)
              for s in shapes + [(2,)]]
    for o, t, g in zip(ours, theirs, grads):
        o.grad, t.grad = minidl.tensor(g), torch.tensor(g)
    return ours, theirs


@pytest.mark.parametrize('norm_type', [2.0, 1, 3.5, math.inf, -math.inf, 0])
@pytest.mark.parametrize('max_norm', [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = require_torch()
    for dtype in (np.float32, np.float64):
        ours, theirs = _twins(torch, dtype)
        total = nn.utils.clip_grad_norm_(iter(ours), max_norm, norm_type=norm_type, foreach=True)
        expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
        assert total.dtype == np.dtype(dtype) and total.ndim == 0
        np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
        for o, t in zip(ours, theirs):
            if t.grad is None:
                assert o.grad is None
            else:
                np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-6)


def test_clip_grad_norm_of_one_tensor_none_and_nonfinite():
    torch = require_torch()
    w = minidl.tensor([3.0, 4.0], requires_grad=True)
    w.grad = minidl.tensor([3.0, 4.0])
    assert nn.utils.clip_grad_norm_(w, 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(w.grad.numpy(), np.array([3.0, 4.0]) / (5 + 1e-6), rtol=1e-6)
    assert nn.utils.clip_grad_norm_([minidl.zeros(2, requires_grad=True)], 1.0).item() == 0.0
    w.grad = minidl.tensor([np.nan, 1.0])
    with pytest.raises(RuntimeError, match='clip_grad_norm_: the total norm of order 2.0 for '
                                           'gradients from `parameters` is non-finite'):
        nn.utils.clip_grad_norm_(w, 1.0, error_if_nonfinite=True)
    assert np.isnan(w.grad.numpy()[0]) and w.grad.numpy()[1] == 1.0     # unchanged
    assert np.isnan(nn.utils.clip_grad_norm_(w, 1.0).item())             # as PyTorch
    with pytest.warns(FutureWarning, match='clip_grad_norm` is now deprecated'):
        nn.utils.clip_grad_norm(w, 1.0)


def test_clip_grad_value_matches_torch():
    torch = require_torch()
    ours, theirs = _twins(torch, scale=3.0)
    assert nn.utils.clip_grad_value_(ours, 1.5) is None
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for o, t in zip(ours[:3], theirs[:3]):
        np.testing.assert_array_equal(o.grad.numpy(), t.grad.numpy())
    assert np.abs(ours[0].grad.numpy()).max() == 1.5


def test_clipping_is_not_recorded_and_keeps_training():
    model = nn.Linear(3, 2)
    model(minidl.randn(4, 3)).pow(2).sum().backward()
    before = [p.grad.numpy() for p in model.parameters()]
    total = nn.utils.clip_grad_norm_(model.parameters(), 1e-3)
    assert not total.requires_grad
    scale = 1e-3 / (total.item() + 1e-6)
    for p, g in zip(model.parameters(), before):
        np.testing.assert_allclose(p.grad.numpy(), g * scale, rtol=1e-5)
        assert p.is_leaf and p.requires_grad

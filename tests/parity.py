"""Shared checks for operator tests: float64 gradcheck and PyTorch parity.

    check_gradients(F.conv2d, [x, w], stride=2)              # gradcheck in float64
    check_torch_parity(F.conv2d, torch.nn.functional.conv2d, [x, w], stride=2)

``arrays`` are NumPy arrays; floating ones become tensors that require grad (pass
``requires_grad=[...]`` to choose), others (class indices) pass through as tensors
without grad. Keyword arguments go to both functions unchanged.
"""
import os

import numpy as np
import pytest

import minidl
from minidl.backend import to_device

DEVICE = 'cpu'  # set by conftest from --device

TOLERANCES = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-7, atol=1e-9)}


def require_torch():
    """The torch module; skips the test when it is missing, unless CI demands it."""
    try:
        import torch
    except ImportError:
        if os.environ.get('MINIDL_REQUIRE_TORCH') == '1':
            pytest.fail('MINIDL_REQUIRE_TORCH=1 but PyTorch is not installed')
        pytest.skip('PyTorch is not installed')
    return torch


def on_device(array):
    return to_device(array, DEVICE)


def _grad_mask(arrays, requires_grad):
    if requires_grad is None:
        return [np.asarray(a).dtype.kind == 'f' for a in arrays]
    return list(requires_grad)


def to_minidl(arrays, dtype, requires_grad=None):
    mask = _grad_mask(arrays, requires_grad)
    out = []
    for a, need in zip(arrays, mask):
        a = np.asarray(a)
        if a.dtype.kind == 'f':
            a = a.astype(dtype)
        out.append(minidl.tensor(on_device(a), requires_grad=bool(need)))
    return out


def check_gradients(fn, arrays, requires_grad=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                    fast_mode=False, **kwargs):
    """gradcheck ``fn(*tensors, **kwargs)`` in float64."""
    tensors = to_minidl(arrays, np.float64, requires_grad)
    return minidl.gradcheck(lambda *t: fn(*t, **kwargs), tensors, eps=eps, atol=atol,
                            rtol=rtol, fast_mode=fast_mode)


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def check_torch_parity(fn, torch_fn, arrays, requires_grad=None,
                       dtypes=(np.float32, np.float64), rtol=None, atol=None,
                       torch_kwargs=None, upstream=None, **kwargs):
    """Forward outputs and input gradients of ``fn`` equal ``torch_fn``'s, in each dtype.

    The gradient arriving at each output is random, or ``upstream`` (one array per
    output) when given. Also checks that ``fn`` leaves its inputs unmodified.
    """
    torch = require_torch()
    torch_device = 'cuda' if DEVICE == 'cuda' else 'cpu'
    mask = _grad_mask(arrays, requires_grad)
    for dtype in dtypes:
        tol = dict(TOLERANCES[dtype])
        if rtol is not None:
            tol['rtol'] = rtol
        if atol is not None:
            tol['atol'] = atol
        ours = to_minidl(arrays, dtype, mask)
        before = [t.numpy() for t in ours]
        theirs = []
        for a, need in zip(arrays, mask):
            a = np.asarray(a)
            if a.dtype.kind == 'f':
                a = a.astype(dtype)
            t = torch.tensor(a, device=torch_device)
            theirs.append(t.requires_grad_(True) if need else t)
        out = _as_tuple(fn(*ours, **kwargs))
        ref = _as_tuple(torch_fn(*theirs, **(kwargs if torch_kwargs is None else torch_kwargs)))
        assert len(out) == len(ref), f'{len(out)} outputs, PyTorch gives {len(ref)}'
        rng = np.random.default_rng(1)
        cotangents = []
        for k, (o, r) in enumerate(zip(out, ref)):
            r_np = r.detach().cpu().numpy()
            assert o.shape == tuple(r_np.shape), f'output {k}: shape {o.shape} vs PyTorch {tuple(r_np.shape)}'
            np.testing.assert_allclose(o.numpy(), r_np, err_msg=f'output {k} ({np.dtype(dtype)})', **tol)
            cotangent = rng.standard_normal(o.shape) if upstream is None else upstream[k]
            cotangents.append(np.asarray(cotangent, dtype=dtype)
                              if (o.requires_grad and r.requires_grad) else None)
        for t, b in zip(ours, before):
            np.testing.assert_array_equal(t.numpy(), b, err_msg='the operator modified its input')
        pairs = [(o, r, v) for o, r, v in zip(out, ref, cotangents) if v is not None]
        if not pairs:
            continue
        for k, (o, r, v) in enumerate(pairs):
            o.backward(on_device(v), retain_graph=k < len(pairs) - 1)
        torch.autograd.backward([r for _, r, _ in pairs],
                                [torch.tensor(v, device=torch_device) for _, _, v in pairs])
        for k, (t, r, need) in enumerate(zip(ours, theirs, mask)):
            if not need:
                continue
            if r.grad is None:
                assert t.grad is None or not np.any(t.grad.numpy()), f'input {k}: PyTorch has no gradient'
                continue
            assert t.grad is not None, f'input {k}: no gradient, PyTorch has one'
            assert t.grad.dtype == t.dtype, f'input {k}: gradient dtype {t.grad.dtype} vs {t.dtype}'
            np.testing.assert_allclose(t.grad.numpy(), r.grad.cpu().numpy(),
                                       err_msg=f'gradient of input {k} ({np.dtype(dtype)})', **tol)
        for t, b in zip(ours, before):
            np.testing.assert_array_equal(t.numpy(), b, err_msg='backward modified an input')

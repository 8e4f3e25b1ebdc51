"""Helpers for the layer tests: run a minidl layer and its torch.nn twin side by side.

The twin gets our weights (via state_dict, so key names are checked on the way), both
run the same input, and outputs and gradients (of the input and of every parameter)
are compared.
"""
import numpy as np

import minidl
from tests import parity
from tests.models.common import require_twins
from tests.parity import TOLERANCES, on_device, require_torch


def assert_same_state_layout(ours, theirs):
    mine = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    ref = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert list(mine) == list(ref), f'state_dict keys differ: ours {list(mine)}, torch {list(ref)}'
    assert mine == ref, f'state_dict shapes differ: ours {mine}, torch {ref}'
    assert (sum(p.numel() for p in ours.parameters())
            == sum(p.numel() for p in theirs.parameters()))


def compare_with_torch(ours, theirs, inputs, dtype=np.float32, train=True, backward=True,
                       rtol=None, atol=None, load='torch_to_ours'):
    """Copy the weights one way (``load``: 'torch_to_ours' or 'ours_to_torch'), run both
    on ``inputs`` (NumPy arrays; floating ones require grad), compare outputs and the
    gradients of a random cotangent with respect to inputs and parameters."""
    torch = require_torch()
    tol = dict(TOLERANCES[dtype])
    if rtol is not None:
        tol['rtol'] = rtol
    if atol is not None:
        tol['atol'] = atol
    torch_dtype = torch.float32 if dtype == np.float32 else torch.float64
    theirs = theirs.to(torch_dtype)
    ours = ours.to(dtype)
    if load == 'torch_to_ours':
        ours.load_state_dict(theirs.state_dict())
    else:
        theirs.load_state_dict(require_twins().torch_state_dict(ours))
    ours.to(parity.DEVICE)
    ours.train(train)
    theirs.train(train)
    ours.zero_grad(set_to_none=True)     # no gradients left from an earlier call (in
    theirs.zero_grad(set_to_none=True)   # another dtype, on another device)
    ours_in, theirs_in = [], []
    for a in inputs:
        a = np.asarray(a)
        floating = a.dtype.kind == 'f'
        if floating:
            a = a.astype(dtype)
        ours_in.append(minidl.tensor(on_device(a), requires_grad=floating and backward))
        theirs_in.append(torch.tensor(a, requires_grad=floating and backward))
    out = ours(*ours_in)
    ref = theirs(*theirs_in)
    assert out.dtype == np.dtype(dtype), f'output dtype {out.dtype}, expected {np.dtype(dtype)}'
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), err_msg='forward', **tol)
    if not backward:
        return ours, theirs
    v = np.random.default_rng(7).standard_normal(out.shape).astype(dtype)
    out.backward(on_device(v))
    ref.backward(torch.tensor(v))
    for k, (t, r) in enumerate(zip(ours_in, theirs_in)):
        if r.grad is not None:
            np.testing.assert_allclose(t.grad.numpy(), r.grad.numpy(),
                                       err_msg=f'gradient of input {k}', **tol)
    ref_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), ref_params[name].grad.numpy(),
                                   err_msg=f'gradient of {name}', **tol)
    return ours, theirs

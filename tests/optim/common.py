"""Helpers for the optimizer tests: a minidl model and its torch twin trained side by side.

Both get the same weights, the same batches and an optimizer each; after every step the
parameters are compared. State dicts move between the two libraries with
``to_torch_state_dict`` (ours, arrays as torch tensors) and ``load_state_dict`` (torch's,
as it is).
"""
import numpy as np

import minidl
import minidl.functional as F
import minidl.nn as nn
from minidl.backend import to_device
from tests import parity
from tests.functional.kernels import TOL
from tests.parity import require_torch

# float64 within 1e-10; float32 within 1e-5, absolute or relative (the two libraries' BLAS
# sum the gradient in different orders, and a centred RMSprop divides by a difference)
PARAM_TOL = {np.float64: dict(rtol=0, atol=1e-10), np.float32: dict(rtol=1e-5, atol=1e-5)}


def mlp(nn):
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))


def make_twins(dtype):
    """Our MLP (on the test device) and torch's, with the same weights in ``dtype``."""
    torch = require_torch()
    theirs = mlp(torch.nn).to(torch.float32 if dtype == np.float32 else torch.float64)
    ours = mlp(nn).to(dtype)
    ours.load_state_dict(theirs.state_dict())
    return ours.to(parity.DEVICE), theirs


def groups(model, **second):
    """Two groups: the first layer with the optimizer's defaults, the last with ``second``."""
    return [{'params': model[0].parameters()}, {'params': model[2].parameters(), **second}]


def config_id(config):
    """A test id from an options dict: 'momentum=0.9,nesterov=True'."""
    return ','.join(f'{k}={v}' for k, v in config.items())


def follow_torch(ours_class, dtype, second_group, steps=20, **options):
    """Our ``ours_class`` and torch's namesake, each with two groups (both with
    ``options``, the second also with ``second_group``), trained side by side for
    ``steps`` steps on twin models, the parameters compared after every step. Returns
    our model and optimizer."""
    torch = require_torch()
    ours, theirs = make_twins(dtype)
    opt = ours_class(groups(ours, **second_group), **options)
    ref = getattr(torch.optim, ours_class.__name__)(groups(theirs, **second_group), **options)
    train_side_by_side(ours, theirs, opt, ref, steps, dtype)
    return ours, opt


def train_side_by_side(ours, theirs, opt, ref, steps, dtype, seed=0, check=True):
    """``steps`` steps of both models on the same random regression batches; with ``check``
    the parameters must agree within PARAM_TOL[dtype] after every step."""
    torch = require_torch()
    rng = np.random.default_rng(seed)
    for step in range(steps):
        x = rng.standard_normal((8, 3)).astype(dtype)
        y = rng.standard_normal((8, 2)).astype(dtype)
        opt.zero_grad()
        F.mse_loss(ours(minidl.tensor(parity.on_device(x))),
                   minidl.tensor(parity.on_device(y))).backward()
        opt.step()
        ref.zero_grad()
        torch.nn.functional.mse_loss(theirs(torch.tensor(x)), torch.tensor(y)).backward()
        ref.step()
        if check:
            assert_same_parameters(ours, theirs, dtype, f'after step {step + 1}')


def assert_same_parameters(ours, theirs, dtype, when=''):
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        assert p.dtype == np.dtype(dtype)
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), **PARAM_TOL[dtype],
                                   err_msg=f'{name} {when}')


def to_torch_state_dict(state_dict):
    """Our optimizer state dict with every array as a torch tensor (torch's
    load_state_dict takes tensors only)."""
    torch = require_torch()
    return {'state': {index: {k: torch.from_numpy(np.array(to_device(v, 'cpu')))
                              for k, v in entries.items()}
                      for index, entries in state_dict['state'].items()},
            'param_groups': [dict(g) for g in state_dict['param_groups']]}


def assert_same_layout(ours, theirs):
    """The two optimizers' state dicts have the same group options and per-parameter
    entries: keys, shapes, dtypes, and 'step' a 0-d float32."""
    torch = require_torch()
    mine, ref = ours.state_dict(), theirs.state_dict()
    assert [sorted(g) for g in mine['param_groups']] == [sorted(g) for g in ref['param_groups']]
    assert sorted(mine['state']) == sorted(ref['state'])
    for index, entries in ref['state'].items():
        assert sorted(mine['state'][index]) == sorted(entries), f'parameter {index}'
        for key, value in entries.items():
            array = np.asarray(to_device(mine['state'][index][key], 'cpu'))
            assert array.shape == tuple(value.shape), (index, key)
            assert str(array.dtype) == str(value.dtype).replace('torch.', ''), (index, key)
    steps = [entries['step'] for entries in mine['state'].values() if 'step' in entries]
    assert all(isinstance(s, np.ndarray) and s.shape == () and s.dtype == np.float32
               for s in steps)
    assert all(s.dtype == torch.float32 for e in ref['state'].values() for k, s in e.items()
               if k == 'step')


def check_state_dicts_cross_over(make_ours, make_theirs, dtype=np.float64, steps=10):
    """Train both for ``steps``; load torch's state dict into a fresh minidl optimizer and
    ours into a fresh torch one (each on the other's current weights); then all four go on
    for ``steps`` more and must stay together. ``make_*(model)`` builds an optimizer."""
    ours, theirs = make_twins(dtype)
    opt, ref = make_ours(ours), make_theirs(theirs)
    train_side_by_side(ours, theirs, opt, ref, steps, dtype, seed=1)
    assert_same_layout(opt, ref)

    ours2, theirs2 = make_twins(dtype)
    ours2.load_state_dict(theirs.state_dict())
    theirs2.load_state_dict({k: v.detach().clone() for k, v in theirs.state_dict().items()})
    opt2, ref2 = make_ours(ours2), make_theirs(theirs2)
    opt2.load_state_dict(ref.state_dict())              # torch's into ours
    ref2.load_state_dict(to_torch_state_dict(opt.state_dict()))   # ours into torch
    assert_same_layout(opt2, ref2)

    train_side_by_side(ours, theirs, opt, ref, steps, dtype, seed=2)
    train_side_by_side(ours2, theirs2, opt2, ref2, steps, dtype, seed=2)
    assert_same_parameters(ours2, theirs, dtype, 'ours resumed from torch')
    assert_same_parameters(ours, theirs2, dtype, 'torch resumed from ours')


def check_kernel_follows_generic_path(cp, monkeypatch, make_optimizer, dtype, steps=5):
    """On CuPy (``cp``, the fixture of tests.functional.kernels): the same gradients
    through ``make_optimizer(params)`` with ``use_cuda_kernels`` off (generic array code)
    and on (one kernel per parameter) give the same parameters and state."""
    from minidl import backend
    rng = np.random.default_rng(0)
    start = [cp.asarray(rng.standard_normal(s).astype(dtype)) for s in ((3, 4), (5,))]
    grads = [[cp.asarray(rng.standard_normal(p.shape).astype(dtype)) for p in start]
             for _ in range(steps)]
    runs = []
    for kernels in (False, True):
        monkeypatch.setattr(backend, 'use_cuda_kernels', kernels)
        monkeypatch.setattr(backend, 'use_untested_cuda_kernels', kernels)
        params = [minidl.tensor(p.copy(), requires_grad=True) for p in start]
        opt = make_optimizer(params)
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = minidl.tensor(g.copy())
            opt.step()
        runs.append((params, opt))
    tol = TOL[dtype]
    (generic, generic_opt), (fused, fused_opt) = runs
    for p, q in zip(fused, generic):
        np.testing.assert_allclose(p.numpy(), q.numpy(), **tol)
        mine, theirs = fused_opt.state[p], generic_opt.state[q]
        assert sorted(mine) == sorted(theirs)
        for key in theirs:
            assert mine[key].dtype == theirs[key].dtype, key
            np.testing.assert_allclose(to_device(mine[key], 'cpu'), to_device(theirs[key], 'cpu'),
                                       **tol, err_msg=key)

"""dropout and dropout2d: gradcheck with a fixed mask, the mask's statistics, PyTorch's
scaling and backward on the same mask, identity in evaluation, errors, saved bytes."""
import importlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
from minidl import autograd
from minidl import functional as F
from minidl.functional.dropout import Dropout
from tests.parity import check_gradients, on_device, require_torch
from tests.functional.kernels import (  # noqa: F401 (cp is a fixture)
    KERNEL_SETTINGS, assert_kernel_close, assert_operator_agrees_with_kernels_on_and_off, cp,
    dtypes)

# the module (``minidl.functional.dropout`` as an attribute is the function)
dropout_module = importlib.import_module('minidl.functional.dropout')

SETTINGS = settings(max_examples=20, deadline=None)

probabilities = st.sampled_from([0.1, 0.3, 0.5, 0.8])
dtypes = st.sampled_from([np.float32, np.float64])


def _tensor(array, requires_grad=False):
    return minidl.tensor(on_device(array), requires_grad=requires_grad)


def _seeded(fn, seed=0):
    """fn with the generator reseeded on every call: the same mask in every evaluation
    gradcheck makes."""
    def call(*args, **kwargs):
        minidl.manual_seed(seed)
        return fn(*args, **kwargs)
    return call


@SETTINGS
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), p=probabilities,
       seed=st.integers(0, 2 ** 31))
def test_dropout_gradcheck(shape, p, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    check_gradients(_seeded(F.dropout, seed), [x], p=p)


@SETTINGS
@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3)),
       p=probabilities, seed=st.integers(0, 2 ** 31))
def test_dropout2d_gradcheck(shape, p, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    check_gradients(_seeded(F.dropout2d, seed), [x], p=p)


def _torch_noise(torch, keep, p, dtype):
    """PyTorch's dropout multiplies the input by noise = bernoulli(1-p).div_(1-p)."""
    return torch.from_numpy(keep.astype(dtype)).div_(1 - p)


@SETTINGS
@given(p=probabilities, dtype=dtypes, seed=st.integers(0, 2 ** 31))
def test_dropout_scaling_and_backward_equal_torch_on_the_same_mask(p, dtype, seed):
    """Forward is x * mask / (1-p) and backward g * mask / (1-p), bit for bit as
    PyTorch computes them for the same mask; the input is left unchanged."""
    torch = require_torch()
    rng = np.random.default_rng(seed)
    x_np = rng.standard_normal((6, 7)).astype(dtype)
    g_np = rng.standard_normal((6, 7)).astype(dtype)
    x = _tensor(x_np, requires_grad=True)
    y = F.dropout(x, p)
    assert y.dtype == dtype
    out = y.numpy()
    keep = out != 0
    noise = _torch_noise(torch, keep, p, dtype)
    np.testing.assert_array_equal(out, (torch.from_numpy(x_np) * noise).numpy())
    y.backward(on_device(g_np))
    np.testing.assert_array_equal(x.grad.numpy(), (torch.from_numpy(g_np) * noise).numpy())
    np.testing.assert_array_equal(x.numpy(), x_np)


@SETTINGS
@given(p=probabilities, dtype=dtypes)
def test_dropout_keeps_a_fraction_one_minus_p_like_torch(p, dtype):
    """The kept fraction of 20000 draws is 1-p within 5 standard deviations, for minidl
    and PyTorch alike, and the output's mean stays that of the input."""
    torch = require_torch()
    n = 20000
    sigma = np.sqrt(p * (1 - p) / n)
    x = _tensor(np.ones((100, 200), dtype))
    out = F.dropout(x, p).numpy()
    kept = (out != 0).mean()
    assert abs(kept - (1 - p)) < 5 * sigma
    assert abs(out.mean() - 1) < 5 * sigma / (1 - p)
    torch_kept = (torch.nn.functional.dropout(torch.ones(100, 200), p) != 0).float().mean().item()
    assert abs(torch_kept - (1 - p)) < 5 * sigma


@SETTINGS
@given(p=probabilities, dtype=dtypes, ndim=st.sampled_from([3, 4]))
def test_dropout2d_zeroes_whole_channels(p, dtype, ndim):
    torch = require_torch()
    shape = (40, 50) + (3,) * (ndim - 2)
    x_np = np.random.default_rng(1).uniform(1, 2, shape).astype(dtype)   # never 0
    x = _tensor(x_np, requires_grad=True)
    y = F.dropout2d(x, p)
    out = y.numpy()
    spatial = tuple(range(2, ndim))
    keep = out != 0
    assert np.all(keep.all(axis=spatial) == keep.any(axis=spatial))   # all or nothing per channel
    n = 40 * 50
    assert abs(keep.all(axis=spatial).mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    noise = _torch_noise(torch, keep, p, dtype)
    np.testing.assert_array_equal(out, (torch.from_numpy(x_np) * noise).numpy())
    g_np = np.ones(shape, dtype)
    y.backward(on_device(g_np))
    np.testing.assert_array_equal(x.grad.numpy(), noise.numpy())


@pytest.mark.parametrize('fn', [F.dropout, F.dropout2d])
def test_identity_in_evaluation_and_at_p_zero(fn):
    x = _tensor(np.ones((2, 3, 4, 4), np.float32), requires_grad=True)
    assert fn(x, 0.5, training=False) is x
    assert fn(x, 0.0) is x


@pytest.mark.parametrize('fn', [F.dropout, F.dropout2d])
def test_p_one_gives_zeros_and_zero_gradient(fn):
    x = _tensor(np.ones((2, 3, 4, 4), np.float32), requires_grad=True)
    y = fn(x, 1.0)
    assert y.dtype == np.float32 and not np.any(y.numpy())
    y.backward(on_device(np.ones((2, 3, 4, 4), np.float32)))
    assert not np.any(x.grad.numpy())


@pytest.mark.parametrize('fn', [F.dropout, F.dropout2d])
@pytest.mark.parametrize('p', [-0.1, 1.5])
def test_p_out_of_range_raises(fn, p):
    x = _tensor(np.ones((2, 3, 4, 4), np.float32))
    with pytest.raises(ValueError, match=f'{fn.__name__}: dropout probability has to be '
                                         f'between 0 and 1, but got {p}'):
        fn(x, p)


def test_masks_follow_the_seed():
    x = _tensor(np.ones((8, 16), np.float32))
    minidl.manual_seed(5)
    first, second = F.dropout(x).numpy(), F.dropout(x).numpy()
    minidl.manual_seed(5)
    np.testing.assert_array_equal(F.dropout(x).numpy(), first)
    assert not np.array_equal(first, second)


def test_inplace_writes_into_the_input_and_is_recorded():
    data = np.ones((4, 5), np.float32)
    x = _tensor(data)
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x and set(np.unique(x.numpy())) <= {0.0, 2.0}
    leaf = _tensor(data, requires_grad=True)
    with pytest.raises(RuntimeError, match='leaf Variable that requires grad'):
        F.dropout(leaf, 0.5, inplace=True)               # as in PyTorch
    hidden = leaf * 3
    y = F.dropout(hidden, 0.5, inplace=True)
    assert y is hidden and y.grad_fn.name() == 'DropoutBackward'
    y.sum().backward()
    kept = hidden.numpy() != 0
    np.testing.assert_allclose(leaf.grad.numpy(), np.where(kept, 6.0, 0.0))
    untouched = _tensor(data)
    F.dropout(untouched, 0.5)
    assert np.all(untouched.numpy() == 1)


def test_dropout2d_warns_on_other_ranks_like_torch():
    with pytest.warns(UserWarning, match='dropout2d: received a 2-D input'):
        F.dropout2d(_tensor(np.ones((4, 5), np.float32)), 0.5)


def test_dropout_saves_a_boolean_mask():
    seen = []
    hook = lambda cls, ctx, inputs, outputs: seen.append((cls, ctx, inputs, outputs))
    with autograd.register_apply_hook(hook):
        F.dropout(_tensor(np.ones((4, 3, 5, 5), np.float32), requires_grad=True), 0.5)
        F.dropout2d(_tensor(np.ones((4, 3, 5, 5), np.float32), requires_grad=True), 0.5)
    (cls, ctx, inputs, outputs), (_, ctx2d, _, _) = seen
    assert cls is Dropout
    assert sum(a.nbytes for a in ctx.saved_arrays()) == 4 * 3 * 5 * 5       # one byte each
    assert sum(a.nbytes for a in ctx2d.saved_arrays()) == 4 * 3             # one per channel
    cost = cls.cost(ctx, inputs, outputs)
    assert (cost.forward_flops, cost.backward_input_flops) == (2 * 300, 2 * 300)


# ---------------------------------------------------------------- the CUDA kernel (--device cuda)

@KERNEL_SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3),
       p=st.sampled_from([0.1, 0.5, 0.8]), dtype=dtypes, seed=st.integers(0, 2 ** 31))
def test_dropout_kernel_is_the_generic_mask_and_product(cp, shape, p, dtype, seed):
    rng = np.random.default_rng(seed)
    x = cp.asarray(rng.standard_normal(shape).astype(dtype))
    u = cp.asarray(rng.random(shape).astype(dtype))
    scale = dtype(1) / dtype(1 - p)
    out, keep = dropout_module.dropout_cuda(x, u, p, scale)
    generic_keep = u >= p
    generic = x * generic_keep
    generic *= scale
    assert_kernel_close(keep, generic_keep, dtype, exact=True)
    assert_kernel_close(out, generic, dtype, exact=True)
    dropout_module.dropout_cuda(x, u, p, scale, out=x)   # in place
    assert_kernel_close(x, generic, dtype, exact=True)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_dropout_agrees_with_its_kernel_on_and_off(cp, dtype):
    assert_operator_agrees_with_kernels_on_and_off(cp, lambda x: F.dropout(x, 0.3),
                                                   [(4, 5, 6)], dtype)


# the call site, on the CPU (the kernel replaced by a NumPy twin of its maths)

def _numpy_dropout_kernel(calls):
    """dropout_cuda's maths in NumPy (keep = u >= p, out = x * keep * scale)."""
    def dropout_cuda(x, u, p, scale, out=None):
        calls.append((x.shape, u.shape, p, scale, out is not None))
        keep = u >= p
        result = x * keep
        result *= scale
        if out is not None:
            out[...] = result
            result = out
        return result, keep
    return dropout_cuda


@pytest.mark.cpu_only
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_dropout_calls_its_kernel_like_the_generic_path(monkeypatch, dtype):
    x_np = np.random.default_rng(0).standard_normal((5, 6)).astype(dtype)
    cotangent = np.random.default_rng(1).standard_normal((5, 6)).astype(dtype)

    def run(inplace=False, grad=True):
        minidl.manual_seed(3)
        x = minidl.tensor(x_np.copy(), requires_grad=grad)
        out = F.dropout(x, 0.4, inplace=inplace)
        if grad:
            out.backward(minidl.tensor(cotangent))
            return out.numpy(), x.grad.numpy()
        return out.numpy(), x.numpy()

    generic, generic_inplace = run(), run(inplace=True, grad=False)
    calls = []
    monkeypatch.setattr(dropout_module, 'cuda_kernels_enabled', lambda xp: True)
    monkeypatch.setattr(dropout_module, 'dropout_cuda', _numpy_dropout_kernel(calls))
    for mine, theirs in zip(run(), generic):
        np.testing.assert_array_equal(mine, theirs)
    for mine, theirs in zip(run(inplace=True, grad=False), generic_inplace):
        np.testing.assert_array_equal(mine, theirs)
    assert calls == [((5, 6), (5, 6), 0.4, dtype(1) / dtype(0.6), False),
                     ((5, 6), (5, 6), 0.4, dtype(1) / dtype(0.6), True)]
    calls.clear()
    minidl.manual_seed(3)
    F.dropout2d(minidl.tensor(np.ones((2, 3, 4, 4), dtype)), 0.5)
    assert calls == []  # channel masks broadcast: the generic path

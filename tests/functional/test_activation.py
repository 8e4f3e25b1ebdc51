"""Activations: gradcheck in float64, PyTorch parity, stability on large logits."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
import minidl.functional as F
from tests.parity import check_gradients, check_torch_parity, on_device, require_torch

FAST = settings(max_examples=25, deadline=None)
shapes = st.lists(st.integers(1, 5), min_size=1, max_size=3)


def _draw(shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    return np.where(np.abs(x) < 0.01, 0.05, x)  # relu's kink at 0


# name: (ours, theirs(torch, t))
POINTWISE = {
    'relu': (F.relu, lambda torch, t: t.relu()),
    'leaky_relu': (F.leaky_relu, lambda torch, t: torch.nn.functional.leaky_relu(t)),
    'leaky_relu_0.2': (lambda t: F.leaky_relu(t, negative_slope=0.2),
                       lambda torch, t: torch.nn.functional.leaky_relu(t, 0.2)),
    'sigmoid': (F.sigmoid, lambda torch, t: t.sigmoid()),
    'tanh': (F.tanh, lambda torch, t: t.tanh()),
}


@pytest.mark.parametrize('name', sorted(POINTWISE))
@FAST
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_pointwise(name, shape, seed):
    torch = require_torch()
    ours, theirs = POINTWISE[name]
    x = _draw(shape, seed)
    check_gradients(ours, [x])
    check_torch_parity(ours, lambda t: theirs(torch, t), [x])


@pytest.mark.parametrize('name', ['softmax', 'log_softmax'])
@FAST
@given(shape=shapes, seed=st.integers(0, 2**16), data=st.data())
def test_softmax_family(name, shape, seed, data):
    torch = require_torch()
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = _draw(shape, seed) * 3
    ours = lambda t: getattr(F, name)(t, dim)  # noqa: E731
    theirs = lambda t: getattr(torch, name)(t, dim)  # noqa: E731
    check_gradients(ours, [x])
    check_torch_parity(ours, theirs, [x])


@pytest.mark.parametrize('name', ['softmax', 'log_softmax'])
def test_softmax_family_on_empty_input(name):
    """An empty tensor (of any empty dimension) gives an empty result and gradient."""
    torch = require_torch()
    for shape, dim in (((5, 0, 0), -1), ((0, 3), 1), ((2, 0), 0), ((0,), 0)):
        check_torch_parity(lambda t: getattr(F, name)(t, dim), lambda t: getattr(torch, name)(t, dim),
                           [np.zeros(shape)])


@pytest.mark.parametrize('name', ['softmax', 'log_softmax'])
def test_softmax_family_dtype_casts_first(name):
    """dtype= casts the input before the operator: a float32 input computed and
    returned in float64, its gradient back in float32."""
    torch = require_torch()
    x = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    t = minidl.tensor(on_device(x), requires_grad=True)
    out = getattr(t, name)(1, dtype=minidl.float64)
    assert out.dtype == np.float64
    out.sum().backward()
    assert t.grad.dtype == np.float32
    check_torch_parity(lambda t: getattr(F, name)(t, 0, dtype=np.float64),
                       lambda t: getattr(torch, name)(t, 0, dtype=torch.float64), [x],
                       dtypes=(np.float32,))


def test_methods_and_non_contiguous_input():
    torch = require_torch()
    x = np.random.default_rng(3).standard_normal((5, 4)).T
    check_torch_parity(lambda t: t.softmax(0), lambda t: t.softmax(0), [x])
    check_torch_parity(lambda t: t.log_softmax(-1), lambda t: t.log_softmax(-1), [x])
    check_torch_parity(lambda t: t.relu() + t.sigmoid() * t.tanh(),
                       lambda t: t.relu() + t.sigmoid() * t.tanh(), [x])


@pytest.mark.parametrize('name', ['softmax', 'log_softmax', 'sigmoid', 'tanh'])
def test_large_logits_stay_finite(name):
    torch = require_torch()
    x = np.array([[1e4, -1e4, 0.0, 5e3], [-1e4, -1e4 + 1, -2e4, 3.0]])
    args = (1,) if 'softmax' in name else ()
    ours = lambda t: getattr(F, name)(t, *args)  # noqa: E731
    theirs = lambda t: getattr(torch, name)(t, *args)  # noqa: E731
    check_torch_parity(ours, theirs, [x])
    for dtype in (np.float32, np.float64):
        t = minidl.tensor(on_device(x.astype(dtype)), requires_grad=True)
        out = ours(t)
        out.sum().backward()
        assert out.dtype == dtype
        assert np.all(np.isfinite(out.numpy())) and np.all(np.isfinite(t.grad.numpy()))


def test_softmax_rows_sum_to_one():
    x = minidl.tensor(on_device(np.random.default_rng(0).standard_normal((3, 4, 2))))
    np.testing.assert_allclose(F.softmax(x, 1).sum(1).numpy(), np.ones((3, 2)))


def test_softmax_dim_out_of_range():
    x = minidl.tensor(on_device(np.zeros((2, 3))))
    with pytest.raises(IndexError, match='softmax: dimension 2 is out of range'):
        F.softmax(x, 2)


def test_relu_cuts_off_inf_and_nan_gradients_and_passes_nan_inputs():
    """The gradient is an exact 0 where relu's output is <= 0, whatever arrives; a NaN
    input passes its gradient (PyTorch's threshold_backward)."""
    torch = require_torch()
    x = np.array([-1.0, 0.0, -2.0, 3.0, np.nan])
    check_torch_parity(F.relu, lambda t: t.relu(), [x],
                       upstream=[np.array([np.inf, np.nan, -np.inf, 2.0, 1.0])])
    check_torch_parity(lambda t: F.sqrt(F.relu(t)), lambda t: t.relu().sqrt(),
                       [np.array([-1.0, 0.0, 0.25, 4.0])])


# ---------------------------------------------------------------- gelu, silu, softplus

NEW_POINTWISE = {
    'gelu': (F.gelu, lambda torch, t: torch.nn.functional.gelu(t)),
    'gelu_tanh': (lambda t: F.gelu(t, approximate='tanh'),
                  lambda torch, t: torch.nn.functional.gelu(t, approximate='tanh')),
    'silu': (F.silu, lambda torch, t: torch.nn.functional.silu(t)),
    'softplus': (F.softplus, lambda torch, t: torch.nn.functional.softplus(t)),
    'softplus_beta2_threshold1': (lambda t: F.softplus(t, beta=2.0, threshold=1.0),
                                  lambda torch, t: torch.nn.functional.softplus(t, 2.0, 1.0)),
}


@pytest.mark.parametrize('name', sorted(NEW_POINTWISE))
@settings(max_examples=8, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_gelu_silu_softplus(name, shape, seed):
    torch = require_torch()
    ours, theirs = NEW_POINTWISE[name]
    x = _draw(shape, seed) * 3
    if 'threshold' in name:   # keep off softplus's switch to the identity at beta x = 1
        x = np.where(np.abs(2 * x - 1) < 0.05, 0.7, x)
    check_gradients(ours, [x])
    check_torch_parity(ours, lambda t: theirs(torch, t), [x])


@pytest.mark.parametrize('name', ['gelu', 'gelu_tanh', 'silu', 'softplus'])
def test_gelu_silu_softplus_stay_finite_at_large_inputs(name):
    torch = require_torch()
    ours, theirs = NEW_POINTWISE[name]
    x = np.array([-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4])
    check_torch_parity(ours, lambda t: theirs(torch, t), [x])
    t = minidl.tensor(on_device(x.astype(np.float32)), requires_grad=True)
    out = ours(t)
    out.sum().backward()
    assert np.all(np.isfinite(out.numpy())) and np.all(np.isfinite(t.grad.numpy()))


def test_silu_inplace_and_gelu_argument_checks():
    x = minidl.tensor(on_device(np.array([-1.0, 0.5, 2.0])))
    expected = F.silu(x).numpy()
    assert F.silu(x, inplace=True) is x
    np.testing.assert_allclose(x.numpy(), expected)
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        F.gelu(x, approximate='erf')
    with pytest.raises(TypeError, match='gelu: input must be floating point'):
        F.gelu(minidl.tensor([1, 2]))

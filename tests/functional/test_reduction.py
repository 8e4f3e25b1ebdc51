"""Reductions: gradcheck in float64 and PyTorch parity over drawn shapes and dims."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import minidl
import minidl.functional as F
from tests.parity import check_gradients, check_torch_parity, on_device, require_torch

FAST = settings(max_examples=25, deadline=None)


@st.composite
def shape_and_dim(draw, tuple_dims=True):
    """A shape (sizes 1-4, up to 3 dims) and a dim: None, an int or a tuple of ints,
    possibly negative."""
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    n = len(shape)
    axis = st.integers(-n, n - 1)
    options = [st.none(), axis]
    if tuple_dims:
        options.append(st.lists(axis, min_size=1, max_size=n, unique_by=lambda d: d % n)
                       .map(tuple))
    return tuple(shape), draw(st.one_of(*options))


def _torch_dim(dim, ndim):
    return tuple(range(ndim)) if dim is None else dim


def _draw(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize('name', ['sum', 'mean'])
@FAST
@given(case=shape_and_dim(), keepdim=st.booleans(), seed=st.integers(0, 2**16))
def test_sum_mean(name, case, keepdim, seed):
    torch = require_torch()
    shape, dim = case
    x = _draw(shape, seed)
    ours = lambda t: getattr(F, name)(t, dim, keepdim)  # noqa: E731
    theirs = lambda t: getattr(torch, name)(t, _torch_dim(dim, len(shape)), keepdim)  # noqa: E731
    check_gradients(ours, [x])
    check_torch_parity(ours, theirs, [x])


@pytest.mark.parametrize('name', ['var', 'std'])
@FAST
@given(case=shape_and_dim(), keepdim=st.booleans(), unbiased=st.booleans(),
       correction=st.sampled_from([None, 0, 1, 2]), seed=st.integers(0, 2**16))
def test_var_std(name, case, keepdim, unbiased, correction, seed):
    torch = require_torch()
    shape, dim = case
    x = _draw(shape, seed)
    n = int(np.prod([shape[d] for d in ([dim] if isinstance(dim, int) else
                                        range(len(shape)) if dim is None else dim)]))
    used = correction if correction is not None else int(unbiased)
    assume(n - used > 0 and not (name == 'std' and n == 1))  # no 0/0, no sqrt at 0
    ours = lambda t: getattr(t, name)(dim, unbiased, keepdim, correction=correction)  # noqa: E731
    if correction is None:
        theirs = lambda t: getattr(torch, name)(t, dim, unbiased=unbiased, keepdim=keepdim)  # noqa: E731
    else:
        theirs = lambda t: getattr(torch, name)(t, dim, correction=correction, keepdim=keepdim)  # noqa: E731
    check_gradients(ours, [x])
    check_torch_parity(ours, theirs, [x])


@pytest.mark.parametrize('name', ['var', 'std'])
def test_var_std_positional_bool_is_unbiased(name):
    """var(x, True) is PyTorch's var(input, unbiased) overload: every dimension."""
    torch = require_torch()
    x = np.random.default_rng(4).standard_normal((5, 5))
    for unbiased in (True, False):
        check_torch_parity(lambda t: getattr(F, name)(t, unbiased),
                           lambda t: getattr(torch, name)(t, unbiased), [x])
        check_torch_parity(lambda t: getattr(t, name)(unbiased),
                           lambda t: getattr(t, name)(unbiased), [x])


def test_std_of_a_constant_slice_has_a_finite_gradient():
    """d std/dx is 0/0 where std = 0; PyTorch defines it as 0, so normalising a
    constant row, (x - mean) / (std + eps), is not NaN."""
    torch = require_torch()
    x = np.array([[1.0, 1.0, 1.0], [0.5, -1.0, 2.0]])
    check_torch_parity(lambda t: F.std(t, 1), lambda t: t.std(1), [x])
    check_torch_parity(lambda t: (t - t.mean(1, keepdim=True)) / (t.std(1, keepdim=True) + 1e-5),
                       lambda t: (t - t.mean(1, keepdim=True)) / (t.std(1, keepdim=True) + 1e-5),
                       [x])
    t = minidl.tensor(on_device(x), requires_grad=True)
    F.std(t, 1).sum().backward()
    assert np.isfinite(t.grad.numpy()).all()


def test_var_of_one_element_is_nan_like_pytorch():
    torch = require_torch()
    x = np.array([[1.5], [2.0]])
    ours = F.var(minidl.tensor(on_device(x)), 1).numpy()
    with pytest.warns(UserWarning, match='degrees of freedom'):
        theirs = torch.tensor(x).var(1).numpy()
    np.testing.assert_array_equal(ours, theirs)  # both nan
    np.testing.assert_array_equal(F.var(minidl.tensor(on_device(x)), 1, unbiased=False).numpy(), [0, 0])


@pytest.mark.parametrize('name', ['max', 'min'])
@FAST
@given(case=shape_and_dim(tuple_dims=False), keepdim=st.booleans(), seed=st.integers(0, 2**16))
def test_max_min(name, case, keepdim, seed):
    torch = require_torch()
    shape, dim = case
    x = _draw(shape, seed)
    if dim is None:
        ours = lambda t: getattr(F, name)(t)  # noqa: E731
        theirs = lambda t: getattr(torch, name)(t)  # noqa: E731
    else:
        ours = lambda t: getattr(F, name)(t, dim, keepdim)  # noqa: E731
        theirs = lambda t: getattr(torch, name)(t, dim, keepdim)  # noqa: E731
    check_gradients(ours, [x])
    check_torch_parity(ours, theirs, [x])


@pytest.mark.parametrize('name', ['max', 'min'])
def test_ties_like_pytorch(name):
    """Without dim the gradient is shared among tied extrema; with dim it goes to the
    first one, whose index is returned."""
    torch = require_torch()
    x = np.array([[3.0, 1.0, 3.0, 3.0], [-2.0, -2.0, 0.0, -2.0]])
    check_torch_parity(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x])
    for dim in (0, 1):
        check_torch_parity(lambda t: getattr(t, name)(dim), lambda t: getattr(t, name)(dim), [x])


def test_max_with_dim_returns_values_and_indices():
    x = minidl.tensor(on_device(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])))
    result = x.max(1)
    assert isinstance(result, tuple) and len(result) == 2
    np.testing.assert_array_equal(result.values.numpy(), [5, 7])
    np.testing.assert_array_equal(result.indices.numpy(), [1, 0])
    values, indices = F.min(x, 0, keepdim=True)
    assert values.shape == (1, 3) and indices.dtype == np.int64
    np.testing.assert_array_equal(indices.numpy(), [[0, 1, 0]])


@pytest.mark.parametrize('name', ['argmax', 'argmin'])
@FAST
@given(case=shape_and_dim(tuple_dims=False), keepdim=st.booleans(), seed=st.integers(0, 2**16))
def test_argmax_argmin(name, case, keepdim, seed):
    torch = require_torch()
    shape, dim = case
    x = np.round(_draw(shape, seed))  # rounding makes ties: both pick the first
    ours = getattr(F, name)(minidl.tensor(on_device(x)), dim, keepdim)
    theirs = getattr(torch, name)(torch.tensor(x), dim, keepdim)
    assert ours.dtype == np.int64 and not ours.requires_grad
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_non_contiguous_input_and_dtype():
    torch = require_torch()
    x = _draw((5, 3, 2), 0).transpose(2, 0, 1)
    assert not x.flags['C_CONTIGUOUS']
    check_torch_parity(lambda t: t.sum((0, 2)), lambda t: t.sum((0, 2)), [x])
    check_torch_parity(lambda t: t.mean(-1, True), lambda t: t.mean(-1, True), [x])
    check_torch_parity(lambda t: t.std(1), lambda t: t.std(1), [x])
    check_torch_parity(lambda t: t.max(1), lambda t: t.max(1), [x])
    t = minidl.tensor(on_device(x.astype(np.float32)), requires_grad=True)
    for out in (t.sum(), t.mean(0), t.var(), t.std((0, 1)), t.max(), t.min(2).values):
        assert out.dtype == np.float32
        out.sum().backward()
        assert t.grad.dtype == np.float32


def test_sum_of_everything_is_a_0d_array():
    t = minidl.tensor(on_device(np.ones((2, 3))), requires_grad=True)
    total = t.sum()
    assert total.shape == () and total.item() == 6.0
    total.backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.ones((2, 3)))


def test_integer_sum_and_mean_errors():
    ints = minidl.tensor(on_device(np.arange(6).reshape(2, 3)))
    assert ints.sum().item() == 15 and ints.sum(0).dtype == np.int64
    with pytest.raises(TypeError, match='mean: input dtype must be floating point'):
        ints.mean()


def test_bad_dims_name_the_op():
    x = minidl.tensor(on_device(np.zeros((2, 3))))
    with pytest.raises(IndexError, match='sum: dimension 2 is out of range'):
        x.sum(2)
    with pytest.raises(ValueError, match='mean: dimension listed twice'):
        x.mean((1, -1))
    with pytest.raises(TypeError, match='max: dim must be an int'):
        x.max((0, 1))


def test_zero_dimensional_input():
    torch = require_torch()
    x = np.array(1.5)
    for ours, theirs in [(lambda t: t.sum(), lambda t: t.sum()),
                         (lambda t: F.sum(t, 0, True), lambda t: torch.sum(t, 0, True)),
                         (lambda t: t.mean(-1), lambda t: t.mean(-1)),
                         (lambda t: t.max(), lambda t: t.max()),
                         (lambda t: t.min(0), lambda t: t.min(0)),
                         (lambda t: t.var(correction=0), lambda t: t.var(correction=0))]:
        check_torch_parity(ours, theirs, [x])
    assert F.argmax(minidl.tensor(on_device(x)), 0).item() == 0


def test_max_min_of_two_tensors_is_elementwise():
    torch = require_torch()
    a, b = _draw((2, 3), 0), _draw((3,), 1)
    check_torch_parity(F.max, torch.max, [a, b])
    check_torch_parity(lambda x, y: x.min(y), lambda x, y: x.min(y), [a, b])


# ---------------------------------------------------------------- amax, prod, cumsum, logsumexp, norm

@pytest.mark.parametrize('name', ['amax', 'amin'])
@FAST
@given(case=shape_and_dim(), keepdim=st.booleans(), seed=st.integers(0, 2**16))
def test_amax_amin(name, case, keepdim, seed):
    torch = require_torch()
    shape, dim = case
    x = np.round(_draw(shape, seed))           # whole numbers: ties share the gradient
    ours = lambda t: getattr(F, name)(t, () if dim is None else dim, keepdim)  # noqa: E731
    theirs = lambda t: getattr(torch, name)(t, () if dim is None else dim, keepdim)  # noqa: E731
    check_torch_parity(ours, theirs, [x])
    check_gradients(ours, [_draw(shape, seed)])


@FAST
@given(case=shape_and_dim(tuple_dims=False), keepdim=st.booleans(), seed=st.integers(0, 2**16),
       zeros=st.integers(0, 2))
def test_prod(case, keepdim, seed, zeros):
    torch = require_torch()
    shape, dim = case
    x = _draw(shape, seed)
    x.reshape(-1)[:zeros] = 0                   # one zero, or two: the gradient stays exact
    if dim is None:
        ours, theirs = F.prod, torch.prod
    else:
        ours = lambda t: F.prod(t, dim, keepdim)  # noqa: E731
        theirs = lambda t: torch.prod(t, dim, keepdim)  # noqa: E731
    check_gradients(ours, [x])
    check_torch_parity(ours, theirs, [x])


@FAST
@given(case=shape_and_dim(tuple_dims=False), seed=st.integers(0, 2**16))
def test_cumsum(case, seed):
    torch = require_torch()
    shape, dim = case
    dim = -1 if dim is None else dim
    x = _draw(shape, seed)
    check_gradients(lambda t: F.cumsum(t, dim), [x])
    check_torch_parity(lambda t: t.cumsum(dim), lambda t: t.cumsum(dim), [x])


@FAST
@given(case=shape_and_dim(), keepdim=st.booleans(), seed=st.integers(0, 2**16))
def test_logsumexp(case, keepdim, seed):
    torch = require_torch()
    shape, dim = case
    dim = tuple(range(len(shape))) if dim is None else dim
    x = 30 * _draw(shape, seed)                 # large values: the max is taken out first
    check_gradients(lambda t: F.logsumexp(t, dim, keepdim), [x])
    check_torch_parity(lambda t: F.logsumexp(t, dim, keepdim),
                       lambda t: torch.logsumexp(t, dim, keepdim), [x])


@FAST
@given(case=shape_and_dim(), keepdim=st.booleans(), seed=st.integers(0, 2**16),
       p=st.sampled_from(['fro', 1, 2, 3, 0.5, float('inf'), float('-inf')]))
def test_norm(case, keepdim, seed, p):
    torch = require_torch()
    shape, dim = case
    x = _draw(shape, seed)
    if p == 'fro' and isinstance(dim, tuple) and len(dim) > 2:
        with pytest.raises(RuntimeError, match='dim must be a 2-tuple'):
            F.norm(minidl.tensor(x), p, dim)
        return
    ours = lambda t: t.norm(p, dim, keepdim)  # noqa: E731
    theirs = lambda t: torch.norm(t, p, dim, keepdim)  # noqa: E731
    check_gradients(ours, [x])
    check_torch_parity(ours, theirs, [x])


def test_norm_edge_cases():
    torch = require_torch()
    x = np.array([[0.0, 0.0, 0.0], [3.0, -4.0, 0.0]])
    for p in (2, 3, 0, 1, float('inf')):
        check_torch_parity(lambda t: F.norm(t, p, 1), lambda t: torch.norm(t, p, 1), [x])
    with pytest.raises(ValueError, match="p='nuc' is not supported"):
        F.norm(minidl.ones(2, 2), 'nuc')


def test_integer_inputs_of_prod_cumsum_norm():
    torch = require_torch()
    data = np.array([[1, 2, 3], [4, 5, 6]], np.int32)
    for ours, theirs in [(F.prod(minidl.tensor(data)), torch.prod(torch.tensor(data))),
                         (F.cumsum(minidl.tensor(data), 1), torch.cumsum(torch.tensor(data), 1)),
                         (F.logsumexp(minidl.tensor(data), 1), torch.logsumexp(torch.tensor(data), 1))]:
        assert str(ours.dtype) == str(theirs.dtype).replace('torch.', '')
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize('name', ['max', 'min'])
def test_extreme_of_everything_cuts_off_and_follows_nan(name):
    """max(): the other elements get an exact 0 even from an inf upstream gradient; with
    a NaN in the input, the result is NaN and the gradient goes to the NaNs."""
    torch = require_torch()
    for x in (np.array([1.0, 5.0, 5.0, -2.0]), np.array([1.0, np.nan, 3.0, np.nan])):
        check_torch_parity(getattr(F, name), lambda t: getattr(t, name)(), [x],
                           upstream=[np.array(np.inf)])


def test_prod_and_logsumexp_of_empty_inputs():
    """An empty product is 1 and an empty log-sum-exp is -inf, with empty gradients, as
    in PyTorch."""
    torch = require_torch()
    for shape, dim in (((0,), 0), ((3, 0), 1), ((0, 3), 0)):
        x = np.zeros(shape)
        check_torch_parity(lambda t: F.prod(t, dim), lambda t: torch.prod(t, dim), [x])
        check_torch_parity(lambda t: F.logsumexp(t, dim), lambda t: torch.logsumexp(t, dim), [x])
    check_torch_parity(F.prod, torch.prod, [np.zeros(0)])


# ---------------------------------------------------------------- all, any

@pytest.mark.parametrize('name', ['all', 'any'])
def test_all_and_any(name):
    torch = require_torch()
    rng = np.random.default_rng(0)
    for array in (rng.integers(0, 2, (3, 4)) * 1.0, rng.integers(0, 2, (2, 3, 2)).astype(bool),
                  rng.integers(0, 3, (4,)).astype(np.uint8), np.ones((2, 0)), np.array(0.0)):
        t, ref = minidl.tensor(on_device(array)), torch.tensor(array)
        dims = [None] + list(range(-array.ndim, array.ndim)) + ([(0, -1)] if array.ndim > 1 else [])
        for dim in dims:
            for keepdim in (False, True):
                kwargs = {} if dim is None else dict(dim=dim, keepdim=keepdim)
                ours, theirs = getattr(t, name)(**kwargs), getattr(ref, name)(**kwargs)
                assert ours.dtype == theirs.numpy().dtype, (array.dtype, kwargs)
                np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
                np.testing.assert_array_equal(getattr(minidl, name)(t, **kwargs).numpy(),
                                              theirs.numpy())

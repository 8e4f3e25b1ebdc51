"""Elementwise operators: gradcheck in float64 and PyTorch parity, with broadcasting."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import minidl
import minidl.functional as F
from tests.parity import check_gradients, check_torch_parity, on_device, require_torch

FAST = settings(max_examples=25, deadline=None)
pairs = mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, min_side=1, max_side=4)


def _draw(shape, seed, low=None):
    values = np.random.default_rng(seed).standard_normal(shape)
    if low is not None:  # keep away from a singular point (0 for log, sqrt, div)
        values = np.abs(values) + low
    return values


BINARY = {
    'add': (F.add, 'add', None),
    'sub': (F.sub, 'sub', None),
    'mul': (F.mul, 'mul', None),
    'div': (F.div, 'div', 0.5),
    'maximum': (F.maximum, 'maximum', None),
    'minimum': (F.minimum, 'minimum', None),
}


@pytest.mark.parametrize('name', sorted(BINARY))
@FAST
@given(shapes=pairs, seed=st.integers(0, 2**16))
def test_binary_broadcasting(name, shapes, seed):
    torch = require_torch()
    ours, theirs, low = BINARY[name]
    (sa, sb), _ = shapes
    a, b = _draw(sa, seed), _draw(sb, seed + 1, low)
    check_gradients(ours, [a, b])
    check_torch_parity(ours, getattr(torch, theirs), [a, b])


@FAST
@given(shapes=pairs, seed=st.integers(0, 2**16))
def test_pow_broadcasting(shapes, seed):
    torch = require_torch()
    (sa, sb), _ = shapes
    a, b = _draw(sa, seed, low=0.5), _draw(sb, seed + 1)
    check_gradients(F.pow, [a, b])
    check_torch_parity(F.pow, torch.pow, [a, b])


@FAST
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=1, max_dims=3, max_side=4),
       seed=st.integers(0, 2**16))
def test_where_broadcasting(shapes, seed):
    torch = require_torch()
    (sc, sa, sb), _ = shapes
    condition = np.random.default_rng(seed).random(sc) > 0.5
    a, b = _draw(sa, seed + 1), _draw(sb, seed + 2)

    def ours(x, y):
        return F.where(minidl.tensor(on_device(condition)), x, y)

    def theirs(x, y):
        return torch.where(torch.tensor(condition, device=x.device), x, y)

    check_gradients(ours, [a, b])
    check_torch_parity(ours, theirs, [a, b])


UNARY = {
    'neg': (F.neg, lambda t: -t, None),
    'exp': (F.exp, lambda t: t.exp(), None),
    'log': (F.log, lambda t: t.log(), 0.3),
    'sqrt': (F.sqrt, lambda t: t.sqrt(), 0.3),
    'abs': (F.abs, lambda t: t.abs(), None),
    'clamp': (lambda t: F.clamp(t, -0.5, 0.7), lambda t: t.clamp(-0.5, 0.7), None),
    'clamp_min': (lambda t: F.clamp(t, min=0.1), lambda t: t.clamp(min=0.1), None),
    'clamp_max': (lambda t: t.clamp(max=0.1), lambda t: t.clamp(max=0.1), None),
}


@pytest.mark.parametrize('name', sorted(UNARY))
@FAST
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_unary(name, shape, seed):
    require_torch()
    ours, theirs, low = UNARY[name]
    x = _draw(shape, seed, low)
    # keep samples away from the kinks (0 for abs; -0.5, 0.1, 0.7 for clamp), where
    # central differences straddle two slopes
    for kink in (0.0, -0.5, 0.1, 0.7):
        x = np.where(np.abs(x - kink) < 0.02, kink + 0.05, x)
    check_gradients(ours, [x])
    check_torch_parity(ours, theirs, [x])


def test_pow_at_base_zero_follows_pytorchs_formulas():
    """d/dx x**0 = 0 at x = 0 (not 0 * 0**-1 = NaN); pow(0, 0) gives 0 to both inputs;
    the exponent's gradient at base 0 is 0 for b >= 0 and -inf for b < 0; a negative
    base gives NaN."""
    torch = require_torch()
    t = minidl.tensor(on_device(np.zeros(3)), requires_grad=True)
    (t ** 0).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [0.0, 0.0, 0.0])
    a, b = (minidl.tensor(on_device(np.zeros(1)), requires_grad=True) for _ in range(2))
    F.pow(a, b).sum().backward()
    assert a.grad.item() == 0.0 and b.grad.item() == 0.0
    base = np.array([0.0, 0.0, 0.0, 0.0, -1.0, 2.0])
    exponent = np.array([-1.0, 0.0, 0.5, 2.0, 0.5, 3.0])
    check_torch_parity(F.pow, torch.pow, [base, exponent])
    for scalar_exponent in (0, 0.0, 1, 2.5, -1):
        check_torch_parity(lambda x: x ** scalar_exponent, lambda x: x ** scalar_exponent,
                           [np.array([0.0, 1.5, 2.0])])
    for scalar_base in (0.0, 2.0):
        check_torch_parity(lambda e: scalar_base ** e, lambda e: scalar_base ** e,
                           [np.array([-1.0, 0.0, 0.5, 2.0])])


@pytest.mark.parametrize('mode', ['trunc', 'floor'])
def test_div_rounding_mode(mode):
    """Rounded quotients as torch.div(rounding_mode=): floats with IEEE results at 0,
    integers exact, gradients zero; integer division by zero raises."""
    torch = require_torch()
    a = np.array([5.5, -5.5, 7.0, -7.0, 1.0, -1.0, 0.0, 3.0, 1.0, -0.5])
    b = np.array([2.0, 2.0, -2.0, -2.0, 0.0, 0.0, 0.0, np.inf, 0.1, 3.0])  # 1 // 0.1 is 9
    check_torch_parity(lambda x, y: F.div(x, y, rounding_mode=mode),
                       lambda x, y: torch.div(x, y, rounding_mode=mode), [a, b])
    check_torch_parity(lambda x: x.div(2.5, rounding_mode=mode),
                       lambda x: x.div(2.5, rounding_mode=mode), [a])
    ints = np.array([7, -7, 7, -7, 6]), np.array([2, 2, -2, -2, 3])
    ours = F.div(*(minidl.tensor(on_device(i)) for i in ints), rounding_mode=mode)
    theirs = torch.div(*(torch.tensor(i) for i in ints), rounding_mode=mode)
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(ZeroDivisionError, match='div'):
        F.div(minidl.tensor(on_device(ints[0])), 0, rounding_mode=mode)
    with pytest.raises(ValueError, match="div: expected rounding_mode"):
        F.div(minidl.tensor(on_device(a)), 2.0, rounding_mode='round')


def test_non_contiguous_inputs():
    torch = require_torch()
    a = np.random.default_rng(0).standard_normal((4, 3)).T  # a transposed (F-ordered) view
    b = np.random.default_rng(1).standard_normal((3, 1))
    assert not a.flags['C_CONTIGUOUS']
    for name in ('add', 'mul', 'maximum'):
        ours, theirs, _ = BINARY[name]
        check_torch_parity(ours, getattr(torch, theirs), [a, b])
    check_gradients(F.div, [a, np.abs(b) + 1])


def test_python_scalars_keep_float32():
    torch = require_torch()
    x = np.random.default_rng(0).standard_normal((2, 3))
    check_torch_parity(lambda t: (2.0 - t) * 3 / 4.0 + 1, lambda t: (2.0 - t) * 3 / 4.0 + 1, [x])
    check_torch_parity(lambda t: 2.0 ** t + t ** 2, lambda t: 2.0 ** t + t ** 2, [x])
    t = minidl.tensor(on_device(x.astype(np.float32)))
    for out in (t + 1.5, 1.5 * t, t / 3, t - np.float32(1), t ** 2):
        assert out.dtype == np.float32


def test_add_sub_alpha():
    torch = require_torch()
    a, b = np.random.default_rng(0).standard_normal((2, 2, 3))
    check_torch_parity(lambda x, y: F.add(x, y, alpha=2.5), lambda x, y: torch.add(x, y, alpha=2.5), [a, b])
    check_torch_parity(lambda x, y: F.sub(x, y, alpha=-3), lambda x, y: torch.sub(x, y, alpha=-3), [a, b])
    check_torch_parity(lambda x, y: x.add(y, alpha=2), lambda x, y: x.add(y, alpha=2), [a, b])
    check_torch_parity(lambda x, y: x.sub(y, alpha=-3.125), lambda x, y: x.sub(y, alpha=-3.125),
                       [a, b])
    check_torch_parity(lambda x: x.sub(1.5, alpha=2), lambda x: x.sub(1.5, alpha=2), [a])


def test_maximum_minimum_split_ties_like_pytorch():
    torch = require_torch()
    a = np.array([1.0, 2.0, 3.0, -1.0])
    b = np.array([1.0, 0.0, 3.0, 5.0])
    check_torch_parity(F.maximum, torch.maximum, [a, b])
    check_torch_parity(F.minimum, torch.minimum, [a, b])


def test_abs_gradient_is_zero_at_zero():
    torch = require_torch()
    check_torch_parity(F.abs, torch.abs, [np.array([-1.0, 0.0, 2.0])])


def test_broadcast_mismatch_names_the_op_and_shapes():
    a = minidl.tensor(on_device(np.zeros((2, 3))))
    b = minidl.tensor(on_device(np.zeros((4,))))
    for op in ('add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'):
        with pytest.raises(ValueError, match=rf'{op}: shapes \(2, 3\) and \(4,\) cannot be broadcast'):
            getattr(F, op)(a, b)
    with pytest.raises(ValueError, match=r'add: shapes \(2, 3\) and \(4,\)'):
        a + b


def test_clamp_tensor_bounds_get_gradients():
    """clamp(x=[.5, -2, 3], min=[1, -1, 0]): min is the result at the first two, so
    min.grad = [1, 1, 0]; with both bounds, min > max gives max."""
    torch = require_torch()
    x, low = np.array([0.5, -2.0, 3.0]), np.array([1.0, -1.0, 0.0])
    t, m = (minidl.tensor(on_device(a), requires_grad=True) for a in (x, low))
    F.clamp(t, min=m).sum().backward()
    np.testing.assert_array_equal(m.grad.numpy(), [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(t.grad.numpy(), [0.0, 0.0, 1.0])
    high = np.array([2.0, -1.5, 1.0])  # below min in the middle
    check_torch_parity(lambda a, lo, hi: F.clamp(a, lo, hi), torch.clamp, [x, low, high])
    check_torch_parity(lambda a, hi: F.clamp(a, max=hi), lambda a, hi: torch.clamp(a, max=hi),
                       [x, high])
    check_gradients(lambda a, lo, hi: F.clamp(a, lo, hi),
                    [np.array([0.3, -2.2, 3.1]), low, np.array([2.0, -1.5, 1.0])])


def test_clamp_bound_broadcasts_the_input_larger():
    """x (5, 1) with min (5,) is (5, 5), as in PyTorch; the gradients sum back."""
    torch = require_torch()
    rng = np.random.default_rng(0)
    x, low, high = rng.standard_normal((5, 1)), rng.standard_normal(5), rng.standard_normal((5, 1)) + 2
    check_torch_parity(lambda a, lo: F.clamp(a, min=lo), lambda a, lo: torch.clamp(a, min=lo),
                       [x, low])
    # PyTorch's own backward fails when both bounds broadcast the input: gradcheck instead
    out = F.clamp(minidl.tensor(on_device(x)), minidl.tensor(on_device(low)),
                  minidl.tensor(on_device(high)))
    np.testing.assert_allclose(out.numpy(), np.minimum(np.maximum(x, low), high))
    check_gradients(lambda a, lo, hi: F.clamp(a, lo, hi), [x, low, high])
    with pytest.raises(ValueError, match=r'clamp: shapes \(5, 2\) and \(3,\)'):
        F.clamp(minidl.tensor(on_device(np.zeros((5, 2)))), min=minidl.tensor(on_device(np.zeros(3))))


def test_clamp_needs_a_bound():
    with pytest.raises(ValueError, match='clamp'):
        F.clamp(minidl.tensor(on_device(np.zeros(2))))


def test_python_numbers_alone_take_pytorchs_dtypes():
    """torch.add(2.0, 3.0) is a default-dtype tensor; where(cond, 8.5, -3.9) too; a float
    number with an integer tensor gives the default float dtype."""
    torch = require_torch()
    cond = np.array([True, False, True])
    cases = [(F.add(2.0, 3.0), torch.add(2.0, 3.0)), (F.mul(2, 3), torch.mul(2, 3)),
             (F.where(minidl.tensor(cond), 8.5, -3.9), torch.where(torch.tensor(cond), 8.5, -3.9)),
             (F.where(minidl.tensor(cond), 1, 2), torch.where(torch.tensor(cond), 1, 2)),
             (F.where(minidl.tensor(cond), minidl.tensor([1, 2, 3]), 0.5),
              torch.where(torch.tensor(cond), torch.tensor([1, 2, 3]), 0.5)),
             (F.where(minidl.tensor(cond), minidl.tensor(np.ones(3)), 0.5),
              torch.where(torch.tensor(cond), torch.tensor(np.ones(3)), 0.5))]
    for ours, theirs in cases:
        assert ours.dtype == np.dtype(str(theirs.dtype).replace('torch.', ''))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    minidl.set_default_dtype(np.float64)
    try:
        assert F.where(minidl.tensor(cond), 8.5, -3.9).dtype == np.float64
    finally:
        minidl.set_default_dtype(np.float32)
    for op in ('pow', 'maximum', 'minimum'):  # refused by PyTorch too
        with pytest.raises(TypeError, match=f'{op}: at least one argument must be a Tensor'):
            getattr(F, op)(2.0, 3.0)


@FAST
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=1, max_dims=3, max_side=3),
       seed=st.integers(0, 2**16), value=st.sampled_from([1, 0.5, -2]))
def test_lerp_addcmul_addcdiv(shapes, seed, value):
    torch = require_torch()
    (sa, sb, sc), out = shapes
    assume(tuple(sa) == tuple(out))            # the result has the input's shape
    a, b, c = _draw(sa, seed), _draw(sb, seed + 1), _draw(sc, seed + 2, low=0.5)
    for name in ('addcmul', 'addcdiv'):
        ours = lambda x, y, z: getattr(F, name)(x, y, z, value=value)  # noqa: E731
        theirs = lambda x, y, z: getattr(torch, name)(x, y, z, value=value)  # noqa: E731
        check_gradients(ours, [a, b, c])
        check_torch_parity(ours, theirs, [a, b, c])
    check_gradients(F.lerp, [a, b, c])
    check_torch_parity(F.lerp, torch.lerp, [a, b, c])
    check_torch_parity(lambda x, y: F.lerp(x, y, 0.25), lambda x, y: torch.lerp(x, y, 0.25), [a, b])


def test_comparisons_and_equal_like_pytorch():
    torch = require_torch()
    a, b = np.array([[1.0, 2.0, 3.0]]), np.array([[2.0], [1.0]])
    for name in ('eq', 'ne', 'lt', 'le', 'gt', 'ge'):
        ours = getattr(minidl, name)(minidl.tensor(a), minidl.tensor(b))
        theirs = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
        assert ours.dtype == np.bool_ and ours.tolist() == theirs.tolist()
        assert getattr(minidl, name)(minidl.tensor(a), 2.0).tolist() == \
            getattr(torch, name)(torch.tensor(a), 2.0).tolist()
    assert minidl.equal(minidl.tensor(a), minidl.tensor(a))
    assert not minidl.equal(minidl.tensor(a), minidl.tensor(b))
    with pytest.raises(ValueError, match='cannot be broadcast'):
        minidl.eq(minidl.ones(2), minidl.ones(3))


# an upstream gradient with every kind of value a cut-off must stop
EDGE_UPSTREAM = np.array([np.nan, np.inf, -np.inf, 1.5])


def test_cut_off_gradient_is_zero_whatever_arrives():
    """sqrt(clamp(x, min=0)) at x = [-1, 0, 0.25, 4]: sqrt' is inf at 0, and clamp
    passes it where x >= 0 and stops it (an exact 0, not inf * 0 = NaN) where x < 0."""
    torch = require_torch()
    x = np.array([-1.0, 0.0, 0.25, 4.0])
    t = minidl.tensor(on_device(x), requires_grad=True)
    minidl.sqrt(minidl.clamp(t, min=0)).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [0.0, np.inf, 1.0, 0.25])
    check_torch_parity(lambda t: F.sqrt(F.clamp(t, min=0)), lambda t: t.clamp(min=0).sqrt(), [x])
    # inf and NaN arriving straight from upstream
    for ours, theirs in ((lambda t: F.clamp(t, -0.5, 0.5), lambda t: t.clamp(-0.5, 0.5)),
                         (lambda t: F.maximum(t, t.detach() * 0 + 0.3),
                          lambda t: torch.maximum(t, t.detach() * 0 + 0.3)),
                         (lambda t: F.minimum(t, t.detach() * 0 + 0.3),
                          lambda t: torch.minimum(t, t.detach() * 0 + 0.3))):
        check_torch_parity(ours, theirs, [np.array([-1.0, 2.0, -3.0, 0.1])],
                           upstream=[EDGE_UPSTREAM])


def test_nan_inputs_route_gradients_like_pytorch():
    """abs' sign is 0 at NaN; maximum/minimum give a NaN result's gradient to both
    inputs; the extremes (inf) are ordinary values."""
    torch = require_torch()
    a = np.array([np.inf, np.inf, -np.inf, np.nan, np.nan, 0.0, 1.0])
    b = np.array([np.inf, -np.inf, np.nan, 1.0, np.nan, 0.0, 2.0])
    check_torch_parity(F.abs, torch.abs, [a])
    check_torch_parity(F.maximum, torch.maximum, [a, b])
    check_torch_parity(F.minimum, torch.minimum, [a, b])


# ---------------------------------------------------------------- isnan, isinf, isfinite, isclose

SPECIAL = np.array([0.0, -1.5, np.nan, np.inf, -np.inf, 1e-300])


@pytest.mark.parametrize('name', ['isnan', 'isinf', 'isfinite'])
def test_isnan_isinf_isfinite(name):
    torch = require_torch()
    for array in (SPECIAL, SPECIAL.astype(np.float32), np.array([1, 0, -3]), np.array([True])):
        ours = getattr(minidl, name)(minidl.tensor(on_device(array)))
        theirs = getattr(torch, name)(torch.tensor(array))
        assert ours.dtype == np.bool_
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        np.testing.assert_array_equal(getattr(minidl.tensor(array), name)().numpy(), theirs.numpy())


def test_isclose_and_allclose():
    torch = require_torch()
    a = np.array([1.0, 1.0 + 1e-6, np.nan, np.inf, -np.inf, 0.0])
    b = np.array([[1.0, 1.0, np.nan, np.inf, np.inf, 1e-9]])
    for kwargs in ({}, dict(equal_nan=True), dict(rtol=0.0, atol=0.0), dict(rtol=1e-3)):
        ours = minidl.isclose(minidl.tensor(a), minidl.tensor(b), **kwargs)
        theirs = torch.isclose(torch.tensor(a), torch.tensor(b), **kwargs)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert (minidl.allclose(minidl.tensor(a), minidl.tensor(b), **kwargs)
                == torch.allclose(torch.tensor(a), torch.tensor(b), **kwargs))
    assert minidl.tensor([1.0, 2.0]).allclose(minidl.tensor([1.0, 2.0 + 1e-9]))
    with pytest.raises(RuntimeError, match='isclose: input is float32 but other is float64'):
        minidl.isclose(minidl.zeros(2), minidl.zeros(2, dtype=minidl.float64))
    with pytest.raises(RuntimeError, match='rtol and atol must be greater than or equal to zero'):
        minidl.isclose(minidl.zeros(2), minidl.zeros(2), rtol=-1)

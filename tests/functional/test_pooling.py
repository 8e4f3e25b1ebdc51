"""Pooling: gradients (float64 gradcheck), PyTorch parity incl. indices and ties,
input checks and cost rules."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import minidl
import minidl.functional as F
from minidl import autograd
from minidl.functional.pooling import pool_output_size
from tests.parity import check_gradients, check_torch_parity, on_device, require_torch
from minidl.autograd import Context
from minidl.functional import pooling
from tests.functional.kernels import (  # noqa: F401 (cp is a fixture)
    KERNEL_SETTINGS, assert_kernel_close, assert_operator_agrees_with_kernels_on_and_off, cp,
    dtypes, generic_code, windows)

SETTINGS = dict(max_examples=25, deadline=None)


def _tie_free(shape, seed):
    """Distinct values (a shuffled arange, scaled): the max of every window is unique."""
    rng = np.random.default_rng(seed)
    return rng.permutation(int(np.prod(shape))).reshape(shape) / 4.0


def _every_window_sees_input(size, kernel, stride, padding, dilation, out):
    """False when some dilated window falls entirely on padding (its max is -inf)."""
    starts = np.arange(out) * stride - padding
    taps = starts[:, None] + dilation * np.arange(kernel)
    return bool(np.all(((taps >= 0) & (taps < size)).any(axis=1)))


@st.composite
def pool_configs(draw, dilated=True, max_size=7):
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilated else (1, 1)
    ceil_mode = draw(st.booleans())
    size = (draw(st.integers(1, max_size)), draw(st.integers(1, max_size)))
    out = [pool_output_size(*args, ceil_mode) for args in zip(size, kernel, stride, padding,
                                                              dilation)]
    assume(min(out) >= 1)
    assume(all(_every_window_sees_input(*args) for args in zip(size, kernel, stride, padding,
                                                               dilation, out)))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + size
    kwargs = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    if dilated:
        kwargs['dilation'] = dilation
    return shape, draw(st.integers(0, 2 ** 16)), kwargs


def _torch_fn(name):
    torch = require_torch()
    return getattr(torch.nn.functional, name)


# ---------------------------------------------------------------- max_pool2d

@settings(**SETTINGS)
@given(pool_configs(), st.booleans())
def test_max_pool2d_matches_torch(config, return_indices):
    shape, seed, kwargs = config
    check_torch_parity(F.max_pool2d, _torch_fn('max_pool2d'), [_tie_free(shape, seed)],
                       return_indices=return_indices, **kwargs)


@settings(**SETTINGS)
@given(pool_configs(max_size=5))
def test_max_pool2d_gradcheck(config):
    shape, seed, kwargs = config
    assert check_gradients(F.max_pool2d, [_tie_free(shape, seed)], **kwargs)


@pytest.mark.parametrize('kwargs', [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                    dict(kernel_size=3, stride=2, ceil_mode=True)])
def test_max_pool2d_ties_match_torch(kwargs):
    """Plateaus of equal values: the first max of each window (row-major) gets the gradient;
    overlapping windows that share a max add up there."""
    rng = np.random.default_rng(5)
    x = np.floor(rng.random((2, 2, 7, 6)) * 3)  # values 0, 1, 2: many ties
    x[0, 0] = 1.0                               # a constant plane: every window ties
    check_torch_parity(F.max_pool2d, _torch_fn('max_pool2d'), [x], return_indices=True,
                       **kwargs)


@pytest.mark.parametrize('kwargs', [dict(kernel_size=3, stride=1, padding=1),
                                    dict(kernel_size=2, stride=2, padding=1),
                                    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                    dict(kernel_size=(3, 2), stride=1, padding=(1, 1),
                                         dilation=(2, 1))])
def test_max_pool2d_never_picks_padding(kwargs):
    """Windows whose real values are all -inf (the padding is -inf too) pick their first
    real pixel, as PyTorch does: the indices and the gradient's route follow."""
    x = np.full((1, 2, 5, 4), -np.inf)
    x[0, 1, 2:, 1:] = np.floor(np.random.default_rng(1).random((3, 3)) * 2)  # ties and -inf
    check_torch_parity(F.max_pool2d, _torch_fn('max_pool2d'), [x], return_indices=True,
                       **kwargs)


def test_max_pool2d_indices_are_flat_positions_in_the_input():
    x = minidl.tensor(on_device(_tie_free((1, 1, 5, 5), 0)))
    out, indices = F.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    assert indices.dtype == np.int64 and indices.shape == out.shape
    flat = x.numpy().reshape(1, 1, 25)
    np.testing.assert_array_equal(np.take_along_axis(flat, indices.numpy().reshape(1, 1, -1),
                                                     axis=2).reshape(out.shape), out.numpy())


def test_max_pool2d_float32_and_no_grad_for_indices():
    x = minidl.tensor(on_device(_tie_free((1, 2, 6, 6), 1).astype(np.float32)),
                      requires_grad=True)
    out, indices = F.max_pool2d(x, 2, return_indices=True)
    assert out.dtype == np.float32 and not indices.requires_grad
    out.sum().backward()
    assert x.grad.dtype == np.float32
    assert x.grad.numpy().sum() == out.numel()  # one unit of gradient per window


# ---------------------------------------------------------------- avg_pool2d

@st.composite
def avg_configs(draw, max_size=7):
    shape, seed, kwargs = draw(pool_configs(dilated=False, max_size=max_size))
    kwargs['count_include_pad'] = draw(st.booleans())
    kwargs['divisor_override'] = draw(st.sampled_from([None, None, 1, 5]))
    return shape, seed, kwargs


@settings(**SETTINGS)
@given(avg_configs())
def test_avg_pool2d_matches_torch(config):
    shape, seed, kwargs = config
    x = np.random.default_rng(seed).standard_normal(shape)
    check_torch_parity(F.avg_pool2d, _torch_fn('avg_pool2d'), [x], **kwargs)


@settings(**SETTINGS)
@given(avg_configs(max_size=5))
def test_avg_pool2d_gradcheck(config):
    shape, seed, kwargs = config
    x = np.random.default_rng(seed).standard_normal(shape)
    assert check_gradients(F.avg_pool2d, [x], **kwargs)


def test_avg_pool2d_negative_divisor_override():
    """PyTorch accepts any non-zero divisor, negative ones too."""
    x = np.random.default_rng(8).standard_normal((1, 1, 4, 4))
    check_torch_parity(F.avg_pool2d, _torch_fn('avg_pool2d'), [x], kernel_size=2,
                       divisor_override=-2)


def test_avg_pool2d_ceil_mode_divisors():
    """A 3-wide window, stride 2, padding 1 over 6 pixels with ceil_mode: 4 windows; the
    last starts at pixel 5 and is clipped at 6 + 1 = 7, so it is 2 wide including the
    padding (divisor 2) and holds 1 input pixel (divisor 1 without the padding)."""
    x = minidl.tensor(on_device(np.ones((1, 1, 1, 6))))
    incl = F.avg_pool2d(x, (1, 3), stride=(1, 2), padding=(0, 1), ceil_mode=True)
    excl = F.avg_pool2d(x, (1, 3), stride=(1, 2), padding=(0, 1), ceil_mode=True,
                        count_include_pad=False)
    np.testing.assert_allclose(incl.numpy().ravel(), [2 / 3, 1, 1, 1 / 2])
    np.testing.assert_allclose(excl.numpy().ravel(), [1, 1, 1, 1])


# ---------------------------------------------------------------- adaptive pooling

OUTPUT_SIZES = [1, (1, 1), 2, (3, None), (None, 2), (4, 5), (2, 3), (5, 7), 7]


@pytest.mark.parametrize('output_size', OUTPUT_SIZES)
def test_adaptive_avg_pool2d_matches_torch(output_size):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6))
    check_torch_parity(F.adaptive_avg_pool2d, _torch_fn('adaptive_avg_pool2d'), [x],
                       output_size=output_size)


@pytest.mark.parametrize('output_size', [1, (2, 3), (3, 2), (4, 4)])
def test_adaptive_avg_pool2d_gradcheck(output_size):
    x = np.random.default_rng(1).standard_normal((1, 2, 4, 6))
    assert check_gradients(F.adaptive_avg_pool2d, [x], output_size=output_size)


@pytest.mark.parametrize('output_size', OUTPUT_SIZES)
def test_adaptive_max_pool2d_matches_torch(output_size):
    x = _tie_free((2, 3, 7, 6), 2)
    check_torch_parity(F.adaptive_max_pool2d, _torch_fn('adaptive_max_pool2d'), [x],
                       output_size=output_size, return_indices=True)


def test_adaptive_max_pool2d_gradcheck_and_ties():
    assert check_gradients(F.adaptive_max_pool2d, [_tie_free((1, 2, 5, 4), 3)],
                           output_size=(3, 3))
    x = np.floor(np.random.default_rng(4).random((1, 2, 5, 7)) * 2)
    check_torch_parity(F.adaptive_max_pool2d, _torch_fn('adaptive_max_pool2d'), [x],
                       output_size=(3, 4), return_indices=True)


# ---------------------------------------------------------------- cost rules

def _cost(fn):
    calls = []
    hook = lambda function, ctx, inputs, outputs: calls.append((function, ctx, inputs, outputs))
    with autograd.register_apply_hook(hook):
        fn()
    ((function, ctx, inputs, outputs),) = calls
    return function.cost(ctx, inputs, outputs)


def test_pooling_costs():
    x = minidl.tensor(on_device(np.ones((2, 3, 8, 8), np.float32)), requires_grad=True)
    out_size = 2 * 3 * 4 * 4
    cost = _cost(lambda: F.max_pool2d(x, 3, stride=2, padding=1))
    assert (cost.macs, cost.forward_flops, cost.backward_input_flops) == (0, 9 * out_size,
                                                                          out_size)
    cost = _cost(lambda: F.avg_pool2d(x, 2))
    assert (cost.forward_flops, cost.backward_input_flops) == (4 * out_size, 5 * out_size)
    cost = _cost(lambda: F.adaptive_avg_pool2d(x, 1))
    assert cost.forward_flops == x.numel()
    # overlapping adaptive windows: 8 -> 3 rows are [0,3) [2,6) [5,8): 3 + 4 + 3 = 10
    cost = _cost(lambda: F.adaptive_avg_pool2d(x, 3))
    assert cost.forward_flops == 2 * 3 * 10 * 10
    frozen = minidl.tensor(on_device(np.ones((2, 3, 8, 8), np.float32)))
    assert _cost(lambda: F.max_pool2d(frozen, 2)).backward_input_flops == 0


# ---------------------------------------------------------------- input checks

def _t(*shape):
    return minidl.tensor(on_device(np.zeros(shape, np.float32)))


POOLS = {
    'max_pool2d': dict(kernel_size=3, stride=2, padding=1, return_indices=True),
    'avg_pool2d': dict(kernel_size=2, padding=1, count_include_pad=False),
    'adaptive_avg_pool2d': dict(output_size=(3, 2)),
    'adaptive_max_pool2d': dict(output_size=(2, 3), return_indices=True),
}


@pytest.mark.parametrize('name', sorted(POOLS))
def test_unbatched_input(name):
    """A (C, H, W) input is one sample, as PyTorch accepts it."""
    x = np.random.default_rng(7).standard_normal((3, 6, 5))
    check_torch_parity(getattr(F, name), _torch_fn(name), [x], **POOLS[name])


@pytest.mark.parametrize('name', sorted(POOLS))
def test_rejects_input_without_3_or_4_dimensions(name):
    with pytest.raises(ValueError, match=rf'{name}: expected a 3-D \(C, H, W\) or 4-D '
                                         r'\(N, C, H, W\) input, got shape \(8, 8\)'):
        getattr(F, name)(_t(8, 8), **POOLS[name])
    with pytest.raises(ValueError, match=r'got shape \(1, 1, 1, 8, 8\)'):
        getattr(F, name)(_t(1, 1, 1, 8, 8), **POOLS[name])


def test_rejects_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r'max_pool2d: kernel \(5, 5\) \(spanning \(5, 5\)\) is '
                                         r'larger than the padded input \(4, 4\)'):
        F.max_pool2d(_t(1, 1, 4, 4), 5)
    with pytest.raises(ValueError, match=r'avg_pool2d: kernel \(3, 3\).*padded input \(2, 6\)'):
        F.avg_pool2d(_t(1, 1, 2, 6), 3)
    with pytest.raises(ValueError, match=r'spanning \(5, 1\)'):
        F.max_pool2d(_t(1, 1, 4, 4), (3, 1), dilation=2)


def test_rejects_padding_over_half_the_kernel():
    with pytest.raises(ValueError, match=r'max_pool2d: padding should be at most half of the '
                                         r'kernel size, got padding \(2, 2\), '
                                         r'kernel_size \(3, 3\)'):
        F.max_pool2d(_t(1, 1, 8, 8), 3, padding=2)
    with pytest.raises(ValueError, match=r'avg_pool2d: padding should be at most half'):
        F.avg_pool2d(_t(1, 1, 8, 8), (2, 4), padding=(1, 3))


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r'max_pool2d: stride must be >= 1'):
        F.max_pool2d(_t(1, 1, 8, 8), 2, stride=0)
    with pytest.raises(ValueError, match=r'avg_pool2d: divisor_override must be a non-zero int'):
        F.avg_pool2d(_t(1, 1, 8, 8), 2, divisor_override=0)
    with pytest.raises(ValueError, match=r'adaptive_avg_pool2d: output_size must be positive'):
        F.adaptive_avg_pool2d(_t(1, 1, 8, 8), (0, 2))
    with pytest.raises(ValueError, match=r'adaptive_max_pool2d: output_size must be an int or '
                                         r'a pair'):
        F.adaptive_max_pool2d(_t(1, 1, 8, 8), (1, 2, 3))


# ---------------------------------------------------------------- the CUDA kernels (--device cuda)

@KERNEL_SETTINGS
@given(config=windows(max_padding_half_kernel=True), ceil_mode=st.booleans(), dtype=dtypes,
       seed=st.integers(0, 2 ** 31), special=st.booleans())
def test_max_pool_kernels_equal_the_generic_code(cp, config, ceil_mode, dtype, seed, special):
    shape, kernel, stride, padding, dilation = config
    out = tuple(pool_output_size(s, k, st_, p, d, ceil_mode) for s, k, st_, p, d in
                zip(shape[2:], kernel, stride, padding, dilation))
    if min(out) < 1:
        return
    rng = np.random.default_rng(seed)
    x_np = rng.standard_normal(shape).astype(dtype)
    if special:  # ties, NaNs and -inf follow the generic rule too
        x_np[x_np > 1.2] = 1.0
        x_np[x_np < -1.5] = -np.inf
        x_np.flat[rng.integers(0, x_np.size)] = np.nan
    x = cp.asarray(x_np)
    ctx = Context((True,))
    best, arg = pooling.max_pool2d_cuda(x, kernel, stride, padding, dilation, out)
    with generic_code():
        generic_best = pooling.MaxPool2d.forward(ctx, x, kernel=kernel, stride=stride,
                                                 padding=padding, dilation=dilation,
                                                 out_size=out, return_indices=False)
    (generic_arg,) = ctx.saved_tensors
    assert_kernel_close(best, generic_best, dtype, exact=True)
    assert_kernel_close(arg, generic_arg, dtype, exact=True)
    grad = cp.asarray(rng.standard_normal(best.shape).astype(dtype))
    with generic_code():
        generic_dx = pooling.MaxPool2d.backward(ctx, grad)
    assert_kernel_close(pooling.max_pool2d_backward_cuda(grad, arg, shape, kernel, stride,
                                                         padding, dilation), generic_dx, dtype)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_max_pool2d_agrees_with_its_kernels_on_and_off(cp, dtype):
    assert_operator_agrees_with_kernels_on_and_off(
        cp, lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
        [(2, 3, 9, 8)], dtype)

"""batch_norm and local_response_norm: gradcheck, PyTorch parity, running statistics,
errors, and what they save and cost."""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import minidl
from minidl import autograd
from minidl import functional as F
from minidl.functional.normalization import BatchNorm, FixedBatchNorm
from tests.parity import check_gradients, check_torch_parity, on_device, require_torch
from minidl.autograd import Context
from minidl.functional import normalization
from tests.functional.kernels import (  # noqa: F401 (cp is a fixture)
    KERNEL_SETTINGS, assert_kernel_close, assert_operator_agrees_with_kernels_on_and_off, cp,
    dtypes, generic_code)

SETTINGS = settings(max_examples=20, deadline=None)


def _tensor(array, requires_grad=False):
    return minidl.tensor(on_device(array), requires_grad=requires_grad)


# ---------------------------------------------------------------- batch_norm cases

@st.composite
def bn_cases(draw, ndims=(2, 3, 4), training=True):
    """(shape, seed): a small (N, C, ...) shape; with more than one value per channel
    when ``training``."""
    ndim = draw(st.sampled_from(ndims))
    n = draw(st.integers(1, 4))
    c = draw(st.integers(1, 3))
    spatial = tuple(draw(st.integers(1, 3)) for _ in range(ndim - 2))
    if training:
        assume(n * math.prod(spatial) > 1)
    return (n, c) + spatial, draw(st.integers(0, 2 ** 31))


def _bn_arrays(shape, seed):
    """input, weight, bias, running_mean, running_var (variance positive)."""
    rng = np.random.default_rng(seed)
    c = shape[1]
    return (rng.standard_normal(shape) * 2 + 0.5, rng.standard_normal(c), rng.standard_normal(c),
            rng.standard_normal(c), rng.uniform(0.5, 2.0, c))


@SETTINGS
@given(case=bn_cases(ndims=(2, 4)), affine=st.booleans())
def test_batch_norm_training_gradcheck(case, affine):
    x, w, b, _, _ = _bn_arrays(*case)
    if affine:
        check_gradients(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                        [x, w, b])
    else:
        check_gradients(lambda x: F.batch_norm(x, None, None, training=True), [x])


@SETTINGS
@given(case=bn_cases(ndims=(2, 4), training=False), affine=st.booleans())
def test_batch_norm_eval_gradcheck(case, affine):
    x, w, b, rm, rv = _bn_arrays(*case)
    running_mean, running_var = _tensor(rm), _tensor(rv)
    if affine:
        check_gradients(lambda x, w, b: F.batch_norm(x, running_mean, running_var, w, b),
                        [x, w, b])
    else:
        check_gradients(lambda x: F.batch_norm(x, running_mean, running_var), [x])


@SETTINGS
@given(case=bn_cases(), affine=st.booleans(), eps=st.sampled_from([1e-5, 1e-3, 0.1]))
def test_batch_norm_training_matches_torch(case, affine, eps):
    torch = require_torch()
    x, w, b, _, _ = _bn_arrays(*case)
    if affine:
        check_torch_parity(lambda x, w, b: F.batch_norm(x, None, None, w, b, True, eps=eps),
                           lambda x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b,
                                                                          True, eps=eps),
                           [x, w, b])
    else:
        check_torch_parity(lambda x: F.batch_norm(x, None, None, training=True, eps=eps),
                           lambda x: torch.nn.functional.batch_norm(x, None, None, training=True,
                                                                    eps=eps),
                           [x])


@SETTINGS
@given(case=bn_cases(training=False), affine=st.booleans())
def test_batch_norm_eval_matches_torch(case, affine):
    """Evaluation uses the running statistics and leaves them (and the input) unchanged:
    check_torch_parity checks every argument it passes is unmodified."""
    torch = require_torch()
    x, w, b, rm, rv = _bn_arrays(*case)
    tbn = torch.nn.functional.batch_norm
    if affine:
        check_torch_parity(lambda x, rm, rv, w, b: F.batch_norm(x, rm, rv, w, b),
                           lambda x, rm, rv, w, b: tbn(x, rm, rv, w, b),
                           [x, rm, rv, w, b], requires_grad=[True, False, False, True, True])
    else:
        check_torch_parity(lambda x, rm, rv: F.batch_norm(x, rm, rv),
                           lambda x, rm, rv: tbn(x, rm, rv),
                           [x, rm, rv], requires_grad=[True, False, False])


@pytest.mark.parametrize('training', [True, False])
@pytest.mark.parametrize('needs', [(False, True, True), (True, False, False), (False, True, False)])
def test_batch_norm_partial_gradients_match_torch(training, needs):
    """Only some of input, weight, bias require grad: each backward branch alone."""
    torch = require_torch()
    x, w, b, rm, rv = _bn_arrays((3, 2, 2, 2), 7)

    def ours(x, rm, rv, w, b):
        return F.batch_norm(x, None, None, w, b, True) if training else F.batch_norm(x, rm, rv, w, b)

    def theirs(x, rm, rv, w, b):
        bn = torch.nn.functional.batch_norm
        return bn(x, None, None, w, b, True) if training else bn(x, rm, rv, w, b)

    check_torch_parity(ours, theirs, [x, rm, rv, w, b],
                       requires_grad=[needs[0], False, False, needs[1], needs[2]])


@SETTINGS
@given(case=bn_cases(), momentum=st.sampled_from([0.1, 0.01, 0.5, 1.0, 0.0]),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_batch_norm_running_stats_match_torch(case, momentum, dtype):
    """After several training calls the running mean and (unbiased) variance equal
    PyTorch's, updated in place in the same buffers, in the buffers' dtype."""
    torch = require_torch()
    shape, seed = case
    rng = np.random.default_rng(seed)
    c = shape[1]
    running_mean, running_var = _tensor(np.zeros(c, dtype)), _tensor(np.ones(c, dtype))
    mean_buffer, var_buffer = running_mean.array, running_var.array
    torch_dtype = torch.float32 if dtype == np.float32 else torch.float64
    torch_mean, torch_var = torch.zeros(c, dtype=torch_dtype), torch.ones(c, dtype=torch_dtype)
    for _ in range(3):
        x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
        F.batch_norm(_tensor(x), running_mean, running_var, training=True, momentum=momentum)
        torch.nn.functional.batch_norm(torch.from_numpy(x), torch_mean, torch_var,
                                       training=True, momentum=momentum)
    assert running_mean.array is mean_buffer and running_var.array is var_buffer
    assert running_mean.dtype == dtype and running_var.dtype == dtype
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(running_mean.numpy(), torch_mean.numpy(), **tol)
    np.testing.assert_allclose(running_var.numpy(), torch_var.numpy(), **tol)


def test_batch_norm_training_output_is_standardised():
    """With weight 1 and bias 0, each channel of the output has mean 0 and biased
    variance 1 / (1 + eps / var); float32 stays float32."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((6, 3, 4, 4)) * 5 + 2).astype(np.float32)
    y = F.batch_norm(_tensor(x), None, None, training=True, eps=1e-5)
    assert y.dtype == np.float32
    out = y.numpy()
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    var = x.astype(np.float64).var(axis=(0, 2, 3))
    np.testing.assert_allclose(out.astype(np.float64).var(axis=(0, 2, 3)), var / (var + 1e-5),
                               rtol=1e-4)


def test_batch_norm_running_mean_length_error_names_shapes():
    x = _tensor(np.zeros((2, 3, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r'batch_norm: input has 3 channels \(input \(2, 3, 4, 4\)\), '
                                         r'running_mean has shape \(4,\)'):
        F.batch_norm(x, _tensor(np.zeros(4, np.float32)), _tensor(np.ones(4, np.float32)))
    with pytest.raises(ValueError, match=r'weight has shape \(2,\); expected \(3,\)'):
        F.batch_norm(x, None, None, _tensor(np.ones(2, np.float32)), training=True)


@pytest.mark.parametrize('shape', [(1, 3), (1, 3, 1), (1, 2, 1, 1)])
def test_batch_norm_one_value_per_channel_in_training_raises(shape):
    x = _tensor(np.zeros(shape, np.float32))
    with pytest.raises(ValueError, match=r'Expected more than 1 value per channel when training, '
                                         r'got input size ' + re_shape(shape)):
        F.batch_norm(x, None, None, training=True)
    # evaluation with a single value is fine
    c = shape[1]
    F.batch_norm(x, _tensor(np.zeros(c, np.float32)), _tensor(np.ones(c, np.float32)))


@pytest.mark.parametrize('shape', [(0, 3), (0, 3, 4), (0, 3, 2, 2), (0, 3, 1, 2, 2)])
@pytest.mark.parametrize('training', [True, False])
def test_batch_norm_of_an_empty_batch(shape, training):
    """An empty batch gives an empty result and gradient, zero parameter gradients, and
    leaves the running statistics as they are, as in PyTorch."""
    torch = require_torch()
    c = shape[1]
    rng = np.random.default_rng(0)
    stats = [rng.standard_normal(c), rng.random(c) + 0.5]
    params = [rng.standard_normal(c), rng.standard_normal(c)]

    def ours(x, w, b):
        mean, var = (_tensor(a.astype(x.dtype)) for a in stats)
        out = F.batch_norm(x, mean, var, w, b, training=training)
        np.testing.assert_array_equal(mean.numpy(), stats[0].astype(x.dtype))
        return out

    def theirs(x, w, b):
        return torch.nn.functional.batch_norm(x, *(torch.tensor(a, dtype=x.dtype) for a in stats),
                                              w, b, training=training)
    check_torch_parity(ours, theirs, [np.zeros(shape)] + params)


def test_batch_norm_takes_any_momentum_like_pytorch():
    torch = require_torch()
    x = np.random.default_rng(1).standard_normal((3, 2, 4, 4))
    for momentum in (-1.0, 1.5):
        mean, var = _tensor(np.zeros(2)), _tensor(np.ones(2))
        F.batch_norm(_tensor(x), mean, var, training=True, momentum=momentum, eps=0.5)
        t_mean, t_var = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
        torch.nn.functional.batch_norm(torch.tensor(x), t_mean, t_var, training=True,
                                       momentum=momentum, eps=0.5)
        np.testing.assert_allclose(mean.numpy(), t_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(var.numpy(), t_var.numpy(), rtol=1e-12)


def re_shape(shape):
    return str(tuple(shape)).replace('(', r'\(').replace(')', r'\)')


def test_batch_norm_bad_arguments_raise():
    x = _tensor(np.zeros((2, 3), np.float32))
    rm, rv = _tensor(np.zeros(3, np.float32)), _tensor(np.ones(3, np.float32))
    with pytest.raises(ValueError, match='running_mean and running_var are needed when training=False'):
        F.batch_norm(x, None, None)
    with pytest.raises(ValueError, match='must be given together'):
        F.batch_norm(x, rm, None, training=True)
    with pytest.raises(ValueError, match='momentum must be a number, got None .*nn.BatchNorm'):
        F.batch_norm(x, rm, rv, training=True, momentum=None)
    with pytest.raises(ValueError, match='eps must be positive'):
        F.batch_norm(x, rm, rv, training=True, eps=0.0)
    with pytest.raises(ValueError, match=r'2 or more dimensions.*\(3,\)'):
        F.batch_norm(_tensor(np.zeros(3, np.float32)), rm, rv)


def _recorded(fn):
    """Run fn and return (function, ctx, inputs, outputs) of the last operator applied."""
    seen = []
    hook = lambda cls, ctx, inputs, outputs: seen.append((cls, ctx, inputs, outputs))
    with autograd.register_apply_hook(hook):
        fn()
    return seen[-1]


@pytest.mark.parametrize('training', [True, False])
def test_batch_norm_saves_one_input_sized_array_and_costs(training):
    n, c = 4 * 3 * 5 * 5, 3
    x = _tensor(np.random.default_rng(0).standard_normal((4, 3, 5, 5)).astype(np.float32), True)
    w, b = _tensor(np.ones(c, np.float32), True), _tensor(np.zeros(c, np.float32), True)
    rm, rv = _tensor(np.zeros(c, np.float32)), _tensor(np.ones(c, np.float32))
    cls, ctx, inputs, outputs = _recorded(lambda: F.batch_norm(x, rm, rv, w, b, training))
    assert cls is (BatchNorm if training else FixedBatchNorm)
    saved = sum(a.nbytes for a in ctx.saved_arrays())
    # training: x_hat + inv_std + gamma; evaluation: x + mean + inv_std + scale
    assert saved == 4 * n + 4 * c * (2 if training else 3)
    cost = cls.cost(ctx, inputs, outputs)
    if training:
        assert (cost.forward_flops, cost.backward_input_flops, cost.backward_weight_flops) == \
            (7 * n, 4 * n, 3 * n)
    else:
        assert (cost.forward_flops, cost.backward_input_flops, cost.backward_weight_flops) == \
            (2 * n, n, 4 * n)


def test_batch_norm_in_evaluation_with_frozen_parameters_saves_only_the_scale():
    """Evaluation (FixedBatchNorm) with weight and bias frozen, as when fine-tuning,
    keeps C values for backward where training keeps an input-sized x_hat; dx is then
    g * weight / sqrt(running_var + eps)."""
    shape, c = (4, 3, 5, 5), 3
    x, w, b, rm, rv = (a.astype(np.float32) for a in _bn_arrays(shape, 5))
    x_in = _tensor(x, requires_grad=True)
    cls, ctx, inputs, outputs = _recorded(
        lambda: F.batch_norm(x_in, _tensor(rm), _tensor(rv), _tensor(w), _tensor(b)))
    assert cls is FixedBatchNorm
    assert sum(a.nbytes for a in ctx.saved_arrays()) == 4 * c
    cost = cls.cost(ctx, inputs, outputs)
    n = x.size
    assert (cost.forward_flops, cost.backward_input_flops, cost.backward_weight_flops) == \
        (2 * n, n, 0)
    grad = np.random.default_rng(6).standard_normal(shape).astype(np.float32)
    out = F.batch_norm(x_in, _tensor(rm), _tensor(rv), _tensor(w), _tensor(b))
    out.backward(_tensor(grad))
    expected = grad * (w / np.sqrt(rv + 1e-5))[:, None, None]
    np.testing.assert_allclose(x_in.grad.numpy(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.skipif(not minidl.cuda_is_available(), reason='needs a GPU and CuPy')
@pytest.mark.parametrize('training', [True, False])
def test_batch_norm_running_statistics_on_another_device_raise(training):
    """The running statistics travel to the operator as settings (raw arrays), so
    batch_norm checks their device itself."""
    x = minidl.randn(4, 3, 2, 2, device='cuda')
    with pytest.raises(RuntimeError, match='batch_norm: expected all tensors on the same '
                                           'device, got input on cuda:0 and running_mean on cpu'):
        F.batch_norm(x, minidl.zeros(3), minidl.ones(3), training=training)


# ---------------------------------------------------------------- local_response_norm

@st.composite
def lrn_cases(draw):
    ndim = draw(st.sampled_from([3, 4, 4, 5]))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 6))) + tuple(
        draw(st.integers(1, 3)) for _ in range(ndim - 2))
    config = dict(size=draw(st.integers(1, 6)),
                  alpha=draw(st.sampled_from([1e-4, 0.1, 0.5, 2.0])),
                  beta=draw(st.sampled_from([0.5, 0.75, 1.0, 1.5])),
                  k=draw(st.sampled_from([0.5, 1.0, 2.0])))
    return shape, config, draw(st.integers(0, 2 ** 31))


@SETTINGS
@given(case=lrn_cases())
def test_local_response_norm_gradcheck(case):
    shape, config, seed = case
    x = np.random.default_rng(seed).standard_normal(shape)
    check_gradients(F.local_response_norm, [x], **config)


@SETTINGS
@given(case=lrn_cases())
def test_local_response_norm_matches_torch(case):
    torch = require_torch()
    shape, config, seed = case
    x = np.random.default_rng(seed).standard_normal(shape) * 2
    check_torch_parity(F.local_response_norm, torch.nn.functional.local_response_norm, [x],
                       **config)


def _alexnet_paper_lrn(a, n=5, k=2.0, alpha=1e-4, beta=0.75):
    """Krizhevsky et al. 2012, section 3.3, written out with loops:
    b_i = a_i / (k + alpha * sum_{j=max(0, i-n/2)}^{min(N-1, i+n/2)} a_j^2)^beta."""
    channels = a.shape[1]
    b = np.empty_like(a)
    for i in range(channels):
        lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
        b[:, i] = a[:, i] / (k + alpha * (a[:, lo:hi + 1] ** 2).sum(axis=1)) ** beta
    return b


def test_local_response_norm_reproduces_alexnet_paper_constants():
    """The paper's k=2, n=5, alpha=1e-4, beta=0.75 are PyTorch's size=5, alpha=5e-4
    (alpha times n), beta=0.75, k=2."""
    x = np.random.default_rng(0).standard_normal((2, 9, 3, 3)) * 30  # large: alpha matters
    ours = F.local_response_norm(_tensor(x), 5, alpha=5e-4, beta=0.75, k=2.0).numpy()
    paper = _alexnet_paper_lrn(x)
    np.testing.assert_allclose(ours, paper, rtol=1e-12)
    unscaled = F.local_response_norm(_tensor(x), 5, alpha=1e-4, beta=0.75, k=2.0).numpy()
    assert not np.allclose(unscaled, paper, rtol=1e-3)


def test_local_response_norm_float32_and_errors():
    x = _tensor(np.ones((1, 4, 2, 2), np.float32))
    assert F.local_response_norm(x, 3).dtype == np.float32
    with pytest.raises(ValueError, match=r'local_response_norm: Expected 3D or higher.*\(4, 2\)'):
        F.local_response_norm(_tensor(np.ones((4, 2), np.float32)), 3)
    with pytest.raises(ValueError, match='size must be a positive int'):
        F.local_response_norm(x, 0)
    empty = _tensor(np.ones((0, 4, 2, 2), np.float32))
    assert F.local_response_norm(empty, 3) is empty


# ---------------------------------------------------------------- the CUDA kernels (--device cuda)

@KERNEL_SETTINGS
@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 9), st.integers(1, 4),
                       st.integers(1, 4)),
       size=st.integers(1, 7), alpha=st.floats(1e-4, 1e-1), beta=st.floats(0.25, 1.5),
       k=st.floats(0.5, 2.0), dtype=dtypes, seed=st.integers(0, 2 ** 31))
def test_lrn_kernels_equal_the_generic_code(cp, shape, size, alpha, beta, k, dtype, seed):
    rng = np.random.default_rng(seed)
    x = cp.asarray(rng.standard_normal(shape).astype(dtype))
    ctx = Context((True,))
    grad = cp.asarray(rng.standard_normal(shape).astype(dtype))
    with generic_code():
        generic = normalization.LocalResponseNorm.forward(ctx, x, size=size, alpha=alpha,
                                                          beta=beta, k=k)
        generic_scale = ctx.saved_tensors[1]
        generic_dx = normalization.LocalResponseNorm.backward(ctx, grad)
    out, scale = normalization.lrn_cuda(x, size, alpha, beta, k)
    assert_kernel_close(out, generic, dtype)
    assert_kernel_close(scale, generic_scale, dtype)
    assert_kernel_close(normalization.lrn_backward_cuda(grad, x, scale, size, alpha, beta),
                        generic_dx, dtype)


@KERNEL_SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=2, max_size=4).filter(
           lambda s: int(np.prod(s)) // s[1] > 1),
       affine=st.booleans(), dtype=dtypes, seed=st.integers(0, 2 ** 31))
def test_batch_norm_kernels_equal_the_generic_code(cp, shape, affine, dtype, seed):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = cp.asarray((rng.standard_normal(shape) * 3 + 1).astype(dtype))
    weight = cp.asarray(rng.standard_normal(c).astype(dtype)) if affine else None
    bias = cp.asarray(rng.standard_normal(c).astype(dtype)) if affine else None
    grad = cp.asarray(rng.standard_normal(shape).astype(dtype))
    ctx = Context((True, affine, affine))
    with generic_code():
        generic = BatchNorm.forward(ctx, x, weight, bias, running_mean=None, running_var=None,
                                    momentum=0.1, eps=1e-5)
        generic_x_hat, generic_inv_std, gamma = ctx.saved_tensors
        theirs = BatchNorm.backward(ctx, grad)
    out, x_hat, mean, var, inv_std = normalization.batch_norm_training_cuda(
        x, weight, bias, 1e-5)
    assert_kernel_close(out, generic, dtype)
    assert_kernel_close(x_hat, generic_x_hat, dtype)
    assert_kernel_close(inv_std, generic_inv_std, dtype)
    assert_kernel_close(mean, x.mean(axis=(0,) + tuple(range(2, x.ndim)), keepdims=True), dtype)
    no_x_hat = normalization.batch_norm_training_cuda(x, weight, bias, 1e-5, keep_x_hat=False)
    assert no_x_hat[1] is None
    assert_kernel_close(no_x_hat[0], generic, dtype)
    ours = normalization.batch_norm_backward_cuda(grad, x_hat, inv_std, gamma, True, affine,
                                                  affine)
    assert_kernel_close(ours[0], theirs[0], dtype)
    for mine, generic_grad in zip(ours[1:], theirs[1:]):
        assert (mine is None) == (generic_grad is None)
        if mine is not None:
            assert_kernel_close(mine, generic_grad, dtype)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_normalizations_agree_with_their_kernels_on_and_off(cp, dtype):
    assert_operator_agrees_with_kernels_on_and_off(
        cp, lambda x: F.local_response_norm(x, 5, alpha=1e-2, k=2.0), [(2, 7, 4, 3)], dtype)
    assert_operator_agrees_with_kernels_on_and_off(
        cp, lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        [(4, 3, 5, 5), (3,), (3,)], dtype)


@pytest.mark.cpu_only
@pytest.mark.parametrize('affine', [False, True])
def test_batch_norm_blocks_and_threads_do_not_change_the_result(monkeypatch, affine):
    """On the CPU batch norm runs in blocks of images (here 9 images in blocks of 2 and 1,
    blocks made small for the test) on as many threads as minidl uses: output, running
    statistics and gradients are the same bits with 1 or 3 threads, and match PyTorch."""
    torch = require_torch()
    monkeypatch.setattr(minidl.backend, '_num_threads', None)
    monkeypatch.setattr(minidl.backend, 'BYTES_PER_BLOCK', 2 * 3 * 5 * 5 * 4)
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((9, 3, 5, 5)) * 3 + 1).astype(np.float32)
    weight, bias = rng.standard_normal((2, 3)).astype(np.float32)
    grad = rng.standard_normal(x.shape).astype(np.float32)
    results = []
    for threads in (1, 3):
        minidl.set_num_threads(threads)
        tensors = [minidl.tensor(a, requires_grad=True) for a in (x, weight, bias)]
        running = [minidl.zeros(3), minidl.ones(3)]
        out = F.batch_norm(tensors[0], *running, *(tensors[1:] if affine else (None, None)),
                           training=True)
        out.backward(minidl.tensor(grad))
        results.append([out.numpy(), *(r.numpy() for r in running)]
                       + [t.grad.numpy() for t in tensors[:3 if affine else 1]])
    for one, three in zip(*results):
        np.testing.assert_array_equal(one, three)
    t_x, t_w, t_b = (torch.tensor(a, requires_grad=True) for a in (x, weight, bias))
    t_running = [torch.zeros(3), torch.ones(3)]
    t_out = torch.nn.functional.batch_norm(t_x, *t_running, *((t_w, t_b) if affine else ()),
                                           training=True)
    t_out.backward(torch.tensor(grad))
    theirs = [t_out, *t_running] + [t.grad for t in (t_x, t_w, t_b)[:3 if affine else 1]]
    for ours, reference in zip(results[0], theirs):
        np.testing.assert_allclose(ours, reference.detach().numpy(), rtol=1e-4, atol=1e-5)

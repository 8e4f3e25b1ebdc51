"""minidl's CUDA kernels against the generic CuPy code they replace.

    pytest tests/functional/test_cuda_kernels.py --device cuda     # needs CuPy and a GPU

On the GPU every kernel is run beside the generic array code on the same CuPy arrays
(forward and backward, float32 and float64, configurations drawn by Hypothesis), and
whole operators and SGD are run with ``use_cuda_kernels`` on and off. Without
``--device cuda`` and a GPU those tests skip; the tests marked cpu_only check, on the
CPU, that dropout and SGD call their kernels with the right arguments and keep their
state as the generic path does (the kernels replaced by NumPy twins of their maths).
"""
import importlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
from minidl import backend
from minidl import functional as F
from minidl.autograd import Context
from minidl.functional import conv, cuda_kernels
from minidl.functional.normalization import BatchNorm, LocalResponseNorm
from minidl.functional.pooling import MaxPool2d, pool_output_size

# the modules (``minidl.functional.dropout`` as an attribute is the function)
dropout_module = importlib.import_module('minidl.functional.dropout')
sgd_module = importlib.import_module('minidl.optim.sgd')

SETTINGS = settings(max_examples=15, deadline=None)
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}
dtypes = st.sampled_from([np.float32, np.float64])


@pytest.fixture(scope='module')
def cp(request):
    """CuPy, or a skip: these tests need ``--device cuda`` and a GPU."""
    if request.config.getoption('--device') != 'cuda' or not minidl.cuda_is_available():
        pytest.skip('CUDA kernels: run with --device cuda on a machine with a GPU')
    import cupy
    return cupy


def _close(ours, generic, dtype, exact=False):
    ours, generic = ours.get(), generic.get()
    assert ours.shape == generic.shape and ours.dtype == generic.dtype
    if exact:
        np.testing.assert_array_equal(ours, generic)
    else:
        np.testing.assert_allclose(ours, generic, **TOL[dtype])


@st.composite
def windows(draw, max_padding_half_kernel=False):
    """(x shape, kernel, stride, padding, dilation) of a convolution or pooling."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    if max_padding_half_kernel:
        padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    else:
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    h, w = (draw(st.integers(max(1, s - 2 * p), 9)) for s, p in zip(span, padding))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 4)), h, w)
    return shape, kernel, stride, padding, dilation


# ---------------------------------------------------------------- im2col / col2im

@SETTINGS
@given(config=windows(), dtype=dtypes, seed=st.integers(0, 2 ** 31))
def test_im2col_and_col2im_equal_the_generic_code(cp, config, dtype, seed):
    shape, kernel, stride, padding, dilation = config
    out = tuple(conv.conv_output_size(s, k, st_, p, d) for s, k, st_, p, d in
                zip(shape[2:], kernel, stride, padding, dilation))
    rng = np.random.default_rng(seed)
    x = cp.asarray(rng.standard_normal(shape).astype(dtype))
    _close(cuda_kernels.im2col(x, kernel, stride, padding, dilation, out),
           conv.im2col(x, kernel, stride, padding, dilation, out), dtype, exact=True)
    dcols = cp.asarray(rng.standard_normal((shape[1],) + kernel + (shape[0],) + out)
                       .astype(dtype))
    _close(cuda_kernels.col2im(dcols, shape, kernel, stride, padding, dilation, out),
           conv.col2im(dcols, shape, kernel, stride, padding, dilation, out), dtype)


# ---------------------------------------------------------------- max pooling

@SETTINGS
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
    ctx = Context((True,) + (False,) * 6)
    best, arg = cuda_kernels.max_pool2d_forward(x, kernel, stride, padding, dilation, out)
    generic_best = MaxPool2d.forward(ctx, x, kernel, stride, padding, dilation, out, False)
    (generic_arg,) = ctx.saved_tensors
    _close(best, generic_best, dtype, exact=True)
    _close(arg, generic_arg, dtype, exact=True)
    grad = cp.asarray(rng.standard_normal(best.shape).astype(dtype))
    _close(cuda_kernels.max_pool2d_backward(grad, arg, shape, kernel, stride, padding,
                                            dilation),
           MaxPool2d.backward(ctx, grad)[0], dtype)


# ---------------------------------------------------------------- local response norm

@SETTINGS
@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 9), st.integers(1, 4),
                       st.integers(1, 4)),
       size=st.integers(1, 7), alpha=st.floats(1e-4, 1e-1), beta=st.floats(0.25, 1.5),
       k=st.floats(0.5, 2.0), dtype=dtypes, seed=st.integers(0, 2 ** 31))
def test_lrn_kernels_equal_the_generic_code(cp, shape, size, alpha, beta, k, dtype, seed):
    rng = np.random.default_rng(seed)
    x = cp.asarray(rng.standard_normal(shape).astype(dtype))
    ctx = Context((True,) + (False,) * 4)
    generic = LocalResponseNorm.forward(ctx, x, size, alpha, beta, k)
    out, scale = cuda_kernels.lrn_forward(x, size, alpha, beta, k)
    _close(out, generic, dtype)
    _close(scale, ctx.saved_tensors[1], dtype)
    grad = cp.asarray(rng.standard_normal(shape).astype(dtype))
    _close(cuda_kernels.lrn_backward(grad, x, scale, size, alpha, beta),
           LocalResponseNorm.backward(ctx, grad)[0], dtype)


# ---------------------------------------------------------------- batch norm

@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=2, max_size=4).filter(
           lambda s: int(np.prod(s)) // s[1] > 1),
       affine=st.booleans(), dtype=dtypes, seed=st.integers(0, 2 ** 31))
def test_batch_norm_kernels_equal_the_generic_code(cp, shape, affine, dtype, seed):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = cp.asarray((rng.standard_normal(shape) * 3 + 1).astype(dtype))
    weight = cp.asarray(rng.standard_normal(c).astype(dtype)) if affine else None
    bias = cp.asarray(rng.standard_normal(c).astype(dtype)) if affine else None
    needs = (True, False, False, affine, affine)
    ctx = Context(needs)
    generic = BatchNorm.forward(ctx, x, None, None, weight, bias, True, 0.1, 1e-5)
    out, x_hat, mean, var, inv_std = cuda_kernels.batch_norm_forward_training(
        x, weight, bias, 1e-5)
    generic_x_hat, generic_inv_std, gamma = ctx.saved_tensors
    _close(out, generic, dtype)
    _close(x_hat, generic_x_hat, dtype)
    _close(inv_std, generic_inv_std, dtype)
    _close(mean, x.mean(axis=(0,) + tuple(range(2, x.ndim)), keepdims=True), dtype)
    no_x_hat = cuda_kernels.batch_norm_forward_training(x, weight, bias, 1e-5,
                                                        keep_x_hat=False)
    assert no_x_hat[1] is None
    _close(no_x_hat[0], generic, dtype)
    grad = cp.asarray(rng.standard_normal(shape).astype(dtype))
    ours = cuda_kernels.batch_norm_backward_training(grad, x_hat, inv_std, gamma, True,
                                                     affine, affine)
    theirs = BatchNorm.backward(ctx, grad)
    _close(ours[0], theirs[0], dtype)
    for mine, generic_grad in zip(ours[1:], theirs[3:]):
        assert (mine is None) == (generic_grad is None)
        if mine is not None:
            _close(mine, generic_grad, dtype)


# ---------------------------------------------------------------- dropout and SGD kernels

@SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3),
       p=st.sampled_from([0.1, 0.5, 0.8]), dtype=dtypes, seed=st.integers(0, 2 ** 31))
def test_dropout_kernel_is_the_generic_mask_and_product(cp, shape, p, dtype, seed):
    rng = np.random.default_rng(seed)
    x = cp.asarray(rng.standard_normal(shape).astype(dtype))
    u = cp.asarray(rng.random(shape).astype(dtype))
    scale = dtype(1) / dtype(1 - p)
    out, keep = cuda_kernels.dropout_forward(x, u, p, scale)
    generic_keep = u >= p
    generic = x * generic_keep
    generic *= scale
    _close(keep, generic_keep, dtype, exact=True)
    _close(out, generic, dtype, exact=True)
    cuda_kernels.dropout_forward(x, u, p, scale, out=x)   # in place
    _close(x, generic, dtype, exact=True)


SGD_CONFIGS = [dict(), dict(momentum=0.9), dict(momentum=0.9, weight_decay=5e-4),
               dict(momentum=0.8, dampening=0.3, weight_decay=1e-2, maximize=True),
               dict(momentum=0.9, nesterov=True, weight_decay=1e-3), dict(weight_decay=0.1)]


def _sgd_trajectory(parameters, gradients, config):
    """The parameters (host copies) after SGD steps with the given gradient arrays."""
    params = [minidl.tensor(p.copy(), requires_grad=True) for p in parameters]
    opt = minidl.optim.SGD(params, lr=0.05, **config)
    for step_grads in gradients:
        for p, g in zip(params, step_grads):
            p.grad = minidl.tensor(g.copy())
        opt.step()
    return [p.numpy() for p in params], opt


@pytest.mark.parametrize('config', SGD_CONFIGS)
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_sgd_kernel_follows_the_generic_trajectory(cp, monkeypatch, config, dtype):
    rng = np.random.default_rng(0)
    parameters = [cp.asarray(rng.standard_normal(s).astype(dtype)) for s in ((3, 4), (5,))]
    gradients = [[cp.asarray(rng.standard_normal(p.shape).astype(dtype)) for p in parameters]
                 for _ in range(4)]
    monkeypatch.setattr(backend, 'use_cuda_kernels', False)
    generic, _ = _sgd_trajectory(parameters, gradients, config)
    monkeypatch.setattr(backend, 'use_cuda_kernels', True)
    ours, opt = _sgd_trajectory(parameters, gradients, config)
    for mine, theirs in zip(ours, generic):
        np.testing.assert_allclose(mine, theirs, **TOL[dtype])
    if config.get('momentum'):
        assert all(state['momentum_buffer'].dtype == dtype for state in opt.state.values())


# ---------------------------------------------------------------- whole operators, flag on/off

def _operator_run(fn, arrays, seed=0):
    """Output and input gradients of fn on fresh CuPy tensors (the generator reseeded)."""
    minidl.manual_seed(seed)
    tensors = [minidl.tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(*tensors)
    cotangent = np.random.default_rng(seed + 1).standard_normal(out.shape)
    out.backward(minidl.tensor(backend.to_device(cotangent.astype(out.dtype), 'cuda')))
    return [out.numpy()] + [t.grad.numpy() for t in tensors]


OPERATORS = {
    'conv2d': (lambda x, w: F.conv2d(x, w, stride=2, padding=1, dilation=1),
               [(2, 3, 9, 8), (4, 3, 3, 3)]),
    'conv2d_grouped': (lambda x, w: F.conv2d(x, w, padding=2, dilation=2, groups=2),
                       [(2, 4, 7, 7), (6, 2, 3, 3)]),
    'max_pool2d': (lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
                   [(2, 3, 9, 8)]),
    'local_response_norm': (lambda x: F.local_response_norm(x, 5, alpha=1e-2, k=2.0),
                            [(2, 7, 4, 3)]),
    'batch_norm': (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                   [(4, 3, 5, 5), (3,), (3,)]),
    'dropout': (lambda x: F.dropout(x, 0.3), [(4, 5, 6)]),
}


@pytest.mark.parametrize('name', sorted(OPERATORS))
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_operators_agree_with_kernels_on_and_off(cp, monkeypatch, name, dtype):
    """Whatever operators call their kernels give the generic results, forward and
    backward (the same dropout mask: the generator is reseeded)."""
    fn, shapes = OPERATORS[name]
    rng = np.random.default_rng(0)
    arrays = [cp.asarray(rng.standard_normal(s).astype(dtype)) for s in shapes]
    monkeypatch.setattr(backend, 'use_cuda_kernels', False)
    generic = _operator_run(fn, arrays)
    monkeypatch.setattr(backend, 'use_cuda_kernels', True)
    ours = _operator_run(fn, arrays)
    for mine, theirs in zip(ours, generic):
        np.testing.assert_allclose(mine, theirs, **TOL[dtype])


# ---------------------------------------------------------------- call sites, on the CPU

def _numpy_dropout_kernel(calls):
    """dropout_forward's maths in NumPy (keep = u >= p, out = x * keep * scale)."""
    def dropout_forward(x, u, p, scale, out=None):
        calls.append((x.shape, u.shape, p, scale, out is not None))
        keep = u >= p
        result = x * keep
        result *= scale
        if out is not None:
            out[...] = result
            result = out
        return result, keep
    return dropout_forward


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
    monkeypatch.setattr(cuda_kernels, 'dropout_forward', _numpy_dropout_kernel(calls))
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


def _numpy_sgd_kernel(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov,
                      maximize, first):
    """sgd_update's maths in NumPy, in place on param and buf."""
    t = param.dtype.type
    d = -grad if maximize else grad
    if weight_decay != 0:
        d = d + t(weight_decay) * param
    if momentum != 0:
        buf[...] = d if first else buf * t(momentum) + t(1 - dampening) * d
        d = d + t(momentum) * buf if nesterov else buf
    param -= t(lr) * d


@pytest.mark.cpu_only
@pytest.mark.parametrize('config', SGD_CONFIGS)
def test_sgd_calls_its_kernel_like_the_generic_path(monkeypatch, config):
    rng = np.random.default_rng(0)
    parameters = [rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (5,))]
    gradients = [[rng.standard_normal(p.shape).astype(np.float32) for p in parameters]
                 for _ in range(4)]
    generic, generic_opt = _sgd_trajectory(parameters, gradients, config)
    monkeypatch.setattr(sgd_module, 'cuda_kernels_enabled', lambda xp: True)
    monkeypatch.setattr(cuda_kernels, 'sgd_update', _numpy_sgd_kernel)
    ours, opt = _sgd_trajectory(parameters, gradients, config)
    for mine, theirs in zip(ours, generic):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-7)
    buffers = [s['momentum_buffer'] for s in opt.state.values()]
    generic_buffers = [s['momentum_buffer'] for s in generic_opt.state.values()]
    assert len(buffers) == len(generic_buffers) == (2 if config.get('momentum') else 0)
    for mine, theirs in zip(buffers, generic_buffers):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-7)

"""Shared by the tests of the CUDA kernels that sit beside their operators.

On the GPU (``pytest --device cuda``) each kernel is run beside the generic array code
it replaces, on the same CuPy arrays, and each operator with ``use_cuda_kernels`` on and
off; elsewhere those tests skip. The generic reference is always computed with the
switch off (``generic_code``), since the operators take the kernel path by default.
"""
import contextlib

import numpy as np
import pytest
from hypothesis import settings, strategies as st

import minidl
from minidl import backend

KERNEL_SETTINGS = settings(max_examples=15, deadline=None)
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}
dtypes = st.sampled_from([np.float32, np.float64])


@pytest.fixture(scope='module')
def cp(request):
    """CuPy, or a skip: these tests need ``--device cuda`` and a GPU."""
    if request.config.getoption('--device') != 'cuda' or not minidl.cuda_is_available():
        pytest.skip('CUDA kernels: run with --device cuda on a machine with a GPU')
    import cupy
    return cupy


@contextlib.contextmanager
def generic_code():
    """Operators take the generic array code inside (the kernels' reference)."""
    saved = backend.use_cuda_kernels
    backend.use_cuda_kernels = False
    try:
        yield
    finally:
        backend.use_cuda_kernels = saved


def assert_kernel_close(ours, generic, dtype, exact=False):
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


def _operator_run(fn, arrays, kernels, seed=0):
    """Output and input gradients of fn on fresh CuPy tensors (the generator reseeded),
    with the kernels (untested ones included) on or off."""
    saved = backend.use_cuda_kernels, backend.use_untested_cuda_kernels
    backend.use_cuda_kernels = backend.use_untested_cuda_kernels = kernels
    try:
        minidl.manual_seed(seed)
        tensors = [minidl.tensor(a.copy(), requires_grad=True) for a in arrays]
        out = fn(*tensors)
        cotangent = np.random.default_rng(seed + 1).standard_normal(out.shape)
        out.backward(minidl.tensor(backend.to_device(cotangent.astype(out.dtype), 'cuda')))
        return [out.numpy()] + [t.grad.numpy() for t in tensors]
    finally:
        backend.use_cuda_kernels, backend.use_untested_cuda_kernels = saved


def assert_operator_agrees_with_kernels_on_and_off(cp, fn, shapes, dtype):
    """Whatever an operator computes through its kernels equals its generic results,
    forward and backward (the same random draws: the generator is reseeded)."""
    rng = np.random.default_rng(0)
    arrays = [cp.asarray(rng.standard_normal(s).astype(dtype)) for s in shapes]
    generic = _operator_run(fn, arrays, kernels=False)
    ours = _operator_run(fn, arrays, kernels=True)
    for mine, theirs in zip(ours, generic):
        np.testing.assert_allclose(mine, theirs, **TOL[dtype])

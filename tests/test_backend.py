import os
import threading

import numpy as np
import pytest

import minidl
from minidl import backend
from minidl.backend import Device


def test_device_parsing():
    assert Device('cpu') == 'cpu'
    assert Device('cuda') == Device('cuda:0')
    assert Device('cuda:1').index == 1
    assert str(Device('cuda:1')) == 'cuda:1'
    assert repr(Device('cpu')) == "device(type='cpu')"
    for bad in ('gpu', 'cuda:x', 'tpu:0'):
        with pytest.raises(ValueError, match='unknown device'):
            Device(bad)


def test_get_array_module_numpy():
    assert backend.get_array_module(np.zeros(2)) is np
    assert backend.get_array_module(1.0, np.zeros(2)) is np


@pytest.mark.cpu_only
def test_cuda_without_cupy_or_gpu_says_which(monkeypatch):
    if minidl.cuda_is_available():
        pytest.skip('a GPU is present')
    with pytest.raises(RuntimeError, match='CuPy|GPU') as info:
        minidl.zeros(2, device='cuda')
    message = str(info.value)
    assert 'pip install' in message or 'no CUDA GPU' in message or 'no GPU' in message.lower()


def test_manual_seed_repeats_draws():
    minidl.manual_seed(123)
    a = minidl.randn(5).numpy()
    minidl.manual_seed(123)
    b = minidl.randn(5).numpy()
    c = minidl.randn(5).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


def test_rng_state_roundtrip():
    minidl.manual_seed(7)
    minidl.rand(3)
    state = minidl.get_rng_state()
    first = minidl.rand(4).numpy()
    minidl.set_rng_state(state)
    np.testing.assert_array_equal(minidl.rand(4).numpy(), first)


def test_random_dtypes_follow_request():
    assert backend.random_normal((2, 2), np.float32).dtype == np.float32
    assert backend.random_uniform((2, 2), np.float64).dtype == np.float64
    u = backend.random_uniform((1000,), np.float32, low=-2, high=3)
    assert u.min() >= -2 and u.max() < 3


def test_to_device_cpu_is_identity():
    x = np.arange(3.0)
    assert backend.to_device(x, 'cpu') is x


@pytest.mark.cpu_only
def test_cuda_kernel_switch(monkeypatch):
    """On by default, off with MINIDL_CUDA_KERNELS=0, and only ever for CuPy arrays."""
    import subprocess
    import sys
    probe = 'import minidl.backend as b; print(b.use_cuda_kernels)'
    for value, expected in (('1', 'True'), ('0', 'False'), (None, 'True')):
        env = {k: v for k, v in os.environ.items() if k != 'MINIDL_CUDA_KERNELS'}
        if value is not None:
            env['MINIDL_CUDA_KERNELS'] = value
        done = subprocess.run([sys.executable, '-c', probe], env=env, capture_output=True,
                              text=True, check=True)
        assert done.stdout.strip() == expected
    monkeypatch.setattr(backend, 'use_cuda_kernels', True)
    assert not backend.cuda_kernels_enabled(np)
    monkeypatch.setattr(backend, 'use_cuda_kernels', False)
    assert not backend.cuda_kernels_enabled(np)


def test_generator_like_pytorchs():
    g = minidl.Generator()
    assert g.initial_seed() == 67280421310721 and g.device == minidl.device('cpu')
    assert g.manual_seed(3) is g and g.initial_seed() == 3
    first = minidl.randn(5, generator=g).numpy()
    g.manual_seed(3)
    np.testing.assert_array_equal(minidl.randn(5, generator=g).numpy(), first)
    state = g.get_state()
    assert state.dtype == np.uint8 and state.ndim == 1
    after = minidl.rand(4, generator=g).numpy()
    minidl.rand(7, generator=g)
    assert g.set_state(state) is g
    np.testing.assert_array_equal(minidl.rand(4, generator=g).numpy(), after)
    seed = g.seed()
    assert isinstance(seed, int) and g.initial_seed() == seed


def test_own_generator_leaves_the_default_stream_alone():
    minidl.manual_seed(11)
    expected = minidl.rand(3).numpy()
    minidl.manual_seed(11)
    minidl.randint(0, 5, (4,), generator=minidl.Generator().manual_seed(1))
    minidl.randperm(6, generator=minidl.Generator())
    np.testing.assert_array_equal(minidl.rand(3).numpy(), expected)


def test_default_generator_is_reseeded_in_place():
    g = minidl.default_generator
    assert minidl.manual_seed(4) is g and g.initial_seed() == minidl.initial_seed() == 4
    a = minidl.rand(2).numpy()
    g.manual_seed(4)
    np.testing.assert_array_equal(minidl.rand(2).numpy(), a)


def test_generator_on_another_device_is_refused():
    g = minidl.Generator()
    g.device = minidl.device('cuda')
    with pytest.raises(RuntimeError, match='expected a generator on cpu'):
        minidl.rand(2, generator=g)


# ---------------------------------------------------------------- threads on the CPU

@pytest.mark.cpu_only
@pytest.mark.parametrize('count, grain, n_threads', [(10, 3, 2), (10, 3, 1), (7, 1, 3),
                                                     (4, 10, 2), (0, 2, 2)])
def test_parallel_for_covers_the_range_once_in_blocks(threads, count, grain, n_threads):
    threads(n_threads)
    seen, names = [], set()

    def body(start, stop):
        seen.append((start, stop))
        names.add(threading.current_thread().name)
    backend.parallel_for(np, count, grain, body)
    assert sorted(seen) == [(s, min(s + grain, count)) for s in range(0, count, grain)]
    if n_threads == 1 or count <= grain:
        assert names <= {threading.current_thread().name}


@pytest.mark.cpu_only
def test_parallel_for_runs_blas_on_one_thread_and_restores_it(threads):
    """Also with one block: BLAS's own threads never wake up inside minidl's operators."""
    from threadpoolctl import threadpool_info
    threads(2)

    def blas_threads():
        return [p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas']
    before, inside = blas_threads(), []
    backend.parallel_for(np, 4, 1, lambda start, stop: inside.append(blas_threads()))
    backend.parallel_for(np, 4, 10, lambda start, stop: inside.append(blas_threads()))
    assert len(inside) == 5 and all(t == [1] * len(before) for t in inside)
    assert blas_threads() == before


@pytest.mark.cpu_only
def test_parallel_for_nested_runs_inline_and_errors_reach_the_caller(threads):
    threads(2)
    inner = []

    def body(start, stop):
        backend.parallel_for(np, 3, 1, lambda a, b: inner.append((start, a)))
    backend.parallel_for(np, 2, 1, body)
    assert sorted(inner) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]

    def fails(start, stop):
        if start == 2:
            raise KeyError('block 2')
    with pytest.raises(KeyError, match='block 2'):
        backend.parallel_for(np, 6, 1, fails)


@pytest.mark.cpu_only
def test_parallel_sum_adds_in_block_order_whatever_the_threads(threads):
    """float32 sums depend on their order; the result is the block-order fold, bit for bit."""
    parts = np.random.default_rng(0).standard_normal((9, 50)).astype(np.float32) * \
        np.logspace(-4, 4, 9, dtype=np.float32)[:, None]
    expected = parts[0].copy()
    for part in parts[1:]:
        expected += part
    for n_threads in (1, 2, 3):
        threads(n_threads)
        total = backend.parallel_sum(np, 9, 1, lambda start, stop: parts[start].copy())
        np.testing.assert_array_equal(total, expected)
    pairs = backend.parallel_sum(np, 9, 2, lambda start, stop: parts[start:stop].sum(axis=0))
    assert pairs.shape == (50,)


@pytest.mark.cpu_only
def test_set_num_threads_sets_minidls_and_blass_threads(threads):
    from threadpoolctl import threadpool_info
    assert backend.get_num_threads() >= 1
    threads(3)
    assert minidl.get_num_threads() == 3
    assert {p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'} <= {3}
    threads(1)
    assert minidl.get_num_threads() == 1
    for bad in (0, -1):
        with pytest.raises(RuntimeError, match='set_num_threads: the number of threads must '
                                               'be positive'):
            minidl.set_num_threads(bad)
    for bad in (2.0, True, '2'):
        with pytest.raises(TypeError):
            minidl.set_num_threads(bad)
    assert minidl.get_num_threads() == 1


@pytest.mark.cpu_only
@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs os.fork')
def test_parallel_for_works_in_a_forked_child(threads):
    """The pool's threads do not survive a fork: the child makes its own pool."""
    threads(2)
    backend.parallel_for(np, 4, 1, lambda start, stop: None)   # the parent's pool exists
    pid = os.fork()
    if pid == 0:  # the child: exit 0 when the blocks ran, killed by the alarm if they hang
        code = 1
        try:
            import signal
            signal.alarm(30)
            seen = []
            backend.parallel_for(np, 4, 1, lambda start, stop: seen.append(start))
            code = 0 if sorted(seen) == [0, 1, 2, 3] else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.cpu_only
@pytest.mark.parametrize('shape_a, shape_b', [((64, 300), (300, 1000)), ((3, 40, 50), (50, 700)),
                                              ((2, 1, 30, 20), (4, 20, 600)), ((5,), (5, 3)),
                                              ((8, 9), (9, 0)),
                                              # results under 500 elements (np.dot's path)
                                              ((25, 3000), (3000, 6)), ((2, 1, 5, 20), (3, 20, 4)),
                                              ((1, 25, 700), (1, 700, 6))])
def test_matmul_on_threads_is_numpys_matmul(threads, monkeypatch, shape_a, shape_b):
    """Blocks of columns (made small here) on 1 or 3 threads: NumPy's result and shape,
    the same bits for either thread count."""
    from threadpoolctl import threadpool_info
    monkeypatch.setattr(backend, 'PARALLEL_MATMUL_MACS', 1)
    monkeypatch.setattr(backend, 'MATMUL_COLUMNS', 16)
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape_a).astype(np.float32)
    b = rng.standard_normal(shape_b).astype(np.float32)
    results = []
    for n_threads in (1, 3):
        threads(n_threads)
        blas = [p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas']
        results.append(backend.matmul(a, b))
        assert [p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'] == blas
    np.testing.assert_array_equal(results[0], results[1])
    expected = np.matmul(a, b)
    assert results[0].shape == expected.shape and results[0].dtype == expected.dtype
    np.testing.assert_allclose(results[0], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('count, per_block, expected', [
    (40, 10, 10),   # enough for MIN_BLOCKS blocks of the preferred size
    (32, 9, 8),     # 2 to 4 blocks' worth: MIN_BLOCKS smaller blocks (ResNet's stem)
    (17, 9, 17),    # under two blocks' worth: one block
    (3, 1, 1), (0, 5, 1)])
def test_grain(count, per_block, expected):
    assert backend.grain(count, per_block) == expected


@pytest.mark.cpu_only
def test_parallel_copy_is_an_assignment(threads, monkeypatch):
    """A transposing copy in blocks of the first axis (made small), on 1 or 3 threads."""
    monkeypatch.setattr(backend, 'BYTES_PER_BLOCK', 20000)
    rng = np.random.default_rng(0)
    value = rng.standard_normal((300, 7, 40)).astype(np.float32).transpose(2, 0, 1)[::-1]
    for n_threads in (1, 3):
        threads(n_threads)
        out = np.empty(value.shape, dtype=value.dtype)
        assert backend.parallel_copy(out, value) is out
        np.testing.assert_array_equal(out, value)

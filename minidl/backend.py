"""Array backends, devices and random generators.

minidl's operators are written once against the NumPy API. On the CPU the arrays
are NumPy arrays; on a CUDA GPU they are CuPy arrays, whose API is the same. An
operator finds the module of its arrays with ``get_array_module`` and calls
``xp.exp``, ``xp.matmul`` ... on it. CuPy is imported only when a GPU is asked for.
"""
import functools
import json
import operator
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_cupy = None  # the cupy module once a GPU has been asked for

CUPY_INSTALL_HINT = ("pip install 'minidl[gpu]' (CuPy for CUDA 12); "
                     "for CUDA 13 install cupy-cuda13x instead")


def _import_cupy():
    """Import CuPy and check that a GPU is visible, or say which of the two is missing."""
    global _cupy
    if _cupy is not None:
        return _cupy
    try:
        import cupy
    except ImportError as err:
        raise RuntimeError(
            f"device 'cuda' needs CuPy, which is not installed: {CUPY_INSTALL_HINT}") from err
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # CUDA driver missing or broken
        raise RuntimeError(
            f"device 'cuda': CuPy is installed but no CUDA GPU is usable ({err})") from err
    if count == 0:
        raise RuntimeError("device 'cuda': CuPy is installed but this machine has no CUDA GPU")
    _cupy = cupy
    return cupy


def cuda_is_available():
    """True when CuPy imports and sees at least one GPU."""
    try:
        _import_cupy()
    except RuntimeError:
        return False
    return True


def get_array_module(*arrays):
    """numpy, or cupy when any of ``arrays`` is a CuPy array (the ``xp`` idiom)."""
    for a in arrays:
        if type(a).__module__.startswith('cupy'):
            return _import_cupy()
    return np


# minidl's own CUDA kernels (each beside its operator's array code) replace the generic CuPy
# code of a few hot operators when this is on (the default; verified on an H200, see
# docs/gpu.md). MINIDL_CUDA_KERNELS=0 in the environment, or setting it False, turns them
# off: the generic array code is the reference they are tested against.
use_cuda_kernels = os.environ.get('MINIDL_CUDA_KERNELS', '1') != '0'
# Kernels not yet run on a GPU (written and checked as C++ on the CPU only) are used
# only when asked for, with MINIDL_CUDA_KERNELS=all, until a GPU session has tested
# them and dropped their ``tested=False``.
use_untested_cuda_kernels = os.environ.get('MINIDL_CUDA_KERNELS') == 'all'


def cuda_kernels_enabled(xp, tested=True):
    """True when ``xp`` is CuPy and ``use_cuda_kernels`` is on: an operator then calls
    its hand-written kernel instead of the generic array code. A kernel that has not run
    on a GPU yet passes ``tested=False`` and also needs ``use_untested_cuda_kernels``."""
    return (use_cuda_kernels and (tested or use_untested_cuda_kernels)
            and xp is not np and getattr(xp, '__name__', '') == 'cupy')


@functools.lru_cache(maxsize=None)
def cuda_kernel(kind, name, *source):
    """The CuPy kernel ``minidl_<name>`` of class ``kind`` ('ElementwiseKernel' or
    'ReductionKernel') built from ``source`` (that class's constructor arguments), once
    per process. An operator keeps its kernel's source beside its array code as a tuple
    ``(kind, name, *source)`` and calls ``cuda_kernel(*KERNEL)(arrays...)``; CuPy
    compiles it for each dtype on the first call and caches the binary on disk."""
    cupy = _import_cupy()
    return getattr(cupy, kind)(*source, name=f'minidl_{name}')


def is_array(obj):
    return isinstance(obj, np.ndarray) or type(obj).__module__.startswith('cupy')


def array_of(value):
    """The array a value holds: a NumPy/CuPy array itself, a minidl Tensor's ``.array``,
    a PyTorch tensor's values (detached, copied to the host); None for anything else."""
    if is_array(value):
        return value
    inner = getattr(value, 'array', None)          # a minidl Tensor
    if is_array(inner):
        return inner
    if all(hasattr(value, name) for name in ('detach', 'cpu', 'numpy')):  # a torch.Tensor
        return value.detach().cpu().numpy()
    return None


class Device:
    """A place where arrays live: ``Device('cpu')``, ``Device('cuda')``, ``Device('cuda:1')``."""
    __slots__ = ('type', 'index')

    def __init__(self, spec='cpu', index=None):
        if isinstance(spec, Device):
            self.type, self.index = spec.type, spec.index
            return
        if not isinstance(spec, str):
            raise TypeError(f"device must be a string like 'cpu' or 'cuda:0', got {spec!r}")
        kind, _, number = spec.partition(':')
        if kind not in ('cpu', 'cuda'):
            raise ValueError(f"unknown device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N'")
        if number:
            if not number.isdigit():
                raise ValueError(f"unknown device {spec!r}: the index after ':' must be a number")
            index = int(number)
        if kind == 'cpu':
            index = None
        elif index is None:
            index = 0
        self.type, self.index = kind, index

    def __eq__(self, other):
        if isinstance(other, str):
            other = Device(other)
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f'{self.type}:{self.index}'

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"


CPU = Device('cpu')


def device_of(array):
    """The Device an array lives on."""
    if isinstance(array, np.ndarray) or np.isscalar(array):
        return CPU
    return Device('cuda', array.device.id)


def array_module_for(device):
    return np if Device(device).type == 'cpu' else _import_cupy()


def to_device(array, device):
    """``array`` on ``device``: the same array when it is already there, else a copy."""
    device = Device(device)
    if device.type == 'cpu':
        return array if isinstance(array, np.ndarray) else array.get()
    cupy = _import_cupy()
    with cupy.cuda.Device(device.index):
        if isinstance(array, cupy.ndarray) and array.device.id == device.index:
            return array
        return cupy.asarray(array)


# ---------------------------------------------------------------- threads on the CPU
# NumPy releases the GIL inside its copies, ufunc loops and BLAS calls, so Python threads
# run them on several cores at once. An operator with large CPU work splits it into
# blocks (a few images each) and hands them to parallel_for; its matrix products go
# through matmul below. BLAS runs every product of minidl's on the calling thread: the
# blocks are the parallelism, and a block's buffers stay in cache between its copies and
# its product. BLAS's own threads stay asleep: once woken, OpenBLAS's threads spin for
# ~0.1 s after each call, taking the cores from minidl's threads (measured: a ResNet-18
# step 3.0 s with them against 0.85 s without).

_num_threads = None        # set_num_threads's value; None: every core this process may use
_blas_setting = None       # the threadpoolctl limiter set_num_threads made (kept alive)
_pool = None               # the shared ThreadPoolExecutor, made on first use
_pool_size = 0
_worker = threading.local()  # .busy inside a block: a nested parallel_for runs inline
_blas = {'lock': threading.Lock(), 'users': 0, 'limiter': None, 'controller': None}


def get_num_threads():
    """Threads minidl's CPU operators use (as ``torch.get_num_threads``): by default the
    cores this process may run on."""
    if _num_threads is not None:
        return _num_threads
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_num_threads(int):   # PyTorch's argument name
    """Use ``int`` threads (a positive int) in minidl's CPU operators from now on in this
    process, as ``torch.set_num_threads``: 1 runs every block on the calling thread. The
    BLAS library under NumPy gets the same count (threadpoolctl) for the products it runs
    outside minidl's blocks.

    Raises TypeError for a non-integer and RuntimeError for a count below 1 (PyTorch's).
    """
    global _num_threads, _blas_setting
    if isinstance(int, bool):
        raise TypeError(f'set_num_threads: expected an int, got {int!r}')
    threads = operator.index(int)
    if threads < 1:
        raise RuntimeError(f'set_num_threads: the number of threads must be positive, got '
                           f'{threads}')
    from threadpoolctl import threadpool_limits
    _blas_setting = threadpool_limits(limits=threads, user_api='blas')
    _num_threads = threads


def _shared_pool(size):
    """The pool of ``size`` helper threads (the calling thread is the other worker)."""
    global _pool, _pool_size
    if _pool is None or _pool_size != size:
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool, _pool_size = ThreadPoolExecutor(size, thread_name_prefix='minidl-cpu'), size
    return _pool


def _forget_pool():
    """In a forked child the pool's threads do not exist: start a new pool when needed."""
    global _pool
    _pool = None
    _blas.update(lock=threading.Lock(), users=0, limiter=None)


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_forget_pool)


class _BlasOnOneThread:
    """Within the block, NumPy's BLAS runs each product on the calling thread only
    (threadpoolctl); the setting is restored when the last concurrent user leaves."""

    def __enter__(self):
        with _blas['lock']:
            if _blas['users'] == 0:
                if _blas['controller'] is None:
                    from threadpoolctl import ThreadpoolController
                    _blas['controller'] = ThreadpoolController()
                _blas['limiter'] = _blas['controller'].limit(limits=1, user_api='blas')
            _blas['users'] += 1

    def __exit__(self, *exc):
        with _blas['lock']:
            _blas['users'] -= 1
            if _blas['users'] == 0:
                _blas['limiter'].restore_original_limits()
                _blas['limiter'] = None


# An elementwise pass over a large array runs in blocks of this many elements (1 MiB of
# float32) on minidl's threads; a batch of images in blocks of about BYTES_PER_BLOCK.
# Work is cut into at least MIN_BLOCKS blocks (enough for two threads, with some to
# spare for the one that finishes first), smaller than those sizes if need be; work of
# less than two such blocks is one block: small work is not worth a thread.
ELEMENTS_PER_BLOCK = 1 << 18
BYTES_PER_BLOCK = 1 << 20
MIN_BLOCKS = 4


def grain(count, per_block):
    """Items per block for parallel_for: ``per_block`` (at least 1); ceil(count /
    MIN_BLOCKS) when that would make fewer than MIN_BLOCKS blocks (ResNet's stem, 32
    images of 9 per block, ran on one thread as one block); all ``count`` as one block
    when they are fewer than two blocks' worth. Never depends on the number of threads,
    so neither do the results."""
    per_block = max(1, per_block)
    if count >= MIN_BLOCKS * per_block:
        return per_block
    if count >= 2 * per_block:
        return -(-count // MIN_BLOCKS)
    return max(count, 1)


def parallel_for(xp, count, grain, body):
    """Call ``body(start, stop)`` on the blocks [start, stop) of ``range(count)``,
    ``grain`` items each (the last may be shorter), together covering the range once.

    On the CPU with several threads the blocks run on the shared pool and the calling
    thread, each worker taking the next block when it is done with one (a busy core
    slows only its own blocks). With one thread or one block they run in turn on the
    calling thread, and a block may run its own parallel_for (a convolution of one block
    multiplies with matmul below); inside a block that shares the cores with others, a
    parallel_for runs inline. BLAS runs on one thread throughout. On a GPU (``xp``
    CuPy) the whole range is one block. Exceptions reach the caller.
    """
    if xp is not np:
        body(0, count)
        return
    blocks = [(start, min(start + grain, count)) for start in range(0, count, grain)]
    threads = get_num_threads()
    if getattr(_worker, 'busy', False):  # the cores are taken: BLAS is on one thread already
        for start, stop in blocks:
            body(start, stop)
        return
    with _BlasOnOneThread():
        if threads == 1 or len(blocks) == 1:
            for start, stop in blocks:
                body(start, stop)
            return
        pool = _shared_pool(threads - 1)
        remaining = iter(blocks)
        lock = threading.Lock()

        def work():
            _worker.busy = True
            try:
                while True:
                    with lock:
                        block = next(remaining, None)
                    if block is None:
                        return
                    body(*block)
            except BaseException:
                with lock:
                    for _ in remaining:  # the other workers stop after their current block
                        pass
                raise
            finally:
                _worker.busy = False

        helpers = [pool.submit(work) for _ in range(min(threads, len(blocks)) - 1)]
        try:
            work()
        finally:
            for helper in helpers:
                helper.result()


def parallel_sum(xp, count, grain, body):
    """The sum of the new arrays ``body(start, stop)`` returns for the blocks of
    ``range(count)`` (run as by parallel_for), added in block order whichever worker
    made which: the same bits on every run. A block's array waits only until those
    before it are added: about one per thread is held at once (more while a worker
    lags behind the others)."""
    finished = {}                      # block start -> its array, not yet added
    total = {'sum': None, 'next': 0}   # the running sum; the start of the next block to add
    lock = threading.Lock()

    def add_block(start, stop):
        part = body(start, stop)
        with lock:
            finished[start] = part
            while total['next'] in finished:
                part = finished.pop(total['next'])
                if total['sum'] is None:
                    total['sum'] = part
                else:
                    total['sum'] += part
                total['next'] += grain

    parallel_for(xp, count, grain, add_block)
    return total['sum']


def parallel_copy(out, value):
    """``out[...] = value`` (same shape, any strides) on minidl's threads, in blocks of
    the first axis of about BYTES_PER_BLOCK: a weight-sized transposing copy (9.4 MB for
    ResNet's layer4) would otherwise run on one core. On a GPU one assignment."""
    if getattr(value, 'shape', None) != out.shape:
        raise ValueError(f'parallel_copy: value of shape {getattr(value, "shape", ())} for '
                         f'out of shape {out.shape} (same shape needed)')
    if get_array_module(out) is not np or out.ndim == 0:
        out[...] = value
        return out
    rows = out.shape[0]
    per_row = max(1, out.nbytes // max(rows, 1))

    def block(start, stop):
        out[start:stop] = value[start:stop]

    parallel_for(np, rows, grain(rows, BYTES_PER_BLOCK // per_row), block)
    return out


# A product of at least this many multiply-accumulates is split into up to MIN_BLOCKS
# equal blocks of at least MATMUL_COLUMNS columns of the result (a smaller one is one block).
PARALLEL_MATMUL_MACS = 1 << 22
MATMUL_COLUMNS = 256


def matmul(a, b, out=None):
    """``a @ b`` with NumPy's rules (batch dimensions broadcast), on minidl's threads: on
    the CPU the columns of the result are split into blocks (parallel_for), each a BLAS
    call on one thread. The blocks do not depend on the number of threads. On a GPU,
    ``xp.matmul``."""
    xp = get_array_module(a, b)
    if xp is not np:
        return xp.matmul(a, b, out=out)
    if a.ndim < 2 or b.ndim < 2:  # with a vector: one call
        with _BlasOnOneThread():
            return np.matmul(a, b, out=out)
    if out is None:
        shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
        out = np.empty(shape, dtype=np.result_type(a, b))
    columns = out.shape[-1]
    blocks = 1
    if out.size * a.shape[-1] >= PARALLEL_MATMUL_MACS:
        blocks = max(1, min(MIN_BLOCKS, columns // MATMUL_COLUMNS))
    grain = max(1, -(-columns // blocks))
    parallel_for(np, columns, grain, lambda start, stop: _blas_product(
        a, b[..., start:stop], out[..., start:stop]))
    return out


# NumPy's matmul releases the GIL only for a result of more than 500 elements (its
# threshold for a ufunc loop; NumPy 2.4); np.dot releases it around every BLAS call.
GIL_HELD_BELOW = 500


def _blas_product(a, b, out):
    """``out[...] = a @ b``. A small result goes through np.dot, one matrix at a time,
    so that two of minidl's threads can run such products at once: LeNet's first
    convolution's weight gradient, (25 x 10192) @ (10192 x 6) per block, ran no faster
    on two threads than on one through np.matmul (benchmarks/NOTES.md)."""
    if (out.size > GIL_HELD_BELOW or not out.flags.c_contiguous or out.dtype.kind != 'f'
            or a.dtype != out.dtype or b.dtype != out.dtype):
        np.matmul(a, b, out=out)
        return
    batch = out.shape[:-2]
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    for index in np.ndindex(batch):
        np.dot(a[index], b[index], out=out[index])


# ---------------------------------------------------------------- random numbers
# One default Generator per device. Initialisers, dropout and data shuffling draw from
# them, so that minidl.manual_seed(s) makes a whole run repeatable; a Generator of one's
# own (``generator=`` on the factories and random fills) is a separate stream.

DEFAULT_SEED = 67280421310721  # PyTorch's default CPU seed
_seed = DEFAULT_SEED
_defaults = {}  # Device -> its default Generator


class Generator:
    """A seeded source of random numbers on one device, like ``torch.Generator``.

    On the CPU it draws from NumPy's PCG64 (``numpy.random.Generator``), on a GPU from
    CuPy's ``RandomState``; the streams differ from PyTorch's, the interface is its:
    ``manual_seed(seed)`` (returns the generator), ``seed()`` (a fresh nondeterministic
    seed, returned), ``initial_seed()``, ``get_state()``/``set_state(state)`` (the state as
    a uint8 Tensor, which ``minidl.save`` can store) and ``device``.
    """

    def __init__(self, device='cpu'):
        self.device = Device(device)
        self._seed = DEFAULT_SEED
        self._engine = None

    def manual_seed(self, seed):
        self._seed = int(seed) % 2 ** 64  # negative seeds wrap, as in PyTorch
        self._engine = None
        return self

    def seed(self):
        """Seed with 64 nondeterministic bits (from the operating system); returns them."""
        seed = int.from_bytes(os.urandom(8), 'little')
        self.manual_seed(seed)
        return seed

    def initial_seed(self):
        return self._seed

    def engine(self):
        """The numpy.random.Generator (CPU) or cupy.random.RandomState (GPU) behind it."""
        if self._engine is None:
            if self.device.type == 'cpu':
                self._engine = np.random.Generator(np.random.PCG64(self._seed))
            else:
                cupy = _import_cupy()
                with cupy.cuda.Device(self.device.index):
                    self._engine = cupy.random.RandomState(self._seed)
        return self._engine

    def get_state(self):
        """The generator's state as a uint8 Tensor (its seed and stream position)."""
        from .tensor import Tensor
        engine = self.engine()
        if self.device.type == 'cpu':
            position = engine.bit_generator.state
        else:  # CuPy's state cannot be read; record the seed only
            position = None
        text = json.dumps({'seed': self._seed, 'position': position})
        return Tensor(np.frombuffer(text.encode(), dtype=np.uint8).copy())

    def set_state(self, new_state):
        """Restore a state from ``get_state()``; returns the generator."""
        array = new_state.numpy() if hasattr(new_state, 'numpy') else np.asarray(new_state)
        if array.dtype != np.uint8 or array.ndim != 1:
            raise TypeError(f'Generator.set_state: expected the 1-D uint8 tensor that '
                            f'get_state() returns, got dtype {array.dtype}, shape {array.shape}')
        state = json.loads(array.tobytes().decode())
        self.manual_seed(state['seed'])
        if state['position'] is not None:
            self.engine().bit_generator.state = state['position']
        return self

    def __repr__(self):
        return f"<minidl.Generator device='{self.device}'>"


def default_generator(device=CPU):
    """The default Generator of ``device`` (``torch.default_generator`` for the CPU). A
    GPU's is seeded with minidl's seed plus the device index."""
    device = Device(device)
    gen = _defaults.get(device)
    if gen is None:
        gen = _defaults[device] = Generator(device).manual_seed(_seed + (device.index or 0))
    return gen


def manual_seed(seed):
    """Seed every device's default generator (like ``torch.manual_seed``); returns the
    CPU's."""
    global _seed
    _seed = int(seed) % 2 ** 64
    for device, gen in _defaults.items():
        gen.manual_seed(_seed + (device.index or 0))
    return default_generator(CPU)


def seed():
    """Seed the default generators with nondeterministic bits; returns the seed."""
    value = int.from_bytes(os.urandom(8), 'little') >> 1
    manual_seed(value)
    return value


def initial_seed():
    return _seed


def get_generator(device=CPU, generator=None):
    """The array-level generator to draw from: ``generator``'s, or the default one of
    ``device`` (numpy.random.Generator, or cupy's RandomState)."""
    if generator is None:
        return default_generator(device).engine()
    if generator.device != Device(device):
        raise RuntimeError(f'expected a generator on {Device(device)}, got one on '
                           f'{generator.device}')
    return generator.engine()


def get_rng_state():
    """A snapshot of the default generators for checkpoints: the seed and the CPU
    generator's exact position. A GPU generator's position cannot be read from CuPy, so
    ``set_rng_state`` restarts it from the seed: a resumed GPU run draws other dropout
    masks than an uninterrupted one (the CPU draws - shuffling, augmentation - repeat)."""
    state = {'seed': _seed, 'cpu': get_generator(CPU).bit_generator.state}
    return state


def set_rng_state(state):
    manual_seed(state['seed'])
    get_generator(CPU).bit_generator.state = state['cpu']


def random_uniform(shape, dtype, device=CPU, low=0.0, high=1.0, generator=None):
    """Uniform samples in [low, high) from ``generator`` or ``device``'s default one."""
    gen = get_generator(device, generator)
    float_type = np.float32 if np.dtype(dtype) == np.float32 else np.float64
    if Device(device).type == 'cpu':
        out = gen.random(shape, dtype=float_type)
    else:
        out = gen.random_sample(shape, dtype=float_type)
    if low != 0.0 or high != 1.0:
        out = out * (high - low) + low
    return out.astype(dtype, copy=False)


def random_normal(shape, dtype, device=CPU, mean=0.0, std=1.0, generator=None):
    """Normal samples from ``generator`` or ``device``'s default one."""
    gen = get_generator(device, generator)
    float_type = np.float32 if np.dtype(dtype) == np.float32 else np.float64
    out = gen.standard_normal(shape, dtype=float_type)
    if std != 1.0:
        out *= std
    if mean != 0.0:
        out += mean
    return out.astype(dtype, copy=False)


def random_integers(low, high, shape, device=CPU, dtype=np.int64, generator=None):
    gen = get_generator(device, generator)
    if Device(device).type == 'cpu':
        return gen.integers(low, high, size=shape, dtype=dtype)
    return gen.randint(low, high, size=shape, dtype=dtype)


def random_permutation(n, device=CPU, generator=None):
    return get_generator(device, generator).permutation(n)

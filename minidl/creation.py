"""Creating tensors: ``tensor``, ``zeros``, ``randn``, ``arange`` ... (PyTorch's creation ops).

Each takes PyTorch's arguments: sizes as ``zeros(2, 3)``, ``zeros((2, 3))`` or
``zeros(size=(2, 3))``; ``dtype`` (floating factories default to
``get_default_dtype()``, float32); ``device`` ('cpu', 'cuda', 'cuda:N'); ``requires_grad``;
the random ones a ``generator`` (else the device's default generator).
"""
import numpy as np

from .backend import (CPU, Device, get_array_module, is_array, random_normal, random_uniform,
                      random_integers, to_device)
from .tensor import Tensor, _shape_args, bool_, get_default_dtype, int64


def _resolve_dtype(dtype, default):
    return np.dtype(default if dtype is None else dtype)


def _place(array, device):
    return array if device is None else to_device(array, device)


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new leaf tensor holding a copy of ``data``.

    A NumPy/CuPy array keeps its dtype (float64 stays float64); Python floats become
    float32, Python ints int64 and bools bool, as in PyTorch.
    """
    if isinstance(data, Tensor):
        data = data.array
    if is_array(data):
        xp = get_array_module(data)
        array = data.astype(dtype) if dtype is not None else data.copy()
        if device is None:
            return Tensor(array, requires_grad=requires_grad)
        return Tensor(to_device(array, device) if xp is np else to_device(array, device).copy(),
                      requires_grad=requires_grad)
    array = np.array(data)
    if dtype is not None:
        array = array.astype(dtype)
    elif array.dtype.kind == 'f':
        array = array.astype(get_default_dtype())
    elif array.dtype.kind in 'iu':
        array = array.astype(int64)
    elif array.dtype.kind not in 'bc':
        raise TypeError(f'tensor: cannot make a tensor from {type(data).__name__} '
                        f'(numpy dtype {array.dtype})')
    return Tensor(_place(array, device), requires_grad=requires_grad)


def from_numpy(array):
    """A tensor sharing memory with a NumPy array."""
    return Tensor(array)


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return tensor(data, dtype=dtype, device=device)


def _size(shape, size=None, op='factory'):
    """The shape from ``f(2, 3)``, ``f((2, 3))`` or ``f(size=(2, 3))``."""
    if size is not None:
        if shape:
            raise TypeError(f'{op}: give the shape either as arguments or as size=, not both')
        shape = (size,)
    return tuple(int(n) for n in _shape_args(shape))


def _xp(device):
    from .backend import array_module_for
    return array_module_for(CPU if device is None else device)


def _factory(fill, shape, dtype, device, requires_grad):
    xp = _xp(device)
    dtype = _resolve_dtype(dtype, get_default_dtype())
    if device is not None and Device(device).type == 'cuda':
        with xp.cuda.Device(Device(device).index):
            array = fill(xp, shape, dtype)
    else:
        array = fill(xp, shape, dtype)
    return Tensor(array, requires_grad=requires_grad)


def zeros(*shape, size=None, dtype=None, device=None, requires_grad=False):
    return _factory(lambda xp, s, d: xp.zeros(s, d), _size(shape, size, 'zeros'), dtype,
                    device, requires_grad)


def ones(*shape, size=None, dtype=None, device=None, requires_grad=False):
    return _factory(lambda xp, s, d: xp.ones(s, d), _size(shape, size, 'ones'), dtype,
                    device, requires_grad)


def empty(*shape, size=None, dtype=None, device=None, requires_grad=False):
    return _factory(lambda xp, s, d: xp.empty(s, d), _size(shape, size, 'empty'), dtype,
                    device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None and isinstance(fill_value, bool):
        dtype = bool_
    elif dtype is None and isinstance(fill_value, int):
        dtype = int64
    return _factory(lambda xp, s, d: xp.full(s, fill_value, d), _size((size,)), dtype, device,
                    requires_grad)


def _device(device):
    return CPU if device is None else Device(device)


def rand(*shape, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform on [0, 1) from ``generator`` or the device's default (seeded) generator."""
    dtype = _resolve_dtype(dtype, get_default_dtype())
    return Tensor(random_uniform(_size(shape, size, 'rand'), dtype, _device(device),
                                 generator=generator), requires_grad=requires_grad)


def randn(*shape, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal from ``generator`` or the device's default (seeded) generator."""
    dtype = _resolve_dtype(dtype, get_default_dtype())
    return Tensor(random_normal(_size(shape, size, 'randn'), dtype, _device(device),
                                generator=generator), requires_grad=requires_grad)


def randint(low, high=None, size=None, generator=None, dtype=None, device=None,
            requires_grad=False):
    """Integers uniform on [low, high): ``randint(low, high, size)`` or
    ``randint(high, size)``, as in PyTorch."""
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if size is None:
        raise TypeError('randint: size is required, e.g. randint(0, 10, (3,))')
    return Tensor(random_integers(low, high, _size((size,)), _device(device),
                                  _resolve_dtype(dtype, int64), generator),
                  requires_grad=requires_grad)


def randperm(n, generator=None, dtype=None, device=None, requires_grad=False):
    from .backend import random_permutation
    perm = random_permutation(n, _device(device), generator)
    return Tensor(perm.astype(_resolve_dtype(dtype, int64)), requires_grad=requires_grad)


def normal(mean=0.0, std=1.0, size=None, generator=None, dtype=None, device=None,
           requires_grad=False):
    """Normal samples with the given ``mean`` and ``std`` (numbers or tensors,
    broadcast together; ``size`` is needed when both are numbers). As in PyTorch the
    samples are not differentiable in ``mean`` and ``std``."""
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if tensors:
        if size is not None:
            raise TypeError('normal: size= is for a number mean and std; with tensors the '
                            'shape is theirs')
        xp = get_array_module(tensors[0].array)
        m = mean.array if isinstance(mean, Tensor) else mean
        s = std.array if isinstance(std, Tensor) else std
        if xp.any(xp.asarray(s) < 0):
            raise RuntimeError('normal: std must be non-negative')
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        dtype = _resolve_dtype(dtype, tensors[0].dtype)
        z = random_normal(shape, dtype, tensors[0].device, generator=generator)
        return Tensor((z * s + m).astype(dtype, copy=False), requires_grad=requires_grad)
    if size is None:
        raise TypeError('normal: with a number mean and std, give size=, e.g. '
                        'normal(0.0, 1.0, size=(3,))')
    if std < 0:
        raise RuntimeError(f'normal: std must be non-negative, got {std}')
    dtype = _resolve_dtype(dtype, get_default_dtype())
    return Tensor(random_normal(_size((size,)), dtype, _device(device), mean, std, generator),
                  requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Like torch.arange: integers give int64, any float argument gives float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = int64 if is_int else get_default_dtype()
    xp = _xp(device)
    return Tensor(xp.arange(start, end, step).astype(dtype), requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end`` (both included)."""
    xp = _xp(device)
    return Tensor(xp.linspace(start, end, steps).astype(_resolve_dtype(dtype, get_default_dtype())),
                  requires_grad=requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    """``base ** linspace(start, end, steps)``, as torch.logspace."""
    xp = _xp(device)
    values = xp.asarray(base, dtype=np.float64) ** xp.linspace(start, end, steps)
    return Tensor(values.astype(_resolve_dtype(dtype, get_default_dtype())),
                  requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    xp = _xp(device)
    return Tensor(xp.eye(n, m, dtype=_resolve_dtype(dtype, get_default_dtype())),
                  requires_grad=requires_grad)


def _like(fn):
    def like(input, dtype=None, device=None, requires_grad=False, **kwargs):
        return fn(*input.shape, dtype=input.dtype if dtype is None else dtype,
                  device=input.device if device is None else device, requires_grad=requires_grad,
                  **kwargs)
    like.__name__ = fn.__name__ + '_like'
    like.__doc__ = f'``{fn.__name__}`` with the shape, dtype and device of ``input``.'
    return like


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)
rand_like = _like(rand)
randn_like = _like(randn)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    return full(input.shape, fill_value, dtype=input.dtype if dtype is None else dtype,
                device=input.device if device is None else device, requires_grad=requires_grad)


def is_tensor(obj):
    return isinstance(obj, Tensor)

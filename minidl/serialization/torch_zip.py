"""Reading PyTorch's ``torch.save`` files without PyTorch, and without running them.

Since PyTorch 1.6 ``torch.save`` writes a zip archive:

    archive/data.pkl        the object, pickled; each tensor's storage is a persistent id
    archive/data/0, 1, ...  the storages' raw bytes, one file each
    archive/byteorder       'little' or 'big' (absent in older files: little)

In ``data.pkl`` a tensor is ``torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, requires_grad, hooks)`` and its storage ``('storage', torch.FloatStorage, key,
location, numel)``. The unpickler here accepts those names (and Parameters, OrderedDict,
NumPy arrays and plain data, like ``torch.load(weights_only=True)``), reads the bytes of
``data/<key>``, and cuts each tensor out of its storage after checking that its size,
stride and offset stay inside it. Tensors come back as minidl Tensors (Parameters where
the file has ``nn.Parameter``); bfloat16 becomes float32 (NumPy has no bfloat16; every
bfloat16 value is exactly a float32).
"""
import zipfile

import numpy as np

from .errors import LoadError, UnsafeFileError
from .location import place
from .safe_pickle import NUMPY_GLOBALS, Allowed, StandIn, loads

__all__ = ['read_torch_zip', 'is_torch_zip']

_STORAGE_DTYPES = {
    'DoubleStorage': 'float64', 'FloatStorage': 'float32', 'HalfStorage': 'float16',
    'BFloat16Storage': 'bfloat16', 'LongStorage': 'int64', 'IntStorage': 'int32',
    'ShortStorage': 'int16', 'CharStorage': 'int8', 'ByteStorage': 'uint8',
    'BoolStorage': 'bool', 'ComplexFloatStorage': 'complex64',
    'ComplexDoubleStorage': 'complex128', 'UntypedStorage': 'uint8',
}
_TORCH_DTYPES = {'float64', 'float32', 'float16', 'int64', 'int32', 'int16', 'int8', 'uint8',
                 'bool', 'complex64', 'complex128'}


class StorageType(StandIn):
    """What the pickle gets for ``torch.FloatStorage`` and the like: the element type."""

    def __init__(self, dtype):
        self.dtype = dtype


class Storage(StandIn):
    """A storage's elements (a 1-D NumPy array) and the device it was saved from."""

    def __init__(self, array, location):
        self.array, self.location = array, location


class TorchDType(StandIn):
    """What the pickle gets for ``torch.float32`` and the like: a NumPy dtype once read."""

    def __init__(self, name):
        self.dtype = np.dtype(name)


class TensorProxy(StandIn):
    """A tensor cut out of its storage, made a minidl Tensor once the pickle is read."""

    def __init__(self, array, location, requires_grad, parameter=False):
        self.array, self.location = array, location
        self.requires_grad, self.parameter = requires_grad, parameter


def _ints(value, what):
    if not isinstance(value, tuple) or not all(type(n) is int and n >= 0 for n in value):
        raise UnsafeFileError(f'a tensor {what} {value!r:.60}')
    return value


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None,
                       metadata=None):
    """The tensor of ``size`` whose element (i, j, ...) is storage[offset + i*stride[0] +
    j*stride[1] + ...], copied out after checking that every element lies inside."""
    if not isinstance(storage, Storage) or type(offset) is not int or offset < 0:
        raise UnsafeFileError('a tensor that is not built on a storage of the file')
    size, stride = _ints(size, 'size'), _ints(stride, 'stride')
    if len(size) != len(stride):
        raise UnsafeFileError(f'a tensor of size {size} with stride {stride}')
    elements = storage.array
    if all(n > 0 for n in size):
        last = offset + sum((n - 1) * step for n, step in zip(size, stride))
        if last >= len(elements):
            raise UnsafeFileError(f'a tensor of size {size}, stride {stride} and offset '
                                  f'{offset} reaching outside its storage of {len(elements)} '
                                  f'elements')
        view = np.lib.stride_tricks.as_strided(
            elements[offset:], shape=size, strides=[step * elements.itemsize for step in stride],
            writeable=False)
        array = np.array(view, copy=True, order='C')
    else:
        array = np.empty(size, dtype=elements.dtype)
    return TensorProxy(array, storage.location, bool(requires_grad))


def _rebuild_tensor(storage, offset, size, stride):
    return _rebuild_tensor_v2(storage, offset, size, stride)


def _rebuild_parameter(data, requires_grad, hooks, state=None):
    if not isinstance(data, TensorProxy):
        raise UnsafeFileError('a Parameter that does not wrap a tensor')
    return TensorProxy(data.array, data.location, bool(requires_grad), parameter=True)


def _torch_globals():
    allowed = dict(NUMPY_GLOBALS)
    allowed.update({
        ('torch._utils', '_rebuild_tensor_v2'): Allowed(_rebuild_tensor_v2),
        ('torch._utils', '_rebuild_tensor'): Allowed(_rebuild_tensor),
        ('torch._utils', '_rebuild_parameter'): Allowed(_rebuild_parameter),
        ('torch._utils', '_rebuild_parameter_with_state'): Allowed(_rebuild_parameter),
        ('torch', 'Size'): tuple,
    })
    allowed.update({('torch', name): StorageType(dtype)
                    for name, dtype in _STORAGE_DTYPES.items()})
    allowed.update({('torch', name): TorchDType(name) for name in _TORCH_DTYPES})
    return allowed


_ALLOWED = _torch_globals()


def _bfloat16_to_float32(raw):
    """bfloat16 is the top half of a float32: widen each 16-bit pattern."""
    return (np.frombuffer(raw, dtype='<u2').astype(np.uint32) << 16).view(np.float32)


class _StorageReader:
    """``persistent_load`` for ``data.pkl``: the storages in ``archive/data/``."""

    def __init__(self, archive, prefix, what):
        self.archive, self.prefix, self.what = archive, prefix, what
        order = prefix + 'byteorder'
        self.big_endian = (order in archive.namelist()
                           and archive.read(order).strip() == b'big')
        self.storages = {}

    def __call__(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == 'storage'):
            raise UnsafeFileError(f'a persistent id {pid!r:.60} that is not a storage')
        _, kind, key, location, numel = pid
        if not isinstance(kind, StorageType) or not isinstance(key, str) or \
                not isinstance(location, str) or type(numel) is not int or numel < 0:
            raise UnsafeFileError(f'a storage described as {pid!r:.80}')
        if key not in self.storages:
            self.storages[key] = Storage(self.read(kind.dtype, key, numel), location)
        return self.storages[key]

    def read(self, dtype, key, numel):
        name = f'{self.prefix}data/{key}'
        itemsize = 2 if dtype == 'bfloat16' else np.dtype(dtype).itemsize
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            raise LoadError(f'{self.what} lacks {name}, the bytes of one of its '
                            f'tensors') from None
        if info.file_size != numel * itemsize:
            raise LoadError(f'{self.what}: {name} holds {info.file_size} bytes, its '
                            f'{numel} elements of {dtype} need {numel * itemsize}')
        raw = self.archive.read(name)
        if dtype == 'bfloat16':
            return _bfloat16_to_float32(raw if not self.big_endian else
                                        np.frombuffer(raw, '>u2').astype('<u2').tobytes())
        order = '>' if self.big_endian else '<'
        return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder(order)).astype(
            np.dtype(dtype).newbyteorder('='))


def is_torch_zip(names):
    """True when the zip entries ``names`` are those of a ``torch.save`` file."""
    return any(_is_data_pkl(name) for name in names)


def _is_data_pkl(name):
    return name == 'data.pkl' or (name.endswith('/data.pkl') and name.count('/') == 1)


def read_torch_zip(file, what, map_location=None):
    """The object ``torch.save`` wrote to ``file`` (a path or a binary file), with minidl
    Tensors for torch tensors."""
    from ..nn.parameter import Parameter
    from ..tensor import Tensor

    def finish(proxy):
        if isinstance(proxy, TorchDType):
            return proxy.dtype
        if not isinstance(proxy, TensorProxy):
            raise UnsafeFileError(f'a stray {type(proxy).__name__} in the data')
        array = place(proxy.array, proxy.location, map_location, what)
        requires_grad = proxy.requires_grad and array.dtype.kind in 'fc'
        return (Parameter if proxy.parameter else Tensor)(array, requires_grad)

    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
            if any(name.endswith('constants.pkl') for name in names):
                raise LoadError(f'{what} is a TorchScript archive (torch.jit.save), not a '
                                f'torch.save file: minidl does not read TorchScript')
            pickles = [name for name in names if _is_data_pkl(name)]
            if len(pickles) != 1:
                raise LoadError(f'{what} is a zip file but not one written by torch.save '
                                f'(it has {len(pickles)} data.pkl entries)')
            prefix = pickles[0][:-len('data.pkl')]
            return loads(archive.read(pickles[0]), what, _ALLOWED,
                         _StorageReader(archive, prefix, what), finish)
    except zipfile.BadZipFile as err:
        raise LoadError(f'{what} is a damaged zip file ({err})') from None

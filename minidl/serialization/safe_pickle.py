"""Reading pickles of data without running anything from them.

A pickle is a small program: besides building lists and dicts it can import any name
(``os.system``) and call it with arguments of its choosing, which is how a crafted file
runs code. ``SafeUnpickler`` lets a pickle name only a fixed list of globals, and even
those are not the real functions: each is a stand-in of this module that records what
the pickle describes (a dtype, an array's shape and bytes, a tensor's storage and
strides), checks it, and builds plain NumPy arrays from it. Everything else is refused
with ``UnsafeFileError``, before anything is imported.

NumPy's own pickles (``pickle.dumps(array)``, CIFAR's batches, minidl 0.1's
checkpoints) are read with ``NUMPY_GLOBALS``; PyTorch's ``torch.save`` files add the
tensor rebuilding of ``torch_zip.py``. ``loads(...)`` returns plain Python data and
NumPy arrays; ``finish`` turns the stand-ins into their final objects.
"""
import io
import pickle
from collections import OrderedDict

import numpy as np

from .errors import LoadError, UnsafeFileError

__all__ = ['SafeUnpickler', 'NUMPY_GLOBALS', 'BASIC_GLOBALS', 'loads', 'finish', 'StandIn',
           'Allowed', 'ArrayProxy']

# the kinds of dtype a file may hold: bool, ints, unsigned ints, floats, complex, text
_SIMPLE_KINDS = 'biufcSU'


class StandIn:
    """Base of the objects a pickle gets instead of what it asked for. ``BUILD`` (the
    pickle calling ``__setstate__``) is refused unless a subclass accepts it."""

    def __setstate__(self, state):
        raise UnsafeFileError(f'the pickle sets the state of a {type(self).__name__}, '
                              f'which data never does')


class DTypeProxy(StandIn):
    """``numpy.dtype(spec, align, copy)`` and its pickled state, resolved when checked."""

    def __init__(self, spec, align=False, copy=False):
        if not isinstance(spec, str):
            raise UnsafeFileError(f'a dtype described by a {type(spec).__name__}')
        self.spec, self.byteorder = spec, None

    def __setstate__(self, state):
        # (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
        if not isinstance(state, tuple) or len(state) not in (8, 9) or \
                any(part is not None for part in state[2:5]) or \
                (len(state) == 9 and state[8] is not None) or \
                state[1] not in ('<', '>', '|', '='):
            raise UnsafeFileError('a structured or unusual dtype (only plain numbers and '
                                  'text are read)')
        self.byteorder = state[1]

    def resolve(self):
        dtype = np.dtype(self.spec)
        if dtype.kind not in _SIMPLE_KINDS or dtype.fields is not None or dtype.subdtype:
            raise UnsafeFileError(f'an array of dtype {dtype} (only numbers, booleans and '
                                  f'text are read)')
        if self.byteorder in ('<', '>'):
            dtype = dtype.newbyteorder(self.byteorder)
        return dtype


def _dtype_of(spec):
    if isinstance(spec, DTypeProxy):
        return spec.resolve()
    if isinstance(spec, np.dtype) and spec.kind in _SIMPLE_KINDS and spec.fields is None:
        return spec
    raise UnsafeFileError(f'an array whose dtype is given as a {type(spec).__name__}')


def _as_bytes(raw):
    if isinstance(raw, str):          # written by Python 2: bytes decoded as latin-1
        return raw.encode('latin-1')
    if isinstance(raw, (bytes, bytearray)):
        return bytes(raw)
    if isinstance(raw, pickle.PickleBuffer):
        return bytes(raw.raw())
    raise UnsafeFileError(f'array data given as a {type(raw).__name__}, not bytes')


def _check_shape(shape):
    if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
        raise UnsafeFileError(f'an array shape {shape!r:.60}')
    return shape


def array_from_bytes(raw, dtype, shape, order='C'):
    """A native-byte-order NumPy array of ``shape`` made from exactly the bytes ``raw``."""
    raw, shape = _as_bytes(raw), _check_shape(tuple(shape))
    count = int(np.prod(shape, dtype=object))
    if len(raw) != count * dtype.itemsize:
        raise LoadError(f'an array of shape {shape} and dtype {dtype} needs '
                        f'{count * dtype.itemsize} bytes, the file gives {len(raw)}')
    array = np.frombuffer(raw, dtype=dtype, count=count).reshape(shape, order=order)
    return array.astype(dtype.newbyteorder('='), order='C', copy=True)


class ArrayProxy(StandIn):
    """An ndarray as the pickle describes it: built by ``__setstate__`` from checked parts."""

    def __init__(self, array=None):
        self.array = array

    def __setstate__(self, state):
        if self.array is not None or not isinstance(state, tuple):
            raise UnsafeFileError('an array whose state is set twice or is not a tuple')
        if len(state) == 5:
            state = state[1:]            # (version, shape, dtype, is_fortran, data)
        if len(state) != 4:
            raise UnsafeFileError(f'an array state of {len(state)} parts')
        shape, dtype, fortran, raw = state
        self.array = array_from_bytes(raw, _dtype_of(dtype), shape, 'F' if fortran else 'C')


class Allowed(StandIn):
    """A function a pickle may call. Wrapped so that the pickle cannot change it: its
    state cannot be set, as it could be on the bare function (``__defaults__``)."""

    def __init__(self, function):
        self.function = function

    def __call__(self, *args):
        return self.function(*args)


_NDARRAY = StandIn()   # what the pickle gets for the name numpy.ndarray


def _reconstruct(subtype, shape, typecode):
    """``numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')``: an empty array that
    ``__setstate__`` fills."""
    if subtype is not _NDARRAY:
        raise UnsafeFileError('an array of a subclass of numpy.ndarray')
    return ArrayProxy()


def _frombuffer(buffer, dtype, shape, order):
    """``numpy.core.numeric._frombuffer``: how NumPy pickles arrays in protocol 5."""
    return ArrayProxy(array_from_bytes(buffer, _dtype_of(dtype), shape, order))


def _scalar(dtype, raw):
    """``numpy.core.multiarray.scalar(dtype, bytes)``: np.float64(2.5) and the like."""
    return array_from_bytes(raw, _dtype_of(dtype), ())[()]


def _empty_bytes(*args):
    """``bytes()``: how protocol 2 pickles b'' (an empty array's data, say)."""
    if args:
        raise UnsafeFileError('bytes() called with arguments')
    return b''


def _encode(text, encoding='utf-8'):
    """``_codecs.encode``: how protocol 2 pickles bytes."""
    if not isinstance(text, str) or encoding not in ('latin1', 'latin-1'):
        raise UnsafeFileError(f'_codecs.encode with encoding {encoding!r}')
    return text.encode('latin-1')


# Built-in types are safe to hand out: their attributes cannot be changed.
BASIC_GLOBALS = {
    ('collections', 'OrderedDict'): OrderedDict,
    ('builtins', 'set'): set,
    ('builtins', 'frozenset'): frozenset,
    ('builtins', 'complex'): complex,
    ('builtins', 'bytes'): Allowed(_empty_bytes),
    ('_codecs', 'encode'): Allowed(_encode),
}
BASIC_GLOBALS.update({('__builtin__', name): BASIC_GLOBALS['builtins', name]   # protocol 2
                      for name in ('set', 'frozenset', 'complex', 'bytes')})
NUMPY_GLOBALS = dict(BASIC_GLOBALS)
for _core in ('numpy.core', 'numpy._core'):          # NumPy 1 and NumPy 2
    NUMPY_GLOBALS.update({(f'{_core}.multiarray', '_reconstruct'): Allowed(_reconstruct),
                          (f'{_core}.multiarray', 'scalar'): Allowed(_scalar),
                          (f'{_core}.numeric', '_frombuffer'): Allowed(_frombuffer)})
NUMPY_GLOBALS.update({('numpy', 'ndarray'): _NDARRAY, ('numpy', 'dtype'): Allowed(DTypeProxy)})


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the names in ``allowed`` ({(module, name): the
    stand-in}) and persistent ids only through ``persistent`` (None: refused)."""

    def __init__(self, file, what, allowed, persistent=None):
        super().__init__(file, encoding='latin1')
        self.what, self.allowed, self.persistent = what, allowed, persistent

    def find_class(self, module, name):
        try:
            return self.allowed[module, name]
        except KeyError:
            raise UnsafeFileError(
                f'{self.what} asks to load {module}.{name}, which is not data: refusing '
                f'it (loading a pickle may run code; only tensors, arrays, numbers, '
                f'strings and containers are read)') from None

    def persistent_load(self, pid):
        if self.persistent is None:
            raise UnsafeFileError(f'{self.what} refers to external objects (persistent id '
                                  f'{pid!r:.40}), which are refused')
        return self.persistent(pid)


def finish(obj, convert=None):
    """``obj`` with every stand-in replaced by its final object (arrays; anything
    ``convert(stand_in)`` handles, such as tensors), containers rebuilt or updated."""
    done = {}

    def walk(value):
        if id(value) in done:
            return done[id(value)]
        if isinstance(value, ArrayProxy):
            if value.array is None:
                raise UnsafeFileError('an array that the pickle never fills')
            result = value.array
        elif isinstance(value, DTypeProxy):
            result = value.resolve()
        elif isinstance(value, StandIn) and convert is not None:
            result = convert(value)
        elif isinstance(value, StandIn):
            raise UnsafeFileError(f'a stray {type(value).__name__} in the data')
        elif isinstance(value, list):
            done[id(value)] = value
            value[:] = [walk(v) for v in value]
            return value
        elif isinstance(value, dict):
            done[id(value)] = value
            for key in value:
                if isinstance(key, StandIn):
                    raise UnsafeFileError('a dict keyed by an array')
                value[key] = walk(value[key])
            return value
        elif isinstance(value, (tuple, set, frozenset)):
            result = type(value)(walk(v) for v in value)
        else:
            result = value
        done[id(value)] = result
        return result

    return walk(obj)


def loads(data, what, allowed=None, persistent=None, convert=None):
    """The data in the pickle ``data`` (bytes or a binary file), read with ``allowed``
    globals (NumPy arrays and containers by default). Raises ``UnsafeFileError`` for
    anything that is not data, ``LoadError`` for a pickle that is broken."""
    file = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    unpickler = SafeUnpickler(file, what, NUMPY_GLOBALS if allowed is None else allowed,
                              persistent)
    try:
        return finish(unpickler.load(), convert)
    except UnsafeFileError as err:
        if str(err).startswith(what):
            raise
        raise UnsafeFileError(f'{what}: refusing {err}') from None
    except LoadError as err:
        if str(err).startswith(what):
            raise
        raise LoadError(f'{what}: {err}') from None
    except Exception as err:   # a broken pickle: truncated, wrong opcodes, wrong arguments
        raise LoadError(f'{what} is not a readable pickle ({type(err).__name__}: '
                        f'{err})') from None

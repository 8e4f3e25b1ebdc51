"""An object as JSON plus named arrays, and back: what ``minidl.save`` stores.

``encode(obj)`` returns ``(tree, arrays)``: ``tree`` is JSON-ready data describing
``obj``, ``arrays`` the NumPy arrays it refers to by name. JSON's own values stand for
themselves (None, bool, int, float, str, and lists); everything else is a JSON object
with one tag:

    {"tensor": "model/fc.weight", "device": "cpu"}      a minidl Tensor
    {"parameter": "...", "device": ..., "requires_grad": true}
    {"array": "...", "device": "cpu"}                   a NumPy (or CuPy) array
    {"numpy_scalar": "..."}                             np.float32(1.5) and the like
    {"tuple": [...]}
    {"dict": {"lr": 0.1}}                               str keys, in order
    {"dict": [[0, {...}], ...]}                         other keys (optimizer state)
    {"dict": ..., "type": "OrderedDict"}                a state_dict
    {"float": "nan"}                                    nan, inf and -inf
    {"bytes": "<base64>"}

An array is named by its path in ``obj`` (``model/fc.weight``), so a safetensors tool
shows it under a meaningful name; an array or Tensor met twice is stored once and comes
back as one object.
"""
import base64
import math
from collections import OrderedDict

import numpy as np

from ..backend import device_of, is_array, to_device
from .errors import LoadError
from .location import place

__all__ = ['encode', 'decode']

_KEY_TYPES = (str, int, float, bool, type(None))
_ARRAY_TAGS = ('tensor', 'parameter', 'array', 'numpy_scalar')


def _host(array):
    """A C-contiguous little-endian NumPy copy-or-view, as safetensors needs."""
    array = to_device(array, 'cpu')
    if not array.flags.c_contiguous:   # safetensors would write a strided array's buffer
        array = array.copy(order='C')
    if array.dtype.byteorder == '>':
        array = array.astype(array.dtype.newbyteorder('<'))
    return array


class _Encoder:
    def __init__(self):
        self.arrays = {}
        self.seen = {}      # id(array or Tensor) -> its node
        self.alive = []     # keeps what ``seen`` refers to alive, so ids stay unique

    def name_for(self, path):
        name = '/'.join(path) or 'object'
        unique, n = name, 1
        while unique in self.arrays:
            n += 1
            unique = f'{name}#{n}'
        return unique

    def store(self, obj, array, tag, node, path):
        """``node`` with ``tag`` naming ``array``, stored under a name made of ``path``."""
        if id(obj) in self.seen:
            return self.seen[id(obj)]
        if array.dtype.hasobject or array.dtype.kind not in 'biufc':
            raise TypeError(f"minidl.save: {'/'.join(path) or 'the object'} is an array of "
                            f"dtype {array.dtype}; only numbers and booleans can be stored")
        name = self.name_for(path)
        self.arrays[name] = _host(array)
        node = {tag: name, **node}
        self.seen[id(obj)] = node
        self.alive.append(obj)
        return node

    def encode(self, obj, path):
        from ..nn.parameter import Parameter
        from ..tensor import Tensor
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if type(obj) is int:
            return obj
        if isinstance(obj, Tensor):
            tag = 'parameter' if isinstance(obj, Parameter) else 'tensor'
            node = {'device': str(obj.device)}
            if obj.requires_grad:
                node['requires_grad'] = True
            return self.store(obj, obj.array, tag, node, path)
        if is_array(obj):
            return self.store(obj, obj, 'array', {'device': str(device_of(obj))}, path)
        if isinstance(obj, np.generic):
            return self.store(obj, np.asarray(obj), 'numpy_scalar', {}, path)
        if type(obj) is float:
            return obj if math.isfinite(obj) else {'float': repr(obj)}
        if isinstance(obj, (bytes, bytearray)):
            return {'bytes': base64.b64encode(bytes(obj)).decode('ascii')}
        if type(obj) is tuple:
            return {'tuple': [self.encode(v, path + [str(i)]) for i, v in enumerate(obj)]}
        if type(obj) is list:
            return [self.encode(v, path + [str(i)]) for i, v in enumerate(obj)]
        if type(obj) in (dict, OrderedDict):
            return self.encode_dict(obj, path)
        raise TypeError(f"minidl.save: cannot store {'/'.join(path) or 'the object'}, a "
                        f"{type(obj).__module__}.{type(obj).__qualname__}; minidl stores "
                        f"Tensors, arrays, numbers, strings, bytes, None, and lists, tuples "
                        f"and dicts of them (a module: save its state_dict())")

    def encode_key(self, key, path):
        if isinstance(key, _KEY_TYPES) or isinstance(key, np.generic):
            return self.encode(key.item() if isinstance(key, np.generic) else key, path)
        if type(key) is tuple:
            return {'tuple': [self.encode_key(k, path) for k in key]}
        raise TypeError(f"minidl.save: {'/'.join(path) or 'the object'} has a key of type "
                        f"{type(key).__name__}; keys must be strings, numbers, None or tuples")

    def encode_dict(self, obj, path):
        if all(type(k) is str for k in obj):
            node = {'dict': {k: self.encode(v, path + [k]) for k, v in obj.items()}}
        else:
            node = {'dict': [[self.encode_key(k, path), self.encode(v, path + [str(k)])]
                             for k, v in obj.items()]}
        if type(obj) is OrderedDict:
            node['type'] = 'OrderedDict'
        return node


def encode(obj):
    """``(tree, arrays)``: ``obj`` as JSON-ready data and the arrays it names."""
    encoder = _Encoder()
    return encoder.encode(obj, []), encoder.arrays


class _Decoder:
    def __init__(self, arrays, map_location, what):
        self.arrays, self.map_location, self.what = arrays, map_location, what
        self.built = {}   # array name -> the object made of it (shared objects stay shared)

    def array(self, name):
        if not isinstance(name, str) or name not in self.arrays:
            raise LoadError(f'{self.what} refers to an array {name!r} it does not hold')
        return self.arrays[name]

    def leaf(self, node, tag):
        name = node[tag]
        if name in self.built:
            return self.built[name]
        array = self.array(name)
        if tag == 'numpy_scalar':
            value = array[()]
        else:
            array = place(array, node.get('device', 'cpu'), self.map_location, self.what)
            if tag == 'array':
                value = array
            else:
                from ..nn.parameter import Parameter
                from ..tensor import Tensor
                requires_grad = bool(node.get('requires_grad', False))
                value = (Parameter if tag == 'parameter' else Tensor)(array, requires_grad)
        self.built[name] = value
        return value

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict):
            raise LoadError(f'{self.what} holds an entry of unknown kind {node!r:.60}')
        for tag in _ARRAY_TAGS:
            if tag in node:
                return self.leaf(node, tag)
        if 'tuple' in node:
            return tuple(self.decode(v) for v in node['tuple'])
        if 'dict' in node:
            kind = OrderedDict if node.get('type') == 'OrderedDict' else dict
            items = node['dict']
            if isinstance(items, dict):
                return kind((k, self.decode(v)) for k, v in items.items())
            return kind((self.decode(k), self.decode(v)) for k, v in items)
        if 'float' in node and node['float'] in ('nan', 'inf', '-inf'):
            return float(node['float'])
        if 'bytes' in node:
            return base64.b64decode(node['bytes'], validate=True)
        raise LoadError(f'{self.what} holds an entry of unknown kind {sorted(node)}')


def decode(tree, arrays, map_location=None, what='the file'):
    """The object ``encode`` described, its arrays placed by ``map_location``."""
    try:
        return _Decoder(arrays, map_location, what).decode(tree)
    except (TypeError, ValueError, KeyError, RecursionError) as err:
        raise LoadError(f'{what} is malformed: {type(err).__name__}: {err}') from None

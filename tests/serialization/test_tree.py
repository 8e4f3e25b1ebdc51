"""Objects as JSON and named arrays, and back, exactly."""
import math
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minidl
from minidl import nn
from minidl.serialization import LoadError
from minidl.serialization.tree import decode, encode

pytestmark = pytest.mark.cpu_only

DTYPES = ['float16', 'float32', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8',
          'uint16', 'uint32', 'uint64', 'bool', 'complex64', 'complex128']


def round_trip(obj):
    tree, arrays = encode(obj)
    import json
    return decode(json.loads(json.dumps(tree, allow_nan=False)), arrays)


def assert_identical(a, b):
    """Same types, dtypes, shapes and values, all the way down."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, minidl.Tensor):
        assert a.requires_grad == b.requires_grad
        a, b = a.numpy(), b.numpy()
    if isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_identical(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_identical(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


arrays = st.builds(
    lambda dtype, shape, seed: np.random.default_rng(seed).integers(0, 100, shape).astype(dtype),
    st.sampled_from(DTYPES), st.lists(st.integers(0, 3), max_size=3).map(tuple),
    st.integers(0, 1000))
leaves = (st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats() |
          st.text(max_size=5) | st.binary(max_size=5) | arrays |
          arrays.map(minidl.tensor) | st.sampled_from([np.float32(1.5), np.int64(-3)]))
keys = st.text(max_size=4) | st.integers(-5, 5) | st.tuples(st.integers(0, 3), st.text(max_size=2))
trees = st.recursive(leaves, lambda inner: (
    st.lists(inner, max_size=3) | st.lists(inner, max_size=3).map(tuple) |
    st.dictionaries(keys, inner, max_size=3) |
    st.dictionaries(st.text(max_size=4), inner, max_size=3).map(OrderedDict)), max_leaves=12)


@settings(max_examples=40, deadline=None)
@given(trees)
def test_any_tree_of_data_round_trips_exactly(obj):
    assert_identical(round_trip(obj), obj)


def test_every_dtype_and_layout():
    for dtype in DTYPES:
        array = np.arange(12).reshape(3, 4).astype(dtype)
        for view in (array, array.T, array[:, ::2], array[1], np.asfortranarray(array),
                     array[0, 0]):     # the last a NumPy scalar
            assert_identical(round_trip(view), view)
    assert_identical(round_trip(np.arange(3, dtype='>i4')), np.arange(3, dtype=np.int32))


def test_tensors_parameters_and_sharing():
    weight = nn.Parameter(minidl.randn(2, 3))
    frozen = nn.Parameter(minidl.randn(2), requires_grad=False)
    grad = minidl.randn(4, requires_grad=True)
    loaded = round_trip({'w': weight, 'again': weight, 'frozen': frozen, 'g': grad,
                         'plain': minidl.tensor([1, 2])})
    assert isinstance(loaded['w'], nn.Parameter) and loaded['w'].requires_grad
    assert loaded['again'] is loaded['w']               # one object, as saved
    assert not loaded['frozen'].requires_grad and isinstance(loaded['frozen'], nn.Parameter)
    assert loaded['g'].requires_grad and type(loaded['g']) is minidl.Tensor
    assert loaded['plain'].dtype == np.int64
    assert sorted(encode({'w': weight, 'again': weight})[1]) == ['w']   # stored once


def test_special_floats_and_key_types():
    obj = {'nan': math.nan, 'inf': math.inf, 'minus': -math.inf, 0: 'int key', 2.5: None,
           (1, 'a'): True, None: [], True: 'bool key'}
    loaded = round_trip(obj)
    assert math.isnan(loaded['nan']) and loaded['inf'] == math.inf
    assert [type(k) for k in loaded] == [type(k) for k in obj]


@pytest.mark.parametrize('obj, message', [
    ({'layer': nn.Linear(2, 2)}, r"cannot store layer, a minidl\.nn\.linear\.Linear.*"
                                 r"save its state_dict\(\)"),
    ([1, {'f': print}], 'cannot store 1/f, a builtins.builtin_function_or_method'),
    ({'a': np.array([None], dtype=object)}, 'a is an array of dtype object'),
    ({frozenset([1]): 1}, 'has a key of type frozenset'),
])
def test_what_cannot_be_stored_is_named_by_its_path(obj, message):
    with pytest.raises(TypeError, match=message):
        encode(obj)


def test_a_malformed_tree_is_a_load_error():
    with pytest.raises(LoadError, match='malformed'):
        decode({'dict': [[[1], 2]]}, {})          # a list as a dict key
    with pytest.raises(LoadError, match='unknown kind'):
        decode({'float': 'zero'}, {})

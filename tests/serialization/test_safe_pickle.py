"""The restricted unpickler: data comes out, code never runs."""
import pickle
from collections import OrderedDict

import numpy as np
import pytest

from minidl.serialization import LoadError, UnsafeFileError
from minidl.serialization.safe_pickle import loads

from .evil import RunsCode, evil_pickle

pytestmark = pytest.mark.cpu_only


def test_the_crafted_pickle_does_run_code_when_trusted(tmp_path):
    """What every refusal below protects against (and proof that the marker works)."""
    marker = tmp_path / 'ran'
    pickle.loads(evil_pickle(marker))
    assert marker.exists()


@pytest.mark.parametrize('protocol', range(pickle.HIGHEST_PROTOCOL + 1))
def test_code_is_refused_in_every_protocol(tmp_path, protocol):
    marker = tmp_path / 'ran'
    data = evil_pickle(marker, protocol=protocol, hidden_in={'w': np.ones(3)})
    with pytest.raises(UnsafeFileError, match=r'evil\.pkl asks to load posix\.system, which '
                                              r'is not data'):
        loads(data, 'evil.pkl')
    assert not marker.exists()


@pytest.mark.parametrize('protocol', [2, 4, 5])
def test_numpy_data_comes_back_exactly(protocol):
    data = {'f32': np.arange(6, dtype=np.float32).reshape(2, 3),
            'fortran': np.asfortranarray(np.arange(6.0).reshape(2, 3)),
            'big_endian': np.arange(4, dtype='>i4'), 'bool': np.array([True, False]),
            'empty': np.zeros((0, 3), np.int16), 'scalar0d': np.array(2.5),
            'np_scalars': (np.float32(1.5), np.int64(-7), np.bool_(True)),
            'text': np.array(['ab', 'c']), 'complex': np.array([1 + 2j]),
            'nested': OrderedDict(a=[1, 2.5, None, 'x', b'raw', {3, 4}, frozenset([5])]),
            'rng': np.random.get_state()}
    loaded = loads(pickle.dumps(data, protocol=protocol), 'data.pkl')
    assert loaded.keys() == data.keys()
    for key in ('f32', 'fortran', 'big_endian', 'bool', 'empty', 'scalar0d', 'text', 'complex'):
        np.testing.assert_array_equal(loaded[key], data[key])
        assert loaded[key].dtype == data[key].dtype.newbyteorder('=')
        assert loaded[key].shape == data[key].shape
    assert loaded['np_scalars'] == data['np_scalars']
    assert [type(v) for v in loaded['np_scalars']] == [np.float32, np.int64, np.bool_]
    assert loaded['nested'] == data['nested'] and type(loaded['nested']) is OrderedDict
    np.testing.assert_array_equal(loaded['rng'][1], data['rng'][1])
    np.random.set_state(loaded['rng'])


@pytest.mark.parametrize('array, reason', [
    (np.array([1, 'a'], dtype=object), 'only plain numbers and text|dtype object'),
    (np.zeros(2, dtype=[('x', 'f4'), ('y', 'i4')]), 'structured'),
])
def test_object_and_structured_arrays_are_refused(array, reason):
    with pytest.raises(UnsafeFileError, match=reason):
        loads(pickle.dumps(array, protocol=2), 'a.pkl')


def test_an_object_array_holding_code_runs_nothing(tmp_path):
    marker = tmp_path / 'ran'
    array = np.empty(2, dtype=object)
    array[0] = RunsCode(marker)
    with pytest.raises(UnsafeFileError):
        loads(pickle.dumps(array), 'a.pkl')
    assert not marker.exists()


def test_the_allowed_functions_cannot_be_changed_by_a_pickle():
    # GLOBAL numpy._core.multiarray._reconstruct, then BUILD on it with a dict state: on a
    # bare function this would set attributes such as __defaults__
    tamper = (b'\x80\x02cnumpy._core.multiarray\n_reconstruct\n'
              b'}X\x0c\x00\x00\x00__defaults__)sb.')
    with pytest.raises(UnsafeFileError, match='sets the state of a Allowed'):
        loads(tamper, 'tamper.pkl')
    array = np.arange(3.0)
    np.testing.assert_array_equal(loads(pickle.dumps(array), 'ok.pkl'), array)


def test_array_bytes_must_match_the_shape():
    raw = np.arange(4, dtype=np.int32).tobytes()
    data = pickle.dumps(np.arange(4, dtype=np.int32), protocol=3)   # no frames
    short = data.replace(b'C\x10' + raw, b'C\x0c' + raw[:12])   # SHORT_BINBYTES, 12 bytes
    assert short != data
    with pytest.raises(LoadError, match=r'short\.pkl: an array of shape \(4,\) and dtype int32 '
                                        r'needs 16 bytes, the file gives 12'):
        loads(short, 'short.pkl')


def test_broken_pickles_and_external_references_are_reported():
    with pytest.raises(LoadError, match='cut.pkl is not a readable pickle'):
        loads(pickle.dumps({'a': 1})[:-3], 'cut.pkl')
    with pytest.raises(UnsafeFileError, match='persistent id'):
        loads(b'\x80\x02X\x01\x00\x00\x00aQ.', 'pid.pkl')

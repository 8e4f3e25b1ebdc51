"""minidl's file format: a checked header around safetensors; every damage named."""
import io
import json

import numpy as np
import pytest
import safetensors.numpy

import minidl
from minidl.serialization import LoadError, native

pytestmark = pytest.mark.cpu_only

STATE = {'epoch': 3, 'model': {'fc.weight': np.arange(6, dtype=np.float32).reshape(2, 3)}}


def blob():
    return native.dumps(STATE)


def read(data):
    return native.read(io.BytesIO(data), 'f.minidl')


def test_the_payload_is_a_safetensors_file_with_the_structure_as_json():
    data = blob()
    assert data[:8] == b'MINIDLCK' and data[8] == native.VERSION
    payload = data[native.HEADER.size:]
    arrays = safetensors.numpy.load(payload)
    np.testing.assert_array_equal(arrays['model/fc.weight'], STATE['model']['fc.weight'])
    header = json.loads(payload[8:8 + int.from_bytes(payload[:8], 'little')])
    assert json.loads(header['__metadata__']['minidl']) == {
        'dict': {'epoch': 3, 'model': {'dict': {'fc.weight': {'array': 'model/fc.weight',
                                                              'device': 'cpu'}}}}}


def test_every_kind_of_damage_says_what_happened():
    data = blob()
    length = len(data) - native.HEADER.size
    flipped = bytearray(data)
    flipped[-1] ^= 1
    cases = [
        (b'', 'f.minidl is empty'),
        (data[:5], 'truncated: 5 bytes, cut inside its MINIDLCK header'),
        (data[:30], 'truncated: 30 bytes, cut inside its 49-byte header'),
        (data[:100], f'truncated: {100 - native.HEADER.size} of its {length} bytes of data'),
        (bytes(flipped), 'corrupt: its checksum does not match its contents'),
        (data + b'\0', 'corrupt: its checksum does not match'),
        (data[:8] + bytes([9]) + data[9:], 'format version 9, and this minidl reads version 2: '
                                           'upgrade minidl'),
        (data[:8] + b'\x77' * 9 + data[17:], 'corrupt: its header is damaged'),
        (b'just some text, not a checkpoint', 'not a minidl file (it does not start with'),
        (b'PK\x03\x04' + data[4:], "not a minidl file (a zip file (PyTorch's torch.save"),
    ]
    for damaged, message in cases:
        with pytest.raises(LoadError, match=message.replace('(', r'\(').replace(')', r'\)')):
            read(damaged)


class CountingFile(io.BytesIO):
    """A file that says how many bytes were read from it."""
    read_bytes = 0

    def read(self, size=-1):
        data = super().read(size)
        self.read_bytes += len(data)
        return data


def test_a_bad_header_is_found_before_the_payload_is_read():
    data = bytearray(blob())
    data[9:17] = (2 ** 40).to_bytes(8, 'little')          # claims a terabyte of data
    f = CountingFile(bytes(data) + b'\0' * 100_000)
    with pytest.raises(LoadError, match='truncated'):
        native.read(f, 'big.minidl')
    assert f.read_bytes == native.HEADER.size
    f = CountingFile(b'NOTMINIDL' + b'\0' * 100_000)
    with pytest.raises(LoadError, match='not a minidl file'):
        native.read(f, 'other')
    assert f.read_bytes == native.HEADER.size


def test_a_checksummed_but_malformed_payload_is_refused():
    import hashlib
    payload = safetensors.numpy.save({'a': np.zeros(2)}, metadata={'minidl': '{"weird": 1}'})
    data = native.HEADER.pack(native.MAGIC, native.VERSION, len(payload),
                              hashlib.sha256(payload).digest()) + payload
    with pytest.raises(LoadError, match=r"unknown kind \['weird'\]"):
        read(data)
    payload = safetensors.numpy.save({}, metadata={'minidl': '{"array": "missing"}'})
    data = native.HEADER.pack(native.MAGIC, native.VERSION, len(payload),
                              hashlib.sha256(payload).digest()) + payload
    with pytest.raises(LoadError, match="refers to an array 'missing' it does not hold"):
        read(data)


def test_minidl_load_reads_it():
    assert minidl.load(io.BytesIO(blob()))['epoch'] == 3

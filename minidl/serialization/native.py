"""minidl's own file format: a checked header, then a safetensors file.

    b'MINIDLCK' | format version (1 byte) | payload length (8 bytes, little-endian)
              | SHA-256 of the payload (32 bytes) | payload

The payload is a safetensors file (https://github.com/huggingface/safetensors): the
arrays, and in its metadata under ``"minidl"`` the JSON tree of ``tree.py`` that says how
they fit together. Loading parses JSON and copies array bytes; nothing in the file is
ever run. Strip the first 49 bytes and any safetensors reader opens the arrays.

The first 49 bytes keep this layout in every version, so that a file cut short, damaged
or written by a newer minidl is told apart before its payload is read. Version 1 (minidl
0.1) held a pickle instead of the safetensors payload: it is refused, never unpickled
(``minidl.train.convert_legacy_checkpoint`` converts one).
"""
import hashlib
import io
import json
import struct

from .errors import LoadError
from .tree import decode, encode

__all__ = ['MAGIC', 'VERSION', 'LEGACY_VERSION', 'HEADER', 'dumps', 'read', 'read_payload',
           'read_header', 'decode_payload', 'sniff']

MAGIC = b'MINIDLCK'
VERSION = 2
LEGACY_VERSION = 1                      # a pickle: refused
HEADER = struct.Struct('<8sBQ32s')      # magic, version, payload length, sha256
TREE_KEY = 'minidl'


def dumps(obj):
    """The bytes of a minidl file holding ``obj``."""
    import safetensors.numpy
    tree, arrays = encode(obj)
    metadata = {TREE_KEY: json.dumps(tree, separators=(',', ':'), allow_nan=False)}
    payload = safetensors.numpy.save(arrays, metadata=metadata)
    return HEADER.pack(MAGIC, VERSION, len(payload), hashlib.sha256(payload).digest()) + payload


def _size_after(f):
    """Bytes left in ``f`` from where it stands, or None when it cannot tell."""
    try:
        here = f.tell()
        end = f.seek(0, io.SEEK_END)
        f.seek(here)
        return end - here
    except (OSError, AttributeError, ValueError):
        return None


_KIND_NAMES = {'zip': "a zip file (PyTorch's torch.save or NumPy's savez)",
               'npy': 'a NumPy .npy file', 'safetensors': 'a safetensors file',
               'pickle': 'a pickle'}


def sniff(head):
    """The kind of file whose first bytes are ``head``: 'minidl', 'zip', 'npy',
    'safetensors', 'pickle', or None."""
    if head.startswith(MAGIC) or MAGIC.startswith(head):
        return 'minidl'
    if head.startswith(b'PK\x03\x04'):
        return 'zip'
    if head.startswith(b'\x93NUMPY'):
        return 'npy'
    if len(head) >= 9 and head[8:9] == b'{':
        return 'safetensors'
    if head[:1] == b'\x80':
        return 'pickle'
    return None


def read_header(f, what):
    """``(version, length, digest)`` of the file ``f`` (positioned at its start), after
    checking that it is a whole minidl header; reads 49 bytes and nothing more."""
    head = f.read(HEADER.size)
    if not head.startswith(MAGIC):
        if not head:
            raise LoadError(f'{what} is empty (0 bytes)')
        if MAGIC.startswith(head):
            raise LoadError(f'{what} is truncated: {len(head)} bytes, cut inside its '
                            f'{MAGIC.decode()} header')
        kind = _KIND_NAMES.get(sniff(head), 'it does not start with ' + MAGIC.decode())
        raise LoadError(f'{what} is not a minidl file ({kind})')
    if len(head) < HEADER.size:
        raise LoadError(f'{what} is truncated: {len(head)} bytes, cut inside its '
                        f'{HEADER.size}-byte header')
    _, version, length, digest = HEADER.unpack(head)
    return version, length, digest


def _check_version(version, length, left, what, expected):
    if version == expected:
        return
    if version == LEGACY_VERSION:
        raise LoadError(f'{what} was written by minidl 0.1 as a pickle, which can run code '
                        f'when loaded, so this minidl does not load it; convert it once with '
                        f'minidl.train.convert_legacy_checkpoint({what!r}), which reads only '
                        f'arrays, numbers and strings from it')
    if left == length:   # a consistent header: a format this minidl does not know
        raise LoadError(f'{what} has format version {version}, and this minidl reads '
                        f'version {expected}: upgrade minidl to load it')
    raise LoadError(f'{what} is corrupt: its header is damaged (format version byte '
                    f'{version}, payload length {length} for {left} bytes)')


def read_payload(f, what, version=VERSION):
    """The payload of the minidl file ``f`` (binary, at its start) after checking its
    header, length and checksum; ``LoadError`` saying what is wrong otherwise."""
    found, length, digest = read_header(f, what)
    left = _size_after(f)
    _check_version(found, length, left, what, version)
    if left is not None and left < length:
        raise LoadError(f'{what} is truncated: {left} of its {length} bytes of data')
    payload = f.read(length + 1)
    if len(payload) < length:
        raise LoadError(f'{what} is truncated: {len(payload)} of its {length} bytes of data')
    if len(payload) > length or hashlib.sha256(payload).digest() != digest:
        raise LoadError(f'{what} is corrupt: its checksum does not match its contents')
    return payload


def read(f, what, map_location=None):
    """The object in the minidl file ``f`` (binary, at its start), or ``LoadError`` saying
    why not. ``what`` names the file in messages."""
    return decode_payload(read_payload(f, what), what, map_location)


def decode_payload(payload, what, map_location=None):
    """The object in a safetensors payload written by ``dumps``."""
    import safetensors.numpy
    try:
        header_length = int.from_bytes(payload[:8], 'little')
        header = json.loads(payload[8:8 + header_length])
        tree = json.loads(header['__metadata__'][TREE_KEY])
        arrays = safetensors.numpy.load(bytes(payload))
    except Exception as err:  # the checksum matched: written wrongly, or crafted
        raise LoadError(f'{what} is not a valid minidl file ({type(err).__name__}: '
                        f'{err})') from None
    return decode(tree, arrays, map_location, what)
